import numpy as np
import pytest

from napari_xray_synth.core import InputError
from napari_xray_synth.core.conditions import (
    PATHOLOGIES,
    Condition,
    condition_maps,
    label_mask,
    render_mask,
)


@pytest.mark.parametrize("pathology", PATHOLOGIES)
def test_every_pathology_renders_near_its_centre(pathology):
    size = {
        "nodule": 12,
        "mass": 50,
        "effusion": 40,
        "pneumothorax": 20,
        "consolidation": 50,
        "cardiomegaly": 170,
    }[pathology]
    cond = Condition(pathology, (128, 90), size, 0.7, shape_seed=3)
    mask = render_mask(cond, (256, 256), 1.0)
    assert mask.any()
    rows, cols = np.nonzero(mask)
    # the lesion lies at the clicked point, and does not spread over the whole image
    assert np.hypot(rows - 128, cols - 90).min() < size / 2 + 2
    assert mask.mean() < 0.5
    # the same condition always renders the same mask
    assert np.array_equal(mask, render_mask(cond, (256, 256), 1.0))


def test_nodule_diameter_matches_size():
    mask = render_mask(Condition("nodule", (50, 50), 20.0), (100, 100), 0.5)
    diameter_mm = 2 * np.sqrt(mask.sum() / np.pi) * 0.5
    assert diameter_mm == pytest.approx(20.0, rel=0.05)


def test_maps_scale_with_severity():
    c = Condition("nodule", (32, 32), 10.0, severity=0.25)
    maps = condition_maps([c], (64, 64), 1.0)
    assert maps.shape == (len(PATHOLOGIES), 64, 64)
    assert maps[0].max() == pytest.approx(0.25, abs=0.01) and maps[1:].max() == 0
    labels = label_mask([c], (64, 64), 1.0)
    assert set(np.unique(labels)) == {0, 1}


def test_bad_conditions_are_refused():
    with pytest.raises(InputError, match="unknown pathology"):
        Condition("tumour", (1, 1), 10)
    with pytest.raises(InputError, match="severity"):
        Condition("nodule", (1, 1), 10, severity=1.5)
    with pytest.raises(InputError, match="3 to 30 mm"):
        Condition("nodule", (1, 1), 50)
    with pytest.raises(InputError, match="outside"):
        render_mask(Condition("nodule", (300, 1), 10), (64, 64), 1.0)
    round_trip = Condition.from_dict(Condition("mass", (3, 4), 40, side="left").to_dict())
    assert round_trip == Condition("mass", (3, 4), 40, side="left")
