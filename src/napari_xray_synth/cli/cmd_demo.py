"""``xray-synth demo --out DIR``: the whole job on the embedded default, no data needed."""

from __future__ import annotations

import argparse
from typing import Any

from napari_xray_synth.cli.progress_bar import progress_bar
from napari_xray_synth.core.demo import DEMO_PATHOLOGIES, run_demo


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on a built-in simulated radiograph",
        description=(
            "Simulate a low-dose chest radiograph, write it as DICOM and read it back, denoise "
            "it, synthesize variants with lesions, compare them with SSIM maps, and write "
            "images, masks, a montage and a report."
        ),
    )
    p.add_argument("--out", default="demo_out", help="output folder (made if missing)")
    p.add_argument("--seed", type=int, default=0, help="seed of everything random")
    p.add_argument("--size", type=int, default=1024, help="image side in pixels")
    p.add_argument("--method", choices=("gan", "physics"), default="gan")
    p.add_argument("--variants", type=int, default=2, help="variants per pathology")
    p.add_argument(
        "--pathologies",
        nargs="+",
        default=list(DEMO_PATHOLOGIES),
        metavar="P",
        help="pathologies to put in",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and say where everything went."""
    with progress_bar("demo") as progress:
        result = run_demo(
            args.out,
            seed=args.seed,
            size=args.size,
            method=args.method,
            variants=args.variants,
            pathologies=args.pathologies,
            progress=progress,
        )
    for note in result.notes:
        print(f"note: {note}")
    print(f"{len(result.files)} files in {result.folder}:")
    for r in result.rows:
        print(
            f"  {r['file']:<20} {r['pathology']:<13} SSIM outside lesion {r['ssim_outside']:.4f}"
            f"  inside {r['ssim_inside']:.4f}"
        )
    print(f"montage: {result.folder / 'montage.png'}   report: {result.folder / 'report.md'}")
    return 0
