"""The validation chests (simulator seeds 800000..) that pipeline choices are made on.

Not the evaluation set of eval_synth.py (seeds 900000..): a choice made here is then measured
there. ``--cases``, ``--size`` and ``--cache`` (stem of a .npz + .json case cache) as eval_synth.
"""

from __future__ import annotations

import argparse

import eval_synth
import torch

VALIDATION_SEED = 800_000


def load_validation_cases() -> list[dict]:
    """Parse the common options and return the validation cases (simulated or from the cache)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=36)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--cache", default=None, help="stem of a case cache (.npz + .json)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    eval_synth.EVAL_SEED = VALIDATION_SEED
    return eval_synth.held_out_cases(args.cases, args.size, args.cache)
