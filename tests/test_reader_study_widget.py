"""A whole blinded reader study driven by keyboard, with a crash and a resume in the middle."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import tifffile
from PIL import Image
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLabel, QLineEdit, QPlainTextEdit, QPushButton

from napari_xray_synth.plugin.widgets.reader_study import LAYER_NAME, ReaderStudyWidget

pytestmark = pytest.mark.qt

# value in the image -> (file, truth, planned call, planned realism); suspicion in the comment
PLAN = {
    0.1: ("real/a.tif", "real", "real", 4),  # 2
    0.2: ("real/nodule/b.tif", "real", "synthetic", 2),  # 9
    0.3: ("real/e.tif", "real", "real", 2),  # 4
    0.4: ("synthetic/c.tif", "synthetic", "synthetic", 1),  # 10
    0.5: ("synthetic/nodule/d.tif", "synthetic", "real", 2),  # 4
}
# worked by hand: synthetic suspicions {10, 4} against real {2, 9, 4}:
# 10 beats all three (3), 4 beats 2, ties 4, loses to 9 (1.5) -> AUC 4.5 / 6 = 0.75;
# right calls: a, e, c -> accuracy 3 / 5
EXPECTED_AUC = 0.75
EXPECTED_ACCURACY = 0.6
KEY = {"real": Qt.Key.Key_R, "synthetic": Qt.Key.Key_S}
DIGIT = {n: getattr(Qt.Key, f"Key_{n}") for n in range(1, 6)}


@pytest.fixture
def study_folder(tmp_path):
    root = tmp_path / "study"
    for value, (rel, *_rest) in PLAN.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        # a bright row that tells the test (not the reader) which image is shown
        img = np.full((24, 20), value, np.float32)
        img[round(value * 10)] = 1.0
        tifffile.imwrite(path, img)
    return root


def _shown_value(viewer):
    layers = [lay for lay in viewer.layers if lay.name == LAYER_NAME]
    assert len(layers) == 1
    data = np.asarray(layers[0].data)
    assert data.dtype == np.uint8 and data.min() <= 1 and data.max() >= 254  # 0..255, dithered
    return int(np.argmax(data[:, 0])) / 10


def _ui_text(widget, viewer):
    texts = [lay.name for lay in viewer.layers]
    for cls, get in ((QLabel, "text"), (QPushButton, "text"), (QPlainTextEdit, "toPlainText")):
        texts += [getattr(w, get)() for w in widget.findChildren(cls)]
    texts += [w.text() for w in widget.findChildren(QLineEdit) if w is not widget.folder]
    texts.append(viewer.status if isinstance(viewer.status, str) else "")
    texts.append(viewer.title)
    return "\n".join(texts)


def _open(make_viewer_widget, viewer, folder):
    w = ReaderStudyWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.folder.setText(str(folder))
    w.reader.setText("reader-1")
    w.seed.setValue(11)
    w.start()
    return w


def _answer(qtbot, viewer, widget, target):
    value = _shown_value(viewer)
    rel, _truth, call, realism = PLAN[value]
    # the call on the canvas, the score in the widget, and once the other way round
    if target == "canvas":
        canvas = viewer.window._qt_viewer.canvas.native
        qtbot.keyClick(canvas, KEY[call])
        qtbot.keyClick(widget, DIGIT[realism])
    else:
        canvas = viewer.window._qt_viewer.canvas.native
        qtbot.keyClick(widget, DIGIT[realism])
        qtbot.keyClick(canvas, KEY[call])
    return rel


def test_keyboard_study_with_crash_and_resume(make_napari_viewer, qtbot, study_folder):
    viewer = make_napari_viewer()
    w = _open(None, viewer, study_folder)
    assert w.progress.text() == "0 / 5"
    assert {"R", "S", "1", "5"} <= {str(k) for k in viewer.keymap}
    names = [rel.split("/")[-1] for rel, *_ in PLAN.values()]

    seen = [_answer(qtbot, viewer, w, "canvas")]
    assert w.progress.text() == "1 / 5"
    # a call alone records nothing; changing it before the score is allowed
    value = _shown_value(viewer)
    rel, _t, call, realism = PLAN[value]
    other = "real" if call == "synthetic" else "synthetic"
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, KEY[other])
    assert w.progress.text() == "1 / 5" and other in w.choice.text()
    qtbot.keyClick(w, KEY[call])
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, DIGIT[realism])
    seen.append(rel)
    assert w.progress.text() == "2 / 5"
    # nothing on screen names a file or its folder
    ui = _ui_text(w, viewer)
    assert not any(n in ui for n in names) and "synthetic/" not in ui and "real/" not in ui
    assert [lay.metadata for lay in viewer.layers if lay.name == LAYER_NAME] == [{}]

    # "crash": the widget goes away without finishing; the answers are already on disk
    csv_path = w.answers_path
    with open(csv_path, newline="") as fh:
        assert [r["item"] for r in csv.DictReader(fh)] == seen
    w.close()
    viewer.window.remove_dock_widget(w)
    assert "R" not in {str(k) for k in viewer.keymap}  # closing gives the keys back

    w2 = _open(None, viewer, study_folder)
    assert w2.progress.text() == "2 / 5"
    for target in ("widget", "canvas", "widget"):
        seen.append(_answer(qtbot, viewer, w2, target))
    assert w2.progress.text() == "5 / 5"
    assert sorted(seen) == sorted(rel for rel, *_ in PLAN.values())
    assert not [lay for lay in viewer.layers if lay.name == LAYER_NAME]

    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["item"] for r in rows] == seen
    by_item = {rel: (truth, call, realism) for rel, truth, call, realism in PLAN.values()}
    for r in rows:
        truth, call, realism = by_item[r["item"]]
        assert (r["reader"], r["truth"], r["answer"], int(r["realism"])) == (
            "reader-1",
            truth,
            call,
            realism,
        )
    res = w2.study.results()
    assert res.auc == pytest.approx(EXPECTED_AUC)
    assert res.accuracy == pytest.approx(EXPECTED_ACCURACY)
    assert "AUC 0.75" in w2.summary.toPlainText()
    assert "accuracy 0.60" in w2.summary.toPlainText()

    # the keys are given back: R no longer answers anything
    assert "R" not in {str(k) for k in viewer.keymap}


def test_empty_folder_is_notified(make_napari_viewer, tmp_path, monkeypatch):
    viewer = make_napari_viewer()
    shown = []
    monkeypatch.setattr("napari_xray_synth.plugin.workers.show_error", shown.append)
    w = ReaderStudyWidget(viewer)
    w.folder.setText(str(tmp_path))
    w.reader.setText("x")
    w.start()
    assert len(shown) == 1 and "no study images" in shown[0]
    assert w.study is None and w.start_button.isEnabled()


def _film(rng, shape=(48, 256)):
    """A ramp with some texture, in [0, 1]: every grey level holds many pixels."""
    img = np.tile(np.linspace(0, 1, shape[1]), (shape[0], 1))
    return np.clip(img + 0.02 * rng.standard_normal(shape), 0, 1)


def _layer_tells(layer):
    """Everything about the shown layer that could differ between a real and a synthetic film."""
    data = np.asarray(layer.data)
    on_255_grid = bool(np.allclose(data * 255.0, np.round(data * 255.0), rtol=0, atol=1e-4))
    counts = np.bincount(
        np.round(data.astype(np.float64) * (255 / max(data.max(), 1e-12))).astype(np.int64).ravel(),
        minlength=256,
    )
    return {
        "name": layer.name,
        "dtype": str(data.dtype),
        "contrast_limits": tuple(float(v) for v in layer.contrast_limits),
        "contrast_limits_range": tuple(float(v) for v in layer.contrast_limits_range),
        "metadata": dict(layer.metadata),
        "scale": tuple(float(v) for v in layer.scale),
        "units": tuple(str(u) for u in layer.units),
        "values x 255 all integers": on_255_grid,
        # a stretched 8-bit film leaves empty levels (a comb in the contrast histogram)
        "empty levels": int((counts[1:-1] == 0).sum()) > 5,
    }


def test_8bit_real_and_float_synthetic_films_give_no_tell(make_napari_viewer, tmp_path):
    rng = np.random.default_rng(3)
    root = tmp_path / "study"
    for sub in ("real", "synthetic"):
        (root / sub).mkdir(parents=True)
    # two 8-bit real films: one using 0..255, one using 40..200 (stretched, a comb of levels)
    full = np.round(_film(rng) * 255).astype(np.uint8)
    full[0, 0], full[0, 1] = 0, 255
    Image.fromarray(full).save(root / "real" / "full.png")
    narrow = np.round(40 + _film(rng) * 160).astype(np.uint8)
    Image.fromarray(narrow).save(root / "real" / "narrow.png")
    synthetic = _film(rng).astype(np.float32)
    tifffile.imwrite(root / "synthetic" / "s.tif", synthetic)

    viewer = make_napari_viewer()
    w = _open(None, viewer, root)
    tells = []
    while not w.study.finished:
        layer = viewer.layers[LAYER_NAME]
        tells.append((w.study.current().truth, _layer_tells(layer)))
        w.give("answer", "real")
        w.give("realism", 3)
    assert sorted(t for t, _ in tells) == ["real", "real", "synthetic"]
    reference = tells[0][1]
    for truth, tell in tells:
        assert tell == reference, truth
    assert reference["contrast_limits"] == (0.0, 255.0) and reference["metadata"] == {}
    # the plugin's other layers are in mm: a study layer in pixels beside them made napari
    # drop the units of all and warn on every layer added after
    assert reference["scale"] == (0.35, 0.35) and reference["units"] == ("millimeter",) * 2


def test_other_layers_are_hidden_while_a_study_runs(make_napari_viewer, study_folder, rng):
    """A larger film open beneath would show around the study image: hidden during the study,
    shown again when it ends (and when the widget closes half-way), as the user left them."""
    viewer = make_napari_viewer()
    film = viewer.add_image(rng.random((200, 240)), name="hip film", scale=(0.35, 0.35))
    points = viewer.add_points([[10, 10]], name="marks", scale=(0.35, 0.35))
    off = viewer.add_image(rng.random((20, 20)), name="already hidden", visible=False)
    w = _open(None, viewer, study_folder)
    (study_layer,) = [lay for lay in viewer.layers if lay.name == LAYER_NAME]
    assert study_layer.visible
    assert not film.visible and not points.visible and not off.visible
    for _ in PLAN:
        w.give("answer", "real")
        w.give("realism", 3)
    assert w.study.finished and not [lay for lay in viewer.layers if lay.name == LAYER_NAME]
    assert film.visible and points.visible and not off.visible

    # a study closed half-way gives the layers back too
    w2 = ReaderStudyWidget(viewer)
    w2.folder.setText(str(study_folder))
    w2.reader.setText("reader-2")
    w2.start()
    assert not film.visible
    w2.close()
    assert film.visible and points.visible and not off.visible
