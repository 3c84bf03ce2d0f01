import json

import numpy as np
import pytest
import torch

from napari_xray_synth.core.conditions import LABELS, PATHOLOGIES
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.models import load_model
from napari_xray_synth.core.progress import Cancelled
from napari_xray_synth.core.train import classifier as tc


def stand_in_sampler(seed: int):
    """A tiny stand-in for the simulator: a bright disc means "nodule", a bright base "effusion"."""
    rng = np.random.default_rng(seed)
    img = rng.normal(0.4, 0.05, (40, 40)).astype(np.float32)
    found = []
    if rng.random() < 0.5:
        img[10:20, 10:20] += 0.4
        found.append("nodule")
    if rng.random() < 0.5:
        img[30:, :] += 0.3
        found.append("effusion")
    return np.clip(img, 0, 1), tuple(found)


def tiny(**kw):
    base = dict(
        steps=6,
        batch=4,
        size=32,
        width=8,
        stages=3,
        features_dim=16,
        heldout=24,
        checkpoint_every=3,
        warmup=2,
        lr=3e-3,
    )
    base.update(kw)
    return tc.ClassifierConfig(**base)


def test_seeds_never_overlap():
    train = {tc.train_seed(s, i) for s in range(3) for i in range(2000)}
    held = {tc.heldout_seed(k) for k in range(2000)}
    assert not train & held


def test_tiny_training_writes_model_card_and_loss_curve(tmp_path):
    card = tc.train_classifier(
        tmp_path / "clf", tiny(), sampler=stand_in_sampler, device="cpu", command="xray-synth x"
    )
    assert (tmp_path / "clf.safetensors").is_file()
    assert (tmp_path / "clf.loss.png").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "clf.json").read_text())
    assert on_disk["training_command"] == "xray-synth x"
    assert on_disk["architecture"] == "pathology-classifier"
    auc = on_disk["metrics"]["auc"]
    assert set(auc) == {"none", *PATHOLOGIES}
    # classes the stand-in never shows have no AUC (NaN), the ones it shows do
    assert np.isfinite(auc["nodule"]) and np.isnan(auc["mass"])
    assert card["metrics"]["heldout_images"] == 24
    loaded = load_model(tmp_path / "clf")
    assert loaded.module.num_features == 16
    assert len(on_disk["training_config"]) > 5 and on_disk["steps"] == 6
    assert on_disk["train_seconds"] > 0


