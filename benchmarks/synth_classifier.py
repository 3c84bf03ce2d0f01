"""A small pathology classifier on synthesis windows, for benchmarks/eval_synth.py only.

It looks at the image window that ``synth_gan.make_window`` cuts around a requested lesion (not
at the condition maps) and says which of "none" + the six pathologies it sees. It is trained on
the simulator's truth (healthy windows -> "none", diseased windows -> their pathology) of the
GAN's training seeds, never on generated images, and is evaluated on held-out seeds. Its
penultimate features serve as a local feature space for KID/FD (computed by
``core.generative_metrics``).

Conditioning itself is judged by the project classifier (``models/classifier``); this one is the
second, local view of the evaluation.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import torch
from torch import nn

from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.train.gan_data import WindowSet

CLASSES = ("none", *PATHOLOGIES)


class WindowClassifier(nn.Module):
    """Four conv blocks, global pooling, a 64-d feature, a linear head."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        chans = [1, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(chans):
            layers += [
                nn.Conv2d(a, b, 3, padding=1),
                nn.GroupNorm(4, b),
                nn.ReLU(True),
                nn.MaxPool2d(2),
            ]
        self.body = nn.Sequential(*layers)
        self.feat = nn.Linear(chans[-1] * 2, 64)
        self.head = nn.Linear(64, len(CLASSES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """64-d features of windows (B, 1, W, W)."""
        h = self.body(x)
        h = torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1)
        return torch.relu(self.feat(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def train_classifier(
    ws: WindowSet, steps: int = 400, batch: int = 32, seed: int = 0
) -> tuple[WindowClassifier, float]:
    """Train on (x -> none, y -> pathology) windows; returns the net and the seconds taken."""
    assert ws.y is not None and ws.pathology is not None
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    imgs = np.concatenate([ws.x, ws.y]).astype(np.float32)
    labels = np.concatenate([np.zeros(len(ws), np.int64), ws.pathology + 1])
    net = WindowClassifier()
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    t0 = time.time()
    for _ in range(steps):
        idx = rng.choice(len(imgs), batch)
        xb = imgs[idx].copy()
        flip = rng.random(batch) < 0.5
        xb[flip] = xb[flip][..., ::-1]
        xb = xb * rng.uniform(0.8, 1.25, (batch, 1, 1, 1)).astype(np.float32)
        loss = nn.functional.cross_entropy(
            net(torch.from_numpy(np.ascontiguousarray(xb))), torch.from_numpy(labels[idx])
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    return net, time.time() - t0


@torch.no_grad()
def predict(net: WindowClassifier, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(class indices, features) of windows (N, 1, W, W)."""
    t = torch.from_numpy(np.ascontiguousarray(windows, np.float32))
    f = net.features(t)
    return net.head(f).argmax(1).numpy(), f.numpy()
