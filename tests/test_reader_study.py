"""core.reader_study: discovery, the answers CSV, resume, and the scores worked out by hand."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import tifffile

from napari_xray_synth.core import reader_study as rs
from napari_xray_synth.core.errors import InputError


def _write(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, np.full((16, 16), value, np.float32))


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "study"
    _write(root / "real" / "a.tif", 0.1)
    _write(root / "real" / "nodule" / "b.tif", 0.2)
    _write(root / "synthetic" / "c.tif", 0.3)
    _write(root / "synthetic" / "nodule" / "d.tif", 0.4)
    (root / "real" / "notes.txt").write_text("not an image")
    return root


def test_discover_subfolders(folder):
    items = rs.discover(folder)
    got = {(it.item, it.truth, it.pathology) for it in items}
    assert got == {
        ("real/a.tif", "real", "none"),
        ("real/nodule/b.tif", "real", "nodule"),
        ("synthetic/c.tif", "synthetic", "none"),
        ("synthetic/nodule/d.tif", "synthetic", "nodule"),
    }


def test_discover_truth_csv(tmp_path):
    _write(tmp_path / "img1.tif", 0.5)
    _write(tmp_path / "img2.tif", 0.6)
    (tmp_path / "truth.csv").write_text(
        "file,truth,pathology\nimg1.tif,real,\nimg2.tif,Synthetic,Effusion\n"
    )
    items = rs.discover(tmp_path)
    assert [(it.item, it.truth, it.pathology) for it in items] == [
        ("img1.tif", "real", "none"),
        ("img2.tif", "synthetic", "effusion"),
    ]
    (tmp_path / "truth.csv").write_text("file,truth\nimg1.tif,maybe\n")
    with pytest.raises(InputError, match="line 2: truth must be real or synthetic"):
        rs.discover(tmp_path)
    (tmp_path / "truth.csv").write_text("file,truth\nmissing.tif,real\n")
    with pytest.raises(InputError, match=r"missing\.tif is not in the folder"):
        rs.discover(tmp_path)


def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(InputError, match="holds no study images"):
        rs.discover(tmp_path)
    with pytest.raises(InputError, match="is not a folder"):
        rs.ReaderStudy(tmp_path / "nope", "ann")
    with pytest.raises(InputError, match="reader name"):
        rs.ReaderStudy(tmp_path, "  ")


def test_order_depends_on_seed_only(folder):
    items = rs.discover(folder)
    a = [it.item for it in rs.study_order(items, 7)]
    assert a == [it.item for it in rs.study_order(list(reversed(items)), 7)]
    orders = {tuple(it.item for it in rs.study_order(items, s)) for s in range(20)}
    assert len(orders) > 1


def test_answers_written_at_once_and_resumed(folder, tmp_path):
    csv_path = tmp_path / "answers.csv"
    study = rs.ReaderStudy(folder, "ann", seed=3, answers=csv_path)
    first = study.current()
    study.answer("real", 4)
    rows = rs.read_answers(csv_path)  # on disk before the next call
    assert [r["item"] for r in rows] == [first.item]
    assert rows[0]["truth"] == first.truth and rows[0]["realism"] == "4"
    second = study.current()
    study.answer("synthetic", 2)
    # a torn last line (crash during a write) is ignored
    with open(csv_path, "a") as fh:
        fh.write("ann,synthetic/c.tif,synth")
    again = rs.ReaderStudy(folder, "ann", seed=3, answers=csv_path)
    assert again.done == 2 and again.total == 4
    assert again.current() not in (first, second)
    # another reader starts from the beginning
    assert rs.ReaderStudy(folder, "bob", seed=3, answers=csv_path).done == 0
    with pytest.raises(InputError, match="realism"):
        again.answer("real", 7)
    with pytest.raises(InputError, match="real or synthetic"):
        again.answer("maybe", 3)


def test_not_an_answers_file(folder, tmp_path):
    bad = tmp_path / "other.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a reader-study answers file"):
        rs.ReaderStudy(folder, "ann", answers=bad)


def test_summary_worked_by_hand():
    # suspicion = (6 - realism) + 5 * (answer == synthetic)
    rows = [
        # real images: suspicions 2, 9, 4
        dict(reader="r", item="a", truth="real", pathology="none", answer="real", realism="4"),
        dict(
            reader="r", item="b", truth="real", pathology="nodule", answer="synthetic", realism="2"
        ),
        dict(reader="r", item="e", truth="real", pathology="none", answer="real", realism="2"),
        # synthetic images: suspicions 10, 4
        dict(
            reader="r",
            item="c",
            truth="synthetic",
            pathology="none",
            answer="synthetic",
            realism="1",
        ),
        dict(
            reader="r", item="d", truth="synthetic", pathology="nodule", answer="real", realism="2"
        ),
        # a second answer to an item does not count
        dict(reader="r", item="a", truth="real", pathology="none", answer="synthetic", realism="1"),
    ]
    s = rs.summarize(rows)
    # 10 beats 2, 9, 4 (3); 4 beats 2, ties 4, loses to 9 (1.5): 4.5 of 6 pairs
    assert s.auc == pytest.approx(4.5 / 6)
    assert s.accuracy == pytest.approx(3 / 5)
    assert (s.n, s.n_real, s.n_synthetic) == (5, 3, 2)
    assert s.mean_realism_real == pytest.approx(8 / 3)
    assert s.per_pathology["nodule"].auc == pytest.approx(0.0)  # 4 < 9
    assert s.per_pathology["nodule"].accuracy == pytest.approx(0.0)
    assert s.per_pathology["none"].auc == pytest.approx(1.0)  # 10 > 2 and 10 > 4
    assert s.per_pathology["none"].accuracy == pytest.approx(1.0)
    text = rs.format_summary(s)
    assert "0.75" in text and "nodule" in text


def test_auc_edge_cases():
    assert rs.auc([1, 2], []) is None
    assert rs.auc([3], [3]) == 0.5
    assert rs.auc([5, 6], [1, 2]) == 1.0
    assert rs.suspicion("real", 5) == 1 and rs.suspicion("synthetic", 1) == 10


def test_csv_columns(folder, tmp_path):
    csv_path = tmp_path / "answers.csv"
    study = rs.ReaderStudy(folder, "ann", seed=0, answers=csv_path)
    study.answer("synthetic", 3)
    with open(csv_path, newline="") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == rs.FIELDS


def test_unwritable_answers_folder(folder, tmp_path):
    with pytest.raises(InputError, match="cannot write the answers file"):
        rs.ReaderStudy(folder, "ann", answers=tmp_path / "missing" / "answers.csv")


def test_reader_study_cli(folder, tmp_path, capsys):
    import json

    from napari_xray_synth.cli import main

    csv_path = tmp_path / "answers.csv"
    study = rs.ReaderStudy(folder, "ann", seed=1, answers=csv_path)
    while not study.finished:
        item = study.current()
        # right call for every image, realism 2 for synthetic and 4 for real: AUC 1
        study.answer(item.truth, 2 if item.truth == "synthetic" else 4)
    assert main(["reader-study", str(csv_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["readers"] == ["ann"] and out["n"] == 4
    assert out["accuracy"] == 1.0 and out["auc"] == 1.0
    assert out["per_pathology"]["nodule"]["n"] == 2
    assert main(["reader-study", str(csv_path), "--reader", "bob"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no answers from that reader" in err[0]


@pytest.mark.parametrize("source", ["8-bit full range", "8-bit 40..200", "float"])
def test_blind_pixels_one_grid_that_looks_the_same(source):
    rng = np.random.default_rng(5)
    # a ramp with texture: every grey level holds many pixels
    film = np.tile(np.linspace(0, 1, 256), (64, 1)) + 0.02 * rng.standard_normal((64, 256))
    film = np.clip(film, 0, 1)
    film = (film - film.min()) / (film.max() - film.min())
    if source == "8-bit full range":
        film = np.round(film * 255) / 255
    elif source == "8-bit 40..200":
        film = np.round(40 + film * 160) / 255
    shown = rs.blind_pixels(film.astype(np.float32), seed=(1, 2))
    assert shown.dtype == np.uint8 and shown.shape == film.shape
    assert shown.min() == 0 and shown.max() == rs.SHOWN_MAX
    # no comb of empty levels: every grey level is used
    assert np.count_nonzero(np.bincount(shown.ravel(), minlength=256)) == 256
    # the picture is the min-max stretched film to within a grey level or so
    ideal = (film - film.min()) / (film.max() - film.min()) * 255
    err = np.abs(shown - ideal)
    assert err.mean() < 0.6 and err.max() <= 1.5 + 1e-6
    # the same seed gives the same pixels (a resumed study shows the item unchanged)
    assert np.array_equal(shown, rs.blind_pixels(film.astype(np.float32), seed=(1, 2)))


def test_blind_pixels_flat_image():
    assert not rs.blind_pixels(np.full((4, 5), 0.3, np.float32)).any()
