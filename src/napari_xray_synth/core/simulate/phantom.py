"""A chest phantom drawn from a seed, as analytic projected thicknesses on a 2-D grid.

Every structure is a map of projected thickness in cm (the path length of an X-ray through it,
PA view), computed in closed form with numpy, each only inside its own bounding window; thin
curved structures (ribs, clavicles) are evaluated only in a band of rows around their centre
line, and the vessel trees only in the bounding box of each segment, all segments of a size in
one vectorised pass. Geometry is in mm, the origin at the image centre, x to the image right
(the patient's left in a PA view) and y down.

The phantom keeps its maps apart (body, lungs, heart, mediastinum, vessels, bone) so that the
pathologies can change the right one (fluid replacing lung, a larger heart, air replacing
lung) before the physics turns them into a line integral.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from napari_xray_synth.core.simulate._ops import smooth_noise, upsample2

#: Linear attenuation coefficients in 1/cm at the effective energy of a ~120 kVp chest beam.
MU_SOFT = 0.20
MU_LUNG = 0.04  # inflated lung, density about 0.2
MU_BONE = 0.48  # bone mineral equivalent (cortex and trabeculae mixed)

#: Field of view (mm): 1024 pixels at 0.35 mm.
FIELD_MM = 358.4


@dataclass(frozen=True)
class Anatomy:
    """Patient parameters drawn from a seed (lengths in mm, thicknesses in cm)."""

    seed: int
    sex: str  # "F" or "M"
    width: float  # inner half-width of the thorax at its widest
    height: float  # lung apex to costophrenic angle
    top: float  # y of the lung apices
    shift_x: float
    tilt: float  # in-plane tilt (radians, applied as a shear)
    rotation: float  # rotation about the long axis: spine offset from the midline (mm)
    inspiration: float  # 0 (shallow) .. 1 (deep): lowers the domes
    ctr: float  # cardiothoracic ratio
    heart_tilt: float  # radians
    body_depth: float  # AP chest thickness (cm)
    wall: float  # chest wall soft tissue beyond the ribs (mm)
    lung_depth: float  # AP depth of the lung bases (cm)
    breast: float  # breast size, 0 for men
    rib_spacing: float  # vertebral level height (mm)
    vessel_seed: int = 0

    @classmethod
    def draw(cls, seed: int) -> Anatomy:
        """Draw a plausible adult from ``seed``."""
        rng = np.random.default_rng([int(seed), 7321])
        sex = "F" if rng.random() < 0.5 else "M"
        w = rng.normal(136.0 if sex == "M" else 129.0, 6.0)
        return cls(
            seed=int(seed),
            sex=sex,
            width=float(np.clip(w, 114, 150)),
            height=float(np.clip(rng.normal(252.0 if sex == "M" else 240.0, 10.0), 215, 280)),
            top=float(rng.normal(-140.0, 5.0)),
            shift_x=float(rng.normal(0.0, 3.0)),
            tilt=float(np.deg2rad(rng.normal(0.0, 1.0))),
            rotation=float(rng.normal(0.0, 3.5)),
            inspiration=float(rng.uniform(0.2, 1.0)),
            ctr=float(np.clip(rng.normal(0.45, 0.025), 0.39, 0.49)),
            heart_tilt=float(np.deg2rad(rng.normal(45.0, 5.0))),
            body_depth=float(rng.normal(21.0 if sex == "M" else 19.5, 1.5)),
            wall=float(np.clip(rng.normal(20.0, 5.0), 10, 35)),
            lung_depth=float(rng.normal(15.5, 1.0)),
            breast=float(rng.uniform(0.6, 1.3)) if sex == "F" else 0.0,
            rib_spacing=float(rng.normal(21.0, 1.0)),
            vessel_seed=int(rng.integers(2**31)),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters (provenance)."""
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass
class Phantom:
    """Rendered maps of one patient (float32 of the image shape, thickness in cm)."""

    anatomy: Anatomy
    shape: tuple[int, int]
    spacing: float  # mm per pixel
    body: np.ndarray  # soft tissue path length (body, breasts; minus gas and airways)
    bone: np.ndarray  # bone path length (bone replacing soft tissue)
    lung: np.ndarray  # lung path length (above the domes) before heart and mediastinum
    recess: np.ndarray  # lung path length of the posterior recesses, below the domes
    mediastinum: np.ndarray  # soft tissue displacing lung in the middle
    heart: np.ndarray  # heart path length
    vessels: np.ndarray  # vessels (tissue replacing air inside the lungs)
    sides: np.ndarray  # uint8: 1 patient right lung field, 2 left, 0 elsewhere
    rib_mask: np.ndarray  # bool
    heart_geometry: dict[str, float]
    x: np.ndarray  # (W,) column coordinates in mm
    y: np.ndarray  # (H,) row coordinates in mm

    @property
    def lung_mask(self) -> np.ndarray:
        """Both lung fields (bool)."""
        return self.sides > 0

    def side_mask(self, side: str) -> np.ndarray:
        """The lung field of the patient's ``side`` ("right" is the image left in a PA view)."""
        return self.sides == (1 if side == "right" else 2)

    def air(self, heart: np.ndarray | None = None) -> np.ndarray:
        """Path length of aerated lung (cm): lung minus mediastinum, heart and vessels."""
        h = self.heart if heart is None else heart
        a = self.lung - self.mediastinum - 0.9 * h
        np.maximum(a, 0.0, out=a)
        a += self.recess
        a -= self.vessels
        np.maximum(a, 0.0, out=a)
        return a

    def line_integral(self, heart: np.ndarray | None = None) -> np.ndarray:
        """Total attenuation ``sum(mu * length)`` of the patient (dimensionless)."""
        li = MU_SOFT * self.body
        li += (MU_BONE - MU_SOFT) * self.bone
        li -= (MU_SOFT - MU_LUNG) * self.air(heart)
        return li.astype(np.float32)


