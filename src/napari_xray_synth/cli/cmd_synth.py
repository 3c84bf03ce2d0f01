"""``xray-synth synth``: pathology-conditioned variants of a radiograph, masks and a manifest."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np

from napari_xray_synth.core.errors import InputError, PlacementError


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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", choices=("gan", "physics"), default="gan")
    p.add_argument("--model", default="generator", help="generator model name or path")
    p.add_argument(
        "--spacing",
        type=float,
        default=None,
        help="pixel size in mm for files that carry none (PNG, JPEG)",
    )
    p.add_argument("--device", default="auto")
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
    from napari_xray_synth.cli.progress_bar import progress_bar
    from napari_xray_synth.core.atomic import atomic_path
    from napari_xray_synth.core.conditions import Condition
    from napari_xray_synth.core.io import read_radiograph, write_image
    from napari_xray_synth.core.synthesize import DEFAULT_SPACING_MM, synthesize

    src = Path(args.input)
    if args.spacing is not None and not args.spacing > 0:
        raise InputError(f"--spacing must be a positive number of mm, got {args.spacing}")
    rg = read_radiograph(src, spacing=args.spacing)
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
    if args.variants < 1:
        raise InputError(f"--variants must be 1 or more, got {args.variants}")
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
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, v in enumerate(variants):
        name = f"{src.stem}_{args.pathology}_{k:03d}"
        write_image(v.radiograph, out / f"{name}.tif", window="full")
        _write_mask(v.mask, out / f"{name}_mask.tif", v.radiograph.spacing)
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
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(out / "manifest.csv") as tmp:
        tmp.write_text(buf.getvalue())
    print(f"wrote {len(variants)} variants, their masks and manifest.csv to {out}")
    return 0
