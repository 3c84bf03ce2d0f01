"""Fast array helpers for the simulator: small blurs by slicing, wide low-passes on a coarse grid.

scipy's filters are general but slow for what the simulator needs at 1024² on one core; these
do the same smoothing with a handful of whole-array numpy operations.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage


@lru_cache(maxsize=32)
def _interp_matrix(n_small: int, n_big: int) -> np.ndarray:
    """(n_big, n_small) linear interpolation weights, pixel centres aligned, edges held."""
    pos = (np.arange(n_big) + 0.5) * n_small / n_big - 0.5
    pos = np.clip(pos, 0.0, n_small - 1.0)
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, n_small - 1)
    f = (pos - i0).astype(np.float32)
    m = np.zeros((n_big, n_small), np.float32)
    m[np.arange(n_big), i0] += 1.0 - f
    m[np.arange(n_big), i1] += f
    return m


def upsample(small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear interpolation of a coarse grid onto ``shape`` (two small matrix products)."""
    r = _interp_matrix(small.shape[0], shape[0])
    c = _interp_matrix(small.shape[1], shape[1])
    return (r @ (small.astype(np.float32) @ c.T)).astype(np.float32)


def block_mean(img: np.ndarray, step: int) -> np.ndarray:
    """Mean over ``step`` x ``step`` blocks (the image cropped to whole blocks)."""
    h, w = img.shape[0] // step, img.shape[1] // step
    return img[: h * step, : w * step].reshape(h, step, w, step).mean(axis=(1, 3))


def lowpass(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """A wide Gaussian low-pass: block means, a Gaussian on the coarse grid, back up."""
    step = max(int(sigma_px / 2.5), 1)
    if step == 1:
        return ndimage.gaussian_filter(img, sigma_px, mode="nearest").astype(np.float32)
    small = block_mean(img, step)
    small = ndimage.gaussian_filter(small, sigma_px / step, mode="nearest")
    return upsample(small, img.shape)


def _blur_axis(a: np.ndarray, w: np.ndarray, axis: int) -> np.ndarray:
    """Correlate along ``axis`` with a short symmetric kernel ``w`` (w[0] centre), edges held."""
    b = np.moveaxis(a, axis, 0)
    out = w[0] * b
    for k in range(1, len(w)):
        out[k:] += w[k] * b[:-k]
        out[:-k] += w[k] * b[k:]
        out[:k] += w[k] * b[:1]  # beyond the edge: the edge value
        out[-k:] += w[k] * b[-1:]
    return np.moveaxis(out, 0, axis)


def blur(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """A small Gaussian blur (sigma up to ~2 px) by shifted sums; identity below 0.2 px."""
    if sigma_px < 0.2:
        return img.astype(np.float32)
    r = max(int(np.ceil(2.5 * sigma_px)), 1)
    w = np.exp(-0.5 * (np.arange(r + 1) / sigma_px) ** 2)
    w = (w / (w[0] + 2 * w[1:].sum())).astype(np.float32)
    a = img.astype(np.float32)
    return _blur_axis(_blur_axis(a, w, 0), w, 1)


def upsample2(small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear interpolation by exactly two (pixel centres aligned), cropped/padded to shape."""

    def along(a: np.ndarray, axis: int) -> np.ndarray:
        p = np.concatenate([a.take([0], axis), a, a.take([-1], axis)], axis=axis)
        n = a.shape[axis]
        mid = [slice(None)] * 2
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        mid[axis], lo[axis], hi[axis] = slice(1, n + 1), slice(0, n), slice(2, n + 2)
        c = 0.75 * p[tuple(mid)]
        out_shape = list(a.shape)
        out_shape[axis] = 2 * n
        out = np.empty(out_shape, np.float32)
        even = [slice(None)] * 2
        odd = [slice(None)] * 2
        even[axis], odd[axis] = slice(0, None, 2), slice(1, None, 2)
        out[tuple(even)] = c + 0.25 * p[tuple(lo)]
        out[tuple(odd)] = c + 0.25 * p[tuple(hi)]
        return out

    up = along(along(small.astype(np.float32), 0), 1)
    h, w = shape
    if up.shape[0] < h or up.shape[1] < w:
        up = np.pad(up, ((0, max(h - up.shape[0], 0)), (0, max(w - up.shape[1], 0))), "edge")
    return up[:h, :w]


def wide_blur(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """A Gaussian blur of a few pixels: at half resolution when sigma is over 1.2 px."""
    if sigma_px <= 1.2:
        return blur(img, sigma_px)
    small = block_mean(img, 2)
    return upsample2(blur(small, np.sqrt(max(sigma_px**2 / 4.0 - 0.25, 0.04))), img.shape)


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], step: int, sigma: float
) -> np.ndarray:
    """Band-limited noise with unit std: drawn on a coarse grid, smoothed, interpolated up.

    A power-of-two ``step`` is interpolated by repeated doubling (cheap); others directly.
    """
    small = (max(-(-shape[0] // step), 4), max(-(-shape[1] // step), 4))
    n = ndimage.gaussian_filter(rng.standard_normal(small).astype(np.float32), sigma)
    n /= n.std() + 1e-6
    if step > 1 and step & (step - 1) == 0:
        while n.shape[0] < shape[0] or n.shape[1] < shape[1]:
            n = upsample2(n, (2 * n.shape[0], 2 * n.shape[1]))
        return np.ascontiguousarray(n[: shape[0], : shape[1]])
    return upsample(n, shape)
