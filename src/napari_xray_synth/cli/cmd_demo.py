"""``xray-synth demo --out DIR``: the whole job on an embedded default, no data needed.

For now: write a synthetic chest-like DICOM, read it back as any file would be read, and write
the displayed image as PNG (16-bit) and TIFF (float32). Later issues grow this into the pipeline.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.io import read_radiograph, write_image
from napari_xray_synth.core.io.demo_dicom import write_demo_dicom


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo",
        help="run the main job on a built-in synthetic radiograph",
        description="Write a synthetic chest-like DICOM, read it back and write PNG and TIFF.",
    )
    p.add_argument("--out", default="demo_out", help="output folder (made if missing)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic image's noise")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Make, read and convert the demo radiograph."""
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot make the output folder ({exc.strerror})", out) from exc
    dcm = write_demo_dicom(out / "demo_chest.dcm", seed=args.seed)
    rg = read_radiograph(dcm)
    png = write_image(rg, out / "demo_chest.png")
    tif = write_image(rg, out / "demo_chest.tif")
    w = rg.default_window
    print(f"synthetic DICOM  {dcm}  ({rg.shape[0]}x{rg.shape[1]}, spacing {rg.spacing} mm)")
    print(f"PNG (16-bit)     {png}  (window {w.name!r})")
    print(f"TIFF (float32)   {tif}")
    return 0
