"""The physics method's consolidation where the lung region cuts it and beside the heart."""

import numpy as np

from napari_xray_synth.core.conditions import Condition, render_soft_mask
from napari_xray_synth.core.radiograph import Radiograph
from napari_xray_synth.core.synth_physics import add_lesion, contrast_scale
from napari_xray_synth.core.synthesize import synthesize


def _added_across(region: np.ndarray | None) -> np.ndarray:
    """Column profile of what a 60 mm physics consolidation adds to a flat film (4 seeds)."""
    img = np.full((256, 256), 0.4, np.float32)
    rg = Radiograph(img, (0.5, 0.5), "flat")
    cond = Condition("consolidation", (128.0, 110.0), 60.0, 1.0)
    added = [
        synthesize(rg, [cond], 1, seed=s, method="physics", regions=[region])[0].radiograph.image
        - img
        for s in range(4)
    ]
    return np.mean(added, 0)[108:148].mean(0)


def test_a_cut_consolidation_stays_dense_up_to_the_cut():
    region = np.zeros((256, 256), bool)
    region[:, :128] = True  # the lung ends at column 128 (the heart border, say)
    prof = _added_across(region)
    # 0.5 mm pixels: 4-6 mm inside the cut the filling is as dense as 8 mm in (the silhouette
    # sign); when the fade was measured from the clipped outline it was 0.76 of it at 4 mm
    deep = prof[112]
    assert np.all(prof[116:121] >= 0.95 * deep)
    # ... then fades over the last few mm, and nothing is drawn beyond the cut
    assert prof[127] < 0.4 * deep
    assert np.all(np.abs(prof[128:]) < 1e-6)
    # where the outline is free (its left edge near column 50) the margin still grades in
    assert prof[54] < 0.3 * deep


def test_fluid_beside_the_heart_is_held_to_the_heart_level():
    # a film whose "heart" (0.70, left) grades into a "lung" (0.20) over 20 mm, as a real heart
    # border does; the region starts 2 mm into the grade, as the estimated lung field does, so
    # the lesion reaches bright pixels of the edge: unheld, they pass the tissue's level (0.66,
    # a high percentile of what lies beside) in a band brighter than the heart beside it
    px, level = 0.5, 0.66
    cols = np.arange(200, dtype=np.float32)
    row = 0.2 + 0.5 * np.clip((96.0 - cols) / 40.0, 0.0, 1.0)
    img = np.repeat(row[None], 200, axis=0)
    region = np.zeros(img.shape, bool)
    region[:, 60:] = True
    cond = Condition("consolidation", (100.0, 100.0), 60.0, 1.0)
    soft = render_soft_mask(cond, img.shape, px, region)
    free = render_soft_mask(cond, img.shape, px)
    scale = contrast_scale(img)

    def draw(lv):
        return add_lesion(img, soft, cond, px, scale, np.random.default_rng(0), free, region, lv)

    unheld, held = draw(None), draw(level)
    assert unheld[:, 60:].max() > level + 0.02  # the band this guards against
    assert held[:, 60:].max() <= level + 1e-6
    # well below the level the lesion is drawn as before
    low = unheld < level - 0.1 * scale - 0.01
    assert (low & (held > img + 0.05)).sum() > 1000
    assert np.allclose(held[low], unheld[low], atol=1e-6)
