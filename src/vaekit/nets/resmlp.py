"""Residual MLPs for flat data and images alike: Linear(in, h), then blocks h + f(h) with
f = act -> Linear(h, h) -> act -> Linear(h, h) (the last one starting at zero, see `Residual`),
then act -> Linear(h, out). The width h stays fixed, as the identity path needs."""

from __future__ import annotations

import math

import torch
from torch import nn

from vaekit.nets.mlp import ACTIVATIONS
from vaekit.nets.resnet import Residual


def residual_mlp(n_in: int, width: int, blocks: int, n_out: int, activation: str) -> nn.Sequential:
    """n_in -> width, `blocks` residual blocks at that width, -> n_out (no activation after it)."""
    res = [Residual(lambda: nn.Linear(width, width), activation) for _ in range(blocks)]
    return nn.Sequential(nn.Linear(n_in, width), *res, ACTIVATIONS[activation](), nn.Linear(width, n_out))


class ResMLPEncoder(nn.Module):
    """x (B, *event_shape) [+ c (B, extra_in)] -> (B, out_dim)."""

    def __init__(self, event_shape: tuple[int, ...], width: int, blocks: int, out_dim: int, activation: str,
                 extra_in: int = 0) -> None:
        super().__init__()
        self.net = residual_mlp(math.prod(event_shape) + extra_in, width, blocks, out_dim, activation)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """c: extra inputs (B, extra_in) joined to the flattened x, e.g. a one-hot class."""
        h = x.flatten(1) if c is None else torch.cat([x.flatten(1), c], 1)  # (B, D_in [+ extra_in])
        return self.net(h)  # (B, out_dim)


class ResMLPDecoder(nn.Module):
    """z (N, latent) -> (N, params_per_dim * prod(event)) reshaped to (N, P*C, ...) / (N, *event),
    the same output layout as MLPDecoder."""

    def __init__(self, latent_dim: int, width: int, blocks: int, event_shape: tuple[int, ...], activation: str,
                 params_per_dim: int = 1) -> None:
        super().__init__()
        self.out_shape = (params_per_dim * event_shape[0], *event_shape[1:]) if params_per_dim > 1 \
            else tuple(event_shape)
        self.net = residual_mlp(latent_dim, width, blocks, math.prod(self.out_shape), activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.out_shape)  # (N, P*C*H*W) -> (N, *out_shape)

    @torch.no_grad()
    def set_output_bias(self, params: torch.Tensor) -> None:
        """Start the output layer at given parameters (the first block of out_shape) for every z."""
        bias = self.net[-1].bias.view(self.out_shape)  # (P*C*H*W,) -> out_shape
        bias[: params.shape[0]].copy_(params)
