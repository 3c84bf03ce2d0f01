"""Enhance radiographs in torch (same device logic as the denoiser): window, CLAHE, detail, gamma.

Steps run in a fixed order, each only when asked for, and each records its parameters in the
provenance step "enhance":

1. ``window``: a display preset (the radiograph's own by name, or (center, width)) mapped to
   [0, 1];
2. ``clahe``: contrast-limited adaptive histogram equalisation at full bit depth
   (:mod:`core.clahe`, 4096 bins);
3. ``unsharp``: unsharp mask ``x + amount·(x − G_σ * x)``;
4. ``detail``: multi-scale detail enhancement: the Laplacian pyramid's band-pass levels are
   multiplied by gains (fine first) and the pyramid is collapsed;
5. ``gamma``: ``x ** gamma``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from napari_xray_synth.core.clahe import clahe as _clahe
from napari_xray_synth.core.device import pick_device
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report
from napari_xray_synth.core.radiograph import Provenance, Radiograph, Window


def _gauss_kernel(sigma: float, device: torch.device) -> torch.Tensor:
    r = max(int(np.ceil(3 * sigma)), 1)
    t = torch.arange(-r, r + 1, dtype=torch.float32, device=device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a (H, W) tensor, edges replicated."""
    k = _gauss_kernel(sigma, x.device)
    r = (k.numel() - 1) // 2
    y = x[None, None]
    y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    return y[0, 0]


def unsharp_mask(x: torch.Tensor, amount: float, radius: float = 2.0) -> torch.Tensor:
    """``x + amount·(x − blur(x))`` clipped to [0, 1]; ``radius`` is the blur sigma in pixels."""
    return (x + amount * (x - gaussian_blur(x, radius))).clamp(0, 1)


def detail_enhance(x: torch.Tensor, gains: Sequence[float]) -> torch.Tensor:
    """Multi-scale detail enhancement: Laplacian pyramid band ``i`` multiplied by ``gains[i]``."""
    levels = []
    cur = x[None, None]
    for _ in gains:
        if min(cur.shape[-2:]) < 2:
            break
        low = F.avg_pool2d(gaussian_blur(cur[0, 0], 1.0)[None, None], 2, ceil_mode=True)
        up = F.interpolate(low, size=cur.shape[-2:], mode="bilinear", align_corners=False)
        levels.append(cur - up)
        cur = low
    for band, g in zip(reversed(levels), reversed(list(gains)[: len(levels)]), strict=True):
        cur = F.interpolate(cur, size=band.shape[-2:], mode="bilinear", align_corners=False)
        cur = cur + g * band
    return cur[0, 0].clamp(0, 1)


def _window(rg: Radiograph, window: str | Window | tuple[float, float]) -> Window:
    if isinstance(window, Window):
        return window
    if isinstance(window, str):
        for w in rg.windows:
            if w.name.lower() == window.lower():
                return w
        names = ", ".join(w.name for w in rg.windows) or "none"
        raise InputError(f"no window preset {window!r} (this image has: {names})")
    center, width = (float(v) for v in window)
    if not width > 0:
        raise InputError(f"a window needs a positive width, not {width}")
    return Window(center, width, "custom")


def enhance(
    rg: Radiograph,
    clahe: float | None = None,
    unsharp: float | None = None,
    gamma: float | None = None,
    window: str | Window | tuple[float, float] | None = None,
    detail: Sequence[float] | None = None,
    unsharp_radius: float = 2.0,
    clahe_kernel: int | None = None,
    clahe_bins: int = 4096,
    device: str | torch.device = "auto",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Radiograph:
    """Enhance one radiograph; each step only when its parameter is given.

    Parameters
    ----------
    rg : Radiograph
        The input (never modified).
    clahe : float, optional
        CLAHE clip limit (scikit-image's normalised convention; 0 = no limit).
    unsharp : float, optional
        Unsharp-mask amount (0.5–2 typical); ``unsharp_radius`` is its blur sigma in pixels.
    gamma : float, optional
        Output ``x ** gamma`` (< 1 brightens).
    window : str, Window or (center, width), optional
        Apply a display window first (a preset name of the image, or image units).
    detail : sequence of float, optional
        Laplacian-pyramid gains, finest band first (e.g. ``(1.5, 1.3, 1.1)``).
    clahe_kernel : int, optional
        CLAHE region size (default 1/8 of the image).
    clahe_bins : int
        CLAHE histogram bins.
    device : str
        "auto", "cpu", "cuda" or "mps".
    progress, cancel
        Progress callback and cancel token (checked between steps).

    Returns
    -------
    Radiograph
        New pixels; provenance step "enhance" lists every step and its parameters.
    """
    img = rg.image
    if img.size == 0 or not np.all(np.isfinite(img)):
        raise InputError("the image is empty or holds NaN or infinite values", rg.source)
    if gamma is not None and not (np.isfinite(gamma) and gamma > 0):
        raise InputError(f"gamma must be a positive number, not {gamma}")
    if clahe is not None and not (np.isfinite(clahe) and clahe >= 0):
        raise InputError(f"the CLAHE clip limit must be >= 0, not {clahe}")
    if unsharp is not None and not np.isfinite(unsharp):
        raise InputError(f"the unsharp amount must be a number, not {unsharp}")
    dev = pick_device(device)
    steps: list[dict[str, Any]] = []
    total = sum(v is not None for v in (window, clahe, unsharp, detail, gamma))
    done = 0
    report(progress, 0, max(total, 1))
    x = torch.as_tensor(np.clip(img, 0, 1), device=dev)
    windows = None
    if window is not None:
        w = _window(rg, window)
        x = torch.as_tensor(w.apply(x.cpu().numpy()), device=dev)
        steps.append({"step": "window", **w.to_dict()})
        windows = ()  # the window is applied: the result is shown at full range
        done += 1
        report(progress, done, total)
    if clahe is not None:
        check_cancel(cancel)
        out = _clahe(
            x, clip_limit=float(clahe), kernel_size=clahe_kernel, nbins=clahe_bins, device=dev
        )
        x = torch.as_tensor(out, device=dev)
        steps.append(
            {
                "step": "clahe",
                "clip_limit": float(clahe),
                "kernel_size": clahe_kernel or "1/8 image",
                "nbins": int(clahe_bins),
            }
        )
        windows = ()
        done += 1
        report(progress, done, total)
    if unsharp is not None:
        check_cancel(cancel)
        x = unsharp_mask(x, float(unsharp), float(unsharp_radius))
        steps.append({"step": "unsharp", "amount": float(unsharp), "radius": float(unsharp_radius)})
        done += 1
        report(progress, done, total)
    if detail is not None:
        check_cancel(cancel)
        gains = [float(g) for g in detail]
        x = detail_enhance(x, gains)
        steps.append({"step": "detail", "gains": gains})
        done += 1
        report(progress, done, total)
    if gamma is not None:
        check_cancel(cancel)
        x = x.clamp(0, 1) ** float(gamma)
        steps.append({"step": "gamma", "gamma": float(gamma)})
        windows = ()
        done += 1
        report(progress, done, total)
    out = x.cpu().numpy().astype(np.float32)
    step = Provenance("enhance", {"steps": steps, "device": str(dev)})
    return rg.derive(out, step, windows=windows)
