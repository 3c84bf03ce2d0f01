"""A picture of GAN lesions on real films, without and with the steps after the GAN.

    PYTHONPATH=src python benchmarks/real_film_look.py [--data ../shared/data/cxr] \
        [--out docs/img/real_film_gan.png]

Rows: an effusion at the lateral base, an enlarged heart, a consolidation, a pneumothorax at the
lateral chest wall, each on a ChestX-ray14 film with lung clipping on (as napari and ``synth``
do). Columns: the film, the GAN variant with the soft-tissue cap (``core/density_cap.py``) and
the pneumothorax finish (``core/pleural_finish.py``) switched off, the shipped variant, and the
shipped variant with its mask outlined. There is no truth on a real film: this is for looking,
not a score.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from skimage.io import imsave
from skimage.transform import resize

from napari_xray_synth.core import synthesize as synth_mod
from napari_xray_synth.core.conditions import Condition
from napari_xray_synth.core.io import read_radiograph

# (film, pathology, centre as a share of rows/cols, size mm); the films' pixels are ~0.34 mm
SCENES = (
    ("images/00000129_000.png", "effusion", (0.72, 0.23), 60.0),
    ("images/00009145_000.png", "cardiomegaly", (0.59, 0.53), 170.0),
    ("images/00001368_000.png", "consolidation", (0.44, 0.74), 60.0),
    ("images/00000129_000.png", "pneumothorax", (0.32, 0.20), 25.0),
)
SPACING_MM = 0.34


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("../shared/data/cxr"))
    ap.add_argument("--out", type=Path, default=Path("docs/img/real_film_gan.png"))
    args = ap.parse_args()
    cap, finish = synth_mod.cap_to_level, synth_mod.finish_pneumothorax
    rows = []
    for film, pathology, (fr, fc), size in SCENES:
        rg = read_radiograph(args.data / film, spacing=SPACING_MM)
        h, w = rg.shape
        cond = Condition(pathology, (fr * h, fc * w), size, 0.8)
        shown = []
        try:
            for shipped in (False, True):
                synth_mod.cap_to_level = cap if shipped else (lambda before, after, *rest: after)
                synth_mod.finish_pneumothorax = (
                    finish if shipped else (lambda before, after, *rest, **kw: after)
                )
                (v,) = synth_mod.synthesize(
                    rg, [cond], 1, seed=1, method="gan", device="cpu", regions="lung"
                )
                shown.append(v.radiograph.image)
        finally:
            synth_mod.cap_to_level, synth_mod.finish_pneumothorax = cap, finish
        m = v.mask > 0
        edge = m ^ np.roll(m, 2, 0) | m ^ np.roll(m, 2, 1)
        outlined = np.stack([shown[-1]] * 3, -1)
        outlined[edge] = (1.0, 0.3, 0.3)
        half = int(min(h, w) * 0.3)
        r, c = int(fr * h), int(fc * w)
        box = (slice(max(r - half, 0), r + half), slice(max(c - half, 0), c + half))
        tiles = [np.stack([a[box]] * 3, -1) for a in (rg.image, *shown)] + [outlined[box]]
        rows.append(np.concatenate([resize(t, (300, 300)) for t in tiles], 1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    imsave(args.out, (np.clip(np.concatenate(rows, 0), 0, 1) * 255).astype(np.uint8))
    print(f"wrote {args.out}: film | GAN alone | shipped | shipped with its mask")


if __name__ == "__main__":
    main()
