"""Aggressive inference-network training (vaekit.training.aggressive): one-part updates touch one part only, the
inner loop stops by He et al.'s rule and never passes its cap, the mode ends after an epoch whose validation
I(x; z) did not rise and stays off across --resume, short image and sentence runs train, bad configs are refused."""

from __future__ import annotations

import math

import pytest
import torch

import vaekit
from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.errors import ConfigError
from vaekit.model import build_model
from vaekit.objectives import Terms
from vaekit.runs.metrics import read_metrics
from vaekit.training import aggressive, loop
from vaekit.training.aggressive import AggressiveStep, AggressiveTraining, Plateau, split_parameters
from vaekit.training.distributed import DistEnv


def tiny(subset: int = 400, **train: object) -> Config:
    """Shapes at 16x16 and a small MLP, aggressive; one thread (two shared cores: more only wait)."""
    t = {"epochs": 2, "batch_size": 32, "lr": 5e-3, "progress": False, "compile": False, "grid": 16, "log_every": 5,
         "report": False, "threads": 1, "aggressive": True, **train}
    return Config(data=DataConfig(dataset="shapes", image_size=16, subset=subset),
                  model=ModelConfig(hidden=[64], latent_dim=4), train=TrainConfig(**t))


def epochs_of(run_dir) -> list[dict]:
    return [r for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "epoch"]


def snapshot(params) -> list[torch.Tensor]:
    return [p.detach().clone() for p in params]


def test_the_encoder_is_the_inference_network_and_the_decoder_everything_else():
    model = build_model(ModelConfig(hidden=[16], latent_dim=3), (1, 4, 4))
    enc, dec = split_parameters(model)
    assert {id(p) for p in enc} == {id(p) for p in model.encoder.parameters()}
    assert len(enc) + len(dec) == len(list(model.parameters())) and not {id(p) for p in enc} & {id(p) for p in dec}
    # a top-down hierarchy: its bottom-up path and merges are q's, the top-down p(z_l|z_{l+1}) are p's
    deep = build_model(ModelConfig(hidden=[16], latent_dim=4, latent_layers=[2], layer_hidden=[8],
                                   inference="top_down"), (1, 4, 4))
    enc, dec = map(lambda ps: {id(p) for p in ps}, split_parameters(deep))
    for name, side in (("encoder", enc), ("up", enc), ("merge", enc), ("down", dec), ("decoder", dec)):
        assert {id(p) for p in getattr(deep, name).parameters()} <= side, name


@pytest.mark.parametrize("part", ["encoder", "decoder"])
def test_a_one_part_update_changes_that_part_and_leaves_the_other_bit_identical(tmp_path, part):
    trainer = loop.Trainer(tiny(), tmp_path / "run")
    step, beta = trainer.aggressive.step, torch.tensor(1.0)
    x = trainer.train_data.x[:32].bernoulli(generator=torch.Generator().manual_seed(0))
    step.plain(x, None, beta)  # a step of both: every parameter has Adam moments
    moving, still = (step.encoder, step.decoder) if part == "encoder" else (step.decoder, step.encoder)
    before_moving, before_still = snapshot(moving), snapshot(still)
    moments = [snapshot(trainer.opt.state[p][k] for p in still) for k in ("exp_avg", "exp_avg_sq", "step")]
    terms, ok = step.update(moving, x, None, beta)
    assert ok and math.isfinite(float(terms.loss.detach()))
    assert all(torch.equal(a, p) for a, p in zip(before_still, still, strict=True))
    assert all(not torch.equal(a, p) for a, p in zip(before_moving, moving, strict=True))  # every tensor moved
    for k, saved in zip(("exp_avg", "exp_avg_sq", "step"), moments, strict=True):  # Adam skipped the frozen part
        assert all(torch.equal(a, trainer.opt.state[p][k]) for a, p in zip(saved, still, strict=True)), k
    assert all(p.requires_grad for p in trainer.model.parameters())  # unfrozen afterwards


def feed(plateau: Plateau, losses: list[float], elements: list[float] | None = None) -> int:
    """Steps taken before `plateau` stops, each step's loss from `losses`."""
    for i, loss in enumerate(losses):
        if not plateau.more(loss, 1.0 if elements is None else elements[i]):
            return i + 1
    raise AssertionError("the rule did not stop")


