"""Likelihood heads: modules that turn the decoder's output tensor into p(x|z).

A head owns the likelihood's free parameters (a learned variance) and says how many output
values the decoder must produce per data dimension (`params_per_dim`), and `levels`: the number
of values 0, 1/(levels - 1), ..., 1 of a data dimension over which p(x|z) is a probability mass,
or None for a density (then bits/dim are not defined: `evaluation.bits_per_dim_defined`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vaekit.distributions.bernoulli import BernoulliLogits
from vaekit.distributions.gaussian import GaussianPixels


class BernoulliHead(nn.Module):
    params_per_dim = 1
    levels = 2

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
    scalar ("global"), or one learned value per data dimension ("per_dim").

    A learned log-scale log σ is held at or above `min_log_scale`: a data dimension that is constant
    in the training data (a border pixel) otherwise drives σ -> 0 and log p(x|z) -> +inf, each pixel
    worth -log σ - log(2π)/2 nats at x = mean. At the floor that is at most -min_log_scale - 0.92 nats.
    The clamp acts on the value only (straight-through gradient), so a parameter that stepped below
    the floor still comes back when the data ask for a larger σ. A fixed σ (--sigma) is not clamped."""

    params_per_dim = 1
    levels = None  # a density

    def __init__(self, event_shape: tuple[int, ...], variance: str, sigma: float,
                 min_log_scale: float = -8.0) -> None:
        super().__init__()
        self.event_dims = len(event_shape)
        self.min_log_scale = min_log_scale
        self.learned = variance != "fixed"
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
        log_scale = self.log_scale
        if self.learned:  # max(log σ, floor) in value, the identity in gradient
            log_scale = log_scale + (log_scale.clamp(min=self.min_log_scale) - log_scale).detach()
        return GaussianPixels(h, log_scale, self.event_dims)

    def params_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        return mean
