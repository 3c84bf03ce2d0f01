"""The manifest of an exported data set: one row per item, written as CSV and JSON atomically."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from napari_xray_synth.core.atomic import atomic_path
from napari_xray_synth.core.conditions import Condition
from napari_xray_synth.core.radiograph import Radiograph

#: Columns always present, in this order; condition columns follow.
BASE_COLUMNS = (
    "id",
    "file",
    "mask",
    "source",
    "pathology",
    "seed",
    "synthetic",
    "method",
    "model_id",
    "model_sha256",
    "format",
    "deidentified",
    "spacing_row_mm",
    "spacing_col_mm",
    # the pixel size assumed for a film without one, which its lesions were synthesized (and it
    # shown) at: size_mm / this = pixels. Never written as the film's spacing
    "spacing_assumed_mm",
)
CONDITION_COLUMNS = (
    "center_row",
    "center_col",
    "size_mm",
    "severity",
    "side",
    "margin",
    "shape_seed",
)


def generation_step(rg: Radiograph) -> dict[str, Any]:
    """Method, model and seed of the last step that made the image (synthesis), if any."""
    for step in reversed(rg.provenance):
        if step.model_id or step.seed is not None or step.operation == "synthesize":
            params = dict(step.parameters)
            return {
                "method": params.get("method", step.operation),
                "model_id": step.model_id or "",
                "model_sha256": step.model_sha256 or "",
                "seed": step.seed,
            }
    return {"method": "", "model_id": "", "model_sha256": "", "seed": None}


def assumed_spacing(rg: Radiograph) -> float | None:
    """The pixel size assumed for ``rg`` (a film without one) by its last step that recorded
    one (synthesis: ``spacing_assumed_mm``), else None."""
    for step in reversed(rg.provenance):
        value = step.parameters.get("spacing_assumed_mm")
        if value:
            return float(value)
    return None


def manifest_row(
    item_id: str,
    rg: Radiograph,
    file: str,
    mask: str | None,
    conditions: Sequence[Condition] = (),
    seed: int | None = None,
    fmt: str = "",
    deidentified: bool = True,
    source: str | None = None,
    painted: Sequence[str] = (),
    spacing_assumed_mm: float | None = None,
) -> dict[str, Any]:
    """One manifest row. Several conditions are joined with ';' in each condition column.

    Parameters
    ----------
    item_id : str
        Unique id of the item in the data set.
    rg : Radiograph
        The exported image (its provenance gives method, model and source).
    file, mask : str
        Paths relative to the data set folder.
    conditions : sequence of Condition
        What was put into the image.
    seed : int, optional
        The item's seed; by default the seed of its last generation step.
    fmt : str
        Image format written.
    deidentified : bool
        Whether DICOM output was de-identified (raster output has no header at all).
    source : str, optional
        The source image; by default ``rg.source``.
    painted : sequence of str
        Pathologies painted in the mask of an image with no conditions (an annotated film):
        the ``pathology`` column lists them.
    spacing_assumed_mm : float, optional
        The pixel size a film without one was shown at (napari), used when ``rg`` has no
        spacing. The one its synthesis assumed (:func:`assumed_spacing`) comes first: its
        ``size_mm`` was drawn at it, even if a pixel size was set afterwards.
    """
    gen = generation_step(rg)
    row: dict[str, Any] = {
        "id": item_id,
        "file": file,
        "mask": mask or "",
        "source": source if source is not None else (rg.source or ""),
        "pathology": ";".join([c.pathology for c in conditions] or list(painted)),
        "seed": seed if seed is not None else ("" if gen["seed"] is None else gen["seed"]),
        "synthetic": bool(rg.synthetic),
        "method": gen["method"],
        "model_id": gen["model_id"],
        "model_sha256": gen["model_sha256"],
        "format": fmt,
        "deidentified": bool(deidentified),
        "spacing_row_mm": rg.spacing[0] if rg.spacing else "",
        "spacing_col_mm": rg.spacing[1] if rg.spacing else "",
        "spacing_assumed_mm": "",
    }
    assumed = assumed_spacing(rg) or (None if rg.spacing else spacing_assumed_mm)
    if assumed:
        row["spacing_assumed_mm"] = float(assumed)
    dicts = [c.to_dict() for c in conditions]
    for col in CONDITION_COLUMNS:
        row[col] = ";".join("" if d[col] is None else _fmt(d[col]) for d in dicts)
    row["conditions"] = json.dumps(dicts)
    return row


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def write_manifest(rows: Iterable[Mapping[str, Any]], folder: str | Path) -> tuple[Path, Path]:
    """Write ``manifest.csv`` and ``manifest.json`` in ``folder``, both atomically.

    Rows are sorted by ``id`` so that the manifest does not depend on the order work finished.

    Returns
    -------
    (Path, Path)
        The CSV and JSON files.
    """
    folder = Path(folder)
    rows = sorted((dict(r) for r in rows), key=lambda r: str(r.get("id", "")))
    columns = list(BASE_COLUMNS) + list(CONDITION_COLUMNS) + ["conditions"]
    for r in rows:
        columns += [k for k in r if k not in columns]
    csv_path, json_path = folder / "manifest.csv", folder / "manifest.json"
    with atomic_path(csv_path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _csv_value(r.get(k, "")) for k in columns})
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(rows, indent=1, default=str) + "\n", encoding="utf-8")
    return csv_path, json_path


def _csv_value(v: Any) -> Any:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else v


def read_manifest(folder: str | Path) -> list[dict[str, str]]:
    """The rows of ``folder/manifest.csv`` as dictionaries of strings."""
    with open(Path(folder) / "manifest.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
