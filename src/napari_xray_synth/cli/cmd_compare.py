"""``xray-synth compare A B``: SSIM, PSNR and RMSE of A against B, and the SSIM map."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.export import read_mask_file
from napari_xray_synth.core.io import read_radiograph, refuse_overwriting
from napari_xray_synth.core.io.raster import write_float_tiff
from napari_xray_synth.core.metrics import compare

MAP_KINDS = ("1-ssim", "ssim")


def register(subparsers: Any) -> None:
    """Add the ``compare`` subcommand."""
    p = subparsers.add_parser(
        "compare",
        help="SSIM, PSNR and RMSE of image A against image B (and an SSIM map)",
        description=(
            "Compare image A (a variant, a denoised image) with image B (its source). "
            "Prints SSIM (Gaussian window, sigma 1.5), PSNR (dB) and RMSE; with --mask also "
            "inside and outside the lesion (non-zero mask pixels)."
        ),
    )
    p.add_argument("a", type=Path, help="image to judge (TIFF, PNG, ...)")
    p.add_argument("b", type=Path, help="reference image of the same shape")
    p.add_argument("--mask", type=Path, help="lesion mask or label image (non-zero = inside)")
    p.add_argument(
        "--ssim-map",
        type=Path,
        metavar="OUT.tif",
        help="write the map (float32 TIFF, with the pixel spacing of A, else of B)",
    )
    p.add_argument(
        "--map-kind",
        choices=MAP_KINDS,
        default="1-ssim",
        help="what the map holds: 1 - SSIM (bright = different, the default) or SSIM",
    )
    p.add_argument(
        "--data-range",
        type=float,
        default=None,
        help="dynamic range of the images (default: 1 for images in [0, 1], else their span)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _finite(v: Any) -> Any:
    # strict JSON has no Infinity: identical images have an infinite PSNR, written as null
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _check_map_path(out: Path, inputs: list[Any]) -> None:
    """The map is a float32 TIFF, and never written over a file being compared."""
    if out.suffix.lower() not in (".tif", ".tiff"):
        raise InputError("the map is a float32 TIFF: give a .tif or .tiff name", out)
    refuse_overwriting(out, inputs, "is one of the compared files")


def run(args: argparse.Namespace) -> int:
    """Compare two files and print the figures."""
    if args.ssim_map:
        _check_map_path(args.ssim_map, [args.a, args.b, args.mask])
    rg_a, rg_b = read_radiograph(args.a), read_radiograph(args.b)
    a, b = rg_a.image, rg_b.image
    mask = read_mask_file(args.mask) if args.mask else None
    if a.shape != b.shape:
        raise InputError(
            f"the images differ in shape: {args.a} is {a.shape[0]} x {a.shape[1]}, "
            f"{args.b} is {b.shape[0]} x {b.shape[1]}"
        )
    if mask is not None and mask.shape != a.shape:
        raise InputError(
            f"the mask is {mask.shape[0]} x {mask.shape[1]} but the images are "
            f"{a.shape[0]} x {a.shape[1]}",
            args.mask,
        )
    res = compare(
        a, b, mask=mask, data_range=args.data_range, map_kind=args.map_kind, device=args.device
    )
    smap = res.pop("map")
    # the map lies on A's pixels: A's spacing, else B's (a PNG variant of a DICOM source)
    spacing_rg = rg_a if rg_a.spacing else rg_b
    if args.ssim_map:
        write_float_tiff(
            smap,
            args.ssim_map,
            spacing_rg.spacing,
            {
                "map": res["map_kind"],
                "a": str(args.a),
                "b": str(args.b),
                "spacing_mm": list(spacing_rg.spacing) if spacing_rg.spacing else None,
                "spacing_source": spacing_rg.spacing_source,
            },
        )
    res["ssim_map"] = {
        "kind": res["map_kind"],
        "holds": "1 - SSIM (0 = identical)"
        if res["map_kind"] == "1-ssim"
        else "SSIM (1 = identical)",
        "path": str(args.ssim_map) if args.ssim_map else None,
        "spacing_mm": list(spacing_rg.spacing) if spacing_rg.spacing else None,
    }
    res["a"], res["b"] = str(args.a), str(args.b)
    if args.mask:
        res["mask"] = str(args.mask)
    if args.json:
        print(json.dumps({k: _finite(v) for k, v in res.items()}, indent=2))
        return 0
    rows = [("SSIM", "ssim", "{:.4f}"), ("PSNR (dB)", "psnr", "{:.2f}"), ("RMSE", "rmse", "{:.5f}")]
    cols = [""] + (["_inside", "_outside"] if mask is not None else [])
    header = ["", "whole"] + (["inside", "outside"] if mask is not None else [])
    print("  ".join(f"{h:>10}" for h in header))
    for label, key, fmt in rows:
        vals = []
        for c in cols:
            v = res.get(key + c)
            vals.append("n/a" if v is None else fmt.format(v))
        print("  ".join(f"{x:>10}" for x in [label, *vals]))
    if args.ssim_map:
        print(f"map ({res['ssim_map']['holds']}) written to {args.ssim_map}")
    return 0
