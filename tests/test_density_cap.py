"""The soft-tissue ceiling on the GAN's brightening of effusion and consolidation."""

import numpy as np
import pytest

from napari_xray_synth.core.density_cap import (
    TissueLevels,
    cap_to_level,
    heart_level,
    soft_tissue_level,
)
from napari_xray_synth.core.lung_field import LungFields


def _film():
    """Dark lungs (0.2) over bright abdomen (0.7), body 0.5 elsewhere; 1 mm pixels."""
    img = np.full((300, 300), 0.5, np.float32)
    right = np.zeros(img.shape, bool)
    left = np.zeros(img.shape, bool)
    right[40:200, 40:130] = True
    left[40:200, 170:260] = True
    img[right | left] = 0.2
    img[200:, :] = 0.7
    return img, LungFields(right=right, left=left, method="threshold")


def test_level_is_the_tissue_under_the_lung():
    img, fields = _film()
    img[230:, 200:] = 0.9  # the band under the left lung (10-40 mm below it) is partly brighter
    assert soft_tissue_level(img, fields, "right", 1.0) == pytest.approx((0.7, 0.7))
    level, top = soft_tissue_level(img, fields, "left", 1.0)
    assert 0.7 < level <= top <= 0.9


def test_no_level_without_a_threshold_lung_field():
    img, fields = _film()
    template = LungFields(right=fields.right, left=fields.left, method="template")
    assert soft_tissue_level(img, template, "right", 1.0) is None
    low = LungFields(right=np.roll(fields.right, 99, axis=0), left=fields.left, method="threshold")
    assert soft_tissue_level(img, low, "right", 1.0) is None  # no tissue below: film ends


def test_cap_limits_a_bright_lesion_and_leaves_a_faint_one():
    img, _ = _film()
    box = (slice(100, 220), slice(30, 140))
    bright = img.copy()
    bright[150:200, 40:130] += 0.8  # would turn the base far whiter than the abdomen
    capped = cap_to_level(img, bright, 0.7, 1.0, box)
    assert capped[160:190, 60:110].max() < 0.75
    assert capped[160:190, 60:110].min() > 0.6  # still dense: the lesion is there
    # a level given as a bare number of any numeric type caps the same way
    for level in (np.float32(0.7), 0.7):
        np.testing.assert_allclose(cap_to_level(img, bright, level, 1.0, box), capped, atol=1e-6)
    faint = img.copy()
    faint[150:200, 40:130] += 0.2  # stays under the level: untouched
    np.testing.assert_array_equal(cap_to_level(img, faint, 0.7, 1.0, box), faint)
    dark = img.copy()
    dark[150:200, 40:130] -= 0.1  # darkening (a pneumothorax-like change) is not capped
    np.testing.assert_array_equal(cap_to_level(img, dark, 0.7, 1.0, box), dark)
    # with a top, no single pixel of the lesion passes it; those under the level are kept
    speck = img.copy()
    speck[150:200, 40:130] += 0.2
    speck[170, 80] = 0.99  # one bright speck over a lesion that is at the level on average
    out = cap_to_level(img, speck, TissueLevels(0.7, 0.8), 1.0, box)
    assert out[150:200, 40:130].max() < 0.8
    np.testing.assert_array_equal(out[150:200, 40:130] <= 0.7, speck[150:200, 40:130] <= 0.7)
    outside = bright.copy()
    outside[10:20, 10:20] += 0.5  # outside the box nothing is touched
    out = cap_to_level(img, outside, 0.7, 1.0, box)
    np.testing.assert_array_equal(out[10:20, 10:20], outside[10:20, 10:20])


def test_gan_effusion_is_capped_at_the_level_of_its_film(monkeypatch):
    from napari_xray_synth.core import synthesize as synth_mod
    from napari_xray_synth.core.conditions import Condition
    from napari_xray_synth.core.radiograph import Radiograph
    from napari_xray_synth.core.simulate import simulate_chest

    case = simulate_chest(11, 256, conditions=None)
    rg = Radiograph(np.asarray(case.healthy.image, np.float32), (case.spacing,) * 2, "film")
    rows, cols = np.nonzero(np.asarray(case.lung_sides) == 1)
    at = (float(np.percentile(rows, 90)), float(np.median(cols)))
    cond = Condition("effusion", at, 60.0, 1.0)
    (free,) = synth_mod.synthesize(rg, [cond], 1, seed=0, method="gan", regions="lung")
    m = free.mask > 0
    params = free.radiograph.provenance[-1].parameters
    assert "percentile" in params["density_cap"] and params["density_cap_levels"][0][0] > 0.3
    # a film whose tissue is barely brighter than its lung base: the cap must bind
    level = float(np.median(rg.image[m])) + 0.02
    top = level + 0.05
    monkeypatch.setattr(synth_mod, "soft_tissue_level", lambda *a: TissueLevels(level, top))
    (capped,) = synth_mod.synthesize(rg, [cond], 1, seed=0, method="gan", regions="lung")
    levels = capped.radiograph.provenance[-1].parameters["density_cap_levels"]
    assert levels == [[round(level, 4), round(top, 4)]]
    assert capped.radiograph.image[m].max() <= max(top, rg.image[m].max()) + 1e-6
    assert np.all(capped.radiograph.image <= free.radiograph.image + 1e-6)
    assert np.median(capped.radiograph.image[m]) < np.median(free.radiograph.image[m]) - 0.02
    assert np.median(capped.radiograph.image[m]) <= level + 0.02
    np.testing.assert_array_equal(capped.mask, free.mask)


