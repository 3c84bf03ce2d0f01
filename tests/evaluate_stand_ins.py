"""Small stand-ins for the simulator, the synthesizer and the denoiser (evaluate tests only)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from scipy import ndimage

from napari_xray_synth.core.conditions import SIZE_RANGE_MM, Condition, label_mask, render_soft_mask
from napari_xray_synth.core.radiograph import Provenance, Radiograph

FIELD_MM = 400.0


def _anatomy(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[0:size, 0:size] / size
    lungs = (np.abs(cc - 0.5) > 0.08) & (np.abs(cc - 0.5) < 0.38) & (rr > 0.15) & (rr < 0.85)
    img = 0.7 - 0.35 * lungs + 0.05 * rng.standard_normal() * rr
    return ndimage.gaussian_filter(img, 1.5).astype(np.float32), lungs


def simulate_chest(seed, size, conditions=(), dose=1.0):
    spacing = FIELD_MM / size
    clean, lungs = _anatomy(seed, size)
    diseased = clean.copy()
    for c in conditions:
        diseased += 0.3 * c.severity * render_soft_mask(c, (size, size), spacing)
    noise = np.random.default_rng(seed + 7).standard_normal((size, size)) * 0.02 / np.sqrt(dose)

    def rg(img):
        return Radiograph(
            np.clip(img + noise, 0, 1),
            spacing=(spacing, spacing),
            spacing_source="simulator",
            provenance=(Provenance("simulate", seed=seed),),
            synthetic=True,
        )

    return SimpleNamespace(
        healthy=rg(clean),
        diseased=rg(diseased),
        healthy_clean=np.clip(clean, 0, 1),
        mask=label_mask(conditions, (size, size), spacing),
        lung_mask=lungs,
        conditions=tuple(conditions),
        spacing=spacing,
    )


def random_condition(pathology, lung_mask, spacing, rng):
    rows, cols = np.nonzero(lung_mask)
    k = int(rng.integers(len(rows)))
    lo, hi = SIZE_RANGE_MM[pathology]
    return Condition(
        pathology,
        (float(rows[k]), float(cols[k])),
        float(rng.uniform(lo, min(hi, lo * 2))),
        severity=float(rng.uniform(0.5, 1.0)),
        shape_seed=int(rng.integers(1000)),
    )


SIM = SimpleNamespace(
    simulate_chest=simulate_chest, random_condition=random_condition, DEFAULT_DOSE=1.0
)


def synthesize(radiograph, conditions, n_variants=1, seed=0, method="physics", cancel=None, **kw):
    out = []
    for k in range(n_variants):
        img = radiograph.image.copy()
        for c in conditions:
            img += 0.25 * render_soft_mask(c, radiograph.shape, radiograph.spacing)
        step = Provenance("synthesize", {"method": method}, seed=seed + k)
        out.append(
            SimpleNamespace(
                radiograph=radiograph.derive(np.clip(img, 0, 1), step, synthetic=True),
                mask=label_mask(conditions, radiograph.shape, radiograph.spacing),
                conditions=tuple(conditions),
                seed=seed + k,
            )
        )
    return out


def denoise(rg, method="gaussian", cancel=None, **kw):
    sigma = {"gaussian": 1.0, "strong": 2.5}[method]
    return rg.derive(
        ndimage.gaussian_filter(rg.image, sigma), Provenance("denoise", {"method": method})
    )
