"""Chest radiograph simulator: phantom anatomy, lesions with exact truth, X-ray physics.

The public API:

- :func:`simulate_chest` - one patient from a seed: healthy and diseased radiographs, clean and
  noisy, the label mask, lung and rib masks (a :class:`SimulatedCase`);
- :func:`simulate_noisy` - the simulator's noise model applied to any clean image;
- :func:`noisy_pairs` - many (clean, noisy) training pairs, cheaply;
- :func:`random_condition` - a plausible random lesion inside the lung fields.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from napari_xray_synth.core.conditions import PATHOLOGIES, Condition
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report
from napari_xray_synth.core.radiograph import Provenance, Radiograph, Window
from napari_xray_synth.core.simulate import physics
from napari_xray_synth.core.simulate.pathology import apply_conditions, random_condition
from napari_xray_synth.core.simulate.phantom import FIELD_MM, Anatomy, Phantom, render_phantom
from napari_xray_synth.core.simulate.physics import DEFAULT_DOSE, Presentation

MIN_SIZE = 64
#: Log-signal range that :func:`simulate_noisy` maps an image's [0, 1] onto.
NOISY_LOG_RANGE = (0.6, 5.6)

WINDOWS = (
    Window(0.5, 1.0, "full range", "LINEAR_EXACT"),
    Window(0.38, 0.6, "lung"),
    Window(0.72, 0.45, "mediastinum"),
)


@dataclass(frozen=True)
class SimulatedCase:
    """Everything one seed gives.

    Attributes
    ----------
    healthy, diseased : Radiograph
        Noisy (when ``noise``) images of the same patient without and with the conditions;
        ``diseased`` is None when there are no conditions.
    healthy_clean, diseased_clean : Radiograph
        The same without quantum and electronic noise (same presentation mapping).
    mask : ndarray of uint8
        Label image, values from :data:`conditions.LABELS` (0 background).
    conditions : tuple of Condition
        What was put in.
    lung_mask, rib_mask : ndarray of bool
        Lung fields and ribs (by-products, exact).
    lung_sides : ndarray of uint8
        1 for the patient's right lung field, 2 for the left.
    spacing : float
        Pixel size in mm (square pixels).
    seed : int
    dose : float
        Photons per mm² reaching the detector without the patient.
    anatomy : dict
        The drawn patient parameters.
    """

    healthy: Radiograph
    diseased: Radiograph | None
    healthy_clean: Radiograph
    diseased_clean: Radiograph | None
    mask: np.ndarray
    conditions: tuple[Condition, ...]
    lung_mask: np.ndarray
    rib_mask: np.ndarray
    lung_sides: np.ndarray
    spacing: float
    seed: int
    dose: float
    anatomy: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> tuple[Radiograph, Radiograph | None]:
        """(healthy_clean, diseased_clean)."""
        return self.healthy_clean, self.diseased_clean


def check_size(size: int) -> int:
    """Return ``size`` as an int, or raise :class:`InputError` below :data:`MIN_SIZE`."""
    try:
        n = int(size)
    except (TypeError, ValueError) as exc:
        raise InputError(f"size must be a whole number of pixels, got {size!r}") from exc
    if n != size or n < MIN_SIZE:
        raise InputError(f"size must be at least {MIN_SIZE} pixels, got {size!r}")
    return n


def spacing_for(size: int) -> float:
    """Pixel spacing (mm) of a simulated image of ``size`` pixels: the field stays the same."""
    return FIELD_MM / size


def _as_conditions(
    conditions: Condition | str | Sequence[Condition | str] | None,
    phantom: Phantom,
    rng: np.random.Generator,
) -> tuple[Condition, ...]:
    if conditions is None:
        return ()
    if isinstance(conditions, (Condition, str)):
        conditions = [conditions]
    out = []
    for c in conditions:
        if isinstance(c, str):
            if c == "none":
                continue
            if c == "random":
                c = str(rng.choice(PATHOLOGIES))
            out.append(random_condition(c, phantom, phantom.spacing, rng))
        elif isinstance(c, Condition):
            c.check_inside(phantom.shape)
            out.append(c)
        else:
            raise InputError(f"a condition must be a Condition or a pathology name, got {c!r}")
    return tuple(out)


def simulate_chest(
    seed: int,
    size: int = 1024,
    conditions: Condition | str | Sequence[Condition | str] | None = None,
    dose: float = DEFAULT_DOSE,
    noise: bool = True,
    *,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> SimulatedCase:
    """Simulate one PA chest radiograph (healthy and, with conditions, diseased) from a seed.

    Parameters
    ----------
    seed : int
        Draws the patient, the random conditions and the noise: the same seed gives
        bit-identical output.
    size : int
        Image side in pixels (at least 64); the field of view stays 358 mm, so the spacing is
        ``358.4 / size`` mm (0.35 mm at 1024).
    conditions : Condition, str, or a sequence of them, optional
        Lesions to add. A pathology name (or "random") draws a plausible one from the seed.
    dose : float
        Photons per mm² reaching the detector without the patient (default 1e6).
    noise : bool
        Add quantum and electronic noise; when False the noisy images are the clean ones.
    progress, cancel
        The core's progress callback and cancel token.

    Returns
    -------
    SimulatedCase
    """
    size = check_size(size)
    dose = physics.check_dose(dose)
    seed = int(seed)
    px = spacing_for(size)
    steps = 5
    report(progress, 0, steps)
    anatomy = Anatomy.draw(seed)
    phantom = render_phantom(anatomy, (size, size), px)
    check_cancel(cancel)
    report(progress, 1, steps)
    rng = np.random.default_rng([seed, 11])
    conds = _as_conditions(conditions, phantom, rng)

    line_h = phantom.line_integral()
    prim_h = physics.primary(line_h, px)
    scat = physics.scatter(prim_h, px)  # the patient's scatter, shared by both versions
    lam_h = physics.expected_counts(prim_h + scat, dose, px)
    p_h = physics.log_signal(lam_h, dose, px)
    pres = Presentation.fit(p_h, px)
    report(progress, 2, steps)
    check_cancel(cancel)

    params: dict[str, Any] = {
        "size": size,
        "spacing_mm": px,
        "dose": dose,
        "noise": bool(noise),
        "anatomy": anatomy.to_dict(),
        "conditions": [c.to_dict() for c in conds],
    }

    def radiograph(image: np.ndarray, what: str) -> Radiograph:
        step = Provenance("simulate", {**params, "version": what}, seed=seed)
        return Radiograph(
            image=image,
            spacing=(px, px),
            spacing_source="simulator",
            windows=WINDOWS,
            header={
                "Modality": "DX",
                "ViewPosition": "PA",
                "BodyPartExamined": "CHEST",
                "PatientSex": anatomy.sex,
                "ImageType": "DERIVED\\SECONDARY\\SYNTHETIC",
            },
            provenance=(step,),
            synthetic=True,
        )

    # one realisation of normal deviates serves both versions (common random numbers): the
    # diseased image differs from the healthy one only where the lesion changes the signal
    rng_h = np.random.default_rng([seed, 21])
    z = rng_h.standard_normal((size, size), dtype=np.float32) if noise else None
    det_h = pres.detail(p_h)
    img_h = pres.apply(p_h, det_h)
    healthy_clean = radiograph(img_h, "healthy clean")
    if noise:
        pn_h = physics.log_signal(physics.add_counting_noise(lam_h, rng_h, z=z), dose, px)
        healthy = radiograph(pres.apply(pn_h, det_h), "healthy noisy")
    else:
        healthy = healthy_clean
    report(progress, 3, steps)
    check_cancel(cancel)

    mask = np.zeros((size, size), np.uint8)
    diseased = diseased_clean = None
    if conds:
        line_d, mask = apply_conditions(phantom, conds, line_h)
        win = _changed_window(line_d, line_h, px, pres)
        img_d = img_h.copy()
        if noise:
            imgn_d = healthy.image.copy()
        if win is not None:
            outer, inner, local = win
            prim = physics.primary(line_d[outer], px)
            lam_d = physics.expected_counts(prim + scat[outer], dose, px)
            p_d = physics.log_signal(lam_d, dose, px)
            det_d = pres.detail(p_d)[local]
            img_d[inner] = pres.apply(p_d[local], det_d, inner)
            if noise:
                rng_d = np.random.default_rng([seed, 22])
                n_d = physics.add_counting_noise(lam_d[local], rng_d, z=z[inner])
                new = pres.apply(physics.log_signal(n_d, dose, px), det_d, inner)
                # where nothing changed keep the healthy pixel (its exact Poisson draws too)
                same = (lam_d[local] == lam_h[inner]) & (det_d == det_h[inner])
                imgn_d[inner] = np.where(same, imgn_d[inner], new)
        diseased_clean = radiograph(img_d, "diseased clean")
        diseased = radiograph(imgn_d, "diseased noisy") if noise else diseased_clean
    report(progress, steps, steps)
    return SimulatedCase(
        healthy=healthy,
        diseased=diseased,
        healthy_clean=healthy_clean,
        diseased_clean=diseased_clean,
        mask=mask,
        conditions=conds,
        lung_mask=phantom.lung_mask,
        rib_mask=phantom.rib_mask,
        lung_sides=phantom.sides,
        spacing=px,
        seed=seed,
        dose=dose,
        anatomy=anatomy.to_dict(),
    )


def _changed_window(
    line_d: np.ndarray, line_h: np.ndarray, px: float, pres: Presentation
) -> tuple[tuple[slice, slice], tuple[slice, slice], tuple[slice, slice]] | None:
    """Where the diseased image can differ from the healthy one.

    Returns (outer, inner, local): ``inner`` holds every pixel the lesion reaches through the
    detector blur and the unsharp mask; ``outer`` adds the reach of those filters again, so
    that computing on ``outer`` gives exact values on ``inner``; ``local`` is ``inner``
    relative to ``outer``. ``outer`` starts on even pixels so that the half-resolution
    unsharp mask lines up with the full-image one.
    """
    changed = line_d != line_h
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(changed.any(axis=0))
    reach = int(np.ceil(2.5 * physics.DETECTOR_BLUR_MM / px)) + 2
    reach += 2 * int(np.ceil(2.5 * pres.edge_sigma_px)) + 4
    h, w = line_d.shape

    def span(lo: int, hi: int, n: int, pad: int, even: bool) -> slice:
        a = max(lo - pad, 0)
        if even:
            a -= a % 2
        return slice(a, min(hi + 1 + pad, n))

    inner = (span(rows[0], rows[-1], h, reach, False), span(cols[0], cols[-1], w, reach, False))
    outer = (
        span(rows[0], rows[-1], h, 2 * reach, True),
        span(cols[0], cols[-1], w, 2 * reach, True),
    )
    local = tuple(
        slice(i.start - o.start, i.stop - o.start) for i, o in zip(inner, outer, strict=True)
    )
    return outer, inner, local  # type: ignore[return-value]


def simulate_noisy(
    clean: Radiograph | np.ndarray,
    dose: float,
    seed: int,
    *,
    spacing: float | None = None,
    electronic_sigma: float = physics.ELECTRONIC_SIGMA,
) -> Radiograph | np.ndarray:
    """Add the simulator's quantum and electronic noise to any clean image.

    The image's [0, 1] scale is read as a log signal ``p = lo + (hi - lo) * image`` with
    ``(lo, hi) =`` :data:`NOISY_LOG_RANGE` (bright = more attenuation, MONOCHROME2); the expected
    count is ``lam = dose * pixel_area * exp(-p)``; the detected count gets Poisson and Gaussian
    electronic noise, goes back through the log and onto [0, 1] (clipped). The variance of the
    result is ``(1 / lam + sigma_e**2 / lam**2) / (hi - lo)**2``: inversely proportional to the
    dose for quantum noise, and largest in bright (dense) parts.

    Parameters
    ----------
    clean : Radiograph or ndarray
        A 2-D image in [0, 1]. An array gives an array back; a Radiograph gives a Radiograph
        with one more provenance step.
    dose : float
        Photons per mm² without the patient.
    seed : int
        Seed of the noise.
    spacing : float, optional
        Pixel size in mm for the pixel area; default the radiograph's, else 0.35 mm.
    electronic_sigma : float
        Electronic noise, photons per pixel.
    """
    dose = physics.check_dose(dose)
    img = clean.image if isinstance(clean, Radiograph) else np.asarray(clean, np.float32)
    if img.ndim != 2:
        raise InputError(f"simulate_noisy takes one 2-D image, got shape {img.shape}")
    if not np.all(np.isfinite(img)):
        raise InputError("the image holds NaN or infinite values")
    if spacing is None:
        sp = clean.spacing if isinstance(clean, Radiograph) and clean.spacing else None
        spacing = float(np.mean(sp)) if sp else 0.35
    lo, hi = NOISY_LOG_RANGE
    p = lo + (hi - lo) * np.clip(img, 0.0, 1.0).astype(np.float32)
    lam = physics.expected_counts(np.exp(-p), dose, spacing)
    n = physics.add_counting_noise(lam, np.random.default_rng([int(seed), 31]), electronic_sigma)
    out = np.clip((physics.log_signal(n, dose, spacing) - lo) / (hi - lo), 0.0, 1.0)
    out = out.astype(np.float32)
    if isinstance(clean, Radiograph):
        step = Provenance(
            "simulate_noisy",
            {
                "dose": dose,
                "electronic_sigma": electronic_sigma,
                "log_range": list(NOISY_LOG_RANGE),
                "spacing_mm": spacing,
            },
            seed=int(seed),
        )
        return clean.derive(out, step)
    return out


def noisy_pairs(
    n: int,
    size: int = 256,
    dose: float | tuple[float, float] = DEFAULT_DOSE,
    seed: int = 0,
    pathology_fraction: float = 0.3,
) -> Iterator[tuple[np.ndarray, np.ndarray, float]]:
    """Yield ``n`` (clean, noisy, dose) float32 pairs from distinct simulated patients.

    ``dose`` may be a (low, high) range: each pair then draws its dose log-uniformly. A fraction
    of the patients carries a random lesion. Patient ``i`` uses seed ``seed + i``.
    """
    rng = np.random.default_rng([int(seed), 41])
    for i in range(int(n)):
        if isinstance(dose, tuple):
            d = float(np.exp(rng.uniform(np.log(dose[0]), np.log(dose[1]))))
        else:
            d = float(dose)
        cond = "random" if rng.random() < pathology_fraction else None
        case = simulate_chest(seed + i, size, cond, dose=d)
        if case.diseased is not None and case.diseased_clean is not None:
            yield case.diseased_clean.image, case.diseased.image, d
        else:
            yield case.healthy_clean.image, case.healthy.image, d


__all__ = [
    "DEFAULT_DOSE",
    "MIN_SIZE",
    "Anatomy",
    "SimulatedCase",
    "noisy_pairs",
    "random_condition",
    "simulate_chest",
    "simulate_noisy",
    "spacing_for",
]
