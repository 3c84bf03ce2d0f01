"""How bright fluid may make a lung on a user's film: no brighter than the soft tissue under it.

An effusion or a consolidation replaces air in the lung by fluid, so where it is dense the lung
looks like the water-equivalent tissue beside it: the liver or spleen under the dome (the
silhouette sign: the dome's edge is lost, the base does not turn whiter than the abdomen). The
GAN learned how much to add from the simulator, whose lung bases are dark; on a real film whose
base is already bright (breast and chest-wall overlap), the same residual overshoots into a flat
white plate.

:func:`soft_tissue_level` estimates that tissue's brightness from the band 10 to 40 mm below the
lung field's lowest pixel, column by column, on the lesion's side: a level (a high percentile)
and a top (the band's near-maximum). :func:`cap_to_level` then scales the residual down,
locally, where the lesion's brightened pixels averaged over ``SMOOTH_MM`` would be brighter than
the level (the lesion keeps its texture and shape, and it is not scaled where it stays below:
the simulator's own effusions do), and rolls single pixels off smoothly towards the top, so
that no speck of the lesion is whiter than the whitest tissue under the dome. An enlarged heart
is capped the same way at the brightness of the old heart shadow (:func:`heart_level`): it is
the same tissue, more of it, not a brighter one. A consolidation is also held to the tissue it
abuts outside the lung fields (the heart, the mediastinum, the chest wall; :func:`abutting_level`):
where it meets the heart the two have the same density, which is why the border is lost.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from napari_xray_synth.core.lung_field import (
    BELOW_BAND_MM,
    LungFields,
    grown_mask,
    tissue_below,
)

#: Pathologies whose brightening is capped at the soft-tissue level under the lung.
CAPPED = frozenset({"effusion", "consolidation"})
#: ... and at the brightness of the heart it grows from.
CAPPED_AT_HEART = frozenset({"cardiomegaly"})
#: The band below the lung field that is the reference (mm from its lowest pixel).
BAND_MM = BELOW_BAND_MM
#: Percentile of the band taken as the level (the tissue varies; the upper part of it is allowed).
LEVEL_PERCENTILE = 90.0
#: Percentile of the band no pixel of the lesion may pass (approached smoothly from the level).
TOP_PERCENTILE = 99.5
#: How far outside a consolidation's mask the tissue it abuts is looked for (mm), and the least
#: area of it that sets a level (mm^2; about 64 pixels of a 0.34 mm film).
ABUT_MM = 10.0
ABUT_MIN_MM2 = 7.0
#: Scale (mm) over which the variant's brightness is compared with the level.
SMOOTH_MM = 5.0
#: The rule in words, for the provenance.
RULE = (
    f"GAN brightening of {', '.join(sorted(CAPPED))} capped at the {LEVEL_PERCENTILE:g}th "
    f"percentile of the band {BAND_MM[0]:g}-{BAND_MM[1]:g} mm below the lung field, of "
    f"{', '.join(sorted(CAPPED_AT_HEART))} at that of the old heart shadow in its mask "
    f"(averaged over {SMOOTH_MM:g} mm), single pixels rolled off towards the "
    f"{TOP_PERCENTILE:g}th percentile; consolidation also at the tissue outside the lung fields "
    f"within {ABUT_MM:g} mm of its mask"
)


class TissueLevels(NamedTuple):
    """Brightness of the tissue under a lung: the cap of the lesion's average, and the top."""

    level: float
    top: float


def soft_tissue_level(
    image: np.ndarray, fields: LungFields, side: str, px: float
) -> TissueLevels | None:
    """Brightness of the tissue under the ``side`` lung, or None without a threshold lung field.

    Parameters
    ----------
    image : ndarray
        The film (2-D, [0, 1], bright = more attenuation).
    fields : LungFields
        Its lung fields; template fields (the threshold failed) give None: their base is a guess.
    side : str
        "right" or "left" (the patient's).
    px : float
        Pixel size in mm.
    """
    if fields.method != "threshold":
        return None
    band = tissue_below(image, fields.side(side), px)
    return None if band is None else _levels(band)


