"""The conditional generator: a U-Net with skip connections predicting a residual.

Input: the image window (1 channel, normalised), the condition maps (one channel per pathology,
soft mask x severity) and a noise channel; a second noise map joins at the bottleneck so that the
noise reaches the coarse structure too. Output: a residual in the (normalised) image domain,
added to the input by the caller inside the feathered mask.
"""

from __future__ import annotations

import torch
from torch import nn

from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.models import register_architecture
from napari_xray_synth.core.nn.blocks import (
    ConvNormAct,
    DownBlock,
    NormKind,
    UpBlock,
    conv,
    init_weights,
)


class ConditionalUNet(nn.Module):
    """U-Net generator ``(image, condition maps, noise) -> residual``.

    Parameters
    ----------
    base : int
        Feature maps at full resolution (doubled at each level, capped at 8 x base).
    depth : int
        Number of down-sampling levels.
    cond_channels : int
        Condition map channels (one per pathology).
    norm : str
        Normalisation of every block.
    """

    def __init__(
        self,
        base: int = 24,
        depth: int = 4,
        cond_channels: int = len(PATHOLOGIES),
        norm: NormKind = "instance",
    ) -> None:
        super().__init__()
        self.cond_channels = cond_channels
        cin = 1 + cond_channels + 1
        chans = [min(base * 2**i, base * 8) for i in range(depth + 1)]
        self.stem = nn.Sequential(
            ConvNormAct(cin, chans[0], 3, 1, "none"), ConvNormAct(chans[0], chans[0], 3, 1, norm)
        )
        self.downs = nn.ModuleList(DownBlock(chans[i], chans[i + 1], norm) for i in range(depth))
        self.noise_in = conv(1, chans[-1], 1)
        self.ups = nn.ModuleList(
            UpBlock(chans[i + 1], chans[i], chans[i], norm) for i in reversed(range(depth))
        )
        self.head = conv(chans[0], 1, 1)
        init_weights(self)
        nn.init.zeros_(self.head.weight)  # start as the identity: no residual

    def forward(self, image: torch.Tensor, cond: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Residual for ``image`` (B,1,H,W) given ``cond`` (B,C,H,W) and ``noise`` (B,1,H,W)."""
        x = self.stem(torch.cat([image, cond, noise], dim=1))
        skips = [x]
        for down in self.downs:
            x = down(x)
            skips.append(x)
        z = nn.functional.adaptive_avg_pool2d(noise, x.shape[-2:]) * (noise.shape[-1] / x.shape[-1])
        x = x + self.noise_in(z)
        skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        return self.head(x)


@register_architecture("conditional_unet")
def build_conditional_unet(**config: object) -> ConditionalUNet:
    """Build the generator from a model card's config."""
    return ConditionalUNet(**config)  # type: ignore[arg-type]
