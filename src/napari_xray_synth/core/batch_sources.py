"""The inputs of a batch: a folder of images, or a ChestX-ray14 / CheXpert style CSV.

* Folder: every ``.png .jpg .jpeg .tif .tiff .dcm .dicom`` file below it, sorted.
* ChestX-ray14 CSV (``Image Index``, ``Finding Labels``, ``View Position``, ...): the image is
  looked for beside the CSV, then in an ``images/`` folder beside it.
* CheXpert CSV (``Path``, ``Frontal/Lateral``, ...): ``Path`` relative to the CSV's folder, or
  to its parent (CheXpert's own paths start with the data set folder's name).
* Any CSV with a ``file`` or ``path`` column, relative to the CSV.

Lateral views are listed as failures: lesions are placed on frontal films only.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from napari_xray_synth.core.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm", ".dicom")


@dataclass(frozen=True)
class Source:
    """One input image.

    Attributes
    ----------
    path : Path
        Where it is.
    key : str
        Its identity in the data set: the path relative to the input folder or CSV (POSIX).
        Seeds and output names derive from it, not from where the data set lies.
    findings : str
        The source's own labels ("Finding Labels" of ChestX-ray14), if any.
    problem : str
        Why it cannot be used (a lateral view, say); empty when fine.
    """

    path: Path
    key: str
    findings: str = ""
    problem: str = ""


def _from_folder(folder: Path) -> list[Source]:
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    return [Source(p, p.relative_to(folder).as_posix()) for p in files]


def _locate(base: Path, rel: str, extra: tuple[Path, ...]) -> Path:
    for root in (base, *extra):
        cand = root / rel
        if cand.exists():
            return cand
    return base / rel


def _from_csv(path: Path) -> list[Source]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read the CSV ({exc})", path) from exc
    if not rows:
        raise InputError("the CSV has no rows", path)
    cols = set(rows[0])
    base = path.parent
    out = []
    for row in rows:
        findings, problem = "", ""
        if "Image Index" in cols:  # ChestX-ray14
            rel = row["Image Index"]
            file = _locate(base, rel, (base / "images",))
            findings = row.get("Finding Labels", "") or ""
            view = (row.get("View Position") or "").upper()
            if view and view not in ("PA", "AP"):
                problem = f"view {view}: lesions are placed on frontal films only"
        elif "Path" in cols:  # CheXpert
            rel = row["Path"]
            file = _locate(base, rel, (base.parent,))
            if (row.get("Frontal/Lateral") or "").lower() == "lateral":
                problem = "lateral view: lesions are placed on frontal films only"
        else:
            key = "file" if "file" in cols else "path" if "path" in cols else None
            if key is None:
                raise InputError(
                    "the CSV has none of the columns 'Image Index' (ChestX-ray14), "
                    "'Path' (CheXpert), 'file' or 'path'",
                    path,
                )
            rel = row[key]
            file = base / rel
            findings = row.get("finding_labels", "") or row.get("Finding Labels", "") or ""
        if not rel:
            continue
        out.append(Source(file, Path(rel).as_posix(), findings, problem))
    return out


def list_sources(input_path: str | Path) -> list[Source]:
    """The input images of a batch, in a fixed order.

    Raises
    ------
    InputError
        The input does not exist, is neither a folder nor a CSV, or holds no image.
    """
    p = Path(input_path)
    if not p.exists():
        raise InputError("no such file or folder", p)
    if p.is_dir():
        sources = _from_folder(p)
    elif p.suffix.lower() == ".csv":
        sources = _from_csv(p)
    else:
        raise InputError("the input is a folder of images or a CSV list of them", p)
    if not sources:
        raise InputError("no image found (.png, .jpg, .tif, .dcm)", p)
    keys = [s.key for s in sources]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise InputError(f"the image {dup!r} is listed twice", p)
    return sources
