"""The training loop: it learns, it resumes exactly, it saves and loads bit for bit, it guards NaNs."""

from __future__ import annotations

import pytest
import torch

import vaekit
from tests.conftest import tiny_config
from vaekit.data import TensorData
from vaekit.errors import CheckpointError, TrainingError
from vaekit.runs.metrics import NullLog, read_metrics
from vaekit.training import loop, step


def epochs_of(run_dir) -> list[dict]:
    return [r for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "epoch"]


def test_short_run_lowers_the_loss(tmp_path):
    # 4 epochs of 1,200 16x16 sprites: the validation ELBO rises by over 10 nats from the initial model
    # (measured 16 nats: -32.9 -> -16.9), and the last epoch is better than the first.
    run = vaekit.train(tiny_config(epochs=4), out=tmp_path / "run")
    ep = epochs_of(run.dir)
    init = next(r for r in read_metrics(run.dir / "metrics.jsonl") if r["kind"] == "init")
    assert len(ep) == 4
    assert ep[-1]["val_elbo"] > init["val_elbo"] + 10.0
    assert ep[-1]["val_elbo"] > ep[0]["val_elbo"]
    assert ep[-1]["train_elbo"] > ep[0]["train_elbo"]
    for r in ep:
        assert r["val_elbo"] == pytest.approx(-(r["val_rate"] + r["val_distortion"]), rel=1e-6)
        assert r["images_per_s"] > 0 and r["train_seconds"] > 0 and r["skipped_steps"] == 0
    for name in ("samples.png", "reconstructions.png", "samples/epoch_0004.png", "recon/epoch_0001.npy",
                 "checkpoints/best.safetensors", "checkpoints/last-optim.pt", "config.json"):
        assert (run.dir / name).exists(), name


def test_resume_gives_the_same_metrics_and_weights(tmp_path):
    full = vaekit.train(tiny_config(epochs=2, ema=0.9), out=tmp_path / "full")
    part = vaekit.train(tiny_config(epochs=1, ema=0.9), out=tmp_path / "part")
    resumed = vaekit.train(tiny_config(epochs=2, ema=0.9), resume=part.dir)
    a, b = epochs_of(full.dir), epochs_of(resumed.dir)
    keys = ("step", "train_elbo", "train_rate", "val_elbo", "val_rate", "val_distortion", "lr")
    assert [{k: r[k] for k in keys} for r in a] == [{k: r[k] for k in keys} for r in b]
    def steps(d):
        return [(r["step"], r["loss"]) for r in read_metrics(d / "metrics.jsonl") if r["kind"] == "step"]
    assert steps(full.dir) == steps(resumed.dir)
    for name in ("last.safetensors", "last-ema.safetensors"):  # raw and EMA weights, bit for bit
        assert (full.dir / "checkpoints" / name).read_bytes() == (resumed.dir / "checkpoints" / name).read_bytes()


def test_save_load_round_trip_is_bit_exact(tmp_path):
    run = vaekit.train(tiny_config(epochs=1), out=tmp_path / "run")
    loaded = vaekit.load(run.dir)
    x = torch.rand(8, 1, 16, 16)
    z = torch.randn(8, 4)
    q1, q2 = run.model.encode(x), loaded.encode(x)
    assert torch.equal(q1.mean, q2.mean) and torch.equal(q1.logvar, q2.logvar)
    assert torch.equal(run.model.decode(z), loaded.decode(z))
    def g():
        return torch.Generator().manual_seed(3)
    assert torch.equal(run.model.sample(5, generator=g()), loaded.sample(5, generator=g()))


def test_ema_weights_are_evaluated_and_saved(tmp_path):
    run = vaekit.train(tiny_config(epochs=1, ema=0.99), out=tmp_path / "run")
    raw = vaekit.load(run.dir, "last")  # eval weights of the last epoch = the EMA copy
    from vaekit.model import build_model
    from vaekit.runs.checkpoint import load_weights

    plain = build_model(run.config.model, run.event_shape)
    load_weights(run.dir / "checkpoints" / "last.safetensors", plain)
    diffs = [float((a - b).detach().abs().max()) for a, b in zip(raw.parameters(), plain.parameters(), strict=True)]
    assert max(diffs) > 1e-4  # the EMA copy lags the raw weights


