"""CLAHE in torch at the image's full bit depth.

Contrast-limited adaptive histogram equalisation (Zuiderveld 1994), written for float images:
histograms of ``nbins`` bins (4096 by default, not 256) over contextual regions, clipped at
``clip_limit`` with the excess spread evenly over all bins, and mapped through each region's
CDF. Within a bin the CDF is linear, so a pixel keeps its sub-bin position (no quantisation of
the output to ``nbins`` levels). Each pixel blends the mappings of its four nearest regions
bilinearly. The region layout follows scikit-image's ``equalize_adapthist`` (regions of
``kernel_size``, default 1/8 of the image, centred half a region in), so that the two agree.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from napari_xray_synth.core.errors import InputError


def _pad(x: torch.Tensor, pads: tuple[int, int, int, int]) -> torch.Tensor:
    left, right, top, bottom = pads
    h, w = x.shape[-2:]
    mode = "reflect" if max(top, bottom) < h and max(left, right) < w else "replicate"
    return F.pad(x[None, None], pads, mode=mode)[0, 0]


def clahe(
    image: np.ndarray | torch.Tensor,
    clip_limit: float = 0.01,
    kernel_size: int | tuple[int, int] | None = None,
    nbins: int = 4096,
    device: torch.device | str = "cpu",
    rescale: bool = True,
    within_bin: bool = True,
) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of a float image in [0, 1].

    Parameters
    ----------
    image : ndarray or Tensor
        2-D image in [0, 1].
    clip_limit : float
        Normalised clip limit as in scikit-image (fraction of a region's pixels one bin may hold);
        0 means no limit (plain adaptive equalisation).
    kernel_size : int or (int, int), optional
        Contextual region size in pixels; default 1/8 of each side.
    nbins : int
        Histogram bins.
    device : torch.device or str
        Where to compute.
    rescale : bool
        Stretch the result to [0, 1] (as scikit-image does).
    within_bin : bool
        Read the CDF linearly inside a bin (keeps sub-bin levels). False maps a whole bin to its
        inclusive CDF, as scikit-image does (used to compare with it).

    Returns
    -------
    ndarray
        float32 image of the same shape.
    """
    x = torch.as_tensor(np.asarray(image, dtype=np.float32), device=device).clamp(0, 1)
    if x.ndim != 2:
        raise InputError(f"CLAHE needs a 2-D image, got shape {tuple(x.shape)}")
    h, w = x.shape
    if kernel_size is None:
        kernel_size = (max(h // 8, 1), max(w // 8, 1))
    elif isinstance(kernel_size, int | np.integer):
        kernel_size = (int(kernel_size), int(kernel_size))
    kh, kw = (max(int(k), 1) for k in kernel_size)
    nbins = max(int(nbins), 2)

    # pad: half a region before, up to a multiple plus half a region after (as scikit-image)
    pt, pl = kh // 2, kw // 2
    pb = (kh - h % kh) % kh + (kh + 1) // 2
    pr = (kw - w % kw) % kw + (kw + 1) // 2
    xp = _pad(x, (pl, pr, pt, pb))
    hp, wp = xp.shape
    pos = xp * nbins
    b = pos.long().clamp_(0, nbins - 1)
    frac = (pos - b).clamp_(0, 1)

    # histograms of the contextual regions (offset by half a region)
    nh, nw = hp // kh - 1, wp // kw - 1
    bins = b[pt : pt + nh * kh, pl : pl + nw * kw]
    bins = bins.reshape(nh, kh, nw, kw).permute(0, 2, 1, 3).reshape(nh * nw, kh * kw)
    offs = torch.arange(nh * nw, device=x.device)[:, None] * nbins
    hist = torch.bincount((bins + offs).ravel(), minlength=nh * nw * nbins)
    hist = hist.reshape(nh * nw, nbins).to(torch.float64)
    n = float(kh * kw)
    if clip_limit > 0:
        clim = max(float(int(clip_limit * n)), 1.0)
        for _ in range(4):  # clip, spread the excess evenly, repeat while bins overflow
            excess = (hist - clim).clamp_min(0).sum(1, keepdim=True)
            hist = hist.clamp_max(clim) + excess / nbins
            if float(excess.max()) < 1e-3:
                break
    cdf_excl = torch.cumsum(hist, 1) - hist  # counts below each bin
    maps = torch.stack([cdf_excl / n, hist / n], -1).reshape(nh, nw, nbins, 2)
    maps = F.pad(maps.permute(3, 2, 0, 1), (1, 1, 1, 1), mode="replicate")  # (2, nbins, nh+2, nw+2)
    maps = maps.permute(2, 3, 1, 0).reshape(-1, 2).to(torch.float32)

    # each pixel blends the maps of its four neighbouring regions bilinearly
    rows = torch.arange(hp, device=x.device)
    cols = torch.arange(wp, device=x.device)
    ri, ci = rows // kh, cols // kw
    ru, cu = (rows % kh).float() / kh, (cols % kw).float() / kw
    out = torch.zeros_like(xp)
    ncols = nw + 2
    chunk = max(1, (1 << 22) // wp)
    for r0 in range(0, hp, chunk):
        r1 = min(hp, r0 + chunk)
        bb, ff = b[r0:r1], frac[r0:r1]
        acc = torch.zeros_like(ff)
        for dr in (0, 1):
            wr = (ru[r0:r1] if dr else 1 - ru[r0:r1])[:, None]
            for dc in (0, 1):
                wc = (cu if dc else 1 - cu)[None, :]
                region = (ri[r0:r1, None] + dr) * ncols + (ci[None, :] + dc)
                m = maps[region * nbins + bb]
                acc += wr * wc * (m[..., 0] + (ff if within_bin else 1.0) * m[..., 1])
        out[r0:r1] = acc
    out = out[pt : pt + h, pl : pl + w]
    if rescale:
        lo, hi = out.min(), out.max()
        out = (out - lo) / (hi - lo) if float(hi - lo) > 0 else out
    return out.cpu().numpy().astype(np.float32)
