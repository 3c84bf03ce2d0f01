"""Image formation: line integral → detected photons → log signal → a "for presentation" image.

Noise model (documented in docs/simulator.md)
---------------------------------------------
The expected photon count of a pixel is

    lam = I0 * (blur(exp(-L)) + S),        I0 = dose * pixel_area_mm2

with ``L`` the line integral (sum of mu * length), ``blur`` the detector's Gaussian point spread
and ``S`` the scatter (a heavily low-passed copy of the primary times the scatter-to-primary
ratio). The detected count is ``N = Poisson(lam) + Normal(0, sigma_e^2)`` (electronic noise, in
photon units). The log signal is ``p = -ln(N / I0)``; to first order its variance is

    Var(p) = 1 / lam + sigma_e^2 / lam^2

so quantum noise in the log domain goes as 1 / dose, and electronic noise as 1 / dose^2; it is
larger where fewer photons arrive (behind the mediastinum and bone: the bright parts of a
MONOCHROME2 radiograph). Poisson is sampled exactly where ``lam < 30`` and by its normal
approximation (same mean and variance) elsewhere, for speed.

The presentation step is fitted once on the clean healthy log image of a case (a dynamic-range
compression: the log signal minus part of its low-pass, then percentiles to [0, 1] and a tone
curve) and the same mapping is applied to every version of the case, so clean, noisy, healthy
and diseased images differ only by what the physics put in them. Its unsharp mask (edge
enhancement) is taken from the clean image, so the noise of a presented pixel is the log-domain
noise times the slope of the tone curve there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.simulate._ops import blur, lowpass, wide_blur

#: Default dose: photons per mm^2 reaching the detector without a patient.
DEFAULT_DOSE = 1.0e6
#: Electronic noise (standard deviation, photons per pixel).
ELECTRONIC_SIGMA = 3.0
#: Detector blur (Gaussian sigma, mm).
DETECTOR_BLUR_MM = 0.25
#: Scatter-to-primary ratio through an anti-scatter grid, and its spread (sigma, mm).
SCATTER_FRACTION = 0.25
SCATTER_SIGMA_MM = 40.0
#: Exact Poisson sampling below this expected count, normal approximation above.
POISSON_EXACT_BELOW = 30.0


def check_dose(dose: float) -> float:
    """Return ``dose`` as a float, or raise :class:`InputError` if not a positive number."""
    try:
        d = float(dose)
    except (TypeError, ValueError) as exc:
        raise InputError(f"dose must be a positive number, got {dose!r}") from exc
    if not np.isfinite(d) or d <= 0:
        raise InputError(f"dose must be a positive number of photons per mm², got {dose!r}")
    return d


def primary(line_integral: np.ndarray, spacing: float) -> np.ndarray:
    """Transmitted fraction after the detector blur: ``blur(exp(-L))``."""
    return blur(np.exp(-line_integral.astype(np.float32)), DETECTOR_BLUR_MM / spacing)


def scatter(primary_img: np.ndarray, spacing: float) -> np.ndarray:
    """Scatter reaching the detector (fraction of the open beam)."""
    return SCATTER_FRACTION * lowpass(primary_img, SCATTER_SIGMA_MM / spacing)


def expected_counts(transmission: np.ndarray, dose: float, spacing: float) -> np.ndarray:
    """Expected photons per pixel for a transmitted fraction (primary plus scatter)."""
    return (transmission * (dose * spacing * spacing)).astype(np.float32)


def add_counting_noise(
    lam: np.ndarray,
    rng: np.random.Generator,
    sigma_e: float = ELECTRONIC_SIGMA,
    z: np.ndarray | None = None,
) -> np.ndarray:
    """Poisson quantum noise plus Gaussian electronic noise on expected counts ``lam``.

    ``z`` (standard normal deviates of ``lam``'s shape) may be given to reuse a realisation:
    two images then differ only where their expected counts differ.
    """
    if z is None:
        z = rng.standard_normal(lam.shape, dtype=np.float32)
    n = lam + np.sqrt(lam + sigma_e * sigma_e) * z
    low = lam < POISSON_EXACT_BELOW
    if low.any():
        e = rng.standard_normal(int(low.sum()), dtype=np.float32) * sigma_e
        n[low] = rng.poisson(lam[low]).astype(np.float32) + e
    return n


def log_signal(counts: np.ndarray, dose: float, spacing: float) -> np.ndarray:
    """``-ln(N / I0)``, counts floored at a quarter photon so the log stays finite."""
    i0 = dose * spacing * spacing
    return (-np.log(np.maximum(counts, 0.25) / i0)).astype(np.float32)


@dataclass(frozen=True)
class Presentation:
    """A fixed mapping from the log signal to a [0, 1] "for presentation" image.

    ``q = p - compress * background + detail``, then ``(q - lo) / (hi - lo)`` clipped and bent
    by a film-like tone curve. ``background`` (a wide low-pass) and ``lo, hi`` are fitted once
    on the clean healthy image; ``detail = edge * (p_clean - blur(p_clean))`` is an unsharp mask
    of each clean image, so that noise reaches the presented image only through the tone curve.
    """

    background: np.ndarray
    compress: float
    lo: float
    hi: float
    edge: float
    edge_sigma_px: float

    @classmethod
    def fit(
        cls,
        p: np.ndarray,
        spacing: float,
        compress: float = 0.6,
        edge: float = 0.5,
    ) -> Presentation:
        """Fit the mapping on a clean log image ``p``."""
        bg = lowpass(p, 22.0 / spacing)
        q = p - compress * bg
        sub = q[:: max(p.shape[0] // 256, 1), :: max(p.shape[1] // 256, 1)]
        lo, hi = np.percentile(sub, [0.5, 99.7])
        return cls(bg, compress, float(lo), float(hi), edge, 1.2 / spacing)

    def detail(self, p_clean: np.ndarray) -> np.ndarray:
        """The unsharp-mask term of a clean log image."""
        if self.edge <= 0:
            return np.zeros_like(p_clean)
        return self.edge * (p_clean - wide_blur(p_clean, self.edge_sigma_px))

    def apply(
        self,
        p: np.ndarray,
        detail: np.ndarray | None = None,
        window: tuple[slice, slice] | None = None,
    ) -> np.ndarray:
        """Map a log image (clean or noisy) plus its clean ``detail`` to [0, 1], float32.

        With ``window``, ``p`` and ``detail`` are that part of the image.
        """
        bg = self.background if window is None else self.background[window]
        q = p - self.compress * bg
        if detail is not None:
            q += detail
        v = np.clip((q - self.lo) * (1.0 / (self.hi - self.lo)), 0.0, 1.0)
        # a film-like tone curve: a toe (v^1.5) and an S-shaped shoulder
        v = v * np.sqrt(v)
        v = v * v * (3.0 - 2.0 * v) * 0.55 + v * 0.45
        return v.astype(np.float32)
