"""``xray-synth simulate OUT_DIR``: simulated chest radiographs with masks and a manifest."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from napari_xray_synth.cli.progress_bar import progress_bar
from napari_xray_synth.core.atomic import atomic_path, output_folder
from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.export.manifest import CONDITION_COLUMNS
from napari_xray_synth.core.io.raster import write_tiff
from napari_xray_synth.core.progress import report
from napari_xray_synth.core.radiograph import Radiograph
from napari_xray_synth.core.simulate import DEFAULT_DOSE, MIN_SIZE, simulate_chest

CHOICES = ("none", *PATHOLOGIES, "random")
COLUMNS = (
    "file",
    "mask",
    "pathology",
    "seed",
    "dose",
    "spacing_mm",
    "size",
    "sex",
    *CONDITION_COLUMNS,
    "clean",
    "healthy",
    "healthy_clean",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``simulate`` to the CLI."""
    p = subparsers.add_parser(
        "simulate",
        help="write simulated chest radiographs, lesion masks and a manifest",
        description=(
            "Simulate PA chest radiographs (float32 TIFF in [0, 1], MONOCHROME2) with exact "
            "lesion masks (uint8 TIFF, values 1-6 = " + ", ".join(PATHOLOGIES) + ") and "
            "OUT_DIR/manifest.csv. Image i uses seed SEED + i."
        ),
    )
    p.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="folder to write (created)")
    p.add_argument("--n", type=int, default=10, help="number of images (default 10)")
    p.add_argument("--size", type=int, default=1024, help="image side in pixels (default 1024)")
    p.add_argument(
        "--pathology",
        choices=CHOICES,
        default="random",
        help="lesion to put in each image (default random; none = healthy)",
    )
    p.add_argument(
        "--dose",
        type=float,
        default=DEFAULT_DOSE,
        help=f"photons per mm² without the patient (default {DEFAULT_DOSE:g})",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the first image (default 0)")
    p.add_argument("--no-noise", action="store_true", help="write noise-free images")
    p.add_argument("--clean", action="store_true", help="also write the noise-free image")
    p.add_argument("--pairs", action="store_true", help="also write the healthy image")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def write_image(path: Path, rg: Radiograph) -> None:
    """A float32 TIFF through the core writer: spacing as resolution, metadata as JSON."""
    write_tiff(rg, path)


def write_mask(path: Path, mask: np.ndarray) -> None:
    """A uint8 label TIFF."""
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, mask.astype(np.uint8), metadata=None)


def _simulate_into(out: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Write the images, masks and manifest into ``out``; the manifest's rows."""
    rows: list[dict[str, Any]] = []
    cond_arg = None if args.pathology == "none" else args.pathology
    width = max(len(str(args.seed + args.n - 1)), 5)
    with progress_bar("simulate", quiet=args.quiet) as bar:
        report(bar, 0, args.n)
        for i in range(args.n):
            seed = args.seed + i
            case = simulate_chest(
                seed, args.size, cond_arg, dose=args.dose, noise=not args.no_noise
            )
            stem = f"chest_{seed:0{width}d}"
            row: dict[str, Any] = dict.fromkeys(COLUMNS, "")
            row.update(
                seed=seed,
                dose=f"{case.dose:g}",
                spacing_mm=f"{case.spacing:.6g}",
                size=args.size,
                sex=case.anatomy.get("sex", ""),
                pathology="none",
            )
            main = case.diseased if case.diseased is not None else case.healthy
            clean = case.diseased_clean if case.diseased is not None else case.healthy_clean
            write_image(out / f"{stem}.tif", main)
            row["file"] = f"{stem}.tif"
            if args.clean:
                write_image(out / f"{stem}_clean.tif", clean)
                row["clean"] = f"{stem}_clean.tif"
            if case.conditions:
                cond = case.conditions[0]
                row["pathology"] = cond.pathology
                d = cond.to_dict()
                row.update({k: ("" if d[k] is None else d[k]) for k in CONDITION_COLUMNS})
                for k in ("center_row", "center_col", "size_mm", "severity"):
                    row[k] = f"{float(d[k]):.4f}"
                write_mask(out / f"{stem}_mask.tif", case.mask)
                row["mask"] = f"{stem}_mask.tif"
                if args.pairs:
                    write_image(out / f"{stem}_healthy.tif", case.healthy)
                    row["healthy"] = f"{stem}_healthy.tif"
                    if args.clean:
                        write_image(out / f"{stem}_healthy_clean.tif", case.healthy_clean)
                        row["healthy_clean"] = f"{stem}_healthy_clean.tif"
            rows.append(row)
            report(bar, i + 1, args.n)
    with atomic_path(out / "manifest.csv") as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(rows)
    return rows


def run(args: argparse.Namespace) -> int:
    """Simulate ``args.n`` images into ``args.out_dir``."""
    if args.n < 1:
        raise InputError(f"--n must be at least 1, got {args.n}")
    if args.size < MIN_SIZE:
        raise InputError(f"--size must be at least {MIN_SIZE} pixels, got {args.size}")
    if args.seed < 0:
        raise InputError(f"--seed must be 0 or more, got {args.seed}")
    out: Path = args.out_dir
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", out)
    # a refused run (a --dose the simulator rejects, Ctrl-C) leaves no empty folder behind
    with output_folder(out):
        rows = _simulate_into(out, args)
    print(f"wrote {len(rows)} images and {out / 'manifest.csv'}")
    return 0
