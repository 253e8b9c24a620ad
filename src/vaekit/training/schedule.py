"""Learning-rate schedule as a pure function of the step (nanoGPT's get_lr)."""

from __future__ import annotations

import math


def lr_at(step: int, *, lr: float, total_steps: int, schedule: str = "constant", warmup_steps: int = 0,
          min_ratio: float = 0.1) -> float:
    """Linear warm-up over `warmup_steps`, then constant or cosine decay to lr * min_ratio."""
    if warmup_steps > 0 and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return lr
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
