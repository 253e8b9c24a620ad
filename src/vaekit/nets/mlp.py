"""Multi-layer perceptrons: tensor -> parameter tensor. No distributions, no loss."""

from __future__ import annotations

import math
from itertools import pairwise

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU,
    "softplus": nn.Softplus,
}


def mlp(sizes: list[int], activation: str, dropout: float = 0.0) -> nn.Sequential:
    """Linear layers of the given sizes with `activation` between them (none after the last), each hidden
    activation followed by dropout (Srivastava et al. 2014) when `dropout` > 0, active in training only."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:  # no module at 0, so the weights' names stay those of earlier checkpoints
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """x (B, *event_shape) -> (B, out_dim); the VAE reads mean and log-variance from one
    concatenated head (one matmul instead of two)."""

    def __init__(self, event_shape: tuple[int, ...], hidden: list[int], out_dim: int, activation: str,
                 extra_in: int = 0) -> None:
        super().__init__()
        self.net = mlp([math.prod(event_shape) + extra_in, *hidden, out_dim], activation)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """c: extra inputs (B, extra_in) joined to the flattened x, e.g. a one-hot class."""
        h = x.flatten(1) if c is None else torch.cat([x.flatten(1), c], 1)  # (B, D_in [+ extra_in])
        return self.net(h)  # (B, out_dim)


class MLPDecoder(nn.Module):
    """z (N, latent) -> (N, params_per_dim * prod(event)) reshaped to (N, P*C, ...) / (N, *event)."""

    def __init__(self, latent_dim: int, hidden: list[int], event_shape: tuple[int, ...], activation: str,
                 params_per_dim: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.out_shape = (params_per_dim * event_shape[0], *event_shape[1:]) if params_per_dim > 1 \
            else tuple(event_shape)
        self.net = mlp([latent_dim, *reversed(hidden), math.prod(self.out_shape)], activation, dropout)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.out_shape)  # (N, *out_shape)

    @torch.no_grad()
    def set_output_bias(self, params: torch.Tensor) -> None:
        """Start the output layer at given parameters (the first block of out_shape) for every z."""
        bias = self.net[-1].bias.view(self.out_shape)
        bias[: params.shape[0]].copy_(params)
