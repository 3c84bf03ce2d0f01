"""How well the estimated lung region clips lung-filling lesions, against the simulator's fields.

    PYTHONPATH=src python benchmarks/lung_region_iou.py [--seeds 400 436] [--size 768]

For simulated chests with an effusion, pneumothorax or consolidation (random conditions), the
lesion's mask clipped to the simulator's own lung field of its side is the reference; the table
gives the mean (and minimum) mask IoU with it for: no clipping, the raw threshold lung field, and
``LungFields.lesion_region`` (what napari, ``synth`` and ``augment`` use).

``--heart``: consolidations only, 90 mm, centred 12 mm inside the medial edge of the lung at
0.72 of its height (against the heart border; the left lung for odd seeds), where the lung
field's cut makes the silhouette sign.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from napari_xray_synth.core.conditions import label_mask
from napari_xray_synth.core.lung_field import estimate_lung_fields
from napari_xray_synth.core.simulate import simulate_chest

PATHS = ("effusion", "pneumothorax", "consolidation")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs=2, default=(400, 436))
    ap.add_argument("--size", type=int, default=768)
    ap.add_argument("--heart", action="store_true", help="consolidations against the heart")
    args = ap.parse_args()
    res: dict[tuple[str, str], list[float]] = {}
    for seed in range(*args.seeds):
        p = "consolidation" if args.heart else PATHS[seed % len(PATHS)]
        case = simulate_chest(seed, args.size, conditions=[p])
        cond, px = case.conditions[0], case.spacing
        if args.heart:
            case = simulate_chest(seed, args.size, [against_heart(case, cond, seed % 2 == 1)])
            cond = case.conditions[0]
        img = np.asarray(case.healthy.image)
        side = cond.patient_side(img.shape)
        truth = np.asarray(case.lung_sides) == (1 if side == "right" else 2)
        ref = label_mask([cond], img.shape, px, [truth]) > 0
        fields = estimate_lung_fields(img)
        for name, region in (
            ("none", None),
            ("threshold field", fields.side(side)),
            ("lesion_region", fields.lesion_region(side, px, p)),
        ):
            m = label_mask([cond], img.shape, px, None if region is None else [region]) > 0
            res.setdefault((p, name), []).append((m & ref).sum() / max((m | ref).sum(), 1))
    print(
        f"mask IoU with the simulator's own lung field, seeds {args.seeds[0]}..{args.seeds[1] - 1}"
    )
    paths = ("consolidation",) if args.heart else PATHS
    print("| clipping | " + " | ".join(paths) + " |")
    print("|---|" + "---|" * len(paths))
    for name in ("none", "threshold field", "lesion_region"):
        cells = [f"{np.mean(res[(p, name)]):.2f} (min {np.min(res[(p, name)]):.2f})" for p in paths]
        print(f"| {name} | " + " | ".join(cells) + " |")


def against_heart(case, cond, left: bool):
    """``cond`` moved against the heart border of one lung, 90 mm, severity 0.9."""
    lung = np.asarray(case.lung_sides) == (2 if left else 1)
    rows = np.nonzero(lung.any(axis=1))[0]
    r = int(rows.min() + 0.72 * (rows.max() - rows.min()))
    cols = np.nonzero(lung[r])[0]
    inset = int(12 / case.spacing)
    c = cols.min() + inset if left else cols.max() - inset
    side = "left" if left else "right"
    return dataclasses.replace(
        cond, center=(float(r), float(c)), size_mm=90.0, severity=0.9, side=side
    )


if __name__ == "__main__":
    main()
