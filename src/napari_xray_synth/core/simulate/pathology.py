"""Lesions from :class:`~napari_xray_synth.core.conditions.Condition`, placed in the phantom.

The lesion's extent is always the soft mask of :func:`conditions.render_soft_mask` (the one
renderer); this module only decides what the lesion does to the X-ray path inside that extent:

- nodule, mass: a solid body replacing aerated lung, its path length that of a sphere (the
  chord ``2 sqrt(d (2R - d))`` at a depth ``d`` inside the outline), scaled by severity;
- effusion: fluid replacing the aerated lung of the side under a meniscus;
- consolidation: the air spaces filled, unevenly and with an ill-defined margin, but for air
  bronchograms (air-filled bronchi) inside;
- pneumothorax: all lung (air spaces and vessels) replaced by air beyond the visceral pleural
  line, which is drawn as a thin soft-tissue line;
- cardiomegaly: a larger heart, which displaces lung.

:func:`random_condition` draws a plausible condition inside the lung fields of an image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from napari_xray_synth.core.conditions import (
    LABELS,
    PATHOLOGIES,
    SIZE_RANGE_MM,
    Condition,
    render_soft_mask,
)
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.simulate._ops import smooth_noise
from napari_xray_synth.core.simulate.phantom import (
    MU_LUNG,
    MU_SOFT,
    Phantom,
    _capsules,
    _vessel_tree,
)

REGION_PATHOLOGIES = ("effusion", "pneumothorax", "consolidation")
DMU = MU_SOFT - MU_LUNG
CUT_MM = 4.0  # a consolidation's fade where the lung field cuts it (mm)


def _bbox(mask: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (
        slice(max(rows[0] - pad, 0), min(rows[-1] + pad + 1, h)),
        slice(max(cols[0] - pad, 0), min(cols[-1] + pad + 1, w)),
    )


def _sphere_chord(hard: np.ndarray, radius_px: float) -> np.ndarray:
    """Relative path length (1 at the centre) of a body with outline ``hard``."""
    d = ndimage.distance_transform_edt(np.pad(hard, 1))[1:-1, 1:-1]
    d = np.minimum(d, radius_px)
    return np.sqrt(np.clip(d * (2 * radius_px - d), 0, None)) / max(radius_px, 1e-6)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    return t * t * (3.0 - 2.0 * t)


def _acts(soft: np.ndarray) -> np.ndarray:
    """Where a lesion acts: where its soft mask passes 0.4, so that its effect stays within a
    fraction of an edge width of the ground-truth border (soft = 0.5), however dense it is."""
    return _smoothstep(np.clip((soft - 0.4) / 0.2, 0.0, 1.0))


def _free_outline(
    cond: Condition, shape: tuple[int, int], px: float, box: tuple[slice, slice]
) -> tuple[np.ndarray, np.ndarray]:
    """The condition's soft mask before the lung field clips it, and the depth (px) inside that
    outline, over ``box``."""
    full = render_soft_mask(cond, shape, px)
    fbox = _bbox(full > 1e-3, 2)
    inner = tuple(
        slice(b.start - f.start, b.stop - f.start) for b, f in zip(box, fbox, strict=True)
    )
    depth = ndimage.distance_transform_edt(np.pad(full[fbox] > 0.5, 1))[1:-1, 1:-1]
    return full[box], depth[inner]


def region_for(cond: Condition, phantom: Phantom) -> np.ndarray | None:
    """The lung field the condition is clipped to (its side), or None."""
    if cond.pathology not in REGION_PATHOLOGIES:
        return None
    return phantom.side_mask(cond.patient_side(phantom.shape))


def apply_conditions(
    phantom: Phantom, conditions: Sequence[Condition], healthy: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The diseased line integral and the uint8 label mask (:data:`LABELS`).

    Parameters
    ----------
    phantom : Phantom
        The healthy patient.
    conditions : sequence of Condition
        Applied in order; in the label mask a later condition overwrites an earlier one.
    healthy : ndarray, optional
        The healthy line integral, when already computed.
    """
    shape, px = phantom.shape, phantom.spacing
    labels = np.zeros(shape, np.uint8)
    delta = np.zeros(shape, np.float32)
    heart = phantom.heart
    air = phantom.air()
    for cond in conditions:
        cond.check_inside(shape)
        region = region_for(cond, phantom)
        soft = render_soft_mask(cond, shape, px, region)
        hard = soft > 0.5
        labels[hard] = LABELS[cond.pathology]
        box = _bbox(soft > 1e-3, 2)
        if box is None:
            continue
        sev = float(cond.severity)
        p = cond.pathology
        s = _acts(soft[box])
        if p in ("nodule", "mass"):
            chord = _sphere_chord(hard[box], cond.size_mm / 2 / px) * cond.size_mm / 10.0
            delta[box] += sev * DMU * chord
        elif p == "cardiomegaly":
            rel = _sphere_chord(hard[box], 0.42 * cond.size_mm / px)
            grown = heart.copy()
            big = phantom.heart_geometry["hmax"] * np.sqrt(rel) ** 0.8
            grown[box] = np.maximum(grown[box], (0.5 + 0.5 * sev) * big)
            heart = grown
        elif p == "effusion":
            # fluid replaces the aerated lung under the meniscus; severity is its opacity.
            # The layer thickens downwards from its upper border: a hazy top, dense base.
            depth = np.cumsum(hard[box], axis=0) * px
            layer = np.clip(depth / (0.35 * cond.size_mm), 0.0, 1.0) ** 0.7
            delta[box] += np.sqrt(sev) * DMU * air[box] * s * layer
        elif p == "consolidation":
            bron = _bronchograms(cond, box, hard, phantom)
            # a little uneven inside (acini fill unevenly), but near-homogeneous: a 0.4-1.0 filling
            # drew dark round gaps that read as cavities, not as lobar consolidation
            rng_c = np.random.default_rng([cond.shape_seed, 23])
            patch = smooth_noise(rng_c, s.shape, max(int(3.0 / px), 1), 1.0)
            fluff = smooth_noise(rng_c, s.shape, max(int(6.0 / px), 1), 1.0)
            bron = ndimage.gaussian_filter(bron, max(0.7 / px, 0.5))
            # an ill-defined margin where the disease ends inside the lung: the filling grades in
            # over the outer quarter of the radius, unevenly (acini at the edge fill first or
            # last), then ~1.5 mm of blur. Where the lung field cuts the outline (the heart, the
            # dome, the mediastinum) the filling stays dense to within CUT_MM of the cut, so the
            # border of the heart or dome next to it is lost (the silhouette sign); the last
            # CUT_MM fade, since the field ends where aerated lung is still 40 % of the lung's
            # thickness and a sharp stop would draw a line there.
            free, fdepth = _free_outline(cond, shape, px, box)
            ramp = np.clip(0.3 + fdepth / (0.35 * cond.size_mm / 2 / px) + 0.25 * fluff, 0.0, 1.0)
            inside = ndimage.distance_transform_edt(region[box]) * px
            cut = _smoothstep(np.clip(inside / CUT_MM, 0.0, 1.0))
            edge = ndimage.gaussian_filter(_acts(free) * ramp, max(1.5 / px, 0.3)) * cut
            fill = edge * (0.85 + 0.1 * np.tanh(patch)) * (1.0 - np.clip(bron / 0.5, 0.0, 0.35))
            delta[box] += sev * 0.7 * DMU * air[box] * fill
        elif p == "pneumothorax":
            # severity: how much of the lung's path is lost to air in the rim
            lungpath = air[box] + np.minimum(phantom.vessels[box], phantom.lung[box])
            # (the air spaces of a normal lung already let most photons through: the rim is
            # only a little darker; what shows is the loss of markings)
            lost = 0.6 * MU_LUNG * air[box] + MU_SOFT * (lungpath - air[box])
            delta[box] -= sev * s * lost
            # the visceral pleural line: where the unclipped mask crosses 0.5 inside the lung
            full = render_soft_mask(cond, shape, px)[box]
            inner = ndimage.binary_erosion(region[box], iterations=max(int(2.0 / px), 1))
            line = 4.0 * full * (1.0 - full) * inner
            line = ndimage.gaussian_filter(line, max(0.2 / px, 0.4))
            delta[box] += MU_SOFT * 1.5 * line * s  # on the inner border of the air rim
    if heart is not phantom.heart:
        base = phantom.line_integral(heart)
    else:
        base = phantom.line_integral() if healthy is None else healthy
    return (base + delta).astype(np.float32), labels


