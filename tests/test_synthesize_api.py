import numpy as np
import pytest
from scipy import ndimage

from napari_xray_synth.core.conditions import (
    LABELS,
    PATHOLOGIES,
    SIZE_RANGE_MM,
    Condition,
    label_mask,
)
from napari_xray_synth.core.errors import InputError, ModelError
from napari_xray_synth.core.radiograph import Provenance, Radiograph
from napari_xray_synth.core.synth_window import label_mask_local
from napari_xray_synth.core.synthesize import (
    DEFAULT_SPACING_MM,
    Variant,
    synthesize,
    synthesize_one,
    variant_seed,
)

SIZES = {
    "nodule": 10.0,
    "mass": 40.0,
    "effusion": 40.0,
    "pneumothorax": 15.0,
    "consolidation": 40.0,
    "cardiomegaly": 140.0,
}


@pytest.fixture
def chest() -> Radiograph:
    rng = np.random.default_rng(5)
    img = ndimage.gaussian_filter(rng.random((256, 256)), 3).astype(np.float32)
    img = np.clip((img - img.mean()) * 4 + 0.5, 0, 1)
    return Radiograph(img, (1.0, 1.0), "test", provenance=(Provenance("read", source="x.tif"),))


@pytest.mark.parametrize("pathology", PATHOLOGIES)
def test_physics_variant_shape_provenance_and_locality(chest, pathology):
    cond = Condition(pathology, (150, 80), SIZES[pathology], 0.8, shape_seed=2)
    (v,) = synthesize(chest, [cond], 1, seed=4, method="physics")
    assert isinstance(v, Variant)
    rg = v.radiograph
    assert rg.synthetic and rg.shape == chest.shape and rg.image.dtype == np.float32
    step = rg.provenance[-1]
    assert step.operation == "synthesize" and step.seed == v.seed == variant_seed(4, 0)
    assert step.parameters["method"] == "physics"
    assert step.parameters["conditions"][0]["pathology"] == pathology
    assert rg.provenance[0].source == "x.tif"
    # the mask is the one renderer's
    assert np.array_equal(v.mask, label_mask([cond], chest.shape, 1.0))
    assert set(np.unique(v.mask)) == {0, LABELS[pathology]}
    # something changed inside, nothing beyond the dilated mask
    inside = v.mask > 0
    assert np.abs(rg.image - chest.image)[inside].mean() > 0.005
    far = ~ndimage.binary_dilation(inside, iterations=12)
    assert np.abs(rg.image - chest.image)[far].max() < 0.01
    assert not np.shares_memory(rg.image, chest.image)


def test_seeds_differ_inside_the_mask_but_the_mask_stays(chest):
    cond = Condition("consolidation", (128, 128), 60.0, 0.9, shape_seed=1)
    a, b = synthesize(chest, [cond], 2, seed=0, method="physics")
    assert np.array_equal(a.mask, b.mask) and a.seed != b.seed
    assert np.abs(a.radiograph.image - b.radiograph.image)[a.mask > 0].mean() > 1e-3


def test_regenerating_one_variant_matches_the_batch(chest):
    cond = Condition("nodule", (100, 100), 12.0)
    batch = synthesize(chest, [cond], 3, seed=9, method="physics")
    one = synthesize_one(chest, [cond], variant_index=2, seed=9, method="physics", n_variants=3)
    assert np.array_equal(one.radiograph.image, batch[2].radiograph.image)
    assert one.seed == batch[2].seed
    assert one.radiograph.provenance[-1].parameters == batch[2].radiograph.provenance[-1].parameters


def test_missing_spacing_is_assumed_and_recorded(chest):
    rg = Radiograph(chest.image)
    (v,) = synthesize(rg, [Condition("nodule", (50, 50), 8.0)], method="physics")
    params = v.radiograph.provenance[-1].parameters
    assert params["spacing_assumed_mm"] == DEFAULT_SPACING_MM


