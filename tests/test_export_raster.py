"""Raster export and the manifest: formats, exact pixels, atomic writes, bad input."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from napari_xray_synth.core.conditions import Condition, label_mask
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.export import (
    ExportItem,
    export_dataset,
    read_manifest,
    write_image_file,
    write_mask_file,
)
from napari_xray_synth.core.radiograph import Provenance, Radiograph


def synthetic(rng, shape=(40, 30)) -> tuple[Radiograph, Condition, np.ndarray]:
    rg = Radiograph(
        rng.random(shape, dtype=np.float32),
        spacing=(0.7, 0.7),
        provenance=(Provenance("read", source="/data/x.png"),),
    ).derive(
        rng.random(shape, dtype=np.float32),
        Provenance("synthesize", {"method": "gan"}, model_id="gen", model_sha256="cd" * 32, seed=9),
        synthetic=True,
    )
    cond = Condition("mass", (20, 15), 35.0, 0.5, shape_seed=1)
    return rg, cond, label_mask([cond], shape, rg.spacing)


def test_tif_is_exact_float32_and_png_is_16bit(tmp_path, rng):
    rg, _, _ = synthetic(rng)
    tif = tifffile.imread(write_image_file(rg, tmp_path / "a.tif"))
    assert tif.dtype == np.float32
    np.testing.assert_array_equal(tif, rg.image)
    png = iio.imread(write_image_file(rg, tmp_path / "a.png"))
    assert png.dtype == np.uint16
    np.testing.assert_allclose(png / 65535.0, rg.image, atol=1 / 65535)
    with pytest.raises(InputError, match="jpg"):
        write_image_file(rg, tmp_path / "a.jpg")


def test_mask_roundtrip_and_bad_masks(tmp_path, rng):
    _, _, mask = synthetic(rng)
    assert mask.max() > 0
    for ext in ("png", "tif"):
        back = iio.imread(write_mask_file(mask, tmp_path / f"m.{ext}"))
        assert back.dtype == np.uint8
        np.testing.assert_array_equal(back, mask)
    with pytest.raises(InputError, match="2-D"):
        write_mask_file(np.zeros((2, 3, 4)), tmp_path / "bad.png")
    with pytest.raises(InputError, match=r"0\.\.255"):
        write_mask_file(np.full((3, 3), 300), tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


@pytest.mark.parametrize("fmt", ["png", "tif"])
def test_export_dataset_manifest(tmp_path, rng, fmt):
    rg, cond, mask = synthetic(rng)
    items = [ExportItem("v", rg, mask, (cond,), seed=9), ExportItem("v", rg, None)]
    export_dataset(items, tmp_path, fmt)
    rows = read_manifest(tmp_path)
    assert [r["id"] for r in rows] == ["v", "v_2"]
    first = rows[0]
    assert first["file"] == f"images/v.{fmt}" and first["mask"] == f"masks/v.{fmt}"
    assert (tmp_path / first["file"]).is_file() and (tmp_path / first["mask"]).is_file()
    assert first["pathology"] == "mass" and first["seed"] == "9"
    assert first["method"] == "gan" and first["model_sha256"] == "cd" * 32
    assert first["source"] == "/data/x.png" and first["synthetic"] == "True"
    assert float(first["size_mm"]) == 35.0 and first["center_row"] == "20"
    assert rows[1]["mask"] == ""
    js = json.loads((tmp_path / "manifest.json").read_text())
    assert json.loads(js[0]["conditions"])[0]["pathology"] == "mass"
    assert not list(tmp_path.rglob(".*part*"))


def test_export_dataset_rejects_bad_input(tmp_path, rng):
    rg, _, _ = synthetic(rng)
    with pytest.raises(InputError, match="format"):
        export_dataset([ExportItem("a", rg)], tmp_path, "bmp")
    with pytest.raises(InputError, match="nothing to export"):
        export_dataset([], tmp_path, "png")
    with pytest.raises(InputError, match="shape"):
        export_dataset([ExportItem("a", rg, np.zeros((3, 3), np.uint8))], tmp_path / "o", "png")
    assert not (tmp_path / "o" / "manifest.csv").exists()


@pytest.mark.parametrize("fmt", ["png", "tif"])
def test_exported_images_and_masks_carry_the_pixel_spacing(tmp_path, rng, fmt):
    """PNG in the pHYs chunk (whole pixels per metre), TIFF in the resolution tags; the
    project's reader finds it in both, and so do Pillow and tifffile."""
    from PIL import Image

    from napari_xray_synth.core.io import read_radiograph

    rg, cond, mask = synthetic(rng)
    rg = rg.with_spacing((0.25, 0.143), "test")  # rows, columns: x and y must not swap
    export_dataset([ExportItem("v", rg, mask, (cond,))], tmp_path, fmt)
    image, mask_file = tmp_path / "images" / f"v.{fmt}", tmp_path / "masks" / f"v.{fmt}"
    assert read_radiograph(image).spacing == pytest.approx((0.25, 0.143), abs=2e-5)
    if fmt == "png":
        for path in (image, mask_file):
            with Image.open(path) as im:
                dpi_x, dpi_y = im.info["dpi"]
            assert (25.4 / dpi_y, 25.4 / dpi_x) == pytest.approx((0.25, 0.143), abs=2e-5)
    else:
        for path in (image, mask_file):
            with tifffile.TiffFile(path) as tif:
                num, den = tif.pages[0].tags["XResolution"].value
            assert 10.0 * den / num == pytest.approx(0.143)
    row = read_manifest(tmp_path)[0]
    assert (float(row["spacing_row_mm"]), float(row["spacing_col_mm"])) == (0.25, 0.143)