# --------------------------------------------------------------------------- grid helpers


def _chord(d: np.ndarray, r: float | np.ndarray) -> np.ndarray:
    """Path length through a cylinder of radius ``r`` at distance ``d`` from its axis."""
    return 2.0 * np.sqrt(np.maximum(r * r - d * d, 0.0))


class _Grid:
    """Image coordinates in mm and windows of them in the patient's frame (shift, tilt)."""

    def __init__(self, shape: tuple[int, int], px: float, shift: float, tilt: float) -> None:
        self.shape, self.px, self.shift, self.tilt = shape, px, shift, tilt
        self.y = ((np.arange(shape[0], dtype=np.float32) + 0.5) - shape[0] / 2) * px
        self.x = ((np.arange(shape[1], dtype=np.float32) + 0.5) - shape[1] / 2) * px
        self.x0 = float(self.x[0] - px / 2)
        self.y0 = float(self.y[0] - px / 2)

    def window(
        self, x_lo: float, x_hi: float, y_lo: float, y_hi: float
    ) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray] | None:
        """Slices and patient coordinates (X (1, w), Y (h, w)) of a window in patient mm."""
        m = abs(self.tilt) * 200.0 + self.px
        c0 = max(int(np.floor((x_lo + self.shift - self.x0) / self.px)), 0)
        c1 = min(int(np.ceil((x_hi + self.shift - self.x0) / self.px)), self.shape[1])
        r0 = max(int(np.floor((y_lo - m - self.y0) / self.px)), 0)
        r1 = min(int(np.ceil((y_hi + m - self.y0) / self.px)), self.shape[0])
        if c1 <= c0 or r1 <= r0:
            return None
        X = (self.x[c0:c1] - self.shift)[None, :]
        Y = self.y[r0:r1, None] - self.tilt * X
        return (slice(r0, r1), slice(c0, c1)), X, Y


class _Bands:
    """Accumulates curved bands (ribs, clavicles) evaluated only near their centre lines.

    A band follows ``y = f(x)`` with one sample per image column (or, where it is steep,
    ``x = f(y)`` with one sample per row); for each sample only the pixels within its half-width
    (stretched by the slope) across the line are evaluated. Samples are grouped by how many
    pixels they need and each group is one vectorised pass.
    """

    def __init__(self, grid: _Grid) -> None:
        self.g = grid
        self.parts: dict[int, list[tuple[np.ndarray, ...]]] = {0: [], 1: []}

    @staticmethod
    def blend(angle: np.ndarray) -> np.ndarray:
        """Weight of the column-wise part at ``angle`` (radians from horizontal): 1 below 35
        degrees, 0 above 55; the row-wise part takes the rest, so the two join seamlessly."""
        t = np.clip((np.deg2rad(55.0) - angle) / np.deg2rad(20.0), 0.0, 1.0)
        return t * t * (3.0 - 2.0 * t)

    @staticmethod
    def _val(v, d: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.asarray(v(d) if callable(v) else v, np.float32), d.shape)

    def add(self, side: float, origin: float, lo: float, hi: float, f, half, wall, gain) -> None:
        """Add a band over distances ``lo..hi`` from ``origin`` on ``side`` (-1 or 1).

        ``f(d) -> (y, dy/dd)``; ``half``, ``wall`` (cortex) and ``gain`` are mm, mm and a factor,
        scalars or functions of the distance.
        """
        g = self.g
        d_all = side * (g.x - g.shift - origin)
        cols = np.flatnonzero((d_all >= lo) & (d_all < hi))
        if cols.size == 0:
            return
        d = d_all[cols].astype(np.float32)
        fy, slope = f(d)
        fy = fy + g.tilt * (g.x[cols] - g.shift)
        centre = (fy - g.y0) / g.px - 0.5  # fractional row of the centre line
        v = self._val
        gain_v = v(gain, d) * self.blend(np.arctan(np.abs(slope)))
        self._keep(0, cols, centre, slope, v(half, d), v(wall, d), gain_v)

    def add_steep(
        self,
        side: float,
        origin: float,
        y_lo: float,
        y_hi: float,
        f,
        half,
        wall,
        gain,
        d_ref,
    ) -> None:
        """Add a steep band ``d = f(y)`` (distance from the midline as a function of height)."""
        g = self.g
        x_ref = side * d_ref + origin
        yy = g.y - g.tilt * x_ref
        rows = np.flatnonzero((yy >= y_lo) & (yy < y_hi))
        if rows.size == 0:
            return
        y = yy[rows].astype(np.float32)
        d, slope = f(y)
        centre = (side * d + origin + g.shift - g.x0) / g.px - 0.5
        v = self._val
        gain_v = v(gain, d) * (1.0 - self.blend(0.5 * np.pi - np.arctan(np.abs(slope))))
        self._keep(1, rows, centre, slope, v(half, d), v(wall, d), gain_v)

    def add_arcs(self, t: dict[str, np.ndarray]) -> None:
        """Add many elliptical arcs at once (the ribs), each split into a flat part evaluated
        column by column and a steep part evaluated row by row, blended around 45 degrees.

        ``t`` holds equal-length arrays: ``side``, ``origin`` (mm), the ellipse ``cx, A, B, yc``
        (in distance from the midline and y), ``sgn`` (-1 upper arc, +1 lower arc), the ranges
        ``d_lo, d_hi`` (flat part) and ``y_lo, y_hi`` (steep part), ``half, wall, gain`` and
        ``fade_at`` (the gain ramps up over 22 mm from there: costal cartilage is not seen).
        """
        g = self.g
        col = {k: np.asarray(v, np.float32)[:, None] for k, v in t.items()}

        def fade(p: np.ndarray, d: np.ndarray) -> np.ndarray:
            return t["gain"][p] * np.clip((d - t["fade_at"][p]) / 22.0, 0.0, 1.0)

        # flat parts: one sample per column
        dd = col["side"] * (g.x[None, :] - g.shift - col["origin"])
        p, c = np.nonzero((dd >= col["d_lo"]) & (dd < col["d_hi"]))
        d = dd[p, c]
        q = np.clip((d - t["cx"][p]) / t["A"][p], -0.999, 0.999)
        root = np.sqrt(1.0 - q * q)
        fy = t["yc"][p] + t["sgn"][p] * t["B"][p] * root + g.tilt * (g.x[c] - g.shift)
        slope = t["B"][p] * np.abs(q) / (t["A"][p] * root)
        gain = fade(p, d) * self.blend(np.arctan(slope))
        self._keep(0, c, (fy - g.y0) / g.px - 0.5, slope, t["half"][p], t["wall"][p], gain)
        # steep parts: one sample per row
        x_ref = t["side"] * (t["cx"] + t["A"]) + t["origin"]
        yy = g.y[None, :] - g.tilt * x_ref[:, None]
        p, r = np.nonzero((yy >= col["y_lo"]) & (yy < col["y_hi"]))
        q = np.clip(t["sgn"][p] * (yy[p, r] - t["yc"][p]) / t["B"][p], 0.0, 0.9999)
        root = np.sqrt(1.0 - q * q)
        d = t["cx"][p] + t["A"][p] * root
        slope = t["A"][p] * q / (t["B"][p] * root)
        centre = (t["side"][p] * d + t["origin"][p] + g.shift - g.x0) / g.px - 0.5
        gain = fade(p, d) * (1.0 - self.blend(0.5 * np.pi - np.arctan(slope)))
        self._keep(1, r, centre, slope, t["half"][p], t["wall"][p], gain)

    def _keep(self, axis: int, *arrays: np.ndarray) -> None:
        """Store the samples that add anything (gain > 0)."""
        k = arrays[-1] > 0
        if k.any():
            self.parts[axis].append(tuple(np.asarray(x)[k] for x in arrays))

    def render(self) -> np.ndarray:
        g = self.g
        h, w = g.shape
        out = np.zeros(h * w, np.float32)
        idxs: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for axis, parts in self.parts.items():
            if not parts:
                continue
            lines, centre, slope, half, wall, gain = (
                np.concatenate(p) for p in zip(*parts, strict=True)
            )
            stretch = np.sqrt(1.0 + np.minimum(slope.astype(np.float32) ** 2, 16.0))
            need = np.ceil(half * stretch / g.px).astype(int) + 1
            bins = (need + 1) // 2 * 2  # reach in pixels, in steps of two
            n_across = h if axis == 0 else w
            for b in np.unique(bins):
                k = bins == b
                offs = np.arange(-b, b + 1, dtype=np.float32)
                across = np.round(centre[k])[:, None] + offs[None, :]
                dist = (across - centre[k][:, None]) * g.px / stretch[k][:, None]
                r = half[k][:, None]
                ri = np.maximum(r - wall[k][:, None], 0.0)
                # a tube with a dense cortex: outer chord minus most of the marrow chord
                v = (_chord(dist, r) - 0.75 * _chord(dist, ri)) * gain[k][:, None] / 10.0
                ok = (across >= 0) & (across < n_across) & (v > 0)
                a_i = across[ok].astype(np.int64)
                l_i = np.broadcast_to(lines[k][:, None], ok.shape)[ok]
                idxs.append(a_i * w + l_i if axis == 0 else l_i * w + a_i)
                vals.append(v[ok])
        if idxs:  # one scatter-add for everything
            out += np.bincount(
                np.concatenate(idxs), weights=np.concatenate(vals), minlength=out.size
            ).astype(np.float32)
        return out.reshape(g.shape)


