"""`--compile auto`: compile the training step only when the run ahead is long enough to pay for it.

Compiling costs seconds once (~15-25 s the first time on a machine, ~5 s from the cache of
`vaekit.fast.cache`) and then saves a share of every step. A 3-epoch MNIST run spends more on compiling
than it saves; a 30-epoch run saves several times the cost. `AutoStep` runs the first steps eagerly,
times them, and then decides with `decide`: the eager seconds ahead (the steps left times the measured
step, or the --max-minutes budget left when that is shorter) times the share of a step compiling saves,
against the compilation's expected cost with a safety margin. Both figures come from this machine's
measurements of this graph when the cache has them, else from defaults. From then on it runs the
chosen step; a compiled step draws the same batches and ε as the eager one, so switching mid-run does
not change what the run computes.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from vaekit.fast import cache
from vaekit.fast.drawn import DrawnBatch, can_draw, drawn_batches
from vaekit.objectives import Terms
from vaekit.training.step import PlainStep

log = logging.getLogger("vaekit.fast")

COLD_COMPILE_SECONDS = 20.0  # the first compilation on a machine, when nothing was measured (2-core EPYC: 15-25 s)
WARM_SHARE = 0.35            # a compilation from a warm cache, as a share of the first one's (measured 4-6 s of 16-21)
MARGIN = 1.5                 # compile when it saves this many times its expected cost: estimates are noisy
DECIDE_STEPS = 20            # eager steps timed before deciding (or fewer, at the end of a shorter first epoch)
MIN_STEPS = 3                # ... but at least these; the first one is not timed (allocations, lazy imports)
COMPILED_STEPS = 20          # compiled steps timed for the record


@dataclass(frozen=True)
class Decision:
    compile: bool
    reason: str  # one line for the log


def decide(eager_seconds_ahead: float, compile_seconds: float, speedup: float, *, epochs_ahead: float | None = None,
           cached: bool = False, margin: float = MARGIN) -> Decision:
    """Compile when the time it saves, eager_seconds_ahead * (1 - 1 / speedup), exceeds `margin` times its
    expected cost. speedup: eager step time over compiled step time; cached: whether the cost is a
    warm cache's (for the log line)."""
    saved = eager_seconds_ahead * (1.0 - 1.0 / speedup) if speedup > 1.0 else 0.0
    ahead = f"{epochs_ahead:.3g} epochs ahead" if epochs_ahead is not None else f"{eager_seconds_ahead:.0f} s ahead"
    if saved > margin * compile_seconds:
        once = "cached on this machine" if cached else "once per machine"
        return Decision(True, f"compiling the training step (~{compile_seconds:.0f} s, {once}): {ahead}, "
                              f"saves ~{saved:.0f} s at {speedup:.2f}x")
    return Decision(False, f"eager: {ahead}, compiling (~{compile_seconds:.0f} s) would cost more than it "
                           f"saves (~{saved:.0f} s at {speedup:.2f}x)")


def expected_cost(record: cache.Record | None) -> tuple[float, bool]:
    """The next compilation's expected seconds, and whether it comes from a warm cache. A record's first
    compilation may have been cold (~20 s) or already warm (inductor's kernels cached by another run):
    its warm share, but never less than the smaller of what it took and a cold one's warm share."""
    if record is None:
        return COLD_COMPILE_SECONDS, False
    if record.compiles >= 2:  # at least one measured from the cache already
        return record.compile_seconds, True
    seconds = record.compile_seconds
    return max(seconds * WARM_SHARE, min(seconds, COLD_COMPILE_SECONDS * WARM_SHARE)), True


def expected_speedup(record: cache.Record | None, default: float) -> float:
    """The kind's expected speed-up, or the record's when it is lower. A higher one is not trusted: its
    eager and compiled steps are medians of 20 steps each, and on a shared 2-core host the ratio of two
    such medians ranged 1.1-2.5x for one model whose whole-run gain was ~1.3x (measured)."""
    if record is not None and record.eager_step and record.compiled_step:
        return min(record.eager_step / record.compiled_step, default)
    return default


