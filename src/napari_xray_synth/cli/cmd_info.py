"""``xray-synth info FILE [--json]``: what a radiograph file holds (de-identified)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from napari_xray_synth.core.io import file_info


def register(subparsers: Any) -> None:
    """Add the ``info`` subcommand."""
    p = subparsers.add_parser(
        "info",
        help="show modality, size, bits, photometric, spacing, windows, transfer syntax",
        description="Show what a DICOM, TIFF, PNG or JPEG radiograph holds (no identifiers). "
        "DICOM: the header only, pixels are not decoded.",
    )
    p.add_argument("file", help="a DICOM (also ACR-NEMA), TIFF, PNG or JPEG file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return " x ".join(_fmt(v) for v in value)
    return str(value)


def format_info(info: dict[str, Any]) -> str:
    """The text form of :func:`file_info`: the key facts first, then the windows."""
    lines = [str(info["file"])]
    keys = [
        ("format", "format"),
        ("modality", "modality"),
        ("size", "size (rows x cols)"),
        ("frames", "frames"),
        ("images", "images"),
        ("bits_stored", "bits stored"),
        ("bits_allocated", "bits allocated"),
        ("signed", "signed"),
        ("dtype", "data type"),
        ("photometric", "photometric"),
        ("transfer_syntax", "transfer syntax"),
        ("modality_lut", "modality LUT"),
        ("view_position", "view position"),
        ("body_part", "body part"),
        ("manufacturer", "manufacturer"),
    ]
    for key, label in keys:
        if info.get(key) not in (None, ""):
            lines.append(f"  {label:<18} {_fmt(info[key])}")
    spacing = info.get("spacing_mm")
    sp = f"{_fmt(spacing)} mm ({info['spacing_source']})" if spacing else info["spacing_source"]
    lines.append(f"  {'spacing':<18} {sp}")
    windows = info.get("windows") or []
    dicom = {w["name"]: w for w in info.get("windows_dicom") or []}
    if not windows:
        lines.append(f"  {'windows':<18} none (full range)")
    for i, w in enumerate(windows):
        lo, hi = w["limits"]
        src = dicom.get(w["name"])
        said = f"  [file: C {src['center']:g} W {src['width']:g}]" if src else ""
        lines.append(
            f"  window {i:<11} {w['name']} {w['function']} "
            f"limits {lo:.4f}..{hi:.4f} (image units){said}"
        )
    if info.get("has_pixel_data") is False:
        lines.append(f"  {'image':<18} none: the file has no Pixel Data")
    if info.get("problem"):
        lines.append(f"  {'problem':<18} {info['problem']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the file's summary."""
    info = file_info(args.file)
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0
