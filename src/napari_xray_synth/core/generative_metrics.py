"""Offline generative metrics on the project's own classifier features: nothing downloads weights.

- Fréchet distance and KID: torchmetrics' ``FrechetInceptionDistance`` and
  ``KernelInceptionDistance`` with our :class:`~napari_xray_synth.core.nn.classifier.FeatureModule`
  in place of Inception (:func:`frechet_distance_images`). Features of a set are usually wanted
  for several comparisons (against the generated set and in the real-against-real floor), so the
  array functions (:func:`frechet_distance`, :func:`kernel_inception_distance`) feed
  precomputed features through an identity module into the same torchmetrics code.
- AUC by the rank formula (Mann-Whitney U, ties counted one half): sklearn is not a dependency.
- Precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020) from k-NN
  balls on the features.
- :func:`real_split_floor`: the same metrics between two halves of the real set, the value a
  perfect generator would get with this many images.

Everything here is GUI-free and works on CPU.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy import stats
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report


class _Precomputed(nn.Module):
    """Identity "feature extractor" so torchmetrics can be fed features we already have."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = int(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _as_features(f: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(f), dtype=torch.float64)
    if t.dim() != 2:
        raise InputError(f"{name}: features must be (N, D), got shape {tuple(t.shape)}")
    if t.shape[0] < 2:
        raise InputError(f"{name}: at least 2 images are needed, got {t.shape[0]}")
    if not torch.isfinite(t).all():
        raise InputError(f"{name}: features hold NaN or infinite values")
    return t


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance between two feature sets (torchmetrics' FID arithmetic).

    Parameters
    ----------
    real, fake : ndarray, (N, D) and (M, D)
        Features of the two sets (N, M >= 2).
    """
    a, b = _as_features(real, "real"), _as_features(fake, "generated")
    if a.shape[1] != b.shape[1]:
        raise InputError(f"feature lengths differ: {a.shape[1]} and {b.shape[1]}")
    metric = FrechetInceptionDistance(feature=_Precomputed(a.shape[1]))
    metric.set_dtype(torch.float64)
    metric.update(a, real=True)
    metric.update(b, real=False)
    # eigenvalues of a product of covariances can come out a hair below 0: clip the round-off
    return max(float(metric.compute()), 0.0)


def kernel_inception_distance(
    real: np.ndarray,
    fake: np.ndarray,
    subsets: int = 50,
    subset_size: int | None = None,
    seed: int = 0,
) -> tuple[float, float]:
    """KID (polynomial-kernel MMD², unbiased) between two feature sets: (mean, std over subsets).

    Parameters
    ----------
    real, fake : ndarray
        Features, (N, D) and (M, D).
    subsets : int
        Random subsets averaged over.
    subset_size : int, optional
        Images per subset; default half the smaller set, at most 1000 (with the whole set in
        every subset the spread over subsets would be 0 and say nothing).
    seed : int
        Seed of the subset draws (torchmetrics draws with the global torch generator; it is
        forked here so the caller's state is untouched).
    """
    a, b = _as_features(real, "real"), _as_features(fake, "generated")
    size = subset_size or max(2, min(a.shape[0], b.shape[0], 2000) // 2)
    if size > min(a.shape[0], b.shape[0]):
        raise InputError(
            f"KID subset size {size} exceeds the smaller set ({min(a.shape[0], b.shape[0])})"
        )
    with warnings.catch_warnings():  # the "features kept in memory" notice: that is the point
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(
            feature=_Precomputed(a.shape[1]), subsets=subsets, subset_size=int(size)
        )
    metric.update(a, real=True)
    metric.update(b, real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def frechet_distance_images(
    feature: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    batch: int = 16,
) -> float:
    """Fréchet distance with torchmetrics calling our feature module on images directly.

    Parameters
    ----------
    feature : nn.Module
        Images in, (N, D) features out, with ``num_features`` (a ``FeatureModule``).
    real, fake : Tensor
        Image batches the module takes, e.g. (N, 1, H, W) in [0, 1].
    batch : int
        Images per forward pass.
    """
    metric = FrechetInceptionDistance(feature=feature)  # its running sums are float64 already
    for imgs, is_real in ((real, True), (fake, False)):
        for i in range(0, imgs.shape[0], batch):
            metric.update(imgs[i : i + batch], real=is_real)
    return max(float(metric.compute()), 0.0)


def auc(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Area under the ROC curve by the rank formula (Mann-Whitney U; ties count one half).

    Returns NaN when one class is absent (the AUC is undefined, not 0.5).
    """
    s = np.asarray(scores, np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    if s.shape != y.shape:
        raise InputError(f"{s.size} scores for {y.size} labels")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = stats.rankdata(s)  # average ranks for ties
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def _kth_radius(x: np.ndarray, k: int) -> np.ndarray:
    """Distance of each point to its k-th nearest neighbour within the same set."""
    d = _pairwise(x, x)
    np.fill_diagonal(d, np.inf)
    k = min(k, x.shape[0] - 1)
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aa = (a * a).sum(1)[:, None]
    bb = (b * b).sum(1)[None, :]
    return np.sqrt(np.maximum(aa + bb - 2.0 * a @ b.T, 0.0))


def manifold_metrics(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of a generated set on k-NN manifolds.

    Precision: share of generated points inside some real point's k-NN ball (fidelity).
    Recall: share of real points inside some generated point's k-NN ball (diversity).
    Density: how many real balls hold a generated point, on average, over k (can exceed 1).
    Coverage: share of real balls that hold at least one generated point.

    Parameters
    ----------
    real, fake : ndarray
        Features, (N, D) and (M, D).
    k : int
        Neighbours defining each ball (5 in both papers); capped at set size - 1.
    """
    r = _as_features(real, "real").numpy()
    f = _as_features(fake, "generated").numpy()
    k = max(1, min(k, r.shape[0] - 1, f.shape[0] - 1))
    rad_r, rad_f = _kth_radius(r, k), _kth_radius(f, k)
    d_rf = _pairwise(r, f)  # (N, M)
    in_real = d_rf <= rad_r[:, None]  # generated j inside real ball i
    in_fake = d_rf <= rad_f[None, :]  # real i inside generated ball j
    return {
        "precision": float(in_real.any(axis=0).mean()),
        "recall": float(in_fake.any(axis=1).mean()),
        "density": float(in_real.sum(axis=0).mean() / k),
        "coverage": float(in_real.any(axis=1).mean()),
        "k": float(k),
    }


def set_metrics(
    real: np.ndarray,
    fake: np.ndarray,
    kid_subsets: int = 50,
    k: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """FD, KID (mean, std), precision, recall, density and coverage of ``fake`` against ``real``."""
    kid_mean, kid_std = kernel_inception_distance(real, fake, subsets=kid_subsets, seed=seed)
    return {
        "fd": frechet_distance(real, fake),
        "kid": kid_mean,
        "kid_std": kid_std,
        **manifold_metrics(real, fake, k=k),
    }


def real_split_floor(
    real: np.ndarray, kid_subsets: int = 50, k: int = 5, seed: int = 0
) -> dict[str, float]:
    """The same metrics between two random halves of the real set: the floor to read others by.

    A generated set of the same size cannot be expected to score better than this: FD and KID
    have a finite-sample bias, and precision/recall cannot reach 1 with few images.
    """
    r = np.asarray(real)
    if r.shape[0] < 4:
        raise InputError(f"the real-against-real floor needs at least 4 real images, got {len(r)}")
    idx = np.random.default_rng(seed).permutation(r.shape[0])
    half = r.shape[0] // 2
    return set_metrics(r[idx[:half]], r[idx[half : 2 * half]], kid_subsets, k, seed)


def extract(
    model: nn.Module,
    images: Sequence[np.ndarray] | np.ndarray,
    batch: int = 16,
    device: torch.device | str = "cpu",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Run the classifier over images: ``{"features": (N, D), "probs": (N, C)}`` as numpy.

    Parameters
    ----------
    model : PathologyClassifier
        The trained classifier (its ``resize`` shapes each image).
    images : sequence of 2-D arrays in [0, 1]
        Images may differ in size: they are resized one at a time.
    batch : int
        Images per forward pass.
    """
    model.eval()
    feats, probs = [], []
    n = len(images)
    for i in range(0, n, batch):
        check_cancel(cancel)
        x = torch.cat(
            [
                model.resize(torch.as_tensor(np.asarray(im, np.float32)).to(device))
                for im in images[i : i + batch]
            ]
        )
        with torch.no_grad():
            # the whole forward pass: a lesion-map head's strongest cell counts in the logits
            f, logits, _ = model.features_and_logits(x)
            p = torch.sigmoid(logits)
        feats.append(f.cpu().numpy())
        probs.append(p.cpu().numpy())
        report(progress, min(i + batch, n), n)
    dim = getattr(model, "num_features", 0)
    return {
        "features": np.concatenate(feats) if feats else np.zeros((0, dim), np.float32),
        "probs": np.concatenate(probs) if probs else np.zeros((0, 0), np.float32),
    }
