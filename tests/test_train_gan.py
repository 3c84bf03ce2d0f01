import json

import numpy as np
import pytest
from scipy import ndimage

from napari_xray_synth.core.conditions import Condition
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.models import load_model
from napari_xray_synth.core.radiograph import Radiograph
from napari_xray_synth.core.synthesize import synthesize
from napari_xray_synth.core.train.gan import GanConfig, GanTrainer
from napari_xray_synth.core.train.gan_data import WindowSet, _stack, window_sample

TINY = dict(
    steps=3,
    batch=2,
    window=32,
    g_base=4,
    g_depth=2,
    d_base=4,
    d_layers=2,
    sample_every=100,
    checkpoint_every=2,
)


def _pairs(n: int = 4) -> WindowSet:
    """Paired windows made with the physics method on smooth random images (no simulator)."""
    rng = np.random.default_rng(0)
    items = []
    for k in range(n):
        img = ndimage.gaussian_filter(rng.random((96, 96)), 2).astype(np.float32)
        img = np.clip((img - img.mean()) * 4 + 0.5, 0, 1)
        cond = Condition("nodule", (48 + k, 40 + k), 8.0, 0.8, shape_seed=k)
        (v,) = synthesize(Radiograph(img, (1.0, 1.0)), [cond], method="physics", seed=k)
        items.append(window_sample(img, cond, 1.0, 32, v.radiograph.image))
    return _stack(items, paired=True)


def _unpaired(ws: WindowSet) -> tuple[WindowSet, WindowSet]:
    fake_in = WindowSet(ws.x[:2], ws.maps[:2], ws.feather[:2], ws.mask[:2])
    real = WindowSet(ws.y[2:], ws.maps[2:], ws.feather[2:], ws.mask[2:])
    return fake_in, real


@pytest.mark.parametrize("variant", ["paired", "unpaired", "l1_only", "feature_matching"])
def test_tiny_training_runs_and_writes_its_files(tmp_path, variant):
    ws = _pairs()
    real = None
    cfg = GanConfig(**TINY)
    if variant == "unpaired":
        ws, real = _unpaired(ws)
        cfg.mode = "unpaired"
    cfg.l1_only = variant == "l1_only"
    cfg.feature_matching = variant == "feature_matching"
    tr = GanTrainer(cfg, ws, real, "cpu")
    before = [p.detach().clone() for p in tr.G.parameters()]
    tr.run(tmp_path / "run")
    assert tr.step == 3 and len(tr.history) == 3
    assert all(np.isfinite(v) for h in tr.history for v in h.values())
    assert any(not bool((a == p).all()) for a, p in zip(before, tr.G.parameters(), strict=True))
    assert (tr.D is None) == (variant == "l1_only")
    for name in ("checkpoint.safetensors", "checkpoint.json", "samples.png", "losses.png"):
        assert (tmp_path / "run" / name).stat().st_size > 0
    weights = tr.save_generator(tmp_path / "gen", {"command": "test"})
    model = load_model(weights, "cpu")
    assert model.card["window"] == 32 and model.card["architecture"] == "conditional_unet"


def test_resume_continues_exactly(tmp_path):
    ws = _pairs()
    full = GanTrainer(GanConfig(**{**TINY, "steps": 4}), ws, None, "cpu")
    full.run(tmp_path / "a")
    part = GanTrainer(GanConfig(**{**TINY, "steps": 2}), ws, None, "cpu")
    part.run(tmp_path / "b")
    resumed = GanTrainer(GanConfig(**{**TINY, "steps": 4}), ws, None, "cpu")
    resumed.load_checkpoint(tmp_path / "b" / "checkpoint")
    assert resumed.step == 2
    resumed.run(tmp_path / "c")
    for a, b in zip(full.G.state_dict().values(), resumed.G.state_dict().values(), strict=True):
        assert np.allclose(a.numpy(), b.numpy(), atol=1e-6)
    assert json.loads((tmp_path / "c" / "checkpoint.json").read_text())["step"] == 4


def test_bad_configurations():
    ws = _pairs(2)
    unpaired = WindowSet(ws.x, ws.maps, ws.feather, ws.mask)
    with pytest.raises(InputError, match="paired"):
        GanTrainer(GanConfig(**TINY), unpaired, None, "cpu")
    with pytest.raises(InputError, match="real set"):
        GanTrainer(GanConfig(**{**TINY, "mode": "unpaired"}), unpaired, None, "cpu")
    with pytest.raises(InputError, match="checkpoint"):
        GanTrainer(GanConfig(**TINY), ws, None, "cpu").load_checkpoint("/nonexistent/ck")
    with pytest.raises(InputError, match="d-steps"):
        GanTrainer(GanConfig(**{**TINY, "d_steps": 0}), ws, None, "cpu")


