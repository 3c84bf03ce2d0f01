"""TIFF (tifffile) and PNG/JPEG (Pillow) radiographs: reading into, and writing from, Radiograph.

Integer data is scaled by its type's range (8-bit by 255, 16-bit by 65535), never stretched to its
own minimum and maximum, so that brightness keeps its meaning across files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from napari_xray_synth.core.atomic import atomic_path
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.io.sniff import check_readable
from napari_xray_synth.core.radiograph import Provenance, Radiograph

# resolutions that image software writes when it knows nothing (pixels per inch)
_DEFAULT_DPI = (72.0, 96.0)


def to_unit_range(data: np.ndarray, source: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Grey data → float32 in [0, 1]: integers by their type's range, floats as they are.

    Float data outside [0, 1] has no type range to go by; it is mapped from its own minimum and
    maximum, and the returned parameters say so.

    Returns
    -------
    image, params
        The image and the scaling that was used (for provenance).
    """
    if data.dtype == bool:
        return data.astype(np.float32), {"scaling": "bool"}
    if np.issubdtype(data.dtype, np.integer):
        info = np.iinfo(data.dtype)
        img = (data.astype(np.float64) - info.min) / (float(info.max) - info.min)
        return img.astype(np.float32), {"scaling": f"{data.dtype} range [{info.min}, {info.max}]"}
    if np.issubdtype(data.dtype, np.floating):
        img = data.astype(np.float64)
        if not np.all(np.isfinite(img)):
            raise InputError("holds NaN or infinite values", source)
        lo, hi = float(img.min()), float(img.max())
        if lo >= 0.0 and hi <= 1.0:
            return img.astype(np.float32), {"scaling": "float in [0, 1], as stored"}
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        return img.astype(np.float32), {"scaling": f"float min/max [{lo:g}, {hi:g}] to [0, 1]"}
    raise InputError(f"holds {data.dtype} data, not a grey image", source)


def grey_from_channels(data: np.ndarray, source: Path, page: str = "") -> np.ndarray:
    """(H, W, 3|4) with equal colour channels → (H, W); alpha is ignored; colour is refused."""
    colour = data[..., :3]
    if not (np.array_equal(colour[..., 0], colour[..., 1])) or not np.array_equal(
        colour[..., 0], colour[..., 2]
    ):
        raise InputError(
            f"is a colour image{page}; a radiograph is greyscale (its red, green and blue differ)",
            source,
        )
    return np.ascontiguousarray(colour[..., 0])


def _spacing_from_resolution(
    xres: float | None, yres: float | None, unit: str
) -> tuple[tuple[float, float] | None, str]:
    """Pixel spacing (row, col) in mm from pixels per unit, or None with the reason."""
    if not xres or not yres or xres <= 0 or yres <= 0:
        return None, "unknown: no resolution in the file"
    per_mm = {"inch": 25.4, "cm": 10.0, "m": 1000.0}.get(unit)
    if per_mm is None:
        # tifffile's default when no size is given: 1 x 1 per "no unit"
        return None, "unknown: no pixel size in the file (its resolution tags have no unit)"
    if unit == "inch" and xres == yres and xres in _DEFAULT_DPI:
        return None, f"unknown: {xres:g} dpi looks like a software default, not a detector pitch"
    return (per_mm / yres, per_mm / xres), f"resolution tags ({unit})"


def _png_spacing(dpi: tuple[float, float]) -> tuple[tuple[float, float] | None, str]:
    """Pixel spacing (row, col) in mm from Pillow's ``dpi`` of a PNG, or None with the reason.

    The pHYs chunk holds whole pixels per metre (Pillow shows them per inch): each spacing is
    the shortest decimal that gives the same whole number back (0.2, not 0.19999999999999998;
    0.168, not 0.16801), as the writers wrote it.
    """
    per_m = [round(float(v) / 0.0254) for v in dpi]  # x (columns), y (rows)
    if min(per_m) <= 0:
        return None, "unknown: no resolution in the file"
    if per_m[0] == per_m[1] and per_m[0] in {round(d / 0.0254) for d in _DEFAULT_DPI}:
        dpi_text = f"{per_m[0] * 0.0254:.0f}"
        return None, f"unknown: {dpi_text} dpi looks like a software default, not a detector pitch"
    return (_mm_per_pixel(per_m[1]), _mm_per_pixel(per_m[0])), "PNG pHYs chunk"


