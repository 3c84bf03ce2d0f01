"""Per-pathology operating points of the pathology classifier, chosen at a fixed specificity.

A multi-label classifier trained with a sigmoid per class reports posteriors under its training
prevalence (a nodule in about one image in six), so ``p >= 0.5`` asks a rare, subtle finding for
far stronger evidence than a common, obvious one. A detector is used at an operating point
instead: for each class the threshold that keeps a chosen specificity (share of images without
the finding left uncalled) on images that are used for nothing else. The thresholds live in the
classifier's card, tied to the sha256 of its weights (other weights fall back to 0.5), with the
fingerprint of the simulator they were chosen on recorded beside them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from napari_xray_synth.core.atomic import atomic_path
from napari_xray_synth.core.errors import InputError, ModelError
from napari_xray_synth.core.models import find_model, sha256_file

CARD_KEY = "operating_points"


def choose_thresholds(
    probs: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    specificity: float,
) -> dict[str, dict[str, float]]:
    """For each class, the lowest threshold at which ``specificity`` of its negatives stay below.

    Parameters
    ----------
    probs : (N, C) array
        Classifier probabilities.
    labels : (N, C) bool array
        Which images show which class.
    classes : sequence of str
        The C class names.
    specificity : float
        Share of negatives that must score below the threshold, in (0, 1).

    Returns
    -------
    dict
        ``{class: {"threshold", "sensitivity", "specificity", "positives", "negatives"}}``;
        the specificity reached can exceed the one asked where scores tie.
    """
    if not 0.0 < specificity < 1.0:
        raise InputError(f"the specificity must lie between 0 and 1, got {specificity}")
    probs, labels = np.asarray(probs, np.float64), np.asarray(labels, bool)
    if probs.shape != labels.shape or probs.ndim != 2 or probs.shape[1] != len(classes):
        raise InputError(f"scores {probs.shape} and labels {labels.shape} do not match {classes}")
    out: dict[str, dict[str, float]] = {}
    for j, name in enumerate(classes):
        neg, pos = probs[~labels[:, j], j], probs[labels[:, j], j]
        if neg.size == 0 or pos.size == 0:
            raise InputError(f"no images with and without {name!r} to choose its threshold on")
        # called when p >= t: t just above the k-th lowest negative leaves k of them uncalled
        # (the small epsilon: 0.55 * 100 is 55.000000000000007 in floating point)
        k = int(np.ceil(specificity * neg.size - 1e-9))
        srt = np.sort(neg)
        t = float(np.nextafter(srt[k - 1], np.inf)) if k < neg.size else float(srt[-1] + 1e-6)
        out[name] = {
            "threshold": t,
            "sensitivity": float((pos >= t).mean()),
            "specificity": float((neg < t).mean()),
            "positives": int(pos.size),
            "negatives": int(neg.size),
        }
    return out


def thresholds_of(card: Mapping[str, Any], classes: Sequence[str]) -> tuple[np.ndarray, str]:
    """The card's thresholds in ``classes`` order, and a phrase naming the rule.

    Falls back to 0.5 for every class when the card has no operating points, or when they were
    chosen for other weights (the sha256 differs).
    """
    ops = card.get(CARD_KEY)
    if not isinstance(ops, Mapping) or ops.get("weights_sha256") != card.get("sha256"):
        return np.full(len(classes), 0.5), "p >= 0.5"
    try:
        table, spec = ops["thresholds"], float(ops["specificity"])
        t = np.array([float(table[c]["threshold"]) for c in classes])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(
            f"the classifier card's {CARD_KEY} block is damaged ({exc!r} is missing or not a "
            "number): run xray-synth train operating-points again"
        ) from exc
    if not np.all(np.isfinite(t)):
        raise ModelError(f"the classifier card's {CARD_KEY} hold a threshold that is not finite")
    return t, f"operating point ({spec:.0%} specificity)"


def write_operating_points(
    model: str | Path,
    table: Mapping[str, Mapping[str, float]],
    specificity: float,
    chosen_on: str,
    command: str,
    simulator: str,
) -> Path:
    """Store ``table`` in the card of ``model`` (atomically); the weights are not touched."""
    weights, card_path = find_model(model)
    card = json.loads(card_path.read_text())
    digest = sha256_file(weights)
    if digest != card.get("sha256"):
        raise InputError("the weights do not match their card's sha256", weights)
    card[CARD_KEY] = {
        "specificity": float(specificity),
        "thresholds": {k: dict(v) for k, v in table.items()},
        "chosen_on": chosen_on,
        "weights_sha256": digest,
        "simulator_sources_sha256": simulator,
        "command": command,
    }
    with atomic_path(card_path) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")
    return card_path
