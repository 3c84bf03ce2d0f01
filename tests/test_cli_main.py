"""The CLI dispatcher: user errors are one line on stderr and a non-zero exit, never a traceback."""

import argparse
import os
import subprocess
import sys

import pytest

from napari_xray_synth import __version__
from napari_xray_synth.cli import main
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.progress import Cancelled


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


class _OneCommand:
    """A parser stand-in whose command raises what the test gives it."""

    def __init__(self, exc: BaseException):
        self.exc = exc

    def parse_args(self, argv):
        def run(args):
            raise self.exc

        return argparse.Namespace(func=run)


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (
            InputError("cannot read it", "scan.dcm"),
            2,
            "xray-synth: error: scan.dcm: cannot read it",
        ),
        (Cancelled(), 130, "xray-synth: error: cancelled"),
    ],
)
def test_errors_are_one_line(monkeypatch, capsys, exc, code, line):
    monkeypatch.setattr("napari_xray_synth.cli.build_parser", lambda: _OneCommand(exc))
    assert main([]) == code
    assert capsys.readouterr().err.strip() == line


@pytest.mark.parametrize(
    ("names", "prog"),
    [
        ({"command": "denoise"}, "xray-synth denoise"),
        ({"command": "train", "train_what": "gan"}, "xray-synth train gan"),
    ],
)
def test_errors_name_the_subcommand_as_argparse_does(monkeypatch, capsys, names, prog):
    class Named(_OneCommand):
        def parse_args(self, argv):
            return argparse.Namespace(**vars(super().parse_args(argv)), **names)

    err = InputError("--strength 25 is out of range")
    monkeypatch.setattr("napari_xray_synth.cli.build_parser", lambda: Named(err))
    assert main([]) == 2
    assert capsys.readouterr().err.strip() == f"{prog}: error: --strength 25 is out of range"


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "napari_xray_synth.cli", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "COMMAND" in out.stdout


def test_a_file_system_refusal_is_one_line_naming_the_path(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((32, 32), 100, np.uint8)).save(tmp_path / name)
    folder = tmp_path / "map.tif"
    folder.mkdir()  # a folder where the SSIM map goes
    rc = main(
        ["compare", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--ssim-map", str(folder)]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "map.tif" in err[0] and "Traceback" not in err[0]


def test_more_user_errors_are_one_line(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    png = tmp_path / "film.png"
    Image.fromarray(np.full((32, 32), 100, np.uint8)).save(png)
    cases = [
        (["simulate", str(tmp_path / "sim"), "--n", "1", "--size", "256", "--seed", "-3"], "seed"),
        (["reader-study", str(png)], "film.png"),
        (["reader-study", str(tmp_path)], "folder"),
        (["synth", str(png), str(tmp_path / "s"), "--pathology", "nodule", "--at", "16,16",
          "--size-mm", "5", "--variants", "100000"], "--variants"),
    ]  # fmt: skip
    for argv, word in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and word in err[0] and "Traceback" not in err[0], err
    assert not (tmp_path / "sim").exists() and not (tmp_path / "s").exists()


@pytest.mark.parametrize("value", ["abc", "", "99999999999999999", "-5", "1.5"])
def test_a_bad_source_date_epoch_is_one_line_not_numpys_traceback(value):
    # numpy's f2py reads it with int() when scipy is imported: the check must come first
    env = {**os.environ, "SOURCE_DATE_EPOCH": value}
    out = subprocess.run(
        [sys.executable, "-m", "napari_xray_synth.cli", "info", "x.dcm"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("xray-synth: error: SOURCE_DATE_EPOCH must be a whole number")
    assert repr(value) in lines[0]
