import csv
import json

import numpy as np
import pytest
import tifffile
from PIL import Image
from scipy import ndimage

from napari_xray_synth.cli import main
from napari_xray_synth.core.conditions import LABELS


@pytest.fixture
def png(tmp_path):
    rng = np.random.default_rng(3)
    img = ndimage.gaussian_filter(rng.random((160, 140)), 2)
    img = np.clip((img - img.mean()) * 4 + 0.5, 0, 1)
    path = tmp_path / "chest.png"
    Image.fromarray((img * 255).astype(np.uint8)).save(path)
    return path


def test_synth_writes_variants_masks_and_manifest(png, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(
        [
            "synth",
            str(png),
            str(out),
            "--pathology",
            "nodule",
            "--at",
            "60,50",
            "--at",
            "100,90",
            "--size-mm",
            "8",
            "--variants",
            "2",
            "--method",
            "physics",
            "--spacing",
            "0.5",
        ]
    )
    assert rc == 0
    assert "warning" not in capsys.readouterr().err
    with open(out / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4  # 2 variants x 2 lesions
    assert {"file", "mask", "pathology", "seed", "center_row", "size_mm", "method"} <= set(rows[0])
    files = sorted({r["file"] for r in rows})
    assert len(files) == 2
    for r in rows:
        assert r["pathology"] == "nodule" and r["method"] == "physics"
        img = tifffile.imread(out / r["file"])
        mask = tifffile.imread(out / r["mask"])
        assert img.dtype == np.float32 and img.shape == (160, 140)
        assert mask.dtype == np.uint8 and mask[60, 50] == LABELS["nodule"]
        assert mask[5, 5] == 0
        desc = json.loads(tifffile.TiffFile(out / r["file"]).pages[0].description)
        assert desc["synthetic"] is True
        assert desc["provenance"][-1]["operation"] == "synthesize"
    assert rows[0]["seed"] != rows[2]["seed"]


def test_missing_spacing_warns_and_is_recorded(png, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(
        [
            "synth",
            str(png),
            str(out),
            "--pathology",
            "mass",
            "--at",
            "80,70",
            "--size-mm",
            "35",
            "--variants",
            "1",
            "--method",
            "physics",
        ]
    )
    assert rc == 0
    err = capsys.readouterr().err
    assert "no pixel spacing" in err and "0.35 mm" in err
    with open(out / "manifest.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert row["spacing_assumed"] == "True" and float(row["spacing_mm"]) == 0.35
    desc = json.loads(tifffile.TiffFile(out / row["file"]).pages[0].description)
    assert desc["provenance"][-1]["parameters"]["spacing_assumed_mm"] == 0.35


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--at", "500,10", "--size-mm", "8"], "outside"),
        (["--at", "50,50", "--size-mm", "80"], "nodule is"),
        (["--at", "50,50", "--size-mm", "8", "--variants", "0"], "1 to 64"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(png, tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    rc = main(
        [
            "synth",
            str(png),
            str(out),
            "--pathology",
            "nodule",
            "--method",
            "physics",
            "--spacing",
            "0.5",
            *extra,
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


def test_missing_generator_names_the_training_command(png, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XRAY_SYNTH_MODELS", str(tmp_path))
    rc = main(
        [
            "synth",
            str(png),
            str(tmp_path / "o"),
            "--pathology",
            "nodule",
            "--at",
            "50,50",
            "--size-mm",
            "8",
            "--spacing",
            "0.5",
            "--model",
            "nope",
        ]
    )
    assert rc == 2
    assert "xray-synth train gan" in capsys.readouterr().err


def _synth(src, out, *extra):
    base = ["synth", str(src), str(out), "--method", "physics", "--variants", "1"]
    return main([*base, "--pathology", "nodule", "--at", "80,70", "--size-mm", "8", *extra])


def test_spacing_serves_files_without_one_and_never_overrides_a_files_own(tmp_path, capsys):
    from dicom_factory import make_ds, ramp, save

    dcm = save(make_ds(ramp((160, 140), 0, 4000), pixel_spacing=[0.2, 0.2]), tmp_path / "c.dcm")
    assert _synth(dcm, tmp_path / "o", "--spacing", "0.5") == 0
    assert "carries its own pixel spacing (0.2 x 0.2 mm" in capsys.readouterr().err
    with open(tmp_path / "o" / "manifest.csv", newline="") as fh:
        assert float(next(csv.DictReader(fh))["spacing_mm"]) == 0.2


def test_runs_into_one_folder_keep_each_others_manifest_rows(png, tmp_path, capsys):
    out = tmp_path / "o"
    assert _synth(png, out, "--spacing", "0.5") == 0
    assert _synth(png, out, "--spacing", "0.5", "--pathology", "mass", "--size-mm", "35") == 0
    assert _synth(png, out, "--spacing", "0.5", "--seed", "3") == 0  # the nodule again
    assert "1 earlier rows kept" in capsys.readouterr().out
    with open(out / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((r["file"], r["batch_seed"]) for r in rows) == [
        ("chest_mass_000.tif", "0"),
        ("chest_nodule_000.tif", "3"),
    ]
    assert all((out / r["file"]).is_file() and (out / r["mask"]).is_file() for r in rows)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left


def test_an_output_that_cannot_be_written_is_one_line_and_writes_nothing(png, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert _synth(png, afile, "--spacing", "0.5") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "afile: is a file, not a folder" in err[0]
    # a folder where the mask goes: found before anything is moved in
    out = tmp_path / "o"
    (out / "chest_nodule_000_mask.tif").mkdir(parents=True)
    assert _synth(png, out, "--spacing", "0.5") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "chest_nodule_000_mask.tif there is a folder" in err[0]
    assert sorted(p.name for p in out.iterdir()) == ["chest_nodule_000_mask.tif"]


def test_source_date_epoch_makes_runs_byte_identical(png, tmp_path, monkeypatch):
    # the provenance records a time; SOURCE_DATE_EPOCH pins it, as for reproducible builds
    def run(name: str) -> bytes:
        args = ["synth", str(png), str(tmp_path / name), "--pathology", "nodule"]
        args += ["--at", "60,50", "--size-mm", "8", "--spacing", "0.5", "--method", "physics"]
        assert main(args) == 0
        return (tmp_path / name / "chest_nodule_000.tif").read_bytes()

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = run("a")
    assert b"2023-11-14T22:13:20+00:00" in first
    assert run("b") == first
