"""Noise synthesis for training: clean image + dose → noisy image with the simulator's physics.

Doses are in the simulator's unit: photons per mm² reaching the detector without a patient
(``core.simulate.physics.DEFAULT_DOSE`` = 1e6). When the simulator is present its
``simulate_noisy`` is used, so training noise is exactly the simulator's. Without it, a
documented stand-in of the same form is used (so that the code paths stay testable):

    p = 0.6 + 5·x          (the image read as a log signal, bright = attenuating)
    lam = dose · 0.35² · exp(−p)
    N = Poisson(lam) + Normal(0, 3²),   z = (−ln(N / (dose · 0.35²)) − 0.6) / 5

i.e. Poisson–Gaussian noise on the detected counts, seen through the log.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DEFAULT_DOSE = 1.0e6
_LOG_RANGE = (0.6, 5.6)
_PIXEL_MM = 0.35
_ELECTRONIC = 3.0


def own_noisy(clean: np.ndarray, dose: float, seed: int) -> np.ndarray:
    """Stand-in Poisson–Gaussian noise through a log (see the module docstring), in [0, 1]."""
    rng = np.random.default_rng(seed)
    lo, hi = _LOG_RANGE
    i0 = dose * _PIXEL_MM**2
    lam = i0 * np.exp(-(lo + (hi - lo) * np.clip(clean, 0, 1).astype(np.float64)))
    n = rng.poisson(lam) + rng.normal(0.0, _ELECTRONIC, lam.shape)
    z = (-np.log(np.maximum(n, 0.25) / i0) - lo) / (hi - lo)
    return np.clip(z, 0.0, 1.0).astype(np.float32)


def simulator_noise() -> Callable | None:
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
        Photons per mm² (the simulator's unit; 1e6 is its default).
    seed : int
        Seed of the noise draw.
    """
    sim = simulator_noise()
    if sim is None:
        return own_noisy(clean, dose, seed)
    out = sim(np.asarray(clean, dtype=np.float32), dose, seed)
    return np.asarray(getattr(out, "image", out), dtype=np.float32)
