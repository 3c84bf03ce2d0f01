"""core.denoise: tiled inference, sizes, bad input, stacks, strength, classical methods, models."""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pytest
import torch

from napari_xray_synth.core.denoise import denoise
from napari_xray_synth.core.errors import InputError, ModelError
from napari_xray_synth.core.models import save_model
from napari_xray_synth.core.nn.denoiser import ARCHITECTURE, build_denoiser
from napari_xray_synth.core.radiograph import Radiograph
from napari_xray_synth.core.tiling import tile_layout, tiled_apply

CFG = {"c1": 8, "c2": 16, "depth": 2}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    """An untrained (random but fixed) denoiser saved through the registry."""
    torch.manual_seed(0)
    net = build_denoiser(**CFG)
    path = tmp_path_factory.mktemp("models") / "tiny-denoiser"
    save_model(net, path, ARCHITECTURE, CFG, {"training_command": "test fixture", "seed": 0})
    return str(path)


def smooth_image(h: int = 200, w: int = 260) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return (0.5 + 0.3 * np.sin(x / 23.0) * np.cos(y / 31.0)).astype(np.float32)


def noisy_image(rng, h=128, w=160, sigma=0.05) -> np.ndarray:
    return np.clip(smooth_image(h, w) + rng.normal(0, sigma, (h, w)), 0, 1).astype(np.float32)


def test_tile_layout_covers_with_overlap():
    for n, tile, ov in [(2048, 512, 32), (1000, 300, 16), (513, 512, 32), (40, 512, 32)]:
        starts, size = tile_layout(n, tile, ov)
        assert size <= tile and starts[0] == 0 and n <= starts[-1] + size < n + size // 2
        assert size % 4 == 0 and all(s % 4 == 0 for s in starts)  # same pixel phase everywhere
        for a, b in itertools.pairwise(starts):
            assert a + size - b >= min(ov, tile // 2)  # neighbours share the overlap


def test_tiled_equals_untiled_on_smooth_image(tiny_model):
    img = Radiograph(smooth_image(200, 260))
    whole = denoise(img, model=tiny_model, tile=1024, strength=0.02).image
    tiled = denoise(img, model=tiny_model, tile=64, overlap=24, strength=0.02).image
    assert np.abs(whole - tiled).max() < 0.01
    # no seam: the row-to-row change in the difference is nowhere large
    diff = tiled - whole
    assert np.abs(np.diff(diff, axis=0)).max() < 0.005
    assert np.abs(np.diff(diff, axis=1)).max() < 0.005


def test_blending_is_exact_for_an_identity():
    img = smooth_image(301, 157)
    out = tiled_apply(img, lambda x, _o: x * 1.0, tile=64, overlap=16, batch_size=3)
    np.testing.assert_allclose(out, img, atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (7, 5), (33, 17), (65, 200), (3000, 5)])
def test_any_size(tiny_model, shape, rng):
    img = rng.random(shape, dtype=np.float32)
    out = denoise(Radiograph(img), model=tiny_model, tile=64)
    assert out.image.shape == shape and out.image.dtype == np.float32
    assert np.all(np.isfinite(out.image)) and out.image.min() >= 0 and out.image.max() <= 1


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("method", ["model", "tv"])
def test_nan_and_inf_refused(tiny_model, bad, method):
    img = np.full((20, 20), 0.5, np.float32)
    img[3, 4] = bad
    with pytest.raises(InputError, match="NaN or infinite"):
        denoise(img, method=method, model=tiny_model)


def test_constant_image_stays_constant(tiny_model):
    img = np.full((64, 80), 0.37, np.float32)
    out = denoise(Radiograph(img), model=tiny_model).image
    assert np.ptp(out) < 0.05
    for method in ("gaussian", "median", "nl_means", "tv"):
        out = denoise(Radiograph(img), method=method).image
        np.testing.assert_allclose(out, 0.37, atol=1e-4)


def test_input_not_modified_and_provenance(tiny_model, rng):
    img = noisy_image(rng)
    rg = Radiograph(img.copy(), spacing=(0.2, 0.2))
    out = denoise(rg, model=tiny_model, tile=64)
    np.testing.assert_array_equal(rg.image, img)
    step = out.provenance[-1]
    assert step.operation == "denoise" and out.spacing == (0.2, 0.2)
    p = step.parameters
    assert p["method"] == "model" and p["strength"] == "auto" and p["tile"] == 64
    assert p["device"] == "cpu" and p["estimated_noise"]["typical_sigma"] > 0.02
    assert step.model_sha256 and len(step.model_sha256) == 64
    json.dumps(out.metadata())  # provenance is JSON-able


def test_stack_slice_by_slice(tiny_model, rng):
    stack = np.stack([noisy_image(rng, 48, 40), noisy_image(rng, 48, 40) * 0.5])
    outs = denoise(stack, model=tiny_model)
    assert isinstance(outs, list) and len(outs) == 2
    single = denoise(Radiograph(stack[1]), model=tiny_model)
    np.testing.assert_allclose(outs[1].image, single.image, atol=1e-6)
    seen = []
    denoise(list(map(Radiograph, stack)), method="gaussian", progress=lambda d, t: seen.append(d))
    assert seen[-1] == 2000


def test_strength_override_changes_output(tiny_model, rng):
    rg = Radiograph(noisy_image(rng))
    auto = denoise(rg, model=tiny_model).image
    weak = denoise(rg, model=tiny_model, strength=0.001).image
    strong = denoise(rg, model=tiny_model, strength=0.2).image
    assert np.abs(weak - strong).mean() > 1e-3
    assert np.abs(auto - strong).mean() > 1e-4
    for method, s1, s2 in [
        ("gaussian", 0.5, 3),
        ("median", 1, 3),
        ("nl_means", 0.01, 0.1),
        ("tv", 0.01, 0.3),
    ]:
        a = denoise(rg, method=method, strength=s1).image
        b = denoise(rg, method=method, strength=s2).image
        assert np.abs(a - b).mean() > 1e-3, method


