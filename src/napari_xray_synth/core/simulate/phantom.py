"""A chest phantom drawn from a seed, as analytic projected thicknesses on a 2-D grid.

Every structure is a map of projected thickness in cm (the path length of an X-ray through it,
PA view), computed in closed form with numpy on the image grid; thin curved structures (ribs,
clavicles) are evaluated only in a band of rows around their centre line, and the vessel tree
only in the bounding box of each segment. Geometry is in mm, with the origin at the image centre,
x to the image right (the patient's left in a PA view) and y down.

The phantom keeps its maps apart (body, lungs, heart, mediastinum, vessels, bone...) so that the
pathologies can change the right one (fluid replacing lung, a larger heart, air replacing lung)
before the physics turns them into a line integral.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

#: Linear attenuation coefficients in 1/cm at the effective energy of a ~120 kVp chest beam.
MU_SOFT = 0.20
MU_LUNG = 0.05  # inflated lung, density about 0.25
MU_BONE = 0.48  # bone mineral equivalent (cortex and trabeculae mixed)

#: Default field of view (mm): 1024 pixels at 0.35 mm.
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
    rotation: float  # rotation about the vertical axis: spine offset from the midline (mm)
    inspiration: float  # 0 (shallow) .. 1 (deep): lowers the domes
    ctr: float  # cardiothoracic ratio
    heart_tilt: float  # radians
    body_depth: float  # AP chest thickness (cm)
    wall: float  # chest wall soft tissue beyond the ribs (mm)
    lung_depth: float  # AP depth of the lung bases (cm)
    breast: float  # breast size, 0 for men
    rib_spacing: float  # vertebral level height (mm)
    vessel_seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def draw(cls, seed: int) -> Anatomy:
        """Draw a plausible adult from ``seed``."""
        rng = np.random.default_rng([int(seed), 7321])
        sex = "F" if rng.random() < 0.5 else "M"
        w = rng.normal(128.0 if sex == "M" else 121.0, 6.0)
        return cls(
            seed=int(seed),
            sex=sex,
            width=float(np.clip(w, 108, 142)),
            height=float(np.clip(rng.normal(248.0 if sex == "M" else 236.0, 10.0), 215, 275)),
            top=float(rng.normal(-132.0, 5.0)),
            shift_x=float(rng.normal(0.0, 4.0)),
            tilt=float(np.deg2rad(rng.normal(0.0, 1.2))),
            rotation=float(rng.normal(0.0, 4.0)),
            inspiration=float(rng.uniform(0.2, 1.0)),
            ctr=float(np.clip(rng.normal(0.44, 0.03), 0.37, 0.49)),
            heart_tilt=float(np.deg2rad(rng.normal(32.0, 5.0))),
            body_depth=float(rng.normal(21.0 if sex == "M" else 19.5, 1.5)),
            wall=float(np.clip(rng.normal(22.0, 5.0), 12, 38)),
            lung_depth=float(rng.normal(15.0, 1.0)),
            breast=float(rng.uniform(0.6, 1.3)) if sex == "F" else 0.0,
            rib_spacing=float(rng.normal(21.5, 1.0)),
            vessel_seed=int(rng.integers(2**31)),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters (provenance)."""
        d = asdict(self)
        d.pop("extra")
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


@dataclass
class Phantom:
    """Rendered maps of one patient (all float32 of the image shape, thickness in cm)."""

    anatomy: Anatomy
    shape: tuple[int, int]
    spacing: float  # mm per pixel
    body: np.ndarray  # soft tissue path length (body, breasts; minus gas)
    bone: np.ndarray  # bone path length (bone replacing soft tissue)
    lung: np.ndarray  # lung path length before heart and mediastinum are taken out
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
        a = self.lung - self.mediastinum - 0.92 * h
        np.maximum(a, 0.0, out=a)
        a -= self.vessels
        np.maximum(a, 0.0, out=a)
        return a

    def line_integral(self, heart: np.ndarray | None = None) -> np.ndarray:
        """Total attenuation ``sum(mu * length)`` of the healthy patient (dimensionless)."""
        return (
            MU_SOFT * self.body
            + (MU_BONE - MU_SOFT) * self.bone
            - (MU_SOFT - MU_LUNG) * self.air(heart)
        ).astype(np.float32)


