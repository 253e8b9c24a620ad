"""Everything in vaekit that exists only for speed, behind one entry point: `make_step`.

The Trainer asks `make_step` for its training step at start-up. With `--compile on` on one process it
gets a `FastStep`: forward, backward, norm and finiteness check in one compiled graph
(`functional.FunctionalGradients`), Adam's fused kernel called directly (`adam.AdamUpdate`), and
dynamically binarized batches drawn inside that graph (`drawn`). Distributed runs get the plain step
with a compiled objective; `--no-compile` the plain step alone. `--compile auto`, the default, gets an
`auto.AutoStep`: eager steps until the run ahead is known to pay for a compilation, then a `FastStep`;
`cache` keeps inductor's artefacts and what compiling cost on this machine. Every path computes the same step
(tested), and each private torch API used here is checked for at start-up, falling back to the plain
code with one log line where this torch lacks it. The evaluation's compiled log-weights
(`compiling.sampling_options`) and subnormal flushing (`denormals`) live here too.
docs/benchmarks.md says what each measure brings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from vaekit.fast import adam, cache
from vaekit.fast.auto import AutoStep, Recorder
from vaekit.fast.compiling import CompiledOrEager, sampling_options
from vaekit.fast.drawn import DrawnBatch, can_draw, drawn_batches
from vaekit.fast.functional import FunctionalGradients
from vaekit.objectives import Terms
from vaekit.training import distributed
from vaekit.training.step import PlainStep, objective_terms

log = logging.getLogger("vaekit.fast")


class FastStep:
    """The one-graph step for a single process, with the plain step beside it for what the graph does
    not take (a last, smaller batch; the first Adam step; a failed compilation)."""

    def __init__(self, module: nn.Module, params: list[nn.Parameter], opt: torch.optim.Optimizer,
                 grad_clip: float, batch_size: int, device: torch.device, recorder: Recorder | None = None) -> None:
        self.recorder = recorder  # times the first compiled calls for the compile cache's record
        self.plain = PlainStep(module, params, opt, grad_clip, distributed.DistEnv(), device)
        self.gradients = FunctionalGradients(module, params, grad_clip)
        self.update = adam.AdamUpdate(opt, params)
        if not adam.available():
            log.warning("this torch has no torch._fused_adam_: the fast step updates with opt.step()")
        self.batch_size, self.device = batch_size, device

    def batches(self, data: Any, batch_size: int, generator: torch.Generator
                ) -> Iterator[tuple[torch.Tensor | DrawnBatch, torch.Tensor | None]]:
        if self.device.type == "cpu" and self.gradients.fn is not None and can_draw(data):
            yield from drawn_batches(data, batch_size, generator)  # drawn inside the compiled graph
        else:
            yield from self.plain.batches(data, batch_size, generator)

    def __call__(self, x: torch.Tensor | DrawnBatch, y: torch.Tensor | None, beta: torch.Tensor
                 ) -> tuple[Terms, bool]:
        # the graph is traced for full batches of tensors; a last, smaller batch, or a batch of another
        # type (vaekit.data.Padded sequences), takes the plain step
        whole = isinstance(x, (torch.Tensor, DrawnBatch)) and len(x) == self.batch_size
        if not whole or self.recorder is None or self.recorder.done:
            return self._step(x, y, beta, whole)
        start = time.perf_counter()
        out = self._step(x, y, beta, whole)  # bool(ok) waits for the step's kernels
        self.recorder.time(time.perf_counter() - start, compiled=self.gradients.fn is not None)
        return out

    def _step(self, x: torch.Tensor | DrawnBatch, y: torch.Tensor | None, beta: torch.Tensor, whole: bool
              ) -> tuple[Terms, bool]:
        found = self.gradients(x, beta, y) if whole else None
        if found is None:
            return self.plain(x.binarized() if isinstance(x, DrawnBatch) else x, y, beta)
        out, grads, ok = found
        ok = bool(ok)
        if ok:
            self.update(grads)
        return objective_terms(out), ok


def make_step(module: nn.Module, params: list[nn.Parameter], opt: torch.optim.Optimizer, *, grad_clip: float,
              batch_size: int, compile: str, dist: distributed.DistEnv, device: torch.device,
              auto: AutoPlan | None = None) -> Any:
    """The training step for a run (`vaekit.training.step` states its contract). module: the
    ObjectiveModule (DDP-wrapped when distributed). compile: on, off or auto (`vaekit.fast.auto`, which
    needs `auto`: what the run ahead and the cache key are; without it, auto compiles)."""
    if compile == "off":
        return PlainStep(module, params, opt, grad_clip, dist, device)
    cache.use_for_inductor(cache.cache_root())  # compiled once per machine, not once per run
    if dist.enabled:  # DDP's hooks run inside autograd's backward: the plain step, its objective compiled
        compiled = CompiledOrEager(module, options=sampling_options())
        return PlainStep(module, params, opt, grad_clip, dist, device, compiled, batch_size // dist.world)
    if auto is None:
        return FastStep(module, params, opt, grad_clip, batch_size, device)
    if compile == "on":  # measured all the same, for later auto runs on this machine
        return FastStep(module, params, opt, grad_clip, batch_size, device, Recorder(auto.key))
    plain = PlainStep(module, params, opt, grad_clip, dist, device)
    return AutoStep(plain, lambda rec: FastStep(module, params, opt, grad_clip, batch_size, device, rec), auto.ahead,
                    steps_per_epoch=auto.steps_per_epoch, batch_size=batch_size, key=auto.key,
                    default_speedup=auto.default_speedup, say=auto.say)


@dataclass
class AutoPlan:
    """What `--compile auto` needs from the Trainer: ahead() gives (steps left, seconds left in the
    --max-minutes budget or inf); key: the graph's cache key (`cache.graph_key`); default_speedup: the
    kind's expected compiled/eager step ratio before one is measured; say: prints the decision."""
    ahead: Callable[[], tuple[int, float]]
    steps_per_epoch: int
    key: dict[str, Any]
    default_speedup: float
    say: Callable[[str], None]


__all__ = ["AutoPlan", "FastStep", "make_step"]