def test_resume_continues_exactly(tmp_path):
    # 6 steps in one go ...
    tc.train_classifier(tmp_path / "a", tiny(), sampler=stand_in_sampler, device="cpu")
    # ... equal 3 steps, cancelled, then a resume to 6 (same images, same learning rates)
    work = tmp_path / "b.run"
    with pytest.raises(Cancelled):
        tc.train_classifier(
            tmp_path / "b",
            tiny(),
            sampler=stand_in_sampler,
            device="cpu",
            cancel=_CancelAfter(3),
            work=work,
        )
    state = json.loads((work / "checkpoint.json").read_text())
    assert state["step"] == 3
    tc.train_classifier(
        tmp_path / "b", tiny(), sampler=stand_in_sampler, device="cpu", work=work, resume=True
    )
    a, b = load_model(tmp_path / "a").module, load_model(tmp_path / "b").module
    for (ka, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        np.testing.assert_allclose(va.numpy(), vb.numpy(), atol=1e-5, err_msg=ka)
    la = json.loads((tmp_path / "a.json").read_text())["final_loss_mean_last_100"]
    lb = json.loads((tmp_path / "b.json").read_text())["final_loss_mean_last_100"]
    assert la == pytest.approx(lb, rel=1e-4)


def test_resume_with_other_settings_is_refused(tmp_path):
    tc.train_classifier(tmp_path / "a", tiny(steps=3), sampler=stand_in_sampler, device="cpu")
    with pytest.raises(InputError, match="size"):
        tc.train_classifier(
            tmp_path / "a",
            tiny(steps=6, size=48),
            sampler=stand_in_sampler,
            device="cpu",
            resume=True,
        )
    with pytest.raises(InputError, match="no checkpoint"):
        tc.train_classifier(tmp_path / "z", tiny(), sampler=stand_in_sampler, resume=True)


class _CancelAfter:
    """Cancel token that turns set after ``n`` checks (one check per step)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls = 0

    def is_set(self) -> bool:
        self.calls += 1
        return self.calls > self.n


def test_a_finished_run_continues_to_more_steps_exactly(tmp_path):
    # the learning rate does not depend on --steps: 3 steps then --resume --steps 5 == 5 steps
    tc.train_classifier(tmp_path / "a", tiny(steps=5), sampler=stand_in_sampler, device="cpu")
    tc.train_classifier(tmp_path / "b", tiny(steps=3), sampler=stand_in_sampler, device="cpu")
    tc.train_classifier(
        tmp_path / "b", tiny(steps=5), sampler=stand_in_sampler, device="cpu", resume=True
    )
    a, b = load_model(tmp_path / "a").module, load_model(tmp_path / "b").module
    for (ka, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        np.testing.assert_allclose(va.numpy(), vb.numpy(), atol=1e-5, err_msg=ka)


def test_learning_rate_warms_up_then_decays():
    cfg = tiny(warmup=10, lr=1.0)
    lrs = [tc._lr(cfg, s) for s in range(40)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[39] == pytest.approx((10 / 40) ** 0.5)
    assert (np.diff(lrs[9:]) <= 0).all()


def test_init_from_starts_at_the_given_weights_at_another_input_size(tmp_path):
    # a model trained at 32 px, fine-tuned at 48 px (the network is fully convolutional)
    tc.train_classifier(tmp_path / "a", tiny(steps=3), sampler=stand_in_sampler, device="cpu")
    start = load_model(tmp_path / "a").module.state_dict()
    cfg = tiny(steps=1, size=48, lr=1e-12, warmup=1)  # a step that cannot move the weights
    card = tc.train_classifier(
        tmp_path / "b", cfg, sampler=stand_in_sampler, device="cpu", init_from=tmp_path / "a"
    )
    b = load_model(tmp_path / "b").module
    assert b.size == 48
    for k, v in b.state_dict().items():
        np.testing.assert_allclose(v.numpy(), start[k].numpy(), atol=1e-6, err_msg=k)
    assert card["initialised_from"].startswith(str(tmp_path / "a"))
    sha = load_model(tmp_path / "a").sha256
    assert card["initialised_from"].endswith(f"(sha256 {sha})")
    # without it, the same run starts from random weights
    tc.train_classifier(tmp_path / "c", cfg, sampler=stand_in_sampler, device="cpu")
    c = load_model(tmp_path / "c").module.state_dict()
    assert not np.allclose(c["head.weight"].numpy(), start["head.weight"].numpy())


def test_init_from_a_model_of_another_shape_is_refused(tmp_path):
    tc.train_classifier(tmp_path / "a", tiny(steps=2), sampler=stand_in_sampler, device="cpu")
    with pytest.raises(InputError, match="width=8 \\(this run 4\\)"):
        tc.train_classifier(
            tmp_path / "b",
            tiny(steps=2, width=4),
            sampler=stand_in_sampler,
            device="cpu",
            init_from=tmp_path / "a",
        )
    with pytest.raises(InputError, match="cannot start from it"):
        tc.train_classifier(
            tmp_path / "c",
            tiny(),
            sampler=stand_in_sampler,
            device="cpu",
            init_from=tmp_path / "nothing",
        )


def test_the_init_source_stays_on_the_card_after_a_resume(tmp_path):
    tc.train_classifier(tmp_path / "a", tiny(steps=2), sampler=stand_in_sampler, device="cpu")
    kw = dict(sampler=stand_in_sampler, device="cpu", init_from=tmp_path / "a")
    tc.train_classifier(tmp_path / "b", tiny(steps=2), **kw)
    card = tc.train_classifier(tmp_path / "b", tiny(steps=4), resume=True, **kw)
    assert card["initialised_from"].startswith(str(tmp_path / "a"))
    assert card["steps"] == 4


def masked_sampler(seed: int):
    """The stand-in with its label image: where the disc ("nodule") and base ("effusion") are."""
    img, found = stand_in_sampler(seed)
    labels = np.zeros(img.shape, np.uint8)
    if "nodule" in found:
        labels[10:20, 10:20] = LABELS["nodule"]
    if "effusion" in found:
        labels[30:, :] = LABELS["effusion"]
    return img, found, labels


def test_lesion_maps_learn_where_the_lesion_is(tmp_path):
    cfg = tiny(steps=80, locate_stage=2, heldout=16, lr=1e-2)
    card = tc.train_classifier(tmp_path / "m", cfg, sampler=masked_sampler, device="cpu")
    assert card["config"]["locate_stage"] == 2
    net = load_model(tmp_path / "m").module
    seed = next(s for s in range(1, 99) if "nodule" in stand_in_sampler(s)[1])
    img = masked_sampler(seed)[0]
    with torch.no_grad():
        _, maps = net(torch.as_tensor(img), with_maps=True)
    nodule = maps[0, PATHOLOGIES.index("nodule")].numpy()  # 8 x 8 cells of 4 px
    assert nodule.shape == (8, 8)
    # the map's strongest cell is on the disc (rows/cols 10-19 -> cells 2-3), and the map reads
    # as a probability of the lesion per cell: low far from the disc, higher on it
    r, c = np.unravel_index(nodule.argmax(), nodule.shape)
    assert 2 <= r <= 4 and 2 <= c <= 4
    prob = 1.0 / (1.0 + np.exp(-nodule))
    assert prob[5:, 5:].mean() < 0.2
    assert prob[2:4, 2:4].mean() > 1.5 * prob[5:, 5:].mean()
    assert net.locate_gain.abs().sum() > 0  # the maps feed the logits


def test_lesion_maps_added_to_a_classifier_start_where_it_was(tmp_path):
    tc.train_classifier(tmp_path / "a", tiny(steps=3), sampler=stand_in_sampler, device="cpu")
    cfg = tiny(steps=1, lr=1e-12, warmup=1, locate_stage=2)
    tc.train_classifier(
        tmp_path / "b", cfg, sampler=masked_sampler, device="cpu", init_from=tmp_path / "a"
    )
    a, b = load_model(tmp_path / "a").module, load_model(tmp_path / "b").module
    x = torch.as_tensor(np.stack([stand_in_sampler(s)[0] for s in range(4)]))
    with torch.no_grad():
        np.testing.assert_allclose(b(x).numpy(), a(x).numpy(), atol=1e-5)


def test_lesion_maps_past_the_last_stage_are_refused(tmp_path):
    with pytest.raises(InputError, match=r"0\.\.3, not 4"):
        tc.train_classifier(
            tmp_path / "x", tiny(locate_stage=4), sampler=masked_sampler, device="cpu"
        )


def test_lesion_maps_fit_any_input_size(tmp_path):
    # 36 px through three stride-2 stages is 5 cells (rounded up at each stage), not 36 // 8
    cfg = tiny(steps=2, size=36, locate_stage=3, heldout=8)
    card = tc.train_classifier(tmp_path / "m", cfg, sampler=masked_sampler, device="cpu")
    assert card["config"]["locate_stage"] == 3
    net = load_model(tmp_path / "m").module
    with torch.no_grad():
        _, maps = net(torch.as_tensor(masked_sampler(1)[0]), with_maps=True)
    assert maps.shape[-2:] == (5, 5)