# --------------------------------------------------------------------------- helpers


def _grid(shape: tuple[int, int], spacing: float) -> tuple[np.ndarray, np.ndarray]:
    y = ((np.arange(shape[0], dtype=np.float32) + 0.5) - shape[0] / 2) * spacing
    x = ((np.arange(shape[1], dtype=np.float32) + 0.5) - shape[1] / 2) * spacing
    return x, y


def _chord(d: np.ndarray, r: float | np.ndarray) -> np.ndarray:
    """Path length through a cylinder of radius ``r`` at distance ``d`` from its axis."""
    return 2.0 * np.sqrt(np.maximum(r * r - d * d, 0.0))


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], step: int, sigma: float
) -> np.ndarray:
    """Band-limited noise (unit std): drawn on a coarse grid, smoothed and upsampled."""
    small = (max(shape[0] // step, 4), max(shape[1] // step, 4))
    n = ndimage.gaussian_filter(rng.standard_normal(small).astype(np.float32), sigma)
    n /= n.std() + 1e-6
    return ndimage.zoom(n, (shape[0] / small[0], shape[1] / small[1]), order=1)[
        : shape[0], : shape[1]
    ]


class _Bands:
    """Accumulates curved bands (ribs, clavicles) evaluated only near their centre lines.

    A band follows ``y = f(x)`` over a range of columns; for each column only the rows within
    its half-width (stretched by the slope) are evaluated, all bands in one vectorised pass.
    """

    def __init__(self, x: np.ndarray, y0: float, spacing: float, shape: tuple[int, int]) -> None:
        self.x, self.y0, self.px, self.shape = x, y0, spacing, shape
        self.cols: list[np.ndarray] = []
        self.fy: list[np.ndarray] = []
        self.slope: list[np.ndarray] = []
        self.half: list[np.ndarray] = []
        self.wall: list[np.ndarray] = []
        self.gain: list[np.ndarray] = []

    def add(self, cols, fy, slope, half, wall, gain) -> None:
        keep = (cols >= 0) & (cols < self.shape[1])
        n = int(keep.sum())
        if n == 0:
            return
        self.cols.append(cols[keep])
        self.fy.append(fy[keep])
        self.slope.append(slope[keep])
        for lst, v in ((self.half, half), (self.wall, wall), (self.gain, gain)):
            lst.append(np.broadcast_to(np.asarray(v, np.float32), cols.shape)[keep])

    def render(self) -> np.ndarray:
        out = np.zeros(self.shape[0] * self.shape[1], np.float32)
        if not self.cols:
            return out.reshape(self.shape)
        cols = np.concatenate(self.cols)
        fy = np.concatenate(self.fy)
        stretch = np.sqrt(1.0 + np.minimum(np.concatenate(self.slope) ** 2, 36.0))
        half = np.concatenate(self.half)
        wall = np.concatenate(self.wall)
        gain = np.concatenate(self.gain)
        reach = int(np.ceil((half * stretch).max() / self.px)) + 2
        offs = np.arange(-reach, reach + 1, dtype=np.float32)
        row_c = (fy - self.y0) / self.px - 0.5  # fractional row of the centre line
        rows = np.round(row_c)[:, None] + offs[None, :]
        d = (rows - row_c[:, None]) * self.px / stretch[:, None]  # perpendicular distance, mm
        r = half[:, None]
        ri = np.maximum(r - wall[:, None], 0.0)
        # a tube with a dense cortex: outer chord minus a part of the inner (marrow) chord
        val = (_chord(d, r) - 0.72 * _chord(d, ri)) * gain[:, None] / 10.0
        ok = (rows >= 0) & (rows < self.shape[0]) & (val > 0)
        idx = (
            rows[ok].astype(np.int64) * self.shape[1] + np.broadcast_to(cols[:, None], ok.shape)[ok]
        )
        out += np.bincount(idx, weights=val[ok], minlength=out.size).astype(np.float32)
        return out.reshape(self.shape)


def _capsules(
    shape: tuple[int, int],
    x0: float,
    y0: float,
    px: float,
    segs: np.ndarray,
) -> np.ndarray:
    """Sum of tapered cylinders (vessels, airways), each evaluated in its bounding box.

    ``segs`` rows are (xa, ya, xb, yb, ra, rb) in mm; the radius goes linearly from ra to rb.
    """
    out = np.zeros(shape[0] * shape[1], np.float32)
    if len(segs) == 0:
        return out.reshape(shape)
    segs = np.asarray(segs, np.float32)
    # group segments by bounding-box size so that each group is one vectorised evaluation
    rmax = np.maximum(segs[:, 4], segs[:, 5])
    ext = np.maximum(np.abs(segs[:, 2] - segs[:, 0]), np.abs(segs[:, 3] - segs[:, 1])) + 2 * rmax
    size = np.ceil(ext / px).astype(int) + 3
    bins = np.minimum(np.ceil(np.log2(np.maximum(size, 4))).astype(int), 12)
    for b in np.unique(bins):
        g = segs[bins == b]
        n = 2**b + 1
        xa, ya, xb, yb, ra, rb = (g[:, i, None, None] for i in range(6))
        c0 = np.floor((np.minimum(g[:, 0], g[:, 2]) - np.maximum(g[:, 4], g[:, 5]) - x0) / px)
        r0 = np.floor((np.minimum(g[:, 1], g[:, 3]) - np.maximum(g[:, 4], g[:, 5]) - y0) / px)
        c0, r0 = c0.astype(int) - 1, r0.astype(int) - 1
        ar = np.arange(n)
        rows = r0[:, None, None] + ar[None, :, None]
        cols = c0[:, None, None] + ar[None, None, :]
        py = y0 + (rows + 0.5) * px
        pxx = x0 + (cols + 0.5) * px
        dx, dy = xb - xa, yb - ya
        ll = np.maximum(dx * dx + dy * dy, 1e-6)
        t = np.clip(((pxx - xa) * dx + (py - ya) * dy) / ll, 0.0, 1.0)
        d = np.hypot(pxx - (xa + t * dx), py - (ya + t * dy))
        r = ra + t * (rb - ra)
        val = _chord(d, r) / 10.0
        ok = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1]) & (val > 0)
        idx = np.broadcast_to(rows, ok.shape)[ok] * shape[1] + np.broadcast_to(cols, ok.shape)[ok]
        out += np.bincount(idx, weights=val[ok], minlength=out.size).astype(np.float32)
    return out.reshape(shape)