def test_ema_after_each_step_is_the_lerp_of_the_previous_ema_and_the_new_weights(tmp_path):
    # EMA_t = d EMA_{t-1} + (1 - d) θ_t, for every tensor, after every optimizer step
    trainer = loop.Trainer(tiny_config(ema=0.9), tmp_path / "run")
    x = trainer.train_data.x[:32]
    for _ in range(2):
        before = [p.detach().clone() for p in trainer.ema.parameters()]
        assert trainer.train_step(x) is not None
        for e, b, p in zip(trainer.ema.parameters(), before, trainer.model.parameters(), strict=True):
            torch.testing.assert_close(e, 0.9 * b + 0.1 * p, rtol=1e-6, atol=1e-7)
    pairs = zip(trainer.ema.parameters(), trainer.model.parameters(), strict=True)
    # the steps moved the weights away from their average, so the check above is not 0 == 0
    assert max(float((e - p).abs().max()) for e, p in pairs) > 1e-4


def test_nonfinite_steps_are_skipped_counted_and_bounded(tmp_path, monkeypatch):
    real = step.objective
    calls = {"n": 0}

    def flaky(cfg, model, x, beta, y=None):
        loss, *terms = real(cfg, model, x, beta, y)
        calls["n"] += 1
        if calls["n"] % 7 == 0:  # every 7th step: a NaN loss
            loss = loss * float("nan")
        return (loss, *terms)

    monkeypatch.setattr(step, "objective", flaky)
    run = vaekit.train(tiny_config(epochs=1), out=tmp_path / "run")
    ep = epochs_of(run.dir)[0]
    n_steps = ep["step"]
    assert ep["skipped_steps"] == n_steps // 7
    weights = torch.cat([p.flatten() for p in run.model.parameters()])
    assert torch.isfinite(weights).all()

    # Always NaN: training stops after max_nonfinite in a row, with a clear error, keeping epoch 1's checkpoint.
    def always_nan(*a):
        loss, *terms = real(*a)
        return (loss * float("nan"), *terms)

    monkeypatch.setattr(step, "objective", always_nan)
    with pytest.raises(TrainingError, match="non-finite steps in a row"):
        vaekit.train(tiny_config(epochs=2, max_nonfinite=3), resume=run.dir)
    assert vaekit.load(run.dir, "last") is not None


def test_corrupted_checkpoint_is_refused(tmp_path):
    run = vaekit.train(tiny_config(epochs=1), out=tmp_path / "run")
    f = run.dir / "checkpoints" / "last.safetensors"
    data = bytearray(f.read_bytes())
    data[-10] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted"):
        vaekit.train(tiny_config(epochs=2), resume=run.dir)


def test_pickled_optimizer_payload_is_refused(tmp_path):
    import pickle

    from vaekit.runs.checkpoint import load_optimizer

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "opt.pt"
    with open(path, "wb") as fh:
        pickle.dump({"state": {}, "param_groups": [], "x": Evil()}, fh)
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        load_optimizer(path, opt)


def test_refuses_to_overwrite_a_run_or_resume_with_another_model(tmp_path):
    from vaekit.errors import ConfigError

    run = vaekit.train(tiny_config(epochs=1), out=tmp_path / "run")
    with pytest.raises(ConfigError, match="already holds a run"):
        vaekit.train(tiny_config(epochs=1), out=run.dir)
    other = tiny_config(epochs=2)
    other.model.latent_dim = 5
    with pytest.raises(ConfigError, match=r"model\.latent_dim"):
        vaekit.train(other, resume=run.dir)


