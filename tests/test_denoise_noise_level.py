"""core.noise_level: the blind noise level function follows known signal-dependent noise."""

import numpy as np

from napari_xray_synth.core.noise_level import NoiseModel, estimate_noise_model, noise_map
from napari_xray_synth.core.train.noise import own_noisy


def ramp_image(h=256, w=256) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return (0.05 + 0.9 * x / (w - 1) + 0.02 * np.sin(y / 9.0)).astype(np.float32)


def test_recovers_signal_dependent_noise(rng):
    clean = ramp_image()
    sigma_true = lambda v: 0.005 + 0.04 * v**2  # noqa: E731  (curved: not a line in variance)
    noisy = clean + rng.normal(0, 1, clean.shape).astype(np.float32) * sigma_true(clean)
    model = estimate_noise_model(noisy)
    for v in (0.2, 0.5, 0.8):
        assert abs(model.sigma(v) - sigma_true(v)) < 0.15 * sigma_true(v) + 0.002, v


def test_follows_the_stand_in_physics():
    clean = ramp_image()
    low, high = (estimate_noise_model(own_noisy(clean, d, 1)) for d in (3e4, 1e6))
    # lower dose: more noise; brighter (denser) parts: more noise
    assert low.sigma(0.5) > 3 * high.sigma(0.5)
    assert low.sigma(0.8) > low.sigma(0.2)


def test_degenerate_images():
    assert estimate_noise_model(np.zeros((1, 1))).typical_sigma == 0
    assert estimate_noise_model(np.full((40, 30), 0.3)).typical_sigma == 0
    m = noise_map(np.full((7, 9), 0.4, np.float32), NoiseModel.constant(0.02))
    assert m.shape == (7, 9) and np.allclose(m, 0.02)
    assert noise_map(np.zeros((1, 1), np.float32), NoiseModel.constant(0.0)).min() > 0
