"""Noise synthesis for training: clean image + dose → noisy image with the simulator's physics.

When the simulator (``core.simulate.simulate_noisy``) is present, its physics is used, so that
training noise is exactly what the simulator makes. Until then (and as a documented fallback)
a Poisson–Gaussian model of our own stands in:

    z = a · Poisson(x / a) + N(0, b),   a = A_REF / dose,  b = B_REF

with ``x`` the clean image in [0, 1] (so ``var(z | x) = a·x + b``), ``A_REF`` the Poisson gain at
dose 1 and ``B_REF`` the variance of the electronic (read-out) noise.
"""

from __future__ import annotations

import numpy as np

A_REF = 1.0e-4  # at dose 1, a mid-grey pixel has sigma ~ 0.007 (about 10_000 quanta full scale)
B_REF = 4.0e-6  # read-out noise sigma 0.002


def poisson_gaussian(clean: np.ndarray, a: float, b: float, rng: np.random.Generator) -> np.ndarray:
    """Draw ``a·Poisson(x/a) + N(0, b)`` (float32; not clipped)."""
    x = np.clip(np.asarray(clean, dtype=np.float64), 0.0, None)
    z = a * rng.poisson(x / a) if a > 0 else x.copy()
    if b > 0:
        z = z + rng.normal(0.0, np.sqrt(b), size=x.shape)
    return z.astype(np.float32)


def own_noisy(clean: np.ndarray, dose: float, seed: int) -> np.ndarray:
    """Our fallback Poisson–Gaussian noise at relative ``dose`` (1 = standard), clipped to [0, 1]."""
    rng = np.random.default_rng(seed)
    return np.clip(poisson_gaussian(clean, A_REF / dose, B_REF, rng), 0.0, 1.0)


def simulator_noise():  # type: ignore[no-untyped-def]
    """The simulator's ``simulate_noisy(clean, dose, seed)`` if it is installed, else None."""
    try:
        from napari_xray_synth.core.simulate import simulate_noisy  # type: ignore[attr-defined]
    except ImportError:
        return None
    return simulate_noisy


def synthesize_noisy(clean: np.ndarray, dose: float, seed: int) -> np.ndarray:
    """Noisy version of a clean image at ``dose``, with the simulator's physics when available.

    Parameters
    ----------
    clean : ndarray
        2-D float32 in [0, 1].
    dose : float
        Relative dose (the simulator's convention).
    seed : int
        Seed of the noise draw.
    """
    sim = simulator_noise()
    if sim is None:
        return own_noisy(clean, dose, seed)
    out = sim(clean, dose, seed)
    img = getattr(out, "image", out)
    return np.asarray(img, dtype=np.float32)
