"""``xray-synth augment``: K synthetic variants with masks of every image of a data set, on Dask."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from napari_xray_synth.cli import PROG, fail
from napari_xray_synth.cli.progress_bar import progress_bar
from napari_xray_synth.core.batch import (
    DEFAULT_READER,
    DEFAULT_SYNTHESIZER,
    FORMATS,
    AugmentConfig,
    run_augment,
)
from napari_xray_synth.core.conditions import PATHOLOGIES

#: Plug points ("module:function") for another reader or synthesizer; the tests use them.
READER_ENV = "XRAY_SYNTH_AUGMENT_READER"
SYNTHESIZER_ENV = "XRAY_SYNTH_AUGMENT_SYNTHESIZER"


def _pathologies(values: list[str] | None) -> tuple[str, ...]:
    if not values:
        return PATHOLOGIES
    out: list[str] = []
    for v in values:
        out += [p.strip().lower() for p in v.split(",") if p.strip()]
    return tuple(out)


def register(subparsers: Any) -> None:
    """Add ``augment`` to the CLI."""
    p = subparsers.add_parser(
        "augment",
        help="grow a data set: K synthetic variants with lesion masks per image (Dask)",
        description=(
            "Make K variants of every image of INPUT (a folder, or a ChestX-ray14 / CheXpert "
            "CSV) with one lesion each at a plausible place in the lung fields, their masks and "
            "OUT_DIR/manifest.csv. Runs on a local Dask cluster or an existing scheduler; "
            "resumes after a kill; unreadable inputs go to OUT_DIR/failures.csv."
        ),
    )
    p.add_argument("input", metavar="INPUT", help="folder of images, or a CSV list of them")
    p.add_argument("out_dir", metavar="OUT_DIR", help="output folder (resumed if it exists)")
    p.add_argument("--per-image", type=int, required=True, metavar="K", help="variants per image")
    p.add_argument(
        "--pathologies",
        nargs="+",
        metavar="P",
        help=f"drawn in turn (default: all of {', '.join(PATHOLOGIES)})",
    )
    p.add_argument("--seed", type=int, required=True, metavar="S", help="global seed")
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="local worker processes, one thread each (default: CPU count)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="use a running Dask scheduler (tcp://host:8786); workers must see the same paths",
    )
    p.add_argument("--format", choices=FORMATS, default="png", help="image format (default png)")
    p.add_argument(
        "--spacing", type=float, metavar="MM", help="pixel size for inputs that carry none"
    )
    p.add_argument("--method", choices=("physics", "gan"), default="physics")
    p.add_argument("--model", default="generator", help="generator model for --method gan")
    p.add_argument("--device", default="cpu", help="device of each worker (cpu, cuda, auto)")
    p.add_argument(
        "--no-deidentify",
        action="store_true",
        help="keep the source's identifiers in DICOM output (de-identified by default)",
    )
    p.add_argument(
        "--hash-names",
        action="store_true",
        help="name outputs by a hash of the source path, not its file name (which may hold IDs)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the augmentation and print a summary."""
    config = AugmentConfig(
        per_image=args.per_image,
        seed=args.seed,
        pathologies=_pathologies(args.pathologies),
        fmt=args.format,
        spacing_mm=args.spacing,
        method=args.method,
        model=args.model,
        device=args.device,
        deidentify=not args.no_deidentify,
        hash_names=args.hash_names,
        reader=os.environ.get(READER_ENV) or DEFAULT_READER,
        synthesizer=os.environ.get(SYNTHESIZER_ENV) or DEFAULT_SYNTHESIZER,
    )
    try:
        with progress_bar("augment", quiet=args.quiet) as progress:
            s = run_augment(
                args.input,
                args.out_dir,
                config,
                workers=args.workers,
                scheduler=args.scheduler,
                progress=progress,
            )
    except KeyboardInterrupt:
        done = len(list(Path(args.out_dir, "items").glob("*.json")))
        return fail(
            f"interrupted; {done} finished item(s) are kept and listed in "
            f"{Path(args.out_dir, 'manifest.csv')}: the same command goes on from there",
            130,
            f"{PROG} augment",
        )
    print(
        f"augment: {s.items} items from {s.sources} images in {s.seconds:.1f} s "
        f"({s.items_per_second:.2f} items/s written, {s.workers} workers)"
    )
    print(
        f"  written now {s.written}, already there {s.already_done}; "
        f"failed {s.failed_sources} image(s) and {s.failed_items} item(s): {s.failures}"
    )
    if s.lung_methods:
        lm = ", ".join(f"{k} {v}" for k, v in sorted(s.lung_methods.items()))
        print(f"  lung fields: {lm}; mean {s.item_seconds_mean:.3f} s per item on a worker")
    print(f"  manifest: {s.manifest or '(no item yet)'}")
    if s.beyond_per_image:
        print(
            f"  note: {s.beyond_per_image} item(s) an earlier run made with a larger --per-image "
            f"are kept and listed (the manifest lists every finished item of these images)"
        )
    complete = s.written + s.already_done
    return 0 if complete or not (s.failed_sources or s.failed_items) else 1
