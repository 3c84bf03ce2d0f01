"""Lung-filling lesions on films without anatomy of their own: clipped to an estimated lung."""

import numpy as np
import pytest
from PIL import Image

from napari_xray_synth.cli import main
from napari_xray_synth.core.conditions import LABELS, Condition, label_mask
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.lung_field import LungFields, estimate_lung_fields, trim_medial_edge
from napari_xray_synth.core.radiograph import Radiograph
from napari_xray_synth.core.simulate import simulate_chest
from napari_xray_synth.core.synthesize import synthesize


@pytest.fixture(scope="module")
def sim():
    case = simulate_chest(11, 256, conditions=None)
    rg = case.healthy
    return Radiograph(np.asarray(rg.image, np.float32), (case.spacing, case.spacing), "sim"), case


def _right_lung_point(case):
    rows, cols = np.nonzero(np.asarray(case.lung_sides) == 1)
    return float(np.median(rows)), float(np.median(cols))


def test_lesion_region_holds_the_lung_and_stays_near_it(sim):
    rg, _ = sim
    fields = estimate_lung_fields(rg.image)
    region = fields.lesion_region("right", rg.spacing[0])
    lung = fields.right
    assert region.shape == lung.shape
    assert (region & lung).sum() >= 0.98 * lung.sum()
    # at most 30 mm (+ 5 mm grown) below the lung's lowest row, not the whole image
    below = np.nonzero(region)[0].max() - np.nonzero(lung)[0].max()
    assert below <= 36 / rg.spacing[0]
    assert region.mean() < 0.5
    # made once per film and side (augment asks for every item of a film)
    assert fields.lesion_region("right", rg.spacing[0]) is region


def test_lung_clipping_keeps_a_pneumothorax_inside_the_estimated_field(sim):
    rg, case = sim
    cond = Condition("pneumothorax", _right_lung_point(case), 30.0, 0.9, side="right")
    (clipped,) = synthesize(rg, [cond], 1, seed=0, method="physics", regions="lung")
    (free,) = synthesize(rg, [cond], 1, seed=0, method="physics")
    region = estimate_lung_fields(rg.image).lesion_region("right", rg.spacing[0])
    assert clipped.mask.any()
    assert not (clipped.mask > 0)[~region].any()
    assert (free.mask > 0)[~region].any()  # unclipped, it crosses the field's border
    step = clipped.radiograph.provenance[-1].parameters
    assert step["lesion_region"].startswith("lung field estimated from the image")
    assert "lesion_region" not in free.radiograph.provenance[-1].parameters


def test_a_lesion_clipped_away_entirely_is_refused(sim):
    rg, _ = sim
    cond = Condition("effusion", (30.0, 4.0), 20.0, 0.9, side="right")  # in the air, top left
    assert label_mask([cond], rg.shape, rg.spacing[0]).any()  # unclipped it would be drawn
    with pytest.raises(InputError, match="outside the lung field"):
        synthesize(rg, [cond], 1, seed=0, method="physics", regions="lung")
    with pytest.raises(InputError, match="regions must be"):
        synthesize(rg, [cond], 1, seed=0, method="physics", regions="lungs")