def test_the_inner_loop_stops_when_the_windowed_loss_stops_falling():
    falling = [100.0 - i for i in range(500)]
    assert feed(Plateau(10, 100), falling) == 100  # never past the cap
    assert feed(Plateau(10, 37), falling) == 37
    assert feed(Plateau(10, 100), [5.0] * 500) == 20  # the first comparison: equal is not an improvement
    # falls for 25 steps, then rises: windows 1-10, 11-20 fall, 21-30 averages 5.5 > 4.5
    assert feed(Plateau(10, 100), [30.0 - i for i in range(25)] + [50.0] * 100) == 30
    # per element, as He et al. per word: the totals rise, but over twice the elements they fall
    assert feed(Plateau(2, 100), [10.0, 10.0, 15.0, 15.0, 15.0, 15.0],
                [1.0, 1.0, 2.0, 2.0, 2.0, 2.0]) == 6


class ScriptedStep:
    """A stand-in plain step whose losses follow a script (inf: a non-finite, skipped step)."""

    def __init__(self, losses: list[float]) -> None:
        self.losses, self.calls = iter(losses), 0

    def batches(self, data, batch_size, generator):
        for _ in range(3):
            yield torch.zeros(4, 2), None

    def __call__(self, x, y, beta):
        self.calls += 1
        loss = torch.tensor(next(self.losses))
        return Terms(elbo=-loss.expand(4), rate=loss.expand(4), distortion=loss.expand(4), loss=loss), bool(
            torch.isfinite(loss))


@pytest.mark.parametrize(("losses", "taken", "skipped"), [
    ([100.0 - 0.1 * i for i in range(1000)], 100, 0),   # always improving: the cap
    ([7.0] * 1000, 20, 0),                               # flat: the first comparison ends it
    ([7.0, 6.0, 5.0, math.inf] + [1.0] * 1000, 4, 1),   # a non-finite step ends it at once
])
def test_the_inner_loop_of_an_outer_step_follows_the_rule(losses, taken, skipped):
    plain = ScriptedStep(losses)
    step = AggressiveStep(plain, [torch.nn.Parameter(torch.zeros(1))], [torch.nn.Parameter(torch.zeros(1))], False)
    batches = step.batches(None, 4, torch.Generator().manual_seed(0))
    x, y = next(batches)
    terms, ok = step(x, y, torch.tensor(1.0))
    assert (step.inner_steps, step.inner_skipped, plain.calls) == (taken, skipped, taken + 1)
    assert ok and float(terms.loss) == losses[taken]  # then the decoder's update, on the epoch's batch


def scripted_information(monkeypatch, values: list[float]) -> list[int]:
    """validation I(x; z) taken from `values` in turn; returns the list of calls made."""
    calls: list[int] = []

    def fake(model, data, *, seed=0):
        calls.append(seed)
        return values[len(calls) - 1]

    monkeypatch.setattr(aggressive, "validation_information", fake)
    return calls


def test_the_mode_ends_after_an_epoch_whose_information_fell_and_stays_off_after_resume(tmp_path, monkeypatch):
    values = [1.0, 0.5, 2.0]  # rises (from -inf), falls: the mode ends after epoch 2; rising again does not restart it
    calls = scripted_information(monkeypatch, values)
    full = vaekit.train(tiny(epochs=3), out=tmp_path / "full")
    ep = epochs_of(full.dir)
    assert [r["aggressive"] for r in ep] == [True, True, False]
    assert [r["val_mutual_information"] for r in ep] == values
    steps = [r["step"] for r in ep]
    for r, outer in zip(ep[:2], (steps[0], steps[1] - steps[0]), strict=True):
        assert 20 * outer <= r["inner_steps"] <= 100 * outer and r["inner_steps"] % 10 == 0
    assert ep[2]["inner_steps"] == 0 and steps[2] - steps[1] == steps[0]  # ordinary steps: one per batch
    calls.clear()
    part = vaekit.train(tiny(epochs=2), out=tmp_path / "part")
    calls.clear()
    values[:] = [2.0]  # the resumed run's one validation: epoch 3's
    resumed = vaekit.train(tiny(epochs=3), resume=part.dir)
    a, b = epochs_of(full.dir), epochs_of(resumed.dir)
    keys = ("step", "aggressive", "inner_steps", "train_elbo", "val_elbo", "val_mutual_information")
    assert [{k: r[k] for k in keys} for r in a] == [{k: r[k] for k in keys} for r in b]
    assert ((full.dir / "checkpoints" / "last.safetensors").read_bytes()
            == (resumed.dir / "checkpoints" / "last.safetensors").read_bytes())