def test_d_steps_updates_the_discriminator_that_often_per_generator_step():
    ws = _pairs(4)
    tr = GanTrainer(GanConfig(**{**TINY, "d_steps": 3, "r1": 0.1}), ws, None, "cpu")
    seen = []
    update = tr._d_update
    tr._d_update = lambda b: seen.append(b["x"].shape) or update(b)  # type: ignore[method-assign]
    g_before = [p.detach().clone() for p in tr.G.parameters()]
    logs = tr.train_step()
    assert len(seen) == 3 and tr.step == 1
    assert np.isfinite(logs["d"]) and np.isfinite(logs["r1"])
    assert any(not bool((a == p).all()) for a, p in zip(g_before, tr.G.parameters(), strict=True))


def _started(tmp_path, **cfg) -> GanTrainer:
    """An unpaired fine-tune of a tiny generator saved first (the --init-from of a user)."""
    ws = _pairs()
    base = GanTrainer(GanConfig(**TINY), ws, None, "cpu")
    base.run(tmp_path / "base")
    fake_in, real = _unpaired(ws)
    tr = GanTrainer(GanConfig(**{**TINY, "mode": "unpaired", **cfg}), fake_in, real, "cpu")
    tr.init_generator(tmp_path / "base" / "checkpoint")
    return tr


def test_anchor_holds_the_fine_tune_to_its_starting_generator(tmp_path):
    tr = _started(tmp_path, anchor=50.0, steps=2)
    assert tr.G0 is not None and not any(p.requires_grad for p in tr.G0.parameters())
    start = [p.detach().clone() for p in tr.G0.parameters()]
    logs = tr.train_step()
    assert logs["anchor"] == 0.0  # the first step starts where the starting generator is
    tr.train_step()
    assert tr.history[-1]["anchor"] > 0.0
    # the start stays frozen while the generator moves
    assert all(bool((a == p).all()) for a, p in zip(start, tr.G0.parameters(), strict=True))
    assert any(not bool((a == p).all()) for a, p in zip(start, tr.G.parameters(), strict=True))
    # no anchor without a start, and no anchor term when the weight is 0
    assert "anchor" not in _started(tmp_path / "b", anchor=0.0).train_step()


def test_a_resumed_anchored_fine_tune_continues_exactly(tmp_path):
    full = _started(tmp_path / "a", anchor=50.0, steps=4)
    full.run(tmp_path / "a" / "run")
    part = _started(tmp_path / "b", anchor=50.0, steps=2)
    part.run(tmp_path / "b" / "run")
    fake_in, real = _unpaired(_pairs())
    cfg = GanConfig(**{**TINY, "mode": "unpaired", "anchor": 50.0, "steps": 4})
    resumed = GanTrainer(cfg, fake_in, real, "cpu")  # no init_generator: G0 from the checkpoint
    resumed.load_checkpoint(tmp_path / "b" / "run" / "checkpoint")
    resumed.run(tmp_path / "c")
    for a, b in zip(full.G.state_dict().values(), resumed.G.state_dict().values(), strict=True):
        assert np.allclose(a.numpy(), b.numpy(), atol=1e-6)
    # a checkpoint without a start cannot be resumed with an anchor
    plain = GanTrainer(GanConfig(**{**TINY, "steps": 2}), _pairs(), None, "cpu")
    plain.run(tmp_path / "d")
    with pytest.raises(InputError, match="starting generator"):
        GanTrainer(cfg, fake_in, real, "cpu").load_checkpoint(tmp_path / "d" / "checkpoint")


def test_d_warmup_trains_the_discriminator_alone_first(tmp_path):
    tr = _started(tmp_path, d_warmup=2, steps=3)
    g0 = [p.detach().clone() for p in tr.G.parameters()]
    d0 = [p.detach().clone() for p in tr.D.parameters()]
    for _ in range(2):
        logs = tr.train_step()
        assert "g" not in logs and np.isfinite(logs["d"])
    assert all(bool((a == p).all()) for a, p in zip(g0, tr.G.parameters(), strict=True))
    assert any(not bool((a == p).all()) for a, p in zip(d0, tr.D.parameters(), strict=True))
    assert "g" in tr.train_step() and tr.step == 3
    assert any(not bool((a == p).all()) for a, p in zip(g0, tr.G.parameters(), strict=True))