def test_cli_clips_by_default_and_says_which_lesion_was_clipped_away(sim, tmp_path, capsys):
    rg, case = sim
    png = tmp_path / "chest.png"
    Image.fromarray((rg.image * 255).astype(np.uint8)).save(png)
    r, c = _right_lung_point(case)
    common = ["--pathology", "pneumothorax", "--size-mm", "30", "--method", "physics"]
    common += ["--spacing", str(rg.spacing[0]), "--variants", "1", "--at", f"{r:.0f},{c:.0f}"]
    assert main(["synth", str(png), str(tmp_path / "a"), *common]) == 0
    assert main(["synth", str(png), str(tmp_path / "b"), *common, "--no-lung-clip"]) == 0
    ma = np.asarray(Image.open(next((tmp_path / "a").glob("*_mask.tif"))))
    mb = np.asarray(Image.open(next((tmp_path / "b").glob("*_mask.tif"))))
    assert 0 < (ma > 0).sum() < (mb > 0).sum()
    capsys.readouterr()
    bad = ["--pathology", "effusion", "--size-mm", "20", "--method", "physics", "--at", "30,4"]
    rc = main(["synth", str(png), str(tmp_path / "c"), *bad, "--spacing", "1.7"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert str(png) in err[0] and "outside the lung field" in err[0]
    assert not (tmp_path / "c").exists()


def test_the_side_comes_from_the_lung_not_the_image_centre(sim):
    # a patient off centre: the patient's right lung reaches past the image's centre column;
    # a click there is the right lung (not "left" by the centre), and is drawn inside it
    rg, _ = sim
    right = np.zeros(rg.shape, bool)
    right[60:200, 90:170] = True
    left = np.zeros(rg.shape, bool)
    left[60:200, 185:245] = True
    fields = LungFields(right=right, left=left, method="test")
    cond = Condition("consolidation", (130.0, 150.0), 25.0, 0.9)
    assert cond.patient_side(rg.shape) == "left"  # what the image's centre would say
    (v,) = synthesize(rg, [cond], 1, seed=0, method="physics", regions=fields)
    assert v.conditions[0].side == "right"
    region = fields.lesion_region("right", rg.spacing[0])
    assert v.mask.any() and not (v.mask > 0)[~region].any()
    assert v.radiograph.provenance[-1].parameters["lesion_region"].endswith("(test)")


def test_regions_that_are_all_none_are_not_recorded_as_given(sim):
    rg, case = sim
    cond = Condition("nodule", _right_lung_point(case), 10.0, 0.9)
    (v,) = synthesize(rg, [cond], 1, seed=0, method="physics", regions=[None])
    assert "lesion_region" not in v.radiograph.provenance[-1].parameters
    (v,) = synthesize(rg, [cond], 1, seed=0, method="physics", regions="lung")
    assert "lesion_region" not in v.radiograph.provenance[-1].parameters  # nodules: not clipped


def test_lesion_region_reaches_down_at_the_lateral_edge_only():
    from napari_xray_synth.core.lung_field import _extend_laterally_down

    hull = np.zeros((100, 100), bool)
    hull[10:60, 20:41] = True  # a lung whose medial edge is column 40 (the patient's right)
    right = _extend_laterally_down(hull, "right", 20.0)
    assert right[:, 20].sum() == 50 + 20  # lateral edge: the whole extension
    assert right[:, 40].sum() == 50  # medial edge: none (no abdomen under the medial dome)
    assert 50 < right[:, 30].sum() < 50 + 10  # half way: a quarter of it (quadratic)
    left = _extend_laterally_down(hull, "left", 20.0)  # the mirror: lateral is image right
    assert left[:, 40].sum() == 70 and left[:, 20].sum() == 50
    assert not (right & ~hull)[:60].any()  # nothing added above the lung's bottom


def test_lesion_region_takes_the_aerated_recess_but_not_the_tissue_under_the_dome():
    img = np.full((400, 400), 0.8, np.float32)  # tissue
    img[60:260, 60:180] = 0.2  # the patient's right lung (image left)
    img[60:260, 220:340] = 0.2
    img[260:285, 60:75] = 0.3  # a dark costophrenic recess below its lateral edge
    fields = estimate_lung_fields(img)
    assert fields.method == "threshold"
    region = fields.lesion_region("right", 1.0)
    assert region[272, 67]  # the recess, aerated, is in
    assert not region[285:, 100:180].any()  # the tissue under the dome is not
    assert not region[290:].any()


def test_lesion_region_stops_at_the_dome_above_a_dark_pocket():
    img = np.full((400, 400), 0.8, np.float32)
    img[60:260, 60:180] = 0.2
    img[60:260, 220:340] = 0.2
    img[268:285, 300:340] = 0.25  # gas under the left dome, 8 px of bright dome between
    fields = estimate_lung_fields(img)
    region = fields.lesion_region("left", 1.0)
    assert not region[270:285, 310:340].any()  # not connected to the lung: not lung


def test_a_consolidation_against_the_heart_stops_at_the_heart_border():
    # 90 mm against the left heart border: the simulator's own field cuts it there (the
    # silhouette sign); the hull region would carry it across the cardiac notch onto the heart
    case = simulate_chest(403, 512, conditions=None)
    px = case.spacing
    lung = np.asarray(case.lung_sides) == 2
    rows = np.nonzero(lung.any(axis=1))[0]
    r = int(rows.min() + 0.72 * (rows.max() - rows.min()))
    c = int(np.nonzero(lung[r])[0].min() + 12 / px)
    cond = Condition("consolidation", (float(r), float(c)), 90.0, 0.9, side="left")
    ref = label_mask([cond], lung.shape, px, [lung]) > 0
    fields = estimate_lung_fields(np.asarray(case.healthy.image))
    spill_cm2, iou = {}, {}
    for name, region in (
        ("consolidation", fields.lesion_region("left", px, "consolidation")),
        ("hull", fields.lesion_region("left", px)),
    ):
        m = label_mask([cond], lung.shape, px, [region]) > 0
        spill_cm2[name] = (m & ~ref).sum() * px * px / 100
        iou[name] = (m & ref).sum() / (m | ref).sum()
    assert spill_cm2["hull"] > 2.0  # what the consolidation's own region must avoid
    assert spill_cm2["consolidation"] < 1.0
    assert iou["consolidation"] >= 0.95
    # and synthesize clips a consolidation to that region
    rg = Radiograph(np.asarray(case.healthy.image, np.float32), (px, px), "sim")
    (v,) = synthesize(rg, [cond], 1, seed=0, method="physics", regions="lung")
    assert v.mask.any()
    assert not (v.mask > 0)[~fields.lesion_region("left", px, "consolidation")].any()


def test_template_fields_give_a_consolidation_the_hull_region():
    # the field itself is trusted only where the threshold found it; a template is a guess
    fields = estimate_lung_fields(np.zeros((256, 256), np.float32))
    assert fields.method == "template"
    hull = fields.lesion_region("right", 1.0)
    assert np.array_equal(fields.lesion_region("right", 1.0, "consolidation"), hull)


def test_a_gan_pneumothorax_clicked_on_the_chest_wall_is_drawn(sim):
    """Its rim (the lung's edge) lies away from the click: the window must still hold the
    click, which the renderer needs (it was refused in the window's own coordinates)."""
    rg, case = sim
    rows = np.nonzero(np.asarray(case.lung_sides) == 1)[0]
    cond = Condition("pneumothorax", (float(rows.min()) + 8, 2.0), 20.0, 0.8)
    (v,) = synthesize(rg, [cond], 1, seed=0, method="gan", regions="lung")
    assert (v.mask == LABELS["pneumothorax"]).sum() > 50


def test_a_lesion_clipped_to_a_sliver_is_recorded_and_worded_for_a_warning():
    from napari_xray_synth.core.synthesize import clipped_to_sliver

    rg = Radiograph(np.full((200, 200), 0.4, np.float32), (0.5, 0.5), "flat")
    cond = Condition("consolidation", (100.0, 100.0), 40.0, 0.8)
    whole = np.ones((200, 200), bool)
    edge = np.zeros((200, 200), bool)
    edge[:, 130:] = True  # the region takes the lesion's right edge only
    (v,) = synthesize(rg, [cond], 1, seed=0, method="physics", regions=[edge])
    kept = v.radiograph.provenance[-1].parameters["lesion_area_kept"]
    assert len(kept) == 1 and 0 < kept[0] < 0.2
    (line,) = clipped_to_sliver(v)
    assert "40 mm consolidation at row 100, column 100" in line and f"{kept[0]:.0%}" in line
    (v,) = synthesize(rg, [cond], 1, seed=0, method="physics", regions=[whole])
    assert v.radiograph.provenance[-1].parameters["lesion_area_kept"] == [1.0]
    assert clipped_to_sliver(v) == []


def _chest_with_an_arm_gap() -> np.ndarray:
    """A PA chest whose right chest wall is thin low down, beside air that reaches the film's
    edge (the gap between an arm and the chest)."""
    h = w = 512
    rr, cc = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w), np.float32)  # the air around the patient
    img[((rr - 0.5 * h) / (0.46 * h)) ** 2 + ((cc - 0.5 * w) / (0.40 * w)) ** 2 <= 1] = 0.75
    for cx in (0.31, 0.69):
        lung = ((rr - 0.45 * h) / (0.30 * h)) ** 2 + ((cc - cx * w) / (0.12 * w)) ** 2 <= 1
        img[lung] = 0.3
    # low on the right, the chest wall is a thin, dark-ish strip between lung and air
    img[(rr > 0.45 * h) & (rr < 0.7 * h) & (cc > 0.15 * w) & (cc < 0.2 * w)] = 0.35
    img[(rr > 0.45 * h) & (rr < 0.7 * h) & (cc <= 0.15 * w)] = 0.0
    return img + np.random.default_rng(0).normal(0, 0.01, img.shape).astype(np.float32)


