"""A montage of the six pathologies on held-out simulated chests: input, truth, GAN, physics.

PYTHONPATH=src python benchmarks/synth_montage.py docs/img/synth_montage.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.radiograph import Radiograph
from napari_xray_synth.core.simulate import simulate_chest
from napari_xray_synth.core.synth_gan import make_window
from napari_xray_synth.core.synthesize import synthesize
from napari_xray_synth.core.train.gan_data import sim_pair, sim_region


def main(out: str, size: int = 768, seed: int = 950_000) -> None:
    cols = ["input", "simulated truth", "GAN v0", "GAN v1", "physics"]
    fig, axes = plt.subplots(len(PATHOLOGIES), len(cols), figsize=(2.2 * len(cols), 13.5))
    for i, p in enumerate(PATHOLOGIES):
        case = simulate_chest(seed + i, size, conditions=p)
        cond = case.conditions[0]
        x, y = sim_pair(case)
        region = sim_region(case, cond)
        rg = Radiograph(x, (case.spacing,) * 2, "simulator")
        g = synthesize(rg, [cond], 2, seed=i, method="gan", device="cpu", regions=[region])
        (ph,) = synthesize(rg, [cond], 1, seed=i, method="physics", regions=[region])
        win = make_window(x, cond, case.spacing, 64, region)
        sl = (slice(max(win.r0, 0), win.r0 + win.side), slice(max(win.c0, 0), win.c0 + win.side))
        imgs = [x, y, g[0].radiograph.image, g[1].radiograph.image, ph.radiograph.image]
        lo, hi = np.percentile(x[sl], [1, 99])
        for j, im in enumerate(imgs):
            ax = axes[i, j]
            ax.imshow(im[sl], cmap="gray", vmin=lo, vmax=hi)
            ax.contour(
                g[0].mask[sl] > 0, levels=[0.5], colors="y", linewidths=0.4
            ) if j == 0 else None
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(cols[j], fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{p}\n{cond.size_mm:.0f} mm", fontsize=9)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=70)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/img/synth_montage.png")
