"""``xray-synth synth``: pathology-conditioned variants of a radiograph, masks and a manifest."""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from napari_xray_synth.core.errors import InputError, PlacementError

if TYPE_CHECKING:
    from napari_xray_synth.core.conditions import Condition
    from napari_xray_synth.core.radiograph import Radiograph


def _point(text: str) -> tuple[float, float]:
    try:
        r, c = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected ROW,COL in pixels, got {text!r}") from exc
    return r, c


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``synth``."""
    from napari_xray_synth.core.conditions import PATHOLOGIES

    p = subparsers.add_parser(
        "synth",
        help="make pathology-conditioned variants of a radiograph",
        description="Put a pathology at the given points and write N variants (float32 TIFF, "
        "pixel values as in the input's [0, 1] scale), their label masks (uint8 TIFF) and "
        "OUT_DIR/manifest.csv.",
    )
    p.add_argument("input", metavar="IN", help="radiograph (DICOM, TIFF, PNG, JPEG)")
    p.add_argument("out_dir", metavar="OUT_DIR", help="output folder (created)")
    p.add_argument("--pathology", required=True, choices=PATHOLOGIES)
    p.add_argument(
        "--at",
        type=_point,
        action="append",
        required=True,
        metavar="ROW,COL",
        help="lesion centre in pixels; repeat for several lesions",
    )
    p.add_argument("--size-mm", type=float, required=True, help="lesion size in mm")
    p.add_argument("--severity", type=float, default=0.8, help="0..1 (default 0.8)")
    p.add_argument("--variants", type=int, default=4, help="how many variants (default 4)")
    p.add_argument(
        "--seed", type=int, default=0, help="batch seed; variant k has its own (default 0)"
    )
    p.add_argument(
        "--method",
        choices=("gan", "physics"),
        default="gan",
        help="the trained conditional GAN or the physics baseline (default gan)",
    )
    p.add_argument("--model", default="generator", help="generator model name or path")
    p.add_argument(
        "--spacing",
        type=float,
        default=None,
        help="pixel size in mm for files that carry none (PNG, JPEG); a file's own is kept",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    p.add_argument(
        "--lung-clip",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="clip effusion, pneumothorax and consolidation to the lung field estimated from "
        "the image (default: on)",
    )
    p.set_defaults(func=run)


def _write_mask(mask: np.ndarray, path: Path, spacing: tuple[float, float] | None) -> None:
    import tifffile

    from napari_xray_synth.core.atomic import atomic_path

    with atomic_path(path) as tmp:
        kw = {}
        if spacing:
            kw = {"resolution": (10.0 / spacing[1], 10.0 / spacing[0]), "resolutionunit": 3}
        tifffile.imwrite(tmp, mask.astype(np.uint8), photometric="minisblack", **kw)


def run(args: argparse.Namespace) -> int:
    """Read, synthesize, write variants, masks and the manifest."""
    from napari_xray_synth.core.atomic import output_folder
    from napari_xray_synth.core.conditions import Condition
    from napari_xray_synth.core.io import read_radiograph
    from napari_xray_synth.core.synthesize import DEFAULT_SPACING_MM, MAX_VARIANTS

    src = Path(args.input)
    if not 1 <= args.variants <= MAX_VARIANTS:
        raise InputError(
            f"--variants must be 1 to {MAX_VARIANTS}, got {args.variants} (every variant is held "
            "in memory; run again with another --seed for more, or use augment)"
        )
    if args.spacing is not None and not args.spacing > 0:
        raise InputError(f"--spacing must be a positive number of mm, got {args.spacing}")
    rg = read_radiograph(src)
    if rg.spacing is not None and args.spacing is not None:
        print(
            f"xray-synth: note: {src} carries its own pixel spacing "
            f"({rg.spacing[0]:g} x {rg.spacing[1]:g} mm, {rg.spacing_source}); --spacing ignored",
            file=sys.stderr,
        )
    elif args.spacing is not None:
        rg = rg.with_spacing((args.spacing, args.spacing), "user (--spacing)")
    if rg.spacing is None:
        print(
            f"xray-synth: warning: {src} carries no pixel spacing and no --spacing was given; "
            f"assuming {DEFAULT_SPACING_MM} mm per pixel (recorded in the provenance). "
            "Sizes in mm are only right if that is the detector's pixel size.",
            file=sys.stderr,
        )
    conds = [
        Condition(args.pathology, at, args.size_mm, args.severity, shape_seed=args.seed + i)
        for i, at in enumerate(args.at)
    ]
    for c in conds:
        try:
            c.check_inside(rg.shape)
        except InputError as exc:
            raise InputError(exc.reason, src) from exc
    out = Path(args.out_dir)
    # a failed run (unknown model, refused placement, Ctrl-C) leaves no empty folder behind
    with output_folder(out):
        _check_writable(out)
        return _write_variants(args, rg, conds, src, out)


def _write_variants(
    args: argparse.Namespace, rg: Radiograph, conds: list[Condition], src: Path, out: Path
) -> int:
    """Synthesize the variants and move them, their masks and the manifest into ``out``."""
    from napari_xray_synth.cli.progress_bar import progress_bar
    from napari_xray_synth.core.io import write_image
    from napari_xray_synth.core.synthesize import clipped_to_sliver, synthesize

    with progress_bar("synthesizing") as prog:
        try:
            variants = synthesize(
                rg,
                conds,
                args.variants,
                args.seed,
                args.method,
                args.model,
                args.device,
                progress=prog,
                regions="lung" if args.lung_clip else None,
            )
        except PlacementError as exc:
            raise PlacementError(exc.reason, src) from exc
    for line in clipped_to_sliver(variants[0]):
        print(f"xray-synth: warning: {src}: {line}", file=sys.stderr)
    rows = []
    # everything is written into a staging folder first and moved in at the end: a failure
    # half-way leaves no variant without its mask or its manifest row
    stage = Path(tempfile.mkdtemp(prefix=".synth-", dir=out))
    try:
        for k, v in enumerate(variants):
            name = f"{src.stem}_{args.pathology}_{k:03d}"
            write_image(v.radiograph, stage / f"{name}.tif", window="full")
            _write_mask(v.mask, stage / f"{name}_mask.tif", v.radiograph.spacing)
            rows.extend(_rows(v, k, name, src, args))
        kept = _earlier_rows(out, {r["file"] for r in rows})
        _write_manifest(stage / "manifest.csv", kept + rows)
        files = sorted(f for f in stage.iterdir() if f.name != "manifest.csv")
        for f in [*files, stage / "manifest.csv"]:
            if (out / f.name).is_dir():
                raise InputError(f"{f.name} there is a folder; nothing was written", out)
        for f in [*files, stage / "manifest.csv"]:  # the manifest last
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    more = f" (and {len(kept)} earlier rows kept)" if kept else ""
    n = len(variants)
    print(f"wrote {n} variant{'s' if n > 1 else ''}, masks and manifest.csv{more} to {out}")
    return 0


def _check_writable(out: Path) -> None:
    """Say in one line, before any work, when the output folder cannot be written."""
    try:
        probe = Path(tempfile.mkdtemp(prefix=".synth-", dir=out))
        probe.rmdir()
    except OSError as exc:
        raise InputError(f"cannot write the output ({exc.strerror or exc})", out) from exc


def _earlier_rows(out: Path, replaced: set[str]) -> list[dict[str, str]]:
    """Rows of an earlier run's manifest in ``out`` whose files this run does not replace."""
    path = out / "manifest.csv"
    if not path.is_file():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"holds an unreadable manifest.csv ({exc})", out) from exc
    if rows and "file" not in rows[0]:
        raise InputError("holds a manifest.csv that synth did not write (no 'file' column)", out)
    return [r for r in rows if r["file"] not in replaced]


def _write_manifest(path: Path, rows: list[dict]) -> None:
    fields: list[str] = []
    for r in rows:
        fields.extend(k for k in r if k not in fields)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, restval="")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _rows(v, k: int, name: str, src: Path, args: argparse.Namespace) -> list[dict]:
    """The manifest rows of variant ``k`` (one per lesion)."""
    rows = []
    step = v.radiograph.provenance[-1]
    for i, c in enumerate(v.conditions):
        rows.append(
            {
                "file": f"{name}.tif",
                "mask": f"{name}_mask.tif",
                "variant": k,
                "lesion": i,
                **{k2: val for k2, val in c.to_dict().items()},
                "seed": v.seed,
                "batch_seed": args.seed,
                "method": args.method,
                "model_id": step.model_id,
                "model_sha256": step.model_sha256 or "",
                "spacing_mm": step.parameters["spacing_mm"],
                "spacing_assumed": "spacing_assumed_mm" in step.parameters,
                "source": str(src),
                "synthetic": True,
            }
        )
    return rows
