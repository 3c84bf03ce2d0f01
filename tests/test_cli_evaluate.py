import json

import pytest

from evaluate_stand_ins import SIM, denoise, synthesize
from napari_xray_synth.cli import main
from napari_xray_synth.core import evaluate as ev
from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.models import save_model
from napari_xray_synth.core.nn.classifier import build_classifier
from napari_xray_synth.core.nn.point_classifier import PointClassifier


@pytest.fixture
def stand_ins(monkeypatch):
    monkeypatch.setattr(ev, "_default_sim", lambda: SIM)
    monkeypatch.setattr(ev, "_default_denoise", lambda: denoise)
    monkeypatch.setattr(ev, "_default_synthesize", lambda: synthesize)


def test_cli_evaluate_denoise(tmp_path, stand_ins, capsys):
    rc = main(
        [
            "evaluate",
            "denoise",
            "--method",
            "gaussian",
            "--method",
            "strong",
            "--doses",
            "0.5,1",
            "--n",
            "1",
            "--size",
            "48",
            "--out",
            str(tmp_path / "rep"),
            "--quiet",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].endswith("report.md")
    assert out[-2] == "evaluated 1 image at 2 dose(s) with 2 method(s)"
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "| strong |" in text and "dose 0.5" in text
    assert "Images used: 1 (1 x 2 dose(s) x 2 method(s) = 4 denoised)" in text


def test_cli_evaluate_denoise_names_skipped_files_and_a_short_count(tmp_path, stand_ins, capsys):
    import imageio.v3 as iio
    import numpy as np

    folder = tmp_path / "imgs"
    folder.mkdir()
    for k in range(2):
        iio.imwrite(folder / f"im{k}.png", np.full((40, 40), 60 * (k + 1), np.uint8))
    (folder / "junk.png").write_text("a text file")
    args = ["evaluate", "denoise", "--data", str(folder), "--method", "gaussian", "--doses", "1"]
    assert main([*args, "--n", "5", "--out", str(tmp_path / "rep"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"xray-synth: warning: skipped {folder / 'junk.png'}: is not a DICOM, TIFF, PNG or JPEG "
        "file"
    ]
    assert "evaluated 2 of --n 5 images at 1 dose(s) with 1 method(s)" in captured.out


def test_cli_evaluate_synth(tmp_path, stand_ins):
    cfg = {"size": 32, "width": 8, "stages": 3, "features_dim": 16}
    save_model(build_classifier(**cfg), tmp_path / "clf", "pathology-classifier", cfg, {})
    pc_cfg = {"width": 4, "crop": 32, "views_mm": [2.0]}
    save_model(PointClassifier(**pc_cfg), tmp_path / "pc", "point-classifier", pc_cfg, {})
    rc = main(
        [
            "evaluate",
            "synth",
            "--n",
            "2",
            "--size",
            "64",
            "--classifier",
            str(tmp_path / "clf"),
            "--point-classifier",
            str(tmp_path / "pc"),
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "rep"),
            "--quiet",
        ]
    )
    assert rc == 0
    m = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert m["method"] == "physics" and len(m["variants"]) == 12
    at_point = m["conditioning_at_point"]
    assert set(at_point) == {*PATHOLOGIES, "all"}
    assert all(0.0 <= v <= 1.0 for row in at_point.values() for v in row.values())
    assert "## Conditioning at the requested point" in (tmp_path / "rep" / "report.md").read_text()


def test_cli_evaluate_synth_without_the_point_classifier(tmp_path, stand_ins):
    cfg = {"size": 32, "width": 8, "stages": 3, "features_dim": 16}
    save_model(build_classifier(**cfg), tmp_path / "clf", "pathology-classifier", cfg, {})
    args = ["evaluate", "synth", "--n", "2", "--size", "64", "--classifier", str(tmp_path / "clf")]
    args += ["--point-classifier", "none", "--out", str(tmp_path / "rep"), "--quiet"]
    assert main(args) == 0
    m = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert m["conditioning_at_point"] is None
    assert "at the requested point" not in (tmp_path / "rep" / "report.md").read_text()


def test_cli_user_errors_are_one_line(tmp_path, stand_ins, capsys):
    assert (
        main(
            [
                "evaluate",
                "synth",
                "--n",
                "2",
                "--classifier",
                str(tmp_path / "nope"),
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope" in err
    assert not (tmp_path / "r").exists()
    with pytest.raises(SystemExit):
        main(["evaluate", "denoise", "--doses", "0,-1", "--out", str(tmp_path / "r")])


def test_cli_train_classifier_tiny(tmp_path, monkeypatch, capsys):
    from napari_xray_synth.core.train import classifier as tc
    from test_train_classifier import stand_in_sampler

    monkeypatch.setattr(tc, "sim_sampler", lambda *a, **k: stand_in_sampler)
    rc = main(
        [
            "train",
            "classifier",
            "--out",
            str(tmp_path / "clf"),
            "--steps",
            "2",
            "--batch",
            "2",
            "--size",
            "32",
            "--width",
            "8",
            "--heldout",
            "8",
            "--device",
            "cpu",
            "--quiet",
        ]
    )
    assert rc == 0
    card = json.loads((tmp_path / "clf.json").read_text())
    assert card["training_command"].startswith("xray-synth train classifier --data sim")
    assert "--steps 2" in card["training_command"]
    assert "held-out AUC" in capsys.readouterr().out


def test_cli_train_classifier_with_lesion_maps(tmp_path, monkeypatch, capsys):
    from napari_xray_synth.core.train import classifier as tc
    from test_train_classifier import masked_sampler

    monkeypatch.setattr(tc, "sim_sampler", lambda *a, **k: masked_sampler)
    args = ["train", "classifier", "--out", str(tmp_path / "clf"), "--steps", "2"]
    args += ["--batch", "2", "--size", "32", "--width", "8", "--heldout", "8", "--quiet"]
    rc = main([*args, "--locate-stage", "3", "--locate-pos-weight", "5"])
    assert rc == 0
    card = json.loads((tmp_path / "clf.json").read_text())
    assert card["config"]["locate_stage"] == 3
    assert card["training_config"]["locate_pos_weight"] == 5.0
    assert "--locate-stage 3" in card["training_command"]
    # a stage the network does not have: one line, no model written
    rc = main([*args[:3], str(tmp_path / "bad"), *args[4:], "--locate-stage", "9"])
    assert rc != 0
    assert "stage must be 0..6, not 9" in capsys.readouterr().err
    assert not (tmp_path / "bad.safetensors").exists()
    rc = main([*args[:3], str(tmp_path / "bad"), *args[4:], "--locate-weight", "nan"])
    assert rc != 0 and "must be finite" in capsys.readouterr().err
