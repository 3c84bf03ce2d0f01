import numpy as np
import pytest
from scipy import ndimage

from napari_xray_synth.core.radiograph import Radiograph
from napari_xray_synth.core.synthesize import DEFAULT_SPACING_MM
from napari_xray_synth.plugin.layers import ASSUMED_KEY, META_KEY, image_layer_tuple, layer_spacing
from napari_xray_synth.plugin.widgets.synthesize import SynthesizeWidget


@pytest.fixture
def widget(make_napari_viewer, monkeypatch):
    monkeypatch.setenv("XRAY_SYNTH_SYNC", "1")
    errors = []
    monkeypatch.setattr(
        "napari_xray_synth.plugin.workers.show_error", lambda msg: errors.append(msg)
    )
    viewer = make_napari_viewer()
    w = SynthesizeWidget(viewer)
    w.errors = errors
    w.method.setCurrentText("physics")
    w.n_variants.setValue(2)
    return viewer, w


def _add_chest(viewer, shape=(128, 128)):
    rng = np.random.default_rng(0)
    img = ndimage.gaussian_filter(rng.random(shape), 2).astype(np.float32)
    img = np.clip((img - img.mean()) * 4 + 0.5, 0, 1)
    data, kwargs, _ = image_layer_tuple(Radiograph(img, (0.5, 0.5), "test"), "chest")
    return viewer.add_image(data, **kwargs)


@pytest.mark.qt
def test_points_give_variants_and_a_mask_with_the_input_scale(widget):
    viewer, w = widget
    _add_chest(viewer)
    points = w.add_points_layer()
    assert points.mode == "add" and tuple(points.scale) == (0.5, 0.5)
    points.add([[60, 70]])  # data coordinates: pixels of the image
    w.pathology.setCurrentText("nodule")
    w.size_mm.setValue(10.0)
    w.run()
    assert not w.errors
    v0, v1 = viewer.layers["chest nodule v0"], viewer.layers["chest nodule v1"]
    mask = viewer.layers["chest nodule mask"]
    for layer in (v0, v1, mask):
        assert tuple(layer.scale) == (0.5, 0.5)
    meta = v0.metadata[META_KEY]
    assert meta["synthetic"] is True and meta["method"] == "physics"
    assert meta["conditions"][0]["center_row"] == pytest.approx(60)
    assert meta["provenance"][-1]["operation"] == "synthesize"
    assert mask.data[60, 70] > 0 and mask.data[5, 5] == 0
    assert not np.array_equal(v0.data, v1.data)
    # regenerate variant 1 with another seed: only layer 1 changes
    before0, before1 = v0.data.copy(), v1.data.copy()
    w.regen_index.setValue(1)
    w.seed.setValue(7)
    w.regenerate()
    assert np.array_equal(v0.data, before0)
    assert not np.array_equal(v1.data, before1)
    assert v1.metadata[META_KEY]["provenance"][-1]["parameters"]["batch_seed"] == 7
    # the same seed as the batch gives the batch's image back
    w.seed.setValue(0)
    w.regenerate()
    assert np.array_equal(v1.data, before1)


@pytest.mark.qt
def test_bad_input_adds_no_layer(widget):
    viewer, w = widget
    w.run()  # no image layer
    assert len(viewer.layers) == 0 and "no image layer" in w.errors[-1]
    _add_chest(viewer)
    w.run()  # no points layer
    assert "lesion points" in w.errors[-1]
    points = w.add_points_layer()
    w.run()  # empty points layer
    assert "no points" in w.errors[-1]
    points.add([[500.0, 10.0]])  # outside the 128-pixel image
    w.run()
    assert "outside" in w.errors[-1]
    viewer.add_image(np.zeros((3, 32, 32), np.float32), name="stack")
    w.image_combo.setCurrentText("stack")
    w.run()
    assert "2-D" in w.errors[-1]
    assert [ly.name for ly in viewer.layers] == ["chest", "lesion points", "stack"]
    w.regenerate()
    assert "nothing to regenerate" in w.errors[-1]


