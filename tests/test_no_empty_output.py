"""A failed run leaves no empty output folder behind, and never removes one that was there."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from napari_xray_synth.cli import main
from napari_xray_synth.core.atomic import output_folder
from napari_xray_synth.core.errors import InputError


@pytest.fixture
def png(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "in" / "chest.png"
    path.parent.mkdir()
    Image.fromarray((rng.random((96, 80)) * 255).astype(np.uint8)).save(path)
    return path


def test_output_folder_removes_only_what_it_made_and_left_empty(tmp_path):
    new = tmp_path / "a" / "b" / "out"
    with pytest.raises(RuntimeError), output_folder(new) as folder:
        (folder / "images" / "sub").mkdir(parents=True)  # empty scaffolding of the run
        raise RuntimeError("failed")
    assert not (tmp_path / "a").exists()  # the made parents go too

    there = tmp_path / "there"
    there.mkdir()
    with pytest.raises(KeyboardInterrupt), output_folder(there):
        raise KeyboardInterrupt
    assert there.is_dir()  # it was there before: kept, empty or not

    kept = tmp_path / "kept" / "out"
    with pytest.raises(RuntimeError), output_folder(kept) as folder:
        (folder / "result.tif").write_bytes(b"x")
        raise RuntimeError("failed half-way")
    assert (kept / "result.tif").is_file()  # what was written is not deleted

    with output_folder(tmp_path / "ok") as folder:
        pass
    assert folder.is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"), output_folder(tmp_path / "file"):
        pass


def _fails(capsys, argv: list[str]) -> str:
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and err, argv
    return err[-1]


# each fails after its output folder used to be made: (command line, why it fails)
FAILING_RUNS = {
    "synth": (
        "synth {png} {out} --pathology nodule --at 40,40 --size-mm 5 --spacing 0.5 --model nope",
        "nope",
    ),
    "simulate": ("simulate {out} --dose -5 --n 1 --size 64 --quiet", "dose"),
    "augment": (
        "augment {dir} {out} --per-image 1 --seed 0 --scheduler nonsense:: --quiet",
        "scheduler",
    ),
    "evaluate": (
        "evaluate denoise --out {out} --n 1 --size 64 --doses 1 --method bogus --quiet",
        "bogus",
    ),
    "demo": ("demo --out {out} --size 10", "size"),
    "train": (
        "train denoiser --data {tmp}/nothing --out {tmp}/m --workdir {out} --steps 1 --quiet",
        "nothing",
    ),
    "classifier": (
        "train classifier --out {out}/clf --init-from {tmp}/nothing --steps 1 --quiet",
        "nothing",
    ),
}


@pytest.mark.parametrize("name", list(FAILING_RUNS))
def test_failed_subcommands_leave_no_folder(name, tmp_path, png, capsys, monkeypatch):
    monkeypatch.setenv("XRAY_SYNTH_MODELS", str(tmp_path / "no-models"))
    line, why = FAILING_RUNS[name]
    out = tmp_path / "new" / "out"
    if name == "evaluate":
        out.parent.mkdir()  # the report folder's parent must exist
    paths = {"png": png, "dir": png.parent, "out": out, "tmp": tmp_path}
    assert why in _fails(capsys, [a.format(**paths) for a in line.split()])
    assert not out.exists()
    if name != "evaluate":
        assert not out.parent.exists()  # the parents it made go too


def test_a_folder_that_was_there_is_kept(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    msg = _fails(capsys, ["simulate", str(out), "--dose", "-5", "--n", "1", "--size", "64"])
    assert "dose" in msg and out.is_dir()


def test_a_cancelled_export_leaves_no_folder(tmp_path):
    import threading

    from napari_xray_synth.core.export.dataset import ExportItem, export_dataset
    from napari_xray_synth.core.progress import Cancelled
    from napari_xray_synth.core.radiograph import Radiograph

    cancel = threading.Event()
    cancel.set()
    out = tmp_path / "export" / "set"
    with pytest.raises(Cancelled):
        export_dataset([ExportItem("a", Radiograph(np.zeros((8, 8))))], out, cancel=cancel)
    assert not (tmp_path / "export").exists()
