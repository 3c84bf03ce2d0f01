"""``xray-synth augment``: seeds, inputs, Dask, resume after a kill, failures, bad output."""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from distributed import LocalCluster
from PIL import Image

from napari_xray_synth.cli import main
from napari_xray_synth.core import atomic, batch
from napari_xray_synth.core.batch import AugmentConfig, derive_seed, plan, run_augment
from napari_xray_synth.core.batch_sources import list_sources
from napari_xray_synth.core.conditions import LABELS
from napari_xray_synth.core.errors import InputError, XraySynthError
from napari_xray_synth.core.export import read_manifest

TESTS = Path(__file__).parent
SRC = TESTS.parent / "src"


def chest(seed: int, shape=(128, 112)) -> np.ndarray:
    """A crude PA chest: bright body, two dark lungs, noise (16-bit)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    rr, cc = np.mgrid[0:h, 0:w]
    img = np.full(shape, 0.1)
    img[((rr - 0.5 * h) / (0.48 * h)) ** 2 + ((cc - 0.5 * w) / (0.46 * w)) ** 2 <= 1] = 0.7
    for cx in (0.31, 0.69):
        img[((rr - 0.47 * h) / (0.27 * h)) ** 2 + ((cc - cx * w) / (0.13 * w)) ** 2 <= 1] = 0.25
    img += rng.normal(0, 0.02, shape)
    return (np.clip(img, 0, 1) * 65535).astype(np.uint16)


def make_inputs(folder: Path, n: int, broken: bool = False) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        iio.imwrite(folder / f"chest{i}.png", chest(i))
    if broken:
        (folder / "broken.png").write_bytes(b"this is not a png")
    return folder


def config(**kw) -> AugmentConfig:
    base = {"per_image": 2, "seed": 7, "spacing_mm": 2.5}
    base.update(kw)
    return AugmentConfig(**base)


def digest(out: Path) -> dict[str, str]:
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.parent.name != "items")
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in files
        if p.suffix in (".png", ".csv") and p.name != "failures.csv"
    }


def test_seeds_and_plan_do_not_depend_on_order():
    assert derive_seed("a/b.png", 0, 1) == derive_seed("a/b.png", 0, 1)
    assert len({derive_seed("a.png", k, 1) for k in range(100)}) == 100
    assert derive_seed("a.png", 0, 1) != derive_seed("a.png", 0, 2)
    from napari_xray_synth.core.batch_sources import Source

    srcs = [Source(Path(f"/x/{n}.png"), f"{n}.png") for n in ("a", "b", "c")]
    cfg = AugmentConfig(per_image=12, seed=3)
    tasks = plan(srcs, cfg)
    again = {t.source.key: t for t in plan(list(reversed(srcs)), cfg)}
    assert all(again[t.source.key] == t for t in tasks)
    counts = np.unique([i.pathology for i in tasks[0].items], return_counts=True)[1]
    assert counts.tolist() == [2] * 6  # 12 items over 6 pathologies: balanced
    assert tasks[1].items[0].item_id == "b_k000"
    hashed = plan(srcs, AugmentConfig(per_image=1, hash_names=True))
    assert hashed[1].items[0].item_id.startswith("h") and "b" not in hashed[1].items[0].item_id[:1]
    assert hashed[1].items[0].seed == plan(srcs, AugmentConfig(per_image=1))[1].items[0].seed


def test_csv_inputs(tmp_path):
    (tmp_path / "images").mkdir()
    for n in ("a.png", "b.png"):
        (tmp_path / "images" / n).write_bytes(b"x")
    nih = tmp_path / "Data_Entry.csv"
    nih.write_text(
        "Image Index,Finding Labels,View Position\na.png,Nodule,PA\nb.png,No Finding,LL\n"
    )
    s = list_sources(nih)
    assert [x.key for x in s] == ["a.png", "b.png"]
    assert s[0].path == tmp_path / "images" / "a.png" and s[0].findings == "Nodule"
    assert s[0].problem == "" and "frontal" in s[1].problem
    (tmp_path / "CheXpert-v1.0-small" / "train").mkdir(parents=True)
    (tmp_path / "CheXpert-v1.0-small" / "train" / "v.jpg").write_bytes(b"x")
    cx = tmp_path / "CheXpert-v1.0-small" / "train.csv"
    cx.write_text(
        "Path,Sex,Frontal/Lateral\nCheXpert-v1.0-small/train/v.jpg,F,Frontal\n"
        "CheXpert-v1.0-small/train/w.jpg,F,Lateral\n"
    )
    s = list_sources(cx)
    assert s[0].path == tmp_path / "CheXpert-v1.0-small" / "train" / "v.jpg"
    assert "lateral" in s[1].problem
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    with pytest.raises(InputError, match="Image Index"):
        list_sources(bad)
    with pytest.raises(InputError, match="no such"):
        list_sources(tmp_path / "missing")


def test_same_output_with_1_and_2_workers_and_failures(tmp_path):
    inp = make_inputs(tmp_path / "in", 3, broken=True)
    s1 = run_augment(inp, tmp_path / "w1", config(), workers=1)
    # two workers of an existing cluster, reached by its address as --scheduler does
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        s2 = run_augment(inp, tmp_path / "w2", config(), scheduler=cluster.scheduler_address)
    assert s1.written == s2.written == 6 and s1.workers == 1 and s2.workers == 2
    d1, d2 = digest(tmp_path / "w1"), digest(tmp_path / "w2")
    assert len(d1) == 6 + 6 + 1 and d1 == d2
    for out in (tmp_path / "w1", tmp_path / "w2"):
        with open(out / "failures.csv", newline="") as fh:
            fails = list(csv.DictReader(fh))
        assert [f["source"] for f in fails] == ["broken.png"]
        assert fails[0]["reason"].startswith("unreadable") and fails[0]["item"] == ""
    rows = read_manifest(tmp_path / "w1")
    assert len(rows) == 6 and {r["source"] for r in rows} == {f"chest{i}.png" for i in range(3)}
    for r in rows:
        mask = iio.imread(tmp_path / "w1" / r["mask"])
        assert mask.max() == LABELS[r["pathology"]]  # the lesion is in its mask
        assert r["seed"] and r["method"] == "physics" and r["synthetic"] == "True"

    # resuming needs the same settings (refused before any work); K may grow
    with pytest.raises(InputError, match=r"seed 7 \(now 8\)"):
        run_augment(inp, tmp_path / "w1", config(seed=8), workers=1)
    # ... and lesions clipped the same way: a folder from before the lesion region is refused
    settings = tmp_path / "w1" / "augment.json"
    saved = settings.read_text()
    old = json.loads(saved)
    del old["lesion_region"]
    settings.write_text(json.dumps(old))
    with pytest.raises(InputError, match="lesion_region None"):
        run_augment(inp, tmp_path / "w1", config(), workers=1)
    # ... and drawn by the same version of the physics method
    old = json.loads(saved)
    old["physics"] = "physics-v1"
    settings.write_text(json.dumps(old))
    with pytest.raises(InputError, match="physics 'physics-v1'"):
        run_augment(inp, tmp_path / "w1", config(), workers=1)
    settings.write_text(saved)
    more = run_augment(inp, tmp_path / "w1", config(per_image=3), workers=1)
    assert more.already_done == 6 and more.written == 3
    grown = digest(tmp_path / "w1")
    assert all(grown[k] == v for k, v in d1.items() if k != "manifest.csv")  # old items kept
    assert len(grown) == len(d1) + 6
    # a smaller K on a later run lists every finished item still, and says so
    less = run_augment(inp, tmp_path / "w1", config(per_image=1), workers=1)
    assert less.written == 0 and less.beyond_per_image == 6
    assert len(read_manifest(tmp_path / "w1")) == 9


def _run_cli(inp: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = dict(
        os.environ,
        PYTHONPATH=f"{SRC}{os.pathsep}{TESTS}",
        XRAY_SYNTH_AUGMENT_SYNTHESIZER="augment_standins:slow_synthesize",
        AUGMENT_TEST_DELAY="0.4",
    )
    cmd = [sys.executable, "-m", "napari_xray_synth.cli", "augment", str(inp), str(out)]
    cmd += ["--per-image", "3", "--seed", "5", "--spacing", "2.5", "--quiet", *extra]
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        # as from a terminal: a shell's background job would start with Ctrl-C ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for_items(proc: subprocess.Popen, out: Path, n: int) -> None:
    """Wait (at most 4 min) until the run has finished ``n`` items."""
    deadline = time.time() + 240
    while time.time() < deadline and len(list((out / "items").glob("*.json"))) < n:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)


def test_kill_and_resume(tmp_path):
    inp = make_inputs(tmp_path / "in", 4)
    out = tmp_path / "out"
    proc = _run_cli(inp, out, "--workers", "1")
    _wait_for_items(proc, out, 2)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its Dask workers
    proc.wait()
    partial = len(list((out / "items").glob("*.json")))
    assert 2 <= partial < 12, "the kill came too late to test resuming"
    assert not (out / "manifest.csv").exists()

    again = _run_cli(inp, out, "--workers", "2")
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr.decode()
    assert f"already there {partial}" in stdout.decode()
    rows = read_manifest(out)
    ids = [r["id"] for r in rows]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(f"{i}.png" for i in ids)
    assert len(list((out / "masks").iterdir())) == 12
    for r in rows:
        assert iio.imread(out / r["file"]).shape == (128, 112)
        assert iio.imread(out / r["mask"]).dtype == np.uint8
    assert not [p for p in out.rglob("*") if ".part" in p.name or p.name.startswith(".")]

    # the resumed data set is the one an uninterrupted run makes
    clean = run_augment(inp, tmp_path / "clean", config(per_image=3, seed=5), workers=1)
    assert clean.written == 12
    assert digest(out) == digest(tmp_path / "clean")


def test_ctrl_c_is_one_line_and_lists_what_is_finished(tmp_path):
    inp = make_inputs(tmp_path / "in", 4)
    out = tmp_path / "out"
    proc = _run_cli(inp, out, "--workers", "2")
    _wait_for_items(proc, out, 2)
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the workers too
    _, stderr = proc.communicate(timeout=120)
    lines = stderr.decode().strip().splitlines()
    assert proc.returncode == 130
    # no worker tracebacks before the run's one line
    assert len(lines) == 1 and "interrupted" in lines[0] and "manifest.csv" in lines[0], lines
    assert lines[0].startswith("xray-synth augment: error: interrupted; ")
    done = sorted(p.stem for p in (out / "items").glob("*.json"))
    assert 2 <= len(done) < 12
    assert sorted(r["id"] for r in read_manifest(out)) == done


def test_unwritable_output_is_one_clear_error(tmp_path, monkeypatch):
    inp = make_inputs(tmp_path / "in", 1)
    out = tmp_path / "ro"
    out.mkdir()
    if os.geteuid() != 0:
        out.chmod(0o555)
    else:  # root writes anywhere: make the file system say what a read-only one says

        def refuse(*a, **k):
            raise PermissionError(errno.EROFS, "Read-only file system")

        monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    with pytest.raises(XraySynthError, match="cannot write the output") as info:
        run_augment(inp, out, config(), workers=1)
    assert str(out) in str(info.value)
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == []
    out.chmod(0o755)


def test_full_disk_is_refused_before_work(tmp_path, monkeypatch):
    inp = make_inputs(tmp_path / "in", 2)

    class Usage:
        free = 10

    monkeypatch.setattr(batch.shutil, "disk_usage", lambda p: Usage)
    with pytest.raises(XraySynthError, match="not enough free space"):
        run_augment(inp, tmp_path / "out", config(), workers=1)
    assert not list((tmp_path / "out").rglob("*.png"))


def test_cli_user_errors_are_one_line(tmp_path, capsys):
    assert (
        main(
            [
                "augment",
                str(tmp_path / "nope"),
                str(tmp_path / "o"),
                "--per-image",
                "1",
                "--seed",
                "0",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file or folder" in err[0]
    make_inputs(tmp_path / "in", 1)
    assert (
        main(
            [
                "augment",
                str(tmp_path / "in"),
                str(tmp_path / "o"),
                "--per-image",
                "0",
                "--seed",
                "0",
            ]
        )
        == 2
    )
    assert "--per-image" in capsys.readouterr().err
    assert (
        main(
            [
                "augment",
                str(tmp_path / "in"),
                str(tmp_path / "o"),
                "--per-image",
                "1",
                "--seed",
                "0",
                "--pathologies",
                "nodule,tumour",
            ]
        )
        == 2
    )
    assert "tumour" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_disk_full_during_a_task_stops_with_one_error(tmp_path, monkeypatch):
    """A write that fails in a worker raises OutputError; no partial file is left."""
    inp = make_inputs(tmp_path / "in", 1)
    out = tmp_path / "out"
    for sub in ("images", "masks", "items"):
        (out / sub).mkdir(parents=True)
    cfg = config()
    task = plan(list_sources(inp), cfg)[0]
    real_save = Image.Image.save

    def full(self, path, *a, **k):
        real_save(self, path, *a, **k)  # the temporary file exists, then the disk fills up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    with pytest.raises(XraySynthError, match="No space left on device") as info:
        batch.process_source(task, cfg, str(out), "secret")
    assert str(out) in str(info.value)
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_a_run_that_finished_nothing_does_not_bind_the_folder(tmp_path):
    inp = make_inputs(tmp_path / "in", 1)
    out = tmp_path / "out"
    # PNGs carry no pixel size: without spacing_mm every item fails
    failed = run_augment(inp, out, config(spacing_mm=None), workers=1)
    assert failed.written == 0 and (out / "augment.json").is_file()
    done = run_augment(inp, out, config(), workers=1)  # new settings are taken
    assert done.written == 2
    assert json.loads((out / "augment.json").read_text())["spacing_mm"] == 2.5
    with pytest.raises(InputError, match="other settings"):  # now it binds
        run_augment(inp, out, config(seed=8), workers=1)
