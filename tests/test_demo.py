"""``xray-synth demo``: the whole pipeline on the embedded default, at a small size."""

import csv

import numpy as np
import pydicom
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
