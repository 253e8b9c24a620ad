"""An autoregressive Bernoulli likelihood for binary images:

    p(x|z) = Π_i Bernoulli(x_i | σ(l_i(z) + Σ_{j ∈ C(i)} W_ij x_j)),   C(i) = the `context` pixels before i
                                                                        in raster order.

The decoder's logits l(z) carry the global structure; a masked linear layer over the preceding pixels, a
fully visible sigmoid belief net (Frey 1998) conditioned on z, models the local correlations between
neighbouring pixels that a factorised p(x|z) can only pay for in nats. It is the linear special case of
the autoregressive decoders of PixelVAE (Gulrajani et al. 2017) and the Variational Lossy Autoencoder
(Chen et al. 2017), whose small receptive field leaves the global structure to z.

Given x (training, the IWAE bound, evaluation) log p(x|z) is one pass: the context term depends on x
alone, so one (B, D) x (D, D) matmul serves all k samples of z. Sampling is sequential, D steps.
W starts at 0: the model starts as the factorised Bernoulli likelihood.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from vaekit.distributions.bernoulli import BernoulliLogits
from vaekit.errors import ConfigError

# W is stored dense, (D, D) and masked: one matmul, the fastest form on a CPU for MNIST's D = 784 (615k
# weights, 2.4 MB). Beyond this many data dimensions it would grow past 67 MB.
MAX_DIMS = 4096


class AutoregressiveBernoulliHead(nn.Module):
    params_per_dim = 1
    levels = 2  # a probability mass over binary images (`evaluation.bits_per_dim_defined`)

    def __init__(self, event_shape: tuple[int, ...], context: int) -> None:
        super().__init__()
        self.event_dims, self.context = len(event_shape), context
        d = math.prod(event_shape)
        if d > MAX_DIMS:
            raise ConfigError(f"--likelihood bernoulli_ar keeps a ({d}, {d}) weight for data of shape "
                              f"{tuple(event_shape)}; it takes data of at most {MAX_DIMS} dimensions (e.g. 64x64 "
                              "single-channel images)")
        self.weight = nn.Parameter(torch.zeros(d, d))  # W[i, j]: pixel j's weight in pixel i's logit
        i, j = torch.arange(d)[:, None], torch.arange(d)[None, :]
        # derived from the config, so not saved with the weights
        self.register_buffer("mask", ((j < i) & (i - j <= context)).float(), persistent=False)

    def context_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Σ_j (W ⊙ M)_ij x_j for x (..., *event) -> (..., D)."""
        return x.flatten(-self.event_dims).to(self.weight.dtype) @ (self.weight * self.mask).T

    def forward(self, h: torch.Tensor) -> AutoregressiveBernoulli:
        return AutoregressiveBernoulli(h, self)

    def params_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        """Decoder output whose p(x|z) has the given mean while W = 0 (as at initialisation): the log-odds."""
        return torch.logit(mean.clamp(1e-4, 1 - 1e-4))


class AutoregressiveBernoulli:
    """p(x|z) over the last `event_dims` dimensions of the decoder's logits (*S, *event)."""

    def __init__(self, logits: torch.Tensor, head: AutoregressiveBernoulliHead) -> None:
        self.logits, self.head = logits, head

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, *event) against logits (*S, B, *event) -> (*S, B)."""
        ed = self.head.event_dims
        logits = self.logits.flatten(-ed) + self.head.context_logits(x)  # (*S, B, D) + (B, D)
        event = self.logits.shape[-ed:]
        return BernoulliLogits(logits.view(*logits.shape[:-1], *event), ed).log_prob(x)

    @property
    def mean(self) -> torch.Tensor:
        """A deterministic image for display: the mean-field sweep p_i = σ(l_i + Σ_j W_ij p_j), each pixel's
        probability given its predecessors' probabilities (the exact marginal means are intractable)."""
        return self._sweep(lambda p: p)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral sampling, one pixel after another in raster order."""
        return self._sweep(lambda p: torch.bernoulli(p, generator=generator))

    @torch.no_grad()
    def _sweep(self, draw: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        ed = self.head.event_dims
        base = self.logits.flatten(-ed)  # (N..., D)
        w = self.head.weight * self.head.mask  # (D, D)
        out = torch.zeros_like(base)
        for i in range(base.shape[-1]):  # pixel i reads its context j in [i - C, i), all already drawn
            lo = max(0, i - self.head.context)
            out[..., i] = draw(torch.sigmoid(base[..., i] + out[..., lo:i] @ w[i, lo:i]))
        return out.view(self.logits.shape)
