"""napari sample data: a healthy simulated chest and one per pathology."""

import numpy as np
import pytest

from napari_xray_synth.core.conditions import LABELS
from napari_xray_synth.plugin import sample_data


@pytest.mark.qt
@pytest.mark.parametrize("key", ["chest_healthy", "chest_effusion"])
def test_open_sample(make_napari_viewer, monkeypatch, key):
    monkeypatch.setattr(sample_data, "SIZE", 128)
    viewer = make_napari_viewer()
    viewer.open_sample("napari-xray-synth", key)
    kinds = sorted(type(layer).__name__ for layer in viewer.layers)
    if key == "chest_healthy":
        assert kinds == ["Image"]
    else:
        assert kinds == ["Image", "Labels"]
        labels = viewer.layers[-1]
        assert LABELS["effusion"] in np.unique(labels.data)
    image = viewer.layers[0]
    assert image.metadata["xray_synth"]["synthetic"] is True
    assert image.scale[0] == pytest.approx(358.4 / 128)


def test_every_sample_function(monkeypatch):
    monkeypatch.setattr(sample_data, "SIZE", 64)
    for name in ("nodule", "mass", "pneumothorax", "consolidation", "cardiomegaly"):
        layers = getattr(sample_data, f"{name}_chest")()
        assert [t[2] for t in layers] == ["image", "labels"]
        assert LABELS[name] in np.unique(layers[1][0])