# --------------------------------------------------------------------------- anatomy


def _lung_geometry(a: Anatomy) -> dict[str, float]:
    top = a.top
    cp = top + a.height  # costophrenic angles
    dome_r = cp - 40.0 - 16.0 * a.inspiration * 0 - 4.0  # right dome apex (image left)
    return {"top": top, "cp": cp, "dome_r": dome_r, "dome_l": dome_r + 14.0}


def _vessel_tree(
    rng: np.random.Generator,
    start: tuple[float, float],
    angle: float,
    radius: float,
    length: float,
    inside,
    depth: int,
) -> list[tuple[float, float, float, float, float, float]]:
    """Segments (xa, ya, xb, yb, ra, rb) of a branching tree, generation by generation."""
    segs: list[tuple[float, float, float, float, float, float]] = []
    front = [(start[0], start[1], angle, radius, length)]
    for _gen in range(depth):
        nxt = []
        if not front:
            break
        arr = np.array(front, np.float64)
        xe = arr[:, 0] + arr[:, 4] * np.cos(arr[:, 2])
        ye = arr[:, 1] + arr[:, 4] * np.sin(arr[:, 2])
        ok = inside(xe, ye)
        for (xs, ys, ang, r, ln), x1, y1, good in zip(front, xe, ye, ok, strict=True):
            r1 = r * 0.82
            if not good:
                # end the branch at the lung edge, thin
                segs.append((xs, ys, xs + 0.5 * (x1 - xs), ys + 0.5 * (y1 - ys), r, r * 0.5))
                continue
            segs.append((xs, ys, float(x1), float(y1), r, r1))
            if r1 < 0.45:
                continue
            spread = rng.uniform(0.30, 0.62)
            bias = rng.normal(0.0, 0.12)
            share = rng.uniform(0.45, 0.55)
            for sgn, frac in ((1.0, share), (-1.0, 1.0 - share)):
                nr = r1 * np.sqrt(frac) * 1.12
                na = ang + sgn * spread * (1.0 - frac + 0.2) + bias + rng.normal(0, 0.08)
                nl = ln * rng.uniform(0.72, 0.92)
                nxt.append((float(x1), float(y1), float(na), float(nr), float(nl)))
        front = nxt
    return segs


