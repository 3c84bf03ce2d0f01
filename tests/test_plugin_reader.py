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