def test_manifest_records_the_assumed_spacing_apart_from_the_films(tmp_path, rng):
    """A variant of a film without a pixel size: size_mm was drawn at an assumed 0.35 mm, which
    the manifest says (spacing_assumed_mm) without writing it as the film's spacing; a film
    with its own spacing leaves the column empty."""
    shape = (40, 30)
    cond = Condition("mass", (20, 15), 50.0, 0.5, shape_seed=1)
    params = {"method": "gan", "spacing_mm": 0.35, "spacing_assumed_mm": 0.35}
    assumed = Radiograph(rng.random(shape, dtype=np.float32)).derive(
        rng.random(shape, dtype=np.float32),
        Provenance("synthesize", params, seed=3),
        synthetic=True,
    )
    own, own_cond, own_mask = synthetic(rng)
    # the pixel size set after the synthesis: the lesion was still drawn at 0.35 mm
    set_later = assumed.with_spacing((0.41, 0.41), "set in napari")
    items = [
        ExportItem("set_later", set_later, None, (cond,)),
        ExportItem("assumed", assumed, label_mask([cond], shape, (0.35, 0.35)), (cond,)),
        ExportItem("own", own, own_mask, (own_cond,)),
        # a plain film shown at the assumed size in napari (no synthesis step says so)
        ExportItem(
            "film", Radiograph(rng.random(shape, dtype=np.float32)), spacing_assumed_mm=0.35
        ),
    ]
    export_dataset(items, tmp_path, "png")
    rows = {r["id"]: r for r in read_manifest(tmp_path)}
    row = rows["assumed"]
    assert (row["size_mm"], row["spacing_assumed_mm"]) == ("50", "0.35")
    assert row["spacing_row_mm"] == row["spacing_col_mm"] == ""
    assert rows["film"]["spacing_assumed_mm"] == "0.35" and rows["film"]["spacing_row_mm"] == ""
    assert rows["own"]["spacing_assumed_mm"] == "" and rows["own"]["spacing_row_mm"] == "0.7"
    assert (rows["set_later"]["spacing_row_mm"], rows["set_later"]["spacing_assumed_mm"]) == (
        "0.41",
        "0.35",
    )
    # nothing writes the assumption as the film's pixel size
    from napari_xray_synth.core.io import read_radiograph

    assert read_radiograph(tmp_path / row["file"]).spacing is None
    saved = {r["id"]: r for r in json.loads((tmp_path / "manifest.json").read_text())}
    assert saved["assumed"]["spacing_assumed_mm"] == 0.35
