"""The GAN method: the conditional generator applied in a window around each condition.

Windowing (shared by training and inference, so that both see the same thing):

* The window is a square around the lesion's mask, side ``S = max(W, 1.5 x the mask's larger
  side + 2 x context)`` pixels of the image, where ``W`` is the network's window (64 px for the
  shipped model, 128 by default in training). Small lesions (nodules, most masses) are seen at
  the image's own resolution; big ones (effusion, pneumothorax, cardiomegaly, large
  consolidations) get a window sized to the lesion plus its surroundings, area-downsampled to
  ``W``: the coarse context those need.
* The condition maps are drawn by the one renderer directly on the ``W`` grid (spacing scaled
  by ``S / W``). The image window is normalised by the whole image's contrast range.
* The generator's residual is multiplied by a feathered mask (the lesion's mask dilated by
  ``FEATHER_MM`` and smoothed), upsampled to ``S``, multiplied by the written mask's feather at
  the image's own resolution, and added: beyond ``FEATHER_MM`` of the written mask the image is
  left exactly as it was, as in the simulator. (The coarse feather alone reached two or three
  coarse pixels and the soft mask's tail past the mask, up to 15 mm on a big window, and the
  mask is what users train segmentation on.) The cost is one ``W x W`` network pass per
  condition, whatever the image size.
* Upsampling: bilinear, except for the pathologies in :data:`GUIDED_UPSAMPLING`. An effusion
  or an enlarged heart effaces edges the image had (the dome, the old heart border: the
  silhouette sign); a residual computed on the coarse grid can only cancel a blurred copy of
  such an edge, and bilinear upsampling leaves a thin dark rim where the sharp edge was. For
  those, the residual is upsampled with a fast guided filter (He and Sun 2015) with the image
  window as guide: locally the residual is a linear function of the image, fitted on the coarse
  grid and applied at full resolution, so edges it cancels are cancelled sharply.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from napari_xray_synth.core.conditions import PATHOLOGIES, Condition, render_soft_mask
from napari_xray_synth.core.device import pick_device
from napari_xray_synth.core.errors import ModelError
from napari_xray_synth.core.models import LoadedModel, load_model
from napari_xray_synth.core.synth_window import (
    Box,
    condition_box,
    local_condition,
    soft_mask_in_box,
)

#: The mask is dilated by this much (mm) before feathering; the residual is zero beyond.
FEATHER_MM = 3.0
#: Context (mm) kept around the lesion's mask on each side of the window.
CONTEXT_MM = 8.0
#: Pathologies whose residual is upsampled with the guided filter (see the module docstring);
#: chosen on 36 validation chests (simulator seeds 800000..), not on the evaluation set: for
#: effusion it gave +4.2 dB PSNR in the mask (SSIM 0.90 -> 0.95), for cardiomegaly SSIM
#: 0.946 -> 0.964 (PSNR -0.6 dB) and the dark rim along the old heart border gone; for the other
#: pathologies it lost SSIM, so they keep bilinear upsampling.
GUIDED_UPSAMPLING = frozenset({"effusion", "cardiomegaly"})
#: Guided filter: box radius on the network's grid, and regularisation as a share of the
#: image's contrast range.
GUIDED_RADIUS = 1
GUIDED_EPS = 0.02


@dataclass(frozen=True)
class Window:
    """A condition's window: where it sits in the image and what the network sees."""

    r0: int
    c0: int
    side: int  # S, in image pixels (may run past the image: padded by reflection)
    size: int  # W, the network's grid
    image: np.ndarray  # (W, W) float32, the image resampled
    maps: np.ndarray  # (C, W, W) condition maps on the W grid
    feather: np.ndarray  # (W, W) in [0, 1]
    feather_full: np.ndarray | None = None  # (S, S), the feather at the image's resolution

    def box(self, shape: tuple[int, int]) -> tuple[slice, slice]:
        """The part of the window inside an image of ``shape`` (rows, cols)."""
        return (
            slice(max(self.r0, 0), min(self.r0 + self.side, shape[0])),
            slice(max(self.c0, 0), min(self.c0 + self.side, shape[1])),
        )


def _resample(a: np.ndarray, size: int) -> np.ndarray:
    """Area-average (down) or bilinear (up) resampling of a 2-D array to ``size x size``."""
    if a.shape == (size, size):
        return a.astype(np.float32)
    t = torch.from_numpy(np.ascontiguousarray(a, np.float32))[None, None]
    mode = "area" if a.shape[0] > size else "bilinear"
    kw: dict[str, Any] = {} if mode == "area" else {"align_corners": False}
    return torch.nn.functional.interpolate(t, size=(size, size), mode=mode, **kw)[0, 0].numpy()


