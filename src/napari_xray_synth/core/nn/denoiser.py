"""A tiny, fully convolutional denoiser for signal-dependent (Poisson–Gaussian) noise.

The network takes the noisy image and a noise-level map (the standard deviation of the noise at
each pixel, in image units) and predicts the noise, which is subtracted. The map makes the net
blind in use (the map is estimated from the image, :mod:`core.noise_level`) while letting a user
override the strength (a constant or scaled map).

Speed is the design constraint (2048² in ≤ 3 s on a 2-core CPU), so nothing runs at full
resolution: like FFDNet, the image and map are pixel-unshuffled by 2 (lossless), a small U-Net
works at 1/2 and 1/4 resolution, and the residual is pixel-shuffled back.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from napari_xray_synth.core.models import register_architecture

ARCHITECTURE = "xray-denoiser-unet"

# Inputs must be padded to a multiple of this (two halvings).
MULTIPLE = 4


def _conv(cin: int, cout: int, k: int = 3) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2)


class DenoiserUNet(nn.Module):
    """Pixel-unshuffled two-level U-Net predicting the noise residual.

    Parameters
    ----------
    c1 : int
        Channels at half resolution.
    c2 : int
        Channels at quarter resolution.
    depth : int
        Number of 3×3 convolutions at quarter resolution.
    """

    def __init__(self, c1: int = 16, c2: int = 48, depth: int = 4) -> None:
        super().__init__()
        self.config = {"c1": c1, "c2": c2, "depth": depth}
        self.head = nn.Sequential(_conv(8, c1), nn.ReLU(inplace=True))
        self.down = nn.Sequential(nn.Conv2d(c1, c2, 2, stride=2), nn.ReLU(inplace=True))
        body: list[nn.Module] = []
        for _ in range(depth):
            body += [_conv(c2, c2), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*body)
        self.up = nn.ConvTranspose2d(c2, c1, 2, stride=2)
        self.tail = nn.Sequential(
            nn.ReLU(inplace=True), _conv(c1, c1), nn.ReLU(inplace=True), _conv(c1, 4)
        )

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Denoise.

        Parameters
        ----------
        x : Tensor (B, 1, H, W)
            Noisy images in [0, 1]; H and W multiples of :data:`MULTIPLE`.
        sigma : Tensor (B, 1, H, W)
            Noise standard deviation per pixel (image units).

        Returns
        -------
        Tensor (B, 1, H, W)
            The denoised images (not clipped).
        """
        # scale the map so that typical noise levels (0.005–0.1) sit near 1
        inp = torch.cat([F.pixel_unshuffle(x - 0.5, 2), F.pixel_unshuffle(sigma * 20.0, 2)], dim=1)
        h = self.head(inp)
        b = self.body(self.down(h))
        r = self.tail(self.up(b) + h)
        return x - 0.1 * F.pixel_shuffle(r, 2)


@register_architecture(ARCHITECTURE)
def build_denoiser(c1: int = 16, c2: int = 48, depth: int = 4) -> nn.Module:
    """Build the denoiser from its card's config."""
    return DenoiserUNet(c1=c1, c2=c2, depth=depth)
