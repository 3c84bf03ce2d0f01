"""The reader contribution through napari: scale, contrast limits, name, metadata, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from dicom_factory import IDENTIFIERS, make_ds, ramp, save
from napari_xray_synth.plugin.reader import get_reader

PLUGIN = "napari-xray-synth"


@pytest.fixture
def dcm(tmp_path):
    ds = make_ds(
        ramp((40, 50), 0, 4095),
        bits_stored=12,
        windows=[(1024, 801), (2048, 4096)],
        pixel_spacing=[0.15, 0.2],
    )
    return save(ds, tmp_path / "chest_pa.dcm")


def test_get_reader_answers_cheaply(dcm, tmp_path):
    assert callable(get_reader(str(dcm)))
    assert callable(get_reader([str(dcm), str(dcm)]))
    (tmp_path / "notes.txt").write_text("hello")
    assert get_reader(str(tmp_path / "notes.txt")) is None
    assert get_reader([str(dcm), str(tmp_path / "notes.txt")]) is None
    assert get_reader(str(tmp_path)) is None


@pytest.mark.qt
def test_open_dicom_in_napari(make_napari_viewer, dcm):
    viewer = make_napari_viewer()
    layers = viewer.open(str(dcm), plugin=PLUGIN)
    assert len(layers) == 1
    layer = layers[0]
    assert layer.name == "chest_pa"
    assert tuple(layer.scale) == pytest.approx((0.15, 0.2))
    lo, hi = layer.contrast_limits
    # DICOM LINEAR C 1024 W 801: ramp over 1023.5 +- 400 in stored units, /4095
    assert lo == pytest.approx(623.5 / 4095, abs=1e-6) and hi == pytest.approx(1423.5 / 4095)
    meta = layer.metadata["xray_synth"]
    text = json.dumps(meta)
    for key, value in IDENTIFIERS.items():
        assert key not in text and value not in text
    assert meta["header"]["modality"] == "DX"
    assert meta["provenance"][0]["source"] == str(dcm)
    assert [w["name"] for w in meta["windows"]] == ["WINDOW1", "WINDOW2"]


@pytest.mark.qt
def test_stack_is_one_3d_layer(make_napari_viewer, tmp_path):
    pages = np.stack([ramp((16, 20), 0, 255, np.uint8)] * 3)
    path = tmp_path / "pages.tif"
    tifffile.imwrite(path, pages, photometric="minisblack")
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin=PLUGIN)
    assert len(layers) == 1 and layers[0].data.shape == (3, 16, 20)
    assert layers[0].ndim == 3


@pytest.mark.qt
def test_bad_file_is_a_notification_not_a_traceback(make_napari_viewer, tmp_path):
    from napari.utils.notifications import notification_manager

    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"\x01\x02" * 50)
    viewer = make_napari_viewer()
    seen = []
    notification_manager.notification_ready.connect(lambda n: seen.append(str(n.message)))
    layers = viewer.open(str(bad), plugin=PLUGIN)
    assert layers == [] and len(viewer.layers) == 0
    assert any(str(bad) in m for m in seen), seen


@pytest.mark.qt
def test_extensionless_acr_nema_opens(make_napari_viewer, tmp_path):
    from dicom_factory import save_acr_nema

    ds = make_ds(ramp((24, 30), 0, 1023), photometric="MONOCHROME1", bits_stored=10)
    path = save_acr_nema(ds, tmp_path / "IMG0001")
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin=PLUGIN)
    assert [layer.name for layer in layers] == ["IMG0001"]
    assert layers[0].metadata["xray_synth"]["header"]["format"].startswith("ACR-NEMA")
    assert tuple(layers[0].contrast_limits) == pytest.approx((0.0, 1.0))  # no window: full range


def _process(viewer, qtbot) -> None:
    """Let napari draw: it checks the layers' units at the next draw."""
    viewer.window._qt_viewer.canvas._scene_canvas.update()
    qtbot.wait(50)


@pytest.mark.qt
def test_a_film_without_pixel_size_beside_films_in_mm(
    make_napari_viewer, dcm, tmp_path, rng, monkeypatch, qtbot
):
    """One notice from the plugin, not napari's "Inconsistent units" on every layer added: the
    film is shown in mm at the assumed size, its spacing still unknown to exports."""
    import imageio.v3 as iio
    from napari.utils.notifications import notification_manager

    from napari_xray_synth.plugin import reader, workers
    from napari_xray_synth.plugin.layers import layer_spacing, radiograph_from_layer
    from napari_xray_synth.plugin.widgets.compare import CompareWidget
    from napari_xray_synth.plugin.widgets.export import ExportWidget
    from napari_xray_synth.plugin.widgets.radiograph import RadiographWidget
    from napari_xray_synth.plugin.widgets.synthesize import SynthesizeWidget

    monkeypatch.setenv(workers.SYNC_ENV, "1")
    monkeypatch.setattr(reader, "_told_assumed_spacing", False, raising=False)
    for name in ("film.png", "other.png"):
        iio.imwrite(tmp_path / name, (rng.random((40, 50)) * 255).astype(np.uint8))
    viewer = make_napari_viewer()
    seen: list[str] = []
    notification_manager.notification_ready.connect(lambda n: seen.append(str(n.message)))
    viewer.open(str(dcm), plugin=PLUGIN)
    (film,) = viewer.open(str(tmp_path / "film.png"), plugin=PLUGIN)
    _process(viewer, qtbot)
    # the layers a user makes next, each on the film's grid
    export = ExportWidget(viewer)
    export.paint_on.setCurrentText("film")
    lesions = export.annotate()
    synth = SynthesizeWidget(viewer)
    synth.image_combo.setCurrentText("film")
    synth.add_points_layer()
    compare = CompareWidget(viewer)
    compare.layer_a.value, compare.layer_b.value = film, viewer.layers["chest_pa"]
    compare.refresh()
    viewer.open(str(tmp_path / "other.png"), plugin=PLUGIN)
    _process(viewer, qtbot)

    assert viewer.layers.extent.units is not None  # napari's condition for its warning
    assert not [m for m in seen if "Inconsistent units" in m], seen
    told = [m for m in seen if "no pixel size" in m]
    assert len(told) == 1 and "'film'" in told[0] and "0.35 mm" in told[0]
    from napari_xray_synth.core.radiograph import ASSUMED_SPACING_MM

    assert tuple(film.scale) == (ASSUMED_SPACING_MM, ASSUMED_SPACING_MM)
    assert str(film.units[0]) == "millimeter"
    # shown at the assumed size, but never taken as the film's spacing
    assert radiograph_from_layer(film).spacing is None
    assert layer_spacing(lesions)[0] is None and layer_spacing(compare.overlay)[0] is None
    header = RadiographWidget(viewer)
    viewer.layers.selection.active = film
    assert "assumed 0.35 mm" in header.header_view.toPlainText()
    header.set_pixel_size(0.143)  # the user sets the true size: the mark goes
    assert radiograph_from_layer(film).spacing == (0.143, 0.143)
    assert "assumed" not in header.header_view.toPlainText()
