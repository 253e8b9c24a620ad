"""Convolutional encoder/decoder for images (C, H, W): stride-2 convolutions down to a small
feature map, then a linear layer; the decoder mirrors it with transposed convolutions."""

from __future__ import annotations

import torch
from torch import nn

from vaekit.nets.mlp import ACTIVATIONS


def down_sizes(size: int, min_size: int = 4, max_levels: int = 4) -> list[int]:
    """Spatial sizes after each stride-2 conv (k=4, p=1 halves, rounding down)."""
    sizes = [size]
    while len(sizes) <= max_levels and sizes[-1] // 2 >= min_size:
        sizes.append(sizes[-1] // 2)
    return sizes


class ConvEncoder(nn.Module):
    def __init__(self, event_shape: tuple[int, ...], channels_base: int, hidden: int, out_dim: int,
                 activation: str, extra_in: int = 0) -> None:
        super().__init__()
        c, h, w = event_shape
        self.sizes_h, self.sizes_w = down_sizes(h), down_sizes(w)
        levels = min(len(self.sizes_h), len(self.sizes_w)) - 1
        act = ACTIVATIONS[activation]
        layers: list[nn.Module] = []
        ch_in = c
        for i in range(levels):
            ch_out = channels_base * 2**i
            layers += [nn.Conv2d(ch_in, ch_out, 4, stride=2, padding=1), act()]
            ch_in = ch_out
        self.conv = nn.Sequential(*layers)
        flat = ch_in * self.sizes_h[levels] * self.sizes_w[levels]
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat + extra_in, hidden), act(), nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """c: extra inputs (B, extra_in) joined to the convolutional features, e.g. a one-hot class."""
        h = self.conv(x).flatten(1)  # (B, C, H, W) -> (B, C' h w)
        return self.head(h if c is None else torch.cat([h, c], 1))  # (B, out_dim)


class ConvDecoder(nn.Module):
    def __init__(self, latent_dim: int, channels_base: int, hidden: int, event_shape: tuple[int, ...],
                 activation: str, params_per_dim: int = 1) -> None:
        super().__init__()
        c, h, w = event_shape
        sizes_h, sizes_w = down_sizes(h), down_sizes(w)
        levels = min(len(sizes_h), len(sizes_w)) - 1
        act = ACTIVATIONS[activation]
        self.start = (channels_base * 2 ** (levels - 1), sizes_h[levels], sizes_w[levels])
        self.head = nn.Sequential(nn.Linear(latent_dim, hidden), act(),
                                  nn.Linear(hidden, self.start[0] * self.start[1] * self.start[2]), act())
        layers: list[nn.Module] = []
        ch_in = self.start[0]
        for i in reversed(range(levels)):
            ch_out = channels_base * 2 ** (i - 1) if i > 0 else params_per_dim * c
            # ConvTranspose (k=4, s=2, p=1) doubles the size; output_padding restores an odd size.
            pad = (sizes_h[i] - 2 * sizes_h[i + 1], sizes_w[i] - 2 * sizes_w[i + 1])
            layers.append(nn.ConvTranspose2d(ch_in, ch_out, 4, stride=2, padding=1, output_padding=pad))
            if i > 0:
                layers.append(act())
            ch_in = ch_out
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.head(z).view(z.shape[0], *self.start)  # (N, C', h, w)
        return self.deconv(h)  # (N, P*C, H, W)

    @torch.no_grad()
    def set_output_bias(self, params: torch.Tensor) -> None:
        """Start the last layer's per-channel bias at the spatial mean of the given parameters."""
        c = params.shape[0]
        self.deconv[-1].bias[:c].copy_(params.flatten(1).mean(1))
