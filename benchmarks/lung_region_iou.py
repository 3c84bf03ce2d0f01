"""How well the estimated lung region clips lung-filling lesions, against the simulator's fields.

    PYTHONPATH=src python benchmarks/lung_region_iou.py [--seeds 400 436] [--size 768]

For simulated chests with an effusion, pneumothorax or consolidation (random conditions), the
lesion's mask clipped to the simulator's own lung field of its side is the reference; the table
gives the mean (and minimum) mask IoU with it for: no clipping, the raw threshold lung field, and
``LungFields.lesion_region`` (what napari, ``synth`` and ``augment`` use).
"""

from __future__ import annotations

import argparse

import numpy as np

from napari_xray_synth.core.conditions import label_mask
from napari_xray_synth.core.lung_field import estimate_lung_fields
from napari_xray_synth.core.simulate import simulate_chest

PATHS = ("effusion", "pneumothorax", "consolidation")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs=2, default=(400, 436))
    ap.add_argument("--size", type=int, default=768)
    args = ap.parse_args()
    res: dict[tuple[str, str], list[float]] = {}
    for seed in range(*args.seeds):
        p = PATHS[seed % len(PATHS)]
        case = simulate_chest(seed, args.size, conditions=[p])
        cond, px = case.conditions[0], case.spacing
        img = np.asarray(case.healthy.image)
        side = cond.patient_side(img.shape)
        truth = np.asarray(case.lung_sides) == (1 if side == "right" else 2)
        ref = label_mask([cond], img.shape, px, [truth]) > 0
        fields = estimate_lung_fields(img)
        for name, region in (
            ("none", None),
            ("threshold field", fields.side(side)),
            ("lesion_region", fields.lesion_region(side, px)),
        ):
            m = label_mask([cond], img.shape, px, None if region is None else [region]) > 0
            res.setdefault((p, name), []).append((m & ref).sum() / max((m | ref).sum(), 1))
    print(
        f"mask IoU with the simulator's own lung field, seeds {args.seeds[0]}..{args.seeds[1] - 1}"
    )
    print("| clipping | " + " | ".join(PATHS) + " |")
    print("|---|" + "---|" * len(PATHS))
    for name in ("none", "threshold field", "lesion_region"):
        cells = [f"{np.mean(res[(p, name)]):.2f} (min {np.min(res[(p, name)]):.2f})" for p in PATHS]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
