"""``xray-synth train point-classifier``: the judge of "is the requested finding at the point?"."""

from __future__ import annotations

import argparse
import math

from napari_xray_synth.cli.progress_bar import progress_bar
from napari_xray_synth.core.device import DEVICE_CHOICES
from napari_xray_synth.core.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train point-classifier`` to the ``train`` group."""
    p = subparsers.add_parser(
        "point-classifier",
        help="train the classifier of the finding at a point on simulated pairs",
        description=(
            "Simulate --cases chests with one finding each (and the same chest without it), "
            "train a two-view classifier (90 mm around the finding's point and the whole film) "
            "of what is at the point, measure it on --heldout held-out cases (odd seeds) and "
            "write OUT.safetensors with its card OUT.json and loss curve OUT.loss.png."
        ),
    )
    p.add_argument(
        "--out", default="models/point_classifier", help="model stem (default: %(default)s)"
    )
    p.add_argument(
        "--cases", type=int, default=12000, help="simulated cases (default: %(default)s)"
    )
    p.add_argument("--steps", type=int, default=2500, help="optimizer steps (default: %(default)s)")
    p.add_argument("--batch", type=int, default=64, help="views per step (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="run seed (default: %(default)s)")
    p.add_argument(
        "--lr", type=float, default=2e-3, help="peak learning rate (default: %(default)s)"
    )
    p.add_argument(
        "--width", type=int, default=16, help="first-layer channels (default: %(default)s)"
    )
    p.add_argument(
        "--nodule-share",
        type=float,
        default=0.25,
        help="share of cases with a nodule, the hardest finding (default: %(default)s)",
    )
    p.add_argument(
        "--heldout", type=int, default=300, help="held-out cases measured (default: %(default)s)"
    )
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="torch device")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train and print the held-out recognition per pathology."""
    from napari_xray_synth.core.train.point_classifier import (
        PointClassifierConfig,
        command_line,
        train_point_classifier,
    )

    if min(args.cases, args.steps, args.batch, args.heldout, args.width) < 1:
        raise InputError("--cases, --steps, --batch, --heldout and --width must be at least 1")
    if not math.isfinite(args.lr) or args.lr <= 0:
        raise InputError(f"--lr must be a positive number, not {args.lr}")
    cfg = PointClassifierConfig(
        cases=args.cases,
        steps=args.steps,
        batch=args.batch,
        seed=args.seed,
        lr=args.lr,
        width=args.width,
        nodule_share=args.nodule_share,
        heldout=args.heldout,
    )
    with progress_bar("simulating and training", quiet=args.quiet) as bar:
        card = train_point_classifier(
            args.out, cfg, device=args.device, command=command_line(args.out, cfg), progress=bar
        )
    table = card["metrics"]["recognised_at_point"]
    print(f"wrote {args.out}.safetensors ({card['parameters']} parameters)")
    print(f"held-out cases ({args.heldout}): finding recognised at its point / healthy twin called")
    for name, row in table.items():
        print(
            f"  {name:14s} {row['recognised']:6.1%}  {row['false_positive']:6.1%}  (n {row['n']})"
        )
    return 0
