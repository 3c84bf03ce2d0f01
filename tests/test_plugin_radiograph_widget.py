"""The Radiograph dock widget: header shown, presets set contrast limits, invert toggles."""

from __future__ import annotations

import numpy as np
import pytest

from dicom_factory import IDENTIFIERS, make_ds, ramp, save
from napari_xray_synth.core.presets import BONE, LUNG
from napari_xray_synth.plugin.widgets.radiograph import RadiographWidget

pytestmark = pytest.mark.qt


@pytest.fixture
def dcm(tmp_path):
    ds = make_ds(
        ramp((40, 50), 0, 4095),
        photometric="MONOCHROME1",
        bits_stored=12,
        windows=[(1024, 801), (3000, 500)],
        function="SIGMOID",
        explanations=["SOFT", "DENSE"],
        imager_spacing=[0.1, 0.1],
    )
    return save(ds, tmp_path / "knee.dcm")


def _labels(widget):
    return [widget.preset_combo.itemText(i) for i in range(widget.preset_combo.count())]


def test_widget_opens_and_shows_header(make_napari_viewer, dcm):
    viewer = make_napari_viewer()
    widget = RadiographWidget(viewer)
    assert not widget.preset_combo.isEnabled()
    widget.open_files([dcm])
    assert len(viewer.layers) == 1
    text = widget.header_view.toPlainText()
    assert "MONOCHROME1" in text and "ImagerPixelSpacing" in text and "knee" in text
    for value in IDENTIFIERS.values():
        assert value not in text
    assert widget.header_view.isReadOnly()
    assert _labels(widget) == [
        "SOFT (file)",
        "DENSE (file)",
        "full range",
        "lung",
        "soft tissue",
        "bone",
    ]
    assert "nearest linear" in widget.preset_combo.itemData(0, 3)  # ToolTipRole


def test_preset_sets_contrast_limits(make_napari_viewer, dcm):
    viewer = make_napari_viewer()
    widget = RadiographWidget(viewer)
    widget.open_files([dcm])
    layer = viewer.layers[0]
    widget.preset_combo.setCurrentIndex(_labels(widget).index("bone"))
    assert tuple(layer.contrast_limits) == pytest.approx(BONE.limits)
    widget.preset_combo.setCurrentIndex(_labels(widget).index("lung"))
    assert tuple(layer.contrast_limits) == pytest.approx(LUNG.limits)
    widget.preset_combo.setCurrentIndex(1)
    dense = layer.metadata["xray_synth"]["windows"][1]["limits"]
    assert tuple(layer.contrast_limits) == pytest.approx(tuple(dense))


def test_invert_toggles_colormap(make_napari_viewer, dcm):
    viewer = make_napari_viewer()
    widget = RadiographWidget(viewer)
    widget.open_files([dcm])
    layer = viewer.layers[0]
    assert layer.colormap.name == "gray"
    widget.invert_check.setChecked(True)
    assert layer.colormap.name == "gray_r"
    widget.invert_check.setChecked(False)
    assert layer.colormap.name == "gray"


def test_bad_file_leaves_no_layer(make_napari_viewer, tmp_path):
    bad = tmp_path / "empty.dcm"
    bad.write_bytes(b"")
    viewer = make_napari_viewer()
    widget = RadiographWidget(viewer)
    widget.open_files([bad])
    assert len(viewer.layers) == 0
    assert widget.header_view.toPlainText() == ""


def test_open_button_uses_the_dialog_and_the_reader(make_napari_viewer, dcm, monkeypatch):
    from napari_xray_synth.plugin.widgets import radiograph

    monkeypatch.setattr(
        radiograph.QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(dcm)], "")
    )
    viewer = make_napari_viewer()
    widget = RadiographWidget(viewer)
    widget.open_button.click()
    assert [layer.name for layer in viewer.layers] == ["knee"]
    assert tuple(viewer.layers[0].scale) == pytest.approx((0.1, 0.1))


def test_a_png_gets_a_pixel_size_that_synthesis_reads(make_napari_viewer):
    from napari_xray_synth.plugin.layers import radiograph_from_layer

    viewer = make_napari_viewer()
    widget = RadiographWidget(viewer)
    layer = viewer.add_image(np.zeros((40, 30), np.float32), name="png film")
    viewer.layers.selection.active = layer
    assert widget.pixel_size(layer) is None and widget.spacing_button.isEnabled()
    assert radiograph_from_layer(layer).spacing is None
    widget.spacing_spin.setValue(0.143)
    widget.spacing_button.click()
    assert tuple(layer.scale) == (0.143, 0.143)
    assert [str(u) for u in layer.units] == ["millimeter", "millimeter"]
    rg = radiograph_from_layer(layer)
    assert rg.spacing == (0.143, 0.143) and rg.spacing_source == "set in napari"
    assert "0.143" in widget.header_view.toPlainText()


def test_header_labels_an_unknown_spacing():
    """A film without a pixel size: the line says what it is about ("spacing: unknown ...")."""
    from napari_xray_synth.plugin.widgets.radiograph import header_text

    meta = {"spacing_source": "unknown: no resolution in the file", "spacing_assumed_mm": 0.35}
    lines = header_text(meta, "film").splitlines()
    assert "spacing: unknown: no resolution in the file" in lines
    assert "shown at an assumed 0.35 mm per pixel: set the pixel size" in lines
    assert (
        "spacing: 0.2 x 0.2 mm (file)"
        in header_text({"spacing_mm": [0.2, 0.2], "spacing_source": "file"}, "dcm").splitlines()
    )
