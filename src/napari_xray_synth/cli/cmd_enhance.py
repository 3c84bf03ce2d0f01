"""``xray-synth enhance IN OUT``: CLAHE, unsharp mask, detail gains and gamma on a radiograph."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``enhance`` subcommand."""
    from napari_xray_synth.core.enhance import RANGES

    def rng(key: str) -> str:
        return RANGES[key].text()

    p = subparsers.add_parser(
        "enhance",
        help="enhance a radiograph: CLAHE, unsharp mask, detail gains, gamma",
        description="Enhance a radiograph and write it as 'convert' does (.tif float32 in [0, 1], "
        ".png 16-bit). Steps run in the order window, CLAHE, unsharp, detail, gamma; each only "
        "when given with a value that changes the image; at least one must be.",
    )
    p.add_argument("input", help="the radiograph to read (DICOM, TIFF, PNG, JPEG)")
    p.add_argument("output", help="the file to write: .tif, .tiff or .png")
    p.add_argument(
        "--clahe",
        type=float,
        default=None,
        metavar="CLIP",
        help=f"CLAHE clip limit, {rng('clahe')} (0: off; 1: no limit)",
    )
    p.add_argument(
        "--unsharp",
        type=float,
        default=None,
        metavar="AMOUNT",
        help=f"unsharp amount, {rng('unsharp')} (0: off)",
    )
    p.add_argument(
        "--unsharp-radius",
        type=float,
        default=2.0,
        help=f"unsharp blur sigma in pixels, {rng('unsharp_radius')} (default 2)",
    )
    p.add_argument(
        "--detail",
        type=float,
        nargs="+",
        default=None,
        metavar="GAIN",
        help=f"Laplacian-pyramid gains, finest first, each {rng('detail')} (1: band unchanged; "
        "e.g. 1.5 1.3 1.1)",
    )
    p.add_argument(
        "--gamma",
        type=float,
        default=None,
        metavar="G",
        help=f"output x ** G, {rng('gamma')} (1: off)",
    )
    p.add_argument(
        "--window",
        default=None,
        help="window: applied first when given (and used when writing, as in convert)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Enhance one file."""
    from napari_xray_synth.core.enhance import check_enhance, enhance
    from napari_xray_synth.core.io import read_radiograph, resolve_window, write_image

    steps = {
        "clahe": args.clahe,
        "unsharp": args.unsharp,
        "unsharp_radius": args.unsharp_radius,
        "detail": args.detail,
        "gamma": args.gamma,
    }
    # before any reading: no step chosen, or a number outside its range, is one line
    check_enhance(**steps, window=args.window, as_options=True)
    rg = read_radiograph(args.input)
    window = resolve_window(rg, args.window) if args.window is not None else None
    out = enhance(rg, **steps, window=window, device=args.device)
    print(write_image(out, args.output))
    return 0