def test_an_enlarged_heart_is_held_to_the_old_heart_shadow():
    img, fields = _film()
    img[60:200, 130:170] = 0.6  # the heart between the lungs
    mask = np.zeros(img.shape, bool)
    mask[100:200, 100:200] = True  # an enlarged heart reaching into both lungs
    level, top = heart_level(img, fields, mask)
    assert level == pytest.approx(0.6) and top == pytest.approx(0.6)
    template = LungFields(right=fields.right, left=fields.left, method="template")
    assert heart_level(img, template, mask) is None
    assert heart_level(img, fields, mask & fields.both) is None  # no old heart in the mask


def test_gan_cardiomegaly_is_capped_at_its_old_heart():
    from napari_xray_synth.core.radiograph import Radiograph
    from napari_xray_synth.core.simulate import simulate_chest
    from napari_xray_synth.core.synthesize import synthesize

    case = simulate_chest(11, 256, conditions=["cardiomegaly"])
    cond = case.conditions[0]
    rg = Radiograph(np.asarray(case.healthy.image, np.float32), (case.spacing,) * 2, "film")
    (v,) = synthesize(rg, [cond], 1, seed=0, method="gan")
    ((level, top),) = v.radiograph.provenance[-1].parameters["density_cap_levels"]
    old_heart = rg.image[(v.mask > 0) & (np.asarray(case.lung_sides) == 0)]
    assert np.percentile(old_heart, 50) <= level <= top <= old_heart.max() + 1e-6


def test_a_consolidation_is_held_to_the_tissue_it_abuts():
    from napari_xray_synth.core.density_cap import abutting_level, lower_levels

    img, fields = _film()
    img[60:200, 130:170] = 0.45  # the heart between the lungs, darker than the abdomen (0.7)
    mask = np.zeros(img.shape, bool)
    mask[100:160, 140:200] = True  # a consolidation in the left lung against the heart
    mask &= fields.left | (img == 0.45)
    level, top = abutting_level(img, fields, mask, 1.0)
    assert level == pytest.approx(0.45, abs=0.06)  # the heart, not the abdomen's 0.7
    under = soft_tissue_level(img, fields, "left", 1.0)
    assert lower_levels(under, TissueLevels(level, top)) == (level, top)
    assert lower_levels(None, under) == under and lower_levels(None, None) is None
    # in mid-lung it abuts nothing that is not lung: no level of its own
    mid = np.zeros(img.shape, bool)
    mid[100:130, 200:230] = True
    assert abutting_level(img, fields, mid, 1.0) is None


def test_each_gan_consolidation_is_capped_at_its_own_neighbours():
    from napari_xray_synth.core.conditions import Condition
    from napari_xray_synth.core.radiograph import Radiograph
    from napari_xray_synth.core.simulate import simulate_chest
    from napari_xray_synth.core.synthesize import synthesize

    case = simulate_chest(403, 256, conditions=None)
    px = case.spacing
    rg = Radiograph(np.asarray(case.healthy.image, np.float32), (px, px), "film")
    sides = np.asarray(case.lung_sides)
    left, right = sides == 2, sides == 1
    rows = np.nonzero(left.any(axis=1))[0]
    r = int(rows.min() + 0.72 * (rows.max() - rows.min()))
    heart = Condition(
        "consolidation", (float(r), float(np.nonzero(left[r])[0].min() + 12 / px)), 80.0, 0.9
    )
    rr, cc = np.nonzero(right)
    mid = Condition("consolidation", (float(np.median(rr)), float(np.median(cc))), 25.0, 0.9)

    def levels(conds):
        (v,) = synthesize(rg, conds, 1, seed=0, method="gan", regions="lung")
        return v.radiograph.provenance[-1].parameters["density_cap_levels"]

    (alone,) = levels([mid])
    both = levels([heart, mid])
    assert both[1] == pytest.approx(alone)  # the other lung's heart border is not its neighbour
    assert both[0][0] < alone[0]  # the one against the heart is held to the heart
