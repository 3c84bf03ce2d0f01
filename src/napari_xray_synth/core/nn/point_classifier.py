"""A pathology classifier that answers "what is at this point?" for a clicked location.

The whole-image classifier (:mod:`.classifier`) sees a chest at 256 px, about 1.4 mm per pixel,
where a 10 mm nodule is a faint blob of 7 px among the ribs: it cannot call nodules. A
synthesis request names a point, and the question a radiologist asks of a variant is whether
the requested finding is *there*. This network looks at three views of the film:

* local views of ``crop`` x ``crop`` pixels centred on the point, at 0.7 mm per pixel (90 mm
  across, where a 10 mm nodule spans 14 pixels) and at 1.4 mm (180 mm: a 70 mm mass with its
  margins and the lung around it). Sizes stay sizes, so a nodule (under 30 mm) and a mass (over
  30 mm) differ as they do for a reader;
* a global view: the whole film resized to ``crop`` x ``crop``, for what needs the whole chest
  (an enlarged heart against the thorax, an effusion's meniscus).

All views are standardised by the global view's mean and spread, so the local views keep their
brightness relative to the chest. Output: :data:`CLASSES` logits read with a softmax: one
finding is asked about per point, "none" included.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.models import TRAIN_HINTS, register_architecture

TRAIN_HINTS["point_classifier"] = "xray-synth train point-classifier --out models/point_classifier"

#: Outputs, in order: "none" then every pathology (the whole-image classifier's order).
CLASSES: tuple[str, ...] = ("none", *PATHOLOGIES)


def _tower(chans: list[int]) -> nn.Sequential:
    # a stride-2 stem, then 3x3 convolutions each followed by 2x2 max pooling; GroupNorm keeps
    # inference independent of the batch
    layers: list[nn.Module] = [
        nn.Conv2d(1, chans[0], 3, stride=2, padding=1),
        nn.GroupNorm(4, chans[0]),
        nn.ReLU(inplace=True),
    ]
    for a, b in itertools.pairwise(chans):
        layers += [
            nn.Conv2d(a, b, 3, padding=1),
            nn.GroupNorm(4, b),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        ]
    return nn.Sequential(*layers)


@register_architecture("point-classifier")
class PointClassifier(nn.Module):
    """Classifier of the finding at a point from local views at fixed pixel sizes and the film.

    Parameters
    ----------
    width : int
        Channels of the first layer of each view's tower.
    crop : int
        Side in pixels of every view.
    views_mm : sequence of float
        Pixel sizes of the local views in mm, each ``crop`` pixels centred on the point.
    n_classes : int
        Number of logits (``len(CLASSES)``).
    """

    def __init__(
        self,
        width: int = 16,
        crop: int = 128,
        views_mm: Sequence[float] = (0.7, 1.4),
        n_classes: int = len(CLASSES),
    ) -> None:
        super().__init__()
        self.crop, self.views_mm = int(crop), tuple(float(v) for v in views_mm)
        if not self.views_mm:
            raise ValueError("at least one local view is needed")
        w = int(width)
        self.local = nn.ModuleList(_tower([w, 2 * w, 4 * w, 4 * w, 8 * w]) for _ in self.views_mm)
        self.whole = _tower([w, 2 * w, 2 * w, 4 * w])
        n_in = 2 * 8 * w * len(self.views_mm) + 2 * 4 * w
        self.head = nn.Sequential(
            nn.Linear(n_in, 64), nn.ReLU(inplace=True), nn.Linear(64, n_classes)
        )

    def forward(self, views: Sequence[torch.Tensor], whole: torch.Tensor) -> torch.Tensor:
        """Logits (N, n_classes) from the local views and the global one, each (N, 1, crop,
        crop)."""
        mean = whole.mean(dim=(2, 3), keepdim=True)
        spread = whole.std(dim=(2, 3), keepdim=True) + 1e-3
        pooled = []
        for tower, v in zip([*self.local, self.whole], [*views, whole], strict=True):
            h = tower((v - mean) / spread)
            pooled += [h.mean(dim=(2, 3)), h.amax(dim=(2, 3))]
        return self.head(torch.cat(pooled, dim=1))

    def views(
        self, image: np.ndarray, center: tuple[float, float], spacing_mm: float
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The views of ``image`` (2-D, [0, 1]) for the point ``center`` (row, col, pixels)."""
        return point_views(image, center, spacing_mm, self.crop, self.views_mm)

    @torch.no_grad()
    def probabilities(
        self, image: np.ndarray, center: tuple[float, float], spacing_mm: float
    ) -> np.ndarray:
        """Softmax probabilities of :data:`CLASSES` for the finding at ``center``."""
        self.eval()
        dev = next(self.parameters()).device
        local, whole = self.views(image, center, spacing_mm)
        logits = self([v.to(dev) for v in local], whole.to(dev))
        return torch.softmax(logits, dim=1)[0].cpu().numpy()


def point_views(
    image: np.ndarray,
    center: tuple[float, float],
    spacing_mm: float,
    crop: int = 128,
    views_mm: Sequence[float] = (0.7, 1.4),
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Local views (one per pixel size) and the global view, each (1, 1, crop, crop) float32.

    Parameters
    ----------
    image : ndarray
        A 2-D radiograph in [0, 1].
    center : (float, float)
        The point, (row, col) in pixels of ``image``.
    spacing_mm : float
        Pixel size of ``image``.
    crop : int
        Side of every view in pixels.
    views_mm : sequence of float
        Pixel sizes of the local views: for each, the film is resampled to it (area averaging
        when shrinking) and cropped around the point, mirrored at the film's edges.
    """
    img = np.asarray(image, np.float32)
    if img.ndim != 2:
        raise ValueError(f"a 2-D image is needed, not {img.ndim}-D")
    r, c = float(center[0]), float(center[1])
    if not (0 <= r < img.shape[0] and 0 <= c < img.shape[1]):
        raise ValueError(f"the point ({r:.0f}, {c:.0f}) is outside the {img.shape} image")
    t = torch.from_numpy(np.ascontiguousarray(img))[None, None]
    return [_local(t, r, c, float(spacing_mm) / v, crop) for v in views_mm], _resize(
        t, (crop, crop)
    )


def _local(t: torch.Tensor, r: float, c: float, f: float, crop: int) -> torch.Tensor:
    """``crop`` pixels around (r, c) of ``t`` resampled by the factor ``f``."""
    shape = (max(1, round(t.shape[-2] * f)), max(1, round(t.shape[-1] * f)))
    resized = _resize(t, shape)
    half = crop // 2
    # mirror padding needs the pad smaller than the image; replicate covers tiny films
    mode = "reflect" if min(shape) > crop else "replicate"
    padded = F.pad(resized, (crop, crop, crop, crop), mode=mode)
    rr = min(max(round(r * f), 0), shape[0] - 1) + crop
    cc = min(max(round(c * f), 0), shape[1] - 1) + crop
    return padded[..., rr - half : rr - half + crop, cc - half : cc - half + crop].contiguous()


def _resize(t: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Area averaging when shrinking (no aliasing of the noise), bilinear when growing."""
    if shape[0] <= t.shape[-2] and shape[1] <= t.shape[-1]:
        return F.adaptive_avg_pool2d(t, shape)
    return F.interpolate(t, size=shape, mode="bilinear", align_corners=False)