def render_phantom(anatomy: Anatomy, shape: tuple[int, int], spacing: float) -> Phantom:
    """Render the maps of ``anatomy`` on an image of ``shape`` with ``spacing`` mm pixels."""
    a = anatomy
    rng = np.random.default_rng([a.seed, 99])
    x, y = _grid(shape, spacing)
    g = _lung_geometry(a)
    # image coordinates relative to the patient: shift and in-plane tilt (a shear, small angles)
    xs = x - a.shift_x  # (W,)
    X = xs[None, :]
    Y = y[:, None] - a.tilt * X  # (H, W)

    # ---------------------------------------------------------------- lungs
    top, cp = g["top"], g["cp"]
    wid = a.width
    sides = np.zeros(shape, np.uint8)
    lung = np.zeros(shape, np.float32)
    t = np.clip((Y - top) / (cp - top), 0.0, 1.2)
    # per side: lateral and medial bounds (x measured away from the midline)
    rot = a.rotation
    for s, label in ((-1.0, 1), (1.0, 2)):
        xp = s * X  # away from the midline
        w_s = wid * (1.0 + 0.004 * s * rot)  # vertical-axis rotation: one lung looks wider
        apex = 42.0 + 0.05 * wid
        tt = np.minimum(t / 0.82, 1.0)
        x_lat = (
            apex
            + (w_s - apex) * np.sqrt(1.0 - (1.0 - tt) ** 2.2)
            - 0.04 * w_s * np.clip((t - 0.82) / 0.18, 0, 1)
        )
        tm = np.minimum(t / 0.22, 1.0)
        med = 16.0 + 2.0 * s
        x_med = apex - (apex - med) * np.sqrt(1.0 - (1.0 - tm) ** 2)
        # diaphragm dome: apex at 45 % of the width, down to the costophrenic angle laterally
        d_ap = g["dome_r"] if s < 0 else g["dome_l"]
        d_ap += 18.0 * (0.6 - a.inspiration)
        xd = 0.42 * w_s
        k = np.where(xp > xd, (cp + 6.0 - d_ap) / (w_s - xd) ** 2, 28.0 / xd**2)
        dome = d_ap + k * (xp - xd) ** 2
        u = (xp - x_med) / np.maximum(x_lat - x_med, 1e-3)
        inside = (u > 0) & (u < 1) & (Y > top) & (Y < dome)
        prof = np.sqrt(np.clip(4.0 * u * (1.0 - u), 0.0, 1.0)) * np.clip(1.6 * (1 - u) + 0.3, 0, 1)
        prof = np.sqrt(prof)
        depth = a.lung_depth * (0.40 + 0.60 * np.sqrt(np.clip(t, 0, 1)))
        # lung under the dome: the posterior recess, thin and fading
        below = np.clip((Y - dome) / 1.2, 0.0, None)
        recess = np.where(Y < dome, 1.0, 0.28 * np.exp(-below * 1.2 / 20.0))
        lung_s = depth * prof * recess * ((u > 0) & (u < 1) & (Y > top))
        lung += lung_s.astype(np.float32)
        sides[inside] = label
    g["x_dome"] = 0.42 * wid

    # fine lung texture (interstitium): a few per cent of the lung path
    tex = _smooth_noise(rng, shape, 3, 0.8)
    lung *= 1.0 + 0.05 * tex

    # ---------------------------------------------------------------- heart
    thor = 2.0 * wid
    ah = a.ctr * thor / 2.0 / (0.93 + 0.1 * np.sin(a.heart_tilt))  # semi-axes
    bh = ah * 0.80
    hx = 0.22 * ah * 1.6 + a.rotation * 0.5  # centre sits to the patient's left
    hy = g["dome_r"] + 18.0 * (0.6 - a.inspiration) - 0.35 * bh
    heart_geo = {"cx": hx, "cy": hy, "a": ah, "b": bh, "tilt": a.heart_tilt, "hmax": 11.0}
    heart = heart_map(X, Y, heart_geo)

    # ---------------------------------------------------------------- mediastinum
    # upper mediastinum: great vessels; aortic knob to the patient's left; a descending aorta
    yy = Y
    hw = 24.0 + 6.0 * np.clip((yy - (top + 30)) / 80.0, 0, 1)
    knob_y = hy - bh - 35.0
    knob = 16.0 * np.exp(-(((yy - knob_y) / 14.0) ** 2))
    hw_l = hw + knob + 6.0
    hw_r = hw + 4.0 * np.exp(-(((yy - (knob_y + 30)) / 30.0) ** 2))  # SVC, right
    xm = X - a.rotation * 0.3
    half = np.where(xm > 0, hw_l, hw_r)
    medi = 16.0 * np.sqrt(np.clip(1.0 - (xm / half) ** 2, 0.0, 1.0)) ** 0.5
    medi *= (yy > top - 40).astype(np.float32)
    # descending aorta behind the heart, on the patient's left
    aorta = 8.0 * np.sqrt(np.clip(1.0 - ((xm - 26.0) / 14.0) ** 2, 0.0, 1.0))
    aorta = aorta * ((yy > knob_y) & (yy < g["dome_l"] + 20))
    medi = np.maximum(medi, aorta).astype(np.float32)

    # ---------------------------------------------------------------- body outline
    wall = a.wall
    ybody = y[:, None] - a.tilt * X
    aw = wid + wall + 8.0
    # shoulders widen above the apices
    sh = np.clip((top + 30.0 - ybody) / 40.0, 0.0, 1.0)
    aw_y = aw + 55.0 * sh
    body = a.body_depth * np.sqrt(np.clip(1.0 - (X / aw_y) ** 2, 0.0, 1.0)) ** 0.45
    # the neck, above the shoulders
    neck = 12.0 * np.sqrt(np.clip(1.0 - (X / 58.0) ** 2, 0.0, 1.0))
    body = np.maximum(body * (1.0 - 0.35 * sh), neck)
    # abdomen: thicker below the domes
    body += 3.0 * np.clip((ybody - cp) / 40.0, 0.0, 1.0) * (body > 0)
    if a.breast > 0:
        for s in (-1.0, 1.0):
            bx, by = s * (0.62 * wid), cp - 58.0
            ra, rb = 78.0 * a.breast**0.3, 62.0 * a.breast**0.3
            q = ((X - bx) / ra) ** 2 + ((ybody - by) / rb) ** 2
            # fades upwards, sharp lower margin
            up = np.clip((ybody - (by - rb)) / (1.6 * rb), 0.0, 1.0)
            body += (4.5 * a.breast * np.sqrt(np.clip(1.0 - q, 0.0, 1.0)) * up).astype(np.float32)
    # gastric bubble under the patient's left dome
    gx, gy = 0.45 * wid, g["dome_l"] + 18.0 * (0.6 - a.inspiration) + 30.0
    gas = 3.0 * np.sqrt(np.clip(1.0 - ((X - gx) / 32.0) ** 2 - ((ybody - gy) / 16.0) ** 2, 0, 1))
    body = (body - gas).astype(np.float32)

    # ---------------------------------------------------------------- bone
    bone, rib_band = _bones(a, g, x, y, shape, spacing, X, Y)
    rib_mask = rib_band > 0.02

    # ---------------------------------------------------------------- vessels and airways
    vessels = _vessels(a, g, sides, x, y, shape, spacing)
    air_way = _airways(a, g, x, y, shape, spacing, knob_y)
    body = body - air_way
    vessels *= ndimage.gaussian_filter((lung > 0.5).astype(np.float32), 2.0)

    return Phantom(
        anatomy=a,
        shape=shape,
        spacing=spacing,
        body=body.astype(np.float32),
        bone=bone.astype(np.float32),
        lung=lung.astype(np.float32),
        mediastinum=medi.astype(np.float32),
        heart=heart.astype(np.float32),
        vessels=vessels.astype(np.float32),
        sides=sides,
        rib_mask=rib_mask,
        heart_geometry=heart_geo,
        x=x,
        y=y,
    )