def _crop_padded(image: np.ndarray, r0: int, c0: int, side: int) -> np.ndarray:
    """``image[r0:r0+side, c0:c0+side]``, reflected where the square runs past the image."""
    h, w = image.shape
    rows = np.clip(np.arange(r0, r0 + side), -(h - 1), 2 * (h - 1))
    cols = np.clip(np.arange(c0, c0 + side), -(w - 1), 2 * (w - 1))
    rows = np.where(rows < 0, -rows, np.where(rows >= h, 2 * (h - 1) - rows, rows))
    cols = np.where(cols < 0, -cols, np.where(cols >= w, 2 * (w - 1) - cols, cols))
    if 0 <= r0 and r0 + side <= h and 0 <= c0 and c0 + side <= w:
        return image[r0 : r0 + side, c0 : c0 + side]
    return image[np.ix_(rows, cols)]


def feather_mask(soft: np.ndarray, px: float, threshold: float = 0.02) -> np.ndarray:
    """The lesion's mask dilated by :data:`FEATHER_MM` and smoothed: 1 inside, 0 beyond.

    The mask is ``soft > threshold``: the soft mask's tail on the network's grid, the written
    mask (0.5) at the image's resolution.
    """
    grow = max(FEATHER_MM / px, 2.0)
    core = soft > threshold
    if not core.any():
        return np.zeros(soft.shape, np.float32)
    dist = ndimage.distance_transform_edt(~core)
    # a ramp from 1 at the mask to 0 at ``grow`` pixels out
    return np.clip(1.0 - dist / grow, 0.0, 1.0).astype(np.float32) ** 0.5


def make_window(
    image: np.ndarray,
    cond: Condition,
    px: float,
    size: int = 128,
    region: np.ndarray | None = None,
) -> Window:
    """The window of ``cond`` in ``image`` (see the module docstring)."""
    shape = image.shape
    box = condition_box(cond, shape, px)
    soft = soft_mask_in_box(cond, box, shape, px, region)
    rows, cols = np.nonzero(soft > 0.05)
    if rows.size:
        rmin, rmax = rows.min() + box.r0, rows.max() + box.r0
        cmin, cmax = cols.min() + box.c0, cols.max() + box.c0
    else:
        rmin = rmax = int(cond.center[0])
        cmin = cmax = int(cond.center[1])
    extent = max(rmax - rmin + 1, cmax - cmin + 1)
    side = int(max(size, np.ceil(1.5 * extent + 2 * CONTEXT_MM / px)))
    rc, cc = (rmin + rmax) / 2, (cmin + cmax) / 2
    # the renderer needs the centre inside the window: a pneumothorax clicked on the chest wall
    # has its rim (the lung's edge) well away from it
    side = max(side, int(np.ceil(2 * max(abs(cond.center[0] - rc), abs(cond.center[1] - cc)) + 2)))
    side += side % 2
    r0, c0 = round(rc - side / 2), round(cc - side / 2)
    # keep the square inside the image where it fits
    r0 = min(max(r0, 0), max(shape[0] - side, 0)) if side <= shape[0] else r0
    c0 = min(max(c0, 0), max(shape[1] - side, 0)) if side <= shape[1] else c0
    crop = _crop_padded(image, r0, c0, side)
    # the mask is drawn at the image's own resolution (the renderer's irregular outlines are
    # not scale-free), then area-averaged onto the network's grid
    local = local_condition(cond, Box(r0, r0 + side, c0, c0 + side), shape)
    reg = None if region is None else _crop_padded(region.astype(np.float32), r0, c0, side) > 0.5
    soft = render_soft_mask(local, (side, side), px, reg)
    soft_w = _resample(soft, size)
    maps = np.zeros((len(PATHOLOGIES), size, size), np.float32)
    maps[PATHOLOGIES.index(cond.pathology)] = soft_w * float(cond.severity)
    feather = feather_mask(soft_w, px * side / size)
    # the simulator's lesions change nothing beyond 3 mm of their written mask (3.7 mm at most
    # on 24 held-out chests); the residual is held to that at the image's resolution
    full = feather_mask(soft, px, 0.5) if side != size else None
    return Window(r0, c0, side, size, _resample(crop, size), maps, feather, full)


def normalise(win_image: np.ndarray, scale: float) -> tuple[np.ndarray, float]:
    """Network input from a window: centred on its median, 2 / contrast range per unit."""
    mid = float(np.median(win_image))
    return (win_image - mid) * (2.0 / scale), mid


def _box(a: np.ndarray, radius: int) -> np.ndarray:
    return ndimage.uniform_filter(a, 2 * radius + 1, mode="reflect")


