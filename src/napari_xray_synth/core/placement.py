"""Random lesions at plausible places: a :class:`Condition` drawn inside the lung fields.

Sizes are drawn from the common part of each pathology's range (narrower than
``SIZE_RANGE_MM``, which holds the extremes), severity from [0.4, 0.9]. Centres:

* nodule, mass, consolidation: a random point of the lung of a random side, eroded by the
  lesion's radius (by less when the lung is too small for that) so the lesion lies inside;
* effusion: at the base of the lung (its lowest rows), across its middle;
* pneumothorax: at the lateral wall, a fifth of the way down the lung;
* cardiomegaly: between the lungs, two thirds of the way down.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_xray_synth.core.conditions import Condition
from napari_xray_synth.core.lung_field import LungFields

#: Sizes drawn for augmentation (mm): the usual part of each range.
COMMON_SIZE_MM: dict[str, tuple[float, float]] = {
    "nodule": (6.0, 25.0),
    "mass": (30.0, 60.0),
    "effusion": (20.0, 70.0),
    "pneumothorax": (8.0, 30.0),
    "consolidation": (30.0, 80.0),
    "cardiomegaly": (150.0, 190.0),
}


def _pick(mask: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    rows, cols = np.nonzero(mask)
    i = int(rng.integers(len(rows)))
    return float(rows[i]), float(cols[i])


def _inside(lung: np.ndarray, radius_px: float) -> np.ndarray:
    """The lung eroded by ``radius_px`` (halved until something is left)."""
    r = radius_px
    while r >= 1.0:
        eroded = ndimage.binary_erosion(lung, iterations=int(r))
        if eroded.any():
            return eroded
        r /= 2
    return lung


def place_condition(
    rng: np.random.Generator,
    pathology: str,
    fields: LungFields,
    spacing_mm: float,
) -> Condition:
    """Draw one condition of ``pathology`` at a plausible place.

    Parameters
    ----------
    rng : numpy Generator
        Source of every random choice.
    pathology : str
        One of ``conditions.PATHOLOGIES``.
    fields : LungFields
        Lung masks of the image.
    spacing_mm : float
        Pixel size.
    """
    lo, hi = COMMON_SIZE_MM[pathology]
    size = float(rng.uniform(lo, hi))
    severity = float(rng.uniform(0.4, 0.9))
    side = "right" if rng.random() < 0.5 else "left"
    lung = fields.side(side)
    shape = lung.shape
    rows, _ = np.nonzero(lung)
    if pathology in ("nodule", "mass", "consolidation"):
        # erode on a coarse grid: the radius can be a hundred pixels
        step = max(1, int(min(shape) // 256))
        small = lung[::step, ::step]
        r, c = _pick(_inside(small, size / 2 / spacing_mm / step), rng)
        center = (r * step, c * step)
    elif pathology == "effusion":
        bottom = rows.max()
        base = lung & (np.arange(shape[0])[:, None] >= bottom - 0.15 * (bottom - rows.min()))
        rr, cc = np.nonzero(base)
        center = (float(rr.mean()), float(np.median(cc)))
    elif pathology == "pneumothorax":
        top, bottom = rows.min(), rows.max()
        row = round(top + 0.2 * (bottom - top))
        cc = np.nonzero(lung[row])[0]
        # at the lateral wall (image left = patient's right), but not past the lung's middle
        lateral, middle = (cc.min(), cc.mean()) if side == "right" else (cc.max(), cc.mean())
        inward = 1 if side == "right" else -1
        col = lateral + inward * min(size / 2 / spacing_mm, abs(middle - lateral))
        center = (float(row), float(col))
    else:  # cardiomegaly
        both = fields.both
        brow, _ = np.nonzero(both)
        c_right = np.nonzero(fields.right)[1].mean()
        c_left = np.nonzero(fields.left)[1].mean()
        row = brow.min() + 0.66 * (brow.max() - brow.min())
        center = (float(row), float((c_right + c_left) / 2))
        side = None
    center = (
        float(np.clip(center[0], 0, shape[0] - 1)),
        float(np.clip(center[1], 0, shape[1] - 1)),
    )
    margin = "smooth"
    if pathology in ("nodule", "mass"):
        margin = str(rng.choice(["smooth", "lobulated", "spiculated"]))
    return Condition(
        pathology,
        center,
        size,
        severity,
        side=side,  # type: ignore[arg-type]
        shape_seed=int(rng.integers(2**31)),
        margin=margin,
    )