def heart_map(X: np.ndarray, Y: np.ndarray, geo: dict[str, float]) -> np.ndarray:
    """Projected thickness (cm) of a tilted ellipsoidal heart."""
    c, s = np.cos(geo["tilt"]), np.sin(geo["tilt"])
    dx, dy = X - geo["cx"], Y - geo["cy"]
    u = (c * dx + s * dy) / geo["a"]
    v = (-s * dx + c * dy) / geo["b"]
    q = 1.0 - u * u - v * v
    return (geo["hmax"] * np.sqrt(np.clip(q, 0.0, 1.0)) ** 0.8).astype(np.float32)


def _side_cols(x: np.ndarray, s: float, origin: float, lo: float, hi: float) -> np.ndarray:
    """Distances from ``origin`` (away from the midline, side ``s``) of the image columns
    lying between ``lo`` and ``hi``: one sample per column."""
    d = s * (x - origin)
    return np.sort(d[(d >= lo) & (d < hi)]).astype(np.float32)


def _bones(a, g, x, y, shape, px, X, Y):
    """Spine, ribs, clavicles, scapulae; returns (bone map, rib-only map)."""
    rng = np.random.default_rng([a.seed, 5])
    bands = _Bands(x, float(y[0] - px / 2), px, shape)
    spine_x = a.shift_x + a.rotation
    top, wid = g["top"], a.width
    # ribs: posterior arcs from the spine, anterior arcs from the lateral wall down medially
    for i in range(12):
        yi = top - 6.0 + i * a.rib_spacing * (0.92 + 0.016 * i) + rng.normal(0, 1.0)
        frac = min(1.0, 0.48 + 0.11 * i) if i < 5 else 1.0 - 0.015 * (i - 5)
        A = (wid + 6.0) * frac  # lateral reach from the spine
        B = 26.0 + 3.6 * min(i, 7) + rng.normal(0, 1.5)
        for s in (-1.0, 1.0):
            xc = 20.0 + 0.05 * A
            yc = yi + B * np.sqrt(1.0 - min((xc - 12.0) / A, 0.9) ** 2) * 0.0 + B
            # posterior arc: upper half of an ellipse centred (xc, yc)
            xp = _side_cols(x, s, spine_x, 12.0, xc + A)
            q = np.clip((xp - xc) / A, -1.0, 0.9999)
            fy = yc - B * np.sqrt(1.0 - q * q) + rng.normal(0, 0.5)
            slope = B * q / (A * np.sqrt(1.0 - q * q))
            cols = np.round((s * xp + spine_x - x[0]) / px).astype(int)
            fy = fy + a.tilt * (s * xp + spine_x)
            half = 5.2 + 0.25 * min(i, 6)
            gain = 1.0 - 0.35 * np.clip((xp - 12.0) / 30.0, 0, 1) * 0  # uniform
            bands.add(cols, fy, slope, half, 1.4, gain)
            # anterior arc, fainter and broader, ends 3-5 cm from the midline
            if i < 10:
                A2, B2 = 0.78 * A, 1.55 * B
                cx2 = xc + A - A2
                xend = max(38.0 + 3.0 * i, cx2 - 0.55 * A2)
                xa = _side_cols(x, s, a.shift_x, xend, cx2 + A2)
                q2 = np.clip((xa - cx2) / A2, -0.999, 0.9999)
                fy2 = yc + B2 * np.sqrt(1.0 - q2 * q2)
                slope2 = -B2 * q2 / (A2 * np.sqrt(1.0 - q2 * q2))
                cols2 = np.round((s * xa + a.shift_x - x[0]) / px).astype(int)
                fy2 = fy2 + a.tilt * (s * xa)
                fade = np.clip((xa - xend) / 25.0, 0.0, 1.0)  # costal cartilage is not seen
                bands.add(cols2, fy2, slope2, 6.5 + 0.2 * min(i, 5), 1.0, 0.55 * fade)
    ribs = bands.render()

    # clavicles: S-shaped, from the sternal notch up to the acromion
    cl = _Bands(x, float(y[0] - px / 2), px, shape)
    for s in (-1.0, 1.0):
        xp = _side_cols(x, s, a.shift_x, 14.0, wid + 34.0)
        tq = (xp - 14.0) / (wid + 20.0)
        fy = top + 8.0 - 28.0 * tq + 7.0 * np.sin(2 * np.pi * tq) + rng.normal(0, 2)
        slope = np.gradient(fy, xp)
        cols = np.round((s * xp + a.shift_x - x[0]) / px).astype(int)
        fy = fy + a.tilt * s * xp
        cl.add(cols, fy, slope, 8.0 - 2.0 * tq, 1.6, 1.1)
    clav = cl.render()

    # spine: vertebral bodies, pedicles, spinous processes, evaluated in a column band
    c0 = max(int((spine_x - 40.0 - x[0]) / px), 0)
    c1 = min(int((spine_x + 40.0 - x[0]) / px) + 1, shape[1])
    sx = x[c0:c1][None, :] - spine_x
    sy = Y[:, c0:c1] if Y.shape[1] == shape[1] else Y
    lvl = (sy - (top - 8.0 - 2 * a.rib_spacing)) / a.rib_spacing
    lvl_f = lvl - np.floor(lvl)  # position within one level: body, then disc
    hwv = 19.0 + 0.25 * np.clip(lvl, 0, 16) ** 1.2  # vertebrae widen downwards
    body_v = np.sqrt(np.clip(1.0 - (sx / hwv) ** 2, 0, 1)) ** 0.5
    body_v *= np.clip(np.minimum(lvl_f, 0.82 - lvl_f) / 0.06, 0.0, 1.0)
    ped_d = np.hypot((np.abs(sx) - 0.72 * hwv) / 4.0, (lvl_f - 0.25) * a.rib_spacing / 5.5)
    ped = np.exp(-((ped_d - 1.0) ** 2) / 0.08) * 0.9
    spin_d = np.hypot(sx / 4.0, (lvl_f - 0.7) * a.rib_spacing / 8.0)
    spin = np.clip(1.0 - spin_d, 0, 1) * 0.8
    spine = np.zeros(shape, np.float32)
    spine[:, c0:c1] = 1.6 * body_v + ped + spin
    # the spine disappears in the neck and fades below the field it was drawn for
    spine[y < top - 60.0] *= 0.6

    # scapulae: thin plates over the upper lateral chest, a dense lateral border
    scap = np.zeros(shape, np.float32)
    for s in (-1.0, 1.0):
        gx = s * (wid + 22.0) + a.shift_x
        gy = top + 14.0
        mx = s * (wid * 0.70) + a.shift_x
        ix = s * (wid * 0.93) + a.shift_x
        iy = top + 118.0
        poly = np.array([[gy, gx], [top - 4.0, mx + s * 10], [iy - 40, mx - s * 2], [iy, ix]])
        rows = (poly[:, 0] - y[0]) / px
        cols = (poly[:, 1] - x[0]) / px
        from skimage.draw import polygon

        rr, cc = polygon(rows, cols, shape)
        plate = np.zeros(shape, np.float32)
        plate[rr, cc] = 1.0
        r0, r1 = max(int(rows.min()) - 10, 0), min(int(rows.max()) + 10, shape[0])
        q0, q1 = max(int(cols.min()) - 10, 0), min(int(cols.max()) + 10, shape[1])
        if r1 > r0 and q1 > q0:
            sub = ndimage.gaussian_filter(plate[r0:r1, q0:q1], 2.5 / px)
            edge = np.clip(sub * (1.0 - sub) * 4.0, 0, 1)
            scap[r0:r1, q0:q1] += 0.25 * sub + 0.35 * edge
    # humeral heads at the top corners
    for s in (-1.0, 1.0):
        hxh, hyh = s * (wid + 58.0) + a.shift_x, top + 2.0
        d = np.hypot(X - hxh, Y - hyh)
        scap += (2.2 * np.sqrt(np.clip(1.0 - (d / 26.0) ** 2, 0, 1))).astype(np.float32)

    bone = ribs + clav + spine + scap
    return bone, ribs


