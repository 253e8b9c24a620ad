"""The learned 2-D data manifold of Kingma & Welling (2013), Figure 4.

"Since the prior of the latent space is Gaussian, linearly spaced coordinates on the unit square were
transformed through the inverse CDF of the Gaussian to produce values of the latent variables z. For each
of these values z, we plotted the corresponding generative p_θ(x|z)." Each cell of the grid then covers
the same prior probability mass, 1/n² of it.

Grid points: the centres of n equal cells of the unit interval, u_i = (i + 0.5)/n, i = 0..n-1 (never 0 or 1,
where the inverse CDF is infinite), so the corner codes are ±Φ⁻¹(1 - 0.5/n) (±1.96 for n = 20). Layout as a
plot: column c has z[dims[0]] = Φ⁻¹(u_c), increasing left to right; row r has z[dims[1]] = Φ⁻¹(u_{n-1-r}),
increasing bottom to top. For latents above 2-D the grid spans two dimensions (by default the two most
used, usage.py) and the others are 0, the prior mean. The Gaussian quantiles are only meaningful for a
N(0, I) prior; for learned priors the picture is still a grid of codes, not of equal prior mass.
"""

from __future__ import annotations

from typing import Any

import torch

from vaekit.errors import ConfigError
from vaekit.viz.common import decode
from vaekit.viz.usage import DimensionUsage


def grid_quantiles(n: int) -> torch.Tensor:
    """Cell centres of the unit interval, (i + 0.5)/n for i = 0..n-1: (n,) float64."""
    if n < 2:
        raise ConfigError(f"--n {n} must be >= 2 (points per side of the manifold grid)")
    return (torch.arange(n, dtype=torch.float64) + 0.5) / n


def manifold_codes(n: int, latent_dim: int, dims: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """The (n, n, D) latent grid described in the module docstring (row r, column c)."""
    a, b = dims
    if latent_dim < 2:
        raise ConfigError(f"the manifold needs a latent space of at least 2 dimensions; this model has {latent_dim}")
    if a == b or not (0 <= a < latent_dim and 0 <= b < latent_dim):
        raise ConfigError(f"--dims {a},{b}: expected two different dimensions in 0..{latent_dim - 1}")
    coords = torch.special.ndtri(grid_quantiles(n)).float()  # (n,): Φ⁻¹(u), increasing
    z = torch.zeros(n, n, latent_dim)  # (rows, cols, D)
    z[:, :, a] = coords.reshape(1, n)            # x axis: varies along a row
    z[:, :, b] = coords.flip(0).reshape(n, 1)    # y axis: largest value in the top row
    return z


def manifold(model: Any, n: int = 20, dims: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """Decoded manifold: the mean of p(x|z) at every code of `manifold_codes`: (n, n, *event)."""
    return decode(model, manifold_codes(n, model.latent_dim, dims))


def default_dims(usage: DimensionUsage) -> tuple[int, int]:
    """The two most used dimensions (x axis: the most used); (0, 1) for a 2-D latent space."""
    order = usage.order()
    if len(order) < 2:
        raise ConfigError(f"the manifold needs a latent space of at least 2 dimensions; this model has {len(order)}")
    return (0, 1) if len(order) == 2 else (order[0], order[1])