def _capsules(
    shape: tuple[int, int], x0: float, y0: float, px: float, segs: np.ndarray
) -> np.ndarray:
    """Sum of tapered cylinders (vessels, airways), each evaluated in its bounding box.

    ``segs`` rows are (xa, ya, xb, yb, ra, rb) in image mm; the radius goes linearly from ra
    to rb. ``x0, y0`` are the coordinates of the image's top-left pixel corner.
    """
    out = np.zeros(shape[0] * shape[1], np.float32)
    if len(segs) == 0:
        return out.reshape(shape)
    segs = np.asarray(segs, np.float32)
    rmax = np.maximum(segs[:, 4], segs[:, 5])
    # group segments by the (power-of-two) size of their bounding box, rows and columns apart
    ext_c = np.abs(segs[:, 2] - segs[:, 0]) + 2 * rmax
    ext_r = np.abs(segs[:, 3] - segs[:, 1]) + 2 * rmax
    bc = np.minimum(np.ceil(np.log2(np.maximum(ext_c / px + 3, 4))).astype(int), 12)
    br = np.minimum(np.ceil(np.log2(np.maximum(ext_r / px + 3, 4))).astype(int), 12)
    key = br * 16 + bc
    idxs: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for kb in np.unique(key):
        gsg = segs[key == kb]
        nr, nc = 2 ** (kb // 16) + 1, 2 ** (kb % 16) + 1
        xa, ya, xb, yb, ra, rb = (gsg[:, i, None, None] for i in range(6))
        rm = np.maximum(gsg[:, 4], gsg[:, 5])
        c0 = np.floor((np.minimum(gsg[:, 0], gsg[:, 2]) - rm - x0) / px).astype(int) - 1
        r0 = np.floor((np.minimum(gsg[:, 1], gsg[:, 3]) - rm - y0) / px).astype(int) - 1
        rows = r0[:, None, None] + np.arange(nr)[None, :, None]
        cols = c0[:, None, None] + np.arange(nc)[None, None, :]
        py = (y0 + (rows + 0.5) * px).astype(np.float32)
        pxx = (x0 + (cols + 0.5) * px).astype(np.float32)
        dx, dy = xb - xa, yb - ya
        ll = np.maximum(dx * dx + dy * dy, 1e-6)
        t_raw = ((pxx - xa) * dx + (py - ya) * dy) / ll
        t = np.clip(t_raw, 0.0, 1.0)
        ex, ey = pxx - (xa + t * dx), py - (ya + t * dy)
        r = ra + t * (rb - ra)
        v = 2.0 * np.sqrt(np.maximum(r * r - ex * ex - ey * ey, 0.0)) / 10.0
        # flat ends: joints of a tree do not pile up into beads
        v = v * ((t_raw >= 0.0) & (t_raw <= 1.0))
        ok = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1]) & (v > 0)
        idxs.append(
            np.broadcast_to(rows, ok.shape)[ok] * shape[1] + np.broadcast_to(cols, ok.shape)[ok]
        )
        vals.append(v[ok])
    out += np.bincount(
        np.concatenate(idxs), weights=np.concatenate(vals), minlength=out.size
    ).astype(np.float32)
    return out.reshape(shape)


