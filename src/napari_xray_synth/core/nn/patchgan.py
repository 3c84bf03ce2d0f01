"""PatchGAN discriminator with spectral normalisation, conditioned on the condition maps.

The image window and the condition maps are concatenated at the input. With ``n_layers=3`` the
classic 4x4 convolution stack (strides 2, 2, 2, 1, 1) sees about 70 x 70 pixels per output.
``n_scales > 1`` adds discriminators on 2x, 4x, ... down-sampled inputs (pix2pixHD's multi-scale
option) for large windows; the output is then a list of patch logit maps.
"""

from __future__ import annotations

import torch
from torch import nn

from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.models import register_architecture
from napari_xray_synth.core.nn.blocks import conv, init_weights


def receptive_field(n_layers: int) -> int:
    """Receptive field in pixels of one output of a PatchGAN with ``n_layers`` strided layers."""
    rf = 1
    for _ in range(2):  # the two stride-1 layers at the end
        rf += 3
    for _ in range(n_layers):
        rf = rf * 2 + 2
    return rf


class PatchDiscriminator(nn.Module):
    """One PatchGAN: spectrally normalised 4x4 convolutions, LeakyReLU, no norm layers."""

    def __init__(self, cin: int, base: int = 32, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv(cin, base, 4, 2, spectral=True), nn.LeakyReLU(0.2, True)]
        ch = base
        for i in range(1, n_layers):
            nxt = min(base * 2**i, base * 8)
            layers += [conv(ch, nxt, 4, 2, spectral=True), nn.LeakyReLU(0.2, True)]
            ch = nxt
        nxt = min(ch * 2, base * 8)
        layers += [conv(ch, nxt, 4, 1, spectral=True), nn.LeakyReLU(0.2, True)]
        layers += [conv(nxt, 1, 4, 1, spectral=True)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class ConditionalPatchGAN(nn.Module):
    """``(image, condition maps) -> list of patch logit maps`` (one per scale)."""

    def __init__(
        self,
        base: int = 32,
        n_layers: int = 3,
        n_scales: int = 1,
        cond_channels: int = len(PATHOLOGIES),
    ) -> None:
        super().__init__()
        self.nets = nn.ModuleList(
            PatchDiscriminator(1 + cond_channels, base, n_layers) for _ in range(n_scales)
        )
        init_weights(self)

    def forward(self, image: torch.Tensor, cond: torch.Tensor) -> list[torch.Tensor]:
        x = torch.cat([image, cond], dim=1)
        out = []
        for i, net in enumerate(self.nets):
            if i:
                x = nn.functional.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
            out.append(net(x))
        return out


@register_architecture("conditional_patchgan")
def build_conditional_patchgan(**config: object) -> ConditionalPatchGAN:
    """Build the discriminator from a card's config."""
    return ConditionalPatchGAN(**config)  # type: ignore[arg-type]
