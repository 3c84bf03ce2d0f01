"""DICOM reading: pixels, Modality LUT, every VOI window against pydicom's own pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from dicom_factory import (
    IDENTIFIERS,
    make_ds,
    ramp,
    reference_display,
    save,
    save_acr_nema,
    save_jpeg_baseline,
)
from napari_xray_synth.core.io import dicom_info, is_supported, read_radiograph, read_stack

SHAPE = (64, 64)
TOL = 1e-5


def _check_all_windows(path, rg):
    assert rg.windows, "the file's windows must be kept"
    for i, w in enumerate(rg.windows):
        ours = rg.display(w)
        ref = reference_display(path, i)
        assert np.abs(ours - ref).max() < TOL, (i, w)


def _no_identifiers(rg):
    text = repr(rg.metadata())
    for value in IDENTIFIERS.values():
        assert value not in text
    for key in IDENTIFIERS:
        assert key not in text


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_linear_windows_match_pydicom(tmp_path, photometric):
    px = ramp(SHAPE, 0, 4095)
    ds = make_ds(
        px,
        photometric=photometric,
        bits_stored=12,
        windows=[(1024, 800), (2048, 4096), (300.5, 1)],
        explanations=["NARROW", "WIDE", "STEP"],
        pixel_spacing=[0.15, 0.2],
    )
    path = save(ds, tmp_path / "lin.dcm")
    rg = read_radiograph(path)
    expected = px / 4095.0
    if photometric == "MONOCHROME1":
        expected = 1.0 - expected
    assert np.abs(rg.image - expected).max() < 1e-6  # linear from the possible range
    assert [w.name for w in rg.windows] == ["NARROW", "WIDE", "STEP"]
    assert rg.default_window.name == "NARROW"
    _check_all_windows(path, rg)
    # default display is the first window
    assert np.abs(rg.display() - reference_display(path, 0)).max() < TOL
    assert rg.spacing == (0.15, 0.2) and rg.spacing_source == "PixelSpacing"
    assert rg.provenance[0].operation == "read" and rg.provenance[0].source == str(path)
    assert rg.header["photometric"] == photometric and rg.header["bits_stored"] == 12
    _no_identifiers(rg)


def test_linear_window_limits_are_the_true_ramp(tmp_path):
    ds = make_ds(ramp(SHAPE, 0, 1023), bits_stored=10, windows=[(512, 101)])
    rg = read_radiograph(save(ds, tmp_path / "w.dcm"))
    lo, hi = rg.windows[0].limits
    # DICOM LINEAR: (c - 0.5) +- (w - 1) / 2 = 461.5 .. 561.5
    assert lo == pytest.approx(461.5 / 1023) and hi == pytest.approx(561.5 / 1023)


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
@pytest.mark.parametrize("function", ["LINEAR_EXACT", "SIGMOID"])
def test_exact_and_sigmoid_windows(tmp_path, photometric, function):
    px = ramp(SHAPE, 0, 4095)
    ds = make_ds(
        px,
        photometric=photometric,
        bits_stored=12,
        windows=[(1500, 1000), (3000, 250.5)],
        function=function,
    )
    path = save(ds, tmp_path / "f.dcm")
    rg = read_radiograph(path)
    assert {w.function for w in rg.windows} == {function}
    _check_all_windows(path, rg)


def test_rescale_signed_16bit(tmp_path):
    px = ramp(SHAPE, -2000, 2000, np.int16)
    ds = make_ds(px, slope=1.0, intercept=-1024.0, windows=[(40, 400), (-600, 1500)])
    path = save(ds, tmp_path / "ct.dcm")
    rg = read_radiograph(path)
    # possible range: -32768..32767 through the rescale
    expected = (px.astype(float) + 32768) / 65535
    assert np.abs(rg.image - expected).max() < 1e-6
    assert rg.header["signed"] is True and rg.header["modality_lut"] == "rescale"
    _check_all_windows(path, rg)


def test_rescale_fractional_slope_mono1(tmp_path):
    px = ramp(SHAPE, 0, 1023)
    ds = make_ds(
        px,
        photometric="MONOCHROME1",
        bits_stored=10,
        slope=0.5,
        intercept=10.0,
        windows=[(200, 300)],
    )
    path = save(ds, tmp_path / "r.dcm")
    rg = read_radiograph(path)
    assert rg.image[0, 0] == pytest.approx(1.0)  # stored 0 is white in MONOCHROME1 → 1 after inv.
    _check_all_windows(path, rg)


def test_modality_lut_sequence(tmp_path):
    px = ramp(SHAPE, 0, 1023)
    table = (np.sqrt(np.arange(1024) / 1023.0) * 4000 + 20).astype(np.uint16)
    ds = make_ds(px, bits_stored=10, modality_lut=(0, 16, table), windows=[(2000, 1500)])
    path = save(ds, tmp_path / "mlut.dcm")
    rg = read_radiograph(path)
    assert rg.header["modality_lut"] == "LUT sequence"
    # image: LUT output mapped from the table's own output range
    expected = (table[px].astype(float) - table.min()) / (table.max() - table.min())
    assert np.abs(rg.image - expected).max() < 1e-6
    _check_all_windows(path, rg)


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_voi_lut_sequence(tmp_path, photometric):
    px = ramp(SHAPE, 0, 4095)
    x = np.arange(2048)
    t1 = (255 / (1 + np.exp(-(x[:256] - 128) / 30.0))).astype(np.uint16)  # 8-bit, from 1000
    t2 = np.clip((x - 300) * 40, 0, 65535).astype(np.uint16)  # 16-bit table from 0
    ds = make_ds(
        px,
        photometric=photometric,
        bits_stored=12,
        voi_luts=[(1000, 8, t1), (0, 16, t2)],
        windows=[(2048, 2000)],
    )
    path = save(ds, tmp_path / "voi.dcm")
    rg = read_radiograph(path)
    assert [w.function for w in rg.windows] == ["LUT", "LUT", "LINEAR"]
    assert rg.windows[0].name == "TABLE1"
    _check_all_windows(path, rg)
    lo, hi = rg.windows[1].limits
    assert 0.0 <= lo < hi <= 1.0


def test_eight_bit_voi_lut_longer_than_256_entries(tmp_path):
    # pydicom 3.0's apply_voi wraps indices of such tables; we index them correctly
    px = ramp(SHAPE, 0, 4095)
    table = (np.arange(1024) // 4).astype(np.uint16)  # 8-bit output, 1024 entries from 1000
    ds = make_ds(px, bits_stored=12, voi_luts=[(1000, 8, table)])
    rg = read_radiograph(save(ds, tmp_path / "voi8.dcm"))
    expected = table[np.clip(px.astype(int) - 1000, 0, 1023)] / 255.0
    assert np.abs(rg.display() - expected).max() < TOL


def test_no_window_is_full_range(tmp_path):
    px = ramp(SHAPE, 0, 255, np.uint8)
    path = save(make_ds(px), tmp_path / "u8.dcm")
    rg = read_radiograph(path)
    assert rg.windows == ()
    assert np.abs(rg.display() - px / 255.0).max() < 1e-6
    assert np.abs(rg.display() - reference_display(path, 0)).max() < TOL


def test_signed_16bit_without_window(tmp_path):
    px = ramp(SHAPE, -32768, 32767, np.int16)
    path = save(make_ds(px), tmp_path / "s16.dcm")
    rg = read_radiograph(path)
    assert np.abs(rg.image - (px.astype(float) + 32768) / 65535).max() < 1e-6
    assert np.abs(rg.display() - reference_display(path, 0)).max() < TOL


def test_eight_bit_mono1_with_window(tmp_path):
    px = ramp(SHAPE, 0, 255, np.uint8)
    path = save(make_ds(px, photometric="MONOCHROME1", windows=[(100, 80)]), tmp_path / "m1.dcm")
    rg = read_radiograph(path)
    _check_all_windows(path, rg)


def test_acr_nema_without_part10_header(tmp_path):
    px = ramp(SHAPE, 0, 1023)
    ds = make_ds(px, photometric="MONOCHROME1", bits_stored=10, windows=[(550, 1024)])
    path = save_acr_nema(ds, tmp_path / "CR-MONO1-10")  # no suffix, no preamble
    assert path.read_bytes()[128:132] != b"DICM"
    assert is_supported(path)  # found by content, for napari's "*" pattern
    rg = read_radiograph(path)
    assert rg.header["format"].startswith("ACR-NEMA")
    assert rg.header["transfer_syntax"].startswith("Implicit VR Little Endian")
    assert np.abs(rg.image - (1 - px / 1023.0)).max() < 1e-6
    _check_all_windows(path, rg)


def test_spacing_sources(tmp_path):
    px = ramp(SHAPE, 0, 255, np.uint8)
    rg = read_radiograph(save(make_ds(px, imager_spacing=[0.14, 0.14]), tmp_path / "a.dcm"))
    assert rg.spacing == (0.14, 0.14) and rg.spacing_source == "ImagerPixelSpacing"
    ds = make_ds(px, pixel_spacing=[0, 0], imager_spacing=[0.1, 0.12])
    rg = read_radiograph(save(ds, tmp_path / "b.dcm"))
    assert rg.spacing == (0.1, 0.12) and rg.spacing_source == "ImagerPixelSpacing"
    rg = read_radiograph(save(make_ds(px, pixel_spacing=[0, 0]), tmp_path / "c.dcm"))
    assert rg.spacing is None and "PixelSpacing is [0.0, 0.0]" in rg.spacing_source
    rg = read_radiograph(save(make_ds(px), tmp_path / "d.dcm"))
    assert rg.spacing is None and rg.spacing_source.startswith("unknown: no PixelSpacing")
    rg = read_radiograph(tmp_path / "d.dcm", spacing=0.3)
    assert rg.spacing == (0.3, 0.3) and rg.spacing_source == "user"


@pytest.mark.parametrize("syntax", [RLELossless, JPEGLSLossless, JPEG2000Lossless])
def test_lossless_compressed_syntaxes(tmp_path, syntax):
    from pydicom.pixels import get_encoder

    encoder = get_encoder(syntax)
    if not encoder.is_available:
        pytest.skip(f"no encoder for {syntax.name}: {encoder.missing_dependencies}")
    rng = np.random.default_rng(3)
    px = rng.integers(0, 4096, SHAPE).astype(np.uint16)
    kwargs = {"photometric": "MONOCHROME1", "bits_stored": 12, "windows": [(2000, 1000)]}
    plain = read_radiograph(save(make_ds(px, **kwargs), tmp_path / "plain.dcm"))
    ds = make_ds(px, **kwargs)
    path = save(ds, tmp_path / "c.dcm", syntax)
    rg = read_radiograph(path)
    assert rg.header["transfer_syntax"] == syntax.name
    assert np.array_equal(rg.image, plain.image)
    _check_all_windows(path, rg)


def test_jpeg_baseline(tmp_path):
    px = ramp(SHAPE, 0, 255, np.uint8)
    decoded = save_jpeg_baseline(px, tmp_path / "jpg.dcm")
    rg = read_radiograph(tmp_path / "jpg.dcm")
    assert rg.header["transfer_syntax"].startswith("JPEG Baseline")
    # the decoders may round differently from Pillow by one grey level at most
    assert np.abs(rg.image - decoded / 255.0).max() <= 1.0 / 255 + 1e-6


def test_multiframe_is_a_stack(tmp_path):
    px = np.stack([ramp(SHAPE, 0, 255, np.uint8) // (k + 1) for k in range(3)])
    path = save(make_ds(px, windows=[(100, 50)]), tmp_path / "mf.dcm")
    stack = read_stack(path)
    assert len(stack) == 3
    assert np.abs(stack[2].image - px[2] / 255.0).max() < 1e-6
    assert stack[1].provenance[0].parameters["frame"] == 1
    with pytest.raises(Exception, match="holds 3 images; one is needed"):
        read_radiograph(path)


def test_dicom_info_without_identifiers(tmp_path):
    px = ramp(SHAPE, 0, 4095)
    ds = make_ds(px, bits_stored=12, windows=[(1024, 800)], pixel_spacing=[0.2, 0.2])
    path = save(ds, tmp_path / "i.dcm")
    info = dicom_info(path)
    assert info["modality"] == "DX" and info["size"] == [64, 64]
    assert info["bits_stored"] == 12 and info["bits_allocated"] == 16
    assert info["photometric"] == "MONOCHROME2"
    assert info["transfer_syntax"] == "Explicit VR Little Endian"
    assert info["spacing_mm"] == [0.2, 0.2]
    assert info["windows_dicom"][0]["center"] == 1024.0
    assert info["windows"][0]["limits"][0] == pytest.approx((1024 - 0.5 - 399.5) / 4095)
    text = repr(info)
    assert not any(v in text for v in IDENTIFIERS.values())
