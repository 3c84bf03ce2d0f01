"""The soft-tissue ceiling of GAN lesions (effusion, consolidation, cardiomegaly) per percentile.

    PYTHONPATH=src python benchmarks/density_cap_val.py [--cases 36] [--cache STEM]

Validation chests are simulator seeds 800000.. (not the evaluation set of eval_synth.py, which
uses 900000..). For each effusion, consolidation and cardiomegaly chest two GAN variants are
made without the cap and with the level at each percentile (of the band under the lung field;
for cardiomegaly, of the old heart shadow in its mask: ``core/density_cap.py``), and compared
with the simulator's diseased image inside the mask (PSNR, SSIM). The simulator's own lesions
are as bright as they are: the shipped percentile is the lowest that costs its effusions
nothing. How far it holds a real film's lesion down is seen, not
measured (no truth): docs/synth.md.
"""

from __future__ import annotations

import eval_synth
import numpy as np
from validation_cases import load_validation_cases

from napari_xray_synth.core import density_cap
from napari_xray_synth.core import synthesize as synth_mod
from napari_xray_synth.core.radiograph import Radiograph

PERCENTILES = (None, 50.0, 70.0, 80.0, 90.0)
CAPPED = density_cap.CAPPED | density_cap.CAPPED_AT_HEART


def main() -> None:
    cases = load_validation_cases()
    shipped, cap = density_cap.LEVEL_PERCENTILE, synth_mod.cap_to_level
    res: dict[tuple[str, float | None], list[tuple[float, float]]] = {}
    try:
        for pct in PERCENTILES:
            if pct is None:
                synth_mod.cap_to_level = lambda before, after, *rest: after
            else:
                synth_mod.cap_to_level, density_cap.LEVEL_PERCENTILE = cap, pct
            for i, c in enumerate(cases):
                if c["cond"].pathology not in CAPPED:
                    continue
                rg = Radiograph(c["x"], (c["px"], c["px"]), "simulator")
                variants = synth_mod.synthesize(
                    rg, [c["cond"]], 2, seed=i, method="gan", device="cpu", regions=[c["region"]]
                )
                for v in variants:
                    m = eval_synth.inside_metrics(v.radiograph.image, c["y"], c["mask"])
                    res.setdefault((c["cond"].pathology, pct), []).append(m)
    finally:
        synth_mod.cap_to_level, density_cap.LEVEL_PERCENTILE = cap, shipped
    print(f"GAN variants vs simulator truth inside the mask, {len(cases)} validation chests")
    print(f"PSNR dB / SSIM; shipped percentile {shipped:g}")
    print(
        "| pathology | "
        + " | ".join("no cap" if p is None else f"p{p:g}" for p in PERCENTILES)
        + " |"
    )
    print("|---|" + "---|" * len(PERCENTILES))
    for path in sorted(CAPPED):
        if (path, None) not in res:  # too few cases to reach this pathology
            continue
        cells = [np.mean(res[(path, p)], axis=0) for p in PERCENTILES]
        print(f"| {path} | " + " | ".join(f"{m[0]:.2f} / {m[1]:.4f}" for m in cells) + " |")


if __name__ == "__main__":
    main()
