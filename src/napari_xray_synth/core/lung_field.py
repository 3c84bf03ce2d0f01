"""Where lesions may go in a real frontal (PA/AP) chest film: a simple lung-field estimate.

The estimate is a heuristic, not a segmentation model, and says so:

1. the image is shrunk to about 256 pixels and smoothed;
2. lungs are the dark (air) regions of a MONOCHROME2 chest film: pixels below Otsu's threshold
   computed over the central part of the image;
3. each lung is the largest dark region inside a generous prior: an ellipse 1.3 times the size
   of a template lung at the position typical of an adult PA film (image left = the patient's
   right), which keeps the air outside the body and the bowel gas out; holes are filled;
4. when that fails (a lung smaller than 40 % of its template ellipse, or none), the template
   ellipses themselves are used.

``LungFields.method`` says which of the two produced each result, so a data set can report how
often the template was needed.

:meth:`LungFields.lesion_region` is what lesions that fill the lung (effusion, pneumothorax,
consolidation) are clipped to on a film with no anatomy of its own: the lung's convex hull,
extended down at its lateral edge where the film is still aerated, and grown 5 mm. The threshold
misses the lateral costophrenic angle (the lung is thin there and overlaid by the chest wall),
where an effusion collects first; so each column of the hull may reach below its lowest point by
``30 mm x l**2``, ``l`` going from 0 at the lung's medial edge to 1 at its lateral edge, but
only down to its first pixel that is not nearer the lung's brightness than the tissue's under
the dome (the median of the band 10-40 mm below the field), so that on a film whose threshold
field already reaches the dome nothing of the liver, the spleen or the gas under them is taken.
(An extension of 30 mm everywhere, the first rule, took in the abdomen under the dome.)
A consolidation is different: it fills the air spaces and stops where the lung does, at the
heart border and the dome (the silhouette sign), so its region is the threshold field itself,
grown 2 mm; the hull would carry it across the cardiac notch onto the heart. The threshold
field's medial edge can lie 10-15 mm inside a faint heart or mediastinal shadow (its edge is
thin, so it stays below Otsu's cut), where a consolidation became a flat band along the heart;
so each row of the field first loses the pixels from its medial edge out to its first pixel
nearer the lung's brightness than the mediastinum's (at most 20 mm), the cut smoothed as a
running median over 30 mm of rows so that a rib crossing the edge leaves no notch. Measured
with ``benchmarks/lung_region_iou.py`` (mask IoU with the lesion clipped to the simulator's own
field): chosen on seeds 400..435, checked on 600..635; see docs/synth.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.morphology import convex_hull_image
from skimage.transform import resize

WORK_SIZE = 256
MIN_FRACTION = 0.02
#: :meth:`LungFields.lesion_region`: how far below the lung's hull at its lateral edge (mm; the
#: extension falls off as the square of the distance from the medial edge), and how much around.
REGION_DOWN_MM = 30.0
REGION_GROW_MM = 5.0
#: A consolidation's region: the threshold field grown this much (mm), no hull.
CONSOLIDATION_GROW_MM = 2.0
#: A consolidation's medial trim (mm): at most this deep, smoothed over this many mm of rows,
#: the mediastinum's level read this far medial of the field's edge.
MEDIAL_TRIM_MM = 20.0
MEDIAL_SMOOTH_MM = 30.0
MEDIASTINUM_BAND_MM = (5.0, 20.0)
#: ... and the cut between the lung's level (0) and the mediastinum's (1).
TRIM_FRACTION = 0.5
#: The band below a lung field (mm from its lowest pixel) that holds the tissue under the dome.
BELOW_BAND_MM = (10.0, 40.0)
#: The rule in words (recorded by ``augment``, whose resumed items must be made the same way).
LESION_REGION_RULE = (
    f"lung field hull, up to {REGION_DOWN_MM:g} mm down at the lateral edge (quadratic taper) "
    f"down to the first non-aerated pixel, {REGION_GROW_MM:g} mm out; consolidation: the field "
    f"{CONSOLIDATION_GROW_MM:g} mm out, its medial edge moved out of the mediastinum's shadow "
    f"(up to {MEDIAL_TRIM_MM:g} mm); fields without the air around the body (lesion_region v7)"
)


@dataclass(frozen=True)
class LungFields:
    """Boolean masks of the patient's right and left lung, at the image's shape."""

    right: np.ndarray
    left: np.ndarray
    method: str  # "threshold" or "template"
    #: the film the fields were estimated on (lesion_region reads it below the lung)
    image: np.ndarray | None = field(default=None, repr=False, compare=False)
    # lesion_region per (side, px): augment asks once per item, the answer is per film
    _regions: dict[tuple[str, float, str], np.ndarray] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def side(self, side: str) -> np.ndarray:
        """The mask of ``side`` ("right" or "left")."""
        return self.right if side == "right" else self.left

    @property
    def both(self) -> np.ndarray:
        """Both lungs."""
        return self.right | self.left

    def side_at(self, center: tuple[float, float]) -> str:
        """The patient's side whose lung field holds ``center`` (row, col), or the nearer one."""
        shape = self.right.shape
        r, c = (min(max(round(v), 0), n - 1) for v, n in zip(center, shape, strict=True))
        for side in ("right", "left"):
            if self.side(side)[r, c]:
                return side
        step = max(1, max(shape) // 256)
        best, pick = np.inf, "right"
        for side in ("right", "left"):
            pts = np.argwhere(self.side(side)[::step, ::step]) * step
            if len(pts):
                d = float(np.min((pts[:, 0] - center[0]) ** 2 + (pts[:, 1] - center[1]) ** 2))
                if d < best:
                    best, pick = d, side
        return pick

    def lesion_region(self, side: str, px: float, pathology: str | None = None) -> np.ndarray:
        """Where a lung-filling lesion on ``side`` may go (see the module docstring).

        Parameters
        ----------
        side : str
            "right" or "left" (the patient's).
        px : float
            Pixel size in mm.
        pathology : str, optional
            "consolidation" gets the field itself, grown 2 mm; anything else the hull region.
        """
        # the field itself only where the threshold found it; template ellipses are a guess
        own = pathology == "consolidation" and self.method == "threshold"
        kind = "consolidation" if own else "hull"
        key = (side, float(px), kind)
        if key not in self._regions:
            if kind == "consolidation":
                lung = self.side(side)
                if self.image is not None:
                    lung = trim_medial_edge(lung, self.image, side, px)
                self._regions[key] = grown_mask(lung, CONSOLIDATION_GROW_MM / px)
            else:
                self._regions[key] = self._lesion_region(side, px)
        return self._regions[key]

    def _lesion_region(self, side: str, px: float) -> np.ndarray:
        lung = self.side(side)
        shape = lung.shape
        scale = min(1.0, 512 / max(shape))
        small_shape = (max(round(shape[0] * scale), 8), max(round(shape[1] * scale), 8))
        small = resize(lung.astype(np.float32), small_shape, order=1) > 0.5
        if not small.any():
            return lung.copy()
        spx = px / scale  # mm per pixel of the small grid
        hull = convex_hull_image(small)
        aerated = None
        if self.image is not None:
            aerated = _aerated(resize(self.image, small_shape, order=1), small, spx)
        ext = _extend_laterally_down(hull, side, REGION_DOWN_MM / spx, aerated)
        grown = ndimage.distance_transform_edt(~ext) <= REGION_GROW_MM / spx
        return resize(grown.astype(np.float32), shape, order=1) > 0.5


def trim_medial_edge(lung: np.ndarray, image: np.ndarray, side: str, px: float) -> np.ndarray:
    """``lung`` without the strip along its medial edge that is brighter than the midpoint of
    the lung's and the mediastinum's levels (see the module docstring).

    Parameters
    ----------
    lung : ndarray
        Boolean field of one lung at the image's shape.
    image : ndarray
        The film (MONOCHROME2, values in [0, 1]).
    side : str
        "right" or "left" (the patient's; image left is the patient's right).
    px : float
        Pixel size in mm.

    Returns
    -------
    ndarray
        The trimmed field at the image's shape (``lung`` itself when there is nothing to read).
    """
    shape = lung.shape
    scale = min(1.0, 512 / max(shape))
    small_shape = (max(round(shape[0] * scale), 8), max(round(shape[1] * scale), 8))
    small = resize(lung.astype(np.float32), small_shape, order=1) > 0.5
    rows = np.nonzero(small.any(axis=1))[0]
    if rows.size < 3:
        return lung
    spx = px / scale
    img = resize(np.asarray(image, np.float32), small_shape, order=1, anti_aliasing=True)
    img = ndimage.gaussian_filter(img, 1.0 / spx)
    w = small_shape[1]
    out = +1 if side == "left" else -1  # image columns step from the medial edge into the lung
    hit = small[rows]
    edge = np.argmax(hit, axis=1) if out > 0 else w - 1 - np.argmax(hit[:, ::-1], axis=1)
    a, b = (max(round(mm / spx), 1) for mm in MEDIASTINUM_BAND_MM)
    medial = edge[:, None] - out * np.arange(a, b)[None, :]
    inside = (medial >= 0) & (medial < w)
    mediastinum = img[rows[:, None], np.clip(medial, 0, w - 1)][inside]
    if mediastinum.size < 16:
        return lung
    lung_level = float(np.median(img[small]))
    cut = lung_level + TRIM_FRACTION * (float(np.median(mediastinum)) - lung_level)
    depth = max(round(MEDIAL_TRIM_MM / spx), 1)
    cols = edge[:, None] + out * np.arange(depth)[None, :]
    valid = (cols >= 0) & (cols < w)
    darker = (img[rows[:, None], np.clip(cols, 0, w - 1)] < cut) | ~valid
    shift = np.where(darker.any(axis=1), np.argmax(darker, axis=1), depth)
    window = max(3, round(MEDIAL_SMOOTH_MM / spx)) | 1
    shift = ndimage.median_filter(shift, size=window, mode="nearest")
    # each row's first kept column, carried to the image's grid (rows without a cut: NaN)
    keep_from = np.full(small_shape[0], np.nan)
    keep_from[rows[shift > 0]] = (edge + out * shift)[shift > 0]
    source_row = np.round((np.arange(shape[0]) + 0.5) * scale - 0.5).astype(int)
    keep_full = (keep_from[np.clip(source_row, 0, small_shape[0] - 1)] + 0.5) / scale - 0.5
    cols = np.arange(shape[1])[None, :]
    medial = cols < keep_full[:, None] if out > 0 else cols > keep_full[:, None]
    return lung & ~medial


def grown_mask(mask: np.ndarray, radius_px: float) -> np.ndarray:
    """``mask`` grown by ``radius_px``, the distance transform run on its bounding box only."""
    out = np.zeros_like(mask)
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if rows.size == 0:
        return out
    pad = int(np.ceil(radius_px)) + 1
    box = (
        slice(max(rows[0] - pad, 0), rows[-1] + pad + 1),
        slice(max(cols[0] - pad, 0), cols[-1] + pad + 1),
    )
    out[box] = ndimage.distance_transform_edt(~mask[box]) <= radius_px
    return out


def tissue_below(image: np.ndarray, lung: np.ndarray, px: float) -> np.ndarray | None:
    """The film in the band 10-40 mm below ``lung``'s lowest pixel, column by column: the
    water-equivalent tissue under the dome (None when the film ends first)."""
    cols = np.nonzero(lung.any(axis=0))[0]
    if cols.size == 0:
        return None
    h = lung.shape[0]
    bottom = h - 1 - np.argmax(lung[::-1, cols], axis=0)
    a, b = (max(round(mm / px), 1) for mm in BELOW_BAND_MM)
    parts = [image[min(r + a, h) : min(r + b, h), c] for c, r in zip(cols, bottom, strict=True)]
    band = np.concatenate(parts)
    return band if band.size >= 16 else None


def _aerated(image: np.ndarray, lung: np.ndarray, px: float) -> np.ndarray:
    """Pixels nearer the lung's brightness than the tissue's under it (all, if unknown)."""
    band = tissue_below(image, lung, px)
    if band is None:
        return np.ones(image.shape, bool)
    return image < 0.5 * (float(np.median(image[lung])) + float(np.median(band)))


def _extend_laterally_down(
    hull: np.ndarray, side: str, down_px: float, aerated: np.ndarray | None = None
) -> np.ndarray:
    """``hull`` with each column extended below its lowest pixel by ``down_px * l**2``, ``l``
    from 0 at the medial edge to 1 at the lateral one (image left is the patient's right); with
    ``aerated``, each column's extension stops at its first pixel that is not (a dark pocket
    under a bright dome, gas in the stomach, is not lung)."""
    cols = np.nonzero(hull.any(axis=0))[0]
    ext = hull.copy()
    if cols.size < 2:
        return ext
    lateral = (cols - cols[0]) / (cols[-1] - cols[0])
    if side == "right":
        lateral = 1.0 - lateral
    bottom = hull.shape[0] - 1 - np.argmax(hull[::-1, cols], axis=0)
    for c, b, lat in zip(cols, bottom, lateral, strict=True):
        run = round(down_px * lat**2)
        if aerated is not None and run:
            below = aerated[b + 1 : b + 1 + run, c]
            run = int(np.argmin(below)) if not below.all() else below.size
        ext[b : b + run + 1, c] = True
    return ext


def _ellipse(shape: tuple[int, int], cx: float, grow: float = 1.0) -> np.ndarray:
    h, w = shape
    rr, cc = np.mgrid[0:h, 0:w].astype(np.float32)
    return ((rr - 0.47 * h) / (0.27 * h * grow)) ** 2 + (
        (cc - cx * w) / (0.14 * w * grow)
    ) ** 2 <= 1.0


def template_fields(shape: tuple[int, int]) -> LungFields:
    """Two ellipses where the lungs of an adult PA film usually are."""
    return LungFields(right=_ellipse(shape, 0.31), left=_ellipse(shape, 0.69), method="template")


def outside_air(small: np.ndarray, lung_level: float) -> np.ndarray:
    """The air around the patient on the work grid: pixels darker than half the lung's level
    (no lung is that dark: it lies under the chest wall) connected to the film's edge, grown
    by two pixels. Where an arm leaves a gap beside a thin chest wall, the threshold field
    took that air in with the lung (NIH 00013231: a third of a lung field)."""
    air = small < 0.5 * lung_level
    labels, n = ndimage.label(air)
    if n == 0:
        return air
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    out = np.isin(labels, edge[edge > 0])
    return ndimage.binary_dilation(out, iterations=2)


def estimate_lung_fields(image: np.ndarray) -> LungFields:
    """Estimate the lung fields of a frontal chest film (MONOCHROME2, values in [0, 1]).

    Parameters
    ----------
    image : ndarray
        2-D image, bright = more attenuation.

    Returns
    -------
    LungFields
        Masks at the shape of ``image``; ``method`` is "template" when the threshold failed.
    """
    img = np.asarray(image, np.float32)
    shape = img.shape
    scale = WORK_SIZE / max(shape)
    small_shape = (max(round(shape[0] * scale), 16), max(round(shape[1] * scale), 16))
    small = resize(img, small_shape, anti_aliasing=True, preserve_range=True).astype(np.float32)
    small = ndimage.gaussian_filter(small, 1.5)
    h, w = small.shape
    core = small[int(0.2 * h) : int(0.8 * h), int(0.15 * w) : int(0.85 * w)]
    if float(core.max() - core.min()) < 1e-6:
        return template_fields(shape)
    t = threshold_otsu(core)
    dark = (small < t) & ~outside_air(small, float(np.median(core[core < t])))
    lungs = []
    for cx in (0.31, 0.69):  # image left = the patient's right in a PA film
        prior = _ellipse((h, w), cx, grow=1.3)
        cand = ndimage.binary_opening(dark & prior, iterations=2)
        labels, n = ndimage.label(cand)
        if n == 0:
            return template_fields(shape)
        sizes = ndimage.sum_labels(cand, labels, np.arange(1, n + 1))
        mask = labels == (int(np.argmax(sizes)) + 1)
        if mask.sum() < 0.4 * _ellipse((h, w), cx).sum() or mask.mean() < MIN_FRACTION:
            return template_fields(shape)
        mask = ndimage.binary_fill_holes(ndimage.binary_closing(mask, iterations=3))
        lungs.append(resize(mask.astype(np.float32), shape, order=1) > 0.5)
    return LungFields(right=lungs[0], left=lungs[1], method="threshold", image=img)
