"""napari writer contributions and the Export dock widget."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pydicom
import pytest
import tifffile
from PIL import Image
from qtpy.QtCore import Qt

from napari_xray_synth.core.conditions import Condition, label_mask
from napari_xray_synth.core.export import read_manifest
from napari_xray_synth.core.io import read_radiograph
from napari_xray_synth.core.radiograph import Provenance, Radiograph
from napari_xray_synth.plugin import workers
from napari_xray_synth.plugin.layers import (
    annotation_layer_tuple,
    image_layer_tuple,
    labels_layer_tuple,
)

pytestmark = pytest.mark.qt

PLUGIN = "napari-xray-synth"


def _add(viewer, tup):
    data, kwargs, kind = tup
    return getattr(viewer, f"add_{kind}")(data, **kwargs)


def _synthetic(rng, shape=(48, 40)):
    rg = Radiograph(rng.random(shape, dtype=np.float32), spacing=(0.5, 0.5)).derive(
        rng.random(shape, dtype=np.float32),
        Provenance("synthesize", {"method": "physics"}, seed=5),
        synthetic=True,
    )
    cond = Condition("nodule", (24, 20), 8.0, 0.6, shape_seed=2)
    return rg, cond, label_mask([cond], shape, rg.spacing)


def test_writers(make_napari_viewer, tmp_path, rng):
    viewer = make_napari_viewer()
    rg, _, mask = _synthetic(rng)
    img = _add(viewer, image_layer_tuple(rg, "chest"))
    lab = _add(viewer, labels_layer_tuple(mask, "chest mask", rg.spacing))
    for ext in ("tif", "png", "dcm"):
        viewer.layers.selection = {img}
        out = viewer.layers.save(str(tmp_path / f"chest.{ext}"), selected=True, plugin=PLUGIN)
        assert out == [str(tmp_path / f"chest.{ext}")]
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "chest.tif"), rg.image)
    assert iio.imread(tmp_path / "chest.png").dtype == np.uint16
    ds = pydicom.dcmread(tmp_path / "chest.dcm")
    assert ds.SyntheticData == "YES" and ds.PatientIdentityRemoved == "YES"
    viewer.layers.selection = {lab}
    viewer.layers.save(str(tmp_path / "mask.png"), selected=True, plugin=PLUGIN)
    np.testing.assert_array_equal(iio.imread(tmp_path / "mask.png"), mask)
    assert read_radiograph(tmp_path / "mask.png").spacing == pytest.approx((0.5, 0.5), abs=1e-4)
    # a mask on a film of unknown pixel size: its assumed display scale is not written
    film = _add(viewer, image_layer_tuple(Radiograph(rng.random((48, 40), np.float32)), "film"))
    viewer.layers.selection = {_add(viewer, annotation_layer_tuple(film))}
    viewer.layers.save(str(tmp_path / "lesions.png"), selected=True, plugin=PLUGIN)
    with Image.open(tmp_path / "lesions.png") as im:
        assert "dpi" not in im.info


def test_export_widget_writes_edited_mask(make_napari_viewer, tmp_path, rng, monkeypatch):
    from napari_xray_synth.plugin.widgets.export import ExportWidget

    monkeypatch.setenv(workers.SYNC_ENV, "1")
    viewer = make_napari_viewer()
    rg, cond, mask = _synthetic(rng)
    _add(viewer, image_layer_tuple(rg, "variant"))
    labels = _add(
        viewer,
        labels_layer_tuple(
            mask, "variant mask", rg.spacing, {"conditions": [cond.to_dict()], "seed": 5}
        ),
    )
    labels.data[0:4, 0:4] = 7  # the user's edit must reach the file
    widget = ExportWidget(viewer)
    assert widget.selection() == [("variant", "variant mask")]
    assert widget.deidentify.isChecked()
    widget.folder.setText(str(tmp_path / "set"))
    widget.format.setCurrentText("dcm")
    widget.export()
    rows = read_manifest(tmp_path / "set")
    assert len(rows) == 1 and rows[0]["pathology"] == "nodule" and rows[0]["seed"] == "5"
    written = iio.imread(tmp_path / "set" / rows[0]["mask"])
    assert (written[0:4, 0:4] == 7).all()
    assert pydicom.dcmread(tmp_path / "set" / rows[0]["file"]).PatientIdentityRemoved == "YES"


def test_export_widget_bad_layers_notify(make_napari_viewer, tmp_path, rng, monkeypatch):
    from napari_xray_synth.plugin.widgets.export import ExportWidget

    monkeypatch.setenv(workers.SYNC_ENV, "1")
    errors: list[str] = []
    monkeypatch.setattr(workers, "show_error", errors.append)
    viewer = make_napari_viewer()
    viewer.add_image(rng.random((20, 20, 3)), rgb=True, name="colour")
    viewer.add_labels(np.zeros((5, 5), np.uint8), name="small")
    widget = ExportWidget(viewer)
    widget.folder.setText(str(tmp_path / "out"))
    widget.export()
    assert errors and "'colour'" in errors[-1] and "RGB" in errors[-1]

    viewer.layers.remove("colour")
    viewer.add_image(rng.random((20, 20)).astype(np.float32), name="grey")
    widget.set_mask("grey", "small")
    widget.export()
    assert "'small'" in errors[-1] and "shape" in errors[-1]
    assert not (tmp_path / "out" / "manifest.csv").exists()

    widget.folder.setText("")
    widget.export()
    assert "folder" in errors[-1]


def test_export_widget_pairs_synthesized_variants(make_napari_viewer, tmp_path, rng, monkeypatch):
    """Layers as the Synthesize widget leaves them: variants "x nodule vK", one "x nodule mask"."""
    from napari_xray_synth.plugin.widgets.export import ExportWidget

    monkeypatch.setenv(workers.SYNC_ENV, "1")
    viewer = make_napari_viewer()
    rg, cond, mask = _synthetic(rng)
    names = []
    for k in range(2):
        data, kw, _ = image_layer_tuple(rg, f"chest nodule v{k}")
        kw["metadata"]["xray_synth"].update(conditions=[cond.to_dict()], seed=100 + k)
        names.append(viewer.add_image(data, **kw).name)
    _add(viewer, labels_layer_tuple(mask, "chest nodule mask", rg.spacing, {"variants": names}))
    _add(viewer, labels_layer_tuple(mask, "other", rg.spacing))
    # the film they were made from: the synthesis mask is not its mask
    _add(viewer, image_layer_tuple(Radiograph(rng.random((48, 40), dtype=np.float32)), "chest"))
    widget = ExportWidget(viewer)
    assert widget.selection() == [(n, "chest nodule mask") for n in names] + [("chest", None)]
    widget.folder.setText(str(tmp_path))
    widget.format.setCurrentText("png")
    widget.export()
    rows = read_manifest(tmp_path)
    synthetic = [r for r in rows if r["synthetic"] == "True"]
    (film,) = [r for r in rows if r["synthetic"] == "False"]
    assert [r["seed"] for r in synthetic] == ["100", "101"]
    assert all(r["pathology"] == "nodule" and r["mask"] for r in synthetic)
    assert film["mask"] == "" and film["pathology"] == ""


@pytest.mark.qt
def test_export_widget_pairs_sample_data_mask(make_napari_viewer, monkeypatch):
    """A sample chest with a pathology opens with its mask already chosen for export."""
    from napari_xray_synth.plugin import sample_data
    from napari_xray_synth.plugin.widgets.export import ExportWidget

    monkeypatch.setattr(sample_data, "SIZE", 96)
    viewer = make_napari_viewer()
    viewer.open_sample("napari-xray-synth", "chest_mass")
    widget = ExportWidget(viewer)
    assert widget.selection() == [("simulated chest (mass)", "mass mask")]


def test_paint_lesions_on_a_real_film_then_train_on_the_export(
    make_napari_viewer, tmp_path, rng, monkeypatch
):
    """Annotate -> export -> the unpaired trainer reads the painted lesion."""
    from napari_xray_synth.core.train.real_labels import read_labels
    from napari_xray_synth.plugin.widgets.export import ExportWidget

    monkeypatch.setenv(workers.SYNC_ENV, "1")
    errors: list[str] = []
    monkeypatch.setattr(workers, "show_error", errors.append)
    viewer = make_napari_viewer()
    film = Radiograph(rng.random((60, 50), dtype=np.float32), spacing=(0.4, 0.4))
    _add(viewer, image_layer_tuple(film, "film"))
    viewer.add_image(rng.random((3, 20, 20)).astype(np.float32), name="stack")
    widget = ExportWidget(viewer)
    widget.paint_on.setCurrentText("stack")
    assert widget.annotate() is None and "'stack'" in errors[-1] and "2-D" in errors[-1]
    assert [ly.name for ly in viewer.layers] == ["film", "stack"]

    widget.paint_on.setCurrentText("film")
    widget.pathology.setCurrentText("mass")
    layer = widget.annotate()
    assert layer.name == "film lesions" and layer.data.shape == (60, 50)
    assert tuple(layer.scale) == tuple(viewer.layers["film"].scale) == (0.4, 0.4)
    assert layer.mode == "paint" and layer.selected_label == 2
    widget.pathology.setCurrentText("effusion")
    assert layer.selected_label == 3
    assert widget.annotate() is layer  # made once
    assert dict(widget.selection())["film"] == "film lesions"

    layer.data[10:20, 5:25] = 2  # the radiologist paints a mass
    layer.data[40:50, 30:45] = 3  # and an effusion
    assert "pathology: mass" in layer.get_status((15, 10))["value"]
    widget.set_mask("stack", None)
    table = widget.table
    for i in range(table.rowCount()):
        if table.item(i, 0).text() == "stack":
            table.item(i, 0).setCheckState(Qt.CheckState.Unchecked)
    widget.folder.setText(str(tmp_path / "set"))
    widget.format.setCurrentText("png")
    widget.export()
    rows = read_manifest(tmp_path / "set")
    assert [(r["file"], r["pathology"], r["synthetic"]) for r in rows] == [
        ("images/film.png", "mass;effusion", "False")
    ]
    # the PNGs carry the film's pixel size (pHYs), as the manifest does
    for png in ("images/film.png", "masks/film.png"):
        with Image.open(tmp_path / "set" / png) as im:
            assert tuple(25.4 / d for d in im.info["dpi"]) == pytest.approx((0.4, 0.4), abs=1e-4)
    assert read_radiograph(tmp_path / "set" / "images/film.png").spacing == pytest.approx(
        (0.4, 0.4), abs=1e-4
    )
    lesions = sorted((r.finding, r.box) for r in read_labels(tmp_path / "set" / "manifest.csv"))
    assert lesions == [("effusion", (30.0, 40.0, 15.0, 10.0)), ("mass", (5.0, 10.0, 20.0, 10.0))]


def test_a_films_lesions_pair_with_that_film_alone(make_napari_viewer, rng, monkeypatch):
    """ "case1 lesions" must not be exported with "case10" (nor "case1 mask" with it)."""
    from napari_xray_synth.plugin.widgets.export import ExportWidget

    monkeypatch.setenv(workers.SYNC_ENV, "1")
    viewer = make_napari_viewer()
    for name in ("case1", "case10"):
        film = Radiograph(rng.random((30, 30), dtype=np.float32), spacing=(0.4, 0.4))
        _add(viewer, image_layer_tuple(film, name))
    widget = ExportWidget(viewer)
    widget.paint_on.setCurrentText("case1")
    widget.annotate()
    viewer.add_labels(np.zeros((30, 30), np.uint8), name="case1 mask")
    widget.refresh()
    pairs = dict(widget.selection())
    assert pairs["case1"] == "case1 lesions" and pairs["case10"] is None


def test_the_export_list_ticks_new_radiographs_and_keeps_choices(make_napari_viewer, rng):
    from napari_xray_synth.plugin.widgets.export import NO_MASK, ExportWidget

    viewer = make_napari_viewer()
    rg, _, mask = _synthetic(rng)
    _add(viewer, image_layer_tuple(rg, "film"))
    viewer.add_image(rng.random((48, 40)), name="compare map", metadata={
        "xray_synth": {"compare": {"map_kind": "1 - SSIM"}}})  # fmt: skip
    widget = ExportWidget(viewer)
    assert widget.selection() == [("film", None)]  # the Compare map is not a radiograph
    # variants arrive while the widget is open, then their mask: ticked and paired
    data, kw, _ = image_layer_tuple(rg, "film nodule v0")
    viewer.add_image(data, **kw)
    _add(
        viewer,
        labels_layer_tuple(mask, "film nodule mask", rg.spacing, {"variants": ["film nodule v0"]}),
    )
    assert dict(widget.selection())["film nodule v0"] == "film nodule mask"
    # a tick taken off and a mask picked by hand survive a refresh
    widget.table.item(0, 0).setCheckState(Qt.CheckState.Unchecked)
    widget.set_mask("film nodule v0", None)
    widget.refresh()
    assert widget.selection() == [("film nodule v0", None)]
    rows = [widget.table.item(i, 0).text() for i in range(widget.table.rowCount())]
    assert widget.table.cellWidget(rows.index("film nodule v0"), 1).currentText() == NO_MASK


def test_long_mask_names_keep_their_film_and_their_end(make_napari_viewer, rng):
    from napari_xray_synth.plugin.widgets.export import ExportWidget

    viewer = make_napari_viewer()
    rg, _, mask = _synthetic(rng)
    film = "00001368_000 a film with a long name"
    _add(viewer, image_layer_tuple(rg, f"{film} nodule v0"))
    _add(
        viewer,
        labels_layer_tuple(
            mask, f"{film} nodule mask", rg.spacing, {"variants": [f"{film} nodule v0"]}
        ),
    )
    widget = ExportWidget(viewer)
    combo = widget.table.cellWidget(0, 1)
    combo.resize(140, combo.height())
    shown = combo.shown_text()
    assert "…" in shown and shown.startswith("0000") and shown.endswith("mask")
    assert combo.currentText() == f"{film} nodule mask"  # the whole name is what is exported
    assert combo.toolTip().startswith(f"{film} nodule mask")
    assert widget.table.textElideMode() == Qt.TextElideMode.ElideMiddle


def test_export_widget_manifest_says_the_assumed_spacing(
    make_napari_viewer, tmp_path, rng, monkeypatch
):
    """A variant of a film without a pixel size, and that film with painted lesions: the
    manifest records the 0.35 mm they were shown and drawn at, apart from their spacing."""
    from napari_xray_synth.plugin.widgets.export import ExportWidget

    monkeypatch.setenv(workers.SYNC_ENV, "1")
    viewer = make_napari_viewer()
    shape = (48, 40)
    film = Radiograph(rng.random(shape, dtype=np.float32))
    cond = Condition("consolidation", (24, 20), 50.0, 0.6, shape_seed=2)
    params = {"method": "gan", "spacing_mm": 0.35, "spacing_assumed_mm": 0.35}
    variant = film.derive(
        rng.random(shape, dtype=np.float32),
        Provenance("synthesize", params, seed=5),
        synthetic=True,
    )
    film_layer = _add(viewer, image_layer_tuple(film, "film"))
    _add(viewer, image_layer_tuple(variant, "film v0"))
    mask = label_mask([cond], shape, (0.35, 0.35))
    _add(
        viewer,
        labels_layer_tuple(
            mask, "film v0 mask", None, {"conditions": [cond.to_dict()], "variants": ["film v0"]}
        ),
    )
    lesions = _add(viewer, annotation_layer_tuple(film_layer))
    lesions.data[5:10, 5:10] = 2
    widget = ExportWidget(viewer)
    widget.folder.setText(str(tmp_path / "set"))
    widget.format.setCurrentText("png")
    widget.export()
    rows = {r["id"]: r for r in read_manifest(tmp_path / "set")}
    assert rows["film_v0"]["size_mm"] == "50"
    for row in rows.values():
        assert row["spacing_assumed_mm"] == "0.35"
        assert row["spacing_row_mm"] == row["spacing_col_mm"] == ""