def _mm_per_pixel(per_metre: int) -> float:
    """The shortest decimal mm per pixel that rounds back to ``per_metre`` pixels per metre."""
    exact = 1000.0 / per_metre
    for decimals in range(1, 10):
        mm = round(exact, decimals)
        if mm > 0 and round(1000.0 / mm) == per_metre:
            return mm
    return exact


# ---------------------------------------------------------------------------------------- TIFF
def _tiff_page_spacing(page: Any) -> tuple[tuple[float, float] | None, str]:
    tags = page.tags
    if "XResolution" not in tags or "YResolution" not in tags:
        return None, "unknown: no resolution in the file"
    unit_code = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
    unit = {2: "inch", 3: "cm"}.get(unit_code, "")

    def ratio(tag: str) -> float:
        num, den = tags[tag].value
        return float(num) / float(den) if den else 0.0

    return _spacing_from_resolution(ratio("XResolution"), ratio("YResolution"), unit)


def read_tiff(path: str | Path) -> list[Radiograph]:
    """Every full-resolution page of a TIFF as a Radiograph (one per page: a stack)."""
    p = check_readable(path)
    out: list[Radiograph] = []
    try:
        with tifffile.TiffFile(p) as tif:
            pages = [pg for pg in tif.pages if not getattr(pg, "is_reduced", False)]
            for i, page in enumerate(pages):
                data = np.asarray(page.asarray())
                photometric = int(page.photometric)
                where = f" (page {i + 1})" if len(pages) > 1 else ""
                if data.ndim == 3 and data.shape[-1] in (3, 4) and photometric == 2:
                    data = grey_from_channels(data, p, where)
                elif data.ndim == 3 and data.shape[0] in (3, 4) and photometric == 2:
                    data = grey_from_channels(np.moveaxis(data, 0, -1), p, where)
                if data.ndim != 2:
                    raise InputError(f"page {i + 1} has shape {data.shape}, not a grey image", p)
                image, params = to_unit_range(data, p)
                if photometric == 0:  # MINISWHITE: bright = less attenuation
                    image = 1.0 - image
                    params["inverted"] = "MinIsWhite"
                spacing, source = _tiff_page_spacing(page)
                params.update(format="TIFF", page=i, pages=len(pages), dtype=str(data.dtype))
                header = {
                    "format": "TIFF",
                    "rows": int(data.shape[0]),
                    "columns": int(data.shape[1]),
                    "dtype": str(data.dtype),
                    "photometric": "MINISWHITE" if photometric == 0 else "MINISBLACK",
                    "pages": len(pages),
                }
                out.append(_raster_rg(image, spacing, source, header, params, p))
    except InputError:
        raise
    except Exception as exc:  # tifffile raises many types for damaged files
        raise InputError(f"is a damaged TIFF file ({' '.join(str(exc).split())})", p) from exc
    if not out:
        raise InputError("holds no image pages", p)
    return out


def _raster_rg(
    image: np.ndarray,
    spacing: tuple[float, float] | None,
    source: str,
    header: dict[str, Any],
    params: dict[str, Any],
    p: Path,
) -> Radiograph:
    return Radiograph(
        image=image,
        spacing=spacing,
        spacing_source=source,
        header=header,
        provenance=(Provenance("read", params, source=str(p)),),
    )


