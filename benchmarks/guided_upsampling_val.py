"""Bilinear against guided upsampling of the GAN residual, per pathology, on validation chests.

    PYTHONPATH=src python benchmarks/guided_upsampling_val.py [--cases 36] [--cache STEM]

Validation chests are simulator seeds 800000.. (not the evaluation set of eval_synth.py, which
uses 900000..). For each chest one GAN variant is made with every pathology's residual upsampled
bilinearly, then with the guided filter, and compared with the simulator's diseased image inside
the mask (PSNR, SSIM). This is how ``synth_gan.GUIDED_UPSAMPLING`` was chosen.
"""

from __future__ import annotations

import eval_synth
import numpy as np
from validation_cases import load_validation_cases

from napari_xray_synth.core import synth_gan
from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.radiograph import Radiograph
from napari_xray_synth.core.synthesize import synthesize


def main() -> None:
    cases = load_validation_cases()
    shipped = synth_gan.GUIDED_UPSAMPLING
    res: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        for mode, chosen in (("bilinear", frozenset()), ("guided", frozenset(PATHOLOGIES))):
            synth_gan.GUIDED_UPSAMPLING = chosen
            for i, c in enumerate(cases):
                rg = Radiograph(c["x"], (c["px"], c["px"]), "simulator")
                (v,) = synthesize(
                    rg, [c["cond"]], 1, seed=i, method="gan", device="cpu", regions=[c["region"]]
                )
                m = eval_synth.inside_metrics(v.radiograph.image, c["y"], c["mask"])
                res.setdefault((c["cond"].pathology, mode), []).append(m)
    finally:
        synth_gan.GUIDED_UPSAMPLING = shipped
    print(f"GAN variant vs simulator truth inside the mask, {len(cases)} validation chests")
    print("| pathology | bilinear PSNR / SSIM | guided PSNR / SSIM | shipped |")
    print("|---|---|---|---|")
    for p in PATHOLOGIES:
        b, g = (np.mean(res[(p, k)], axis=0) for k in ("bilinear", "guided"))
        which = "guided" if p in shipped else "bilinear"
        print(f"| {p} | {b[0]:.2f} / {b[1]:.3f} | {g[0]:.2f} / {g[1]:.3f} | {which} |")


if __name__ == "__main__":
    main()