def _bronchograms(
    cond: Condition, box: tuple[slice, slice], hard: np.ndarray, phantom: Phantom
) -> np.ndarray:
    """Air-filled bronchi inside a consolidation: a small branching tree (cm of air)."""
    rng = np.random.default_rng([cond.shape_seed, 17])
    px = phantom.spacing
    y0 = float(phantom.y[box[0].start] - px / 2)
    x0 = float(phantom.x[box[1].start] - px / 2)
    sub = hard[box]
    h, w = sub.shape

    def inside(xe, ye):
        c = np.round((xe - x0) / px - 0.5).astype(int)
        r = np.round((ye - y0) / px - 0.5).astype(int)
        ok = (c >= 0) & (c < w) & (r >= 0) & (r < h)
        res = np.zeros(c.shape, bool)
        res[ok] = sub[r[ok], c[ok]]
        return res

    cy = y0 + (cond.center[0] - box[0].start + 0.5) * px
    cx = x0 + (cond.center[1] - box[1].start + 0.5) * px
    segs = [np.zeros((0, 6), np.float32)]
    r_mm = cond.size_mm / 2
    # bronchi enter from the hilar side of the lesion and fan out
    toward = 1.0 if cx < 0 else -1.0  # hilum direction in x
    for _ in range(3):
        ang = np.arctan2(rng.normal(0, 0.5), -toward) + rng.normal(0, 0.4)
        sx = cx + toward * r_mm * rng.uniform(0.2, 0.5)
        sy = cy + rng.normal(0, r_mm * 0.2)
        segs.append(_vessel_tree(rng, (sx, sy), float(ang), 1.3, r_mm * 0.35, inside, 4))
    arr = np.concatenate(segs)
    return _capsules((h, w), x0, y0, px, arr)


