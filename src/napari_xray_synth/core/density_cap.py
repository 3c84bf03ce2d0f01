"""How bright fluid may make a lung on a user's film: no brighter than the soft tissue under it.

An effusion or a consolidation replaces air in the lung by fluid, so where it is dense the lung
looks like the water-equivalent tissue beside it: the liver or spleen under the dome (the
silhouette sign: the dome's edge is lost, the base does not turn whiter than the abdomen). The
GAN learned how much to add from the simulator, whose lung bases are dark; on a real film whose
base is already bright (breast and chest-wall overlap), the same residual overshoots into a flat
white plate.

:func:`soft_tissue_level` estimates that tissue's brightness as a high percentile of the band
10 to 40 mm below the lung field's lowest pixel, column by column, on the lesion's side.
:func:`cap_to_level` then scales the residual down, locally (smoothed over ``SMOOTH_MM``), where
the smoothed variant would be brighter than that level: the lesion keeps its texture and shape,
and it is not scaled where it stays below the level (the simulator's own effusions do).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from napari_xray_synth.core.lung_field import LungFields

#: Pathologies whose brightening is capped at the soft-tissue level.
CAPPED = frozenset({"effusion", "consolidation"})
#: The band below the lung field that is the reference (mm from its lowest pixel).
BAND_MM = (10.0, 40.0)
#: Percentile of the band taken as the level (the tissue varies; the upper part of it is allowed).
LEVEL_PERCENTILE = 90.0
#: Scale (mm) over which the variant's brightness is compared with the level.
SMOOTH_MM = 5.0
#: The rule in words, for the provenance.
RULE = (
    f"GAN brightening of {', '.join(sorted(CAPPED))} capped at the {LEVEL_PERCENTILE:g}th "
    f"percentile of the band {BAND_MM[0]:g}-{BAND_MM[1]:g} mm below the lung field "
    f"(smoothed over {SMOOTH_MM:g} mm)"
)


def soft_tissue_level(image: np.ndarray, fields: LungFields, side: str, px: float) -> float | None:
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
    lung = fields.side(side)
    cols = np.nonzero(lung.any(axis=0))[0]
    if cols.size == 0:
        return None
    h = lung.shape[0]
    bottom = h - 1 - np.argmax(lung[::-1, cols], axis=0)
    a, b = (max(round(mm / px), 1) for mm in BAND_MM)
    parts = [image[min(r + a, h) : min(r + b, h), c] for c, r in zip(cols, bottom, strict=True)]
    band = np.concatenate(parts) if parts else np.empty(0)
    if band.size < 16:  # the lung reaches the bottom of the film: no tissue under it
        return None
    return float(np.percentile(band, LEVEL_PERCENTILE))


def cap_to_level(
    before: np.ndarray, after: np.ndarray, level: float, px: float, box: tuple[slice, slice]
) -> np.ndarray:
    """``after`` with its brightening over ``before`` scaled so that, smoothed, it stays at or
    below ``level`` inside ``box`` (where the lesion was drawn); darkening is left as it is."""
    out = after.copy()
    b, a = before[box].astype(np.float32), after[box].astype(np.float32)
    delta = np.maximum(a - b, 0.0)
    if not delta.any():
        return out
    sigma = max(SMOOTH_MM / px, 1.0)
    # the comparison is smooth at SMOOTH_MM: made on a block-averaged grid, its factor upsampled
    f = max(int(sigma // 4), 1)
    base, rise = (ndimage.gaussian_filter(_block_mean(x, f), sigma / f) for x in (b, delta))
    room = np.maximum(level - base, 0.0)
    scale = np.where(rise > room, room / np.maximum(rise, 1e-6), 1.0).astype(np.float32)
    if f > 1:
        t = torch.from_numpy(scale)[None, None]
        scale = F.interpolate(t, size=b.shape, mode="bilinear", align_corners=False)[0, 0].numpy()
    out[box] = a - delta * (1.0 - scale)
    return out


def _block_mean(x: np.ndarray, f: int) -> np.ndarray:
    """Mean over ``f x f`` blocks (the last partial blocks padded with the edge)."""
    if f == 1:
        return x
    h, w = x.shape
    x = np.pad(x, ((0, -h % f), (0, -w % f)), mode="edge")
    return x.reshape(x.shape[0] // f, f, x.shape[1] // f, f).mean(axis=(1, 3))
