"""What the simulator and the generator both take: a :class:`Condition`, and its one renderer.

A condition renders to a soft mask in [0, 1] (the lesion's extent; the ground-truth mask is
``soft > 0.5``) and to condition maps, one channel per pathology, the soft mask scaled by severity.
The same function serves the simulator, the generator and the exported masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from napari_xray_synth.core.errors import InputError

PATHOLOGIES: tuple[str, ...] = (
    "nodule",
    "mass",
    "effusion",
    "pneumothorax",
    "consolidation",
    "cardiomegaly",
)

#: Allowed size range in mm per pathology (the meaning of size is in :class:`Condition`).
SIZE_RANGE_MM: dict[str, tuple[float, float]] = {
    "nodule": (3.0, 30.0),
    "mass": (30.0, 100.0),
    "effusion": (15.0, 150.0),
    "pneumothorax": (5.0, 80.0),
    "consolidation": (20.0, 150.0),
    "cardiomegaly": (130.0, 260.0),
}

#: Label value of each pathology in exported masks (0 is background).
LABELS: dict[str, int] = {p: i + 1 for i, p in enumerate(PATHOLOGIES)}

Side = Literal["left", "right"]


@dataclass(frozen=True)
class Condition:
    """A pathology to put into a radiograph.

    Parameters
    ----------
    pathology : str
        One of :data:`PATHOLOGIES`.
    center : (float, float)
        (row, col) in pixels of the image.
    size_mm : float
        Nodule and mass: diameter. Effusion: height of the fluid. Pneumothorax: width of the
        air rim. Consolidation: diameter of the affected region. Cardiomegaly: transverse
        diameter of the heart.
    severity : float
        In [0, 1]: opacity of the lesion (for a pneumothorax, how little lung is left).
    side : "left", "right" or None
        The patient's side (PA view: the patient's right is the image's left). None lets it
        follow from the centre.
    shape_seed : int
        Seed of the irregular outline, so that a condition always renders the same mask.
    margin : str
        Nodule and mass outline: "smooth", "lobulated" or "spiculated".
    """

    pathology: str
    center: tuple[float, float]
    size_mm: float
    severity: float = 0.8
    side: Side | None = None
    shape_seed: int = 0
    margin: str = "smooth"

    def __post_init__(self) -> None:
        if self.pathology not in PATHOLOGIES:
            raise InputError(
                f"unknown pathology {self.pathology!r}; choose one of {', '.join(PATHOLOGIES)}"
            )
        object.__setattr__(self, "center", (float(self.center[0]), float(self.center[1])))
        if not 0.0 <= float(self.severity) <= 1.0 or not np.isfinite(self.severity):
            raise InputError(f"severity must lie in [0, 1], got {self.severity}")
        lo, hi = SIZE_RANGE_MM[self.pathology]
        if not lo <= float(self.size_mm) <= hi:
            raise InputError(
                f"a {self.pathology} is {lo:g} to {hi:g} mm in this model, got {self.size_mm:g} mm"
            )
        if self.side not in (None, "left", "right"):
            raise InputError(f"side must be 'left' or 'right', got {self.side!r}")
        if self.margin not in ("smooth", "lobulated", "spiculated"):
            raise InputError(f"margin must be smooth, lobulated or spiculated, got {self.margin!r}")

    def check_inside(self, shape: tuple[int, int]) -> None:
        """Raise :class:`InputError` when the centre lies outside an image of ``shape``."""
        r, c = self.center
        if not (0 <= r < shape[0] and 0 <= c < shape[1]):
            raise InputError(
                f"the {self.pathology} centre ({r:g}, {c:g}) lies outside the "
                f"{shape[0]} x {shape[1]} image"
            )

    def patient_side(self, shape: tuple[int, int]) -> Side:
        """The side, given or inferred from the centre (PA view)."""
        if self.side is not None:
            return self.side
        return "right" if self.center[1] < shape[1] / 2 else "left"

    def to_dict(self) -> dict[str, Any]:
        """A flat JSON-able dictionary (manifest columns)."""
        d = asdict(self)
        d["center_row"], d["center_col"] = d.pop("center")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Condition:
        """Rebuild from :meth:`to_dict` output."""
        d = dict(d)
        if "center" not in d:
            d["center"] = (float(d.pop("center_row")), float(d.pop("center_col")))
        keys = {"pathology", "center", "size_mm", "severity", "side", "shape_seed", "margin"}
        d = {k: v for k, v in d.items() if k in keys}
        if d.get("side") in ("", None):
            d["side"] = None
        for k in ("size_mm", "severity"):
            if k in d:
                d[k] = float(d[k])
        if "shape_seed" in d:
            d["shape_seed"] = int(d["shape_seed"])
        return cls(**d)


def _spacing_scalar(spacing: float | Sequence[float] | None) -> float:
    if spacing is None:
        raise InputError("rendering a condition needs the pixel spacing in mm")
    if np.isscalar(spacing):
        return float(spacing)  # type: ignore[arg-type]
    return float(np.mean(spacing))  # type: ignore[arg-type]


def _soft(signed_distance: np.ndarray, edge_px: float) -> np.ndarray:
    """Soft mask from a signed distance (negative inside): 0.5 on the border."""
    z = np.clip(signed_distance / max(edge_px, 1e-3), -60.0, 60.0)
    return (1.0 / (1.0 + np.exp(z))).astype(np.float32)


def _outline(theta: np.ndarray, cond: Condition, rng: np.random.Generator) -> np.ndarray:
    """Relative radius (about 1) of a nodule or mass outline at angles ``theta``."""
    r = np.ones_like(theta)
    if cond.margin in ("lobulated", "spiculated") or cond.pathology == "mass":
        for k in (2, 3, 5):
            r += rng.uniform(0.03, 0.09) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    if cond.margin == "spiculated":
        n = int(rng.integers(6, 12))
        for a in rng.uniform(0, 2 * np.pi, n):
            d = (theta - a + np.pi) % (2 * np.pi) - np.pi  # wrapped angle difference
            r += rng.uniform(0.25, 0.6) * np.exp(-((d / 0.06) ** 2))
    return r


def render_soft_mask(
    cond: Condition,
    shape: tuple[int, int],
    spacing: float | Sequence[float] | None,
    region: np.ndarray | None = None,
) -> np.ndarray:
    """Render a condition's soft mask, float32 in [0, 1], 0.5 on the lesion border.

    Parameters
    ----------
    cond : Condition
        What to render.
    shape : (int, int)
        Image shape.
    spacing : float or (float, float)
        Pixel size in mm.
    region : ndarray of bool, optional
        Where the pathology may be (the lung field of its side, say): the mask is clipped to it
        for effusion, pneumothorax and consolidation.
    """
    cond.check_inside(shape)
    px = _spacing_scalar(spacing)
    rng = np.random.default_rng(cond.shape_seed)
    size = cond.size_mm / px  # in pixels
    r0, c0 = cond.center
    # evaluate only in a window that holds the whole lesion (beyond it the soft mask < 1e-5)
    out = np.zeros(shape, np.float32)
    win = _window(cond, shape, size, px)
    if win is None:
        return out
    rr, cc = np.mgrid[win[0], win[1]].astype(np.float32)
    dr, dc = rr - r0, cc - c0
    side = cond.patient_side(shape)
    lateral = -1.0 if side == "right" else 1.0  # image direction away from the midline
    p = cond.pathology

    if p in ("nodule", "mass"):
        radius = size / 2
        theta = np.arctan2(dr, dc)
        rho = np.hypot(dr, dc)
        # the outline is a function of the angle only: tabulate it finely, then interpolate
        table = np.linspace(-np.pi, np.pi, 4097)
        outline = np.interp(theta, table, _outline(table, cond, rng), period=2 * np.pi)
        sd = rho - radius * outline
        soft = _soft(sd, max(radius * 0.08, 0.7))
    elif p == "cardiomegaly":
        a, b = size / 2, size * 0.42
        rho = np.sqrt((dc / a) ** 2 + (dr / b) ** 2)
        soft = _soft((rho - 1.0) * b, max(size * 0.01, 1.0))
    elif p == "effusion":
        # fluid filling the base, its top a meniscus rising towards the lateral chest wall
        height = size
        width = size * 1.8 + 20.0 / px
        u = lateral * dc / (width / 2)  # -1 medial .. 1 lateral
        uc = np.clip(u, -1, 1)
        top = r0 - height / 2 - 0.25 * height * uc**2 * (u > 0)
        # medially the fluid thins out towards the dome instead of ending in a wall
        top = top + height * np.maximum(-uc, 0.0) ** 1.5
        inside_x = np.abs(dc) - width / 2
        bottom = rr - (r0 + height / 2)
        sd = np.maximum(np.maximum(top - rr, inside_x), bottom)
        soft = _soft(sd, max(height * 0.04, 1.0))
    elif p == "pneumothorax":
        # air between the chest wall (outer ellipse) and the collapsed lung (inner ellipse),
        # widest (``size``) at the clicked point on the lateral wall, thinning towards the base
        a_out = 2.5 * size + 60.0 / px  # vertical semi-axis
        b_out = 1.2 * size + 30.0 / px  # horizontal semi-axis
        cr, cx = r0 + 0.35 * a_out, c0 - lateral * (b_out - size / 2)
        outer = np.sqrt(((rr - cr) / a_out) ** 2 + ((cc - cx) / b_out) ** 2) - 1.0
        a_in, b_in = a_out - size * 0.8, b_out - size
        inner = np.sqrt(((rr - cr - size * 0.6) / a_in) ** 2 + ((cc - cx) / b_in) ** 2) - 1.0
        sd = np.maximum(outer * b_out, -inner * b_in)
        sd = np.maximum(sd, rr - (cr + 0.3 * a_out))  # no air at the base in an erect film
        soft = _soft(sd, max(size * 0.05, 0.8))
    else:  # consolidation: an irregular blob, from thresholded smooth noise inside a disc
        radius = size / 2
        h = int(np.ceil(radius * 2.4)) + 3
        # broad lobes (correlation radius / 3): airspace disease spreads through whole
        # acini and segments, it does not send out fingers or leave holes
        noise = _smooth_field(rng, 2 * h + 1, max(radius / 3, 1.0))
        patch = np.zeros(shape, np.float32)
        r_i, c_i = round(r0), round(c0)
        rs, cs = (
            slice(max(r_i - h, 0), min(r_i + h + 1, shape[0])),
            slice(max(c_i - h, 0), min(c_i + h + 1, shape[1])),
        )
        patch[rs, cs] = noise[
            rs.start - (r_i - h) : rs.stop - (r_i - h), cs.start - (c_i - h) : cs.stop - (c_i - h)
        ]
        patch = patch[win]
        rho = np.hypot(dr, dc) / radius
        field = 1.2 * (1.0 - rho**2) + 0.5 * patch
        soft = (1.0 / (1.0 + np.exp(-np.clip(field / 0.12, -60, 60)))).astype(np.float32)
        soft[rho > 1.25] = 0.0

    if region is not None and p in ("effusion", "pneumothorax", "consolidation"):
        if region.shape != tuple(shape):
            raise InputError(f"region mask shape {region.shape} differs from image {shape}")
        # the region smoothed (sigma 1 px reaches 4 px), computed around the window only
        big = tuple(
            slice(max(w.start - 4, 0), min(w.stop + 4, n)) for w, n in zip(win, shape, strict=True)
        )
        smooth = ndimage.gaussian_filter(region[big].astype(np.float32), 1.0)
        inner = tuple(
            slice(w.start - b.start, w.stop - b.start) for w, b in zip(win, big, strict=True)
        )
        soft = soft * smooth[inner]
    out[win] = np.clip(soft, 0.0, 1.0)
    return out


def _smooth_field(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """An (n, n) Gaussian random field of unit std and correlation length ``sigma`` pixels,
    drawn on a grid ``sigma / 2`` coarser and interpolated (bilinear) back up."""
    k = max(int(sigma / 2), 1)
    m = -(-n // k) + 2
    small = ndimage.gaussian_filter(rng.standard_normal((m, m)).astype(np.float32), sigma / k)
    pos = np.clip((np.arange(n) + 0.5) / k - 0.5 + 1.0, 0.0, m - 1.0)
    i0 = np.minimum(np.floor(pos).astype(int), m - 2)
    f = (pos - i0).astype(np.float32)
    interp = np.zeros((n, m), np.float32)
    interp[np.arange(n), i0] = 1.0 - f
    interp[np.arange(n), i0 + 1] = f
    field = interp @ small @ interp.T
    return field / (field.std() + 1e-6)


def _window(
    cond: Condition, shape: tuple[int, int], size: float, px: float
) -> tuple[slice, slice] | None:
    """The rows and columns outside which the soft mask of ``cond`` is below 1e-5."""
    r0, c0 = cond.center
    p = cond.pathology
    lateral = -1.0 if cond.patient_side(shape) == "right" else 1.0
    if p in ("nodule", "mass"):
        radius = size / 2
        # the outline reaches 1.27 radii when lobulated, up to ~2.5 with spicules
        if cond.margin == "spiculated":
            extent = 2.6
        elif cond.margin == "lobulated" or p == "mass":
            extent = 1.35
        else:
            extent = 1.05
        reach = extent * radius + 12.0 * max(radius * 0.08, 0.7) + 2.0
        rows, cols = (r0 - reach, r0 + reach), (c0 - reach, c0 + reach)
    elif p == "cardiomegaly":
        a, b, edge = size / 2, size * 0.42, max(size * 0.01, 1.0)
        rows = (r0 - b - 12.0 * edge - 2.0, r0 + b + 12.0 * edge + 2.0)
        half = a * (1.0 + 12.0 * edge / b) + 2.0
        cols = (c0 - half, c0 + half)
    elif p == "effusion":
        pad = 12.0 * max(size * 0.04, 1.0) + 2.0
        width = size * 1.8 + 20.0 / px
        rows = (r0 - 0.75 * size - pad, r0 + size / 2 + pad)
        cols = (c0 - width / 2 - pad, c0 + width / 2 + pad)
    elif p == "pneumothorax":
        pad = 12.0 * max(size * 0.05, 0.8) + 2.0
        a_out, b_out = 2.5 * size + 60.0 / px, 1.2 * size + 30.0 / px
        cr, cx = r0 + 0.35 * a_out, c0 - lateral * (b_out - size / 2)
        # the signed distance is in units of the horizontal axis: slower fall-off vertically
        rows = (cr - a_out - pad * a_out / b_out, cr + 0.3 * a_out + pad)
        cols = (cx - b_out - pad, cx + b_out + pad)
    else:
        reach = 1.25 * size / 2 + 2.0
        rows, cols = (r0 - reach, r0 + reach), (c0 - reach, c0 + reach)
    rs = slice(max(int(np.floor(rows[0])), 0), min(int(np.ceil(rows[1])) + 1, shape[0]))
    cs = slice(max(int(np.floor(cols[0])), 0), min(int(np.ceil(cols[1])) + 1, shape[1]))
    if rs.stop <= rs.start or cs.stop <= cs.start:
        return None
    return rs, cs


def render_mask(
    cond: Condition,
    shape: tuple[int, int],
    spacing: float | Sequence[float] | None,
    region: np.ndarray | None = None,
) -> np.ndarray:
    """The ground-truth mask of a condition: ``render_soft_mask(...) > 0.5`` (bool)."""
    return render_soft_mask(cond, shape, spacing, region) > 0.5


def condition_maps(
    conditions: Sequence[Condition],
    shape: tuple[int, int],
    spacing: float | Sequence[float] | None,
    regions: Sequence[np.ndarray | None] | None = None,
) -> np.ndarray:
    """Condition maps for the generator: (len(PATHOLOGIES), H, W) float32, soft mask x severity."""
    maps = np.zeros((len(PATHOLOGIES), *shape), np.float32)
    for i, cond in enumerate(conditions):
        region = regions[i] if regions is not None else None
        soft = render_soft_mask(cond, shape, spacing, region) * float(cond.severity)
        k = PATHOLOGIES.index(cond.pathology)
        maps[k] = np.maximum(maps[k], soft)
    return maps


def label_mask(
    conditions: Sequence[Condition],
    shape: tuple[int, int],
    spacing: float | Sequence[float] | None,
    regions: Sequence[np.ndarray | None] | None = None,
) -> np.ndarray:
    """One uint8 label image: each pixel holds :data:`LABELS` of the last condition covering it."""
    out = np.zeros(shape, np.uint8)
    for i, cond in enumerate(conditions):
        region = regions[i] if regions is not None else None
        out[render_mask(cond, shape, spacing, region)] = LABELS[cond.pathology]
    return out
