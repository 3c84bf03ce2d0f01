"""A GAN pneumothorax finished at the film's own resolution: no lung markings in the air rim,
and the visceral pleural line.

What makes a pneumothorax is fine: the rim of pleural air between the chest wall and the
collapsed lung has no vessels in it, and the lung's edge is a thin white line. The GAN sees a
pneumothorax's window at 2-3 mm per pixel (64 px over the 150 mm or more of the rim): it darkens
the rim, but it can neither take out vessels 1-3 mm wide nor draw a line a millimetre thick. On a
user's film the rim kept its vessels and read as normal lung.

:func:`finish_pneumothorax` does those two things after the GAN, where the soft mask says
(weighted by the mask and the severity, "how little lung is left"):

* markings: the white top-hat of the film (the film, smoothed by ``NOISE_MM`` so that its noise
  stays, minus its grey opening by a ``MARKINGS_MM`` square, at least 3 pixels: the bright
  structures narrower than that, vessels rather than ribs), ``MARKINGS_SHARE`` of it, is taken away;
* line: the physics method's pleural line (:func:`synth_physics.pleural_line`) at
  ``LINE_SHARE`` of its amplitude.

The two shares are those that bring the GAN's pneumothoraces closest (least squares in the
mask) to the simulator's own on the validation chests: the simulator's line is fainter than
the physics method's, and its rim keeps some fine texture.

Nothing changes outside the mask, and the GAN's coarse residual is kept as it is.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_xray_synth.core.conditions import Condition
from napari_xray_synth.core.synth_physics import AMPLITUDE, pleural_line

#: Pathologies the GAN's output is finished for here.
FINISHED = frozenset({"pneumothorax"})
#: Bright structures narrower than this (mm; at least 3 pixels) are lung markings taken out of
#: the rim.
MARKINGS_MM = 3.0
#: Share of those markings taken out at severity 1, and the line's peak as a share of the
#: physics method's pneumothorax amplitude: least squares against the simulator's own
#: pneumothoraces on the validation chests (seeds 800000..), not the evaluation set.
MARKINGS_SHARE = 0.4
LINE_SHARE = 0.17
#: Smoothing (mm) before the top-hat, so that the film's noise is not taken out with them.
NOISE_MM = 0.5
#: The rule in words, for the provenance.
RULE = (
    f"pneumothorax finished at full resolution: {MARKINGS_SHARE:.0%} of the markings "
    f"narrower than {MARKINGS_MM:g} mm (white top-hat) taken out of the rim, visceral pleural "
    f"line at {LINE_SHARE:g} of the physics amplitude"
)


def markings(image: np.ndarray, px: float) -> np.ndarray:
    """White top-hat of ``image``: its bright structures narrower than :data:`MARKINGS_MM`."""
    smooth = ndimage.gaussian_filter(image.astype(np.float32), max(NOISE_MM / px, 0.5))
    side = max(round(MARKINGS_MM / px), 3)
    return smooth - ndimage.grey_opening(smooth, size=(side, side), mode="reflect")


def finish_pneumothorax(
    before: np.ndarray,
    after: np.ndarray,
    soft: np.ndarray,
    cond: Condition,
    px: float,
    scale: float,
    marks: np.ndarray | None = None,
) -> np.ndarray:
    """Take the film's markings out of a pneumothorax's rim and draw its pleural line.

    Parameters
    ----------
    before : ndarray
        The film in the condition's box before the GAN (its markings are measured here).
    after : ndarray
        The same box after the GAN; not modified.
    soft : ndarray
        The condition's soft mask over the box (lung-clipped when the variant is).
    cond : Condition
        The pneumothorax, in the box's coordinates (its severity and side).
    px : float
        Pixel size in mm.
    scale : float
        The film's contrast range (:func:`synth_physics.contrast_scale`).
    marks : ndarray, optional
        ``markings(before, px)`` when the caller has it already (the same film in every
        variant); measured here otherwise.

    Returns
    -------
    ndarray
        The finished box, float32 in [0, 1]; equal to ``after`` where ``soft`` is 0.
    """
    soft = np.clip((soft - 0.02) / 0.98, 0.0, 1.0).astype(np.float32)
    sev = float(cond.severity)
    lateral = -1.0 if cond.patient_side(before.shape) == "right" else 1.0
    if marks is None:
        marks = markings(before, px)
    out = after - MARKINGS_SHARE * soft * sev * marks
    amp = AMPLITUDE["pneumothorax"] * scale * sev
    out = out + LINE_SHARE * amp * pleural_line(soft, lateral)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