def _vessel_tree(
    rng: np.random.Generator,
    start: tuple[float, float],
    angle: float,
    radius: float,
    length: float,
    inside: Callable[[np.ndarray, np.ndarray], np.ndarray],
    depth: int,
    min_radius: float = 0.4,
) -> np.ndarray:
    """Segments (xa, ya, xb, yb, ra, rb) of a branching tree, one generation at a time."""
    return _vessel_forest(
        rng, np.array([[start[0], start[1], angle, radius, length]]), inside, depth, min_radius
    )


def _vessel_forest(
    rng: np.random.Generator,
    front: np.ndarray,
    inside: Callable[[np.ndarray, np.ndarray], np.ndarray],
    depth: int,
    min_radius: float = 0.4,
) -> np.ndarray:
    """Grow trees from ``front`` rows (x, y, angle, radius, length), all branches at once.

    Each branch ends where it leaves ``inside`` (shortened and thinned) or splits in two
    children that share its cross-section, turn apart and get shorter.
    """
    out = []
    front = np.asarray(front, np.float64).reshape(-1, 5)
    for _gen in range(depth):
        if len(front) == 0:
            break
        x, y, ang, r, ln = front.T
        xe, ye = x + ln * np.cos(ang), y + ln * np.sin(ang)
        ok = inside(xe, ye)
        r1 = r * 0.88
        # branches leaving the lung stop there, thin
        stop = ~ok
        out.append(
            np.stack(
                [
                    x[stop],
                    y[stop],
                    x[stop] + 0.4 * (xe[stop] - x[stop]),
                    y[stop] + 0.4 * (ye[stop] - y[stop]),
                    r[stop],
                    0.6 * r[stop],
                ],
                1,
            )
        )
        out.append(np.stack([x[ok], y[ok], xe[ok], ye[ok], r[ok], r1[ok]], 1))
        grow = ok & (r1 >= min_radius)
        n = int(grow.sum())
        spread = rng.uniform(0.35, 0.7, n)
        share = rng.uniform(0.4, 0.6, n)
        bias = rng.normal(0.0, 0.1, n)
        kids = []
        for sgn, frac in ((1.0, share), (-1.0, 1.0 - share)):
            na = ang[grow] + sgn * spread * (1.1 - frac) + bias + rng.normal(0, 0.08, n)
            nl = ln[grow] * rng.uniform(0.7, 0.9, n)
            kids.append(np.stack([xe[grow], ye[grow], na, r1[grow] * np.sqrt(frac) * 1.1, nl], 1))
        front = np.concatenate(kids)
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 6), np.float32)


# --------------------------------------------------------------------------- anatomy


@dataclass(frozen=True)
class _Frame:
    """Derived landmarks (patient mm)."""

    top: float
    cp: float
    dome: tuple[float, float]  # dome apex y, right then left
    width: tuple[float, float]  # inner half-widths, right then left
    apex_x: float
    med_x: float
    knob_y: float

    def _dome(self, t: np.ndarray, radius: float) -> np.ndarray:
        """Half-width of a round apex of ``radius`` mm at relative height ``t``."""
        return np.sqrt(2.0 * radius * np.maximum(t * (self.cp - self.top), 0.0))

    def lateral(self, t: np.ndarray, side: int) -> np.ndarray:
        """Distance of the inner chest wall from the midline at relative height ``t``."""
        w = self.width[side]
        tt = np.minimum(t / 0.9, 1.0)
        narrow = 0.03 * w * np.clip((t - 0.9) / 0.1, 0.0, 1.5)
        body = (w - self.apex_x) * (1.0 - (1.0 - tt) ** 2) ** 0.8
        return self.apex_x + np.maximum(body, self._dome(t, 0.1 * w)) - narrow

    def medial(self, t: np.ndarray) -> np.ndarray:
        tm = np.minimum(t / 0.2, 1.0)
        inward = (self.apex_x - self.med_x) * np.sqrt(1.0 - (1.0 - tm) ** 2)
        return self.apex_x - np.minimum(
            np.maximum(inward, self._dome(t, 6.0)), self.apex_x - self.med_x
        )

    def dome_y(self, d: np.ndarray, side: int) -> np.ndarray:
        """The diaphragm at distance ``d`` from the midline."""
        w = self.width[side]
        xd = 0.45 * w
        k = np.where(d > xd, (self.cp + 4.0 - self.dome[side]) / (w - xd) ** 2, 14.0 / xd**2)
        return self.dome[side] + k * (d - xd) ** 2


def _frame(a: Anatomy) -> _Frame:
    cp = a.top + a.height
    dome_r = cp - 42.0 - 16.0 * (a.inspiration - 0.6)
    w_r = a.width * (1.0 - 0.004 * a.rotation)  # rotation about the long axis: unequal lungs
    w_l = a.width * (1.0 + 0.004 * a.rotation)
    apex = 0.36 * a.width
    return _Frame(a.top, cp, (dome_r, dome_r + 13.0), (w_r, w_l), apex, 14.0, a.top + 68.0)


