"""A small CNN pathology classifier that doubles as the feature extractor of the generative metrics.

Input: a radiograph, one channel in [0, 1], resized to ``size`` x ``size`` (256 by default).
Output: :data:`CLASSES` logits, one per class, read independently with a sigmoid (multi-label):
findings co-occur (an effusion beside cardiomegaly, a nodule in a consolidated lung), so the classes
must not compete as they would under a softmax, and each pathology's score is its own detector,
which is what an AUC per pathology measures. "none" is a class of its own, true when no finding is.

:meth:`PathologyClassifier.features` gives the pooled penultimate vector (128-D by default) that
the Fréchet distance, KID and precision/recall are computed on.

With ``locate_stage`` set, a 1 x 1 convolution on that stage's feature map gives one lesion map per
pathology (trained against the simulator's masks) and the strongest cell of each map is added,
with a learned gain, to that pathology's logit. Whole-image pooling dilutes a small lesion; a map
supervised where the lesion is does not, which is what lets the classifier call nodules.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.models import register_architecture

#: The classifier's outputs, in order: "none" then every pathology.
CLASSES: tuple[str, ...] = ("none", *PATHOLOGIES)


def _block(c_in: int, c_out: int, groups: int) -> nn.Sequential:
    # GroupNorm, not BatchNorm: the same arithmetic in training and inference and for any batch
    # size, so features do not depend on what else is in the batch.
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
        nn.GroupNorm(min(groups, c_out), c_out),
        nn.SiLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.GroupNorm(min(groups, c_out), c_out),
        nn.SiLU(inplace=True),
    )


class PathologyClassifier(nn.Module):
    """Multi-label chest pathology classifier with a feature head.

    Parameters
    ----------
    size : int
        Side of the square input the network expects; :meth:`resize` shapes images to it.
    width : int
        Channels of the first stage; they double per stage up to ``features_dim``.
    stages : int
        Stride-2 stages (each halves the resolution).
    features_dim : int
        Length of the penultimate feature vector.
    n_classes : int
        Number of logits (``len(CLASSES)``).
    standardize : bool
        Scale each image to zero mean and unit variance before the first layer (so that global
        brightness and contrast, which vary between images, carry no weight); otherwise the
        [0, 1] range is only centred.
    locate_stage : int
        Stage (1-based) whose output feeds the per-pathology lesion maps; 0 for none. Its maps are
        ``size / 2**locate_stage`` cells on a side.
    """

    def __init__(
        self,
        size: int = 256,
        width: int = 16,
        stages: int = 6,
        features_dim: int = 128,
        n_classes: int = len(CLASSES),
        standardize: bool = False,
        locate_stage: int = 0,
    ) -> None:
        super().__init__()
        self.size = int(size)
        self.standardize = bool(standardize)
        self.num_features = int(features_dim)  # the attribute torchmetrics looks for
        chans = [min(width * 2**i, features_dim) for i in range(stages)]
        layers: list[nn.Module] = []
        c_in = 1
        for c in chans:
            layers.append(_block(c_in, c, 8))
            c_in = c
        self.body = nn.Sequential(*layers)
        self.project = nn.Sequential(nn.Linear(c_in * 2, features_dim), nn.SiLU(inplace=True))
        self.head = nn.Linear(features_dim, n_classes)
        if not 0 <= locate_stage <= stages:
            raise ValueError(f"locate_stage must be 0..{stages}, not {locate_stage}")
        self.locate_stage = int(locate_stage)
        if self.locate_stage:
            self.locate = nn.Conv2d(chans[self.locate_stage - 1], n_classes - 1, 1)
            # starts at zero: a classifier fine-tuned with a new map head begins as it was
            self.locate_gain = nn.Parameter(torch.zeros(n_classes - 1))

    def resize(self, x: torch.Tensor) -> torch.Tensor:
        """Shape any batch of images to the network's input: (N, 1, size, size) float in [0, 1].

        Accepts (H, W), (N, H, W) or (N, 1, H, W) in [0, 1]; resizes with area averaging when
        shrinking (no aliasing of the noise) and bilinear otherwise.
        """
        if x.dim() == 2:
            x = x[None, None]
        elif x.dim() == 3:
            x = x[:, None]
        x = x.float()
        if x.shape[-2:] != (self.size, self.size):
            shrink = x.shape[-2] >= self.size and x.shape[-1] >= self.size
            if shrink:
                x = F.adaptive_avg_pool2d(x, (self.size, self.size))
            else:
                x = F.interpolate(
                    x, size=(self.size, self.size), mode="bilinear", align_corners=False
                )
        return x

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = self.resize(x)
        if self.standardize:
            mean = x.mean(dim=(2, 3), keepdim=True)
            return (x - mean) / (x.std(dim=(2, 3), keepdim=True) + 1e-3)
        return (x - 0.5) * 2.0  # centre the [0, 1] range so the first layer starts near zero mean

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features and, with a map head, the lesion-map logits (N, n_classes - 1, h, w)."""
        h = self._prepare(x)
        maps = None
        for i, block in enumerate(self.body, start=1):
            h = block(h)
            if i == self.locate_stage:
                maps = self.locate(h)
        # mean and max pooling: a small lesion barely moves the mean, but it moves the max
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.project(pooled), maps

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate feature vector, (N, features_dim)."""
        return self._run(x)[0]

    def forward(
        self, x: torch.Tensor, with_maps: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
        """Logits, (N, n_classes); apply a sigmoid per class for probabilities.

        With ``with_maps``, also the lesion-map logits (N, n_classes - 1, h, w), None without a
        map head (training needs both from one pass).
        """
        _, logits, maps = self.features_and_logits(x)
        return (logits, maps) if with_maps else logits

    def features_and_logits(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Features, logits and lesion-map logits (None without a map head) from one pass."""
        feats, maps = self._run(x)
        logits = self.head(feats)
        if maps is not None:
            located = self.locate_gain * maps.amax(dim=(2, 3))
            logits = torch.cat([logits[:, :1], logits[:, 1:] + located], dim=1)
        return feats, logits, maps


class FeatureModule(nn.Module):
    """A classifier seen as a feature extractor: ``forward`` returns :meth:`features`.

    This is the shape torchmetrics' ``FrechetInceptionDistance(feature=...)`` and
    ``KernelInceptionDistance(feature=...)`` take in place of Inception: images in, (N, D) out,
    with a ``num_features`` attribute. It never leaves evaluation mode.
    """

    def __init__(self, classifier: PathologyClassifier) -> None:
        super().__init__()
        self.classifier = classifier
        self.num_features = classifier.num_features
        self.eval()

    def train(self, mode: bool = True) -> FeatureModule:
        """Stay in evaluation mode whatever is asked (features must not drift)."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features of a batch of images (any layout :meth:`PathologyClassifier.resize` takes)."""
        with torch.no_grad():
            return self.classifier.features(x)


#: Builds a :class:`PathologyClassifier` from a model card's ``config`` (the registered builder).
build_classifier = register_architecture("pathology-classifier")(PathologyClassifier)


def labels_of(pathologies: list[str] | tuple[str, ...]) -> np.ndarray:
    """Multi-hot target over :data:`CLASSES` for the findings of one image ("none" if empty)."""
    y = np.zeros(len(CLASSES), np.float32)
    for p in pathologies:
        y[CLASSES.index(p)] = 1.0
    if not pathologies:
        y[0] = 1.0
    return y
