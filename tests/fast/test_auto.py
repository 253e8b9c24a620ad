"""`--compile auto` (vaekit.fast.auto): the decision as a function of the run ahead, the measured eager step,
the compilation's expected cost and speed-up; the step that times, decides, switches and records; and a
tiny run whose decision is eager trains exactly as `--compile off`."""

from __future__ import annotations

import json
import math

import pytest
import torch

import vaekit
from tests.conftest import tiny_config
from vaekit.fast import auto, cache
from vaekit.runs.metrics import read_metrics

REFERENCE_STEP = 0.0075  # s, the reference MNIST MLP's eager step on 2 cores; 391 steps an epoch


@pytest.mark.parametrize("epochs, compiles", [(1, False), (3, False), (10, False), (30, True), (100, True)])
def test_the_reference_model_compiles_for_long_runs_only(epochs, compiles):
    # eager seconds ahead e = epochs * 391 * 7.5 ms; at 1.6x a compiled run saves e * 0.375: 30 epochs 33 s,
    # more than 1.5 x a cold 20 s compilation; 10 epochs 11 s, less
    seconds = epochs * 391 * REFERENCE_STEP
    d = auto.decide(seconds, 20.0, 1.6, epochs_ahead=epochs)
    assert d.compile is compiles
    assert f"{epochs} epochs ahead" in d.reason
    saved = seconds * (1 - 1 / 1.6)
    assert f"saves ~{saved:.0f} s" in d.reason or f"(~{saved:.0f} s at" in d.reason


def test_a_warm_cache_makes_shorter_runs_worth_compiling():
    seconds = 10 * 391 * REFERENCE_STEP  # 29.3 s eager ahead, saves 11 s at 1.6x
    assert not auto.decide(seconds, 20.0, 1.6).compile
    warm = auto.decide(seconds, 5.0, 1.6, cached=True, epochs_ahead=10)
    assert warm.compile and warm.reason.startswith("compiling the training step (~5 s, cached on this machine)")


def test_the_margin_is_the_boundary():
    # saved = 100 * (1 - 1/2) = 50 s against 1.5 * compile cost
    assert auto.decide(100.0, 33.0, 2.0).compile  # 49.5 < 50
    assert not auto.decide(100.0, 34.0, 2.0).compile  # 51 > 50
    assert not auto.decide(1e9, 1.0, 1.0).compile  # no speed-up: never, however long the run
    assert not auto.decide(1e9, 1.0, 0.8).compile
    assert auto.decide(1e9, 1.0, 1.05).compile  # a 5 % gain pays for itself over a long enough run


def test_expected_cost_and_speedup_come_from_the_record():
    assert auto.expected_cost(None) == (auto.COLD_COMPILE_SECONDS, False)
    first = cache.Record(compile_seconds=18.0, compiles=1, eager_step=0.012, compiled_step=0.008)
    cold_share = auto.COLD_COMPILE_SECONDS * auto.WARM_SHARE  # 7 s
    # a first compilation of 18 s was cold: its warm share (6.3 s), but at least a cold one's (7 s)
    assert auto.expected_cost(first) == (pytest.approx(max(18.0 * auto.WARM_SHARE, cold_share)), True)
    assert auto.expected_cost(cache.Record(compile_seconds=40.0)) == (pytest.approx(40.0 * auto.WARM_SHARE), True)
    # one of 3 s was warm already (another run filled inductor's cache): 3 s, not 35 % of it
    assert auto.expected_cost(cache.Record(compile_seconds=3.0)) == (3.0, True)
    assert auto.expected_cost(cache.Record(compile_seconds=4.5, compiles=3)) == (4.5, True)
    assert auto.expected_speedup(first, 1.5) == pytest.approx(1.5)  # 12 ms / 8 ms
    assert auto.expected_speedup(first, 2.0) == pytest.approx(1.5)  # measured below the default: measured
    # measured above the kind's default: the default (two 20-step medians on a shared host are noisy)
    assert auto.expected_speedup(cache.Record(compile_seconds=4.5, eager_step=0.02, compiled_step=0.01), 1.2) == 1.2
    assert auto.expected_speedup(cache.Record(compile_seconds=4.5), 1.2) == 1.2  # not measured: the kind's default