def test_windowed_mask_equals_the_whole_image_renderer(rng):
    for k in range(12):
        p = PATHOLOGIES[k % len(PATHOLOGIES)]
        lo, hi = SIZE_RANGE_MM[p]
        cond = Condition(
            p,
            (rng.uniform(0, 300), rng.uniform(0, 280)),
            rng.uniform(lo, hi),
            shape_seed=k,
            margin=("smooth", "lobulated", "spiculated")[k % 3],
        )
        px = rng.uniform(0.4, 1.5)
        assert np.array_equal(
            label_mask_local([cond], (300, 280), px), label_mask([cond], (300, 280), px)
        )


def test_bad_inputs(chest, tmp_path, monkeypatch):
    cond = Condition("nodule", (50, 50), 8.0)
    with pytest.raises(InputError, match="outside"):
        synthesize(chest, [Condition("nodule", (300, 50), 8.0)], method="physics")
    with pytest.raises(InputError, match="1 or more"):
        synthesize(chest, [cond], 0, method="physics")
    with pytest.raises(InputError, match="no lesion"):
        synthesize(chest, [], method="physics")
    with pytest.raises(InputError, match="2-D"):
        synthesize(np.zeros((3, 32, 32), np.float32), [cond], method="physics")
    with pytest.raises(InputError, match="method"):
        synthesize(chest, [cond], method="magic")
    with pytest.raises(InputError):
        Condition("nodule", (50, 50), 80.0)  # too big for a nodule
    monkeypatch.setenv("XRAY_SYNTH_MODELS", str(tmp_path))
    with pytest.raises(ModelError, match="xray-synth train gan"):
        synthesize(chest, [cond], method="gan", model="no_such_generator")


@pytest.fixture
def tiny_generator(tmp_path):
    import torch

    from napari_xray_synth.core.models import save_model
    from napari_xray_synth.core.nn.generator import ConditionalUNet

    torch.manual_seed(0)
    g = ConditionalUNet(base=4, depth=2)
    torch.nn.init.normal_(g.head.weight, 0.0, 0.5)  # an untrained head would add nothing
    return save_model(
        g,
        tmp_path / "tiny_gen",
        "conditional_unet",
        {"base": 4, "depth": 2},
        {"window": 32, "command": "test"},
    )


@pytest.mark.parametrize("pathology", ["nodule", "effusion"])
def test_gan_variants_change_only_inside_the_dilated_mask(chest, tiny_generator, pathology):
    cond = Condition(pathology, (150, 80), SIZES[pathology], 0.8, shape_seed=2)
    a, b = synthesize(
        chest, [cond], 2, seed=1, method="gan", model=str(tiny_generator), device="cpu"
    )
    step = a.radiograph.provenance[-1]
    assert step.model_id == "tiny_gen" and len(step.model_sha256) == 64
    assert step.parameters["method"] == "gan" and a.radiograph.synthetic
    assert np.array_equal(a.mask, label_mask([cond], chest.shape, 1.0))
    inside = a.mask > 0
    from napari_xray_synth.core.synth_gan import FEATHER_MM, make_window

    dist = ndimage.distance_transform_edt(~inside)
    if make_window(chest.image, cond, 1.0, 32).side == 32:
        # the window at the image's resolution: the soft mask's rim and 3 mm more
        far = dist > 5 + FEATHER_MM
    else:
        # a coarse window: held to 3 mm of the written mask at the image's resolution, as the
        # simulator's lesions are (the coarse feather alone reached 4 window pixels further)
        far = dist > FEATHER_MM + 0.5
    assert np.array_equal(a.radiograph.image[far], chest.image[far])
    assert (a.radiograph.image != chest.image)[(dist > 1) & (dist < FEATHER_MM - 1)].any()
    assert np.abs(a.radiograph.image - chest.image)[inside].mean() > 1e-3
    assert np.abs(a.radiograph.image - b.radiograph.image)[inside].mean() > 1e-4
    one = synthesize_one(
        chest, [cond], 1, seed=1, method="gan", model=str(tiny_generator), device="cpu"
    )
    assert np.array_equal(one.radiograph.image, b.radiograph.image)
