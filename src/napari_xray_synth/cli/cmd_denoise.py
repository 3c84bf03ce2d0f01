"""``xray-synth denoise IN OUT``: denoise a radiograph (the shipped model or a classical filter)."""

from __future__ import annotations

import argparse
from typing import Any

from napari_xray_synth.cli.progress_bar import progress_bar


def strength_arg(text: str) -> str | float:
    """``auto`` or a number (its range depends on the method: checked in :func:`run`)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number, got {text!r}") from exc


def register(subparsers: Any) -> None:
    """Add the ``denoise`` subcommand."""
    from napari_xray_synth.core.denoise import METHODS, STRENGTH_RANGES

    ranges = "; ".join(f"{m} {r.text()}" for m, r in STRENGTH_RANGES.items())
    p = subparsers.add_parser(
        "denoise",
        help="denoise a radiograph (trained model, or gaussian/median/nl_means/tv)",
        description="Denoise a radiograph and write it as 'convert' does (.tif float32 in [0, 1], "
        ".png 16-bit). The model estimates the noise from the image; --strength overrides it "
        "(for the model: the noise sigma in image units).",
    )
    p.add_argument("input", help="the radiograph to read (DICOM, TIFF, PNG, JPEG)")
    p.add_argument("output", help="the file to write: .tif, .tiff or .png")
    p.add_argument("--method", choices=METHODS, default="model")
    p.add_argument(
        "--strength",
        type=strength_arg,
        default="auto",
        help=f"'auto' or a number in the method's range ({ranges})",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--model", default="denoiser", help="model name or path (default: denoiser)")
    p.add_argument("--tile", type=int, default=512, help="largest tile side in pixels")
    p.add_argument("--window", default=None, help="window applied when writing (as in convert)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Denoise one file."""
    from napari_xray_synth.core.denoise import check_strength, denoise
    from napari_xray_synth.core.io import read_radiograph, write_image

    check_strength(args.method, args.strength, "--strength")  # before any reading
    rg = read_radiograph(args.input)
    with progress_bar("denoising", quiet=args.quiet) as bar:
        out = denoise(
            rg,
            method=args.method,
            strength=args.strength,
            model=args.model,
            device=args.device,
            tile=args.tile,
            progress=bar,
        )
    print(write_image(out, args.output, window=args.window))  # type: ignore[arg-type]
    return 0