class FakeStep:
    """A step that takes `seconds` (advances a fake clock) and counts its calls."""

    def __init__(self, clock: list[float], seconds: float) -> None:
        self.clock, self.seconds, self.calls = clock, seconds, 0
        self.device = torch.device("cpu")
        self.gradients = type("G", (), {"fn": object()})()
        self.recorder: auto.Recorder | None = None

    def batches(self, data, batch_size, generator):
        yield from data

    def __call__(self, x, y, beta):
        self.calls += 1
        start = self.clock[0]
        self.clock[0] += self.seconds * (200 if self.calls == 1 and self.seconds < 0.01 else 1)
        if self.recorder is not None and not self.recorder.done:  # as FastStep times its calls
            self.recorder.time(self.clock[0] - start, compiled=True)
        return "terms", True

    def made(self, recorder: auto.Recorder | None) -> FakeStep:
        self.recorder = recorder
        return self


def auto_step(monkeypatch, tmp_path, steps_left: int, budget: float = math.inf, record=None):
    clock = [0.0]
    monkeypatch.setattr(auto.time, "perf_counter", lambda: clock[0])
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    key = {"graph": "test"}
    if record is not None:
        cache.write_record(tmp_path, key, record)
    plain, fast = FakeStep(clock, 0.010), FakeStep(clock, 0.005)  # compiled: 2x; its first call: 2 s of compiling
    said: list[str] = []
    step = auto.AutoStep(plain, fast.made, lambda: (steps_left, budget), steps_per_epoch=100, batch_size=4,
                         key=key, default_speedup=1.5, say=said.append)
    return step, plain, fast, said, key


def run(step, n: int) -> None:
    x = torch.zeros(4, 3)
    for _ in range(n):
        step(x, None, torch.tensor(1.0))


def test_a_long_run_is_decided_after_the_timed_steps_and_switches(monkeypatch, tmp_path):
    step, plain, fast, said, key = auto_step(monkeypatch, tmp_path, steps_left=20_000)  # 200 s eager ahead
    run(step, auto.DECIDE_STEPS)
    assert said == [] and step.fast is None
    run(step, 1)  # the decision comes with the last timed step (the first is not timed)
    assert step.fast is fast and plain.calls == auto.DECIDE_STEPS + 1
    assert len(said) == 1 and said[0].startswith("compiling the training step (~20 s, once per machine): 200 epochs")
    run(step, auto.COMPILED_STEPS + 1)
    assert fast.calls == auto.COMPILED_STEPS + 1 and plain.calls == auto.DECIDE_STEPS + 1
    got = cache.read_record(tmp_path, key)  # measured: 2 s compiling (1 s first call less 5 ms), 10 and 5 ms steps
    assert got == cache.Record(compile_seconds=pytest.approx(0.995), compiles=1, eager_step=pytest.approx(0.010),
                               compiled_step=pytest.approx(0.005))


def test_a_short_run_stays_eager_and_a_budget_bounds_the_run_ahead(monkeypatch, tmp_path):
    step, plain, fast, said, _ = auto_step(monkeypatch, tmp_path, steps_left=300)  # 3 s eager ahead
    run(step, 60)
    assert step.fast is None and plain.calls == 60 and fast.calls == 0
    assert said == ["eager: 3 epochs ahead, compiling (~20 s) would cost more than it saves (~1 s at 1.50x)"]
    step, plain, fast, said, _ = auto_step(monkeypatch, tmp_path / "b", steps_left=10**6, budget=30.0)
    run(step, 30)
    assert step.fast is None and said[0].startswith("eager: 30 epochs ahead")  # 30 s of budget, not 10,000 s


