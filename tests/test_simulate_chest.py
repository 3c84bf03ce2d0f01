"""The chest simulator: determinism, exact truth, the noise model, bad input."""

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from napari_xray_synth.core import InputError
from napari_xray_synth.core.conditions import LABELS, PATHOLOGIES, Condition, render_soft_mask
from napari_xray_synth.core.simulate import (
    noisy_pairs,
    random_condition,
    simulate_chest,
    simulate_noisy,
)

SIZE = 256


@pytest.fixture(scope="module")
def cases():
    return {p: simulate_chest(40 + i, SIZE, p) for i, p in enumerate(PATHOLOGIES)}


def test_same_seed_bit_identical_other_seed_other_anatomy():
    a = simulate_chest(5, SIZE, "nodule")
    b = simulate_chest(5, SIZE, "nodule")
    for x, y in (
        (a.healthy.image, b.healthy.image),
        (a.diseased.image, b.diseased.image),
        (a.healthy_clean.image, b.healthy_clean.image),
        (a.mask, b.mask),
        (a.lung_mask, b.lung_mask),
    ):
        assert np.array_equal(x, y)
    assert a.conditions == b.conditions
    c = simulate_chest(6, SIZE, "nodule")
    assert not np.array_equal(a.lung_mask, c.lung_mask)
    assert np.abs(a.healthy_clean.image - c.healthy_clean.image).mean() > 0.01
    assert a.anatomy != c.anatomy


