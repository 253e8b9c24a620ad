"""The fast training step (vaekit.fast): its gradients are autograd's, its Adam update is `opt.step()`'s bit for bit,
and the Trainer's compiled step guards non-finite steps and falls back to the plain path."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.conftest import tiny_config
from vaekit.config import ModelConfig, TrainConfig
from vaekit.fast.adam import AdamUpdate
from vaekit.fast.compiling import CompiledOrEager, sampling_options
from vaekit.fast.drawn import DrawnBatch
from vaekit.fast.functional import FunctionalGradients
from vaekit.model import build_model
from vaekit.training import loop
from vaekit.training.distributed import DistEnv
from vaekit.training.optim import make_optimizer
from vaekit.training.step import ObjectiveModule, PlainStep


def tiny_objective(hierarchical: bool = False, **train: object) -> tuple[ObjectiveModule, list[nn.Parameter]]:
    cfg = tiny_config(**train)
    if hierarchical:  # the top-down VampPrior hierarchy of the likelihood presets
        cfg.model = ModelConfig(hidden=[16], latent_dim=4, latent_layers=[2], layer_hidden=[8], inference="top_down",
                                prior="vamp", prior_components=3)
    torch.manual_seed(0)
    model = build_model(cfg.model, (1, 16, 16), data=torch.rand(3, 1, 16, 16))
    return ObjectiveModule(cfg, model), [p for p in model.parameters() if p.requires_grad]


def autograd_grads(module: ObjectiveModule, params: list[nn.Parameter], x: torch.Tensor, seed: int
                   ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    torch.manual_seed(seed)  # the same ε as the functional call that follows the same seed
    loss = module(x, torch.tensor(1.0))[0]
    return loss.detach(), list(torch.autograd.grad(loss, params))


@pytest.mark.parametrize("hierarchical", [False, True])
def test_functional_gradients_are_autograds(hierarchical):
    module, params = tiny_objective(hierarchical)
    x = (torch.rand(8, 1, 16, 16) < 0.3).float()
    loss, want = autograd_grads(module, params, x, seed=5)
    torch.manual_seed(5)
    out, grads, ok = FunctionalGradients(module, params, compile=False)(x, torch.tensor(1.0))
    assert bool(ok) and torch.equal(out[0], loss)
    assert len(grads) == len(want) == len(params)
    for g, w in zip(grads, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)
    assert max(float(w.abs().max()) for w in want) > 1e-2  # the comparison is not 0 == 0


def test_clipping_scales_the_gradients_to_the_clip_norm_as_clip_grad_norm_does():
    module, params = tiny_objective()
    x = (torch.rand(8, 1, 16, 16) < 0.3).float()
    _, want = autograd_grads(module, params, x, seed=2)
    norm = float(torch.linalg.vector_norm(torch.cat([w.flatten() for w in want])))
    assert norm > 1.0  # so a clip at 1.0 bites
    torch.manual_seed(2)
    _, grads, _ = FunctionalGradients(module, params, clip=1.0, compile=False)(x, torch.tensor(1.0))
    for g, w in zip(grads, want, strict=True):
        torch.testing.assert_close(g, w / (norm + 1e-6), rtol=1e-5, atol=1e-7)
    clipped = float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])))
    assert clipped == pytest.approx(1.0, rel=1e-5)


def test_a_nan_batch_is_reported_not_finite():
    module, params = tiny_objective()
    x = torch.rand(8, 1, 16, 16)
    x[3, 0, 2, 2] = float("nan")
    _, _, ok = FunctionalGradients(module, params, compile=False)(x, torch.tensor(1.0))
    assert not bool(ok)


def test_eval_mode_takes_the_plain_path():
    module, params = tiny_objective()
    module.model.eval()  # the model inside the wrapper, as the loop's validation does
    assert FunctionalGradients(module, params, compile=False)(torch.rand(4, 1, 16, 16), torch.tensor(1.0)) is None


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])  # Adam, and AdamW with its two parameter groups
def test_adam_update_is_opt_step_bit_for_bit_across_a_state_dict_round_trip(weight_decay, tmp_path):
    def fresh():
        module, params = tiny_objective(hierarchical=True)
        t = TrainConfig(lr=3e-3, weight_decay=weight_decay)
        return params, make_optimizer(module.model, t, torch.device("cpu"))

    (pa, oa), (pb, ob) = fresh(), fresh()
    update = AdamUpdate(ob, pb)
    gen = torch.Generator().manual_seed(0)
    # step 1 creates the state through opt.step(); 2-3 call the kernel; then a save and load, as --resume
    # does, replaces the state tensors: step 4 goes through opt.step() again and 5-6 repack the counters
    for k in range(6):
        if k == 3:
            torch.save(ob.state_dict(), tmp_path / "optim.pt")
            ob.load_state_dict(torch.load(tmp_path / "optim.pt", weights_only=True))
        grads = [torch.randn(p.shape, generator=gen) for p in pa]
        for p, g in zip(pa, grads, strict=True):
            p.grad = g.clone()
        oa.step()
        with torch.no_grad():
            update([g.clone() for g in grads])
    for a, b in zip(pa, pb, strict=True):
        assert torch.equal(a, b)
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(oa.state[a][key], ob.state[b][key])
        assert float(ob.state[b]["step"]) == 6.0
    assert update._packed() and all(p.grad is None for p in pb)


def compiled_trainer(tmp_path) -> loop.Trainer:
    trainer = loop.Trainer(tiny_config(compile=True), tmp_path / "run")
    trainer.model.train()
    return trainer


def test_compiled_step_trains_guards_nan_and_keeps_the_weights(tmp_path):
    trainer = compiled_trainer(tmp_path)
    x = trainer.train_data.x[:32]
    losses = [float(trainer.train_step(x).loss) for _ in range(40)]
    assert trainer.step.gradients.fn is not None  # compiled, and no fallback happened
    # 40 steps on one batch: 32.9 -> 20.6 when written (the plain eager path: 33.0 -> 20.0)
    assert sum(losses[-3:]) / 3 < losses[0] - 8.0
    before = [p.detach().clone() for p in trainer.params]
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    assert trainer.train_step(bad) is None
    assert trainer.state.skipped == 1 and trainer.state.nonfinite_in_row == 1
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.params, strict=True))
    assert trainer.train_step(x) is not None and trainer.state.nonfinite_in_row == 0


def test_the_compiled_plain_path_draws_the_eager_paths_eps(tmp_path):
    # DDP's steps and an epoch's last, smaller batch go through the compiled objective and autograd; it
    # draws ε with torch's randn in the eager order (sampling_options), so both paths take the same step
    eager = loop.Trainer(tiny_config(compile=False), tmp_path / "eager")
    plain = loop.Trainer(tiny_config(compile=True), tmp_path / "plain")
    plain.model.load_state_dict(eager.model.state_dict())
    compiled = CompiledOrEager(ObjectiveModule(plain.cfg, plain.model), options=sampling_options())
    plain.step = PlainStep(ObjectiveModule(plain.cfg, plain.model), plain.params, plain.opt, 0.0, DistEnv(),
                           torch.device("cpu"), compiled, full=32)  # as under DDP
    x = eager.train_data.x[:32]
    for trainer in (eager, plain):
        trainer.model.train()
        torch.manual_seed(3)
        trainer.train_step(x)
    assert compiled.fn is not None  # compiled, and no fallback happened
    for a, b in zip(eager.params, plain.params, strict=True):
        # measured: 3e-7 apart at most; with inductor's own Philox draws 0.01, two steps of lr apart (Adam's
        # first step moves each weight by ±lr, and other draws turned some gradients' signs)
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_two_compiled_steps_of_the_same_shapes_keep_their_own_graphs():
    # the graphs keep only tensor guards: a second instance must not run the first one's (unclipped) graph
    module, params = tiny_objective()
    x = (torch.rand(8, 1, 16, 16) < 0.3).float()
    results = []
    for clip in (0.0, 1e-3):
        torch.manual_seed(4)
        results.append(FunctionalGradients(module, params, clip=clip)(x, torch.tensor(1.0))[1])
    norms = [float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads]))) for grads in results]
    assert norms[0] > 1.0 and norms[1] == pytest.approx(1e-3, rel=1e-4)


def test_a_failed_compilation_warns_and_trains_by_backward(tmp_path, monkeypatch):
    trainer = compiled_trainer(tmp_path)

    def broken(*args):
        raise RuntimeError("no C++ compiler")

    trainer.step.gradients.fn = broken
    x = trainer.train_data.x[:32]
    with pytest.warns(UserWarning, match="training step failed.*loss.backward"):
        assert trainer.train_step(x) is not None
    assert trainer.step.gradients.fn is None
    assert trainer.train_step(x) is not None  # and on, silently


def test_a_batch_of_another_size_gets_its_own_graph_with_the_eager_results():
    module, params = tiny_objective()
    x, beta = (torch.rand(8, 1, 16, 16) < 0.3).float(), torch.tensor(1.0)
    compiled = FunctionalGradients(module, params)
    for n in (8, 4):
        torch.manual_seed(6)
        _, got, _ = compiled(x[:n], beta)
        torch.manual_seed(6)
        _, want, _ = FunctionalGradients(module, params, compile=False)(x[:n], beta)
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert compiled.fn is not None  # compiled both times, no fallback


def test_a_drawn_batch_is_drawn_inside_the_graph_as_binarized_draws_it():
    module, params = tiny_objective()
    source = torch.rand(40, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    batch = DrawnBatch(source, torch.randperm(40)[:8], torch.tensor(12345), torch.tensor(256 * 3))
    step = FunctionalGradients(module, params)
    results = []
    for x in (batch, batch.binarized()):
        torch.manual_seed(4)
        results.append(torch.utils._pytree.tree_leaves(step(x, torch.tensor(1.0))))
    assert step.fn is not None  # compiled, no fallback
    # the pixels are the same 0s and 1s, so the loss, the gradients and the norm are too
    assert all(torch.equal(a, b) for a, b in zip(*results, strict=True))
