"""``xray-synth evaluate synth``: FD/KID with the real-vs-real floor, conditioning AUC, examples."""

from __future__ import annotations

import argparse

from napari_xray_synth.cli.progress_bar import progress_bar
from napari_xray_synth.core.device import DEVICE_CHOICES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``evaluate synth``."""
    p = subparsers.add_parser(
        "synth",
        help="synthesis: FD/KID, precision/recall, conditioning AUC per pathology (report.md)",
        description=(
            "Give N healthy simulated chests every pathology with the generator, and measure "
            "them on the project's classifier features against simulator images: Fréchet "
            "distance, KID, precision/recall, density/coverage (with the real-against-real "
            "floor), conditioning accuracy and AUC per pathology, SSIM against the source. "
            "Writes REPORT_DIR/report.md with tables and PNG plots."
        ),
    )
    p.add_argument("--method", default="physics", choices=["gan", "physics"], help="generator")
    p.add_argument("--n", type=int, default=10, help="healthy sources (default: %(default)s)")
    p.add_argument("--size", type=int, default=512, help="simulated image side (default: 512)")
    p.add_argument("--dose", type=float, default=1.0, help="dose x simulator default (1)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    p.add_argument("--classifier", default="classifier", help="classifier model name or path")
    p.add_argument("--model", default=None, help="generator model for --method gan")
    p.add_argument(
        "--point-classifier",
        default="point_classifier",
        help="point classifier judging each finding at its point, or 'none' (default: %(default)s)",
    )
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="torch device")
    p.add_argument("--out", required=True, help="report folder (created)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the report and print its path."""
    from napari_xray_synth.core.evaluate import evaluate_synth

    with progress_bar("evaluating synthesis", quiet=args.quiet) as bar:
        path = evaluate_synth(
            args.out,
            method=args.method,
            n=args.n,
            size=args.size,
            seed=args.seed,
            dose=args.dose,
            classifier=args.classifier,
            generator=args.model,
            point_classifier=None if args.point_classifier == "none" else args.point_classifier,
            device=args.device,
            progress=bar,
        )
    print(path)
    return 0