def _levels(tissue: np.ndarray) -> TissueLevels:
    level, top = np.percentile(tissue, [LEVEL_PERCENTILE, TOP_PERCENTILE])
    return TissueLevels(float(level), float(max(top, level)))


def heart_level(image: np.ndarray, fields: LungFields, mask: np.ndarray) -> TissueLevels | None:
    """Brightness of the heart an enlarged heart grows from: the film inside the cardiomegaly's
    ``mask`` but outside both lung fields (the old heart shadow), or None (too little of it, or
    template lung fields)."""
    if fields.method != "threshold":
        return None
    old = image[mask & ~fields.both]
    return _levels(old) if old.size >= 64 else None


def abutting_level(
    image: np.ndarray, fields: LungFields, mask: np.ndarray, px: float
) -> TissueLevels | None:
    """Brightness of the tissue a consolidation's ``mask`` abuts: the film outside both lung
    fields within ``ABUT_MM`` of the mask (heart, mediastinum, chest wall, dome), or None where
    there is too little of it (a lesion in mid-lung) or the lung fields are templates."""
    if fields.method != "threshold" or not mask.any():
        return None
    ring = image[grown_mask(mask, ABUT_MM / px) & ~mask & ~fields.both]
    return _levels(ring) if ring.size * px * px >= ABUT_MIN_MM2 else None


def lower_levels(*levels: TissueLevels | None) -> TissueLevels | None:
    """The lowest level and the lowest top of those given (None where none is)."""
    known = [lv for lv in levels if lv is not None]
    if not known:
        return None
    return TissueLevels(min(lv.level for lv in known), min(lv.top for lv in known))


def cap_to_level(
    before: np.ndarray,
    after: np.ndarray,
    levels: TissueLevels | float,
    px: float,
    box: tuple[slice, slice],
) -> np.ndarray:
    """``after`` with its brightening over ``before`` scaled so that, averaged over the brightened
    pixels near each point, it stays at or below ``level`` inside ``box`` (where the lesion was
    drawn), and single brightened pixels above the level rolled off smoothly towards ``top``;
    darkening is left as it is. A bare float is a level with no top."""
    level, top = levels if isinstance(levels, TissueLevels) else (float(levels), None)
    out = after.copy()
    b, a = before[box].astype(np.float32), after[box].astype(np.float32)
    delta = np.maximum(a - b, 0.0)
    if not delta.any():
        return out
    sigma = max(SMOOTH_MM / px, 1.0)
    # the comparison is smooth at SMOOTH_MM: made on a block-averaged grid, its factor upsampled
    f = max(int(sigma // 4), 1)
    # averages over the brightened pixels only (normalised convolution), so that a thin lesion
    # (a meniscus in the costophrenic angle) is not diluted by the untouched pixels around it
    w = (delta > 1e-4).astype(np.float32)
    wb, wd, ww = (ndimage.gaussian_filter(_block_mean(x, f), sigma / f) for x in (b * w, delta, w))
    ww = np.maximum(ww, 1e-3)
    base, rise = wb / ww, wd / ww
    room = np.maximum(level - base, 0.0)
    scale = np.where(rise > room, room / np.maximum(rise, 1e-6), 1.0).astype(np.float32)
    if f > 1:
        t = torch.from_numpy(scale)[None, None]
        scale = F.interpolate(t, size=b.shape, mode="bilinear", align_corners=False)[0, 0].numpy()
    capped = a - delta * (1.0 - scale)
    if top is not None and top > level:
        # a soft shoulder: identity up to the level, never past the top, never below the input
        span = top - level
        rolled = level + span * np.tanh(np.maximum(capped - level, 0.0) / span)
        capped = np.where((delta > 0) & (capped > level), np.maximum(rolled, b), capped)
    out[box] = capped
    return out


def _block_mean(x: np.ndarray, f: int) -> np.ndarray:
    """Mean over ``f x f`` blocks (the last partial blocks padded with the edge)."""
    if f == 1:
        return x
    h, w = x.shape
    x = np.pad(x, ((0, -h % f), (0, -w % f)), mode="edge")
    return x.reshape(x.shape[0] // f, f, x.shape[1] // f, f).mean(axis=(1, 3))
