import numpy as np

from napari_xray_synth.core.synth_gan import (
    GUIDED_UPSAMPLING,
    Window,
    _resample,
    guided_upsample,
    paste,
)


def _dome(side: int) -> np.ndarray:
    """A sharp bright edge (a diaphragm dome seen edge-on) with a little texture."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:side, 0:side]
    img = np.where(yy > side / 2 + 0.15 * (xx - side / 2), 0.8, 0.3).astype(np.float32)
    return img + rng.normal(0, 0.01, img.shape).astype(np.float32)


def test_guided_upsampling_cancels_a_sharp_edge_that_bilinear_leaves_as_a_rim():
    side, size = 320, 32
    high = _dome(side)
    low = _resample(high, size)
    # the residual that fills the dark side up to the bright one (an effusion over the dome)
    target_low = np.full((size, size), 0.8, np.float32)
    residual = target_low - low
    bilinear = high + _resample(residual, side)
    guided = high + guided_upsample(low, residual, high, radius=1, eps=(0.02 * 0.5) ** 2)
    truth = np.full_like(high, 0.8)
    inner = (slice(20, -20), slice(20, -20))
    err_bi = np.abs(bilinear - truth)[inner]
    err_gu = np.abs(guided - truth)[inner]
    # bilinear: a rim along the edge several times the noise; guided: close to the noise
    assert err_bi.max() > 0.1
    assert err_gu.max() < 0.5 * err_bi.max()
    assert err_gu.mean() < 0.5 * err_bi.mean()


def test_guided_upsampling_where_the_guide_is_flat_is_the_smooth_residual():
    side, size = 256, 32
    high = np.full((side, side), 0.5, np.float32)
    yy, xx = np.mgrid[0:size, 0:size]
    residual = np.exp(-((yy - 16) ** 2 + (xx - 16) ** 2) / 40.0).astype(np.float32) * 0.1
    out = guided_upsample(_resample(high, size), residual, high, radius=1, eps=1e-4)
    # a flat guide carries no edges: the result is the residual, box-smoothed and upsampled
    assert abs(out.max() - 0.1) < 0.02
    assert np.abs(_resample(out, size) - residual).max() < 0.02


def test_guided_paste_changes_nothing_beyond_the_feather():
    side, size = 320, 32
    image = np.pad(_dome(side), 40, mode="edge")
    feather = np.zeros((size, size), np.float32)
    feather[8:24, 8:24] = 1.0
    win = Window(40, 40, side, size, _resample(image[40:360, 40:360], size), np.zeros(1), feather)
    residual = np.full((size, size), 0.3, np.float32)
    out = paste(image, win, residual, 0.5, guided=True)
    changed = out != image
    assert changed.any()
    rows, cols = np.nonzero(changed)
    # feather pixels 8..23 of 32 -> image rows 40 + 80..240 (bilinear reach: one coarse pixel)
    assert rows.min() >= 40 + 70 and rows.max() <= 40 + 250
    assert cols.min() >= 40 + 70 and cols.max() <= 40 + 250
    assert {"effusion", "cardiomegaly"} <= GUIDED_UPSAMPLING


def test_guided_upsampling_never_copies_the_image_structure_into_the_lesion():
    # a residual that follows the guide's texture with a positive sign (a lesion that would
    # amplify the lung markings): the clip a <= 0 adds no more of that texture than plain
    # bilinear upsampling of the coarse residual carries
    side, size = 256, 32
    rng = np.random.default_rng(1)
    high = 0.5 + 0.05 * rng.normal(0, 1, (side, side)).astype(np.float32)
    low = _resample(high, size)
    residual = 0.1 + 0.5 * (low - 0.5)
    out = guided_upsample(low, residual, high, radius=1, eps=1e-6)
    free = guided_upsample(low, residual, high, radius=1, eps=1e-6, a_range=(-10.0, 10.0))
    corr = lambda u: np.corrcoef(u.ravel(), high.ravel())[0, 1]  # noqa: E731
    bilinear = _resample(residual, side)
    assert corr(free) > corr(bilinear) + 0.3  # unclipped, the full-resolution texture comes in
    assert corr(out) <= corr(bilinear) + 0.02
    assert abs(out.mean() - 0.1) < 0.01
