"""TIFF, PNG and JPEG reading and writing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_xray_synth.core import InputError, Radiograph, Window
from napari_xray_synth.core.io import file_info, read_radiograph, read_stack, write_image


def _grad(dtype, shape=(32, 48)):
    info = np.iinfo(dtype)
    return np.linspace(0, info.max // 2, shape[0] * shape[1]).reshape(shape).astype(dtype)


@pytest.mark.parametrize("dtype, scale", [(np.uint8, 255.0), (np.uint16, 65535.0)])
def test_tiff_integers_scaled_by_type_range(tmp_path, dtype, scale):
    data = _grad(dtype)
    tifffile.imwrite(tmp_path / "a.tif", data)
    rg = read_radiograph(tmp_path / "a.tif")
    # half the type range stays about half: never stretched to its own min/max
    assert np.abs(rg.image - data / scale).max() < 1e-6
    assert rg.image.max() < 0.51
    assert rg.header["format"] == "TIFF" and rg.provenance[0].operation == "read"


def test_tiff_float_and_spacing_from_resolution(tmp_path):
    data = np.linspace(0.1, 0.7, 32 * 48, dtype=np.float32).reshape(32, 48)
    # 50 px/cm across (0.2 mm), 40 px/cm down (0.25 mm)
    tifffile.imwrite(tmp_path / "f.tif", data, resolution=(50.0, 40.0), resolutionunit=3)
    rg = read_radiograph(tmp_path / "f.tif")
    assert np.array_equal(rg.image, data)
    assert rg.spacing == pytest.approx((0.25, 0.2))
    assert rg.spacing_source == "resolution tags (cm)"


def test_tiff_default_dpi_is_not_a_spacing(tmp_path):
    tifffile.imwrite(tmp_path / "d.tif", _grad(np.uint8), resolution=(72.0, 72.0), resolutionunit=2)
    rg = read_radiograph(tmp_path / "d.tif")
    assert rg.spacing is None and "software default" in rg.spacing_source


def test_tiff_float_outside_unit_range_is_mapped_and_said(tmp_path):
    data = np.linspace(-1000, 3000, 32 * 48, dtype=np.float32).reshape(32, 48)
    tifffile.imwrite(tmp_path / "hu.tif", data)
    rg = read_radiograph(tmp_path / "hu.tif")
    assert rg.image.min() == 0.0 and rg.image.max() == pytest.approx(1.0)
    assert "min/max" in rg.provenance[0].parameters["scaling"]


def test_tiff_multipage_is_a_stack(tmp_path):
    pages = np.stack([_grad(np.uint16) // (k + 1) for k in range(4)])
    tifffile.imwrite(tmp_path / "s.tif", pages, photometric="minisblack")
    stack = read_stack(tmp_path / "s.tif")
    assert len(stack) == 4
    assert np.abs(stack[3].image - pages[3] / 65535.0).max() < 1e-6
    with pytest.raises(InputError, match="holds 4 images; one is needed"):
        read_radiograph(tmp_path / "s.tif")


@pytest.mark.parametrize("dtype, scale", [(np.uint8, 255.0), (np.uint16, 65535.0)])
def test_png_grey(tmp_path, dtype, scale):
    data = _grad(dtype)
    Image.fromarray(data).save(tmp_path / "g.png")
    rg = read_radiograph(tmp_path / "g.png")
    assert np.abs(rg.image - data / scale).max() < 1e-6
    assert rg.spacing is None


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_png_with_equal_channels_is_grey(tmp_path, mode):
    grey = _grad(np.uint8)
    chans = [grey] * 3 + ([np.full_like(grey, 77)] if mode == "RGBA" else [])
    Image.fromarray(np.stack(chans, -1), mode).save(tmp_path / "c.png")
    rg = read_radiograph(tmp_path / "c.png")
    assert np.abs(rg.image - grey / 255.0).max() < 1e-6  # alpha ignored


def test_jpeg_grey(tmp_path):
    data = _grad(np.uint8)
    Image.fromarray(data).save(tmp_path / "g.jpg", quality=100)
    rg = read_radiograph(tmp_path / "g.jpg")
    assert rg.header["format"] == "JPEG"
    assert np.abs(rg.image - data / 255.0).max() < 3 / 255


def test_write_tiff_float32_with_window_and_spacing(tmp_path):
    img = np.linspace(0, 1, 32 * 48, dtype=np.float32).reshape(32, 48)
    rg = Radiograph(img, spacing=(0.25, 0.2), windows=(Window(0.5, 0.5, "mid"),))
    out = write_image(rg, tmp_path / "o.tif")
    with tifffile.TiffFile(out) as tif:
        page = tif.pages[0]
        data = page.asarray()
        desc = json.loads(page.description)
    assert data.dtype == np.float32
    assert np.array_equal(data, rg.display())  # default window applied
    assert desc["written"]["window"]["name"] == "mid"
    back = read_radiograph(out)
    assert back.spacing == pytest.approx((0.25, 0.2))
    full = write_image(rg, tmp_path / "full.tiff", window="full")
    assert np.array_equal(tifffile.imread(full), img)


def test_write_png_16bit(tmp_path):
    img = np.linspace(0, 1, 32 * 48, dtype=np.float32).reshape(32, 48)
    rg = Radiograph(img, spacing=(0.2, 0.2))
    out = write_image(rg, tmp_path / "o.png")
    with Image.open(out) as im:
        assert im.mode == "I;16"
        data = np.asarray(im)
    assert np.abs(data / 65535.0 - img).max() <= 0.5 / 65535 + 1e-7
    back = read_radiograph(out)
    assert back.spacing == pytest.approx((0.2, 0.2), abs=1e-4)


@pytest.mark.parametrize("mm", [0.2, 0.41, 0.168, 0.143, (0.25, 0.143)])
def test_png_spacing_reads_back_as_written(tmp_path, mm):
    """pHYs holds whole pixels per metre: the spacing reads back as the decimal written (0.2,
    not 0.19999999999999998), rows and columns apart, named as the PNG's pHYs chunk."""
    spacing = mm if isinstance(mm, tuple) else (mm, mm)
    rg = Radiograph(np.zeros((8, 8), np.float32), spacing=spacing)
    back = read_radiograph(write_image(rg, tmp_path / "o.png"))
    assert back.spacing == spacing
    assert back.spacing_source == "PNG pHYs chunk"


