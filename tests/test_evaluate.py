import json
import re

import numpy as np
import pytest

from evaluate_stand_ins import SIM, denoise, synthesize
from napari_xray_synth.core import evaluate as ev
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.models import save_model
from napari_xray_synth.core.nn.classifier import build_classifier
from napari_xray_synth.core.progress import Cancelled


def _images_exist(report):
    text = report.read_text()
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert refs, "the report shows no plot"
    for ref in refs:
        f = report.parent / ref
        assert f.is_file() and f.stat().st_size > 1000, ref
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return text


def test_psnr_and_ssim_basics(rng):
    a = rng.random((32, 32)).astype(np.float32)
    assert ev.psnr(a, a) == float("inf")
    assert ev.psnr(a, a + 0.1) == pytest.approx(20.0, abs=1e-3)
    value, smap = ev.ssim_map(a, a)
    assert value == pytest.approx(1.0) and smap.shape == a.shape


def test_md_table():
    t = ev.md_table(["a", "b"], [["x", 0.12345], ["y", float("nan")]], 2)
    assert t.splitlines() == ["| a | b |", "|---|---|", "| x | 0.12 |", "| y | n/a |"]


def test_evaluate_denoise_writes_report(tmp_path):
    seen = []
    report = ev.evaluate_denoise(
        tmp_path / "rep",
        methods=("gaussian", "strong"),
        doses=(0.25, 1.0),
        n_images=2,
        size=48,
        denoise_fn=denoise,
        sim=SIM,
        progress=lambda d, t: seen.append((d, t)),
    )
    text = _images_exist(report)
    assert "## PSNR (dB)" in text and "## SSIM" in text
    for name in ("psnr_vs_dose.png", "ssim_vs_dose.png", "ssim_maps.png", "examples.png"):
        assert name in text
    rows = json.loads((report.parent / "metrics.json").read_text())["rows"]
    low = {
        r["method"]: r["psnr"] for r in rows if r["dose"] == 0.25 and r["case"] == rows[0]["case"]
    }
    # smoothing beats the noisy input at low dose on this stand-in
    assert low["gaussian"] > low["noisy input"]
    assert seen[-1][0] == seen[-1][1]
    assert not list((tmp_path / "rep").glob("*.part*"))


def test_evaluate_denoise_on_a_folder(tmp_path):
    import imageio.v3 as iio

    folder = tmp_path / "imgs"
    folder.mkdir()
    for k in range(2):
        img = (np.linspace(0, 255, 40 * 40).reshape(40, 40) * (k + 1) / 2).astype(np.uint8)
        iio.imwrite(folder / f"im{k}.png", img)
    (folder / "notes.txt").write_text("not an image")
    (folder / "junk.png").write_text("not a PNG either")
    report = ev.evaluate_denoise(
        tmp_path / "rep",
        data=str(folder),
        methods=("gaussian",),
        doses=(0.5,),
        n_images=5,
        denoise_fn=denoise,
    )
    text = _images_exist(report)
    assert "images of" in text
    # 5 were asked for, the folder has 2 readable: the report and the JSON say 2
    assert "Images used: 2 (2 x 1 dose(s) x 1 method(s) = 2 denoised), 2 of the 5 asked" in text
    # and which files were skipped, and why
    assert "Skipped (could not be read): `junk.png` (is not a DICOM" in text
    m = json.loads((report.parent / "metrics.json").read_text())
    assert m["n_images"] == 2 and m["images"] == ["im0", "im1"] and m["n_asked"] == 5
    assert [s["file"] for s in m["skipped"]] == ["junk.png", "notes.txt"]
    assert all(s["reason"] for s in m["skipped"])


def test_evaluate_denoise_bad_input(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        ev.evaluate_denoise(tmp_path / "r", data=str(tmp_path / "missing"), denoise_fn=denoise)
    assert not (tmp_path / "r").exists()
    with pytest.raises(InputError, match="method"):
        ev.evaluate_denoise(tmp_path / "r", methods=(), denoise_fn=denoise, sim=SIM)


@pytest.fixture
def tiny_classifier(tmp_path):
    cfg = {"size": 32, "width": 8, "stages": 3, "features_dim": 16}
    save_model(build_classifier(**cfg), tmp_path / "clf", "pathology-classifier", cfg, {})
    return tmp_path / "clf"


def test_evaluate_synth_writes_report(tmp_path, tiny_classifier):
    report = ev.evaluate_synth(
        tmp_path / "rep",
        n=2,
        size=64,
        classifier=tiny_classifier,
        synthesize_fn=synthesize,
        sim=SIM,
        device="cpu",
    )
    text = _images_exist(report)
    assert "real A vs real B (floor)" in text and "generated vs real B" in text
    assert "## Conditioning" in text and "AUC (gen)" in text
    m = json.loads((report.parent / "metrics.json").read_text())
    assert len(m["variants"]) == 12
    assert set(m["conditioning"]["generated"]) == {
        "nodule",
        "mass",
        "effusion",
        "pneumothorax",
        "consolidation",
        "cardiomegaly",
    }
    assert m["set_metrics"]["floor"]["fd"] >= 0
    # the stand-in synthesizer only touches the lesion: SSIM outside it stays near 1
    assert min(v["ssim_outside_lesion"] for v in m["variants"]) > 0.9


def test_evaluate_synth_cancel_and_bad_n(tmp_path, tiny_classifier):
    class Now:
        def is_set(self):
            return True

    with pytest.raises(Cancelled):
        ev.evaluate_synth(
            tmp_path / "r",
            n=2,
            size=64,
            classifier=tiny_classifier,
            synthesize_fn=synthesize,
            sim=SIM,
            cancel=Now(),
            device="cpu",
        )
    assert not (tmp_path / "r" / "report.md").exists()
    with pytest.raises(InputError, match="at least 2"):
        ev.evaluate_synth(
            tmp_path / "r", n=1, classifier=tiny_classifier, sim=SIM, synthesize_fn=synthesize
        )


def test_warns_when_the_classifier_saw_another_simulator():
    from napari_xray_synth.core.sim_fingerprint import simulator_fingerprint

    sim = ev._default_sim()
    assert "Warning" in ev._simulator_note({"simulator_sources_sha256": "0" * 64}, sim)
    assert ev._simulator_note({"simulator_sources_sha256": simulator_fingerprint()}, sim) == ""
    assert ev._simulator_note({}, sim) == ""
