"""Residual convolutional encoder/decoder for images (C, H, W), in the style of the ResNet VAE of
Kingma et al. 2016 (the IAF paper) and vdvae (Child 2021): a 3x3 stem, then at each resolution
`blocks` pre-activation residual blocks and a stride-2 downsampling, then a linear head; the decoder
mirrors it with nearest-neighbour upsampling and ends in a 3x3 conv to the likelihood's parameters."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from vaekit.nets.conv import down_sizes
from vaekit.nets.mlp import ACTIVATIONS


class Residual(nn.Module):
    """x + f(x) with f = act -> layer -> act -> layer: a pre-activation residual block (He et al. 2016,
    "Identity mappings in deep residual networks"), for convolutions and linear layers alike.

    The last layer of f starts at zero, so every block starts as the identity (Fixup, Zhang et al. 2019;
    vdvae scales the same layer by 1/sqrt(depth) for the same reason): a stack of blocks then starts as
    the shallow network around it, and the activations' variance does not grow with the number of blocks.
    Learning is not blocked: the zeroed layer gets a gradient at once (its input act(layer(act(x))) is not
    zero), and the first layer of f gets one from the second step on."""

    def __init__(self, layer: Callable[[], nn.Module], activation: str) -> None:
        super().__init__()
        act = ACTIVATIONS[activation]
        self.f = nn.Sequential(act(), layer(), act(), layer())
        nn.init.zeros_(self.f[-1].weight)
        nn.init.zeros_(self.f[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.f(x)


def conv3x3(ch_in: int, ch_out: int) -> nn.Conv2d:
    return nn.Conv2d(ch_in, ch_out, 3, padding=1)  # keeps H, W


def res_stage(channels: int, blocks: int, activation: str) -> nn.Sequential:
    """`blocks` residual blocks of two 3x3 convolutions at a fixed width and resolution."""
    return nn.Sequential(*(Residual(lambda: conv3x3(channels, channels), activation) for _ in range(blocks)))


def widths(channels_base: int, levels: int) -> list[int]:
    """Channels at each resolution 0..levels: the same feature maps as ConvEncoder's (base at full size,
    then base * 2**(i-1) after the i-th downsampling), so conv and resnet share one flattened size."""
    return [channels_base * 2 ** max(i - 1, 0) for i in range(levels + 1)]


def pyramid(event_shape: tuple[int, ...], channels_base: int) -> tuple[int, list[int], list[int], list[int]]:
    """(channels C, heights, widths, feature channels) at each resolution level of a (C, H, W) image."""
    c, h, w = event_shape
    sizes_h, sizes_w = down_sizes(h), down_sizes(w)
    levels = min(len(sizes_h), len(sizes_w)) - 1
    return c, sizes_h, sizes_w, widths(channels_base, levels)


class ResNetEncoder(nn.Module):
    """x (B, C, H, W) [+ c (B, extra_in)] -> (B, out_dim)."""

    def __init__(self, event_shape: tuple[int, ...], channels_base: int, hidden: int, out_dim: int,
                 activation: str, blocks: int = 1, extra_in: int = 0) -> None:
        super().__init__()
        c, sizes_h, sizes_w, ch = pyramid(event_shape, channels_base)
        levels, act = len(ch) - 1, ACTIVATIONS[activation]
        layers: list[nn.Module] = [conv3x3(c, ch[0])]
        for i in range(levels + 1):
            layers.append(res_stage(ch[i], blocks, activation))
            if i < levels:  # k=4, s=2, p=1 halves the size, rounding down (as down_sizes counts)
                layers.append(nn.Conv2d(ch[i], ch[i + 1], 4, stride=2, padding=1))
        layers.append(act())  # the residual stream is pre-activation: activate it once before the head
        self.conv = nn.Sequential(*layers)
        flat = ch[levels] * sizes_h[levels] * sizes_w[levels]
        self.head = nn.Sequential(nn.Linear(flat + extra_in, hidden), act(), nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """c: extra inputs (B, extra_in) joined to the convolutional features, e.g. a one-hot class."""
        h = self.conv(x).flatten(1)  # (B, C, H, W) -> (B, C' h w)
        return self.head(h if c is None else torch.cat([h, c], 1))  # (B, out_dim)


class ResNetDecoder(nn.Module):
    """z (N, latent) -> (N, P*C, H, W): the encoder mirrored; nearest-neighbour upsampling to the exact
    size of the level above (so odd sizes such as 15 -> 7 -> 15 come back), then a 3x3 conv."""

    def __init__(self, latent_dim: int, channels_base: int, hidden: int, event_shape: tuple[int, ...],
                 activation: str, params_per_dim: int = 1, blocks: int = 1) -> None:
        super().__init__()
        c, sizes_h, sizes_w, ch = pyramid(event_shape, channels_base)
        levels, act = len(ch) - 1, ACTIVATIONS[activation]
        self.start = (ch[levels], sizes_h[levels], sizes_w[levels])
        self.head = nn.Sequential(nn.Linear(latent_dim, hidden), act(),
                                  nn.Linear(hidden, self.start[0] * self.start[1] * self.start[2]))
        layers: list[nn.Module] = []
        for i in reversed(range(levels + 1)):
            layers.append(res_stage(ch[i], blocks, activation))
            if i > 0:
                layers += [nn.Upsample(size=(sizes_h[i - 1], sizes_w[i - 1]), mode="nearest"),
                           conv3x3(ch[i], ch[i - 1])]
        layers += [act(), conv3x3(ch[0], params_per_dim * c)]
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.head(z).view(z.shape[0], *self.start)  # (N, C' h w) -> (N, C', h, w)
        return self.deconv(h)  # (N, P*C, H, W)

    @torch.no_grad()
    def set_output_bias(self, params: torch.Tensor) -> None:
        """Start the last layer's per-channel bias at the spatial mean of the given parameters."""
        c = params.shape[0]
        self.deconv[-1].bias[:c].copy_(params.flatten(1).mean(1))
