"""The Denoise & enhance widget: a run through a worker, a live event loop, cancel, bad layers."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from napari_xray_synth.core.models import save_model
from napari_xray_synth.core.nn.denoiser import ARCHITECTURE, build_denoiser

pytestmark = pytest.mark.qt

CFG = {"c1": 8, "c2": 16, "depth": 2}


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    """A tiny 'denoiser' model found first through $XRAY_SYNTH_MODELS."""
    torch.manual_seed(0)
    save_model(build_denoiser(**CFG), tmp_path / "denoiser", ARCHITECTURE, CFG, {"seed": 0})
    monkeypatch.setenv("XRAY_SYNTH_MODELS", str(tmp_path))
    return tmp_path


def notices(monkeypatch, kind: str) -> list[str]:
    """The napari notifications of ``kind`` ("error", "warning") the widget shows, in order."""
    shown: list[str] = []
    monkeypatch.setattr(f"napari_xray_synth.plugin.workers.show_{kind}", shown.append)
    return shown


@pytest.fixture
def widget(make_napari_viewer, models_dir):
    from napari_xray_synth.plugin.widgets.denoise import DenoiseWidget

    viewer = make_napari_viewer()
    w = DenoiseWidget(viewer)
    return viewer, w


def noisy(shape, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    _, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.clip(0.5 + 0.2 * np.sin(x / 17) + rng.normal(0, 0.05, shape), 0, 1).astype(np.float32)


def test_sync_run_adds_a_layer(widget, monkeypatch):
    monkeypatch.setenv("XRAY_SYNTH_SYNC", "1")
    viewer, w = widget
    data = noisy((96, 80))
    layer = viewer.add_image(data.copy(), name="chest", scale=(0.2, 0.3), units="mm")
    w.layer_combo.setCurrentText("chest")
    w.method_combo.setCurrentText("model")
    w.clahe_spin.setValue(0.01)
    w.gamma_spin.setValue(0.9)
    w.run()
    assert [lyr.name for lyr in viewer.layers] == ["chest", "chest denoised (model)"]
    out = viewer.layers["chest denoised (model)"]
    assert tuple(out.scale) == (0.2, 0.3) and out.data.shape == (96, 80)
    assert tuple(out.units) == tuple(layer.units)  # mm, not the default pixel
    steps = out.metadata["xray_synth"]["provenance"]
    assert [s["operation"] for s in steps][-2:] == ["denoise", "enhance"]
    assert steps[-2]["model_sha256"]
    np.testing.assert_array_equal(layer.data, data)  # input untouched


def test_device_combo_lists_detected_devices(widget):
    from napari_xray_synth.core.device import available_devices, pick_device

    _, w = widget
    items = [w.device_combo.itemText(i) for i in range(w.device_combo.count())]
    assert items == available_devices() and w.device_combo.currentText() == pick_device().type


@pytest.mark.parametrize("kind", ["labels", "points", "rgb"])
def test_bad_layers_notify_and_add_nothing(widget, monkeypatch, kind):
    monkeypatch.setenv("XRAY_SYNTH_SYNC", "1")
    messages = notices(monkeypatch, "error")
    viewer, w = widget
    if kind == "labels":
        viewer.add_labels(np.zeros((20, 20), np.uint8), name="bad")
    elif kind == "points":
        viewer.add_points(np.zeros((3, 2)), name="bad")
    else:
        viewer.add_image(np.zeros((20, 20, 3), np.uint8), rgb=True, name="bad")
    w.layer_combo.setCurrentText("bad")
    assert w.run() is None
    assert len(viewer.layers) == 1
    assert messages and "'bad'" in messages[0]


def _heartbeat(qtbot):
    from qtpy.QtCore import QTimer

    beats: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    timer.start()
    return timer, beats


def test_async_run_keeps_event_loop_alive(widget, qtbot):
    viewer, w = widget
    viewer.add_image(noisy((512, 512)), name="big")
    w.layer_combo.setCurrentText("big")
    w.tile_spin.setValue(64)
    timer, beats = _heartbeat(qtbot)
    worker = w.run()
    assert worker is not None
    returned: list[float] = []
    worker.returned.connect(lambda _r: returned.append(time.perf_counter()))
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        pass
    qtbot.waitUntil(lambda: len(viewer.layers) == 2, timeout=5000)
    timer.stop()
    # the heartbeat while the denoise ran (adding the finished layer is napari's own work)
    gaps = np.diff([b for b in beats if b <= returned[0]])
    assert len(gaps) > 5
    assert gaps.max() < 0.2, f"the event loop stalled {gaps.max() * 1000:.0f} ms"
    assert viewer.layers[-1].name == "big denoised (model)"


def test_cancel_stops_quickly_and_adds_no_layer(widget, qtbot):
    viewer, w = widget
    viewer.add_image(noisy((1024, 1024)), name="huge")
    w.layer_combo.setCurrentText("huge")
    w.tile_spin.setValue(32)  # thousands of tiny tiles: a slow run to cancel
    worker = w.run()
    assert worker is not None
    ticks: list[float] = []
    worker.started.connect(lambda: ticks.append(time.perf_counter()))
    qtbot.wait(500)
    assert worker.is_running  # still working: there is something to cancel
    # listen before cancelling: a worker that stops within microseconds must not be missed
    with qtbot.waitSignal(worker.finished, timeout=5000):
        t0 = time.perf_counter()
        w.cancel_button.click()
    stopped = time.perf_counter() - t0
    assert stopped < 1.0, f"cancel took {stopped:.2f} s"
    qtbot.wait(100)
    assert [lyr.name for lyr in viewer.layers] == ["huge"]
    assert w.run_button.isEnabled()


def test_missing_model_is_a_notification(widget, monkeypatch, tmp_path):
    monkeypatch.setenv("XRAY_SYNTH_SYNC", "1")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr("napari_xray_synth.core.models.models_dirs", lambda: [empty])
    messages = notices(monkeypatch, "error")
    viewer, w = widget
    viewer.add_image(noisy((32, 32)), name="img")
    w.layer_combo.setCurrentText("img")
    w.run()
    assert len(viewer.layers) == 1
    assert messages and "xray-synth train denoiser" in messages[0]


def test_strength_box_follows_the_methods_range(widget):
    from napari_xray_synth.core.denoise import STRENGTH_RANGES

    _, w = widget
    for method in ("model", "gaussian", "median", "nl_means", "tv"):
        w.method_combo.setCurrentText(method)
        r = STRENGTH_RANGES[method]
        box = w.strength_spin
        # a filter at 0 changes nothing: the box starts one of its steps above
        lo = r.lo + (10.0 ** -box.decimals() if r.lo_open else 0.0)
        assert (box.minimum(), box.maximum()) == (lo, r.hi), method
        assert box.value() == r.default and r.text() in box.toolTip()
        box.setValue(1e9)  # a box cannot hold more than the core allows
        assert box.value() == r.hi
    w.auto_check.setChecked(False)
    assert w.strength_spin.isEnabled()
    w.method_combo.setCurrentText("none (enhance only)")
    assert not w.strength_spin.isEnabled() and not w.auto_check.isEnabled()


def test_enhance_only_with_no_step_notifies_and_adds_nothing(widget, monkeypatch):
    monkeypatch.setenv("XRAY_SYNTH_SYNC", "1")
    messages = notices(monkeypatch, "warning")
    viewer, w = widget
    viewer.add_image(noisy((32, 32)), name="img")
    w.layer_combo.setCurrentText("img")
    w.method_combo.setCurrentText("none (enhance only)")
    assert w.run() is None
    assert [lyr.name for lyr in viewer.layers] == ["img"]
    assert messages and "no enhancement step was chosen" in messages[0]
    w.gamma_spin.setValue(0.8)  # one step chosen: it runs
    w.run()
    assert [lyr.name for lyr in viewer.layers] == ["img", "img enhanced"]


def test_a_strength_that_changes_nothing_adds_no_copy(widget, monkeypatch):
    monkeypatch.setenv("XRAY_SYNTH_SYNC", "1")
    messages = notices(monkeypatch, "warning")
    viewer, w = widget
    data = noisy((32, 32))
    viewer.add_image(data, name="img")
    w.layer_combo.setCurrentText("img")
    w.method_combo.setCurrentText("gaussian")
    w.auto_check.setChecked(False)
    w.strength_spin.setValue(0.0)  # the box stops above 0: the layer is not the input again
    assert w.strength_spin.value() > 0
    w.strength_spin.setMinimum(0.0)  # and a 0 that gets through is refused as the CLI does
    w.strength_spin.setValue(0.0)
    assert w.run() is None
    assert [lyr.name for lyr in viewer.layers] == ["img"]
    assert messages and "strength 0 would leave the image unchanged for gaussian" in messages[0]


def test_clahe_0_is_off_and_1_is_no_limit(widget):
    from napari_xray_synth.core.enhance import CLAHE_CLIP

    _, w = widget
    assert "0 = off, 1 = no limit" in w.clahe_spin.toolTip()
    assert CLAHE_CLIP.identity == 0.0  # the core's meaning, which the CLI uses too
    w.clahe_spin.setValue(0.0)
    assert w.parameters()["clahe"] is None
    w.clahe_spin.setValue(1.0)
    assert w.parameters()["clahe"] == 1.0
