"""Schedules over the run's progress: the step count, or a wall-clock budget, whichever is further along."""

from __future__ import annotations

import itertools
import math

import pytest

import vaekit
from tests.conftest import tiny_config
from vaekit.config import Config, TrainConfig
from vaekit.objectives import beta_at
from vaekit.runs.metrics import read_metrics
from vaekit.training import loop
from vaekit.training.schedule import lr_at, progress, values_at


def test_learning_rate_schedule():
    kw = {"lr": 1.0}
    assert [lr_at(s, progress(s, 100), **kw) for s in (0, 50, 99)] == [1.0, 1.0, 1.0]
    assert [lr_at(s, progress(s, 100, start=4), warmup_steps=4, **kw) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    cos = [lr_at(s, progress(s, 100), schedule="cosine", min_ratio=0.1, **kw) for s in range(101)]
    assert cos[0] == 1.0 and cos[100] == pytest.approx(0.1) and cos[50] == pytest.approx(0.55)
    assert all(a >= b for a, b in itertools.pairwise(cos))


def test_progress_is_the_step_count_or_the_budget_spent_whichever_is_further():
    assert progress(50, 200) == 0.25 and progress(250, 200) == 1.0
    assert progress(5, 110, start=10) == 0.0 and progress(60, 110, start=10) == 0.5  # after a 10-step warm-up
    assert progress(10, 1000, 30.0, 60.0) == 0.5   # the clock is further along: a slow host
    assert progress(900, 1000, 30.0, 60.0) == 0.9  # the steps are: a fast host ends with its epochs
    assert progress(10, 1000, 90.0, 60.0) == 1.0   # past the budget
    assert progress(10, 1000, 90.0, 0.0) == 0.01   # no budget: the clock is not read
    assert progress(5, 110, 30.0, 60.0, start=10) == 0.5  # the budget counts from the first step


def test_cosine_over_a_budget_ends_at_the_minimum_and_its_warm_up_with_it():
    kw = {"lr": 2.0, "schedule": "cosine", "min_ratio": 0.1}
    assert lr_at(500, 0.5, **kw) == pytest.approx(2.0 * 0.55)
    assert lr_at(500, 1.0, **kw) == 2.0 * 0.1  # exactly lr * min_ratio
    # a budget running out during a 1000-step warm-up: never above the decay, and at its value at the end
    assert lr_at(1, 0.0, warmup_steps=1000, **kw) == 2.0 * 2 / 1000
    assert lr_at(1, 0.8, warmup_steps=1000, **kw) == pytest.approx(2.0 * (0.1 + 0.45 * (1 + math.cos(0.8 * math.pi))))
    assert lr_at(1, 1.0, warmup_steps=1000, **kw) == 2.0 * 0.1
    assert lr_at(1, 0.3, warmup_steps=1000, lr=2.0) == 2.0 * 0.3  # constant: the warm-up keeps pace with the run
    # the KL warm-up: its step count, or the run's progress when that is further along
    assert [beta_at(10, 2.0, 100, p) for p in (0.0, 0.05, 0.5, 1.0)] == [0.2, 0.2, 1.0, 2.0]


def test_values_without_a_budget_are_the_step_schedule_and_end_warm_ups_with_the_run():
    t = TrainConfig(lr=1.0, schedule="cosine", lr_min_ratio=0.1, lr_warmup_steps=10, warmup_steps=20, beta=2.0)
    assert values_at(4, 110, 1e9, t) == (4 / 110, 0.5, 0.4)  # the clock is ignored without a budget
    assert values_at(60, 110, 1e9, t)[1] == pytest.approx(0.55)  # half way through the decay after the warm-up
    long = TrainConfig(lr=1.0, lr_warmup_steps=500, warmup_steps=500, beta=2.0)  # warm-ups longer than the run
    assert values_at(99, 100, 0.0, long) == (0.99, 1.0, 2.0 * 0.99)
    budget = TrainConfig(lr=1.0, schedule="cosine", lr_min_ratio=0.1, lr_warmup_steps=500, warmup_steps=500,
                         max_minutes=1.0)
    assert values_at(30, 10_000, 60.0, budget) == (1.0, 0.1, 1.0)  # the budget's end, whatever the step


class FakeClock:
    """loop.time for a test: perf_counter reads a clock that only the (slowed) training step moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


def slowed(monkeypatch, seconds: float) -> None:
    """Every training step takes `seconds` by the loop's clock; validation and the rest take none."""
    clock, step = FakeClock(), loop.Trainer.train_step

    def slow_step(self, *args, **kw):
        out = step(self, *args, **kw)
        clock.now += seconds
        return out

    monkeypatch.setattr(loop, "time", clock)
    monkeypatch.setattr(loop.Trainer, "train_step", slow_step)


def small_config(**train: object) -> Config:
    """tiny_config on 480 training images: 15 steps an epoch."""
    cfg = tiny_config(**train)
    cfg.data.subset = 600
    return cfg


def test_a_budget_ends_the_run_with_its_schedules_completed(tmp_path, monkeypatch):
    # 1 s a step and a 36-second budget: the budget ends at step 36, in epoch 3 (15 steps an epoch), of an
    # epoch-based schedule of 50 epochs, 750 steps, which the step count alone would have cut at 6%
    slowed(monkeypatch, 1.0)
    kw = {"epochs": 50, "schedule": "cosine", "lr_min_ratio": 0.1, "lr_warmup_steps": 10, "warmup_steps": 5000,
          "log_every": 1}
    run = vaekit.train(small_config(max_minutes=0.6, **kw), out=tmp_path / "budget")
    records = read_metrics(run.dir / "metrics.jsonl")
    epochs = [r for r in records if r["kind"] == "epoch"]
    steps = {r["step"]: r for r in records if r["kind"] == "step"}  # record k: the step of index k - 1
    assert [r["epoch"] for r in epochs] == [1, 2, 3] and epochs[-1]["step"] == 45
    assert epochs[-1]["wall_seconds"] == 45.0
    assert epochs[-1]["lr"] == 5e-3 * 0.1  # the cosine's end, exactly
    assert steps[45]["beta"] == steps[38]["beta"] == 1.0  # the 5,000-step KL warm-up is complete
    assert steps[19]["beta"] == 0.5  # before, it kept pace with the budget
    # step k ran at progress k / 36 once its 10-step warm-up was over: the cosine over the budget
    assert steps[19]["lr"] == pytest.approx(5e-3 * 0.55, rel=1e-12)
    assert steps[5]["lr"] == 5e-3 * 5 / 10  # in the warm-up, below the decay


def test_without_a_budget_the_clock_does_not_move_the_schedules(tmp_path, monkeypatch):
    slowed(monkeypatch, 1.0)
    kw = {"epochs": 3, "schedule": "cosine", "lr_min_ratio": 0.1, "lr_warmup_steps": 10, "warmup_steps": 5000}
    run = vaekit.train(small_config(**kw), out=tmp_path / "steps")
    epochs = [r for r in read_metrics(run.dir / "metrics.jsonl") if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    # the step count alone: the last of 45 steps, 34 of the 35 after the warm-up
    assert epochs[-1]["step"] == 45 and epochs[-1]["wall_seconds"] == 45.0
    assert epochs[-1]["lr"] == 5e-3 * (0.1 + (1 - 0.1) * 0.5 * (1 + math.cos(math.pi * (34 / 35))))
