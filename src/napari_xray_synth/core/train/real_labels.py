"""Labelled real images for unpaired GAN training: the lesions, and which images are healthy.

Two formats are read, told apart by their columns:

* a ChestX-ray14-style CSV (``Image Index``, ``Finding Label(s)``, ``Bbox [x,y,w,h]`` or NIH's
  split ``Bbox [x``, ``y``, ``w``, ``h]`` columns): one lesion per row with a box;
* a data set written by our Export widget (``manifest.csv`` with ``file`` and ``mask``): every
  connected region of a mask is one lesion, its label value naming the pathology
  (:data:`conditions.LABELS`: 1 nodule ... 6 cardiomegaly), its bounding box its extent. So a
  radiologist paints lesions on their own films in napari, exports, and trains on them. Synthetic
  rows are left out (the discriminator's real set must be real); images without a painted
  lesion are the healthy inputs.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from napari_xray_synth.core.conditions import SIZE_RANGE_MM, Condition
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.export import PATHOLOGY_OF_LABEL
from napari_xray_synth.core.export.raster import read_mask_file

#: ChestX-ray14 finding names -> our pathologies.
NIH_FINDINGS = {
    "nodule": "nodule",
    "mass": "mass",
    "effusion": "effusion",
    "pneumothorax": "pneumothorax",
    "consolidation": "consolidation",
    "infiltrate": "consolidation",
    "infiltration": "consolidation",
    "pneumonia": "consolidation",
    "cardiomegaly": "cardiomegaly",
}
#: Painted regions smaller than this many pixels are brush specks, not lesions.
MIN_REGION_PX = 4


@dataclass(frozen=True)
class LabelledImage:
    """One lesion of a real image (``finding`` and ``box``), or a healthy image (``finding`` "")."""

    path: Path
    finding: str  # our pathology name, or "" for no finding
    box: tuple[float, float, float, float] | None  # x, y, w, h in pixels
    spacing_mm: float | None = None  # from the manifest, for files that carry none
    frame: tuple[int, int] | None = None  # shape of the mask the box was read from


def _box(row: dict[str, str]) -> tuple[float, float, float, float] | None:
    for key, val in row.items():
        if key and key.strip().lower().startswith("bbox") and val and "," in val:
            nums = [float(v) for v in re.findall(r"[-+]?\d*\.?\d+", val)]
            if len(nums) == 4:
                return tuple(nums)  # type: ignore[return-value]
    # NIH's BBox_List_2017.csv header splits the column: "Bbox [x", "y", "w", "h]"
    keys = {k.strip(): v for k, v in row.items() if k}
    if all(k in keys and keys[k] for k in ("Bbox [x", "y", "w", "h]")):
        return tuple(float(keys[k]) for k in ("Bbox [x", "y", "w", "h]"))  # type: ignore
    return None


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path) from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"is not a readable CSV ({exc})", path) from exc


def read_labels(path: str | Path, images: str | Path | None = None) -> list[LabelledImage]:
    """The lesions and healthy images listed by a ChestX-ray14-style CSV or an export manifest.

    Parameters
    ----------
    path : str or Path
        The CSV.
    images : str or Path, optional
        Folder the CSV's image (and mask) paths are relative to (default: the CSV's folder).

    Returns
    -------
    list of LabelledImage
        One per lesion (``finding`` set) and one per healthy image (``finding`` "").

    Raises
    ------
    InputError
        The file cannot be read, has neither format's columns, lists no images, is a manifest
        without a ``synthetic`` column (not an export of films), or a mask is unreadable or
        holds a label that is not a pathology.
    """
    path = Path(path)
    header, rows = _rows(path)
    root = Path(images) if images else path.parent
    if "Image Index" in header:
        kind = "nih"
    elif {"file", "mask"} <= set(header):
        if "synthetic" not in header:
            raise InputError(
                "has no 'synthetic' column, so real films cannot be told from simulated or "
                "synthetic ones; export the films with the Export widget",
                path,
            )
        kind = "manifest"
    else:
        raise InputError(
            "needs ChestX-ray14 columns ('Image Index', 'Finding Label', 'Bbox [x,y,w,h]') or "
            "an exported data set's manifest ('file', 'mask', 'synthetic')",
            path,
        )
    if not rows:
        raise InputError("lists no images", path)
    return _nih_rows(rows, root) if kind == "nih" else _manifest_rows(rows, root)


def _nih_rows(rows: list[dict[str, str]], root: Path) -> list[LabelledImage]:
    """Rows with an unknown finding or a finding without a box are skipped."""
    out = []
    for row in rows:
        label = (row.get("Finding Label") or row.get("Finding Labels") or "").strip()
        box = _box(row)
        finding = ""
        if label.lower() not in ("no finding", ""):
            names = [NIH_FINDINGS.get(s.strip().lower()) for s in label.split("|")]
            names = [n for n in names if n]
            if not names or box is None:
                continue  # a finding we do not make, or no place for it
            finding = names[0]
        out.append(LabelledImage(root / row["Image Index"].strip(), finding, box))
    return out


def _truthy(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("true", "yes", "1")


def _spacing(row: dict[str, str]) -> float | None:
    vals = []
    for key in ("spacing_row_mm", "spacing_col_mm"):
        try:
            vals.append(float(row.get(key) or ""))
        except ValueError:
            return None
    return float(np.mean(vals)) if all(v > 0 for v in vals) else None


def read_label_mask(path: Path) -> np.ndarray:
    """A label mask of an export (PNG or TIFF) as a 2-D integer array.

    Raises
    ------
    InputError
        Naming the file: missing, unreadable, not 2-D or not integer labels.
    """
    m = read_mask_file(path)
    if not np.issubdtype(m.dtype, np.integer):
        raise InputError(f"a mask holds integer labels, got {m.dtype}", path)
    return m


Box = tuple[float, float, float, float]


def mask_lesions(mask: np.ndarray, where: Path) -> list[tuple[str, Box]]:
    """Every painted region of ``mask`` (label by label, in scan order) as a lesion.

    Parameters
    ----------
    mask : ndarray
        2-D integer labels (:data:`conditions.LABELS`; 0 is background).
    where : Path
        The mask's file, for messages.

    Returns
    -------
    list of (str, (x, y, w, h))
        Pathology and bounding box in pixels; regions under :data:`MIN_REGION_PX` are left out.

    Raises
    ------
    InputError
        A label value that is not one of :data:`conditions.LABELS`.
    """
    out: list[tuple[str, Box]] = []
    for value in np.unique(mask):
        if value == 0:
            continue
        if int(value) not in PATHOLOGY_OF_LABEL:
            names = ", ".join(f"{v} {p}" for v, p in sorted(PATHOLOGY_OF_LABEL.items()))
            raise InputError(f"holds label {int(value)}, which is no pathology ({names})", where)
        regions, _ = ndimage.label(mask == value, structure=np.ones((3, 3), bool))
        for sl, n_px in zip(
            ndimage.find_objects(regions),
            np.bincount(regions.ravel())[1:],
            strict=True,
        ):
            if sl is None or n_px < MIN_REGION_PX:
                continue
            rows, cols = sl
            box = (float(cols.start), float(rows.start), float(cols.stop - cols.start),
                   float(rows.stop - rows.start))  # fmt: skip
            out.append((PATHOLOGY_OF_LABEL[int(value)], box))
    return out


def _manifest_rows(rows: list[dict[str, str]], root: Path) -> list[LabelledImage]:
    """Real images of an export: a lesion per painted region, healthy when nothing is painted.

    A film whose paint is all specks (regions under :data:`MIN_REGION_PX`) is left out: it was
    annotated, so it is not known to be healthy.
    """
    out = []
    for row in rows:
        if _truthy(row.get("synthetic")) or not (row.get("file") or "").strip():
            continue
        image = root / row["file"].strip()
        spacing = _spacing(row)
        mask_rel = (row.get("mask") or "").strip()
        mask = read_label_mask(root / mask_rel) if mask_rel else None
        lesions = [] if mask is None else mask_lesions(mask, root / mask_rel)
        frame = None if mask is None else (int(mask.shape[0]), int(mask.shape[1]))
        if not lesions and mask is not None and mask.any():
            continue  # only specks painted
        if not lesions:
            out.append(LabelledImage(image, "", None, spacing, frame))
        out += [LabelledImage(image, p, box, spacing, frame) for p, box in lesions]
    return out


def box_condition(
    finding: str, box: tuple[float, float, float, float], shape: tuple[int, int], px: float
) -> Condition:
    """A condition from a labelled box: centre of the box, size from its extent (clamped)."""
    x, y, w, h = box
    size = {"effusion": h, "cardiomegaly": w, "pneumothorax": 0.3 * w}.get(finding, max(w, h))
    lo, hi = SIZE_RANGE_MM[finding]
    center = (min(max(y + h / 2, 0), shape[0] - 1), min(max(x + w / 2, 0), shape[1] - 1))
    return Condition(finding, center, float(np.clip(size * px, lo, hi)), 0.8)
