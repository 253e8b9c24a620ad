"""Diagonal Gaussian distributions: the posterior q(z|x), the prior p(z) = N(0, I), and the
Gaussian likelihood p(x|z).

All densities sum over the event dimensions: `log_prob` returns one number per batch element.
"""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)
# Bounds on a log-variance that a network outputs. Healthy MNIST posteriors stay within [-6, 1]; the bounds
# only stop a single bad update from making exp(logvar) overflow: in the 60-minute VampPrior run one
# ordinary step (gradient norm 92) sent the top layer's log-variance to 156 on some images, its samples to
# ~1e33 and every later loss to NaN. Tomczak & Welling's VampPrior code bounds it harder, to [-6, 2].
LOGVAR_MIN, LOGVAR_MAX = -30.0, 8.0


class DiagonalGaussian:
    """N(mean, diag(exp(logvar))) over the last `event_dims` dimensions.

    Parameterised by the log-variance, as in Kingma & Welling (2013), Appendix C.2.
    """

    def __init__(self, mean: torch.Tensor, logvar: torch.Tensor, event_dims: int = 1) -> None:
        self.mean = mean
        self.logvar = logvar
        self.event_dims = event_dims

    @classmethod
    def from_head(cls, h: torch.Tensor) -> DiagonalGaussian:
        """From a network's concatenated (mean, log-variance) output (..., 2D), the log-variance held
        inside [LOGVAR_MIN, LOGVAR_MAX] (unchanged, gradient included, between them)."""
        mean, logvar = h.chunk(2, dim=-1)  # (..., D) each
        return cls(mean, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX))

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    def _sum_event(self, t: torch.Tensor) -> torch.Tensor:
        return t.sum(dim=tuple(range(-self.event_dims, 0)))

    def rsample(self, n: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Reparameterised draw z = mean + std * eps, eps ~ N(0, I) (the paper's eq. 4 trick).

        With n, returns (n, *batch, *event); else (*batch, *event).
        """
        shape = self.mean.shape if n is None else (n, *self.mean.shape)
        eps = torch.randn(shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.std * eps

    sample = rsample

    def log_prob_per_dim(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; mean, var) of each coordinate (broadcasts over leading sample dimensions)."""
        return -0.5 * (LOG_2PI + self.logvar + (z - self.mean) ** 2 * torch.exp(-self.logvar))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return self._sum_event(self.log_prob_per_dim(z))

    def kl_per_dim(self, other: DiagonalGaussian | StandardNormal) -> torch.Tensor:
        """KL(self || other) per coordinate, in closed form.

        For other = N(0, I) this is the paper's Appendix B: -1/2 (1 + log s^2 - m^2 - s^2).
        """
        if isinstance(other, StandardNormal):
            return -0.5 * (1 + self.logvar - self.mean**2 - torch.exp(self.logvar))
        var_ratio = torch.exp(self.logvar - other.logvar)
        return 0.5 * (var_ratio + (self.mean - other.mean) ** 2 * torch.exp(-other.logvar) - 1
                      - (self.logvar - other.logvar))

    def kl(self, other: DiagonalGaussian | StandardNormal) -> torch.Tensor:
        return self._sum_event(self.kl_per_dim(other))

    def entropy(self) -> torch.Tensor:
        return self._sum_event(0.5 * (LOG_2PI + 1 + self.logvar))


class StandardNormal:
    """The prior p(z) = N(0, I) of the paper, over latent vectors of size `dim`."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.event_dims = 1

    def sample(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.randn((n, self.dim), generator=generator, device=device, dtype=dtype)

    def log_prob_per_dim(self, z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (LOG_2PI + z**2)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return self.log_prob_per_dim(z).sum(-1)


class GaussianPixels:
    """p(x|z) = N(x; mean, diag(exp(log_scale))^2) summed over the data's event dimensions.

    `log_scale` broadcasts against `mean` (a scalar for one global variance, a per-dimension tensor).
    """

    def __init__(self, mean: torch.Tensor, log_scale: torch.Tensor, event_dims: int) -> None:
        self.mean_ = mean
        self.log_scale = log_scale
        self.event_dims = event_dims

    @property
    def mean(self) -> torch.Tensor:
        return self.mean_

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.mean_) * torch.exp(-self.log_scale)
        lp = -0.5 * (LOG_2PI + z * z) - self.log_scale
        return lp.sum(dim=tuple(range(-self.event_dims, 0)))

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = torch.randn(self.mean_.shape, generator=generator, device=self.mean_.device,
                          dtype=self.mean_.dtype)
        return self.mean_ + torch.exp(self.log_scale) * eps
