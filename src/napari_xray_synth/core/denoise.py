"""Denoise radiographs: the shipped network (tiled, any device) or a classical filter.

``denoise(rg, method="model")`` estimates the signal-dependent noise of the image
(:mod:`core.noise_level`), turns it into a per-pixel noise map, and runs the denoiser tile by
tile (:mod:`core.tiling`). ``strength`` overrides the estimate. The classical methods
(scikit-image) share the API for comparison; what ``strength`` means for each, and its valid
range, is in :data:`STRENGTH_RANGES`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from napari_xray_synth.core.device import autocast, pick_device
from napari_xray_synth.core.errors import InputError, ModelError
from napari_xray_synth.core.models import TRAIN_HINTS, LoadedModel, load_model, sha256_file
from napari_xray_synth.core.noise_level import ZERO, NoiseModel, estimate_noise_model, noise_map
from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report
from napari_xray_synth.core.radiograph import Provenance, Radiograph
from napari_xray_synth.core.ranges import ParamRange
from napari_xray_synth.core.tiling import tiled_apply

METHODS = ("model", "gaussian", "median", "nl_means", "tv")
DEFAULT_MODEL = "denoiser"
TRAIN_COMMAND = "xray-synth train denoiser --data sim --out models/denoiser"
TRAIN_HINTS[DEFAULT_MODEL] = TRAIN_COMMAND

# the valid --strength per method: wide enough for any sensible use (the "auto" values, the
# docs and the tests sit well inside), narrow enough that a typo cannot flatten the image or
# run for minutes (a median of radius 10 takes ~20 s on a 2048² film, radius 100 many minutes).
# A classical filter at 0 returns its input: an identical copy is no result, so 0 is refused
# (the model at 0 still runs its network, which changes the image)
STRENGTH_RANGES: dict[str, ParamRange] = {
    "model": ParamRange(
        0.0, 0.5, 0.02, "noise standard deviation in image units, as a constant noise map"
    ),
    "gaussian": ParamRange(0.0, 20.0, 1.0, "Gaussian filter sigma in pixels", lo_open=True),
    "median": ParamRange(
        1.0, 10.0, 1.0, "radius in pixels of the disk median filter", integer=True
    ),
    "nl_means": ParamRange(
        0.0, 0.5, 0.04, "non-local means h: filter strength in image units", lo_open=True
    ),
    "tv": ParamRange(
        0.0, 1.0, 0.05, "weight of Chambolle's total-variation denoising", lo_open=True
    ),
}
STRENGTH_MEANING = {m: r.meaning for m, r in STRENGTH_RANGES.items()}

Strength = str | float | None


def _as_list(data: Any) -> tuple[list[Radiograph], bool]:
    """Radiographs to process and whether the input was a stack."""
    if isinstance(data, Radiograph):
        return [data], False
    if isinstance(data, np.ndarray):
        if data.ndim == 2:
            return [Radiograph(data)], False
        if data.ndim == 3:
            return [Radiograph(s) for s in data], True
        raise InputError(f"expected a 2-D image or a 3-D stack, got shape {data.shape}")
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        out = [d if isinstance(d, Radiograph) else Radiograph(np.asarray(d)) for d in data]
        return out, True
    raise InputError(f"cannot denoise a {type(data).__name__}")


def _check(rg: Radiograph) -> None:
    img = rg.image
    where = rg.source
    if img.size == 0:
        raise InputError("the image is empty", where)
    if not np.all(np.isfinite(img)):
        raise InputError("the image holds NaN or infinite values", where)


@functools.lru_cache(maxsize=4)
def _cached_model(name: str, device: str, sha: str) -> LoadedModel:
    loaded = load_model(name, device)
    if device == "cpu" or device.startswith("cuda"):
        loaded.module.to(memory_format=torch.channels_last)
    return loaded


def get_model(name: str, device: torch.device) -> LoadedModel:
    """Load (once) the denoiser ``name`` on ``device``, checking its sha256 every call.

    Raises
    ------
    ModelError
        Missing files or a sha256 mismatch; the message names the training command.
    """
    from pathlib import Path

    from napari_xray_synth.core.models import find_model

    try:
        weights, _ = find_model(name)
        return _cached_model(str(name), str(device), sha256_file(weights))
    except ModelError as exc:
        if "xray-synth train" in str(exc):
            raise
        stem = str(Path(str(name)).with_suffix("")) if str(name).endswith(".json") else str(name)
        stem = stem.removesuffix(".safetensors")
        out = stem if "/" in stem else f"models/{stem}"
        raise ModelError(
            f"{exc}; train it with: {TRAIN_COMMAND.rsplit(' --out', 1)[0]} --out {out}"
        ) from exc


def _run_model(
    img: np.ndarray,
    loaded: LoadedModel,
    device: torch.device,
    noise: NoiseModel | None,
    sigma: float | None,
    tile: int,
    overlap: int,
    batch_size: int,
    progress: ProgressFn | None,
    cancel: CancelToken | None,
) -> np.ndarray:
    net = loaded.module
    check_cancel(cancel)
    smap = (
        np.full(img.shape, float(sigma), np.float32)
        if sigma is not None
        else noise_map(img, noise if noise is not None else ZERO)
    )
    mult = 4

    def fn(xs: torch.Tensor, _origins: list[tuple[int, int]]) -> torch.Tensor:
        h, w = xs.shape[-2:]
        ph, pw = (-h) % mult, (-w) % mult
        xp = F.pad(xs, (0, pw, 0, ph), mode="replicate") if ph or pw else xs
        if device.type != "mps":
            xp = xp.contiguous(memory_format=torch.channels_last)
        with autocast(device):
            y = net(xp[:, :1], xp[:, 1:2])
        return y[..., :h, :w].float()

    out = tiled_apply(
        [img, smap],
        fn,
        tile=tile,
        overlap=overlap,
        batch_size=batch_size,
        device=device,
        progress=progress,
        cancel=cancel,
    )
    return np.clip(out, 0.0, 1.0)


def _classical(img: np.ndarray, method: str, strength: Strength) -> tuple[np.ndarray, dict]:
    from skimage import filters, morphology, restoration

    params: dict[str, Any] = {}
    auto = strength is None or strength == "auto"
    if auto:
        est = float(restoration.estimate_sigma(img)) if min(img.shape) >= 2 else 0.0
        params["estimated_sigma"] = est
        value = {
            "gaussian": float(np.clip(100.0 * est, 0.5, 3.0)),
            "median": 1.0 if est < 0.02 else 2.0,
            "nl_means": 0.8 * est,
            "tv": 1.5 * est,
        }[method]
    else:
        value = float(strength)  # type: ignore[arg-type]
    if method == "median":
        value = max(round(value), 1)  # a whole radius (check_strength refuses fractions)
    params["strength"] = value
    if method == "gaussian":
        out = filters.gaussian(img, sigma=value, mode="reflect", preserve_range=True)
    elif method == "median":
        out = filters.median(img, footprint=morphology.disk(value))
    elif method == "nl_means":
        sigma = params.get("estimated_sigma", value / 0.8)
        out = (
            restoration.denoise_nl_means(
                img, h=value, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True
            )
            if value > 0 and min(img.shape) >= 5
            else img.copy()
        )
    else:
        out = restoration.denoise_tv_chambolle(img, weight=value) if value > 0 else img.copy()
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0), params


def throttled(progress: ProgressFn | None, interval: float = 0.1) -> ProgressFn | None:
    """``progress`` called at most every ``interval`` seconds (and always at the end).

    Thousands of small tiles would otherwise flood a GUI's event queue with progress signals,
    which delays everything queued behind them (a cancel included).
    """
    if progress is None:
        return None
    last = [-1.0]

    def call(done: int, total: int) -> None:
        now = time.perf_counter()
        if done >= total or now - last[0] >= interval:
            last[0] = now
            progress(done, total)

    return call


def check_strength(method: str, strength: Strength, name: str = "strength") -> float | None:
    """The strength as a number (None for "auto"), or an InputError naming ``name``.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`; its range is ``STRENGTH_RANGES[method]``.
    strength : "auto", float or None
        The value given.
    name : str
        How the message names it (the CLI passes ``"--strength"``).

    Raises
    ------
    InputError
        Unknown method, not a number, or outside the method's range.
    """
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if strength is None or (isinstance(strength, str) and strength.strip().lower() == "auto"):
        return None
    try:
        value = float(strength)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be 'auto' or a number, not {strength!r}") from exc
    return STRENGTH_RANGES[method].check(value, name, f" for {method}")


def denoise(
    radiograph_or_stack: Radiograph | Sequence[Radiograph] | np.ndarray,
    method: str = "model",
    strength: Strength = "auto",
    model: str = DEFAULT_MODEL,
    device: str | torch.device = "auto",
    tile: int = 512,
    overlap: int = 32,
    batch_size: int = 4,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Radiograph | list[Radiograph]:
    """Denoise one radiograph or a stack (slice by slice).

    Parameters
    ----------
    radiograph_or_stack : Radiograph, sequence of Radiograph, or ndarray (2-D or 3-D)
        The input; never modified.
    method : str
        "model" (the trained network) or a classical filter: "gaussian", "median", "nl_means",
        "tv".
    strength : "auto" or float
        "auto" estimates the noise from the image; a number overrides it (its meaning and valid
        range per method are in :data:`STRENGTH_RANGES`; for the model it is the noise sigma in
        image units, 0 to 0.5).
    model : str
        Name (in the models folders) or path of the denoiser.
    device : str
        "auto", "cpu", "cuda" or "mps" (model only).
    tile, overlap, batch_size : int
        Tiled inference: largest tile side, blended overlap, tiles per forward pass.
    progress, cancel
        Progress callback ``(done, total)`` and cancel token.

    Returns
    -------
    Radiograph or list of Radiograph
        A new radiograph (a list for a stack) with one more provenance step.

    Raises
    ------
    InputError
        Bad image (empty, NaN or infinite values), unknown method or bad strength.
    ModelError
        The model is missing or its sha256 does not match its card.
    """
    value = check_strength(method, strength)
    progress = throttled(progress)
    rgs, is_stack = _as_list(radiograph_or_stack)
    for rg in rgs:
        _check(rg)
    if int(tile) < 16:
        raise InputError(f"tile must be at least 16 pixels, not {tile}")
    dev = pick_device(device) if method == "model" else torch.device("cpu")
    loaded = get_model(model, dev) if method == "model" else None
    results: list[Radiograph] = []
    n = len(rgs)
    for k, rg in enumerate(rgs):
        check_cancel(cancel)
        sub = None
        if progress is not None:

            def sub(done: int, total: int, k: int = k) -> None:
                report(progress, k * 1000 + int(1000 * done / max(total, 1)), n * 1000)

        params: dict[str, Any] = {"method": method}
        if method == "model":
            assert loaded is not None
            noise = None if value is not None else estimate_noise_model(rg.image)
            check_cancel(cancel)
            out = _run_model(
                rg.image,
                loaded,
                dev,
                noise,
                value,
                int(tile),
                int(overlap),
                int(batch_size),
                sub,
                cancel,
            )
            params.update(
                strength="auto" if value is None else value,
                estimated_noise=None if noise is None else noise.to_dict(),
                device=str(dev),
                tile=int(tile),
                overlap=int(overlap),
                mixed_precision=dev.type == "cuda",
            )
            step = Provenance("denoise", params, model_id=loaded.name, model_sha256=loaded.sha256)
        else:
            report(sub, 0, 1)
            out, extra = _classical(rg.image, method, "auto" if value is None else value)
            report(sub, 1, 1)
            params.update(extra, strength_auto=value is None)
            step = Provenance("denoise", params)
        results.append(rg.derive(out, step))
    report(progress, n * 1000, n * 1000)
    return results if is_stack else results[0]
