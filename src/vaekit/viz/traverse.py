"""Latent traversals: what each latent dimension encodes.

Row j decodes z = base code with coordinate d_j replaced by each of the sweep values (default -3..3,
±3 prior standard deviations), the other coordinates fixed. Rows are the dimensions ordered by use
(usage.py): the mean KL(q(z_j|x) || p(z_j)) for the standard normal prior, so the first rows carry
the most information and dimensions the model switched off (KL ≈ 0, rows of identical pictures) sink
to the bottom. The base code is 0 (the prior mean) or the posterior mean of one input. Traversals of
this kind are the usual qualitative check of disentanglement (Higgins et al. 2017, β-VAE, Fig. 1-2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from vaekit.errors import ConfigError
from vaekit.viz.common import decode
from vaekit.viz.usage import DimensionUsage, dimension_usage


@dataclass
class Traversal:
    images: torch.Tensor  # (K, S, *event): row k sweeps dimension dims[k]
    codes: torch.Tensor   # (K, S, D): the decoded latents
    dims: list[int]       # the swept dimension of each row, most used first
    values: torch.Tensor  # (S,): the sweep
    usage: DimensionUsage


def sweep_values(lo: float = -3.0, hi: float = 3.0, steps: int = 11) -> torch.Tensor:
    """`steps` evenly spaced values from lo to hi, both included: (S,)."""
    if steps < 2:
        raise ConfigError(f"--steps {steps} must be >= 2")
    if not lo < hi:
        raise ConfigError(f"--range {lo} {hi}: expected LO < HI")
    return torch.linspace(lo, hi, steps, dtype=torch.float64).float()


def traversal_codes(base: torch.Tensor, dims: list[int], values: torch.Tensor) -> torch.Tensor:
    """Copies of `base` (D,) with coordinate dims[k] set to each value: (K, S, D)."""
    z = base.reshape(1, 1, -1).repeat(len(dims), len(values), 1)  # (K, S, D)
    for k, d in enumerate(dims):
        z[k, :, d] = values.to(z)
    return z


def rank_rows(usage: DimensionUsage, dims: list[int] | None = None, top: int | None = None) -> list[int]:
    """The rows to draw: `dims` (default all) ordered most used first, at most `top` of them."""
    chosen = set(dims) if dims is not None else None
    order = [d for d in usage.order() if chosen is None or d in chosen]
    if top is not None:
        if top < 1:
            raise ConfigError(f"--top {top} must be >= 1")
        order = order[:top]
    return order


def traverse(model: Any, x: torch.Tensor, *, base: torch.Tensor | None = None, dims: list[int] | None = None,
             top: int | None = None, values: torch.Tensor | None = None,
             usage: DimensionUsage | None = None) -> Traversal:
    """Traverse the latent dimensions of `model`, ranked on the data sample x (N, *event).

    base: the fixed code (D,) (default zeros, the prior mean); dims: restrict to these dimensions;
    top: keep the `top` most used; values: the sweep (default `sweep_values()`); usage: a ranking
    already computed on x (skips encoding x again)."""
    usage = dimension_usage(model, x) if usage is None else usage
    rows = rank_rows(usage, dims, top)
    values = sweep_values() if values is None else values
    base = torch.zeros(model.latent_dim) if base is None else base.detach().cpu().float()
    if base.shape != (model.latent_dim,):
        raise ConfigError(f"the base code has shape {tuple(base.shape)}, expected ({model.latent_dim},)")
    codes = traversal_codes(base, rows, values)  # (K, S, D)
    return Traversal(decode(model, codes), codes, rows, values, usage)
