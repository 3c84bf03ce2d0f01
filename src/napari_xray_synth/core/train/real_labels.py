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

from napari_xray_synth.core.conditions import LABELS, SIZE_RANGE_MM, Condition
from napari_xray_synth.core.errors import InputError

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
_PATHOLOGY_OF_LABEL = {v: k for k, v in LABELS.items()}


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


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return list(csv.DictReader(fh))
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

    Raises
    ------
    InputError
        The file cannot be read, has neither format's columns, or a mask is unreadable or
        holds a label that is not a pathology.
    """
    path = Path(path)
    rows = _rows(path)
    root = Path(images) if images else path.parent
    header = set(rows[0]) if rows else set()
    if "Image Index" in header:
        return _nih_rows(rows, root)
    if {"file", "mask"} <= header:
        return _manifest_rows(rows, root)
    raise InputError(
        "needs ChestX-ray14 columns ('Image Index', 'Finding Label', 'Bbox [x,y,w,h]') or an "
        "exported data set's manifest ('file', 'mask')",
        path,
    )


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


def read_mask(path: Path) -> np.ndarray:
    """A label mask (PNG or TIFF, as the Export widget writes them) as a 2-D integer array."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            m = tifffile.imread(path)
        else:
            import imageio.v3 as iio

            m = iio.imread(path)
    except FileNotFoundError as exc:
        raise InputError("no such mask file", path) from exc
    except Exception as exc:  # the decoders raise many types for a damaged file
        raise InputError(f"cannot read the mask ({exc})", path) from exc
    m = np.asarray(m)
    if m.ndim != 2 or not np.issubdtype(m.dtype, np.integer):
        raise InputError(f"a mask is one 2-D label image, got {m.dtype} {m.shape}", path)
    return m


def mask_lesions(mask: np.ndarray, where: Path) -> list[tuple[str, tuple[float, ...]]]:
    """(pathology, (x, y, w, h)) of every painted region of ``mask``, largest first per label.

    Raises
    ------
    InputError
        A label value that is not one of :data:`conditions.LABELS`.
    """
    out = []
    for value in np.unique(mask):
        if value == 0:
            continue
        if int(value) not in _PATHOLOGY_OF_LABEL:
            names = ", ".join(f"{v} {p}" for v, p in sorted(_PATHOLOGY_OF_LABEL.items()))
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
            out.append((_PATHOLOGY_OF_LABEL[int(value)], box))
    return out


def _manifest_rows(rows: list[dict[str, str]], root: Path) -> list[LabelledImage]:
    """Real images of an export: a lesion per painted region, healthy when nothing is painted."""
    out = []
    for row in rows:
        if _truthy(row.get("synthetic")) or not (row.get("file") or "").strip():
            continue
        image = root / row["file"].strip()
        spacing = _spacing(row)
        mask_rel = (row.get("mask") or "").strip()
        mask = read_mask(root / mask_rel) if mask_rel else None
        lesions = [] if mask is None else mask_lesions(mask, root / mask_rel)
        frame = None if mask is None else (int(mask.shape[0]), int(mask.shape[1]))
        if not lesions:
            out.append(LabelledImage(image, "", None, spacing, frame))
        out += [LabelledImage(image, p, box, spacing, frame) for p, box in lesions]  # type: ignore
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
