"""AUC per pathology of the shipped classifier on held-out simulated chests.

Held-out images come from odd simulator seeds (``heldout_seed``), which training never uses
(training seeds are even); this script starts at ``--offset`` so that it also avoids the images
the model card was measured on.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/eval_classifier.py --n 700

Prints a Markdown table (AUC, accuracy at 0.5 and positives per class) and the timing.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from napari_xray_synth.core.models import load_model
from napari_xray_synth.core.nn.classifier import CLASSES
from napari_xray_synth.core.operating_points import thresholds_of
from napari_xray_synth.core.train.classifier import evaluate_classifier, heldout_seed, sim_sampler


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="classifier", help="model name or path")
    ap.add_argument("--n", type=int, default=700, help="held-out images")
    ap.add_argument("--offset", type=int, default=100_000, help="first held-out index")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    cfg = model.card.get("training_config", {})
    sampler = sim_sampler(int(cfg.get("sim_size", 512)))
    seeds = [heldout_seed(args.offset + k) for k in range(args.n)]
    t0 = time.perf_counter()
    res = evaluate_classifier(model.module, sampler, seeds, batch=16)
    dt = time.perf_counter() - t0
    print(f"model {model.name} sha256 {model.sha256[:12]}, {args.n} held-out simulated images")
    print(
        f"(odd seeds {seeds[0]}..{seeds[-1]}), {dt:.0f} s on {torch.get_num_threads()} thread(s)\n"
    )
    print("| class | AUC | accuracy at 0.5 | positives |")
    print("|---|---|---|---|")
    for name, value in res["auc"].items():
        acc, pos = res["accuracy"][name], res["positives"][name]
        print(f"| {name} | {value:.3f} | {acc:.3f} | {pos} |")
    print(
        f"\nmean AUC over the 6 pathologies: {res['mean_auc_pathologies']:.3f}; "
        f"exact match (all 7 outputs right): {res['exact_match']:.3f}"
    )
    thr, rule = thresholds_of(model.card, CLASSES)
    if rule != "p >= 0.5":
        p, y = res["probs"], res["labels"]
        chosen = model.card["operating_points"].get("chosen_on", "?")
        print(f"\nat the card's {rule} (chosen on {chosen}), on these images:")
        print("| class | threshold | sensitivity | specificity |")
        print("|---|---|---|---|")
        for j, name in enumerate(CLASSES):
            called = p[:, j] >= thr[j]
            sens, spec = called[y[:, j]].mean(), (~called[~y[:, j]]).mean()
            print(f"| {name} | {thr[j]:.3f} | {sens:.3f} | {spec:.3f} |")
    return 0 if np.isfinite(res["mean_auc_pathologies"]) else 1


if __name__ == "__main__":
    sys.exit(main())