def test_png_default_dpi_is_not_a_spacing(tmp_path):
    Image.fromarray(_grad(np.uint8)).save(tmp_path / "d.png", dpi=(72, 72))
    rg = read_radiograph(tmp_path / "d.png")
    assert rg.spacing is None and "72 dpi looks like a software default" in rg.spacing_source


def test_tiff_without_spacing_says_so(tmp_path):
    """The project's own TIFFs without a spacing (tifffile's 1 x 1 "no unit")."""
    back = read_radiograph(
        write_image(Radiograph(np.zeros((8, 8), np.float32)), tmp_path / "o.tif")
    )
    assert back.spacing is None
    assert (
        back.spacing_source
        == "unknown: no pixel size in the file (its resolution tags have no unit)"
    )


def test_write_refuses_bad_suffix_and_window(tmp_path):
    rg = Radiograph(np.zeros((4, 4), np.float32))
    with pytest.raises(InputError, match=r"use \.tif, \.tiff or \.png"):
        write_image(rg, tmp_path / "o.bmp")
    with pytest.raises(InputError, match="window 3 does not exist"):
        write_image(rg, tmp_path / "o.png", window=3)
    assert list(tmp_path.iterdir()) == []


def test_file_info_for_raster(tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", _grad(np.uint16))
    info = file_info(tmp_path / "a.tif")
    assert info["format"] == "TIFF" and info["size"] == [32, 48] and info["dtype"] == "uint16"


def test_write_never_overwrites_the_input(tmp_path):
    Image.fromarray(_grad(np.uint16)).save(tmp_path / "in.png")
    before = (tmp_path / "in.png").read_bytes()
    rg = read_radiograph(tmp_path / "in.png")
    with pytest.raises(InputError, match="inputs are never overwritten"):
        write_image(rg, tmp_path / "in.png", window="bone")
    assert (tmp_path / "in.png").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]