def test_healthy_case_and_outputs():
    case = simulate_chest(3, SIZE, noise=True)
    assert case.diseased is None and case.conditions == ()
    img = case.healthy.image
    assert img.shape == (SIZE, SIZE) and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0
    assert case.healthy.synthetic and case.healthy.spacing == pytest.approx((1.4, 1.4))
    assert case.healthy.provenance[0].seed == 3
    assert case.mask.max() == 0 and case.lung_mask.any() and case.rib_mask.any()
    # lungs are dark, the mediastinum and the abdomen bright (MONOCHROME2)
    clean = case.healthy_clean.image
    lung = clean[case.lung_mask & ~ndimage.binary_dilation(case.rib_mask, iterations=1)].mean()
    mid = clean[SIZE // 3 : SIZE // 2, SIZE // 2 - 3 : SIZE // 2 + 3].mean()
    assert lung < mid - 0.2
    # noise is there, and absent when asked
    assert np.abs(case.healthy.image - clean).mean() > 1e-3
    quiet = simulate_chest(3, SIZE, noise=False)
    assert np.array_equal(quiet.healthy.image, quiet.healthy_clean.image)


@pytest.mark.parametrize("pathology", PATHOLOGIES)
def test_every_pathology_renders_inside_its_mask(cases, pathology):
    case = cases[pathology]
    assert case.diseased is not None and len(case.conditions) == 1
    assert case.conditions[0].pathology == pathology
    lesion = case.mask == LABELS[pathology]
    assert lesion.sum() > 3
    diff = np.abs(case.diseased_clean.image - case.healthy_clean.image)
    # the lesion shows inside its mask...
    assert diff[lesion].mean() > 0.01
    # ...and nothing changes beyond it, up to detector blur and edge enhancement
    near = ndimage.binary_dilation(lesion, iterations=4)
    assert diff[~near].max() < 0.02
    assert diff[~near].mean() < 1e-3


@pytest.mark.parametrize("pathology", ["nodule", "effusion"])
def test_noisy_pair_shares_the_noise_outside_the_lesion(cases, pathology):
    case = cases[pathology]
    lesion = case.mask > 0
    diff = np.abs(case.diseased.image - case.healthy.image)
    far = ~ndimage.binary_dilation(lesion, iterations=12)
    # common random numbers: the same noise realisation away from the lesion...
    assert diff[far].max() == 0.0
    # ...but noise is there, and the lesion shows through it
    assert np.abs(case.diseased.image - case.diseased_clean.image).mean() > 1e-3
    assert diff[lesion].mean() > 0.01


def test_lesions_overlap_ribs_and_lie_in_the_lungs(cases):
    for p in ("nodule", "mass", "consolidation"):
        case = cases[p]
        lesion = case.mask > 0
        assert (lesion & case.lung_mask).sum() > 0.7 * lesion.sum()
    # over many seeds, nodules often sit on a rib
    hits = 0
    for s in range(6):
        c = simulate_chest(200 + s, 128, "nodule", noise=False)
        hits += bool((c.mask > 0)[c.rib_mask].any())
    assert hits >= 2


def test_noise_variance_follows_the_dose():
    flat = np.full((128, 128), 0.5, np.float32)
    v1 = np.var(simulate_noisy(flat, 1e5, seed=1))
    v4 = np.var(simulate_noisy(flat, 4e5, seed=1))
    # quantum noise: variance in the log domain goes as 1 / dose
    assert v1 / v4 == pytest.approx(4.0, rel=0.1)
    # brighter (denser) pixels are noisier
    dense = np.var(simulate_noisy(np.full((128, 128), 0.8, np.float32), 1e5, seed=1))
    assert dense > 2 * v1


def test_simulated_chest_noise_follows_the_dose():
    lo = simulate_chest(9, SIZE, dose=2.5e5)
    hi = simulate_chest(9, SIZE, dose=1e6)
    m = ndimage.binary_erosion(lo.lung_mask, iterations=3)
    v_lo = np.var((lo.healthy.image - lo.healthy_clean.image)[m])
    v_hi = np.var((hi.healthy.image - hi.healthy_clean.image)[m])
    assert v_lo / v_hi == pytest.approx(4.0, rel=0.2)


def test_simulate_noisy_keeps_radiograph_metadata():
    case = simulate_chest(2, 128, noise=False)
    noisy = simulate_noisy(case.healthy_clean, 2e5, seed=4)
    assert noisy.spacing == case.healthy_clean.spacing and noisy.synthetic
    assert noisy.provenance[-1].operation == "simulate_noisy"
    assert np.array_equal(noisy.image, simulate_noisy(case.healthy_clean, 2e5, seed=4).image)
    assert 0 <= noisy.image.min() and noisy.image.max() <= 1


def test_noisy_pairs():
    pairs = list(noisy_pairs(2, size=64, dose=(1e5, 1e6), seed=3))
    assert len(pairs) == 2
    clean, noisy, dose = pairs[0]
    assert clean.shape == noisy.shape == (64, 64) and 1e5 <= dose <= 1e6
    assert not np.array_equal(clean, noisy)


def test_random_condition_from_a_lung_mask(rng):
    case = simulate_chest(1, SIZE, noise=False)
    for p in PATHOLOGIES:
        c = random_condition(p, case.lung_mask, case.spacing, rng)
        assert c.pathology == p
        c.check_inside((SIZE, SIZE))
    c = random_condition("nodule", case.lung_mask, case.spacing, rng)
    assert case.lung_mask[int(c.center[0]), int(c.center[1])]


def test_cardiomegaly_from_a_lung_mask_sits_on_the_heart():
    """Placed from the lung mask alone, the enlarged heart is centred where the phantom's is."""
    for seed in (3, 11):
        case = simulate_chest(seed, SIZE, "cardiomegaly", noise=False)
        own = case.conditions[0]
        rng = np.random.default_rng(0)
        c = random_condition("cardiomegaly", case.lung_sides, case.spacing, rng)
        # the same anatomy: centres agree to a few mm (sizes differ, so does the 12 % lift)
        lift = 0.12 * (c.size_mm - own.size_mm) / case.spacing
        assert abs(c.center[0] + lift - own.center[0]) * case.spacing < 8.0
        assert abs(c.center[1] - own.center[1]) * case.spacing < 8.0


def test_explicit_condition_and_bad_input():
    c = Condition("nodule", (100, 80), 20.0, 0.9, margin="spiculated")
    case = simulate_chest(1, SIZE, c, noise=False)
    assert case.conditions == (c,) and case.mask[100, 80] == LABELS["nodule"]
    with pytest.raises(InputError, match="at least 64"):
        simulate_chest(1, 32)
    with pytest.raises(InputError, match="unknown pathology"):
        simulate_chest(1, 64, "tumour")
    with pytest.raises(InputError, match="severity"):
        simulate_chest(1, 64, Condition("nodule", (30, 30), 10, severity=1.5))
    with pytest.raises(InputError, match="outside"):
        simulate_chest(1, 64, Condition("nodule", (300, 30), 10))
    with pytest.raises(InputError, match="dose"):
        simulate_chest(1, 64, dose=0)
    with pytest.raises(InputError, match="dose"):
        simulate_noisy(np.zeros((8, 8)), -1, seed=0)


def test_consolidation_is_one_blob_with_an_ill_defined_margin():
    """Airspace disease: one region without holes or fingers, its filling fading in at the
    border (a sharp-edged, amoeboid opacity reads as a mass, not as consolidation)."""
    holes = pieces = 0
    ratios = []
    for s in range(8):
        case = simulate_chest(700 + s, 512, "consolidation", noise=False)
        hard = case.mask > 0
        _, n = ndimage.label(hard)
        pieces += n > 1
        holes += int((ndimage.binary_fill_holes(hard) & ~hard).sum() > 0)
        delta = case.diseased_clean.image - case.healthy_clean.image
        depth = ndimage.distance_transform_edt(hard)
        radius = case.conditions[0].size_mm / 2 / case.spacing
        rim = hard & (depth <= max(0.08 * radius, 1.5))
        core = depth >= 0.4 * radius
        if rim.any() and core.any():
            ratios.append(np.median(delta[rim]) / np.median(delta[core]))
    # (about 3 % of random consolidations carry a small satellite from the outline noise)
    assert pieces <= 1 and holes <= 1
    # the rim is filled to about a quarter of the core, not to most of it
    assert len(ratios) >= 6 and np.median(ratios) < 0.55


def test_consolidation_against_the_heart_hides_its_border():
    """The silhouette sign: where the lung field cuts a consolidation (here at the heart), the
    filling stays dense up to the cut, so the heart border beside it loses most of its contrast
    (a filling that fades at the cut, as at a free margin, kept about half of it)."""
    ratios = []
    for seed in range(710, 716):
        base = simulate_chest(seed, 512, "consolidation", noise=False)
        lung = base.lung_sides == 2
        rows = np.flatnonzero(lung.any(axis=1))
        r = int(rows[0] + 0.7 * (rows[-1] - rows[0]))
        c = int(np.flatnonzero(lung[r])[0]) + 12  # just lateral to the left heart border
        cond = dataclasses.replace(
            base.conditions[0], center=(float(r), float(c)), size_mm=90.0, severity=0.9
        )
        case = simulate_chest(seed, 512, [cond], noise=False)
        px = case.spacing
        free = render_soft_mask(cond, lung.shape, px) > 0.5  # the outline before the cut
        deep = ndimage.distance_transform_edt(free) * px >= 0.3 * cond.size_mm / 2
        d_in = ndimage.distance_transform_edt(lung) * px
        d_out = ndimage.distance_transform_edt(~lung) * px
        inner = deep & lung & (d_in > 1) & (d_in <= 6)
        outer = deep & ~lung & (d_out > 1) & (d_out <= 6)
        h, d = case.healthy_clean.image, case.diseased_clean.image
        step_h = h[outer].mean() - h[inner].mean()
        step_d = d[outer].mean() - d[inner].mean()
        assert step_h > 0.05  # the healthy heart border is there to lose
        ratios.append(step_d / step_h)
    assert np.median(ratios) < 0.25


def test_consolidation_is_near_homogeneous_inside():
    """Lobar consolidation is a near-homogeneous opacity with air bronchograms: inside its core
    the 10-90 % spread of the added density is well under its median (a filling that varied
    from 0.4 to 1.0 gave 0.79 and drew dark round gaps that read as cavities)."""
    spreads = []
    for s in range(8):
        case = simulate_chest(700 + s, 512, "consolidation", noise=False)
        hard = case.mask > 0
        radius = case.conditions[0].size_mm / 2 / case.spacing
        core = ndimage.distance_transform_edt(hard) >= 0.4 * radius
        delta = case.diseased_clean.image - case.healthy_clean.image
        lo, hi = np.percentile(delta[core], [10, 90])
        spreads.append((hi - lo) / np.median(delta[core]))
    assert np.median(spreads) < 0.6
