"""The Bernoulli likelihood against float64 references: its grouped value and its hand-written gradient."""

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


def test_hand_written_gradient_is_x_minus_sigmoid_even_at_extreme_logits() -> None:
    """The training path's gradient (BernoulliLogProb) against d/dl (x l - softplus(l)) = x - sigmoid(l) in
    float64 (autograd of the reference would give a subgradient of |l| at l = 0)."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 1, 4, 4, generator=g) * 8
    logits[0, 0, 0, 0, :4] = torch.tensor([200.0, -200.0, 0.0, 88.0])
    for x in ((torch.rand(5, 1, 4, 4, generator=g) < 0.3).float(), torch.rand(5, 1, 4, 4, generator=g)):
        w = torch.randn(3, 5, generator=g)  # an arbitrary upstream gradient per (sample, item)
        l32 = logits.clone().requires_grad_()
        (BernoulliLogits(l32, 3).log_prob(x) * w).sum().backward()
        expect = w.double().view(3, 5, 1, 1, 1) * (x.double() - torch.sigmoid(logits.double()))
        assert torch.isfinite(l32.grad).all()
        assert torch.allclose(l32.grad.double(), expect, atol=1e-6, rtol=1e-5)


def test_gradients_of_both_inputs_and_second_derivatives_are_exact() -> None:
    """gradcheck and gradgradcheck in float64: the x gradient (l) and second derivatives through r."""
    g = torch.Generator().manual_seed(1)
    logits = (torch.randn(2, 3, 1, 2, 3, generator=g, dtype=torch.float64) * 3).requires_grad_()
    x = torch.rand(3, 1, 2, 3, generator=g, dtype=torch.float64).requires_grad_()
    f = lambda l, x: BernoulliLogits(l, 3).log_prob(x)  # noqa: E731
    assert torch.autograd.gradcheck(f, (logits, x))
    assert torch.autograd.gradgradcheck(f, (logits, x))


def test_bfloat16_logits_give_a_float32_density() -> None:
    logits = torch.randn(4, 1, 28, 28).bfloat16().requires_grad_()
    x = (torch.rand(4, 1, 28, 28) < 0.5).float()
    lp = BernoulliLogits(logits, 3).log_prob(x)
    assert lp.dtype == torch.float32
    assert torch.allclose(lp.detach().double(), reference(logits.detach().double().flatten(-3), x.double().flatten(-3)),
                          atol=2e-3, rtol=0)
    lp.sum().backward()
    assert logits.grad.dtype == torch.bfloat16 and torch.isfinite(logits.grad.float()).all()
