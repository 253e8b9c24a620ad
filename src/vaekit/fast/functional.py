"""Forward, backward, the gradient norm, clipping and the finiteness check of a training step in one
compiled graph: `torch.func.grad` differentiates the objective inside torch.compile, without autograd's
engine, `.grad` accumulation or the compiled function's autograd wrappers (docs/benchmarks.md).
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from vaekit.fast.compiling import graph_passes_available, guard_filter_available
from vaekit.fast.drawn import DrawnBatch, gather_binarized

# A guard kept by `tensor_guards`: the tensors' shapes, dtypes and devices, and the global state
# (grad mode, autocast, default device). The others check the modules' attributes and the config
# objects the objective reads: ~1,100 of them for the reference model, 0.46 ms of a 7.6 ms step.
KEPT_GUARDS = frozenset({"TENSOR_MATCH", "GLOBAL_STATE", "DEFAULT_DEVICE", "TORCH_FUNCTION_MODE_STACK"})


def tensor_guards(entries: Sequence[Any]) -> list[bool]:
    """torch.compile's guard filter for a graph whose Python inputs are fixed for its life: the
    Trainer's config and model structure do not change between steps, and the one flag that does
    (train/eval mode) is checked by `FunctionalGradients` itself."""
    return [e.guard_type in KEPT_GUARDS and not isinstance(e.value, nn.Parameter) for e in entries]


class FunctionalGradients:
    """(loss, elbo, rate, distortion), the gradients and whether the loss and the gradients' total
    norm are finite, from one compiled call: `module(x, beta, y)` must return the loss first.

    clip > 0 scales the gradients by min(1, clip / (norm + 1e-6)), as `clip_grad_norm_` does.
    Returns None (and warns once) when compilation fails, or when the module is not in training
    mode, so that the caller takes the plain path.

    A parameter the objective does not use gets a zero gradient (autograd would leave it None and
    Adam would skip it): with Adam's moments at 0 it does not move, except under weight decay."""

    def __init__(self, module: nn.Module, params: list[nn.Parameter], clip: float = 0.0,
                 compile: bool = True, options: dict[str, Any] | None = None) -> None:
        names = {id(p): n for n, p in module.named_parameters()}
        self.module, self.params, self.clip = module, params, clip
        self.submodules = list(module.modules())  # their train/eval flags, checked at every call
        self.names = [names[id(p)] for p in params]
        self.options = step_options() if options is None else options
        self.fn: Any = (torch.compile(self._own_graph(), dynamic=False, options=self.options) if compile
                        else self._graph)

    def _own_graph(self) -> Callable[..., tuple[Any, ...]]:
        """`_graph` bound to this instance through its own copy of the code object. torch.compile caches
        graphs per code object; with the guards on Python state dropped (`tensor_guards`), a second
        instance (another config, same tensor shapes) would otherwise reuse the first one's graph."""
        fn = FunctionalGradients._graph
        own = types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
        return types.MethodType(own, self)

    def _loss(self, values: list[torch.Tensor], x: torch.Tensor, beta: torch.Tensor,
              y: torch.Tensor | None) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        out = functional_call(self.module, dict(zip(self.names, values, strict=True)), (x, beta, y))
        return out[0], tuple(out)

    def _graph(self, values: list[torch.Tensor], x: torch.Tensor, beta: torch.Tensor, y: torch.Tensor | None,
               idx: torch.Tensor | None = None, key: torch.Tensor | None = None,
               start: torch.Tensor | None = None) -> tuple[Any, ...]:
        if idx is not None:  # a DrawnBatch, x its source: gathered and drawn in the graph's first kernels
            x = gather_binarized(x, idx, key, start)
        grads, out = torch.func.grad(self._loss, has_aux=True)(values, x, beta, y)
        # row sums first: inductor reduces each row in one vectorised pass, where one sum over a whole
        # weight matrix takes its slower cascade (pairwise) summation
        norm = torch.stack([g.float().square().sum(-1).sum() for g in grads]).sum().sqrt()
        if self.clip > 0:
            scale = (self.clip / (norm + 1e-6)).clamp(max=1.0)
            grads = [g * scale.to(g.dtype) for g in grads]
        ok = torch.isfinite(out[0]) & torch.isfinite(norm)
        return out, list(grads), ok

    def __call__(self, x: torch.Tensor | DrawnBatch, beta: torch.Tensor, y: torch.Tensor | None = None
                 ) -> tuple[tuple[torch.Tensor, ...], list[torch.Tensor], torch.Tensor] | None:
        if self.fn is None or not all(m.training for m in self.submodules):  # traced in training mode
            return None
        values = [p.detach() for p in self.params]
        args = (x.source, beta, y, x.idx, x.key, x.start) if isinstance(x, DrawnBatch) else (x, beta, y)
        try:
            return self.fn(values, *args)
        except Exception as e:  # torch._dynamo / inductor errors share no public base class
            warnings.warn(f"torch.compile of the training step failed ({type(e).__name__}: {e}); "
                          "using loss.backward() from now on", stacklevel=2)
            self.fn = None
            return None


def step_options() -> dict[str, Any]:
    """torch.compile options of the one-graph step (docs/benchmarks.md, "why it is fast"):
    - cpp_wrapper: the graph's kernel and matmul calls are made from C++ rather than from Python;
    - fallback_random: ε drawn by torch's vectorised randn, in the eager objective's order, rather than by
      inductor's per-element Philox: a compiled run then repeats an eager one up to rounding (tested);
    - guard_filter_fn (`tensor_guards`), where this torch has it;
    - under bf16, weights and gradients cast without transposing them (`CastBeforeTranspose`), where
      this torch has inductor's custom graph passes."""
    options: dict[str, Any] = {"cpp_wrapper": True, "fallback_random": True}
    if guard_filter_available():
        options["guard_filter_fn"] = tensor_guards
    if graph_passes_available():
        from vaekit.fast.graph_passes import CastBeforeTranspose, GraphPasses

        options["post_grad_custom_post_pass"] = GraphPasses(CastBeforeTranspose())
    return options