def test_measured_numbers_make_the_next_run_compile(monkeypatch, tmp_path):
    # 1,000 steps of 10 ms: 10 s ahead. A cold 20 s: eager. Measured on this machine: 1 s (and 4x, taken
    # as the kind's 1.5x): compile
    record = cache.Record(compile_seconds=1.0, compiles=2, eager_step=0.010, compiled_step=0.0025)
    step, *_, said, _ = auto_step(monkeypatch, tmp_path, steps_left=1000, record=record)
    run(step, auto.DECIDE_STEPS + 1)
    assert step.fast is not None
    assert said == ["compiling the training step (~1 s, cached on this machine): 10 epochs ahead, "
                    "saves ~3 s at 1.50x"]


def test_a_forced_compilation_records_what_it_cost_for_later_auto_runs(monkeypatch, tmp_path):
    # --compile on: no eager steps timed; its record gives the compile cost and the compiled step, and
    # the next auto run takes the kind's default speed-up
    clock = [0.0]
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    recorder = auto.Recorder({"graph": "forced"})
    fast = FakeStep(clock, 0.005).made(recorder)
    run(fast, auto.COMPILED_STEPS + 5)
    got = cache.read_record(tmp_path, {"graph": "forced"})
    assert got == cache.Record(compile_seconds=pytest.approx(0.995), compiles=1, eager_step=None,
                               compiled_step=pytest.approx(0.005))
    assert auto.expected_cost(got) == (pytest.approx(0.995), True)  # as fast as a warm one: taken as warm
    assert auto.expected_speedup(got, 1.5) == 1.5
    # a compilation that failed (the plain step ran instead) measures nothing
    failed = auto.Recorder({"graph": "failed"})
    failed.time(3.0, compiled=False)
    for _ in range(auto.COMPILED_STEPS + 1):
        failed.time(0.01, compiled=True)
    assert failed.done and cache.read_record(tmp_path, {"graph": "failed"}) is None


def test_a_real_forced_run_writes_its_record(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    vaekit.train(tiny_config(epochs=1, compile="on"), out=tmp_path / "run")  # 38 steps, 37 full
    (entry,) = (tmp_path / "records").iterdir()
    record = json.loads(entry.read_text())
    assert record["compiles"] == 1 and record["eager_step"] is None
    assert 0 < record["compiled_step"] < 0.1 < record["compile_seconds"]  # seconds to compile, ms a step
    assert record["key"]["model"]["latent_dim"] == 4


def test_a_first_epoch_shorter_than_the_timed_steps_is_decided_at_the_next_epoch(monkeypatch, tmp_path):
    step, _, _, said, _ = auto_step(monkeypatch, tmp_path, steps_left=50)
    run(step, 4)
    assert said == []
    next(iter(step.batches([("x", None)], 4, torch.Generator())))
    assert len(said) == 1 and said[0].startswith("eager: ")


def test_a_tiny_auto_run_is_the_eager_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(cache.ENV, "off")
    eager = vaekit.train(tiny_config(compile="off"), out=tmp_path / "eager")
    chosen = vaekit.train(tiny_config(compile="auto"), out=tmp_path / "auto")
    # decided in the 21st of the first epoch's 38 steps, 20 done: 56 steps ahead
    assert "eager: 1.47 epochs ahead, compiling (~20 s) would cost more than it saves" in capsys.readouterr().out
    a, b = (read_metrics(r.dir / "metrics.jsonl") for r in (eager, chosen))
    drop = ("train_seconds", "images_per_s", "wall_seconds")
    assert [{k: v for k, v in r.items() if k not in drop} for r in a] == \
           [{k: v for k, v in r.items() if k not in drop} for r in b]
    assert len(a) > 5
    for p, q in zip(eager.model.parameters(), chosen.model.parameters(), strict=True):
        assert torch.equal(p, q)
