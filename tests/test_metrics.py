"""core.metrics against scikit-image, and its bad-input messages."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from napari_xray_synth.core import metrics
from napari_xray_synth.core.errors import InputError

TOL = 1e-3


def sk_ssim(a, b, data_range):
    return structural_similarity(
        a,
        b,
        data_range=data_range,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        full=True,
    )


def structured(shape, rng):
    """A radiograph-like image: smooth gradient, a disc, edges and fine noise."""
    r, c = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    img = 0.3 + 0.4 * r / shape[0]
    img += 0.25 * (((r - shape[0] / 2) ** 2 + (c - shape[1] / 3) ** 2) < (shape[0] / 5) ** 2)
    img[:, shape[1] // 2 :] *= 0.7
    img += 0.02 * rng.standard_normal(shape)
    return np.clip(img, 0, 1)


def test_gaussian_window_is_skimage_11_taps():
    w = metrics.gaussian_window()
    assert w.shape == (11,)
    assert w.sum() == pytest.approx(1.0)
    assert w[5] == w.max() and np.allclose(w, w[::-1])


@pytest.mark.parametrize(
    ("shape", "dtype", "data_range", "kind"),
    [
        ((64, 80), np.float32, 1.0, "random"),
        ((96, 70), np.float64, 1.0, "structured"),
        ((57, 61), np.uint16, 4095.0, "random"),
        ((40, 45), np.uint8, 255.0, "structured"),
        ((33, 50), np.float32, 2000.0, "scaled"),  # large values: float32 cancellation check
        ((11, 13), np.float64, 1.0, "random"),  # just the window size
    ],
)
def test_ssim_matches_skimage(rng, shape, dtype, data_range, kind):
    if kind == "random":
        a = rng.random(shape)
        b = np.clip(a + 0.15 * rng.standard_normal(shape), 0, 1)
    elif kind == "structured":
        a = structured(shape, rng)
        b = np.clip(a + 0.05 * rng.standard_normal(shape) - 0.03, 0, 1)
    else:
        a = 1000.0 + 500 * structured(shape, rng)
        b = a + 30 * rng.standard_normal(shape)
    if np.issubdtype(dtype, np.integer):
        a = np.round(a * data_range).astype(dtype)
        b = np.round(b * data_range).astype(dtype)
    else:
        a, b = a.astype(dtype), b.astype(dtype)
    ref_mean, ref_map = sk_ssim(a, b, data_range)
    value, smap = metrics.ssim(a, b, data_range=data_range, full=True, device="cpu")
    assert smap.shape == a.shape and smap.dtype == np.float32
    assert np.abs(smap - ref_map).max() < TOL
    assert abs(value - ref_mean) < TOL
    # the plain call returns the value only, and it is the same
    assert metrics.ssim(a, b, data_range=data_range) == pytest.approx(value, abs=1e-9)


def test_ssim_tiles_do_not_change_the_map(rng):
    a = structured((70, 50), rng).astype(np.float32)
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1).astype(np.float32)
    whole = metrics.ssim_map(a, b, tile_rows=1000)
    for tile in (1, 3, 8, 69):
        assert np.abs(metrics.ssim_map(a, b, tile_rows=tile) - whole).max() < 1e-5
    # strips shared among threads give exactly the single-thread map
    one = metrics.ssim_map(a, b, tile_rows=8, workers=1)
    assert np.array_equal(metrics.ssim_map(a, b, tile_rows=8, workers=3), one)


def test_ssim_masked_matches_skimage_map(rng):
    a = structured((80, 90), rng)
    b = np.clip(a + 0.08 * rng.standard_normal(a.shape), 0, 1)
    mask = np.zeros(a.shape, np.uint8)
    mask[2:30, 30:70] = 2  # reaches into the border strip that the mean leaves out
    _, ref_map = sk_ssim(a, b, 1.0)
    keep = np.zeros(a.shape, bool)
    keep[5:-5, 5:-5] = True
    inside = metrics.ssim(a, b, mask=mask, region="inside")
    outside = metrics.ssim(a, b, mask=mask, region="outside")
    assert abs(inside - ref_map[keep & (mask > 0)].mean()) < TOL
    assert abs(outside - ref_map[keep & (mask == 0)].mean()) < TOL
    # inside and outside, weighted by their pixel counts, give the whole-image value
    n_in, n_out = (keep & (mask > 0)).sum(), (keep & (mask == 0)).sum()
    whole = metrics.ssim(a, b)
    assert (inside * n_in + outside * n_out) / (n_in + n_out) == pytest.approx(whole, abs=1e-6)


@pytest.mark.parametrize("data_range", [1.0, 255.0])
def test_psnr_rmse_match_skimage(rng, data_range):
    a = rng.random((40, 50)) * data_range
    b = np.clip(a + 0.05 * data_range * rng.standard_normal(a.shape), 0, data_range)
    assert metrics.psnr(a, b, data_range) == pytest.approx(
        peak_signal_noise_ratio(b, a, data_range=data_range), abs=1e-9
    )
    assert metrics.rmse(a, b) == pytest.approx(math.sqrt(mean_squared_error(a, b)), rel=1e-12)
    mask = np.zeros(a.shape, bool)
    mask[10:20, 5:25] = True
    assert metrics.rmse(a, b, mask=mask) == pytest.approx(
        math.sqrt(mean_squared_error(a[mask], b[mask])), rel=1e-12
    )
    assert metrics.psnr(a, b, data_range, mask=mask, region="outside") == pytest.approx(
        peak_signal_noise_ratio(b[~mask], a[~mask], data_range=data_range), abs=1e-9
    )


def test_constant_and_identical_images():
    c = np.full((20, 20), 0.4, np.float32)
    assert metrics.ssim(c, c) == pytest.approx(1.0, abs=1e-6)
    d = np.full((20, 20), 0.6, np.float32)
    expected = (2 * 0.4 * 0.6 + 0.01**2) / (0.4**2 + 0.6**2 + 0.01**2)
    assert metrics.ssim(c, d) == pytest.approx(expected, abs=1e-5)
    ref, _ = sk_ssim(c, d, 1.0)
    assert metrics.ssim(c, d) == pytest.approx(ref, abs=1e-5)
    assert metrics.psnr(c, c) == math.inf
    assert metrics.rmse(c, c) == 0.0


def test_compare_dict_with_mask(rng):
    a = structured((60, 60), rng).astype(np.float32)
    b = np.clip(a + 0.05 * rng.standard_normal(a.shape), 0, 1).astype(np.float32)
    mask = np.zeros(a.shape, np.uint8)
    mask[20:40, 20:40] = 1
    res = metrics.compare(a, b, mask=mask)
    assert res["map_kind"] == "1-ssim"
    assert res["ssim"] == pytest.approx(metrics.ssim(a, b), abs=1e-9)
    assert res["psnr"] == pytest.approx(metrics.psnr(a, b), abs=1e-6)
    assert res["ssim_inside"] == pytest.approx(metrics.ssim(a, b, mask=mask), abs=1e-9)
    assert res["rmse_outside"] == pytest.approx(
        metrics.rmse(a, b, mask=mask, region="outside"), rel=1e-6
    )
    assert res["n_inside"] == 400 and res["n_outside"] == 3200
    np.testing.assert_allclose(res["map"], 1.0 - metrics.ssim_map(a, b), atol=1e-7)
    diff = metrics.compare(a, b, map_kind="absdiff")
    np.testing.assert_allclose(diff["map"], np.abs(a - b), atol=1e-7)
    assert "ssim_inside" not in diff
    # an empty lesion mask gives no inside values instead of an error
    empty = metrics.compare(a, b, mask=np.zeros(a.shape, np.uint8))
    assert empty["ssim_inside"] is None and empty["n_inside"] == 0
    assert empty["ssim_outside"] == pytest.approx(res["ssim"], abs=1e-6)


def test_bad_inputs_are_input_errors(rng):
    a = rng.random((20, 30))
    with pytest.raises(InputError, match=r"A is 20 x 30, B is 30 x 20"):
        metrics.ssim(a, a.T)
    bad = a.copy()
    bad[3, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        metrics.ssim(a, bad)
    with pytest.raises(InputError, match="NaN"):
        metrics.psnr(bad, a)
    with pytest.raises(InputError, match="mask is 10 x 30 but the images are 20 x 30"):
        metrics.ssim(a, a, mask=np.ones((10, 30)))
    with pytest.raises(InputError, match="no pixel lies inside"):
        metrics.rmse(a, a, mask=np.zeros(a.shape))
    with pytest.raises(InputError, match="data_range"):
        metrics.ssim(a, a, data_range=0)
    with pytest.raises(InputError, match="smaller than the 11 x 11"):
        metrics.ssim(a[:5], a[:5])
    with pytest.raises(InputError, match="2-D"):
        metrics.ssim(np.zeros((3, 20, 20)), np.zeros((3, 20, 20)))
    with pytest.raises(InputError, match="map kind"):
        metrics.compare(a, a, map_kind="nope")  # type: ignore[arg-type]


def test_default_data_range():
    u8 = np.zeros((4, 4), np.uint8)
    assert metrics.default_data_range(u8, u8) == 255.0
    f = np.linspace(0, 1, 16).reshape(4, 4)
    assert metrics.default_data_range(f, f) == 1.0
    assert metrics.default_data_range(f * 100, f) == pytest.approx(100.0)