def test_the_lung_field_leaves_out_the_air_around_the_body():
    img = _chest_with_an_arm_gap()
    fields = estimate_lung_fields(img)
    assert fields.method == "threshold"
    air = img < 0.1
    assert fields.right.sum() > 0.05 * img.size
    assert (fields.right & air).sum() == 0
    assert (fields.left & air).sum() == 0


def _film_with_a_faint_heart_edge(ribs: bool, zoom: int = 1):
    # ``1 / zoom`` mm pixels; the patient's left lung (image right) at 0.3, the mediastinum at
    # 0.8, and a 15 mm strip of faint heart edge (0.7) that a threshold field took in
    rng = np.random.default_rng(0)
    img = np.full((400, 400), 0.8, np.float32)
    img[80:320, 220:340] = 0.3
    img[80:320, 205:220] = 0.7
    if ribs:  # bright enough to pass the lung-mediastinum midpoint, 8 mm tall every 30 mm
        for top in range(90, 320, 30):
            img[top : top + 8, 205:340] += 0.3
    img = np.kron(img, np.ones((zoom, zoom), np.float32))
    img += rng.normal(0, 0.01, img.shape).astype(np.float32)
    field = np.zeros(img.shape, bool)
    # its edge a pixel off the strip's, as where a field is carried from a coarser grid
    field[80 * zoom : 320 * zoom, 205 * zoom - 1 : 340 * zoom] = True
    return img, field


