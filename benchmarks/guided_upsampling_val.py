"""Bilinear, guided and mask-guided upsampling of the GAN residual, per pathology, on validation
chests.

    PYTHONPATH=src python benchmarks/guided_upsampling_val.py [--cases 36] [--cache STEM]

Validation chests are simulator seeds 800000.. (not the evaluation set of eval_synth.py, which
uses 900000..). For each chest one GAN variant is made with every pathology's residual upsampled
bilinearly, then with the guided filter (image as guide), then with the mask as guide, and
compared with the simulator's diseased image inside the mask and inside the mask grown by
``FEATHER_MM`` (the zone the residual may change: a lesion's edge lies on the mask's border, and
a blur across it shows only in the grown zone) (PSNR, SSIM). This is how
``synth_gan.GUIDED_UPSAMPLING`` and ``synth_gan.MASK_GUIDED_UPSAMPLING`` were chosen.
"""

from __future__ import annotations

import argparse

import eval_synth
import numpy as np
import torch
from scipy import ndimage
from skimage.metrics import structural_similarity

from napari_xray_synth.core import synth_gan
from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.radiograph import Radiograph
from napari_xray_synth.core.synthesize import synthesize

VALIDATION_SEED = 800_000


def zone_metrics(v: np.ndarray, truth: np.ndarray, mask: np.ndarray, px: float):
    """PSNR and mean SSIM of ``v`` against ``truth`` in the mask grown by ``FEATHER_MM``."""
    zone = ndimage.binary_dilation(mask > 0, iterations=max(round(synth_gan.FEATHER_MM / px), 1))
    rows, cols = np.nonzero(zone)
    box = slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)
    psnr = 10 * np.log10(1.0 / max(float(((v - truth)[zone] ** 2).mean()), 1e-12))
    _, ssim = structural_similarity(v[box], truth[box], data_range=1.0, full=True)
    return psnr, float(ssim[zone[box]].mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=36)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--cache", default=None, help="stem of a case cache (.npz + .json)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    eval_synth.EVAL_SEED = VALIDATION_SEED
    cases = eval_synth.held_out_cases(args.cases, args.size, args.cache)
    shipped = synth_gan.GUIDED_UPSAMPLING, synth_gan.MASK_GUIDED_UPSAMPLING
    everything, nothing = frozenset(PATHOLOGIES), frozenset()
    modes = {
        "bilinear": (nothing, nothing),
        "guided": (everything, nothing),
        "mask-guided": (nothing, everything),
    }
    res: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        for mode, (guided, mask_guided) in modes.items():
            synth_gan.GUIDED_UPSAMPLING, synth_gan.MASK_GUIDED_UPSAMPLING = guided, mask_guided
            for i, c in enumerate(cases):
                rg = Radiograph(c["x"], (c["px"], c["px"]), "simulator")
                (v,) = synthesize(
                    rg, [c["cond"]], 1, seed=i, method="gan", device="cpu", regions=[c["region"]]
                )
                m = eval_synth.inside_metrics(v.radiograph.image, c["y"], c["mask"])
                z = zone_metrics(v.radiograph.image, c["y"], c["mask"], c["px"])
                res.setdefault((c["cond"].pathology, mode), []).append((*m, *z))
    finally:
        synth_gan.GUIDED_UPSAMPLING, synth_gan.MASK_GUIDED_UPSAMPLING = shipped
    print(f"GAN variant vs simulator truth, {len(cases)} validation chests")
    print("PSNR / SSIM inside the mask; then in the mask grown by FEATHER_MM")
    print("| pathology | " + " | ".join(f"{k}" for k in modes) + " | shipped |")
    print("|---|" + "---|" * (len(modes) + 1))
    for p in PATHOLOGIES:
        cells = [np.mean(res[(p, k)], axis=0) for k in modes]
        which = "guided" if p in shipped[0] else "mask-guided" if p in shipped[1] else "bilinear"
        row = " | ".join(f"{m[0]:.2f} / {m[1]:.3f}; {m[2]:.2f} / {m[3]:.3f}" for m in cells)
        print(f"| {p} | {row} | {which} |")


if __name__ == "__main__":
    main()
