"""``xray-synth evaluate denoise``: PSNR and SSIM against dose, SSIM maps and examples."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from napari_xray_synth.cli import PROG
from napari_xray_synth.cli.progress_bar import progress_bar
from napari_xray_synth.core.errors import InputError


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas: {text!r}") from exc
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError("doses must be positive numbers")
    return values


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``evaluate denoise``."""
    p = subparsers.add_parser(
        "denoise",
        help="denoising: PSNR/SSIM against dose, SSIM maps, examples (report.md)",
        description=(
            "Denoise simulated chests (or a folder of images used as references, with noise "
            "added) at several doses with each method, and write REPORT_DIR/report.md with "
            "PSNR and SSIM tables and plots against dose, SSIM maps and a montage."
        ),
    )
    p.add_argument("--data", default="sim", help="'sim' or a folder of images (default: sim)")
    p.add_argument(
        "--method",
        action="append",
        dest="methods",
        help="denoising method; repeat for several (default: model, gaussian, tv)",
    )
    p.add_argument(
        "--doses",
        type=_floats,
        default=[0.01, 0.03, 0.1, 0.3, 1.0],
        help="doses relative to the simulator default, comma-separated (default: %(default)s)",
    )
    p.add_argument("--n", type=int, default=3, help="images (default: %(default)s)")
    p.add_argument("--size", type=int, default=512, help="simulated image side (default: 512)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    p.add_argument("--out", required=True, help="report folder (created)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the report and print its path."""
    from napari_xray_synth.core.evaluate import evaluate_denoise

    if args.n < 1 or args.size < 32:
        raise InputError("--n must be at least 1 and --size at least 32")
    with progress_bar("evaluating denoising", quiet=args.quiet) as bar:
        path = evaluate_denoise(
            args.out,
            data=args.data,
            methods=tuple(args.methods or ("model", "gaussian", "tv")),
            doses=args.doses,
            n_images=args.n,
            size=args.size,
            seed=args.seed,
            progress=bar,
        )
    # how many images the numbers rest on (a folder may hold fewer readable ones than --n)
    metrics = json.loads((path.parent / "metrics.json").read_text(encoding="utf-8"))
    for s in metrics["skipped"]:
        where = Path(args.data, s["file"])
        print(f"{PROG}: warning: skipped {where}: {s['reason']}", file=sys.stderr)
    n_used = metrics["n_images"]
    count = f"{n_used} of --n {args.n}" if n_used < args.n else f"{n_used}"
    methods = len(args.methods or ("model", "gaussian", "tv"))
    print(
        f"evaluated {count} image{'s' if n_used != 1 or n_used < args.n else ''} at "
        f"{len(args.doses)} dose(s) with {methods} method(s)"
    )
    print(path)
    return 0
