"""The training objective and the plain step (vaekit.training.step)."""

from __future__ import annotations

import pytest
import torch

from tests.fast.test_step import tiny_objective
from vaekit.config import TrainConfig
from vaekit.training.distributed import DistEnv
from vaekit.training.optim import make_optimizer
from vaekit.training.step import PlainStep, objective


def test_objective_is_the_elbo_loss_of_the_model():
    module, _ = tiny_objective()
    x = (torch.rand(4, 1, 16, 16) < 0.5).float()
    torch.manual_seed(1)
    loss, e, r, d = objective(module.cfg, module.model, x, torch.tensor(1.0))
    assert torch.allclose(e, -(r + d)) and float(loss) == pytest.approx(float(-e.mean()), rel=1e-6)


def test_the_plain_step_lowers_the_loss_and_skips_a_non_finite_batch():
    module, params = tiny_objective()
    opt = make_optimizer(module.model, TrainConfig(lr=3e-3), torch.device("cpu"))
    step = PlainStep(module, params, opt, 0.0, DistEnv(), torch.device("cpu"))
    x = (torch.rand(16, 1, 16, 16, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    losses = [float(step(x, None, torch.tensor(1.0))[0].loss) for _ in range(30)]
    assert losses[-1] < losses[0] - 5.0  # 30 Adam steps on one batch
    before = [p.detach().clone() for p in params]
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    _, ok = step(bad, None, torch.tensor(1.0))
    assert not ok and all(torch.equal(a, b) for a, b in zip(before, params, strict=True))
