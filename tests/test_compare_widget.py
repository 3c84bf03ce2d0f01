"""The Compare dock widget in a real napari viewer."""

from __future__ import annotations

import numpy as np
import pytest

from napari_xray_synth.core import metrics
from napari_xray_synth.plugin.widgets.compare import OVERLAY_NAME, CompareWidget, viewer_grid

pytestmark = pytest.mark.qt


@pytest.fixture
def images(rng):
    b = rng.random((64, 72)).astype(np.float32)
    a = np.clip(b + 0.1 * rng.standard_normal(b.shape), 0, 1).astype(np.float32)
    mask = np.zeros(b.shape, np.uint8)
    mask[20:40, 30:50] = 1
    return a, b, mask


def _overlay(viewer):
    found = [lay for lay in viewer.layers if lay.name.startswith(OVERLAY_NAME)]
    assert len(found) == 1
    return found[0]


def test_values_overlay_and_updates(make_napari_viewer, images, monkeypatch):
    monkeypatch.setenv("XRAY_SYNTH_SYNC", "1")
    a, b, mask = images
    viewer = make_napari_viewer()
    lb = viewer.add_image(b, name="source", scale=(0.2, 0.2))
    la = viewer.add_image(a, name="variant", scale=(0.2, 0.2))
    lesion = viewer.add_labels(mask, name="lesion", scale=(0.2, 0.2))
    w = CompareWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.layer_a.value, w.layer_b.value, w.lesion.value = la, lb, lesion
    res = w.refresh()
    assert res is not None
    assert res["ssim"] == pytest.approx(metrics.ssim(a, b), abs=1e-9)
    assert res["psnr"] == pytest.approx(metrics.psnr(a, b), abs=1e-5)  # float32 differences
    assert res["ssim_inside"] == pytest.approx(metrics.ssim(a, b, mask=mask), abs=1e-6)
    text = w.values.value
    assert f"{res['ssim']:.4f}" in text and "inside lesion" in text and "outside lesion" in text

    ov = _overlay(viewer)
    assert ov.colormap.name == "inferno" and ov.blending == "additive"
    assert tuple(ov.scale) == pytest.approx((0.2, 0.2))
    np.testing.assert_allclose(ov.data, 1.0 - metrics.ssim_map(a, b), atol=1e-6)

    # opacity slider drives the overlay, and the map kind switches to |A - B| in the same layer
    w.opacity.value = 0.25
    assert ov.opacity == pytest.approx(0.25)
    w.map_kind.value = "|A - B|"
    w.refresh()
    assert _overlay(viewer) is ov
    np.testing.assert_allclose(ov.data, np.abs(a - b), atol=1e-6)

    # editing a layer's data schedules a (debounced) update of the figures and the overlay
    w.map_kind.value = "1 - SSIM"
    w.refresh()
    before = w.last_result["ssim"]
    la.data = b.copy()
    assert w._timer.isActive()
    w._timer.timeout.emit()
    assert w.last_result["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert w.last_result["ssim"] != pytest.approx(before)
    assert float(np.abs(_overlay(viewer).data).max()) < 1e-5


def test_shape_mismatch_is_notified_not_raised(make_napari_viewer, images, monkeypatch):
    a, b, _ = images
    viewer = make_napari_viewer()
    lb = viewer.add_image(b, name="source")
    la = viewer.add_image(a[:50], name="cropped")
    shown = []
    monkeypatch.setattr(
        "napari_xray_synth.plugin.workers.show_error", lambda msg: shown.append(msg)
    )
    w = CompareWidget(viewer)
    w.layer_a.value, w.layer_b.value = la, lb
    assert w.refresh() is None
    assert len(shown) == 1 and "50 x 72" in shown[0] and "64 x 72" in shown[0]
    assert "cannot compare" in w.values.value
    assert not [lay for lay in viewer.layers if lay.name.startswith(OVERLAY_NAME)]


def test_different_scales_warn(make_napari_viewer, images, monkeypatch):
    a, b, _ = images
    viewer = make_napari_viewer()
    lb = viewer.add_image(b, name="source", scale=(0.1, 0.1))
    la = viewer.add_image(a, name="variant", scale=(0.2, 0.2))
    warned = []
    monkeypatch.setattr(
        "napari_xray_synth.plugin.widgets.compare.show_warning", lambda msg: warned.append(msg)
    )
    w = CompareWidget(viewer)
    w.layer_a.value, w.layer_b.value = la, lb
    assert w.refresh() is not None
    assert len(warned) == 1 and "different scales" in warned[0]
    assert tuple(_overlay(viewer).scale) == pytest.approx((0.2, 0.2))


def test_side_by_side_toggles_grid(make_napari_viewer, images):
    a, b, _ = images
    viewer = make_napari_viewer()
    lb = viewer.add_image(b, name="real")
    la = viewer.add_image(a, name="synthetic")
    w = CompareWidget(viewer)
    w.layer_a.value, w.layer_b.value = la, lb
    w.refresh()
    w.side_by_side.value = True
    assert viewer_grid(viewer).enabled and not _overlay(viewer).visible
    w.side_by_side.value = False
    assert not viewer_grid(viewer).enabled and _overlay(viewer).visible


def test_debounced_update_runs_in_a_worker(make_napari_viewer, images, qtbot, monkeypatch):
    monkeypatch.delenv("XRAY_SYNTH_SYNC", raising=False)
    a, b, mask = images
    viewer = make_napari_viewer()
    lb = viewer.add_image(b, name="source")
    la = viewer.add_image(a, name="variant")
    lesion = viewer.add_labels(np.zeros_like(mask), name="lesion")
    w = CompareWidget(viewer)
    w.layer_a.value, w.layer_b.value, w.lesion.value = la, lb, lesion
    w.refresh()
    assert w.last_result["ssim_inside"] is None  # nothing painted yet
    # painting in place, then the data event, as the brush does
    lesion.data[mask > 0] = 1
    lesion.events.data(value=lesion.data)
    qtbot.waitUntil(lambda: w.last_result.get("ssim_inside") is not None, timeout=10000)
    assert w.last_result["ssim_inside"] == pytest.approx(metrics.ssim(a, b, mask=mask), abs=1e-6)
    assert w.last_result["n_inside"] == int(mask.sum())


def test_the_radiograph_header_follows_the_renamed_overlay(make_napari_viewer, images, monkeypatch):
    """Compare renames its overlay when the map changes: the Radiograph widget, showing the
    overlay, follows the new name and says what the map holds, of which layers."""
    from napari_xray_synth.plugin.widgets.radiograph import RadiographWidget

    monkeypatch.setenv("XRAY_SYNTH_SYNC", "1")
    a, b, _ = images
    viewer = make_napari_viewer()
    lb = viewer.add_image(b, name="source", scale=(0.2, 0.2), units="mm")
    la = viewer.add_image(a, name="variant", scale=(0.2, 0.2), units="mm")
    header = RadiographWidget(viewer)
    w = CompareWidget(viewer)
    w.layer_a.value, w.layer_b.value = la, lb
    w.refresh()
    viewer.layers.selection.active = ov = _overlay(viewer)
    assert header.header_view.toPlainText().splitlines()[0] == ov.name

    w.map_kind.value = "|A - B|"
    w.refresh()
    assert ov.name.endswith("|A - B|")
    text = header.header_view.toPlainText()
    assert text.splitlines()[0] == ov.name and header.layer_label.text() == f"layer: {ov.name}"
    assert "|A - B| of 'variant' against 'source'" in text and "1 - SSIM" not in text
    assert "0.2 x 0.2 mm" in text  # A's grid

    # B changes, the name does not: the header still follows the overlay's metadata
    lc = viewer.add_image(b.copy(), name="other source", scale=(0.2, 0.2), units="mm")
    viewer.layers.selection.active = ov
    w.layer_b.value = lc
    w.refresh()
    assert "against 'other source'" in header.header_view.toPlainText()
    ov.name = "my map"  # a rename in the layer list too
    assert header.header_view.toPlainText().splitlines()[0] == "my map"


def _notifications(monkeypatch) -> list[str]:
    """Every napari notification the widget shows (errors and warnings)."""
    shown: list[str] = []
    monkeypatch.setattr("napari_xray_synth.plugin.workers.show_error", shown.append)
    monkeypatch.setattr("napari_xray_synth.plugin.widgets.compare.show_warning", shown.append)
    return shown


def test_films_of_different_sizes_are_not_compared_unasked(make_napari_viewer, rng, monkeypatch):
    """Opening a 440 x 440 and a 1024 x 1024 film (here 44 and 96) gives no error for a
    comparison nobody asked for: the label says why B stays empty, also after a scale change."""
    monkeypatch.setenv("XRAY_SYNTH_SYNC", "1")
    shown = _notifications(monkeypatch)
    viewer = make_napari_viewer()
    w = CompareWidget(viewer)
    viewer.window.add_dock_widget(w)
    small = viewer.add_image(rng.random((44, 44)), name="small", scale=(0.35, 0.35))
    big = viewer.add_image(rng.random((96, 96)), name="big", scale=(0.35, 0.35))
    w._timer.timeout.emit()
    assert w.layer_a.value is small and w.layer_b.value is None
    assert "no other image layer is 44 x 44 like 'small'" in w.values.value
    big.scale = (0.41, 0.41)  # "Set pixel size" on one of them
    small.scale = (0.2, 0.2)
    w._timer.timeout.emit()
    # the user picks the mismatched pair: the label says why, no pop-up while it updates live
    w.layer_b.value = big
    w._timer.timeout.emit()
    assert "cannot compare" in w.values.value and "44 x 44" in w.values.value
    assert shown == []
    assert not [lay for lay in viewer.layers if lay.name.startswith(OVERLAY_NAME)]
    # an explicit refresh (a script's "compare now") still notifies
    assert w.refresh() is None
    assert len(shown) == 1 and "96 x 96" in shown[0]


def test_the_automatic_pair_is_of_one_size(make_napari_viewer, rng, monkeypatch):
    """With films of several sizes open, A and B are a variant and its source (one size)."""
    monkeypatch.setenv("XRAY_SYNTH_SYNC", "1")
    shown = _notifications(monkeypatch)
    viewer = make_napari_viewer()
    source = viewer.add_image(rng.random((64, 72)), name="source")
    v1 = viewer.add_image(
        rng.random((64, 72)), name="v1", metadata={"xray_synth": {"synthetic": True}}
    )
    v2 = viewer.add_image(
        rng.random((64, 72)), name="v2", metadata={"xray_synth": {"synthetic": True}}
    )
    viewer.add_image(rng.random((30, 30)), name="other film")  # top-most, no partner
    viewer.add_image(rng.random((8, 30, 30)), name="a stack")
    w = CompareWidget(viewer)
    assert (w.layer_a.value, w.layer_b.value) == (v2, source)
    w._timer.timeout.emit()
    assert w.last_result is not None and shown == []
    # the user's own A is kept; B follows it when emptied
    w.layer_a.value = v1
    viewer.layers.remove(source)
    assert w.layer_a.value is v1 and w.layer_b.value is v2
