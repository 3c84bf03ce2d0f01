"""``xray-synth train operating-points``: the classifier's per-pathology thresholds."""

from __future__ import annotations

import argparse
import shlex

from napari_xray_synth.cli.progress_bar import progress_bar
from napari_xray_synth.core.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train operating-points`` to the ``train`` group."""
    p = subparsers.add_parser(
        "operating-points",
        help="choose the classifier's per-pathology thresholds at a fixed specificity",
        description=(
            "Score held-out simulator images (odd seeds from --offset, used for nothing else) "
            "with the classifier and store, in its card, the threshold per class that leaves "
            "--specificity of the images without that finding uncalled. The weights are not "
            "changed. The synthesis evaluations call a finding at these thresholds."
        ),
    )
    p.add_argument("--model", default="classifier", help="classifier name or path")
    p.add_argument("--n", type=int, default=700, help="images (default: %(default)s)")
    p.add_argument(
        "--offset",
        type=int,
        default=350_000,
        help="first held-out index (odd seeds 2k+1), away from the card's, eval_classifier's and "
        "evaluate synth's seeds (default: %(default)s)",
    )
    p.add_argument(
        "--specificity", type=float, default=0.95, help="per class (default: %(default)s)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Choose the thresholds, write them into the card and print them."""
    from napari_xray_synth.core.models import load_model
    from napari_xray_synth.core.nn.classifier import CLASSES
    from napari_xray_synth.core.operating_points import choose_thresholds, write_operating_points
    from napari_xray_synth.core.sim_fingerprint import simulator_fingerprint
    from napari_xray_synth.core.train.classifier import (
        classifier_scores,
        heldout_seed,
        sim_sampler,
    )

    if args.n < 20 or args.offset < 0:
        raise InputError("--n must be at least 20 and --offset not negative")
    if not 0.0 < args.specificity < 1.0:
        raise InputError(f"--specificity must lie between 0 and 1, got {args.specificity}")
    model = load_model(args.model)
    if model.card.get("architecture") != "pathology-classifier":
        raise InputError(
            f"{args.model} is a {model.card.get('architecture')!r} model, not a pathology "
            "classifier"
        )
    cfg = model.card.get("training_config", {})
    sampler = sim_sampler(int(cfg.get("sim_size", 256)))
    seeds = [heldout_seed(args.offset + k) for k in range(args.n)]
    with progress_bar("scoring", quiet=args.quiet) as bar:
        probs, labels = classifier_scores(model.module, sampler, seeds, progress=bar)
    table = choose_thresholds(probs, labels, CLASSES, args.specificity)
    command = (
        f"xray-synth train operating-points --model {shlex.quote(str(args.model))} "
        f"--n {args.n} --offset {args.offset} --specificity {args.specificity}"
    )
    where = (
        f"{args.n} simulated images, odd seeds {seeds[0]}..{seeds[-1]} (heldout_seed({args.offset}"
        f"..{args.offset + args.n - 1})) at {cfg.get('sim_size', 256)} px"
    )
    path = write_operating_points(
        args.model, table, args.specificity, where, command, simulator_fingerprint()
    )
    print(f"operating points at {args.specificity:.0%} specificity, chosen on {where}:")
    print("| class | threshold | sensitivity | specificity | positives | negatives |")
    print("|---|---|---|---|---|---|")
    for name, row in table.items():
        print(
            f"| {name} | {row['threshold']:.3f} | {row['sensitivity']:.3f} | "
            f"{row['specificity']:.3f} | {row['positives']} | {row['negatives']} |"
        )
    print(f"wrote them into {path}")
    return 0