def test_compiled_step_trains_as_the_eager_one(tmp_path):
    # The compiled step (vaekit.training.step) draws ε with torch's own randn (inductor's fallback_random),
    # in the same order as the eager objective: the two runs differ only by the rounding of fused kernels.
    # Measured: the logged losses and val ELBOs agree to 4 decimals over 2 epochs.
    eager = vaekit.train(tiny_config(epochs=2), out=tmp_path / "eager")
    compiled = vaekit.train(tiny_config(epochs=2, compile=True), out=tmp_path / "compiled")
    def losses(d):
        return [r["loss"] for r in read_metrics(d / "metrics.jsonl") if r["kind"] == "step"]
    assert losses(compiled.dir) == pytest.approx(losses(eager.dir), rel=1e-3)
    a, b = epochs_of(eager.dir)[-1]["val_elbo"], epochs_of(compiled.dir)[-1]["val_elbo"]
    assert abs(a - b) < 0.05, (a, b)


def test_an_epoch_of_drawn_batches_takes_the_steps_of_binarized_ones(tmp_path):
    # One process with --compile: dynamically binarized batches come as DrawnBatches, which the compiled
    # step draws in its graph and the last, smaller batch by binarized(). Against the plain step's batches:
    # the same draws, so the same 0s and 1s, and the same steps
    weights, kinds = [], []
    for name in ("drawn", "plain"):
        trainer = loop.Trainer(tiny_config(compile=True), tmp_path / name)
        n = len(trainer.train_data)
        assert n % 32 != 0  # a last, smaller batch: the plain path
        gray = torch.rand((n, *trainer.train_data.event_shape), generator=torch.Generator().manual_seed(0))
        trainer.train_data = TensorData(gray, binarize="dynamic")
        step = trainer.step
        if name == "plain":
            step.batches = step.plain.batches  # binarized tensors, as the plain step takes them
        first = next(iter(step.batches(trainer.train_data, 32, torch.Generator().manual_seed(0))))[0]
        kinds.append(type(first).__name__)
        trainer.run_epoch(1, NullLog())
        assert step.gradients.fn is not None  # compiled, no fallback
        weights.append([p.detach() for p in trainer.params])
    assert kinds == ["DrawnBatch", "Tensor"]
    for a, b in zip(*weights, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_bf16_autocast_trains_and_keeps_densities_in_float32(tmp_path):
    run = vaekit.train(tiny_config(epochs=4, precision="bf16"), out=tmp_path / "run")
    init = next(r for r in read_metrics(run.dir / "metrics.jsonl") if r["kind"] == "init")
    assert epochs_of(run.dir)[-1]["val_elbo"] > init["val_elbo"] + 10.0  # as the float32 run does (16 nats)
    x = torch.rand(4, 1, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = run.model(x)
    assert out.px.logits.dtype == torch.float32 and out.q.mean.dtype == torch.float32


def test_max_minutes_stops_after_the_epoch_that_spends_the_budget(tmp_path):
    run = vaekit.train(tiny_config(epochs=50, max_minutes=1e-6), out=tmp_path / "run")
    ep = epochs_of(run.dir)
    assert len(ep) == 1 and ep[0]["wall_seconds"] > 0


def test_selection_score_is_the_trained_objective():
    # the ELBO prefers the second record (-7 > -8), a beta = 0.1 objective the first (-2.8 > -6.1)
    first = {"val_elbo": -10.0, "val_rate": 8.0, "val_distortion": 2.0}
    second = {"val_elbo": -7.0, "val_rate": 1.0, "val_distortion": 6.0}
    assert loop.selection_score(first, 1.0) == -10.0 and loop.selection_score(second, 1.0) == -7.0
    assert loop.selection_score(first, 0.1) == pytest.approx(-2.8)
    assert loop.selection_score(second, 0.1) == pytest.approx(-6.1)
    assert loop.selection_score({**first, "val_log_likelihood": -5.0}, 0.1) == -5.0  # --eval-k: log p(x)


def test_a_beta_vae_keeps_its_best_validation_objective(tmp_path):
    cfg = tiny_config(epochs=3, beta=0.05)
    trainer = loop.Trainer(cfg, tmp_path / "run")
    trainer.open(resume=False)
    trainer.fit()
    scores = [-(r["val_distortion"] + 0.05 * r["val_rate"]) for r in epochs_of(tmp_path / "run")]
    assert len(scores) == 3
    assert trainer.state.best_val == pytest.approx(max(scores), rel=1e-9)
