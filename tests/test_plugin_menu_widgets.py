"""Widgets opened as a user opens them (Plugins menu): napari hands them a proxy viewer."""

import numpy as np
import pytest
from scipy import ndimage

from napari_xray_synth.core.radiograph import Radiograph
from napari_xray_synth.plugin import workers
from napari_xray_synth.plugin.layers import image_layer_tuple


@pytest.fixture
def viewer(make_napari_viewer, monkeypatch):
    monkeypatch.setenv(workers.SYNC_ENV, "1")
    errors: list[str] = []
    monkeypatch.setattr(workers, "show_error", errors.append)
    v = make_napari_viewer()
    rng = np.random.default_rng(0)
    img = ndimage.gaussian_filter(rng.random((128, 128)), 2).astype(np.float32)
    img = np.clip((img - img.mean()) * 4 + 0.5, 0, 1)
    data, kwargs, _ = image_layer_tuple(Radiograph(img, (0.5, 0.5), "test"), "chest")
    v.add_image(data, **kwargs)
    return v, errors


def _open(viewer, name):
    viewer, errors = viewer
    _, widget = viewer.window.add_plugin_dock_widget("napari-xray-synth", name)
    # what makes this test: a plugin's widget sees a proxy, whose type() is not the layer's
    assert type(widget.viewer).__name__ == "PublicOnlyProxy"
    assert type(widget.viewer.layers["chest"]).__name__ == "PublicOnlyProxy"
    return widget, errors


@pytest.mark.qt
def test_synthesize_from_the_plugins_menu(viewer):
    w, errors = _open(viewer, "Synthesize")
    w.method.setCurrentText("physics")
    w.n_variants.setValue(1)
    w.add_points_layer().add([[60, 70]])
    w.run()
    assert not errors
    assert "chest nodule v0" in w.viewer.layers and "chest nodule mask" in w.viewer.layers


@pytest.mark.qt
def test_paint_lesions_from_the_plugins_menu(viewer):
    w, errors = _open(viewer, "Export")
    w.paint_on.setCurrentText("chest")
    w.pathology.setCurrentText("effusion")
    layer = w.annotate()
    assert not errors
    assert layer is not None and layer.mode == "paint" and layer.selected_label == 3


@pytest.mark.qt
def test_denoise_from_the_plugins_menu(viewer):
    w, errors = _open(viewer, "Denoise & enhance")
    w.layer_combo.setCurrentText("chest")
    w.method_combo.setCurrentText("model")
    w.run()
    assert not errors
    assert "chest denoised (model)" in w.viewer.layers
