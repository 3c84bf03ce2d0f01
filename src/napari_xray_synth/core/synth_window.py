"""Windows around a condition: where a lesion can reach, so that work stays local.

A 3000 x 3000 radiograph with a 10 mm nodule only needs a few hundred pixels around the nodule
rendered and changed. :func:`condition_box` gives a box that holds every pixel where the
condition's soft mask is above about 1e-4 (from the geometry of ``conditions.render_soft_mask``);
:func:`local_condition` moves the condition into the box's coordinates so that the one renderer
draws exactly what it would draw on the whole image there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from napari_xray_synth.core.conditions import Condition, label_mask, render_soft_mask


@dataclass(frozen=True)
class Box:
    """A rectangle of an image: rows ``r0:r1``, columns ``c0:c1``."""

    r0: int
    r1: int
    c0: int
    c1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """Index the box in an image."""
        return slice(self.r0, self.r1), slice(self.c0, self.c1)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the box."""
        return self.r1 - self.r0, self.c1 - self.c0


def spacing_scalar(spacing: float | Sequence[float]) -> float:
    """The mean pixel size in mm (the renderer works with one number)."""
    return float(np.mean(np.atleast_1d(np.asarray(spacing, dtype=float))))


def reach_px(cond: Condition, px: float) -> tuple[float, float]:
    """Half extents (rows, columns) in pixels, from the centre, that hold the whole soft mask.

    Generous on purpose (spicules, soft tails of twelve edge widths): the box is only a bound.
    """
    s = cond.size_mm / px
    p = cond.pathology
    if p in ("nodule", "mass"):
        r = s / 2
        edge = max(r * 0.08, 0.7)
        h = 2.6 * r + 12 * edge + 3
        return h, h
    if p == "cardiomegaly":
        edge = max(s * 0.01, 1.0)
        return 0.42 * s + 12 * edge + 3, 0.5 * s + 12 * edge + 3
    if p == "effusion":
        edge = max(s * 0.04, 1.0)
        width = s * 1.8 + 20.0 / px
        return 0.75 * s + 12 * edge + 3, width / 2 + 12 * edge + 3
    if p == "pneumothorax":
        edge = max(s * 0.05, 0.8)
        a_out = 2.5 * s + 60.0 / px
        b_out = 1.2 * s + 30.0 / px
        return 0.66 * a_out + 30 * edge + 3, 2 * b_out + 12 * edge + 3
    # consolidation: nothing beyond 1.25 radii
    return 1.25 * s / 2 + 3, 1.25 * s / 2 + 3


def condition_box(cond: Condition, shape: tuple[int, int], px: float, grow: float = 0.0) -> Box:
    """The box, clipped to the image, that holds the condition (plus ``grow`` pixels).

    The box starts on even rows and columns so that moving the condition into it never
    changes how its centre rounds.
    """
    hr, hc = reach_px(cond, px)
    r, c = cond.center
    r0 = max(int(np.floor(r - hr - grow)), 0)
    c0 = max(int(np.floor(c - hc - grow)), 0)
    r0 -= r0 % 2
    c0 -= c0 % 2
    r1 = min(int(np.ceil(r + hr + grow)) + 1, shape[0])
    c1 = min(int(np.ceil(c + hc + grow)) + 1, shape[1])
    return Box(r0, r1, c0, c1)


def local_condition(cond: Condition, box: Box, shape: tuple[int, int]) -> Condition:
    """The condition in the box's coordinates, its side fixed from the whole image."""
    return dataclasses.replace(
        cond,
        center=(cond.center[0] - box.r0, cond.center[1] - box.c0),
        side=cond.patient_side(shape),
    )


def _crop(region: np.ndarray | None, box: Box) -> np.ndarray | None:
    return None if region is None else np.asarray(region)[box.slices]


def soft_mask_in_box(
    cond: Condition,
    box: Box,
    shape: tuple[int, int],
    px: float,
    region: np.ndarray | None = None,
) -> np.ndarray:
    """The condition's soft mask over ``box`` only, drawn by the one renderer."""
    return render_soft_mask(local_condition(cond, box, shape), box.shape, px, _crop(region, box))


def label_mask_local(
    conditions: Sequence[Condition],
    shape: tuple[int, int],
    px: float,
    regions: Sequence[np.ndarray | None] | None = None,
) -> np.ndarray:
    """``conditions.label_mask`` for the whole image, rendered box by box (same result, faster)."""
    out = np.zeros(shape, np.uint8)
    for i, cond in enumerate(conditions):
        box = condition_box(cond, shape, px)
        region = regions[i] if regions is not None else None
        local = label_mask([local_condition(cond, box, shape)], box.shape, px, [_crop(region, box)])
        view = out[box.slices]
        view[local > 0] = local[local > 0]
    return out
