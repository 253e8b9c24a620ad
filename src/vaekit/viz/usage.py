"""How much each latent dimension is used: the order in which traversals show dimensions, and the
two dimensions a manifold plot spans by default.

A dimension the model ignores has q(z_j|x) = p(z_j) for every x, so its KL term is 0 and decoding
along it changes nothing. With the standard normal prior the KL of each coordinate has the closed form
of Kingma & Welling (2013), Appendix B:

    KL(q(z_j|x) || N(0, 1)) = -1/2 (1 + log s_j^2 - m_j^2 - s_j^2),

averaged over a data sample. Learned priors (mixture, VampPrior) and the lower layers of hierarchical
models do not factorise over dimensions, so there we rank by the variance of the posterior means
across data, Var_x(E_q[z_j|x]), the "active units" statistic of Burda et al. (2015), sec. 5.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from vaekit.distributions import DiagonalGaussian, StandardNormal
from vaekit.errors import ConfigError
from vaekit.viz.common import posteriors


@dataclass
class DimensionUsage:
    scores: torch.Tensor  # (D,) float64: mean KL in nats, or the variance of the posterior means
    measure: str          # "kl" or "variance"

    def order(self) -> list[int]:
        """Dimensions, most used first (ties keep index order)."""
        return torch.sort(self.scores, descending=True, stable=True).indices.tolist()

    def describe(self, dim: int) -> str:
        unit = "KL {:.3f} nats" if self.measure == "kl" else "Var(mean) {:.3f}"
        return f"z{dim}: " + unit.format(float(self.scores[dim]))


def has_standard_normal_prior(model: Any) -> bool:
    """True when p(z) of the layer the decoder reads is N(0, I): a one-layer VAE with the default prior.

    A hierarchical model's `prior` is that of its top layer; the layer the decoder reads has p(z_1|z_2)."""
    from vaekit.hierarchical import HierarchicalVAE

    return isinstance(model.prior, StandardNormal) and not isinstance(model, HierarchicalVAE)


def dimension_usage(model: Any, x: torch.Tensor) -> DimensionUsage:
    """Per-dimension usage over items x (N, *event): the closed-form KL when the prior is N(0, I),
    else the variance of the posterior means (see the module docstring)."""
    if len(x) < 2:
        raise ConfigError(f"ranking latent dimensions needs at least 2 data items, got {len(x)}")
    mean, logvar = posteriors(model, x)  # (N, D) each
    if has_standard_normal_prior(model):
        kl = DiagonalGaussian(mean, logvar).kl_per_dim(model.prior)  # (N, D)
        return DimensionUsage(kl.double().mean(0).cpu(), "kl")
    return DimensionUsage(mean.double().var(0, unbiased=True).cpu(), "variance")


def parse_dims(text: str | None, latent_dim: int, option: str = "--dims") -> list[int] | None:
    """'0,3,5' -> [0, 3, 5], checked against the latent size; None or '' -> None."""
    if not text:
        return None
    try:
        dims = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected latent dimensions as integers separated by commas") from None
    bad = [d for d in dims if not 0 <= d < latent_dim]
    if bad or not dims:
        raise ConfigError(f"{option} {text!r}: dimensions must be in 0..{latent_dim - 1} (latent size {latent_dim})")
    if len(set(dims)) != len(dims):
        raise ConfigError(f"{option} {text!r}: a dimension is repeated")
    return dims
