"""Adam's update by the optimizer's own fused kernel, without `Adam.step`'s per-parameter Python.

`torch._fused_adam_` / `torch._fused_adamw_` are private: `available()` checks that this torch has them,
and the fast step falls back to `opt.step()` (with one log line) where it does not.
"""

from __future__ import annotations

import torch
from torch import nn


def available() -> bool:
    return hasattr(torch, "_fused_adam_") and hasattr(torch, "_fused_adamw_")


def _fused_adam(opt: torch.optim.Optimizer) -> bool:
    """Whether `opt` is a torch Adam/AdamW that runs its fused kernel and nothing else: the only case
    `AdamUpdate` calls directly. (AdamW is Adam with decoupled_weight_decay in torch >= 2.6.)"""
    return isinstance(opt, torch.optim.Adam) and all(
        g["fused"] and not (g["amsgrad"] or g["maximize"] or g["capturable"] or g["differentiable"])
        for g in opt.param_groups) and getattr(opt, "grad_scale", None) is None


class AdamUpdate:
    """`opt.step()` with gradients given as a list (aligned with `params`), for a fused Adam/AdamW:
    the kernel `Adam.step` ends in (`torch._fused_adam_` / `_fused_adamw_`), called group by group
    with the same arguments, without `Adam.step`'s per-parameter Python (a test checks weights and
    moments bit for bit against `opt.step()`). The parameters' step counters are packed into one
    tensor, so that one `add_` counts the step instead of a `_foreach_add_` of 0-d tensors.

    The first step, and the first after `opt.load_state_dict` (new state tensors), go through
    `opt.step()` with `.grad` set; so does every step of any other optimizer."""

    def __init__(self, opt: torch.optim.Optimizer, params: list[nn.Parameter]) -> None:
        self.opt, self.params = opt, params
        self.index = {id(p): i for i, p in enumerate(params)}
        self.steps: torch.Tensor | None = None  # (P,): the packed counters, views of it in opt.state
        self.views: list[torch.Tensor] = []

    def _packed(self) -> bool:
        """Whether the state is the one packed here (a loaded state dict replaces its tensors)."""
        state = self.opt.state
        return self.steps is not None and all(state.get(p, {}).get("step") is v
                                              for p, v in zip(self.params, self.views, strict=True))

    def _pack(self) -> None:
        state = self.opt.state
        self.steps = torch.stack([state[p]["step"] for p in self.params])  # (P,)
        self.views = list(self.steps.unbind())
        for p, v in zip(self.params, self.views, strict=True):
            state[p]["step"] = v

    def __call__(self, grads: list[torch.Tensor]) -> None:
        opt = self.opt
        if not self._packed():
            if not available() or not _fused_adam(opt) or any(p not in opt.state for p in self.params):
                self._plain_step(grads)
                return
            self._pack()
        assert self.steps is not None
        self.steps.add_(1)
        for group in opt.param_groups:
            idx = [self.index[id(p)] for p in group["params"]]
            if not idx:
                continue
            s = [opt.state[self.params[i]] for i in idx]
            kernel = torch._fused_adamw_ if group["decoupled_weight_decay"] else torch._fused_adam_
            beta1, beta2 = group["betas"]
            kernel([self.params[i] for i in idx], [grads[i] for i in idx], [t["exp_avg"] for t in s],
                   [t["exp_avg_sq"] for t in s], [], [self.views[i] for i in idx], amsgrad=False,
                   lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"],
                   eps=group["eps"], maximize=False)

    def _plain_step(self, grads: list[torch.Tensor]) -> None:
        for p, g in zip(self.params, grads, strict=True):
            p.grad = g
        self.opt.step()
        for p in self.params:
            p.grad = None  # not kept: the next step's gradients come from the graph again
