"""A training step's gradients and its optimizer update, without the per-step overheads of the
general path. Measured on the reference model (docs/benchmarks.md): the step's matmuls take about
60% of a step that goes through autograd, and most of the rest was wrappers, guards and Python.

- `FunctionalGradients` differentiates the objective with `torch.func.grad` inside one torch.compile
  graph. Forward, backward, the gradient norm, clipping and the finiteness check become one call,
  without autograd's engine, `.grad` accumulation or the compiled function's autograd wrappers.
  The graph is compiled ahead of its first call and called without torch.compile's per-call wrapper,
  and it draws a `DrawnBatch`'s pixels itself, in its first kernel.
- `AdamUpdate` calls the optimizer's own fused kernel, as `Adam.step` does, without its per-parameter
  Python, and counts the step with one op.

The loop uses both for full batches in a single process with torch.compile on. DDP (whose hooks run
inside autograd's backward), eager runs and a last, smaller batch take the plain path:
`loss.backward()` then `opt.step()`.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from vaekit.config import Config
from vaekit.data.base import DrawnBatch, gather_binarized
from vaekit.graph_passes import CastBeforeTranspose, GraphPasses, UnfuseBiasAddmm
from vaekit.model import VAE
from vaekit.objectives import Terms, elbo, iwae_bound


def objective(cfg: Config, model: VAE, x: torch.Tensor, beta: torch.Tensor,
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
                 compile: bool = True) -> None:
        names = {id(p): n for n, p in module.named_parameters()}
        self.module, self.params, self.clip = module, params, clip
        self.submodules = list(module.modules())  # their train/eval flags, checked at every call
        self.names = [names[id(p)] for p in params]
        # Measured on the reference model, epochs interleaved (docs/benchmarks.md):
        # - cpp_wrapper: the graph's ~40 kernel and matmul calls are made from C++ rather than from
        #   Python, +6% and +12% images/s in two runs;
        # - fallback_random: ε drawn by torch's own (vectorised) randn rather than by inductor's
        #   per-element Philox, which took 0.1 ms for 128 x 20 draws: +9%. The draws are then the eager
        #   objective's, in the same order: a compiled run repeats an eager one up to rounding (tested).
        # - post_grad_custom_post_pass: the bias added in the kernel after each matmul (UnfuseBiasAddmm);
        #   under bf16, weights and gradients cast without transposing them (CastBeforeTranspose).
        self.options = {"guard_filter_fn": tensor_guards, "cpp_wrapper": True, "fallback_random": True,
                        "post_grad_custom_post_pass": GraphPasses(UnfuseBiasAddmm(), CastBeforeTranspose())}
        self.fn: Any = torch.compile(self._own_graph(), dynamic=False, options=self.options) if compile else self._graph
        # the precompiled graph (`_precompile`), called without torch.compile's per-call frame hook, and the
        # inputs it was traced for; None until the first call, or when precompiling failed
        self.precompile, self.direct, self.key = compile, None, None

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
        # row sums first: inductor reduces each row in one vectorised pass; one sum over a whole weight
        # matrix took its cascade (pairwise) summation: 1.962 -> 1.936 ms a call, 12 of 15 rounds
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
            if self.precompile:
                self._precompile(values, args)
            if self.direct is not None and self._key(args) == self.key:
                return self.direct(self, values, *args)
            return self.fn(values, *args)
        except Exception as e:  # torch._dynamo / inductor errors share no public base class
            warnings.warn(f"torch.compile of the training step failed ({type(e).__name__}: {e}); "
                          "using loss.backward() from now on", stacklevel=2)
            self.fn = self.direct = None
            return None

    @staticmethod
    def _key(args: tuple[torch.Tensor | None, ...]) -> tuple[Any, ...]:
        """What the precompiled graph assumes of a call: its tensors' layouts, grad mode and autocast (the
        parameters keep their shapes and dtypes for the Trainer's life)."""
        return (*(None if a is None else (a.shape, a.stride(), a.dtype, a.device) for a in args),
                torch.is_grad_enabled(), torch.is_autocast_enabled(args[0].device.type))

    def _precompile(self, values: list[torch.Tensor], args: tuple[torch.Tensor | None, ...]) -> None:
        """Compile the graph once, ahead of the calls (`aot_compile`, torch >= 2.9), and keep the function
        that runs it. Through `torch.compile`'s wrapper every call also paid for the frame hook, a config
        patch and dynamo's dispatch: 2.60-2.68 ms a call against 2.34-2.40 called directly, with the same
        outputs bit for bit (docs/benchmarks.md). `_key` stands in for the guards, which are all on these
        inputs; a call that does not match goes through `torch.compile` and its guards."""
        self.precompile = False
        try:
            aot = torch.compile(self._own_graph(), fullgraph=True, dynamic=False, options=self.options
                                ).aot_compile(((values, *args), {}))
        except Exception as e:  # e.g. inductor's caches disabled (TORCHINDUCTOR_FORCE_DISABLE_CACHES)
            warnings.warn(f"precompiling the training step failed ({type(e).__name__}: {e}); calling it "
                          "through torch.compile, ~0.2 ms a step slower", stacklevel=3)
            return
        self.direct, self.key = aot.fn, self._key(args)


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
            if not _fused_adam(opt) or any(p not in opt.state for p in self.params):
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
