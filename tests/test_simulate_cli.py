"""``xray-synth simulate``: files, masks and the manifest agree."""

import csv

import numpy as np
import pytest
import tifffile

from napari_xray_synth.cli import main
from napari_xray_synth.core.conditions import LABELS


def test_simulate_writes_images_masks_and_manifest(tmp_path):
    out = tmp_path / "sim"
    rc = main(
        [
            "simulate",
            str(out),
            "--n",
            "3",
            "--size",
            "64",
            "--pathology",
            "random",
            "--seed",
            "10",
            "--dose",
            "5e5",
            "--clean",
            "--quiet",
        ]
    )
    assert rc == 0
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    assert len(rows) == 3
    for k in (
        "file",
        "mask",
        "pathology",
        "seed",
        "dose",
        "spacing_mm",
        "center_row",
        "size_mm",
        "severity",
    ):
        assert k in rows[0]
    listed = set()
    for i, row in enumerate(rows):
        assert int(row["seed"]) == 10 + i and float(row["dose"]) == 5e5
        assert float(row["spacing_mm"]) == pytest.approx(358.4 / 64)
        img = tifffile.imread(out / row["file"])
        assert img.shape == (64, 64) and img.dtype == np.float32
        mask = tifffile.imread(out / row["mask"])
        assert mask.dtype == np.uint8
        assert LABELS[row["pathology"]] in np.unique(mask)
        listed |= {row["file"], row["mask"], row["clean"]}
    on_disk = {p.name for p in out.iterdir()} - {"manifest.csv"}
    assert on_disk == listed


def test_simulate_healthy_has_empty_mask_column(tmp_path):
    assert (
        main(
            [
                "simulate",
                str(tmp_path),
                "--n",
                "1",
                "--size",
                "64",
                "--pathology",
                "none",
                "--quiet",
            ]
        )
        == 0
    )
    row = next(csv.DictReader(open(tmp_path / "manifest.csv")))
    assert row["mask"] == "" and row["pathology"] == "none"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--size", "32"], "at least 64"),
        (["--dose", "0"], "dose"),
        (["--n", "0"], "at least 1"),
    ],
)
def test_simulate_bad_input_is_one_line(tmp_path, capsys, args, message):
    assert main(["simulate", str(tmp_path / "x"), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_unknown_pathology_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["simulate", str(tmp_path), "--pathology", "tumour"])
    assert "invalid choice" in capsys.readouterr().err
