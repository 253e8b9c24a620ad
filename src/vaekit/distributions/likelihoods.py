"""Likelihood heads: modules that turn the decoder's output tensor into p(x|z).

A head owns the likelihood's free parameters (a learned variance) and says how many output
values the decoder must produce per data dimension (`params_per_dim`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vaekit.distributions.bernoulli import BernoulliLogits
from vaekit.distributions.gaussian import GaussianPixels


class BernoulliHead(nn.Module):
    params_per_dim = 1

    def __init__(self, event_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.event_dims = len(event_shape)

    def forward(self, h: torch.Tensor) -> BernoulliLogits:
        return BernoulliLogits(h, self.event_dims)

    def params_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        """Decoder output whose p(x|z) has the given mean: the log-odds."""
        return torch.logit(mean.clamp(1e-4, 1 - 1e-4))


class GaussianHead(nn.Module):
    """Gaussian p(x|z) with mean from the decoder and a variance that is fixed, one learned
    scalar ("global"), or one learned value per data dimension ("per_dim")."""

    params_per_dim = 1

    def __init__(self, event_shape: tuple[int, ...], variance: str, sigma: float) -> None:
        super().__init__()
        self.event_dims = len(event_shape)
        init = torch.full((), math.log(sigma))
        if variance == "fixed":
            self.register_buffer("log_scale", init)
        elif variance == "global":
            self.log_scale = nn.Parameter(init)
        elif variance == "per_dim":
            self.log_scale = nn.Parameter(init.expand(event_shape).clone())
        else:
            raise ValueError(f"unknown variance mode {variance!r}")

    def forward(self, h: torch.Tensor) -> GaussianPixels:
        return GaussianPixels(h, self.log_scale, self.event_dims)

    def params_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        return mean