class AutoStep:
    """The training step of `--compile auto`. make_fast(recorder): builds the compiled step
    (`vaekit.fast.FastStep`, timed by `recorder`) when it is chosen; ahead(): (steps left in the run,
    seconds left in its --max-minutes budget or inf); say: prints the decision's line."""

    def __init__(self, plain: PlainStep, make_fast: Callable[[Recorder], Any],
                 ahead: Callable[[], tuple[int, float]], *, steps_per_epoch: int, batch_size: int,
                 key: dict[str, Any], default_speedup: float,
                 say: Callable[[str], None]) -> None:
        self.plain, self.make_fast, self.ahead, self.say = plain, make_fast, ahead, say
        self.steps_per_epoch, self.batch_size = steps_per_epoch, batch_size
        self.recorder = Recorder(key)
        self.default_speedup = default_speedup
        self.fast: Any = None
        self.decided = False
        self.eager_times: list[float] = []

    def batches(self, data: Any, batch_size: int, generator: torch.Generator
                ) -> Iterator[tuple[torch.Tensor | DrawnBatch, torch.Tensor | None]]:
        if not self.decided and len(self.eager_times) >= MIN_STEPS - 1:  # a first epoch shorter than DECIDE_STEPS
            self._decide()
        if self.fast is not None:
            yield from self.fast.batches(data, batch_size, generator)
        elif not self.decided and self.plain.device.type == "cpu" and can_draw(data):
            yield from drawn_batches(data, batch_size, generator)  # the compiled step can take over mid-epoch
        else:
            yield from self.plain.batches(data, batch_size, generator)

    def __call__(self, x: torch.Tensor | DrawnBatch, y: torch.Tensor | None, beta: torch.Tensor
                 ) -> tuple[Terms, bool]:
        if self.fast is not None:
            return self.fast(x, y, beta)  # timed by its recorder
        start = time.perf_counter()
        out = self.plain(x.binarized() if isinstance(x, DrawnBatch) else x, y, beta)
        if len(x) == self.batch_size and not self.decided:
            self.eager_times.append(time.perf_counter() - start)
            if len(self.eager_times) >= DECIDE_STEPS + 1:
                self._decide()
        return out

    def eager_step(self) -> float:
        return statistics.median(self.eager_times[1:])  # the first step pays for allocations and lazy imports

    @property
    def record(self) -> cache.Record | None:
        return self.recorder.record

    def _decide(self) -> None:
        self.decided = True
        steps, budget = self.ahead()
        step = self.eager_step()
        seconds = min(steps * step, budget)
        epochs = seconds / (step * self.steps_per_epoch)
        cost, cached = expected_cost(self.record)
        decision = decide(seconds, cost, expected_speedup(self.record, self.default_speedup),
                          epochs_ahead=epochs, cached=cached)
        self.say(decision.reason)
        if decision.compile:
            self.recorder.eager_step = step
            self.fast = self.make_fast(self.recorder)


class Recorder:
    """Times a compiled step's first full-batch calls and writes this graph's record to the cache
    (`cache.Record`), for the next `--compile auto` run to decide with: what compiling cost (the first
    compiled call less an ordinary one), the compiled step, and the eager step when this run timed one.
    Both `--compile auto` runs that compiled and `--compile on` runs measure, so one forced run is
    enough for later auto runs to know this machine's cost."""

    def __init__(self, key: dict[str, Any]) -> None:
        self.root, self.key = cache.cache_root(), key
        self.record = cache.read_record(self.root, key)
        self.eager_step: float | None = None  # set by AutoStep when it timed eager steps
        self.times: list[float] = []  # the first one includes the compilation
        self.stopped = False

    @property
    def done(self) -> bool:
        return self.stopped or len(self.times) > COMPILED_STEPS

    def time(self, seconds: float, compiled: bool) -> None:
        """One full-batch call's seconds; compiled: whether the compiled graph ran it (after a failed
        compilation the plain step runs, which says nothing about compiling: nothing is written)."""
        if self.done:
            return
        if not compiled:
            self.stopped = True
            return
        self.times.append(seconds)
        if self.done:
            self._write()

    def _write(self) -> None:
        step = statistics.median(self.times[1:])
        compiled = max(self.times[0] - step, 1e-3)
        old = self.record
        eager = self.eager_step if self.eager_step is not None else old.eager_step if old else None
        expected, cached = expected_cost(old)
        if cached and compiled > 2 * expected + 5:
            log.warning("the compile cache did not hold this graph (compiled in %.0f s, expected ~%.0f s); "
                        "it holds it now", compiled, expected)
        self.record = cache.Record(compile_seconds=compiled, compiles=(old.compiles + 1) if old else 1,
                                   eager_step=eager, compiled_step=step)
        cache.write_record(self.root, self.key, self.record)