@pytest.mark.parametrize(("ribs", "zoom"), [(False, 1), (True, 1), (False, 2)])
def test_a_consolidation_region_leaves_the_heart_shadow_the_field_took_in(ribs, zoom):
    # zoom 2: the cut is found on a grid of 512 and carried back to the film's 800 pixels
    img, field = _film_with_a_faint_heart_edge(ribs, zoom)
    px = 1.0 / zoom
    trimmed = trim_medial_edge(field, img, "left", px)
    rows = slice(95 * zoom, 305 * zoom)  # the running median is shorter at the top and bottom
    # the strip is gone, and the lung beside it is whole: no rib leaves a notch
    assert not trimmed[rows, : 217 * zoom].any()
    assert trimmed[rows, 223 * zoom : 340 * zoom].all()
    fields = LungFields(right=np.zeros_like(field), left=field, method="threshold", image=img)
    region = fields.lesion_region("left", px, "consolidation")
    assert not region[rows, : 214 * zoom].any()  # the old region began at column 202
    assert region[rows, 223 * zoom : 340 * zoom].all()


def test_a_field_that_stops_at_the_heart_border_keeps_its_edge():
    img, field = _film_with_a_faint_heart_edge(ribs=False)
    img[80:320, 205:220] = 0.8  # no faint edge: the heart border is sharp
    field[:, 205:220] = False
    trimmed = trim_medial_edge(field, img, "left", 1.0)
    assert (field & ~trimmed).sum() <= 2 * 240  # at most a pixel or two per row