@pytest.mark.parametrize("method", ["gaussian", "median", "nl_means", "tv"])
def test_classical_methods_reduce_noise(method, rng):
    clean = smooth_image(96, 96)
    noisy = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1).astype(np.float32)
    out = denoise(Radiograph(noisy), method=method)
    err_in = np.sqrt(np.mean((noisy - clean) ** 2))
    err_out = np.sqrt(np.mean((out.image - clean) ** 2))
    assert err_out < 0.7 * err_in, (method, err_in, err_out)
    p = out.provenance[-1].parameters
    assert p["strength_auto"] and 0.03 < p["estimated_sigma"] < 0.07


def test_bad_arguments(tiny_model):
    img = np.zeros((8, 8), np.float32)
    with pytest.raises(InputError, match="unknown method"):
        denoise(img, method="bm3d")
    with pytest.raises(InputError, match="strength"):
        denoise(img, strength="lots", model=tiny_model)
    with pytest.raises(InputError, match="strength"):
        denoise(img, strength=-1.0, model=tiny_model)
    with pytest.raises(InputError):
        denoise(np.zeros((2, 2, 2, 2)), model=tiny_model)
    with pytest.raises(InputError, match=r"not available|unknown device"):
        denoise(img, model=tiny_model, device="tpu")


def test_missing_model_names_training_command(tmp_path):
    with pytest.raises(ModelError, match="xray-synth train denoiser"):
        denoise(np.zeros((8, 8), np.float32), model="no-such-denoiser-model-xyz")
    with pytest.raises(ModelError, match="xray-synth train denoiser"):
        denoise(np.zeros((8, 8), np.float32), model=str(tmp_path / "denoiser"))


def test_sha_mismatch_is_a_model_error(tiny_model, tmp_path):
    import shutil
    from pathlib import Path

    src = Path(tiny_model)
    dst = tmp_path / "denoiser"
    shutil.copy(src.with_suffix(".safetensors"), dst.with_suffix(".safetensors"))
    shutil.copy(src.with_suffix(".json"), dst.with_suffix(".json"))
    w = dst.with_suffix(".safetensors")
    w.write_bytes(w.read_bytes()[:-4] + b"\x00\x00\x00\x01")
    with pytest.raises(ModelError, match=r"sha256.*xray-synth train denoiser"):
        denoise(np.zeros((8, 8), np.float32), model=str(dst))


def test_cancel_stops(tiny_model, rng):
    class Now:
        def is_set(self) -> bool:
            return True

    from napari_xray_synth.core.progress import Cancelled

    with pytest.raises(Cancelled):
        denoise(noisy_image(rng), model=tiny_model, tile=32, cancel=Now())


@pytest.mark.parametrize(
    ("method", "bad", "edge"),
    [("model", 1e9, 0.5), ("gaussian", 21.0, 20.0), ("median", 100, 10), ("tv", 1.5, 1.0)],
)
def test_strength_outside_the_methods_range_is_refused(method, bad, edge, tiny_model):
    from napari_xray_synth.core.denoise import STRENGTH_RANGES, check_strength

    img = np.full((8, 8), 0.5, np.float32)
    with pytest.raises(
        InputError, match=re.escape(f"strength {bad:g} is out of range for {method}")
    ):
        denoise(img, method=method, strength=bad, model=tiny_model)
    assert check_strength(method, edge) == edge  # the ends are allowed
    r = STRENGTH_RANGES[method]
    assert r.lo <= r.default <= r.hi


def test_strength_ranges_hold_the_auto_values():
    from napari_xray_synth.core.denoise import STRENGTH_RANGES

    # "auto" gives at most: gaussian 3 px, median 2 px, nl_means/tv 0.8/1.5 x a noise sigma
    # that is far below 0.3 on a radiograph; the tests use up to 0.3 (tv) and 3 (median)
    assert 3.0 in STRENGTH_RANGES["gaussian"] and 2 in STRENGTH_RANGES["median"]
    assert 0.8 * 0.3 in STRENGTH_RANGES["nl_means"] and 1.5 * 0.3 in STRENGTH_RANGES["tv"]
    assert 0.2 in STRENGTH_RANGES["model"]


@pytest.mark.parametrize(
    ("method", "value", "message"),
    [
        ("gaussian", 0, "strength 0 would leave the image unchanged for gaussian"),
        ("nl_means", 0, "strength 0 would leave the image unchanged for nl_means"),
        ("tv", 0, "strength 0 would leave the image unchanged for tv"),
        ("median", 0, "strength 0 is out of range for median: allowed 1 to 10"),
        ("median", 0.3, "strength 0.3 is out of range for median: allowed 1 to 10"),
        ("median", 2.5, "strength 2.5 is not a whole number for median"),
    ],
)
def test_a_strength_that_changes_nothing_or_is_no_radius_is_refused(method, value, message):
    # a classical filter at 0 (or a median radius that rounds to 0) wrote an identical copy
    with pytest.raises(InputError, match=re.escape(message)):
        denoise(np.full((8, 8), 0.5, np.float32), method=method, strength=value)


def test_a_median_records_the_radius_it_used(rng):
    out = denoise(Radiograph(noisy_image(rng, 32, 32)), method="median", strength=2.0)
    used = out.provenance[-1].parameters["strength"]
    assert used == 2 and isinstance(used, int)
