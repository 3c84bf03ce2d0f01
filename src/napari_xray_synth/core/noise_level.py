"""Blind noise-level estimation for signal-dependent (Poisson–Gaussian) noise.

The noise of a radiograph depends on its intensity: Poisson–Gaussian on raw counts, and after the
log and presentation steps of an X-ray detector, largest in the bright (dense) parts. Like Foi et
al. (2008, "Practical Poissonian-Gaussian noise modeling and fitting for single-image raw-data")
the noise level function is measured on the image alone: a high-pass residual with unit noise
gain (Immerkær's 3×3 kernel) gives a robust (MAD) noise estimate within bins of local mean
intensity. Rather than fitting a line through (mean, variance), which only fits raw data, the
binned estimates are kept as a piecewise-linear function, which follows any monotone or curved
dependence. The denoiser turns the function into a per-pixel noise map.
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
_MAX_BLOCKS = 128


@dataclass(frozen=True)
class NoiseModel:
    """A noise level function: noise standard deviation as a function of intensity.

    Piecewise linear through ``(knots[i], sigmas[i])`` and flat beyond the ends, so that any
    signal dependence (Poisson–Gaussian on raw data, or its exponential form after a log, as in
    radiographs) is followed.

    Parameters
    ----------
    knots : tuple of float
        Increasing intensities in [0, 1].
    sigmas : tuple of float
        Noise standard deviation at each knot (image units).
    """

    knots: tuple[float, ...]
    sigmas: tuple[float, ...]

    @classmethod
    def constant(cls, sigma: float) -> NoiseModel:
        """The same noise at every intensity."""
        return cls((0.0,), (float(sigma),))

    def sigma(self, intensity: np.ndarray | float) -> np.ndarray:
        """Noise standard deviation at ``intensity``."""
        return np.interp(np.asarray(intensity, dtype=np.float64), self.knots, self.sigmas)

    def lut(self, n: int = 256) -> np.ndarray:
        """``sigma`` sampled at ``n`` intensities evenly spread over [0, 1] (float32)."""
        return self.sigma(np.linspace(0.0, 1.0, n)).astype(np.float32)

    @property
    def typical_sigma(self) -> float:
        """The median of the knot sigmas: one number to report."""
        return float(np.median(self.sigmas)) if self.sigmas else 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON-able parameters."""
        return {
            "knots": [round(float(k), 4) for k in self.knots],
            "sigmas": [round(float(v), 6) for v in self.sigmas],
            "typical_sigma": round(self.typical_sigma, 6),
        }


ZERO = NoiseModel((0.0,), (0.0,))


def _sample_blocks(img: np.ndarray) -> list[np.ndarray]:
    """The whole image, or a regular grid of blocks when it is large (bounded cost)."""
    h, w = img.shape
    if h * w <= _BLOCK * _BLOCK * _MAX_BLOCKS:
        return [img]
    n = int(np.sqrt(_MAX_BLOCKS))
    rows = np.linspace(0, h - _BLOCK, n).astype(int)
    cols = np.linspace(0, w - _BLOCK, n).astype(int)
    return [img[r : r + _BLOCK, c : c + _BLOCK] for r in rows for c in cols]


def estimate_noise_model(image: np.ndarray, bins: int = 16) -> NoiseModel:
    """Measure the noise level function of one noisy image.

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
        return ZERO
    res, mean = [], []
    for block in _sample_blocks(img):
        r = ndimage.convolve(block, _KERNEL, mode="reflect")[1:-1, 1:-1]
        m = ndimage.uniform_filter(block, 3, mode="reflect")[1:-1, 1:-1]
        res.append(r.ravel())
        mean.append(m.ravel())
    r = np.concatenate(res)
    m = np.concatenate(mean)
    if r.size < 16:
        return ZERO
    edges = np.unique(np.quantile(m, np.linspace(0, 1, bins + 1)))
    idx = np.clip(np.searchsorted(edges, m, side="right") - 1, 0, max(len(edges) - 2, 0))
    xs, vs = [], []
    for k in range(max(len(edges) - 1, 1)):
        sel = idx == k
        n = int(sel.sum())
        if n < 8:
            continue
        sig = _MAD * float(np.median(np.abs(r[sel])))
        xs.append(float(m[sel].mean()))
        vs.append(sig * sig)
    if not xs:
        return ZERO
    sig = np.sqrt(np.array(vs))
    if sig.size >= 3:  # a running median of 3 tames a bin spoilt by edges
        padded = np.concatenate([sig[:1], sig, sig[-1:]])
        sig = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    x = np.array(xs)
    keep = np.concatenate([[True], np.diff(x) > 1e-6])
    return NoiseModel(tuple(float(v) for v in x[keep]), tuple(float(v) for v in sig[keep]))


def noise_map(image: np.ndarray, model: NoiseModel, size: int = 5) -> np.ndarray:
    """Per-pixel noise standard deviation: the model at the local mean (``size``² box).

    The same function makes the map in training and at inference, on the whole image, so a
    tile sees exactly the map the whole image would give it.
    """
    img = np.asarray(image, dtype=np.float32)
    local = ndimage.uniform_filter(img, size, mode="nearest") if min(img.shape) > 1 else img
    lut = model.lut(1024)
    idx = np.clip(np.rint(local * 1023.0), 0, 1023).astype(np.int32)
    return np.maximum(lut[idx], 1e-5).astype(np.float32)
