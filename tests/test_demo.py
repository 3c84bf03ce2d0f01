"""``xray-synth demo``: the whole pipeline on the embedded default, at a small size."""

import csv

import numpy as np
import pydicom
import pytest
import tifffile
from PIL import Image

from napari_xray_synth.cli import main


def test_demo_runs_the_whole_pipeline(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--size", "256", "--variants", "2", "--method", "physics"]
    assert main([*args, "--pathologies", "nodule", "effusion"]) == 0
    printed = capsys.readouterr().out
    assert "montage" in printed
    # the source went through DICOM, marked synthetic and de-identified
    ds = pydicom.dcmread(out / "source.dcm")
    assert ds.SyntheticData == "YES" and ds.PatientIdentityRemoved == "YES"
    with open(out / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["pathology"] for r in rows] == ["nodule", "nodule", "effusion", "effusion"]
    for r in rows:
        variant = tifffile.imread(out / r["file"])
        mask = np.asarray(Image.open(out / r["mask"]))
        assert variant.shape == (256, 256) and variant.dtype == np.float32
        assert mask.any(), "every variant has a lesion mask"
        assert float(r["ssim_outside"]) > 0.98 > float(r["ssim_inside"])
        assert (out / r["file"].replace(".tif", "_1-ssim.tif")).is_file()
    # two variants of one condition differ inside the lesion
    a, b = (tifffile.imread(out / r["file"]) for r in rows[:2])
    assert not np.array_equal(a, b)
    report = (out / "report.md").read_text()
    assert "| nodule_0.tif | nodule |" in report
    with Image.open(out / "montage.png") as im:
        assert im.size[0] > 500


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--pathologies", "nodule", "bogus"], "--pathologies: unknown pathology 'bogus'"),
        (["--variants", "0"], "--variants must be a whole number of 1 or more, got 0"),
        (["--seed", "-1"], "--seed must be a whole number of 0 or more, got -1"),
        (["--size", "10"], "--size must be at least 64 pixels"),
    ],
)
def test_a_bad_option_is_refused_before_anything_is_written(tmp_path, capsys, option, message):
    new, old = tmp_path / "new", tmp_path / "old"
    old.mkdir()
    (old / "keep.txt").write_text("mine")
    for out in (new, old):
        args = ["demo", "--out", str(out), "--size", "256", "--method", "physics", *option]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"xray-synth demo: error: {message}"), err
    assert not new.exists()  # a new folder is not made, an existing one is untouched
    assert [p.name for p in old.iterdir()] == ["keep.txt"]
