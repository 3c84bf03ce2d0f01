"""The physics method: a lesion's attenuation added in the log domain of the image. No learning.

A radiograph's pixel value is (close to) a monotone presentation of the log of the X-ray
attenuation along the ray: bright = more attenuation (MONOCHROME2). Putting more tissue or fluid
in the ray's way therefore *adds* to the image: ``image + severity x amplitude x profile``, where
the profile is the lesion's projected thickness (a sphere's ``sqrt(1 - rho^2)``, a fluid layer
deepening downwards, ...) times the soft mask of the one renderer, with a texture drawn from the
variant's seed. Air in the pleural space (pneumothorax) takes attenuation away and, having no
vessels, shows no lung markings: the image there is replaced by its smooth local background,
darker, with the thin bright visceral pleural line at the lung's edge.

The amplitude is a fraction of the image's robust contrast range (``scale``), so the method
works on any presentation of the image (simulated, CR, DX, 8-bit PNG).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_xray_synth.core.conditions import Condition
from napari_xray_synth.core.simulate.pathology import CUT_MM

#: The method's version, in provenance and in ``augment``'s settings (its output changes with it).
PHYSICS_ID = "physics-v2"

#: Peak added attenuation at severity 1, as a fraction of the image's contrast range.
AMPLITUDE: dict[str, float] = {
    "nodule": 0.30,
    "mass": 0.38,
    "effusion": 0.45,
    "pneumothorax": 0.18,
    "consolidation": 0.30,
    "cardiomegaly": 0.30,
}


#: Peak of the visceral pleural line, as a share of the pneumothorax's amplitude.
PLEURAL_LINE = 0.6


def pleural_line(soft: np.ndarray, lateral: float) -> np.ndarray:
    """Profile (peak 1) of a pneumothorax's visceral pleural line over its soft mask.

    The line runs along the mask's edge where the mask rises going laterally (``lateral``: +1
    when lateral is towards higher columns, -1 otherwise): the collapsed lung's edge, not the
    chest wall.
    """
    band = (4.0 * soft * (1.0 - soft)) ** 3
    g_col = np.gradient(soft, axis=1) * lateral
    g = np.hypot(np.gradient(soft, axis=0), g_col) + 1e-6
    return band * np.clip(g_col / g, 0.0, 1.0)


def contrast_scale(image: np.ndarray) -> float:
    """The image's robust contrast range (99th minus 1st percentile), on a subsample for speed."""
    step = max(1, int(np.sqrt(image.size / 250_000)))
    lo, hi = np.percentile(image[::step, ::step], [1, 99])
    return float(max(hi - lo, 0.05))


