"""``xray-synth convert IN OUT [--window N]``: a radiograph to TIFF (float32) or PNG (16-bit)."""

from __future__ import annotations

import argparse
from typing import Any

from napari_xray_synth.core.io import read_radiograph, write_image


def register(subparsers: Any) -> None:
    """Add the ``convert`` subcommand."""
    p = subparsers.add_parser(
        "convert",
        help="convert a radiograph to .tif (float32 in [0, 1]) or .png (16-bit)",
        description="Read a DICOM, TIFF, PNG or JPEG radiograph and write what a viewer shows: "
        "the window applied, MONOCHROME2 polarity. A .tif holds float32 in [0, 1] with the "
        "pixel spacing; a .png holds 16-bit grey. The write is atomic.",
    )
    p.add_argument("input", help="the radiograph to read")
    p.add_argument("output", help="the file to write: .tif, .tiff or .png")
    p.add_argument(
        "--window",
        default=None,
        help="window to apply: its number as 'xray-synth info' lists it (default 0, the file's "
        "default), its name, or a generic preset: full, lung, soft-tissue, bone",
    )
    p.add_argument("--spacing", type=float, default=None, help="pixel spacing in mm (override)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Convert one file."""
    rg = read_radiograph(args.input, spacing=args.spacing)
    out = write_image(rg, args.output, window=args.window)
    print(out)
    return 0
