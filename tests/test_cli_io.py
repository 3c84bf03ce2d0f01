"""CLI info, convert and demo: output, exit codes, one-line errors, no leftovers."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import tifffile
from PIL import Image

from dicom_factory import IDENTIFIERS, make_ds, ramp, reference_display, save
from napari_xray_synth.cli import main


@pytest.fixture
def dcm(tmp_path):
    ds = make_ds(
        ramp((48, 40), 0, 4095),
        photometric="MONOCHROME1",
        bits_stored=12,
        windows=[(1500, 1200), (2048, 4096)],
        explanations=["SOFT", "WIDE"],
        pixel_spacing=[0.2, 0.25],
    )
    return save(ds, tmp_path / "in.dcm")


def test_info_text_and_json(dcm, capsys):
    assert main(["info", str(dcm)]) == 0
    text = capsys.readouterr().out
    assert "MONOCHROME1" in text and "48 x 40" in text and "SOFT" in text
    assert "0.2 x 0.25 mm" in text
    assert main(["info", str(dcm), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["bits_stored"] == 12 and info["transfer_syntax"] == "Explicit VR Little Endian"
    assert [w["name"] for w in info["windows"]] == ["SOFT", "WIDE"]
    assert not any(v in json.dumps(info) for v in IDENTIFIERS.values())


def test_convert_tif_applies_default_window(dcm, tmp_path, capsys):
    out = tmp_path / "out.tif"
    assert main(["convert", str(dcm), str(out)]) == 0
    data = tifffile.imread(out)
    assert data.dtype == np.float32 and data.min() >= 0 and data.max() <= 1
    assert np.abs(data - reference_display(dcm, 0)).max() < 1e-5
    assert stat.S_IMODE(os.stat(out).st_mode) & 0o044  # readable by others, as open() makes


def test_convert_png_16bit_with_window_choice(dcm, tmp_path):
    out = tmp_path / "out.png"
    assert main(["convert", str(dcm), str(out), "--window", "1"]) == 0
    with Image.open(out) as im:
        assert im.mode == "I;16"
        data = np.asarray(im) / 65535.0
    assert np.abs(data - reference_display(dcm, 1)).max() <= 0.5 / 65535 + 1e-5


def _run_cli(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-m", "napari_xray_synth.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_convert_failures_one_line_no_output(dcm, tmp_path):
    (tmp_path / "bad.dcm").write_bytes(b"DICM" * 10)
    cases = [
        (["convert", str(tmp_path / "missing.dcm"), str(tmp_path / "o.png")], "does not exist"),
        (["convert", str(tmp_path / "bad.dcm"), str(tmp_path / "o.png")], "bad.dcm: "),
        (["convert", str(dcm), str(tmp_path / "o.bmp")], "use .tif, .tiff or .png"),
        (["convert", str(dcm), str(tmp_path / "o.png"), "--window", "7"], "window 7"),
        (["convert", str(dcm), str(tmp_path / "nowhere" / "o.png")], "does not exist"),
    ]
    for argv, reason in cases:
        before = sorted(p.name for p in tmp_path.iterdir())
        proc = _run_cli(*argv)
        assert proc.returncode == 2, (argv, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("xray-synth convert: error: "), proc.stderr
        assert reason in lines[0], lines[0]
        assert "Traceback" not in proc.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing left behind


def test_info_on_a_report_and_on_garbage(tmp_path, capsys):
    from test_io_bad_input import structured_report

    sr = structured_report(tmp_path / "sr.dcm")
    assert main(["info", str(sr)]) == 0
    out = capsys.readouterr().out
    assert "none: the file has no Pixel Data" in out and "Doe" not in out
    (tmp_path / "junk.bin").write_bytes(b"hello world" * 30)
    assert main(["info", str(tmp_path / "junk.bin")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a DICOM, TIFF, PNG or JPEG file" in err[0]
