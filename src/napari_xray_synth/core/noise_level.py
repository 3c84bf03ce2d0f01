"""Blind noise-level estimation for signal-dependent (Poisson–Gaussian) noise.

The noise of a radiograph is modelled as ``var(z | x) = a·x + b`` (Foi et al. 2008, "Practical
Poissonian-Gaussian noise modeling and fitting for single-image raw-data"). ``a`` and ``b`` are
fitted from the image alone: a high-pass residual with unit noise gain (Immerkær's 3×3 kernel)
gives a robust (MAD) noise estimate within bins of local mean intensity, and a non-negative
least-squares line through (mean, variance) gives the model. The denoiser turns the model into
a per-pixel noise map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# Immerkær (1996): zero response to planes and unit response to quadratics removed; divided by
# 6 its squared taps sum to 1, so white noise keeps its variance in the residual.
_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32) / 6.0
_MAD = 1.4826
_BLOCK = 64
_MAX_BLOCKS = 256


@dataclass(frozen=True)
class NoiseModel:
    """Signal-dependent noise: ``variance = a * intensity + b`` (image units, intensity in [0, 1]).

    Parameters
    ----------
    a : float
        Poisson (signal-dependent) part, >= 0.
    b : float
        Gaussian (constant) variance, >= 0.
    """

    a: float
    b: float

    def sigma(self, intensity: np.ndarray | float) -> np.ndarray:
        """Noise standard deviation at ``intensity``."""
        return np.sqrt(np.maximum(self.a * np.asarray(intensity) + self.b, 0.0))

    @property
    def rms_sigma(self) -> float:
        """Noise standard deviation at mid grey (0.5): one number to report."""
        return float(self.sigma(0.5))

    def to_dict(self) -> dict[str, float]:
        """JSON-able parameters."""
        return {"a": float(self.a), "b": float(self.b), "sigma_at_0.5": self.rms_sigma}


def _sample_blocks(img: np.ndarray) -> list[np.ndarray]:
    """The whole image, or a regular grid of blocks when it is large (bounded cost)."""
    h, w = img.shape
    if h * w <= _BLOCK * _BLOCK * _MAX_BLOCKS:
        return [img]
    n = int(np.sqrt(_MAX_BLOCKS))
    rows = np.linspace(0, h - _BLOCK, n).astype(int)
    cols = np.linspace(0, w - _BLOCK, n).astype(int)
    return [img[r : r + _BLOCK, c : c + _BLOCK] for r in rows for c in cols]


def estimate_noise_model(image: np.ndarray, bins: int = 12) -> NoiseModel:
    """Fit ``var = a·x + b`` to one noisy image.

    Parameters
    ----------
    image : ndarray
        2-D float image in [0, 1].
    bins : int
        Number of intensity bins (quantiles of the local mean).

    Returns
    -------
    NoiseModel
        Zero noise for images too small to tell (fewer than 16 pixels) or constant ones.
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2 or img.size < 16 or min(img.shape) < 3:
        return NoiseModel(0.0, 0.0)
    res, mean = [], []
    for block in _sample_blocks(img):
        r = ndimage.convolve(block, _KERNEL, mode="reflect")[1:-1, 1:-1]
        m = ndimage.uniform_filter(block, 3, mode="reflect")[1:-1, 1:-1]
        res.append(r.ravel())
        mean.append(m.ravel())
    r = np.concatenate(res)
    m = np.concatenate(mean)
    if r.size < 16:
        return NoiseModel(0.0, 0.0)
    edges = np.unique(np.quantile(m, np.linspace(0, 1, bins + 1)))
    idx = np.clip(np.searchsorted(edges, m, side="right") - 1, 0, max(len(edges) - 2, 0))
    xs, vs, ws = [], [], []
    for k in range(max(len(edges) - 1, 1)):
        sel = idx == k
        n = int(sel.sum())
        if n < 8:
            continue
        sig = _MAD * float(np.median(np.abs(r[sel])))
        xs.append(float(m[sel].mean()))
        vs.append(sig * sig)
        ws.append(np.sqrt(n))
    if not xs:
        return NoiseModel(0.0, 0.0)
    x, v, w = np.array(xs), np.array(vs), np.array(ws)
    if np.ptp(x) < 1e-3:  # one intensity: no slope can be told apart from the offset
        return NoiseModel(0.0, float(np.average(v, weights=w)))
    from scipy.optimize import nnls

    a, b = nnls(np.stack([x, np.ones_like(x)], 1) * w[:, None], v * w)[0]
    return NoiseModel(float(a), float(b))
