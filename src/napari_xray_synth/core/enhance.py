"""Enhance radiographs in torch (same device logic as the denoiser): window, CLAHE, detail, gamma.

Steps run in a fixed order, each only when asked for with a value that changes the image (a
CLAHE clip or unsharp amount of 0, detail gains all 1 and a gamma of 1 are off), and each records
its parameters in the provenance step "enhance":

1. ``window``: a display preset (the radiograph's own by name, or (center, width)) mapped to
   [0, 1];
2. ``clahe``: contrast-limited adaptive histogram equalisation at full bit depth
   (:mod:`core.clahe`, 4096 bins);
3. ``unsharp``: unsharp mask ``x + amount·(x − G_σ * x)``;
4. ``detail``: multi-scale detail enhancement: the Laplacian pyramid's band-pass levels are
   multiplied by gains (fine first) and the pyramid is collapsed;
5. ``gamma``: ``x ** gamma``.

The valid range of each number is defined here once (:data:`RANGES`) and checked by
:func:`check_enhance`, which the CLI calls too (naming its options) and the widget reads for
its boxes. At least one step that changes the image must be chosen: an "enhancement" that
changes nothing (no step, or ``gamma=1`` alone) is refused.
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
from napari_xray_synth.core.ranges import ParamRange

# valid ranges, and the value of each step that leaves the image as it is (that step is then
# skipped). A clip limit of 1 already never clips (a bin cannot hold more than the region): it
# is "no limit"; towards 0 the histograms flatten and CLAHE tends to the identity, so 0 is off
CLAHE_CLIP = ParamRange(
    0.0,
    1.0,
    0.01,
    "CLAHE clip limit: the fraction of a region one histogram bin may hold; 0 = off, 1 = no limit",
    identity=0.0,
)
UNSHARP_AMOUNT = ParamRange(0.0, 5.0, 1.0, "unsharp-mask amount, 0 = off", identity=0.0)
UNSHARP_RADIUS = ParamRange(0.1, 50.0, 2.0, "unsharp blur sigma in pixels")
DETAIL_GAIN = ParamRange(
    0.0, 5.0, 1.0, "gain of a Laplacian-pyramid band, 1 = unchanged", identity=1.0
)
GAMMA = ParamRange(0.1, 10.0, 1.0, "output x ** gamma, < 1 brightens, 1 = off", identity=1.0)
RANGES: dict[str, ParamRange] = {
    "clahe": CLAHE_CLIP,
    "unsharp": UNSHARP_AMOUNT,
    "unsharp_radius": UNSHARP_RADIUS,
    "detail": DETAIL_GAIN,
    "gamma": GAMMA,
}
STEPS = ("window", "clahe", "unsharp", "detail", "gamma")


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


def check_enhance(
    *,
    clahe: float | None = None,
    unsharp: float | None = None,
    unsharp_radius: float = 2.0,
    detail: Sequence[float] | None = None,
    gamma: float | None = None,
    window: object = None,
    as_options: bool = False,
) -> None:
    """Refuse an enhancement that does nothing or a number outside its range (:data:`RANGES`).

    Parameters
    ----------
    clahe, unsharp, unsharp_radius, detail, gamma, window
        As for :func:`enhance`.
    as_options : bool
        Name the parameters as the CLI's options (``--unsharp-radius``), not as Python's.

    Raises
    ------
    InputError
        One line naming the parameter, the value and the allowed range, or saying that no step
        was chosen.
    """

    def name(key: str) -> str:
        return "--" + key.replace("_", "-") if as_options else key

    given = dict(zip(STEPS, (window, clahe, unsharp, detail, gamma), strict=True))
    steps = ", ".join(name(k) for k in ("clahe", "unsharp", "detail", "gamma", "window"))
    if all(v is None for v in given.values()):
        raise InputError(f"no enhancement step was chosen (give one or more of {steps})")
    for key in ("clahe", "unsharp", "gamma"):
        if given[key] is not None:
            RANGES[key].check(given[key], name(key))  # type: ignore[arg-type]
    if unsharp is not None:
        UNSHARP_RADIUS.check(unsharp_radius, name("unsharp_radius"))
    if detail is not None:
        if len(detail) == 0:
            raise InputError(f"{name('detail')} needs at least one gain")
        for g in detail:
            DETAIL_GAIN.check(g, name("detail"))
    if not active_steps(window=window, clahe=clahe, unsharp=unsharp, detail=detail, gamma=gamma):
        # only identity values (a gamma of 1): the result would be an identical copy
        said = [
            f"{name(k)} {' '.join(f'{float(v):g}' for v in np.atleast_1d(given[k]))}"  # type: ignore[arg-type]
            for k in ("clahe", "unsharp", "detail", "gamma")
            if given[k] is not None
        ]
        raise InputError(
            f"no enhancement step would change the image: {' and '.join(said)} "
            f"leave{'s' if len(said) == 1 else ''} it as it is (give one or more of {steps} "
            "with a value that changes it)"
        )


def active_steps(
    *,
    window: object = None,
    clahe: float | None = None,
    unsharp: float | None = None,
    detail: Sequence[float] | None = None,
    gamma: float | None = None,
) -> list[str]:
    """The steps that change the image: given, and not at their identity (a gamma of 1).

    A CLAHE clip of 0 is off, an unsharp amount of 0 adds nothing, detail gains all 1 keep every
    band and a gamma of 1 is ``x ** 1``; those steps are skipped.
    """
    out = ["window"] if window is not None else []
    for key, value in (("clahe", clahe), ("unsharp", unsharp), ("gamma", gamma)):
        if value is not None and not RANGES[key].is_identity(value):
            out.append(key)
    if detail is not None and not all(DETAIL_GAIN.is_identity(g) for g in detail):
        out.append("detail")
    return [k for k in STEPS if k in out]


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
    """Enhance one radiograph; each step only when its parameter is given and not off.

    Parameters
    ----------
    rg : Radiograph
        The input (never modified).
    clahe : float, optional
        CLAHE clip limit, 0 to 1 (scikit-image's normalised convention): 0 = off, 1 = no limit
        (a bin never holds more than its region). :func:`core.clahe.clahe` itself keeps
        scikit-image's meaning of 0 (no limit); here 0 is off, as in the widget.
    unsharp : float, optional
        Unsharp-mask amount, 0 to 5 (0.5–2 typical); ``unsharp_radius`` is its blur sigma in
        pixels, 0.1 to 50.
    gamma : float, optional
        Output ``x ** gamma``, 0.1 to 10 (< 1 brightens).
    window : str, Window or (center, width), optional
        Apply a display window first (a preset name of the image, or image units).
    detail : sequence of float, optional
        Laplacian-pyramid gains, finest band first, each 0 to 5 (e.g. ``(1.5, 1.3, 1.1)``).
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

    Raises
    ------
    InputError
        No step chosen, a number outside its range (:data:`RANGES`), a bad image or window.
    """
    check_enhance(
        clahe=clahe,
        unsharp=unsharp,
        unsharp_radius=unsharp_radius,
        detail=detail,
        gamma=gamma,
        window=window,
    )
    img = rg.image
    if img.size == 0 or not np.all(np.isfinite(img)):
        raise InputError("the image is empty or holds NaN or infinite values", rg.source)
    dev = pick_device(device)
    steps: list[dict[str, Any]] = []
    run = active_steps(window=window, clahe=clahe, unsharp=unsharp, detail=detail, gamma=gamma)
    total = len(run)
    done = 0
    report(progress, 0, max(total, 1))
    x = torch.as_tensor(np.clip(img, 0, 1), device=dev)
    windows = None
    if "window" in run:
        w = _window(rg, window)
        x = torch.as_tensor(w.apply(x.cpu().numpy()), device=dev)
        steps.append({"step": "window", **w.to_dict()})
        windows = ()  # the window is applied: the result is shown at full range
        done += 1
        report(progress, done, total)
    if "clahe" in run:
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
    if "unsharp" in run:
        check_cancel(cancel)
        x = unsharp_mask(x, float(unsharp), float(unsharp_radius))
        steps.append({"step": "unsharp", "amount": float(unsharp), "radius": float(unsharp_radius)})
        done += 1
        report(progress, done, total)
    if "detail" in run:
        check_cancel(cancel)
        gains = [float(g) for g in detail]
        x = detail_enhance(x, gains)
        steps.append({"step": "detail", "gains": gains})
        done += 1
        report(progress, done, total)
    if "gamma" in run:
        check_cancel(cancel)
        x = x.clamp(0, 1) ** float(gamma)
        steps.append({"step": "gamma", "gamma": float(gamma)})
        windows = ()
        done += 1
        report(progress, done, total)
    out = x.cpu().numpy().astype(np.float32)
    step = Provenance("enhance", {"steps": steps, "device": str(dev)})
    return rg.derive(out, step, windows=windows)
