"""Export a set of images with their masks to a folder, with a manifest (the widget's job)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from napari_xray_synth.core.atomic import output_folder
from napari_xray_synth.core.conditions import LABELS, Condition
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.export.deidentify import UidMap
from napari_xray_synth.core.export.dicom import write_dicom
from napari_xray_synth.core.export.manifest import manifest_row, write_manifest
from napari_xray_synth.core.export.raster import write_image_file, write_mask_file
from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report
from napari_xray_synth.core.radiograph import Radiograph

FORMATS = ("png", "tif", "dcm")

#: The pathology of each mask label value (the inverse of :data:`conditions.LABELS`; kept out
#: of ``conditions``, whose source is part of the simulator's fingerprint).
PATHOLOGY_OF_LABEL: dict[int, str] = {v: p for p, v in LABELS.items()}


@dataclass(frozen=True)
class ExportItem:
    """One image to export, with its mask (as edited) and what was put into it.

    Parameters
    ----------
    name : str
        Becomes the file name (unsafe characters are replaced).
    radiograph : Radiograph
        The image.
    mask : ndarray, optional
        uint8 label image of the same shape.
    conditions : sequence of Condition
        The conditions of a synthetic variant.
    seed : int, optional
        The variant's seed.
    spacing_assumed_mm : float, optional
        For a film without a pixel size, the one it was shown at (the manifest's
        ``spacing_assumed_mm``; never written as its spacing).
    """

    name: str
    radiograph: Radiograph
    mask: np.ndarray | None = None
    conditions: tuple[Condition, ...] = field(default_factory=tuple)
    seed: int | None = None
    spacing_assumed_mm: float | None = None


def safe_name(name: str) -> str:
    """A file-name-safe version of ``name`` (letters, digits, ``._-``; others become ``_``)."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")
    return s or "image"


def mask_format(fmt: str) -> str:
    """Masks are TIFF next to TIFF images and PNG otherwise."""
    return "tif" if fmt == "tif" else "png"


def write_item(
    item: ExportItem,
    folder: Path,
    stem: str,
    fmt: str,
    *,
    deidentify: bool = True,
    uid_map: UidMap | None = None,
    source_header: Dataset | None = None,
) -> dict:
    """Write one item's image (``images/``) and mask (``masks/``); return its manifest row.

    ``source_header`` is the source's DICOM header for DICOM output (re-read from the source
    file named in the provenance when None).
    """
    rg = item.radiograph
    image_rel = f"images/{stem}.{fmt}"
    (folder / "images").mkdir(parents=True, exist_ok=True)
    if fmt == "dcm":
        write_dicom(
            rg,
            folder / image_rel,
            deidentify=deidentify,
            uid_map=uid_map,
            conditions=item.conditions,
            seed=item.seed,
            source=source_header,
        )
    else:
        write_image_file(rg, folder / image_rel, fmt)
    mask_rel = None
    if item.mask is not None:
        if np.shape(item.mask) != rg.shape:
            raise InputError(
                f"the mask has shape {np.shape(item.mask)}, the image {rg.shape}", item.name
            )
        mask_rel = f"masks/{stem}.{mask_format(fmt)}"
        (folder / "masks").mkdir(parents=True, exist_ok=True)
        write_mask_file(item.mask, folder / mask_rel, spacing=rg.spacing)
    return manifest_row(
        stem,
        rg,
        image_rel,
        mask_rel,
        item.conditions,
        seed=item.seed,
        fmt=fmt,
        deidentified=deidentify,
        painted=painted_pathologies(item.mask) if item.mask is not None else (),
        spacing_assumed_mm=item.spacing_assumed_mm,
    )


def painted_pathologies(mask: np.ndarray) -> list[str]:
    """The pathologies painted in a mask.

    Parameters
    ----------
    mask : ndarray
        Integer labels (:data:`conditions.LABELS`; 0 is background).

    Returns
    -------
    list of str
        The pathologies whose label values occur, in :data:`conditions.PATHOLOGIES` order.
    """
    present = set(np.unique(mask).tolist())
    return [PATHOLOGY_OF_LABEL[v] for v in sorted(present) if v in PATHOLOGY_OF_LABEL]


def export_dataset(
    items: Sequence[ExportItem],
    folder: str | Path,
    fmt: str = "tif",
    *,
    deidentify: bool = True,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Write images, masks and ``manifest.csv``/``manifest.json`` into ``folder``.

    Parameters
    ----------
    items : sequence of ExportItem
        What to write; names are made unique.
    folder : str or Path
        Created if missing.
    fmt : str
        "png" (16-bit), "tif" (float32) or "dcm" (Secondary Capture).
    deidentify : bool
        De-identify DICOM headers (default True). Raster files carry no header.

    Returns
    -------
    Path
        The manifest CSV.
    """
    fmt = fmt.lower().lstrip(".")
    fmt = "tif" if fmt == "tiff" else fmt
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not items:
        raise InputError("nothing to export: no image chosen")
    uid_map = UidMap()
    used: set[str] = set()
    rows = []
    # a folder made for an export that fails before writing (cancel, a refused item) is removed
    with output_folder(folder) as folder:
        for i, item in enumerate(items):
            check_cancel(cancel)
            stem = safe_name(item.name)
            base, n = stem, 1
            while stem in used:
                n += 1
                stem = f"{base}_{n}"
            used.add(stem)
            try:
                rows.append(
                    write_item(item, folder, stem, fmt, deidentify=deidentify, uid_map=uid_map)
                )
            except OSError as exc:
                raise InputError(f"cannot write ({exc.strerror or exc})", folder) from exc
            report(progress, i + 1, len(items))
        csv_path, _ = write_manifest(rows, folder)
    return csv_path