# ----------------------------------------------------------------------------------- PNG/JPEG
def read_pil(path: str | Path) -> list[Radiograph]:
    """A PNG or JPEG (Pillow): 8/16-bit grey, or RGB/RGBA with equal colour channels."""
    p = check_readable(path)
    try:
        with Image.open(p) as im:
            fmt = im.format or p.suffix.lstrip(".").upper()
            mode = im.mode
            frames = int(getattr(im, "n_frames", 1) or 1)
            dpi = im.info.get("dpi")
            im.load()
            if mode == "P":
                im = im.convert("RGBA")
            elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGB")
            data = np.asarray(im)
    except UnidentifiedImageError as exc:
        raise InputError("is not a DICOM, TIFF, PNG or JPEG file", p) from exc
    except Exception as exc:
        raise InputError(
            f"is a damaged {p.suffix.lstrip('.').upper() or 'image'} file "
            f"({' '.join(str(exc).split())})",
            p,
        ) from exc
    if frames > 1:
        raise InputError(f"holds {frames} images (animated {fmt}); stacks are read from TIFF", p)
    if data.ndim == 3 and data.shape[-1] == 2:  # LA: grey + alpha
        data = data[..., 0]
    elif data.ndim == 3:
        data = grey_from_channels(data, p)
    if mode.startswith("I;16") or (mode == "I" and fmt == "PNG"):
        data = data.astype(np.uint16)  # PNG holds at most 16 bits; Pillow may widen them
    image, params = to_unit_range(data, p)
    spacing, source = (None, "unknown: no resolution in the file")
    if dpi and fmt == "PNG":
        spacing, source = _png_spacing(dpi)
    elif dpi:
        spacing, source = _spacing_from_resolution(float(dpi[0]), float(dpi[1]), "inch")
    params.update(format=fmt, mode=mode, dtype=str(data.dtype))
    header = {
        "format": fmt,
        "rows": int(data.shape[0]),
        "columns": int(data.shape[1]),
        "dtype": str(data.dtype),
        "mode": mode,
    }
    return [_raster_rg(image, spacing, source, header, params, p)]


# -------------------------------------------------------------------------------------- write
def _display(rg: Radiograph, window: Any) -> np.ndarray:
    return np.clip(rg.display(window), 0.0, 1.0).astype(np.float32)


def tiff_resolution(spacing: tuple[float, float] | None) -> dict[str, Any]:
    """``tifffile.imwrite`` keywords for a pixel spacing (row, column) in mm: the resolution
    tags in pixels per centimetre (TIFF knows no millimetre), x being the column direction."""
    if not spacing:
        return {}
    return {"resolution": (10.0 / spacing[1], 10.0 / spacing[0]), "resolutionunit": 3}


def write_float_tiff(
    data: np.ndarray,
    path: str | Path,
    spacing: tuple[float, float] | None,
    description: dict[str, Any],
) -> Path:
    """Write a float32 grey TIFF atomically: MinIsBlack, ``spacing`` in the resolution tags
    (as :func:`read_tiff` reads it back) and ``description`` as JSON in the ImageDescription."""
    target = Path(path)
    with atomic_path(target) as tmp:
        tifffile.imwrite(
            tmp,
            np.asarray(data, dtype=np.float32),
            photometric="minisblack",
            description=json.dumps(description),
            metadata=None,
            **tiff_resolution(spacing),
        )
    return target


def write_tiff(rg: Radiograph, path: str | Path, window: Any = None) -> Path:
    """float32 in [0, 1] (window applied), MONOCHROME2 (MinIsBlack), spacing as resolution tags.

    The radiograph's metadata (header summary, spacing, windows, provenance) goes in the
    ImageDescription as JSON.
    """
    meta = rg.metadata()
    meta["written"] = {"window": (window or rg.default_window).to_dict()}
    return write_float_tiff(_display(rg, window), path, rg.spacing, meta)


def write_grey_png(
    data: np.ndarray, path: str | Path, spacing: tuple[float, float] | None, **options: Any
) -> Path:
    """Write an 8- or 16-bit grey PNG atomically (Pillow), ``spacing`` (row, column, mm) in the
    pHYs chunk, which :func:`read_pil` reads back.

    pHYs holds whole pixels per metre, so a spacing comes back to within ``spacing² / 2000`` mm
    (0.143 mm: 1e-5 mm; 0.5 mm: 1.3e-4 mm). ``options`` go to Pillow (``compress_level``).
    """
    target = Path(path)
    if spacing:
        options["dpi"] = (25.4 / spacing[1], 25.4 / spacing[0])  # x is the column direction
    with atomic_path(target) as tmp:
        Image.fromarray(np.ascontiguousarray(data)).save(tmp, format="PNG", **options)
    return target


def write_png(rg: Radiograph, path: str | Path, window: Any = None) -> Path:
    """16-bit grey PNG of the display (window applied), spacing in the pHYs chunk."""
    data = np.round(_display(rg, window) * 65535.0).astype(np.uint16)
    return write_grey_png(data, path, rg.spacing)
