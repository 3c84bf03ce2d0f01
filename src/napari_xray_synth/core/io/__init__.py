"""Radiograph I/O: any supported file → :class:`Radiograph`, and Radiograph → TIFF or PNG.

The format is chosen by content, not by name: the DICOM preamble, the TIFF/PNG/JPEG magic bytes,
and for anything else (ACR-NEMA files, extension-less DICOM) a forced DICOM parse.

Examples
--------
>>> from napari_xray_synth.core.io import read_radiograph, write_image
>>> rg = read_radiograph("chest.dcm")            # doctest: +SKIP
>>> write_image(rg, "chest.png")                   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.io.dicom import dicom_info, read_dicom
from napari_xray_synth.core.io.raster import read_pil, read_tiff, write_png, write_tiff
from napari_xray_synth.core.io.sniff import check_readable, is_supported, sniff
from napari_xray_synth.core.presets import GENERIC_WINDOWS, generic_window
from napari_xray_synth.core.radiograph import Radiograph, Window

__all__ = [
    "dicom_info",
    "file_info",
    "is_supported",
    "read_radiograph",
    "read_stack",
    "refuse_overwriting",
    "resolve_window",
    "write_image",
]

WRITE_SUFFIXES = (".tif", ".tiff", ".png")


def read_stack(path: str | Path) -> list[Radiograph]:
    """Every image of a file: one for a plain image, several for multi-frame DICOM or TIFF pages.

    Raises
    ------
    InputError
        Missing, empty, a folder, an unknown format, damaged, colour or not an image; the message
        names the file and the reason.
    """
    p = check_readable(path)
    kind = sniff(p)
    if kind == "tiff":
        return read_tiff(p)
    if kind in ("png", "jpeg"):
        return read_pil(p)
    # "dicom", "acr-nema?" and "unknown" all go to a (forced) DICOM parse, which decides
    return read_dicom(p)


def _spacing_arg(spacing: Any) -> tuple[float, float]:
    values = [float(spacing)] * 2 if isinstance(spacing, (int, float)) else list(spacing)
    if len(values) != 2 or not all(v > 0 for v in map(float, values)):
        raise InputError(f"a pixel spacing is one or two positive numbers in mm, got {spacing!r}")
    return float(values[0]), float(values[1])


def read_radiograph(
    path: str | Path, spacing: float | tuple[float, float] | None = None
) -> Radiograph:
    """Read one radiograph from a DICOM, ACR-NEMA, TIFF, PNG or JPEG file.

    Parameters
    ----------
    path : str or Path
        The file; its format is found from its content.
    spacing : float or (float, float), optional
        Pixel spacing (row, column) in mm that overrides the file's (``spacing_source`` "user").

    Raises
    ------
    InputError
        As :func:`read_stack`, and for files that hold several images.
    """
    images = read_stack(path)
    if len(images) != 1:
        raise InputError(f"holds {len(images)} images; one is needed", path)
    rg = images[0]
    if spacing is not None:
        rg = rg.with_spacing(_spacing_arg(spacing), "user")
    return rg


def file_info(path: str | Path) -> dict[str, Any]:
    """A de-identified summary of any supported file (DICOM: header only, no decoding)."""
    p = check_readable(path)
    if sniff(p) not in ("tiff", "png", "jpeg"):
        return dicom_info(p)
    images = read_stack(p)
    rg = images[0]
    return {
        "file": str(p),
        **dict(rg.header),
        "size": list(rg.shape),
        "images": len(images),
        "spacing_mm": list(rg.spacing) if rg.spacing else None,
        "spacing_source": rg.spacing_source,
        "windows": [{**w.to_dict(), "limits": list(w.limits)} for w in rg.windows],
    }


def resolve_window(rg: Radiograph, window: Window | int | str | None) -> Window:
    """A window of ``rg``: None → the default, an index into ``rg.windows``, a window name
    (the file's, or a generic preset: "full", "lung", "soft tissue", "bone"), or a
    :class:`Window` as is."""
    if window is None:
        return rg.default_window
    if isinstance(window, Window):
        return window
    if isinstance(window, str):
        if window.strip().lstrip("-").isdigit():
            window = int(window)
        else:
            for w in rg.windows:
                if w.name == window:
                    return w
            generic = generic_window(window)
            if generic is not None:
                return generic
            names = ", ".join(repr(w.name) for w in (*rg.windows, *GENERIC_WINDOWS))
            raise InputError(f"no window named {window!r} (there are: {names})", rg.source)
    n = len(rg.windows)
    if not -n <= int(window) < n or n == 0:
        raise InputError(
            f"window {window} does not exist: the image has {n} window(s)"
            + (f", 0 to {n - 1}" if n else "; use 'full'"),
            rg.source,
        )
    return rg.windows[int(window)]


def refuse_overwriting(target: str | Path, inputs: Sequence[str | Path | None], what: str) -> None:
    """Raise :class:`InputError` ("``what``; inputs are never overwritten") when ``target`` is
    one of the existing files ``inputs``."""
    target = Path(target)
    for src in inputs:
        if src and Path(src).exists() and Path(src).resolve() == target.resolve():
            raise InputError(f"{what}; inputs are never overwritten", target)


def write_image(rg: Radiograph, path: str | Path, window: Window | int | str | None = None) -> Path:
    """Write the displayed image (window applied; default: the first) atomically.

    ``.tif``/``.tiff``: float32 in [0, 1], MONOCHROME2, spacing in the resolution tags.
    ``.png``: 16-bit grey. Nothing is left behind on failure.

    Raises
    ------
    InputError
        An unsupported suffix, a window that does not exist, or a folder that cannot be written.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise InputError(
            f"cannot write {suffix or 'files without a suffix'}; use .tif, .tiff or .png", target
        )
    if target.is_dir():
        raise InputError("is a folder; give a file name", target)
    refuse_overwriting(target, [rg.source], "is the file the image was read from")
    win = resolve_window(rg, window)
    if suffix == ".png":
        return write_png(rg, target, win)
    return write_tiff(rg, target, win)