@pytest.mark.qt
def test_gan_method_records_the_model(widget):
    from napari_xray_synth.core.models import read_card

    viewer, w = widget
    _add_chest(viewer)
    w.add_points_layer().add([[64, 64]])
    w.method.setCurrentText("gan")
    w.n_variants.setValue(1)
    w.run()
    assert not w.errors
    meta = viewer.layers["chest nodule v0"].metadata[META_KEY]
    assert meta["method"] == "gan" and meta["model_id"] == "generator"
    assert meta["model_sha256"] == read_card("generator")["sha256"]


@pytest.mark.qt
def test_a_generator_of_ones_own_is_used_and_kept_for_regeneration(widget, tmp_path):
    """A fine-tuned generator chosen by path: recorded, reused on regenerate; a bad one: a line."""
    import shutil

    from napari_xray_synth.core.models import find_model, read_card

    viewer, w = widget
    assert w.model.currentText() == "generator" and not w.model.isEnabled()  # physics chosen
    assert {"generator", "generator_l1only"} <= {
        w.model.itemText(i) for i in range(w.model.count())
    }
    weights, card = find_model("generator_l1only")
    mine = tmp_path / "my_generator.safetensors"
    shutil.copy(weights, mine)
    shutil.copy(card, mine.with_suffix(".json"))
    _add_chest(viewer)
    w.add_points_layer().add([[64, 64]])
    w.method.setCurrentText("gan")
    assert w.model.isEnabled()
    w.model.setCurrentText(str(mine))
    w.n_variants.setValue(2)
    w.run()
    assert not w.errors
    sha = read_card("generator_l1only")["sha256"]
    assert viewer.layers["chest nodule v0"].metadata[META_KEY]["model_sha256"] == sha
    w.model.setCurrentText("generator")  # changed after the batch: regenerate keeps the batch's
    w.regen_index.setValue(1)
    w.regenerate()
    assert not w.errors
    assert viewer.layers["chest nodule v1"].metadata[META_KEY]["model_sha256"] == sha
    n_layers = len(viewer.layers)
    w.model.setCurrentText(str(tmp_path / "missing.safetensors"))
    w.run()
    assert w.errors and "missing" in w.errors[-1] and len(viewer.layers) == n_layers


def _pneumothorax_in_a_simulated_chest(viewer, w):
    """A simulated chest layer "sim", a point in its right lung, a 30 mm pneumothorax chosen."""
    from napari_xray_synth.core.simulate import simulate_chest

    case = simulate_chest(11, 256, conditions=None)
    data, kwargs, _ = image_layer_tuple(case.healthy, "sim")
    viewer.add_image(data, **kwargs)
    rows, cols = np.nonzero(np.asarray(case.lung_sides) == 1)
    w.add_points_layer().add([[float(np.median(rows)), float(np.median(cols))]])
    w.pathology.setCurrentText("pneumothorax")
    w.size_mm.setValue(30.0)


@pytest.mark.qt
def test_lung_clipping_is_on_by_default_and_can_be_switched_off(widget):
    viewer, w = widget
    _pneumothorax_in_a_simulated_chest(viewer, w)
    assert w.lung_clip.isChecked()
    w.run()
    assert not w.errors
    meta = viewer.layers["sim pneumothorax v0"].metadata[META_KEY]
    assert "lung field" in meta["provenance"][-1]["parameters"]["lesion_region"]
    clipped = int((viewer.layers["sim pneumothorax mask"].data > 0).sum())
    w.lung_clip.setChecked(False)
    w.run()
    meta = viewer.layers["sim pneumothorax v0"].metadata[META_KEY]
    assert "lesion_region" not in meta["provenance"][-1]["parameters"]
    assert int((viewer.layers["sim pneumothorax mask"].data > 0).sum()) > clipped


@pytest.mark.qt
def test_regenerate_uses_the_clipping_of_its_batch(widget):
    viewer, w = widget
    _pneumothorax_in_a_simulated_chest(viewer, w)
    w.run()  # clipped
    w.lung_clip.setChecked(False)  # switched off after the batch was made
    w.regen_index.setValue(1)
    w.regenerate()
    assert not w.errors
    meta = viewer.layers["sim pneumothorax v1"].metadata[META_KEY]
    assert "lung field" in meta["provenance"][-1]["parameters"]["lesion_region"]


