"""The Bernoulli likelihood's gradient-free path (one log per group of pixels) against float64 references."""

import pytest
import torch

from vaekit.distributions import BernoulliLogits
from vaekit.distributions.bernoulli import MAX_GROUP, _n_groups, bernoulli_log_prob_grouped


def reference(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    l, x = logits.double(), x.double()
    softplus = l.clamp(min=0) + torch.log1p(torch.exp(-l.abs()))  # exact (F.softplus returns l above l = 20)
    return (x * l - softplus).sum(-1)


@pytest.mark.parametrize("d", [1, 13, 119, 241, 784, 3072])
@pytest.mark.parametrize("dtype,atol,rtol", [(torch.float64, 1e-9, 1e-12), (torch.float32, 2e-3, 1e-6)])
def test_grouped_log_prob_matches_softplus_in_float64(d: int, dtype: torch.dtype, atol: float, rtol: float) -> None:
    g = torch.Generator().manual_seed(d)
    logits = (torch.randn(3, 5, d, generator=g) * torch.tensor([0.1, 3.0, 30.0]).view(3, 1, 1)).to(dtype)
    logits[0, 0, : min(d, 4)] = torch.tensor([200.0, -200.0, 0.0, 88.0])[: min(d, 4)].to(dtype)  # extremes
    for x in ((torch.rand(5, d, generator=g) < 0.3).to(dtype), torch.rand(5, d, generator=g, dtype=dtype)):
        got = bernoulli_log_prob_grouped(logits, x)   # x (5, D) broadcasts over the 3 samples
        assert got.shape == (3, 5) and got.dtype == dtype and torch.isfinite(got).all()
        assert torch.allclose(got.double(), reference(logits, x), atol=atol, rtol=rtol)


def test_longest_products_stay_in_float32_range() -> None:
    """l = 0 makes every factor 1 + e^0 = 2, the largest: D = 119 has no divisor but 1 below 120, so one
    product of 119 factors, 2^119, must stay finite (float32 ends at 2^128)."""
    assert _n_groups(119) == 1
    for d in (119, 120, 784):
        got = bernoulli_log_prob_grouped(torch.zeros(2, d), torch.ones(2, d))
        assert torch.allclose(got, torch.full((2,), -d * torch.log(torch.tensor(2.0)).item()), rtol=1e-6)


def test_groups_divide_and_respect_the_bound() -> None:
    for d in range(1, 3000):
        g = _n_groups(d)
        assert d % g == 0 and d // g <= MAX_GROUP, d
    assert _n_groups(784) == 16 and _n_groups(3072) == 32  # whole vector registers where possible


def test_training_and_evaluation_paths_agree() -> None:
    """With gradients the fused BCE (and its backward) runs; without, the grouped form: same numbers."""
    logits = torch.randn(4, 7, 1, 28, 28) * 4
    x = (torch.rand(7, 1, 28, 28) < 0.4).float()
    with torch.no_grad():
        fast = BernoulliLogits(logits, 3).log_prob(x)
    trained = BernoulliLogits(logits.clone().requires_grad_(), 3).log_prob(x)
    assert trained.requires_grad and fast.shape == trained.shape == (4, 7)
    assert torch.allclose(fast, trained.detach(), atol=1e-3, rtol=0)
    assert torch.allclose(fast.double(), reference(logits.flatten(-3), x.flatten(-3)), atol=1e-3, rtol=0)