def guided_upsample(
    guide_low: np.ndarray,
    src_low: np.ndarray,
    guide_high: np.ndarray,
    radius: int = GUIDED_RADIUS,
    eps: float | None = None,
    a_range: tuple[float, float] = (-1.0, 0.0),
) -> np.ndarray:
    """Upsample ``src_low`` to ``guide_high``'s grid with a fast guided filter.

    ``src`` is modelled in each ``(2 radius + 1)``-pixel box of the coarse grid as
    ``a * guide + b`` (least squares, ``eps`` keeps ``a`` small where the guide is flat; by
    default :data:`GUIDED_EPS` of the guide's range, squared; ``a`` clipped to ``a_range``);
    ``a`` and ``b`` are averaged, upsampled bilinearly and applied to the full-resolution guide.
    """
    if guide_high.shape[0] != guide_high.shape[1]:
        raise ValueError("the guide must be square (a GAN window)")
    g = guide_low.astype(np.float64)
    p = src_low.astype(np.float64)
    if eps is None:  # GUIDED_EPS of the window's own contrast range
        eps = (GUIDED_EPS * float(np.ptp(guide_high))) ** 2 + 1e-12
    mg, mp = _box(g, radius), _box(p, radius)
    var = _box(g * g, radius) - mg * mg
    a = (_box(g * p, radius) - mg * mp) / (np.maximum(var, 0.0) + eps)
    # a lesion can efface the image's structure (a = -1) or leave it (a = 0); a > 0 would
    # copy it, amplified, into the lesion (lung markings inside a heart)
    a = np.clip(a, a_range[0], a_range[1])
    b = mp - a * mg
    side = guide_high.shape[0]
    a_up = _resample(_box(a, radius).astype(np.float32), side)
    b_up = _resample(_box(b, radius).astype(np.float32), side)
    return a_up * guide_high.astype(np.float32) + b_up


def paste(
    image: np.ndarray,
    win: Window,
    residual: np.ndarray,
    scale: float,
    guided: bool = False,
) -> np.ndarray:
    """Add a window's residual (network units, ``W x W``) to ``image`` inside the feather.

    ``guided``: upsample with :func:`guided_upsample` (image window as guide) instead of
    bilinearly; either way nothing changes beyond the feathered mask at the image's resolution.
    """
    delta = residual * win.feather * (scale / 2.0)
    if win.side != win.size:
        if guided:
            crop = _crop_padded(image, win.r0, win.c0, win.side)
            eps = (GUIDED_EPS * scale) ** 2
            delta = guided_upsample(win.image, delta, crop, GUIDED_RADIUS, eps)
        else:
            delta = _resample(delta, win.side)
        full = win.feather_full
        delta *= _resample(win.feather, win.side) if full is None else full
    rows, cols = win.box(image.shape)
    out = image.copy()
    out[rows, cols] += delta[
        rows.start - win.r0 : rows.stop - win.r0, cols.start - win.c0 : cols.stop - win.c0
    ]
    return np.clip(out, 0.0, 1.0)


@lru_cache(maxsize=4)
def _load_cached(name: str, device: str, sha_key: float) -> LoadedModel:
    return load_model(name, device)


class GanEngine:
    """A loaded generator applied window by window."""

    def __init__(self, loaded: LoadedModel, device: torch.device) -> None:
        self.loaded = loaded
        self.device = device
        self.module = loaded.module
        self.size = int(loaded.card.get("window", 128))

    @classmethod
    def load(cls, model: str, device: str = "auto") -> GanEngine:
        """Load (once per process) the generator ``model`` on ``device``."""
        from napari_xray_synth.core.models import find_model

        dev = pick_device(device)
        try:
            weights, _ = find_model(model)
        except ModelError as exc:
            if "xray-synth train" in str(exc):
                raise
            stem = Path(model).with_suffix("").name
            raise ModelError(
                f"{exc}; train it with: xray-synth train gan --data sim --out models/{stem}"
            ) from exc
        return cls(_load_cached(str(model), str(dev), weights.stat().st_mtime), dev)

    @property
    def model_id(self) -> str:
        """The model's name."""
        return str(self.loaded.card.get("name", self.loaded.name))

    @property
    def sha256(self) -> str:
        """sha256 of the weights."""
        return self.loaded.sha256

    def parameters(self) -> dict[str, Any]:
        """Provenance parameters of the method."""
        return {
            "window_px": self.size,
            "feather_mm": FEATHER_MM,
            "context_mm": CONTEXT_MM,
            "guided_upsampling": sorted(GUIDED_UPSAMPLING),
        }

    @torch.no_grad()
    def apply(
        self,
        image: np.ndarray,
        cond: Condition,
        px: float,
        scale: float,
        rng: np.random.Generator,
        region: np.ndarray | None = None,
        window: Window | None = None,
    ) -> np.ndarray:
        """Put ``cond`` into ``image`` with the generator; noise from ``rng``.

        ``window``: the condition's window made earlier (on any image of this shape): its
        geometry and maps are reused, its pixels are cut again from ``image``.
        """
        if window is None:
            win = make_window(image, cond, px, self.size, region)
        else:
            crop = _crop_padded(image, window.r0, window.c0, window.side)
            win = dataclasses.replace(window, image=_resample(crop, self.size))
        x, _ = normalise(win.image, scale)
        noise = rng.standard_normal((1, 1, self.size, self.size)).astype(np.float32)
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, np.float32)).to(self.device)  # noqa: E731
        res = self.module(t(x[None, None]), t(win.maps[None]), t(noise))
        guided = cond.pathology in GUIDED_UPSAMPLING
        return paste(image, win, res[0, 0].float().cpu().numpy(), scale, guided)