@pytest.mark.qt
def test_a_film_without_pixel_size_keeps_its_layers_on_its_grid(widget):
    """A PNG has no spacing: the variants and the mask share the input's grid (the assumed
    size, in mm), or napari warns of inconsistent units; the size stays unknown to export."""
    viewer, w = widget
    rng = np.random.default_rng(1)
    img = ndimage.gaussian_filter(rng.random((128, 128)), 2).astype(np.float32)
    data, kwargs, _ = image_layer_tuple(Radiograph(img, None, "unknown"), "film")
    film = viewer.add_image(data, **kwargs)
    w.add_points_layer().add([[64, 64]])
    w.pathology.setCurrentText("nodule")
    w.size_mm.setValue(10.0)
    w.run()
    assert not w.errors
    for name in ("film nodule v0", "film nodule v1", "film nodule mask"):
        assert tuple(viewer.layers[name].units) == tuple(film.units)
        assert tuple(viewer.layers[name].scale) == tuple(film.scale)
        assert layer_spacing(viewer.layers[name]) == (None, "unknown")
        assert viewer.layers[name].metadata[META_KEY][ASSUMED_KEY] == DEFAULT_SPACING_MM
    w.regen_index.setValue(1)
    w.regenerate()  # a regenerated variant stays marked as on the assumed size
    assert not w.errors
    assert viewer.layers["film nodule v1"].metadata[META_KEY][ASSUMED_KEY] == DEFAULT_SPACING_MM


@pytest.mark.qt
def test_a_film_without_pixel_size_gets_one_warning_naming_it(widget, monkeypatch):
    viewer, w = widget
    warnings = []
    monkeypatch.setattr(
        "napari_xray_synth.plugin.widgets.synthesize.notify_warning", warnings.append
    )
    img = np.full((96, 96), 0.5, np.float32)
    data, kwargs, _ = image_layer_tuple(Radiograph(img, None, "unknown"), "png film")
    viewer.add_image(data, **kwargs)
    w.add_points_layer().add([[48, 48]])
    w.run()
    assert len(warnings) == 1 and "'png film'" in warnings[0] and "0.35 mm" in warnings[0]
    _add_chest(viewer)  # a film with a pixel size: no warning
    w.image_combo.setCurrentText("chest")
    w.run()
    assert len(warnings) == 1


@pytest.mark.qt
def test_a_new_run_replaces_the_earlier_run_of_that_film_and_pathology(widget):
    """Three variants, then one: the two left over would be exported with the new mask."""
    viewer, w = widget
    _add_chest(viewer)
    points = w.add_points_layer()
    points.add([[40, 40]])
    w.n_variants.setValue(3)
    w.run()
    assert {"chest nodule v1", "chest nodule v2"} <= {ly.name for ly in viewer.layers}
    points.data = np.array([[90.0, 90.0]])
    w.n_variants.setValue(1)
    w.run()
    names = [ly.name for ly in viewer.layers]
    assert "chest nodule v1" not in names and "chest nodule v2" not in names
    assert names[-2:] == ["chest nodule v0", "chest nodule mask"]
    assert viewer.layers["chest nodule mask"].data[90, 90] > 0
    assert viewer.layers["chest nodule mask"].data[40, 40] == 0
    w.pathology.setCurrentText("mass")  # another pathology is another run: both kept
    w.size_mm.setValue(35.0)
    w.run()
    assert "chest nodule v0" in viewer.layers and "chest mass v0" in viewer.layers


@pytest.mark.qt
def test_regenerate_uses_the_method_of_its_batch(widget):
    viewer, w = widget
    _add_chest(viewer)
    w.add_points_layer().add([[60, 70]])
    w.run()  # physics (the fixture's)
    w.method.setCurrentText("gan")
    w.regen_index.setValue(1)
    w.seed.setValue(9)
    w.regenerate()
    assert not w.errors
    metas = [viewer.layers[f"chest nodule v{k}"].metadata[META_KEY] for k in (0, 1)]
    assert [m["method"] for m in metas] == ["physics", "physics"]
