"""Schedules as pure functions of the run's progress (nanoGPT's get_lr, over a fraction of the run).

A run ends at whichever of its limits comes first: its last epoch, or a wall-clock budget
(--max-minutes). `progress` is the fraction of the run done by the nearer of the two, so a schedule
written over progress in [0, 1] ends with the run on any host: the cosine reaches lr * min_ratio and
the warm-ups finish, whether the budget or the epochs decide. Under a budget the schedules follow the
clock: two runs of one config, or a run and its resumed copy, agree only as far as their timing does.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from vaekit.objectives import beta_at

if TYPE_CHECKING:
    from vaekit.config import TrainConfig


def progress(step: int, total_steps: int, elapsed_seconds: float = 0.0, budget_seconds: float = 0.0,
             *, start: int = 0) -> float:
    """The fraction of a run done before step `step` (0-based), in [0, 1], counted from step `start`.

    Without a budget (budget_seconds = 0): (step - start) / (total_steps - start), the step count alone.
    With one: the larger of that and elapsed_seconds / budget_seconds, the share of the budget spent
    (from the run's first step, whatever `start`): the run stops when either reaches 1.
    `start` > 0 makes a decay begin after a warm-up of that many steps, as the step count always did."""
    done = (step - start) / max(1, total_steps - start)
    if budget_seconds > 0:
        done = max(done, elapsed_seconds / budget_seconds)
    return min(1.0, max(0.0, done))


def lr_at(step: int, progress: float, *, lr: float, schedule: str = "constant", warmup_steps: int = 0,
          min_ratio: float = 0.1) -> float:
    """Linear warm-up over `warmup_steps` steps, then constant or a cosine decay that reaches lr * min_ratio
    at progress 1 (`progress` counted from the warm-up's end: `progress(..., start=warmup_steps)`).

    Under a budget, progress also moves during the warm-up (time passes) and may reach 1 before the
    warm-up's last step: the warm-up then rises at least as fast as progress and never above the decay,
    so the lr stays continuous and is lr * min_ratio at progress 1 whatever the step."""
    if schedule == "constant":
        decayed = lr
    else:  # half a cosine period (Loshchilov & Hutter 2017, SGDR without restarts)
        decayed = lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
    if warmup_steps > 0 and step < warmup_steps:
        warm = lr * (step + 1) / warmup_steps
        if progress > 0:  # only under a budget: the step count's progress is 0 throughout the warm-up
            warm = min(max(warm, lr * progress), decayed)
        return warm
    return decayed


def values_at(step: int, total_steps: int, elapsed_seconds: float, t: TrainConfig) -> tuple[float, float, float]:
    """(progress, lr, β) of the step with index `step` of a run of `total_steps` steps (its epochs), after
    `elapsed_seconds` of training and validation (read only under a --max-minutes budget)."""
    budget = 60.0 * t.max_minutes
    done = progress(step, total_steps, elapsed_seconds, budget)
    warmup = min(t.lr_warmup_steps, total_steps)  # a warm-up longer than the run ends with it
    lr = lr_at(step, progress(step, total_steps, elapsed_seconds, budget, start=warmup), lr=t.lr,
               schedule=t.schedule, warmup_steps=warmup, min_ratio=t.lr_min_ratio)
    return done, lr, beta_at(step, t.beta, t.warmup_steps, done)
