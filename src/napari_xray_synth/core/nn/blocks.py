"""Small typed building blocks shared by the networks, with one place for init and norm."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

NormKind = Literal["instance", "batch", "group", "none"]


def norm_layer(kind: NormKind, channels: int) -> nn.Module:
    """The normalisation layer of ``kind`` for ``channels`` feature maps."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}")


def init_weights(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """pix2pix-style init: convolutions N(0, gain), norm scales N(1, gain), biases 0."""

    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            w = getattr(m, "weight_orig", m.weight)  # spectral norm keeps the raw weight here
            nn.init.normal_(w, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif (
            isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm))
            and m.weight is not None
        ):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)

    module.apply(_init)
    return module


def conv(
    cin: int, cout: int, k: int = 3, stride: int = 1, spectral: bool = False, bias: bool = True
) -> nn.Module:
    """A 2-D convolution with 'same'-style padding, optionally spectrally normalised."""
    layer = nn.Conv2d(
        cin, cout, k, stride, padding=(k - 1) // 2 if k % 2 else k // 2 - 1, bias=bias
    )
    return nn.utils.parametrizations.spectral_norm(layer) if spectral else layer


class ConvNormAct(nn.Sequential):
    """Convolution, normalisation, LeakyReLU(0.2)."""

    def __init__(
        self, cin: int, cout: int, k: int = 3, stride: int = 1, norm: NormKind = "instance"
    ) -> None:
        super().__init__(
            conv(cin, cout, k, stride, bias=norm == "none"),
            norm_layer(norm, cout),
            nn.LeakyReLU(0.2, inplace=True),
        )


class DownBlock(nn.Module):
    """Two convolutions, the first with stride 2 (halves the size)."""

    def __init__(self, cin: int, cout: int, norm: NormKind = "instance") -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormAct(cin, cout, 3, 2, norm), ConvNormAct(cout, cout, 3, 1, norm)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class UpBlock(nn.Module):
    """Bilinear upsampling x2, concatenation with the skip, two convolutions."""

    def __init__(self, cin: int, cskip: int, cout: int, norm: NormKind = "instance") -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormAct(cin + cskip, cout, 3, 1, norm), ConvNormAct(cout, cout, 3, 1, norm)
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = nn.functional.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.body(torch.cat([x, skip], dim=1))