def _vessels(a, g, sides, x, y, shape, px):
    """The pulmonary vessel trees from both hila, tapering towards the periphery."""
    rng = np.random.default_rng([a.vessel_seed, 3])
    x0, y0 = float(x[0] - px / 2), float(y[0] - px / 2)

    def inside_fn(lbl):
        def inside(xe, ye):
            c = np.round((xe - x0) / px).astype(int)
            r = np.round((ye - y0) / px).astype(int)
            ok = (c >= 0) & (c < shape[1]) & (r >= 0) & (r < shape[0])
            res = np.zeros(c.shape, bool)
            res[ok] = sides[r[ok], c[ok]] == lbl
            return res

        return inside

    segs = []
    for s, lbl in ((-1.0, 1), (1.0, 2)):
        hy = g["top"] + 0.45 * (g["cp"] - g["top"]) - (8.0 if s > 0 else 0.0)
        hx = s * (40.0 + 0.05 * a.width) + a.shift_x
        # (angle from the lateral horizontal, downwards positive), radius, length
        trunks = [
            (-1.15, 3.6, 30.0),
            (-0.5, 3.0, 30.0),
            (0.25, 3.2, 30.0),
            (0.85, 4.0, 32.0),
            (1.3, 3.6, 30.0),
        ]
        for ang, r, ln in trunks:
            ang = ang + rng.normal(0, 0.1)
            theta = ang if s > 0 else np.pi - ang
            start = (hx + s * rng.uniform(-4, 4), hy + rng.uniform(-6, 6))
            segs += _vessel_tree(
                rng, start, float(theta), r * rng.uniform(0.9, 1.1), ln, inside_fn(lbl), 9
            )
    arr = np.array(segs, np.float32).reshape(-1, 6)
    return _capsules(shape, x0, y0, px, arr)


def _airways(a, g, x, y, shape, px, knob_y):
    """Trachea and main bronchi: air columns inside the mediastinum (cm of air)."""
    x0, y0 = float(x[0] - px / 2), float(y[0] - px / 2)
    cx = a.shift_x + 0.3 * a.rotation
    carina = knob_y + 30.0
    segs = [
        (cx, float(y[0]) - 20.0, cx + 2.0, carina, 8.0, 7.5),
        (cx + 2.0, carina, cx - 32.0, carina + 26.0, 6.0, 4.5),
        (cx + 2.0, carina, cx + 38.0, carina + 36.0, 5.5, 4.0),
    ]
    return 0.6 * _capsules(shape, x0, y0, px, np.array(segs, np.float32))