def render_phantom(anatomy: Anatomy, shape: tuple[int, int], spacing: float) -> Phantom:
    """Render the maps of ``anatomy`` on an image of ``shape`` with ``spacing`` mm pixels."""
    a = anatomy
    g = _Grid(shape, spacing, a.shift_x, a.tilt)
    f = _frame(a)
    rng = np.random.default_rng([a.seed, 99])
    lung, recess, sides = _lungs(a, f, g)
    heart, heart_geo = _heart(a, f, g)
    medi = _mediastinum(a, f, g, heart_geo)
    # the lung fields are where the lungs are seen: not behind the heart or the mediastinum
    sides[(sides > 0) & (lung - medi - 0.9 * heart < 0.4 * lung)] = 0
    body = _body(a, f, g)
    bone, ribs = _bones(a, f, g)
    vessels = _vessels(a, f, g, sides)
    body -= _airways(a, f, g)
    # fine interstitial texture: a few per cent of the lung path
    step = 1 << max(int(np.log2(max(1.5 / spacing, 1.0))), 0)  # ~1.5 mm, a power of two
    lung *= 1.0 + 0.02 * smooth_noise(rng, shape, step, 1.2 * 1.5 / (step * spacing))
    vessels += _markings(rng, f, g, lung)
    return Phantom(
        anatomy=a,
        shape=shape,
        spacing=spacing,
        body=body,
        bone=bone,
        lung=lung,
        recess=recess,
        mediastinum=medi,
        heart=heart,
        vessels=vessels,
        sides=sides,
        rib_mask=ribs > 0.02,
        heart_geometry=heart_geo,
        x=g.x,
        y=g.y,
    )


