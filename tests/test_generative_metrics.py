import numpy as np
import pytest
import torch

from napari_xray_synth.core import generative_metrics as gm
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.nn.classifier import FeatureModule, build_classifier


@pytest.fixture
def feats(rng):
    return rng.normal(size=(120, 8))


def test_fd_of_a_set_with_itself_is_zero_and_grows_with_a_shift(feats):
    assert gm.frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-6)
    d = [gm.frechet_distance(feats, feats + s) for s in (0.25, 0.5, 1.0)]
    # a pure mean shift of s in every one of 8 dimensions adds 8 s^2
    np.testing.assert_allclose(d, [8 * 0.25**2, 8 * 0.5**2, 8.0], rtol=1e-6)


def test_fd_matches_the_gaussian_formula(rng):
    a = rng.normal(size=(400, 3))
    b = rng.normal(size=(400, 3)) * 2.0
    from scipy import linalg

    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * linalg.sqrtm(ca @ cb).real)
    assert gm.frechet_distance(a, b) == pytest.approx(ref, rel=1e-6)


def test_kid_near_zero_for_the_same_distribution_and_grows(rng):
    a = rng.normal(size=(200, 8))
    b = rng.normal(size=(200, 8))
    same, _ = gm.kernel_inception_distance(a, b, subsets=20, seed=1)
    small, _ = gm.kernel_inception_distance(a, b + 0.5, subsets=20, seed=1)
    big, _ = gm.kernel_inception_distance(a, b + 1.5, subsets=20, seed=1)
    assert abs(same) < 0.05
    assert same < small < big
    # seeded: the same call gives the same value
    assert gm.kernel_inception_distance(a, b, subsets=20, seed=1)[0] == same


def test_auc_hand_worked():
    # positives 0.35, 0.8; negatives 0.1, 0.4: pairs won (0.35>0.1), (0.8>0.1), (0.8>0.4) = 3/4
    assert gm.auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    # a tie counts one half: pos 0.5 vs neg 0.5 and 0.2 -> (0.5 + 1) / 2
    assert gm.auc([0.5, 0.5, 0.2], [1, 0, 0]) == 0.75
    assert gm.auc([0.1, 0.9], [0, 1]) == 1.0
    assert np.isnan(gm.auc([0.1, 0.2], [1, 1]))


def test_manifold_metrics_identical_and_disjoint(rng):
    a = rng.normal(size=(100, 4))
    same = gm.manifold_metrics(a, a.copy(), k=3)
    assert same["precision"] == 1.0 and same["recall"] == 1.0 and same["coverage"] == 1.0
    far = gm.manifold_metrics(a, a + 100.0, k=3)
    assert far["precision"] == 0.0 and far["recall"] == 0.0 and far["coverage"] == 0.0
    assert far["density"] == 0.0


def test_real_split_floor_is_small_next_to_a_shifted_set(rng):
    real = rng.normal(size=(200, 6))
    floor = gm.real_split_floor(real, kid_subsets=10, seed=0)
    shifted = gm.set_metrics(real[:100], real[100:] + 1.0, kid_subsets=10)
    assert floor["fd"] < shifted["fd"] / 5
    assert floor["precision"] > shifted["precision"]


def test_torchmetrics_with_our_feature_module_matches_the_array_path():
    torch.manual_seed(0)
    net = build_classifier(size=32, width=8, stages=3, features_dim=16)
    fm = FeatureModule(net)
    real, fake = torch.rand(10, 1, 40, 40), torch.rand(10, 1, 40, 40) * 0.5
    direct = gm.frechet_distance_images(fm, real, fake, batch=4)
    out_r = gm.extract(net, list(real[:, 0].numpy()), batch=3)
    out_f = gm.extract(net, list(fake[:, 0].numpy()), batch=3)
    assert direct > 0
    assert gm.frechet_distance(out_r["features"], out_f["features"]) == pytest.approx(
        direct, rel=1e-4
    )
    assert out_r["probs"].shape == (10, 7) and ((out_r["probs"] >= 0) & (out_r["probs"] <= 1)).all()


def test_bad_feature_input_is_an_input_error():
    with pytest.raises(InputError, match="at least 2"):
        gm.frechet_distance(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(InputError, match="NaN"):
        gm.frechet_distance(np.full((3, 4), np.nan), np.zeros((5, 4)))
    with pytest.raises(InputError, match="lengths differ"):
        gm.frechet_distance(np.zeros((3, 4)), np.zeros((5, 3)))


def test_extract_probabilities_count_the_lesion_maps():
    # a classifier with lesion maps: its strongest cell feeds the logits, so extract's
    # probabilities must be the forward pass's, not the pooled head's alone
    torch.manual_seed(0)
    net = build_classifier(size=32, width=4, stages=3, features_dim=8, locate_stage=2).eval()
    with torch.no_grad():
        net.locate_gain.fill_(3.0)
    images = [np.random.default_rng(k).random((40, 40)).astype(np.float32) for k in range(3)]
    out = gm.extract(net, images)
    with torch.no_grad():
        expected = torch.sigmoid(net(torch.as_tensor(np.stack(images)))).numpy()
        head_only = torch.sigmoid(net.head(net.features(torch.as_tensor(np.stack(images)))))
    np.testing.assert_allclose(out["probs"], expected, atol=1e-5)
    assert np.abs(out["probs"] - head_only.numpy()).max() > 1e-3
