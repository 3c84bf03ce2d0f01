"""A GAN pneumothorax finished at full resolution: markings out of the rim, the pleural line."""

import numpy as np

from napari_xray_synth.core import pleural_finish as pf
from napari_xray_synth.core.conditions import Condition
from napari_xray_synth.core.synth_window import condition_box, soft_mask_in_box


def _rim():
    """A 1 mm film of lung (0.3) with a 2 mm vessel and a 12 mm rib across it, and a rim mask
    covering the lateral (low-column, right lung) third, its inner edge a soft ramp."""
    img = np.full((120, 120), 0.3, np.float32)
    img[:, 20:22] += 0.2  # a vessel running down the rim
    img[60:72, :] += 0.2  # a rib across the whole film
    cols = np.arange(120, dtype=np.float32)[None]
    soft = np.clip((40 - cols) / 6.0 + 0.5, 0.0, 1.0) * np.ones((120, 1), np.float32)
    return img, soft


def test_markings_in_the_rim_go_and_ribs_stay():
    img, soft = _rim()
    cond = Condition("pneumothorax", (60.0, 20.0), 30.0, 1.0, side="right")
    after = img - 0.05  # the GAN's darkening: the markings are measured on the film before it
    out = pf.finish_pneumothorax(img, after, soft, cond, 1.0, scale=0.5)
    # the vessel: MARKINGS_SHARE of its 0.2 taken away (the smoothing keeps a little of it)
    removed = after[30, 20] - out[30, 20]
    assert 0.7 * pf.MARKINGS_SHARE * 0.2 < removed <= pf.MARKINGS_SHARE * 0.2 + 1e-6
    # the rib (12 mm, wider than MARKINGS_MM) stays as the GAN left it inside the rim
    assert abs(out[66, 10] - after[66, 10]) < 1e-3
    # nothing changes where the mask is 0
    np.testing.assert_array_equal(out[:, 60:], after[:, 60:])


def test_the_pleural_line_is_on_the_lung_side_of_the_rim():
    img = np.full((120, 120), 0.3, np.float32)
    cols = np.arange(120, dtype=np.float32)[None]
    # a rim band from the chest wall (col 10) to the lung's edge (col 40), right lung
    soft = np.clip(np.minimum((40 - cols) / 6.0, (cols - 10) / 6.0) + 0.5, 0, 1)
    soft = soft * np.ones((120, 1), np.float32)
    cond = Condition("pneumothorax", (60.0, 25.0), 30.0, 1.0, side="right")
    out = pf.finish_pneumothorax(img, img, soft, cond, 1.0, scale=0.5)
    profile = out[60] - img[60]
    assert profile[35:46].max() > 0.005  # a bright line at the lung's edge (col 40)
    assert profile[5:16].max() < 1e-6  # none at the chest wall (col 10)


def test_gan_pneumothorax_is_finished_and_records_it(monkeypatch):
    from napari_xray_synth.core import synthesize as synth_mod
    from napari_xray_synth.core.radiograph import Radiograph
    from napari_xray_synth.core.simulate import simulate_chest

    case = simulate_chest(5, 256, conditions=["pneumothorax"])
    cond = case.conditions[0]
    rg = Radiograph(np.asarray(case.healthy.image, np.float32), (case.spacing,) * 2, "film")
    (done,) = synth_mod.synthesize(rg, [cond], 1, seed=0, method="gan")
    assert "top-hat" in done.radiograph.provenance[-1].parameters["pneumothorax_finish"]
    monkeypatch.setattr(synth_mod, "finish_pneumothorax", lambda before, after, *a, **kw: after)
    (raw,) = synth_mod.synthesize(rg, [cond], 1, seed=0, method="gan")
    changed = np.abs(done.radiograph.image - raw.radiograph.image) > 1e-6
    assert changed.any()
    # only on the lesion: where its soft mask is (the pleural line runs along the mask's edge)
    box = condition_box(cond, rg.shape, case.spacing)
    soft = np.zeros(rg.shape, np.float32)
    soft[box.slices] = soft_mask_in_box(cond, box, rg.shape, case.spacing, None)
    assert not changed[soft <= 0.02].any()
    assert changed[done.mask > 0].sum() > changed[done.mask == 0].sum()
    np.testing.assert_array_equal(done.mask, raw.mask)
    nodule = Condition("nodule", cond.center, 10.0, 0.8)
    (other,) = synth_mod.synthesize(rg, [nodule], 1, seed=0, method="gan")
    assert "pneumothorax_finish" not in other.radiograph.provenance[-1].parameters


def _left_rim_film():
    """A simulated healthy chest and a pneumothorax at its left lateral wall, no side given,
    its box running past the image's right border."""
    from napari_xray_synth.core.radiograph import Radiograph
    from napari_xray_synth.core.simulate import simulate_chest

    case = simulate_chest(5, 256, conditions=None)
    rg = Radiograph(np.asarray(case.healthy.image, np.float32), (case.spacing,) * 2, "film")
    cond = Condition("pneumothorax", (100.0, 240.0), 30.0, 1.0)
    return rg, cond


def test_a_left_pneumothorax_at_the_border_gets_its_line_medially(monkeypatch):
    from napari_xray_synth.core import synthesize as synth_mod

    rg, cond = _left_rim_film()
    assert cond.side is None
    box = condition_box(cond, rg.shape, rg.spacing[0])
    assert box.slices[1].stop == rg.shape[1]  # the box is clipped at the border
    (done,) = synth_mod.synthesize(rg, [cond], 1, seed=0, method="gan")
    monkeypatch.setattr(synth_mod, "finish_pneumothorax", lambda before, after, *a, **kw: after)
    (raw,) = synth_mod.synthesize(rg, [cond], 1, seed=0, method="gan")
    brighter = done.radiograph.image - raw.radiograph.image > 0.002  # the pleural line
    # where it must run: the mask's edge that rises going laterally (+columns, a left lung)
    soft = soft_mask_in_box(cond, box, rg.shape, rg.spacing[0], None)
    expected = np.zeros(rg.shape, bool)
    expected[box.slices] = pf.pleural_line(np.clip((soft - 0.02) / 0.98, 0, 1), 1.0) > 0.05
    assert brighter.sum() > 10
    assert (brighter & expected).sum() > 0.9 * brighter.sum()


def test_physics_is_not_finished_and_one_variant_regenerates_as_in_the_batch():
    from napari_xray_synth.core import synthesize as synth_mod

    rg, cond = _left_rim_film()
    other = Condition("pneumothorax", (100.0, 20.0), 25.0, 0.8)
    (phys,) = synth_mod.synthesize(rg, [cond], 1, seed=0, method="physics")
    assert "pneumothorax_finish" not in phys.radiograph.provenance[-1].parameters
    batch = synth_mod.synthesize(rg, [cond, other], 2, seed=3, method="gan")
    one = synth_mod.synthesize_one(rg, [cond, other], 1, seed=3, method="gan")
    np.testing.assert_array_equal(one.radiograph.image, batch[1].radiograph.image)
    params = batch[1].radiograph.provenance[-1].parameters
    assert "top-hat" in params["pneumothorax_finish"]
