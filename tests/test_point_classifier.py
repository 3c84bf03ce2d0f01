import json

import numpy as np
import pytest
import torch

from napari_xray_synth.cli import main
from napari_xray_synth.core.models import load_model
from napari_xray_synth.core.nn.point_classifier import CLASSES, PointClassifier, point_views
from napari_xray_synth.core.progress import Cancelled
from napari_xray_synth.core.train import point_classifier as tp


def test_the_local_view_is_centred_on_the_point_at_the_view_pixel_size():
    img = np.zeros((800, 600), np.float32)
    img[398:402, 148:152] = 1.0  # a 4 x 4 dot at 0.35 mm: 2 x 2 pixels at 0.7 mm
    (fine, coarse), whole = point_views(img, (400, 150), 0.35, crop=64, views_mm=(0.7, 1.4))
    assert fine.shape == coarse.shape == whole.shape == (1, 1, 64, 64)
    lit = np.argwhere(fine[0, 0].numpy() > 0.5)
    assert lit.tolist() == [[31, 31], [31, 32], [32, 31], [32, 32]]
    # at 1.4 mm the dot is about one pixel (4 x 4 blocks averaged), still at the centre
    c = coarse[0, 0].numpy()
    assert np.unravel_index(c.argmax(), c.shape) in {(31, 31), (31, 32), (32, 31), (32, 32)}
    assert c.sum() == pytest.approx(16 / 16, rel=1e-5) and c.max() >= 0.25
    # the global view is the whole film, where the dot is a faint speck
    assert 0 < whole.max() < 0.2


def test_a_point_near_the_edge_is_mirrored_and_a_tiny_film_still_gives_views():
    img = np.linspace(0, 1, 100 * 100, dtype=np.float32).reshape(100, 100)
    (local,), _ = point_views(img, (0, 0), 1.4, crop=32, views_mm=(0.7,))
    assert local.shape == (1, 1, 32, 32) and torch.isfinite(local).all()
    # mirrored about the point's row: the rows above it repeat the rows below it
    assert torch.allclose(local[0, 0, 16 - 3], local[0, 0, 16 + 3])
    (local,), _ = point_views(img[:10, :10], (5, 5), 0.7, crop=32, views_mm=(0.7,))
    assert local.shape == (1, 1, 32, 32)


def test_a_point_outside_the_film_or_a_3d_image_is_refused():
    with pytest.raises(ValueError, match="outside"):
        point_views(np.zeros((50, 50), np.float32), (60, 10), 0.7)
    with pytest.raises(ValueError, match="2-D"):
        point_views(np.zeros((2, 50, 50), np.float32), (10, 10), 0.7)


def test_recognition_table_counts_per_pathology_and_false_positives_on_twins():
    probs = np.zeros((6, len(CLASSES)), np.float32)
    labels = np.array([0, 1, 0, 1, 0, 2])
    probs[1, 1] = 0.9  # nodule recognised
    probs[2, 1] = 0.7  # the second case's healthy twin called a nodule
    probs[3, 0] = 0.9  # the second nodule missed
    probs[5, 2] = 0.6  # mass recognised
    table = tp.recognition_table(probs, labels)
    assert table["nodule"] == {"n": 2, "recognised": 0.5, "false_positive": 0.5}
    assert table["mass"] == {"n": 1, "recognised": 1.0, "false_positive": 0.0}
    assert table["all"]["recognised"] == pytest.approx(2 / 3)


def test_nodules_get_their_share_of_the_cases():
    cfg = tp.PointClassifierConfig(nodule_share=0.5)
    drawn = [tp.pathology_of(cfg, s) for s in range(0, 2000, 2)]
    assert 0.45 < drawn.count("nodule") / len(drawn) < 0.55
    assert set(drawn) == set(CLASSES[1:])


def test_the_pathology_drawn_is_independent_of_the_simulators_own_draws():
    # the simulator draws a case's condition from default_rng([seed, 11]) (and other small
    # keys): a pathology picked from the same stream ties each pathology to one slice of its
    # conditions; here the nodule cases must span the simulator's first draw
    cfg = tp.PointClassifierConfig(nodule_share=0.25)
    seeds = [s for s in range(0, 4000, 2) if tp.pathology_of(cfg, s) == "nodule"]
    for key in (11, 13, 21, 22, 31, 41):
        first = [np.random.default_rng([s, key]).random() for s in seeds]
        assert min(first) < 0.1 and max(first) > 0.9, key


def test_simulated_views_pair_each_finding_with_its_healthy_twin():
    cfg = tp.PointClassifierConfig(views_mm=(358.4 / 64, 358.4 / 32), crop=32)
    local, whole, labels = tp.simulate_views(cfg, [2, 4])
    assert local.shape == (4, 2, 32, 32) and whole.shape == (4, 32, 32)
    assert local.dtype == np.float16
    assert labels[0] == labels[2] == 0 and labels[1] > 0 and labels[3] > 0
    # the twin differs from the diseased image (the finding), not everywhere by noise
    assert np.abs(local[1].astype(np.float32) - local[0]).max() > 0.0
    assert np.median(np.abs(whole[1].astype(np.float32) - whole[0])) < 1e-3


def test_tiny_training_from_the_cli_writes_a_loadable_model_and_card(tmp_path, capsys):
    out = tmp_path / "models" / "pc"
    argv = ["train", "point-classifier", "--out", str(out), "--cases", "6", "--steps", "2"]
    argv += ["--batch", "4", "--heldout", "3", "--width", "4", "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "recognised at its point" in printed and "all" in printed
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["architecture"] == "point-classifier"
    assert card["training_command"].startswith("xray-synth train point-classifier --out")
    assert card["metrics"]["recognised_at_point"]["all"]["n"] == 3
    assert out.with_name("pc.loss.png").is_file()
    model = load_model(out)
    assert isinstance(model.module, PointClassifier)
    p = model.module.probabilities(np.full((300, 300), 0.5, np.float32), (150, 150), 0.35)
    assert p.shape == (len(CLASSES),) and p.sum() == pytest.approx(1.0, abs=1e-5)


def test_bad_settings_are_one_line_and_leave_no_folder(tmp_path, capsys):
    out = tmp_path / "new" / "pc"
    assert main(["train", "point-classifier", "--out", str(out), "--cases", "0"]) == 2
    assert "--cases" in capsys.readouterr().err
    assert not out.parent.exists()


def test_training_can_be_cancelled_and_leaves_no_folder(tmp_path):
    import threading

    cancel = threading.Event()
    cancel.set()
    cfg = tp.PointClassifierConfig(cases=2, steps=1, heldout=1, crop=32, views_mm=(5.0,))
    with pytest.raises(Cancelled):
        tp.train_point_classifier(tmp_path / "new" / "pc", cfg, cancel=cancel)
    assert not (tmp_path / "new").exists()