def _side_label(side: str) -> int:
    return 1 if side == "right" else 2


def random_condition(
    pathology: str,
    anatomy: Phantom | np.ndarray,
    spacing: float | Sequence[float],
    rng: np.random.Generator,
) -> Condition:
    """A plausible random condition of ``pathology`` inside the lung fields.

    Parameters
    ----------
    pathology : str
        One of :data:`PATHOLOGIES`.
    anatomy : Phantom or ndarray
        The phantom, or a lung mask: bool (both lungs; the image's left half is the patient's
        right) or uint8 with 1 for the right lung and 2 for the left.
    spacing : float or (float, float)
        Pixel size in mm.
    rng : numpy.random.Generator
        The seeded source of randomness.
    """
    if pathology not in PATHOLOGIES:
        raise InputError(f"unknown pathology {pathology!r}; choose one of {', '.join(PATHOLOGIES)}")
    px = float(np.mean(spacing)) if not np.isscalar(spacing) else float(spacing)
    heart_center = None
    if isinstance(anatomy, Phantom):
        sides = anatomy.sides
        hg = anatomy.heart_geometry
        hc = (
            (hg["cy"] - anatomy.y[0]) / px,
            (hg["cx"] + anatomy.anatomy.shift_x - anatomy.x[0]) / px,
        )
        heart_center = hc
    else:
        m = np.asarray(anatomy)
        if m.dtype == bool or m.max() <= 1:
            sides = np.zeros(m.shape, np.uint8)
            half = m.shape[1] // 2
            sides[:, :half][m[:, :half] > 0] = 1
            sides[:, half:][m[:, half:] > 0] = 2
        else:
            sides = m.astype(np.uint8)
    shape = sides.shape
    if not (sides > 0).any():
        raise InputError("the lung mask is empty: no place for a lesion")
    side = "right" if rng.random() < 0.5 else "left"
    lung = sides == _side_label(side)
    if not lung.any():
        side = "left" if side == "right" else "right"
        lung = sides == _side_label(side)
    lo, hi = SIZE_RANGE_MM[pathology]
    rows, cols = np.nonzero(lung)
    seed = int(rng.integers(2**31))
    sev = float(rng.uniform(0.55, 1.0))

    # distance to the edge of the lung field, on a coarse grid (about 3 mm) for speed
    step = max(int(3.0 / px), 1)
    coarse = lung[::step, ::step]
    depth = ndimage.distance_transform_edt(np.pad(coarse, 1))[1:-1, 1:-1] * step

    def pick_inside(radius_px: float) -> tuple[float, float]:
        """A random lung pixel at least ``radius_px`` from the edge (or the deepest ones)."""
        ok = depth >= min(radius_px + step, depth.max())
        rr, cc = np.nonzero(ok)
        i = int(rng.integers(len(rr)))
        r = min(rr[i] * step + int(rng.integers(step)), shape[0] - 1)
        c = min(cc[i] * step + int(rng.integers(step)), shape[1] - 1)
        return float(r), float(c)

    if pathology == "nodule":
        size = float(np.exp(rng.uniform(np.log(5.0), np.log(28.0))))
        margin = str(rng.choice(["smooth", "lobulated", "spiculated"]))
        center = pick_inside((0.6 * size + 4.0) / px)
        return Condition(pathology, center, size, sev, None, seed, margin)
    if pathology == "mass":
        size = float(rng.uniform(32.0, 75.0))
        margin = str(rng.choice(["lobulated", "spiculated", "smooth"], p=[0.5, 0.3, 0.2]))
        center = pick_inside(0.35 * size / px)
        return Condition(pathology, center, size, sev, None, seed, margin)
    if pathology == "consolidation":
        size = float(rng.uniform(40.0, 110.0))
        center = pick_inside(0.3 * size / px)
        return Condition(pathology, center, size, sev, side, seed)
    if pathology == "effusion":
        size = float(rng.uniform(25.0, 100.0))
        bottom = rows.max()
        low = rows > bottom - 0.25 * (bottom - rows.min())
        c = float(np.mean(cols[low]))
        lateral = -1.0 if side == "right" else 1.0
        c += lateral * 0.15 * (cols.max() - cols.min())
        r = bottom - 0.35 * size / px
        r, c = float(np.clip(r, 0, shape[0] - 1)), float(np.clip(c, 0, shape[1] - 1))
        return Condition(pathology, (r, c), size, sev, side, seed)
    if pathology == "pneumothorax":
        size = float(rng.uniform(8.0, 45.0))
        top, bottom = rows.min(), rows.max()
        r = int(top + rng.uniform(0.2, 0.4) * (bottom - top))
        in_row = np.flatnonzero(lung[r])
        c = in_row.min() if side == "right" else in_row.max()
        c = c - (-1 if side == "right" else 1) * 0.5 * size / px
        return Condition(
            pathology, (float(r), float(np.clip(c, 0, shape[1] - 1))), size, sev, side, seed
        )
    # cardiomegaly: a heart wider than half the thorax
    allc = np.nonzero(sides > 0)[1]
    thorax_mm = (allc.max() - allc.min()) * px
    ctr = float(rng.uniform(0.54, 0.66))
    size = float(np.clip(ctr * thorax_mm, lo, hi))
    if heart_center is None:
        # where the phantom's heart sits relative to its lung fields (mean of 20 simulated
        # chests: 0.845 of the lung height, 0.558 of their width, spread 0.02 and 0.004)
        rr, cc = np.nonzero(sides > 0)
        heart_center = (
            rr.min() + 0.845 * (rr.max() - rr.min()),
            cc.min() + 0.558 * (cc.max() - cc.min()),
        )
    # the widest part of the enlarged heart sits a little above the domes
    r = float(np.clip(heart_center[0] - 0.12 * size / px, 0, shape[0] - 1))
    c = float(np.clip(heart_center[1] - 0.02 * size / px, 0, shape[1] - 1))
    return Condition(pathology, (r, c), size, sev, None, seed)


__all__ = ["apply_conditions", "random_condition", "region_for"]
