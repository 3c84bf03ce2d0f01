"""``xray-synth train classifier``: the pathology classifier behind the generative metrics."""

from __future__ import annotations

import argparse
import math
import shlex

from napari_xray_synth.cli.progress_bar import progress_bar
from napari_xray_synth.core.device import DEVICE_CHOICES
from napari_xray_synth.core.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train classifier`` to the ``train`` group."""
    p = subparsers.add_parser(
        "classifier",
        help="train the pathology classifier / feature extractor on simulator images",
        description=(
            "Train the multi-label pathology classifier on chest-simulator images made on the "
            "fly (seeded), measure its AUC per pathology on held-out simulator seeds and write "
            "OUT.safetensors with its card OUT.json and loss curve OUT.loss.png."
        ),
    )
    p.add_argument("--data", default="sim", choices=["sim"], help="training data (the simulator)")
    p.add_argument("--out", default="models/classifier", help="model stem (default: %(default)s)")
    p.add_argument("--steps", type=int, default=2000, help="optimizer steps (default: %(default)s)")
    p.add_argument("--batch", type=int, default=16, help="images per step (default: %(default)s)")
    p.add_argument(
        "--size", type=int, default=256, help="network input side (default: %(default)s)"
    )
    p.add_argument(
        "--sim-size", type=int, default=256, help="simulated image side (default: %(default)s)"
    )
    p.add_argument("--seed", type=int, default=0, help="run seed (default: %(default)s)")
    p.add_argument(
        "--lr", type=float, default=2e-3, help="peak learning rate (default: %(default)s)"
    )
    p.add_argument(
        "--heldout",
        type=int,
        default=280,
        help="held-out images for the card (default: %(default)s)",
    )
    p.add_argument(
        "--width", type=int, default=16, help="first-stage channels (default: %(default)s)"
    )
    p.add_argument(
        "--standardize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="scale each image to zero mean, unit variance first (default: on)",
    )
    p.add_argument(
        "--locate-stage",
        type=int,
        default=0,
        help="add per-pathology lesion maps on this stage, trained on the simulator's masks "
        "(0: none; default: %(default)s)",
    )
    p.add_argument(
        "--locate-weight",
        type=float,
        default=1.0,
        help="weight of the lesion-map loss (default: %(default)s)",
    )
    p.add_argument(
        "--locate-pos-weight",
        type=float,
        default=1.0,
        help="weight of a lesion cell against an empty one in the map loss (default: %(default)s)",
    )
    p.add_argument("--work", default=None, help="checkpoint folder (default: OUT.run)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p.add_argument(
        "--init-from",
        default=None,
        help="start from a saved classifier's weights (fine-tuning, e.g. at a larger --size)",
    )
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="torch device")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train and print the held-out AUC per class."""
    from napari_xray_synth.core.train.classifier import ClassifierConfig, train_classifier

    if args.steps < 1 or args.batch < 1 or args.heldout < 2:
        raise InputError("--steps and --batch must be at least 1, --heldout at least 2")
    weights = (args.locate_weight, args.locate_pos_weight)
    if args.locate_stage < 0 or not all(math.isfinite(w) and w >= 0 for w in weights):
        raise InputError(
            "--locate-stage, --locate-weight and --locate-pos-weight must be finite, not negative"
        )
    cfg = ClassifierConfig(
        steps=args.steps,
        batch=args.batch,
        size=args.size,
        seed=args.seed,
        lr=args.lr,
        width=args.width,
        sim_size=args.sim_size,
        heldout=args.heldout,
        data=args.data,
        standardize=args.standardize,
        locate_stage=args.locate_stage,
        locate_weight=args.locate_weight,
        locate_pos_weight=args.locate_pos_weight,
    )
    # every setting spelled out, so the card's command reproduces the run whatever the defaults
    command = (
        f"xray-synth train classifier --data {args.data} --out {shlex.quote(str(args.out))} "
        f"--steps {args.steps} --batch {args.batch} --size {args.size} "
        f"--sim-size {args.sim_size} --seed {args.seed} --lr {args.lr} "
        f"--heldout {args.heldout} --width {args.width} "
        f"--{'' if args.standardize else 'no-'}standardize "
        f"--locate-stage {args.locate_stage} --locate-weight {args.locate_weight} "
        f"--locate-pos-weight {args.locate_pos_weight}"
    )
    if args.init_from:
        command += f" --init-from {shlex.quote(str(args.init_from))}"
    with progress_bar("training classifier", quiet=args.quiet) as bar:
        card = train_classifier(
            args.out,
            cfg,
            work=args.work,
            resume=args.resume,
            init_from=args.init_from,
            device=args.device,
            command=command,
            progress=bar,
        )
    if not card:  # another rank of a torchrun run: rank 0 wrote and reports
        return 0
    m = card["metrics"]
    print(f"wrote {args.out}.safetensors ({card['parameters']} parameters)")
    print(f"held-out AUC on {m['heldout_images']} simulated images:")
    for name, value in m["auc"].items():
        print(f"  {name:14s} {value:.3f}")
    return 0