def test_a_short_aggressive_run_on_images_lowers_the_loss(tmp_path):
    # 2 aggressive epochs of 1,500 16x16 sprites: the validation ELBO rises by over 15 nats from the initial
    # model (measured 21: -41.9 -> -20.7), and I(x; z) climbs (measured 3.70 -> 4.16 nats, of at most log 150 = 5.0)
    run = vaekit.train(tiny(subset=1500), out=tmp_path / "run")
    ep = epochs_of(run.dir)
    init = next(r for r in read_metrics(run.dir / "metrics.jsonl") if r["kind"] == "init")
    assert ep[-1]["val_elbo"] > init["val_elbo"] + 15.0
    assert ep[-1]["train_elbo"] > ep[0]["train_elbo"]
    assert all(r["aggressive"] and r["inner_steps"] >= 20 * 38 and r["skipped_steps"] == 0 for r in ep)
    assert 1.0 < ep[0]["val_mutual_information"] < ep[1]["val_mutual_information"] < math.log(150)


def test_a_budget_ends_an_aggressive_epoch_when_it_is_spent(tmp_path):
    # 1,200 training sprites are 38 outer steps an epoch, each after 20-100 encoder steps. A budget of 0.3 s
    # ends the first epoch a few outer steps in, and the run with it (its schedules are at their end)
    run = vaekit.train(tiny(subset=1500, epochs=5, max_minutes=0.005), out=tmp_path / "run")
    ep = epochs_of(run.dir)
    assert len(ep) == 1 and ep[0]["aggressive"]
    assert 1 <= ep[0]["step"] < 38 and ep[0]["inner_steps"] >= 20 * ep[0]["step"]
    assert math.isfinite(ep[0]["val_elbo"])


def test_a_tiny_sentence_run_trains_with_aggressive(tmp_path):
    # 300 text-shapes sentences (8 batches an epoch), 2 aggressive epochs at lr 1e-2: the validation ELBO rises
    # by over 2 nats (measured 3.0: -45.17 -> -42.15)
    cfg = Config(data=DataConfig(dataset="text-shapes", subset=300),
                 model=ModelConfig(embed_dim=8, rnn_hidden=16, latent_dim=4),
                 train=TrainConfig(epochs=2, batch_size=32, lr=1e-2, progress=False, report=False, threads=1,
                                   aggressive=True))
    run = vaekit.train(cfg, out=tmp_path / "run")
    ep = [r for r in run.metrics if r["kind"] == "epoch"]
    init = next(r for r in run.metrics if r["kind"] == "init")
    assert ep[-1]["val_elbo"] > init["val_elbo"] + 2.0
    assert ep[0]["aggressive"] and 20 * ep[0]["step"] <= ep[0]["inner_steps"] <= 100 * ep[0]["step"]
    assert all(math.isfinite(r["val_mutual_information"]) for r in ep)


def test_bad_configurations_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"--aggressive .* --objective iwae"):
        TrainConfig(aggressive=True, objective="iwae")
    with pytest.raises(ConfigError, match="one process"):
        AggressiveTraining(None, None, [], None, 0.0, DistEnv(rank=0, world=2), torch.device("cpu"), False)
    lm = Config(data=DataConfig(dataset="text-shapes", subset=300), model=ModelConfig(arch="lm", embed_dim=8,
                rnn_hidden=16), train=TrainConfig(aggressive=True, progress=False, report=False))
    with pytest.raises(ConfigError, match="no trainable encoder"):
        loop.Trainer(lm, tmp_path / "lm")