def smooth_noise(shape: tuple[int, int], sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean unit-variance Gaussian noise smoothed by ``sigma_px`` (texture from a seed)."""
    n = rng.standard_normal(shape).astype(np.float32)
    n = ndimage.gaussian_filter(n, max(sigma_px, 0.5), mode="reflect")
    n -= n.mean()
    return n / (n.std() + 1e-6)


def blur(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur; large sigmas on a block-averaged copy (fast, same look)."""
    f = int(sigma_px // 4)
    if f < 2 or min(img.shape) < 4 * f:
        return ndimage.gaussian_filter(img, sigma_px, mode="reflect")
    h, w = (img.shape[0] // f) * f, (img.shape[1] // f) * f
    small = img[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3))
    small = ndimage.gaussian_filter(small, sigma_px / f, mode="reflect")
    zoom = (img.shape[0] / small.shape[0], img.shape[1] / small.shape[1])
    return ndimage.zoom(small, zoom, order=1, mode="nearest", grid_mode=True)[
        : img.shape[0], : img.shape[1]
    ].astype(np.float32)


def _thickness(inside: np.ndarray) -> np.ndarray:
    """Projected thickness of a solid filling ``inside``: ``sqrt(1 - rho^2)`` from the rim in."""
    if not inside.any():
        return np.zeros(inside.shape, np.float32)
    dt = ndimage.distance_transform_edt(inside).astype(np.float32)
    depth = np.clip(dt / max(float(dt.max()), 1.0), 0.0, 1.0)
    return np.sqrt(1.0 - (1.0 - depth) ** 2)


def hold_below(
    level: float | None, base: np.ndarray, added: np.ndarray, width: float
) -> np.ndarray:
    """``added``, rolled off over the last ``width`` below ``level`` so that ``base + added``
    approaches the level and never passes it (unchanged further below; nothing where ``base``
    is above it already)."""
    if level is None:
        return added
    knee = level - width
    total = base + added
    soft = np.where(total > knee, knee + width * np.tanh((total - knee) / width), total)
    return np.clip(soft - base, 0.0, np.maximum(added, 0.0))


def _bronchograms(
    shape: tuple[int, int],
    center: tuple[float, float],
    radius: float,
    px: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Dark branching tubes (air-filled bronchi) in [0, 1]: random walks from near the centre."""
    img = np.zeros(shape, np.float32)
    n_tubes = int(rng.integers(3, 7))
    step = max(radius / 25.0, 1.0)
    for _ in range(n_tubes):
        r = center[0] + rng.normal(0, radius * 0.25)
        c = center[1] + rng.normal(0, radius * 0.25)
        ang = rng.uniform(0, 2 * np.pi)
        for _ in range(int(radius * 1.2 / step)):
            ang += rng.normal(0, 0.15)
            r += step * np.sin(ang)
            c += step * np.cos(ang)
            ri, ci = round(r), round(c)
            if 0 <= ri < shape[0] and 0 <= ci < shape[1]:
                img[ri, ci] = 1.0
    width = max(1.2 / px, 0.7)  # bronchi of a couple of mm
    img = ndimage.gaussian_filter(img, width)
    return img / (img.max() + 1e-6)


def add_lesion(
    window: np.ndarray,
    soft: np.ndarray,
    cond: Condition,
    px: float,
    scale: float,
    rng: np.random.Generator,
    free: np.ndarray | None = None,
    region: np.ndarray | None = None,
    level: float | None = None,
) -> np.ndarray:
    """Put one lesion into an image window by the physics method.

    Parameters
    ----------
    window : ndarray
        The image around the condition (float32 [0, 1]); not modified.
    soft : ndarray
        The condition's soft mask over the same window (from the one renderer).
    cond : Condition
        The condition in the window's coordinates.
    px : float
        Pixel size in mm.
    scale : float
        The whole image's contrast range (:func:`contrast_scale`).
    rng : numpy.random.Generator
        The variant's generator: the texture.
    free : ndarray, optional
        A consolidation's soft mask before the lung region clipped it (``soft`` when not given).
    region : ndarray of bool, optional
        The lung region over the window, where it clipped the consolidation.
    level : float, optional
        The brightness of the soft tissue beside the lung (:mod:`density_cap`): an effusion or
        consolidation brings no pixel above it (fluid in place of air is no denser than that
        tissue), so the border it abuts is lost rather than outlined by a brighter band.

    Returns
    -------
    ndarray
        The new window, float32 in [0, 1]; equal to ``window`` wherever ``soft`` is 0.
    """
    img = window.astype(np.float32)
    # the soft mask's far tails are cut so that nothing changes beyond the lesion's rim
    soft = np.clip((soft - 0.02) / 0.98, 0.0, 1.0)
    sev = float(cond.severity)
    amp = AMPLITUDE[cond.pathology] * scale * sev
    p = cond.pathology
    tex = smooth_noise(img.shape, 2.0 / px, rng)

    if p in ("nodule", "mass"):
        profile = soft * (0.3 + 0.7 * _thickness(soft > 0.5))
        grain = 0.06 if p == "nodule" else 0.12  # masses are less homogeneous
        out = img + amp * profile * (1.0 + grain * tex)
    elif p == "consolidation":
        radius = cond.size_mm / px / 2
        patchy = np.clip(0.7 + 0.3 * smooth_noise(img.shape, 4.0 / px, rng), 0.2, 1.2)
        air = _bronchograms(img.shape, cond.center, radius, px, rng)
        # an ill-defined margin where the disease ends inside the lung: the filling grades in
        # over the outer quarter of the radius. Where the lung region cuts the outline (heart,
        # dome, mediastinum) it stays dense to within CUT_MM of the cut, as the simulator draws
        # it, so the border next to it is lost (the silhouette sign).
        free = soft if free is None else free
        depth = ndimage.distance_transform_edt(np.pad(free > 0.5, 1))[1:-1, 1:-1]
        uneven = 0.25 * smooth_noise(img.shape, 6.0 / px, rng)
        ramp = np.clip(0.3 + depth / max(0.35 * radius, 1.0) + uneven, 0.0, 1.0)
        edge = np.clip(free, 0.0, 1.0) * blur(ramp, 1.5 / px) * (soft > 0)
        if region is not None and not region.all():
            t = np.clip(ndimage.distance_transform_edt(region) * px / CUT_MM, 0.0, 1.0)
            edge = edge * (t * t * (3.0 - 2.0 * t))
        profile = edge * patchy * (1.0 - 0.6 * air)
        # the airspaces fill: the lung markings fade under the opacity
        smooth = blur(img, 1.5 / px)
        fill = 0.5 * sev * soft
        out = img * (1 - fill) + smooth * fill
        out = out + hold_below(level, out, amp * profile * (1.0 + 0.05 * tex), 0.1 * scale)
    elif p == "effusion":
        rows = np.arange(img.shape[0], dtype=np.float32)[:, None]
        height = cond.size_mm / px
        inside = soft > 0.5
        # meniscus: the fluid layer is thin at its top edge and deepens towards the base
        top = np.where(inside.any(0), inside.argmax(0), img.shape[0]).astype(np.float32)[None]
        depth = np.clip((rows - top) / max(0.6 * height, 1.0), 0.0, 1.0)
        profile = soft * (0.25 + 0.75 * np.sqrt(depth))
        smooth = blur(img, 3.0 / px)
        fill = 0.8 * sev * soft  # homogeneous fluid hides the vessels behind it
        out = img * (1 - fill) + smooth * fill
        out = out + hold_below(level, out, amp * profile * (1.0 + 0.03 * tex), 0.1 * scale)
    elif p == "pneumothorax":
        w = soft * sev
        bg = blur(img, 6.0 / px)
        out = img * (1 - w) + (bg - amp * (0.8 + 0.1 * tex)) * w
        lateral = -1.0 if cond.patient_side(img.shape) == "right" else 1.0
        out = out + PLEURAL_LINE * amp * pleural_line(soft, lateral)
    else:  # cardiomegaly: the heart's shadow grows (an ellipsoid of soft tissue and blood)
        # where the heart already is the ray is already through it: the enlarged heart fills
        # the ellipse up to the heart's own density rather than adding on top of it
        inside = soft > 0.5
        heart_level = float(np.percentile(img[inside], 85)) if inside.any() else float(img.max())
        profile = soft * (0.4 + 0.6 * _thickness(inside))
        fill = np.clip(heart_level - img, 0.0, None)
        out = img + np.minimum(fill * sev, amp * profile) * profile * (1.0 + 0.02 * tex)

    return np.clip(out, 0.0, 1.0).astype(np.float32)
