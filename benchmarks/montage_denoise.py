"""A side-by-side of one NIH chest crop: clean, noisy (dose 1e4), ours, NLM (best h), BM3D.

Usage: PYTHONPATH=src python benchmarks/montage_denoise.py [IMAGE] [OUT.png]
(BM3D: ``pip install bm3d``, benchmark only.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
from matplotlib.figure import Figure
from skimage.metrics import peak_signal_noise_ratio as psnr
from skimage.restoration import denoise_nl_means

from napari_xray_synth.core.denoise import denoise
from napari_xray_synth.core.io import read_radiograph
from napari_xray_synth.core.simulate import simulate_noisy


def main() -> None:
    src = (
        sys.argv[1]
        if len(sys.argv) > 1
        else sorted(Path("/work/shared/data/cxr/images").glob("*.png"))[3]
    )
    out = sys.argv[2] if len(sys.argv) > 2 else "docs/denoise_montage.png"
    img = read_radiograph(src).image
    clean = np.ascontiguousarray(img[400:656, 300:556])
    z = simulate_noisy(clean, 1e4, 1)
    sigma = float(np.sqrt(np.mean((z - clean) ** 2)))
    panels = {"clean": clean, "noisy (dose 1e4)": z, "ours (blind)": denoise(z).image}
    panels["NLM (h=1.2σ, true σ)"] = denoise_nl_means(
        z, h=1.2 * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True
    )
    try:
        import bm3d

        panels["BM3D (true σ)"] = bm3d.bm3d(z, sigma_psd=sigma)
    except ImportError:
        pass
    fig = Figure(figsize=(3 * len(panels), 3.4))
    for k, (name, im) in enumerate(panels.items()):
        ax = fig.add_subplot(1, len(panels), k + 1)
        ax.imshow(np.clip(im, 0, 1), cmap="gray", vmin=0, vmax=1)
        label = name if k == 0 else f"{name}\n{psnr(clean, np.clip(im, 0, 1), data_range=1):.2f} dB"
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    print(out)


if __name__ == "__main__":
    main()
