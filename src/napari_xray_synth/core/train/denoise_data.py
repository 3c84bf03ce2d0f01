"""Training patches for the denoiser: (noisy, noise map, target) from the simulator or a folder.

Three sources, one interface (:meth:`PatchSource.batch`):

* ``SimulatorPairs``: simulator chest images (clean), noise drawn with the simulator's physics at
  doses spread log-uniformly over a range;
* ``FolderPairs``: a user's clean images, noise synthesized the same way;
* ``FolderNoisy``: a user's noisy images only, for self-supervised (Noise2Void) training.

The noise map fed to the network is estimated from the whole noisy image
(:func:`core.noise_level.estimate_noise_model` and :func:`~core.noise_level.noise_map`), exactly
as at inference, so the network learns to
live with the estimator's errors. Noisy full images are kept in a small pool that is refreshed a
little every batch, which keeps data costs low on a CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.noise_level import estimate_noise_model, noise_map
from napari_xray_synth.core.train.noise import synthesize_noisy

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".dcm")


def read_image(path: Path) -> np.ndarray:
    """A 2-D float32 image in [0, 1] from a file, through core io when it is there."""
    try:
        from napari_xray_synth.core.io import read_radiograph  # type: ignore[attr-defined]
    except ImportError:
        read_radiograph = None
    if read_radiograph is not None:
        return read_radiograph(path).image
    from skimage import io as skio

    img = np.asarray(skio.imread(str(path)))
    if img.ndim == 3:
        img = img[..., :3].mean(-1) if img.shape[-1] in (3, 4) else img[0]
    if np.issubdtype(img.dtype, np.integer):
        return (img.astype(np.float32) / np.iinfo(img.dtype).max).astype(np.float32)
    img = img.astype(np.float32)
    lo, hi = float(img.min()), float(img.max())
    return (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)


def folder_images(folder: str | Path) -> list[Path]:
    """Image files in ``folder`` (sorted); InputError when there are none."""
    d = Path(folder)
    if not d.is_dir():
        raise InputError("is not a folder of images", d)
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"holds no images ({', '.join(IMAGE_SUFFIXES)})", d)
    return files


def _augment(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    k = int(rng.integers(4))
    p = np.rot90(p, k, axes=(-2, -1))
    if rng.random() < 0.5:
        p = p[..., ::-1]
    return np.ascontiguousarray(p)


class PatchSource:
    """A pool of (noisy image, noise model, clean image or None) drawn from a clean set.

    Parameters
    ----------
    cleans : list of ndarray
        Clean images (or noisy ones for Noise2Void: then ``noisy_given=True``).
    patch : int
        Patch side.
    doses : (float, float)
        Dose range, sampled log-uniformly.
    seed : int
        Seed of every random draw.
    pool : int
        Noisy images kept; ``refresh`` of them are redrawn every batch.
    noisy_given : bool
        The images are already noisy (self-supervised training): no synthesis, no target.
    noise_fn : callable, optional
        ``noise_fn(clean, dose, seed)``; default :func:`synthesize_noisy`.
    """

    def __init__(
        self,
        cleans: list[np.ndarray],
        patch: int,
        doses: tuple[float, float] = (1e4, 3e6),
        seed: int = 0,
        pool: int = 16,
        refresh: int = 1,
        noisy_given: bool = False,
        noise_fn: Callable[[np.ndarray, float, int], np.ndarray] | None = None,
    ) -> None:
        if not cleans:
            raise InputError("no training images")
        small = [c.shape for c in cleans if min(c.shape) < patch]
        if small:
            raise InputError(f"images smaller than the patch size {patch}: {small[:3]}")
        self.cleans = cleans
        self.patch = patch
        self.doses = doses
        self.rng = np.random.default_rng(seed)
        self.noisy_given = noisy_given
        self.noise_fn = noise_fn or synthesize_noisy
        self.refresh = refresh
        self._pool: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        self._maps: dict[int, np.ndarray] = {}
        for _ in range(max(pool, 1)):
            self._pool.append(self._draw())

    def _draw(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        i = int(self.rng.integers(len(self.cleans)))
        img = self.cleans[i]
        if self.noisy_given:
            if i not in self._maps:
                self._maps[i] = noise_map(img, estimate_noise_model(img))
            return img, self._maps[i], None
        lo, hi = np.log(self.doses[0]), np.log(self.doses[1])
        dose = float(np.exp(self.rng.uniform(lo, hi)))
        noisy = self.noise_fn(img, dose, int(self.rng.integers(2**31)))
        return noisy, noise_map(noisy, estimate_noise_model(noisy)), img

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``n`` patches: noisy (n,1,P,P), sigma map (n,1,P,P) and clean targets (or None)."""
        for _ in range(self.refresh):
            self._pool[int(self.rng.integers(len(self._pool)))] = self._draw()
        p = self.patch
        xs, ss, ys = [], [], []
        for _ in range(n):
            noisy, smap, clean = self._pool[int(self.rng.integers(len(self._pool)))]
            r = int(self.rng.integers(noisy.shape[0] - p + 1))
            c = int(self.rng.integers(noisy.shape[1] - p + 1))
            x = noisy[r : r + p, c : c + p]
            stack = [x, smap[r : r + p, c : c + p]]
            if clean is not None:
                stack.append(clean[r : r + p, c : c + p])
            stack = _augment(np.stack(stack), self.rng)
            xs.append(stack[0])
            ss.append(stack[1])
            if clean is not None:
                ys.append(stack[2])
        x = np.stack(xs)[:, None].astype(np.float32)
        s = np.stack(ss)[:, None].astype(np.float32)
        y = np.stack(ys)[:, None].astype(np.float32) if ys else None
        return x, s, y


def n2v_mask(
    x: np.ndarray, fraction: float, rng: np.random.Generator, radius: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Noise2Void masking: replace a random ``fraction`` of pixels by a random neighbour.

    Returns
    -------
    (masked input, boolean mask of the replaced pixels), both shaped like ``x`` (n,1,H,W).
    """
    out = x.copy()
    mask = np.zeros_like(x, dtype=bool)
    n, _, h, w = x.shape
    k = max(int(fraction * h * w), 1)
    for i in range(n):
        rr = rng.integers(0, h, k)
        cc = rng.integers(0, w, k)
        dr = rng.integers(-radius, radius + 1, k)
        dc = rng.integers(-radius, radius + 1, k)
        same = (dr == 0) & (dc == 0)
        dc[same] = 1  # never the pixel itself
        sr = np.clip(rr + dr, 0, h - 1)
        sc = np.clip(cc + dc, 0, w - 1)
        out[i, 0, rr, cc] = x[i, 0, sr, sc]
        mask[i, 0, rr, cc] = True
    return out, mask
