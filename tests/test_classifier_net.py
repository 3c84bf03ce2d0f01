import numpy as np
import torch

from napari_xray_synth.core.models import load_model, save_model
from napari_xray_synth.core.nn.classifier import (
    CLASSES,
    FeatureModule,
    build_classifier,
    labels_of,
)


def test_forward_and_features_shapes():
    net = build_classifier(size=64, width=8, stages=4, features_dim=32)
    x = torch.rand(3, 1, 80, 72)  # any size: resized to 64 x 64
    assert net(x).shape == (3, len(CLASSES))
    assert net.features(x).shape == (3, 32)
    # 2-D and 3-D layouts are accepted too
    assert net.features(torch.rand(50, 50)).shape == (1, 32)
    assert net(torch.rand(2, 64, 64)).shape == (2, 7)


def test_features_do_not_depend_on_the_batch():
    torch.manual_seed(0)
    net = build_classifier(size=32, width=8, stages=3, features_dim=16).eval()
    x = torch.rand(4, 1, 32, 32)
    with torch.no_grad():
        alone = net.features(x[:1])
        together = net.features(x)[:1]
    torch.testing.assert_close(alone, together, rtol=1e-5, atol=1e-5)


def test_feature_module_stays_in_eval_mode():
    fm = FeatureModule(build_classifier(size=32, width=8, stages=3, features_dim=16))
    fm.train()
    assert not fm.training and not fm.classifier.training
    assert fm.num_features == 16


def test_labels_multi_hot():
    assert labels_of([]).tolist() == [1, 0, 0, 0, 0, 0, 0]
    y = labels_of(["effusion", "cardiomegaly"])
    assert y[0] == 0 and y[CLASSES.index("effusion")] == 1 and y[CLASSES.index("cardiomegaly")] == 1
    assert y.sum() == 2


def test_registered_architecture_round_trip(tmp_path):
    cfg = {"size": 32, "width": 8, "stages": 3, "features_dim": 16}
    net = build_classifier(**cfg)
    save_model(net, tmp_path / "clf", "pathology-classifier", cfg, {"training_command": "test"})
    loaded = load_model(tmp_path / "clf")
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        np.testing.assert_allclose(loaded.module(x).numpy(), net.eval()(x).numpy(), atol=1e-6)
