"""Bernoulli likelihood p(x|z) for binary (or [0, 1]) data, computed from logits.

log p(x|z) = x log sigmoid(l) + (1 - x) log sigmoid(-l) = -BCEWithLogits(l, x): the fused,
numerically stable form (no sigmoid followed by log; Kingma & Welling 2013, Appendix C.1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class BernoulliLogits:
    """Independent Bernoulli variables over the last `event_dims` dimensions of `logits`."""

    def __init__(self, logits: torch.Tensor, event_dims: int) -> None:
        self.logits = logits
        self.event_dims = event_dims

    @property
    def mean(self) -> torch.Tensor:
        return torch.sigmoid(self.logits)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        logits, x = torch.broadcast_tensors(self.logits, x)
        nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        return -nll.sum(dim=tuple(range(-self.event_dims, 0)))

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.bernoulli(self.mean, generator=generator)
