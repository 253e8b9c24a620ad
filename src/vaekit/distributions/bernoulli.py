"""Bernoulli likelihood p(x|z) for binary (or [0, 1]) data, computed from logits.

log p(x|z) = x log sigmoid(l) + (1 - x) log sigmoid(-l) = x l - softplus(l): the fused, numerically
stable form (no sigmoid followed by log; Kingma & Welling 2013, Appendix C.1).

The sum over pixels takes one exponential per pixel and one log per group of pixels (evaluation:
k = 5000 samples x 784 pixels x 10k images = 4e10 terms; training: the step's largest elementwise
kernel). With e = exp(-|l|), softplus(l) = max(l, 0) + log(1 + e), and
Σ_d log(1 + e_d) = Σ_g log Π_{d in g} (1 + e_d). Each factor lies in (1, 2], so a product of at most
120 factors stays below 2^120, inside float32's range (2^128), and its relative rounding error
(~n 2^-24) adds under 1e-5 nats per group: far below the Monte-Carlo noise of the estimate.

The gradient is written by hand from the same e: d log p / d l = x - sigmoid(l), with
sigmoid(l) = 1 / (1 + e) for l >= 0 and e / (1 + e) below. Autograd of the grouped form would divide
by the products, and autograd of `binary_cross_entropy_with_logits` takes two exponentials and two
logs a pixel where this form takes one exponential, all in one fused kernel (docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any

import torch

MAX_GROUP = 120  # factors per product: (1 + e^-|l|) <= 2, so the product stays below 2^120


class BernoulliLogits:
    """Independent Bernoulli variables over the last `event_dims` dimensions of `logits`."""

    def __init__(self, logits: torch.Tensor, event_dims: int) -> None:
        self.logits = logits
        self.event_dims = event_dims

    @property
    def mean(self) -> torch.Tensor:
        return torch.sigmoid(self.logits)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        # float32 at least: under bf16 autocast the logits arrive in bfloat16, the density stays float32
        dtype = torch.promote_types(self.logits.dtype, torch.float32)
        logits = self.logits.flatten(-self.event_dims).to(dtype)  # (..., D)
        x = x.flatten(-self.event_dims).to(dtype)                 # broadcastable to (..., D)
        if torch.is_grad_enabled() and (logits.requires_grad or x.requires_grad):
            logits, x = torch.broadcast_tensors(logits, x)  # views: the gradient has the logits' shape
            return BernoulliLogProb.apply(logits, x)[0]
        return bernoulli_log_prob_grouped(logits, x)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.bernoulli(self.mean, generator=generator)


def bernoulli_log_prob_grouped(logits: torch.Tensor, x: torch.Tensor, e: torch.Tensor | None = None) -> torch.Tensor:
    """Σ_d x_d l_d - softplus(l_d) over the last dimension (D), with one log per group of pixels (see
    the module's docstring). logits (..., D), x broadcastable to it; e: exp(-|logits|) if already at
    hand. Returns (...).

    Pixel d goes to group d mod G: every reduction runs over the same (D/G, G) layout, down the rows,
    so the compiler makes one vectorised pass over the logits for all of them."""
    e = torch.exp(-logits.abs()) if e is None else e
    g = _n_groups(logits.shape[-1])
    l = logits.reshape(*logits.shape[:-1], -1, g)                          # (..., D/G, G)
    xg = x.reshape(*x.shape[:-1], -1, g)                                   # (..., D/G, G)
    linear = (xg * l - l.clamp(min=0)).sum(-2)                             # (..., G): Σ x l - max(l, 0)
    products = e.reshape(l.shape).add(1).prod(-2)                          # (..., G): Π (1 + e^-|l|)
    return (linear - products.log()).sum(-1)                               # (...)


class BernoulliLogProb(torch.autograd.Function):
    """log p(x | logits) summed over the last dimension, with the hand-written gradient of the module's
    docstring. `apply(logits, x)` with x of the logits' shape returns (log_prob (...), r) where
    r = x - sigmoid(l) (..., D) is the gradient the backward pass reuses.

    r is itself an output with its derivative (dr/dl = -sigmoid(l) (1 - sigmoid(l)), dr/dx = 1), so
    second derivatives, which go through the backward's products with r, are exact too."""

    @staticmethod
    def forward(logits: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        e = torch.exp(-logits.abs())
        residual = x - torch.where(logits >= 0, 1.0, e) / (1 + e)  # x - sigmoid(l), (..., D)
        return bernoulli_log_prob_grouped(logits, x, e), residual

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[torch.Tensor, ...], output: tuple[torch.Tensor, ...]) -> None:
        ctx.set_materialize_grads(False)  # r unused (training): its gradient stays None, no zeros made
        ctx.save_for_backward(inputs[0], inputs[1], output[1])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor | None, grad_r: torch.Tensor | None
                 ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        logits, x, residual = ctx.saved_tensors
        grad_l = grad_x = None
        if grad is not None:
            g = grad.unsqueeze(-1)  # (..., 1)
            grad_l = g * residual
            if ctx.needs_input_grad[1]:  # not in training: the data need no gradient
                grad_x = g * logits
        if grad_r is not None:
            sigmoid = x - residual
            dr = -grad_r * sigmoid * (1 - sigmoid)
            grad_l = dr if grad_l is None else grad_l + dr
            if ctx.needs_input_grad[1]:
                grad_x = grad_r if grad_x is None else grad_x + grad_r
        return grad_l, grad_x


def _n_groups(d: int) -> int:
    """The number of products for D terms: a divisor of D with at most MAX_GROUP factors per product,
    preferably a multiple of 16 or 8 (whole vector registers). The smallest such, so products are long."""
    least = -(-d // MAX_GROUP)
    for width in (16, 8, 1):
        for g in range(least + (-least) % width, d + 1, width):  # multiples of `width` from `least` on
            if d % g == 0:
                return g
    raise AssertionError("unreachable: width 1 reaches g = d, which divides d")