def _lungs(a: Anatomy, f: _Frame, g: _Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lung path above the domes, the posterior recess below them, and the lung-field labels."""
    lung = np.zeros(g.shape, np.float32)
    recess = np.zeros(g.shape, np.float32)
    sides = np.zeros(g.shape, np.uint8)
    span = f.cp - f.top
    skew = np.log(0.5) / np.log(0.62)  # thickest 62 % of the way out
    for side, s, label in ((0, -1.0, 1), (1, 1.0, 2)):
        w = f.width[side]
        lo, hi = (-(w + 4.0), -f.med_x + 2) if s < 0 else (f.med_x - 2, w + 4.0)
        win = g.window(lo, hi, f.top - 2.0, f.cp + 60.0)
        if win is None:
            continue
        sl, X, Y = win
        d = s * X
        t = np.clip((Y - f.top) / span, 0.0, 1.3)
        x_lat = f.lateral(t, side)
        x_med = f.medial(t)
        u = (d - x_med) / np.maximum(x_lat - x_med, 1e-3)
        band = (u > 0) & (u < 1) & (Y > f.top)
        uu = np.clip(u, 0.0, 1.0) ** skew
        prof = np.sqrt(np.clip(4.0 * uu * (1.0 - uu), 0.0, 1.0))
        depth = a.lung_depth * (0.35 + 0.65 * np.sqrt(np.minimum(t, 1.0)))
        dome = f.dome_y(d, side)
        above = Y < dome
        path = depth * prof * band
        lung[sl] += (path * above).astype(np.float32)
        # under the dome: the posterior recess, thin and fading, behind the abdomen
        fall = 0.2 * np.exp(-np.maximum(Y - dome, 0.0) / 18.0)
        recess[sl] += (path * fall * ~above).astype(np.float32)
        sides[sl][band & (Y < dome)] = label
    return lung, recess, sides


def heart_map(X: np.ndarray, Y: np.ndarray, geo: dict[str, float]) -> np.ndarray:
    """Projected thickness (cm) of a tilted ellipsoidal heart."""
    c, s = np.cos(geo["tilt"]), np.sin(geo["tilt"])
    dx, dy = X - geo["cx"], Y - geo["cy"]
    u = (c * dx + s * dy) / geo["a"]
    v = (-s * dx + c * dy) / geo["b"]
    q = 1.0 - u * u - v * v
    return (geo["hmax"] * np.sqrt(np.clip(q, 0.0, 1.0)) ** 0.7).astype(np.float32)


def _heart(a: Anatomy, f: _Frame, g: _Grid) -> tuple[np.ndarray, dict[str, float]]:
    """The cardiac silhouette, row by row between a right and a left border, on the domes.

    The transverse diameter is ``ctr`` times the inner thoracic width: 37 % of it right of the
    midline (the convex right atrium), 63 % left (the ventricle, widest where the apex meets
    the left dome). The top narrows into the mediastinum; the bottom hides below the domes.
    """
    thorax = f.width[0] + f.width[1]
    diam = a.ctr * thorax
    shift = 0.4 * a.rotation
    bottom = f.dome[1] + 4.0
    top = bottom - (0.62 + 0.15 * np.cos(a.heart_tilt)) * diam
    win = g.window(-0.45 * diam + shift, 0.7 * diam + shift, top - 5.0, bottom + 60.0)
    heart = np.zeros(g.shape, np.float32)
    if win is not None:
        sl, X, Y = win
        t = np.clip((Y - top) / (bottom - top), 0.0, 1.0)
        # left border: from the pulmonary trunk out to the apex, convex
        x_l = (0.16 + 0.47 * np.sin(0.5 * np.pi * t**0.85)) * diam
        # right border: the right atrium bulges most at two thirds of the height
        x_r = -(0.08 + 0.29 * np.sin(np.pi * np.clip(0.2 + 0.75 * t, 0, 1)) ** 0.6) * diam
        xc, hw = (x_l + x_r) / 2 + shift, (x_l - x_r) / 2
        q = 1.0 - ((X - xc) / hw) ** 2
        cap = np.sqrt(np.clip((Y - top) / (0.12 * diam), 0.0, 1.0))  # rounded top
        # it rests on the domes: cut where the diaphragm is, column by column
        surface = f.dome_y(np.abs(X), 1) + 4.0
        below = np.clip(1.0 - (Y - np.maximum(surface, bottom)) / 5.0, 0.0, 1.0)
        heart[sl] = 11.5 * np.sqrt(np.clip(q, 0.0, 1.0)) ** 0.7 * cap * below
    geo = {
        "cx": 0.13 * diam + shift,
        "cy": bottom - 0.1 * diam,
        "top": top,
        "diameter": diam,
        "hmax": 11.5,
    }
    return heart, geo


def _mediastinum(a: Anatomy, f: _Frame, g: _Grid, hg: dict[str, float]) -> np.ndarray:
    medi = np.zeros(g.shape, np.float32)
    win = g.window(-80.0, 80.0, f.top - 60.0, f.dome[1] + 40.0)
    if win is None:
        return medi
    sl, X, Y = win
    xm = X - 0.3 * a.rotation
    heart_top = hg["top"]
    # the widths vary along the height only: computed per row (the tilt is negligible here)
    yr = Y[:, :1] + g.tilt * X[:, :1]
    hw = 21.0 + 12.0 * np.clip((yr - (f.top + 20.0)) / (heart_top - f.top - 20.0), 0.0, 1.0) ** 2
    knob = 15.0 * np.exp(-(((yr - f.knob_y) / 13.0) ** 2))  # aortic knob, patient's left
    svc = 5.0 * np.exp(-(((yr - (f.knob_y + 35.0)) / 30.0) ** 2))  # SVC, patient's right
    # the borders undulate gently (vessels, fat), differently on each side
    rng = np.random.default_rng([a.seed, 13])
    ph1, ph2 = rng.uniform(0, 2 * np.pi, 2)
    wav_l = 2.5 * np.sin(yr / 23.0 + ph1) + 1.5 * np.sin(yr / 9.0 + ph2)
    wav_r = 2.5 * np.sin(yr / 19.0 + ph2) + 1.5 * np.sin(yr / 11.0 + ph1)
    half = np.where(xm > 0, hw + knob + 4.0 + wav_l, hw + svc + wav_r)
    m = 12.0 * np.sqrt(np.clip(1.0 - (xm / half) ** 2, 0.0, 1.0)) ** 0.8
    m *= np.clip((Y - (f.top - 50.0)) / 20.0, 0.0, 1.0)
    # below the top of the heart, the heart is the mediastinum: the band thins out
    m *= 1.0 - 0.6 * np.clip((Y - heart_top) / (hg["cy"] - heart_top), 0.0, 1.0)
    # descending aorta behind the heart on the patient's left, fading into the abdomen
    ao = 7.0 * np.sqrt(np.clip(1.0 - ((xm - 24.0) / 13.0) ** 2, 0.0, 1.0))
    ao = ao * ((Y > f.knob_y) & (Y < f.dome[1] + 30.0))
    medi[sl] = np.maximum(m, ao)
    return medi


def _body(a: Anatomy, f: _Frame, g: _Grid) -> np.ndarray:
    X = (g.x - g.shift)[None, :]
    Y = g.y[:, None] - g.tilt * X
    aw = max(f.width) + a.wall + 10.0
    sh = np.clip((f.top + 25.0 - Y) / 45.0, 0.0, 1.0)  # shoulders above the apices
    aw_y = aw + 55.0 * sh
    body = a.body_depth * np.sqrt(np.clip(1.0 - (X / aw_y) ** 2, 0.0, 1.0)) ** 0.8
    # the top of the shoulders slopes from the neck down to the acromion
    y_sh = f.top - 48.0 + 52.0 * np.clip((np.abs(X) - 50.0) / (aw - 30.0), 0.0, 1.3) ** 0.8
    body *= (1.0 - 0.55 * sh) * np.clip((Y - y_sh) / 12.0, 0.0, 1.0)
    neck = 12.0 * np.sqrt(np.clip(1.0 - (X / 58.0) ** 2, 0.0, 1.0))
    body = np.maximum(body, neck)
    body += 3.0 * np.clip((Y - f.cp) / 40.0, 0.0, 1.0) * (body > 0)  # the abdomen
    body = body.astype(np.float32)
    if a.breast > 0:
        for s in (-1.0, 1.0):
            bx, by = s * 0.6 * max(f.width), f.cp - 52.0
            ra, rb = 82.0 * a.breast**0.3, 66.0 * a.breast**0.3
            win = g.window(bx - ra, bx + ra, by - rb, by + rb)
            if win is None:
                continue
            sl, Xw, Yw = win
            q = ((Xw - bx) / ra) ** 2 + ((Yw - by) / rb) ** 2
            up = np.clip((Yw - (by - rb)) / (1.5 * rb), 0.0, 1.0)  # fades upwards
            body[sl] += (4.5 * a.breast * np.sqrt(np.clip(1.0 - q, 0.0, 1.0)) * up).astype(
                np.float32
            )
    # gastric bubble under the patient's left dome
    gx, gy = 0.45 * f.width[1], f.dome[1] + 30.0
    win = g.window(gx - 35.0, gx + 35.0, gy - 18.0, gy + 18.0)
    if win is not None:
        sl, Xw, Yw = win
        q = ((Xw - gx) / 24.0) ** 2 + ((Yw - gy) / 11.0) ** 2
        body[sl] -= (1.8 * np.sqrt(np.clip(1.0 - q, 0.0, 1.0))).astype(np.float32)
    return body


def _q_at(a: float, b: float, degrees: float) -> float:
    """Where (as a fraction of the semi-axis ``a``) an ellipse arc is at ``degrees``."""
    t = np.tan(np.deg2rad(degrees))
    return float(a * t / np.hypot(b, a * t))


def _bones(a: Anatomy, f: _Frame, g: _Grid) -> tuple[np.ndarray, np.ndarray]:
    """Ribs, clavicles, spine, scapulae and humeral heads; returns (bone, ribs only)."""
    rng = np.random.default_rng([a.seed, 5])
    ribs = _Bands(g)
    span = f.cp - f.top
    spine_x = a.rotation
    y_i = f.top - 14.0
    rows: list[tuple[float, ...]] = []  # one row per arc, columns as in _Bands.add_arcs
    for i in range(12):
        yi = y_i + rng.normal(0, 0.8)
        y_i += a.rib_spacing * (0.82 + 0.035 * i)
        for side, s in ((0, -1.0), (1, 1.0)):
            tq = float(np.clip((yi + 30.0 - f.top) / span, 0.03, 1.1))
            w_i = float(f.lateral(np.array(tq), side)) + 9.0
            if i == 0:
                w_i = min(w_i, 0.55 * f.width[side])
            # posterior arc: the upper half of an ellipse from the spine to the lateral wall
            xc = 0.06 * w_i
            A = w_i - xc
            B = (0.52 + 0.01 * min(i, 6)) * A * (1.1 if i == 0 else 1.0)
            yc = yi + B
            half = 5.0 + 0.3 * min(i, 6)
            gain = 1.2 if i < 8 else (0.6 if i < 10 else 0.35)  # low ribs: behind the abdomen
            q_hi, q_lo = _q_at(A, B, 56.0), _q_at(A, B, 34.0)
            rows.append(
                (
                    s,
                    spine_x,
                    xc,
                    A,
                    B,
                    yc,
                    -1.0,
                    9.0,
                    xc + A * q_hi,
                    yc - B * np.sqrt(1.0 - q_lo * q_lo),
                    yc,
                    half,
                    1.4,
                    gain,
                    -8.0,  # the rib head and neck fade behind the vertebra
                )
            )
            if i < 9:
                # anterior arc: from the lateral wall down towards the sternum, fainter
                A2, B2 = 0.78 * A, 0.95 * B
                cx2 = xc + A - A2
                d_end = max(26.0 + 4.0 * i, cx2 - 0.65 * A2)
                q_hi, q_lo = _q_at(A2, B2, 56.0), _q_at(A2, B2, 34.0)
                rows.append(
                    (
                        s,
                        spine_x,
                        cx2,
                        A2,
                        B2,
                        yc,
                        1.0,
                        d_end,
                        cx2 + A2 * q_hi,
                        yc,
                        yc + B2 * np.sqrt(1.0 - q_lo * q_lo),
                        6.5 + 0.2 * min(i, 6),
                        1.0,
                        0.45,
                        d_end,
                    )
                )
    keys = ("side", "origin", "cx", "A", "B", "yc", "sgn", "d_lo", "d_hi", "y_lo", "y_hi",
            "half", "wall", "gain", "fade_at")  # fmt: skip
    table = np.array(rows, np.float64)
    ribs.add_arcs({k: table[:, n] for n, k in enumerate(keys)})
    rib_map = ribs.render()

    other = _Bands(g)
    for side, s in ((0, -1.0), (1, 1.0)):
        w = f.width[side]
        y_med, y_lat = f.top + 30.0 + rng.normal(0, 3), f.top - 14.0 + rng.normal(0, 4)
        L = w + 40.0

        def clav(d, y_med=y_med, y_lat=y_lat, L=L):
            tq = (d - 12.0) / L
            y = y_med + (y_lat - y_med) * tq + 6.0 * np.sin(2.0 * np.pi * tq)
            return y, (y_lat - y_med) / L + 6.0 * 2.0 * np.pi / L * np.cos(2.0 * np.pi * tq)

        other.add(s, 0.0, 12.0, 12.0 + L, clav, lambda d, L=L: 7.0 - 1.5 * (d - 12.0) / L, 1.8, 1.2)
    bone = rib_map + other.render()
    _spine(a, f, g, bone)
    _shoulders(a, f, g, bone)
    return bone, rib_map


def _spine(a: Anatomy, f: _Frame, g: _Grid, bone: np.ndarray) -> None:
    """Vertebral bodies, pedicles and spinous processes, added into ``bone``."""
    sx0 = a.rotation
    win = g.window(sx0 - 40.0, sx0 + 40.0, g.y0 - 50.0, -g.y0 + 50.0)
    if win is None:
        return
    sl, X, Y = win
    sx = X - sx0
    h = a.rib_spacing * 1.02
    lvl = (Y - (f.top - 3.0 * h)) / h
    lf = lvl - np.floor(lvl)  # position in one level: body, then the disc
    hwv = 17.0 + 0.35 * np.clip(lvl, 0.0, 16.0) ** 1.1  # vertebrae widen downwards
    # a vertebral body: a cylinder (round in x), its end plates a little denser, the disc soft
    body = np.sqrt(np.clip(1.0 - (sx / hwv) ** 2, 0.0, 1.0))
    along = np.clip(np.minimum(lf, 0.82 - lf) / 0.08, 0.0, 1.0)
    plate = np.exp(-(((np.minimum(lf, 0.82 - lf)) / 0.05) ** 2)) * (lf < 0.82)
    body = body * (along * along * (3.0 - 2.0 * along) + 0.5 * plate)
    # pedicles: faint oval rings; the spinous process: a faint drop in the midline
    ped_d = np.hypot((np.abs(sx) - 0.68 * hwv) / 3.5, (lf - 0.3) * h / 4.5)
    ped = 0.12 * np.exp(-((ped_d - 1.0) ** 2) / 0.15)
    spin = 0.1 * np.exp(-((sx / 3.0) ** 2) - (((lf - 0.72) * h / 6.0) ** 2))
    v = 0.6 * body + ped + spin
    v *= np.where(Y < f.top - 40.0, 0.7, 1.0)
    bone[sl] += v.astype(np.float32)


def _shoulders(a: Anatomy, f: _Frame, g: _Grid, bone: np.ndarray) -> None:
    """Scapulae (thin plates with dense borders) and humeral heads, added into ``bone``."""
    for side, s in ((0, -1.0), (1, 1.0)):
        w = f.width[side]
        cx, cy = s * (w * 0.86 + 4.0), f.top + 52.0
        ax, bx, th = 68.0, 30.0, s * np.deg2rad(-72.0)
        win = g.window(cx - ax, cx + ax, cy - ax, cy + ax)
        if win is not None:
            sl, X, Y = win
            c, sn = np.cos(th), np.sin(th)
            u = (c * (X - cx) + sn * (Y - cy)) / ax
            v = (-sn * (X - cx) + c * (Y - cy)) / bx
            # a rounded triangle: narrower towards the inferior angle
            q = u * u + (v / (1.0 - 0.45 * np.clip(u * s * np.sign(np.sin(th)), -1, 1))) ** 2
            plate = np.clip((1.0 - q) / 0.15, 0.0, 1.0)
            rim = np.exp(-(((q - 0.97) / 0.05) ** 2))
            bone[sl] += (0.22 * plate + 0.3 * rim).astype(np.float32)
        hx, hy, r = s * (w + 64.0), f.top + 4.0, 27.0
        win = g.window(hx - r, hx + r, hy - r, hy + r)
        if win is not None:
            sl, X, Y = win
            d = np.hypot(X - hx, Y - hy)
            bone[sl] += (2.0 * np.sqrt(np.clip(1.0 - (d / r) ** 2, 0.0, 1.0))).astype(np.float32)


def _vessels(a: Anatomy, f: _Frame, g: _Grid, sides: np.ndarray) -> np.ndarray:
    """The pulmonary vessel trees from both hila, tapering towards the periphery."""
    rng = np.random.default_rng([a.vessel_seed, 3])
    px, shape = g.px, g.shape

    def inside_fn(lbl: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        def inside(xe: np.ndarray, ye: np.ndarray) -> np.ndarray:
            c = np.floor((xe - g.x0) / px).astype(int)
            r = np.floor((ye - g.y0) / px).astype(int)
            ok = (c >= 0) & (c < shape[1]) & (r >= 0) & (r < shape[0])
            res = np.zeros(c.shape, bool)
            res[ok] = sides[r[ok], c[ok]] == lbl
            return res

        return inside

    forest = []
    span = f.cp - f.top
    for side, s, lbl in ((0, -1.0, 1), (1, 1.0, 2)):
        hy = f.top + 0.43 * span - (10.0 if s > 0 else 0.0)
        hx = s * (f.med_x + 20.0 + 0.08 * f.width[side]) + g.shift
        # (angle from the lateral horizontal, downwards positive), radius, length
        trunks = [(-1.4, 4.8, 26.0), (-1.05, 4.4, 28.0), (-0.7, 4.2, 28.0), (-0.35, 4.0, 28.0),
                  (0.0, 4.0, 28.0), (0.35, 4.4, 30.0), (0.7, 5.4, 32.0), (1.0, 5.2, 30.0),
                  (1.3, 4.8, 28.0), (1.55, 4.2, 26.0)]  # fmt: skip
        tr = np.array(trunks, np.float64)
        k = len(tr)
        ang = tr[:, 0] + rng.normal(0, 0.1, k)
        front = np.stack(
            [
                hx + s * rng.uniform(-3, 5, k),
                hy + rng.uniform(-5, 5, k),
                ang if s > 0 else np.pi - ang,
                tr[:, 1] * rng.uniform(0.9, 1.1, k),
                tr[:, 2],
            ],
            1,
        )
        forest.append(_vessel_forest(rng, front, inside_fn(lbl), 10, max(0.5, 0.8 * px)))
    arr = np.concatenate(forest)
    if px < 0.8:  # fine grids: render at half resolution and interpolate (vessels are smooth)
        half = ((shape[0] + 1) // 2, (shape[1] + 1) // 2)
        return upsample2(_capsules(half, g.x0, g.y0, 2 * px, arr), shape)
    return _capsules(shape, g.x0, g.y0, px, arr)


def _markings(rng: np.random.Generator, f: _Frame, g: _Grid, lung: np.ndarray) -> np.ndarray:
    """The fine lung markings the trees leave out: small vessels at every depth of the lung.

    Their projection is a dense, curvy network; drawn as the zero lines of smooth noise (about
    4 mm cells), thin (~1 mm of tissue), denser towards the hila, fading to the periphery.
    """
    step = 1 << max(int(np.log2(max(2.0 / g.px, 1.0))), 0)  # ~2 mm, a power of two
    n = smooth_noise(rng, g.shape, step, 1.3 * 2.0 / (step * g.px))
    lines = np.exp(-((n / 0.3) ** 2))
    # towards the hila (about a third of the way out from the midline, mid-height)
    X = np.abs(g.x - g.shift)[None, :]
    Y = g.y[:, None]
    hy = f.top + 0.42 * (f.cp - f.top)
    r = np.hypot((X - 0.3 * max(f.width)) / max(f.width), (Y - hy) / (f.cp - f.top))
    weight = np.clip(1.1 - 0.9 * r, 0.25, 1.0)
    return (0.5 * lines * weight * (lung > 0.5)).astype(np.float32)


def _airways(a: Anatomy, f: _Frame, g: _Grid) -> np.ndarray:
    """Trachea and main bronchi: air columns inside the mediastinum (cm of air)."""
    cx = g.shift + 0.3 * a.rotation
    carina = f.knob_y + 32.0
    segs = [
        (cx, g.y0 - 20.0, cx + 2.0, carina, 8.0, 7.5),
        (cx + 2.0, carina, cx - 30.0, carina + 24.0, 6.0, 4.5),
        (cx + 2.0, carina, cx + 36.0, carina + 34.0, 5.5, 4.0),
    ]
    return 0.9 * _capsules(g.shape, g.x0, g.y0, g.px, np.array(segs, np.float32))
