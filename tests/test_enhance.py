"""core.clahe against scikit-image, and core.enhance's steps and provenance."""

import numpy as np
import pytest
from skimage import data, exposure, transform

from napari_xray_synth.core.clahe import clahe
from napari_xray_synth.core.enhance import check_enhance, detail_enhance, enhance, gaussian_blur
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.radiograph import Radiograph, Window


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    img = transform.resize(data.camera().astype(np.float32) / 255, (300, 350))
    noise = np.random.default_rng(0).normal(0, 0.01, img.shape)
    return np.clip(img + noise, 0, 1).astype(np.float32)


# Tolerances. scikit-image first quantises to 14 bits and bins with an integer width
# (16384 // nbins + 1: 256 asked bins are 252 real ones), clips at an integer limit and hands the
# excess out in whole counts by strides; ours bins the float directly and spreads the excess
# fractionally. With ``within_bin=False`` (its inclusive-CDF mapping) the two differ by a bin
# boundary here and there (one bin of a peaked local histogram moves a pixel by up to ~0.05) and by
# the rounding of the redistribution (~1 count per bin of ~6), so: mean < 0.012, 99th percentile
# < 0.06. A wrong region layout, clip or interpolation gives means of 0.05-0.2 (the unclipped
# check below). The default (4096 bins, CDF read linearly inside a bin) is held to the same
# algorithm on a larger image, where bins hold few counts.
@pytest.mark.parametrize("clip", [0.01, 0.03])
def test_clahe_matches_skimage_256_bins(photo, clip):
    ref = exposure.equalize_adapthist(photo, clip_limit=clip, nbins=256)
    ours = clahe(photo, clip_limit=clip, nbins=252, within_bin=False)
    d = np.abs(ours - ref)
    assert d.mean() < 0.012 and np.quantile(d, 0.99) < 0.06
    # and the clip limit matters: unclipped differs a lot
    assert np.abs(clahe(photo, clip_limit=0, nbins=252, within_bin=False) - ref).mean() > 0.03


def test_clahe_matches_skimage_full_depth():
    big = transform.resize(data.camera().astype(np.float32) / 255, (600, 700))
    big = np.clip(big + np.random.default_rng(0).normal(0, 0.01, big.shape), 0, 1)
    ref = exposure.equalize_adapthist(big, clip_limit=0.01, nbins=4096)
    ours = clahe(big.astype(np.float32), clip_limit=0.01, nbins=4096)
    d = np.abs(ours - ref)
    assert d.mean() < 0.005 and np.quantile(d, 0.99) < 0.02


def test_clahe_keeps_full_bit_depth():
    # a 12-bit ramp: CLAHE output keeps (nearly) every distinct level, unlike an 8-bit CLAHE
    ramp = np.tile(np.arange(4096, dtype=np.float32) / 4095, (64, 1))
    out = clahe(ramp, clip_limit=0.01, kernel_size=64)
    assert len(np.unique(out)) > 3000


@pytest.mark.parametrize("shape", [(1, 1), (2, 7), (17, 5), (64, 65)])
def test_clahe_any_size(shape, rng):
    out = clahe(rng.random(shape, dtype=np.float32))
    assert out.shape == shape and np.all(np.isfinite(out))


def test_enhance_steps_and_provenance(photo):
    rg = Radiograph(photo, spacing=(0.1, 0.1), windows=(Window(0.5, 0.6, "soft"),))
    out = enhance(rg, clahe=0.01, unsharp=1.0, gamma=0.8, window="soft", detail=(1.5, 1.2))
    steps = out.provenance[-1].parameters["steps"]
    assert [s["step"] for s in steps] == ["window", "clahe", "unsharp", "detail", "gamma"]
    assert steps[1]["clip_limit"] == 0.01 and steps[2]["amount"] == 1.0
    assert steps[4]["gamma"] == 0.8 and out.spacing == (0.1, 0.1)
    assert out.image.min() >= 0 and out.image.max() <= 1
    np.testing.assert_array_equal(rg.image, photo)  # input untouched


