"""The training objective and the plain training step: `loss.backward()`, the gradient norm, `opt.step()`.

A step has one contract whichever path runs it (this plain one, or the fast path of `vaekit.fast`):
`step.batches(data, batch_size, generator)` yields the epoch's batches ready for it, and
`step(x, y, beta)` returns the objective's `Terms` and whether the loss and the gradient norm were
finite; the optimizer has stepped exactly when they were (vdvae's skip of non-finite updates).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from vaekit.config import Config
from vaekit.data import iterate_batches
from vaekit.objectives import Terms, elbo, iwae_bound
from vaekit.training import distributed


def objective(cfg: Config, model: nn.Module, x: torch.Tensor, beta: torch.Tensor,
              y: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
    """The training objective as a tuple (loss, elbo, rate, distortion): a pure function of its
    tensors (β is a tensor, ε comes from the seeded global RNG), so torch.compile can fuse it.
    y: the class labels of a conditional model, else None."""
    t = cfg.train
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=t.precision == "bf16"):
        if t.objective == "iwae":
            terms = iwae_bound(model, x, t.iwae_k, y=y)
        else:
            terms = elbo(model, x, samples=t.samples, kl=t.kl, beta=beta, free_bits=t.free_bits, y=y)
    return terms.loss, terms.elbo, terms.rate, terms.distortion


class ObjectiveModule(nn.Module):
    """The objective as a module, so DistributedDataParallel can wrap it: its forward is where DDP
    prepares the gradient all-reduce that the backward pass then runs."""

    def __init__(self, cfg: Config, model: nn.Module) -> None:
        super().__init__()
        self.cfg, self.model = cfg, model

    def forward(self, x: torch.Tensor, beta: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        return objective(self.cfg, self.model, x, beta, y)


def objective_terms(out: tuple[torch.Tensor, ...]) -> Terms:
    loss, e, r, d = out
    return Terms(elbo=e, rate=r, distortion=d, loss=loss)


class PlainStep:
    """`loss.backward()` (DDP's all-reduce runs inside it), the gradients clipped in place with
    --grad-clip, then `opt.step()` when the loss and the gradient norm are finite on every rank.
    objective: the (possibly DDP-wrapped) ObjectiveModule; compiled: a function of the same arguments
    that computes it faster for batches of `full` items per rank (`vaekit.fast`), or None."""

    def __init__(self, objective: nn.Module, params: list[nn.Parameter], opt: torch.optim.Optimizer,
                 grad_clip: float, dist: distributed.DistEnv, device: torch.device,
                 compiled: Any = None, full: int = 0) -> None:
        self.objective, self.params, self.opt = objective, params, opt
        self.grad_clip, self.dist, self.device = grad_clip, dist, device
        self.compiled, self.full = compiled, full

    def batches(self, data: Any, batch_size: int, generator: torch.Generator
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        for x, y in iterate_batches(data, batch_size, generator=generator):
            yield x.to(self.device, non_blocking=True), None if y is None else y.to(self.device)

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None, beta: torch.Tensor) -> tuple[Terms, bool]:
        x, weight = distributed.shard(x, self.dist)  # this rank's slice of the global batch
        y = None if y is None else distributed.shard(y, self.dist)[0]
        # a last, smaller batch runs eagerly: compiling it would trace a second graph for one step an epoch
        fn = self.compiled if self.compiled is not None and len(x) == self.full else self.objective
        out = fn(x, beta, y)
        self.opt.zero_grad(set_to_none=True)
        (out[0] * weight if weight != 1.0 else out[0]).backward()
        # foreach: one kernel for all the gradients' norms instead of one per tensor
        foreach = True if self.device.type in ("cpu", "cuda") else None  # None: torch decides
        if self.grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip, foreach=foreach)
        else:  # the norm alone, for the finiteness check (clipping at inf would rescale every grad by 1)
            norm = torch.nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None],
                                                 foreach=foreach)
        ok = self.agree(torch.isfinite(out[0].detach()) & torch.isfinite(norm))
        if ok:
            self.opt.step()
        return objective_terms(out), ok

    def agree(self, ok: torch.Tensor) -> bool:
        """Every rank skips together: the norm of the all-reduced gradient agrees, the loss may not."""
        if self.dist.enabled:
            ok = distributed.all_reduce_sum((~ok).float(), self.dist) == 0
        return bool(ok)
