"""Lung-field estimate and lesion placement on a crude synthetic chest."""

from __future__ import annotations

import numpy as np

from napari_xray_synth.core.conditions import PATHOLOGIES, render_mask
from napari_xray_synth.core.lung_field import estimate_lung_fields, template_fields
from napari_xray_synth.core.placement import place_condition


def chest(shape=(200, 180)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = shape
    rr, cc = np.mgrid[0:h, 0:w]
    img = np.full(shape, 0.1, np.float32)
    img[((rr - 0.5 * h) / (0.48 * h)) ** 2 + ((cc - 0.5 * w) / (0.46 * w)) ** 2 <= 1] = 0.7
    lungs = []
    for cx in (0.33, 0.67):
        lung = ((rr - 0.45 * h) / (0.25 * h)) ** 2 + ((cc - cx * w) / (0.12 * w)) ** 2 <= 1
        img[lung] = 0.25
        lungs.append(lung)
    return img, lungs[0], lungs[1]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * (a & b).sum() / (a.sum() + b.sum())


def test_threshold_finds_the_lungs():
    img, right, left = chest()
    f = estimate_lung_fields(img)
    assert f.method == "threshold"
    assert dice(f.right, right) > 0.85 and dice(f.left, left) > 0.85


def test_flat_image_falls_back_to_template():
    f = estimate_lung_fields(np.full((64, 64), 0.5, np.float32))
    assert f.method == "template"
    np.testing.assert_array_equal(f.right, template_fields((64, 64)).right)


def test_lesions_are_placed_in_the_lungs():
    img, right, left = chest()
    f = estimate_lung_fields(img)
    rng = np.random.default_rng(0)
    for _ in range(5):
        for p in PATHOLOGIES:
            c = place_condition(rng, p, f, 2.0)
            r, col = (round(v) for v in c.center)
            if p == "cardiomegaly":
                assert not (right | left)[r, col] and c.side is None
                continue
            lung = f.side(c.side)
            assert lung[r, col], (p, c.center, c.side)
            if p in ("nodule", "mass"):  # the whole lesion lies in the (estimated) lung
                m = render_mask(c, img.shape, 2.0)
                assert (m & lung).sum() >= 0.9 * m.sum()
    a = place_condition(np.random.default_rng(3), "nodule", f, 2.0)
    b = place_condition(np.random.default_rng(3), "nodule", f, 2.0)
    assert a == b
