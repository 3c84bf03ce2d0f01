"""Raster export: images as float32 TIFF or 16-bit PNG, masks as uint8 label PNG or TIFF.

Pixels are the radiograph's own values (image units, [0, 1]), not a windowed display: float32
TIFF keeps them exactly, 16-bit PNG as ``round(value * 65535)``. Files carry no header beyond
the pixel size (TIFF resolution tags, PNG pHYs chunk), so nothing identifying can travel in them.
The writers are :mod:`napari_xray_synth.core.io.raster`'s, which the reader reads back.
"""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tifffile

from napari_xray_synth.core.atomic import atomic_path
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.io.raster import tiff_resolution, write_float_tiff, write_grey_png
from napari_xray_synth.core.radiograph import Radiograph

IMAGE_FORMATS = ("png", "tif")
MASK_FORMATS = ("png", "tif")


def _check_format(fmt: str, allowed: tuple[str, ...], what: str) -> str:
    fmt = fmt.lower().lstrip(".")
    fmt = "tif" if fmt == "tiff" else fmt
    if fmt not in allowed:
        raise InputError(f"cannot write a {what} as {fmt!r}; choose one of {', '.join(allowed)}")
    return fmt


def to_uint16(image: np.ndarray) -> np.ndarray:
    """[0, 1] float to uint16 by ``round(value * 65535)`` (clipped)."""
    return np.round(np.clip(np.asarray(image, np.float64), 0.0, 1.0) * 65535.0).astype(np.uint16)


def write_image_file(rg: Radiograph, path: str | Path, fmt: str | None = None) -> Path:
    """Write a radiograph's pixels atomically as float32 TIFF or 16-bit PNG.

    Parameters
    ----------
    rg : Radiograph
        The image.
    path : str or Path
        Target file.
    fmt : str, optional
        "tif" or "png"; by default from the suffix of ``path``.
    """
    path = Path(path)
    fmt = _check_format(fmt or path.suffix, IMAGE_FORMATS, "radiograph")
    if fmt == "tif":
        meta = {"spacing_mm": list(rg.spacing) if rg.spacing else None, "synthetic": rg.synthetic}
        write_float_tiff(rg.image, path, rg.spacing, meta)
    else:
        # zlib level 1: 4-5x faster than the default 6 on radiographs, about 10 % larger
        write_grey_png(to_uint16(rg.image), path, rg.spacing, compress_level=1)
    return path


def write_mask_file(
    mask: np.ndarray,
    path: str | Path,
    fmt: str | None = None,
    spacing: tuple[float, float] | None = None,
) -> Path:
    """Write a label mask atomically as uint8 PNG or TIFF.

    Raises
    ------
    InputError
        The mask is not 2-D or holds values outside 0..255.
    """
    path = Path(path)
    fmt = _check_format(fmt or path.suffix, MASK_FORMATS, "mask")
    m = np.asarray(mask)
    if m.ndim != 2:
        raise InputError(f"a mask is one 2-D label image, got shape {m.shape}", path)
    if m.size and (m.min() < 0 or m.max() > 255):
        raise InputError("mask labels must lie in 0..255", path)
    m = m.astype(np.uint8)
    if fmt == "tif":
        with atomic_path(path) as tmp:
            tifffile.imwrite(tmp, m, metadata=None, **tiff_resolution(spacing))
    else:
        write_grey_png(m, path, spacing)
    return path


def read_mask_file(path: str | Path) -> np.ndarray:
    """Read a label mask (PNG or TIFF, as :func:`write_mask_file` writes them) as a 2-D array.

    An RGB(A) file gives its first channel (masks saved by image viewers).

    Parameters
    ----------
    path : str or Path
        The mask file.

    Returns
    -------
    ndarray
        The labels, in the file's own dtype.

    Raises
    ------
    InputError
        Naming the file: missing, unreadable, or not one 2-D image.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such mask file", path)
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            m = tifffile.imread(path)
        else:
            m = iio.imread(path)
    except Exception as exc:  # the decoders raise many types for a damaged file
        raise InputError(f"cannot read this mask ({type(exc).__name__})", path) from exc
    m = np.asarray(m)
    if m.ndim == 3 and m.shape[-1] in (3, 4):
        m = m[..., 0]
    if m.ndim != 2:
        raise InputError(f"the mask must be 2-D, got shape {m.shape}", path)
    return m