def test_each_step_does_what_it_says(photo, rng):
    rg = Radiograph(photo)
    g = enhance(rg, gamma=0.5).image
    np.testing.assert_allclose(g, np.clip(photo, 0, 1) ** 0.5, atol=1e-6)
    sharp = enhance(rg, unsharp=1.5).image
    # unsharp raises high-frequency energy
    hf = lambda a: np.abs(np.diff(a, axis=1)).mean()  # noqa: E731
    assert hf(sharp) > 1.2 * hf(photo)
    x = __import__("torch").from_numpy(photo)
    assert np.allclose(detail_enhance(x, (1.0, 1.0, 1.0)).numpy(), photo, atol=1e-5)
    assert hf(detail_enhance(x, (2.0, 1.5)).numpy()) > 1.2 * hf(photo)
    assert gaussian_blur(x, 2.0).shape == x.shape


def test_enhance_bad_input():
    with pytest.raises(InputError):
        enhance(Radiograph(np.array([[np.nan, 0.0]])), gamma=0.8)
    with pytest.raises(InputError, match="gamma"):
        enhance(Radiograph(np.zeros((4, 4))), gamma=0.0)
    with pytest.raises(InputError, match="window"):
        enhance(Radiograph(np.zeros((4, 4))), window="nope")
    out = enhance(Radiograph(np.full((5, 5), 0.3)), clahe=0.01, unsharp=1, gamma=2)
    assert np.all(np.isfinite(out.image))


def test_enhance_numbers_outside_their_range_are_refused():
    rg = Radiograph(np.full((8, 8), 0.3))
    with pytest.raises(InputError, match=r"clahe 5 is out of range: allowed 0 to 1"):
        enhance(rg, clahe=5.0)
    with pytest.raises(InputError, match=r"detail 1e\+09 is out of range: allowed 0 to 5"):
        enhance(rg, detail=(1.5, 1e9))
    with pytest.raises(InputError, match="unsharp_radius 0 is out of range"):
        enhance(rg, unsharp=1.0, unsharp_radius=0.0)
    # the CLI's spelling of the same check
    with pytest.raises(InputError, match="--unsharp-radius 0 is out of range"):
        check_enhance(unsharp=1.0, unsharp_radius=0.0, as_options=True)
    assert enhance(rg, clahe=1.0, detail=(0.0, 5.0)).image.shape == (8, 8)  # the ends are fine


def test_enhance_with_no_step_is_refused():
    rg = Radiograph(np.full((8, 8), 0.3))
    with pytest.raises(InputError, match="no enhancement step was chosen"):
        enhance(rg)
    with pytest.raises(InputError, match="--clahe, --unsharp, --detail, --gamma, --window"):
        check_enhance(as_options=True)


@pytest.mark.parametrize(
    ("steps", "said"),
    [
        ({"gamma": 1.0}, "--gamma 1 leaves it"),
        ({"unsharp": 0.0}, "--unsharp 0 leaves it"),
        ({"detail": (1.0, 1.0, 1.0)}, "--detail 1 1 1 leaves it"),
        ({"clahe": 0.0}, "--clahe 0 leaves it"),
        ({"clahe": 0.0, "gamma": 1.0}, "--clahe 0 and --gamma 1 leave it"),
    ],
)
def test_only_values_that_change_nothing_are_refused(steps, said):
    # an identical copy is no result: the same refusal as no step at all
    with pytest.raises(InputError, match=f"no enhancement step would change the image: {said}"):
        check_enhance(**steps, as_options=True)
    with pytest.raises(InputError, match="would change the image"):
        enhance(Radiograph(np.full((8, 8), 0.3)), **steps)


def test_a_step_at_its_identity_is_skipped_beside_one_that_changes(photo):
    rg = Radiograph(photo)
    out = enhance(rg, clahe=0.0, unsharp=0.0, detail=(1.0, 1.0), gamma=0.8)
    assert [s["step"] for s in out.provenance[-1].parameters["steps"]] == ["gamma"]
    np.testing.assert_array_equal(out.image, enhance(rg, gamma=0.8).image)


def test_clahe_0_is_off_and_1_is_no_limit(photo):
    # as in the widget: 0 = off; CLAHE without a clip limit is 1 (a bin never holds more)
    rg = Radiograph(photo)
    steps = enhance(rg, clahe=0.0, gamma=0.8).provenance[-1].parameters["steps"]
    assert "clahe" not in [s["step"] for s in steps]
    unlimited = clahe(photo, clip_limit=0)  # core.clahe keeps scikit-image's 0 = no limit
    np.testing.assert_allclose(enhance(rg, clahe=1.0).image, unlimited, atol=1e-6)
