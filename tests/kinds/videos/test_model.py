"""The sequential VAE of videos (vaekit.kinds.videos.model): its prior is log p(f) + Σ_t log p(z_t | z_<t), its
analytic KL is an unbiased estimate, the generic objectives and the evaluation serve it unchanged, the frame
baseline factorises over frames, and it trains, compiles and reloads like any vaekit model."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.data import TensorData
from vaekit.distributions.likelihoods import BernoulliHead
from vaekit.errors import ConfigError
from vaekit.kinds.videos import VideoKind
from vaekit.kinds.videos.model import SequentialVAE, build_sequential
from vaekit.kinds.videos.nets import SequencePrior, UnrolledLSTM
from vaekit.latents import Latent
from vaekit.objectives import elbo, iwae_bound, layer_kl

SHAPE = (4, 1, 16, 16)  # T, C, H, W
S, D = 5, 3  # static_dim, latent_dim per frame


def tiny_model(arch: str = "dsae", frames: int = 4, seed: int = 0, **model: object) -> SequentialVAE:
    """A small model with a prior that is not N(0, I): its output layer (zero at the start) drawn afresh."""
    torch.manual_seed(seed)
    cfg = ModelConfig(arch=arch, latent_dim=D, static_dim=S, rnn_hidden=16, channels_base=8, hidden=[32], **model)
    shape = (frames, *SHAPE[1:])
    m = build_sequential(cfg, shape, BernoulliHead(shape))
    if isinstance(m.prior, SequencePrior):
        with torch.no_grad():
            m.prior.head.weight.normal_(0.0, 0.5)
            m.prior.head.bias.normal_(0.0, 0.5)
    return m


def lively(m: SequentialVAE) -> SequentialVAE:
    """At its initial weights every video encodes alike and decodes to ~0.5, which would let a wrong answer pass:
    the encoder's output layers and the decoder's first layer scaled up 20 times."""
    with torch.no_grad():
        for layer in (m.encoder.f_head, m.encoder.z_head, m.decoder.frame_net.head[0]):
            layer.weight.mul_(20)
    return m


def moving_squares(n: int, seed: int = 0, frames: int = 4) -> torch.Tensor:
    """(n, T, 1, 16, 16) binary videos: a 4x4 square stepping by a random (dy, dx) in {-2..2}^2 each frame."""
    gen = torch.Generator().manual_seed(seed)
    start = torch.randint(4, 9, (n, 2), generator=gen)
    step = torch.randint(-2, 3, (n, 2), generator=gen)
    x = torch.zeros(n, frames, 1, 16, 16)
    for i in range(n):
        for t in range(frames):
            r, c = (start[i] + t * step[i]).tolist()
            x[i, t, 0, r:r + 4, c:c + 4] = 1.0
    return x


def videos(n: int = 6, seed: int = 1) -> torch.Tensor:
    return (torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed)) < 0.3).float()


def test_the_unrolled_lstm_is_torchs_lstm():
    torch.manual_seed(0)
    ours, ref = UnrolledLSTM(3, 5), nn.LSTM(3, 5, batch_first=True)
    with torch.no_grad():  # the same gates in the same order (i, f, g, o): W = [W_ih, W_hh], b = b_ih + b_hh
        ours.gates.weight.copy_(torch.cat([ref.weight_ih_l0, ref.weight_hh_l0], 1))
        ours.gates.bias.copy_(ref.bias_ih_l0 + ref.bias_hh_l0)
    x = torch.randn(2, 7, 3)
    out, (h, c) = ours(x)
    want, (h_ref, c_ref) = ref(x)
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h, h_ref[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(c, c_ref[0], rtol=1e-5, atol=1e-6)


def test_the_prior_log_prob_is_log_pf_plus_the_stepwise_conditionals():
    m = tiny_model()
    z = torch.randn(2, 3, m.latent_dim)  # (S, B, S + T D)
    got = m.prior_at(z).log_prob(z)  # (2, 3)
    f, zs = z[..., :S], z[..., S:].reshape(2, 3, 4, D)
    cell = nn.LSTMCell(D, 16)  # an independent LSTM holding the prior's weights
    with torch.no_grad():
        w = m.prior.rnn.gates.weight
        cell.weight_ih.copy_(w[:, :D])
        cell.weight_hh.copy_(w[:, D:])
        cell.bias_ih.copy_(m.prior.rnn.gates.bias)
        cell.bias_hh.zero_()
    want = torch.distributions.Normal(0.0, 1.0).log_prob(f).sum(-1)  # log p(f)
    prev, state = torch.zeros(6, D), None  # z_0 = 0
    for t in range(4):
        state = cell(prev, state)
        mu, logvar = m.prior.head(state[0]).chunk(2, -1)  # (6, D) each
        zt = zs[:, :, t].reshape(6, D)
        want = want + torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(zt).sum(-1).view(2, 3)
        prev = zt
    torch.testing.assert_close(got, want.detach(), rtol=1e-5, atol=1e-4)


def test_the_analytic_kl_averaged_over_draws_is_the_monte_carlo_kl():
    m = tiny_model()
    with torch.no_grad():
        q = m.posterior(videos(2))
        z = q.rsample(20000, generator=torch.Generator().manual_seed(0))  # (N, 2, S + T D)
        layer = Latent(z, q, m.prior_at(z), analytic=True)
        analytic = layer_kl(layer, "analytic").sum(-1)  # (2,)
        per_draw = q.log_prob(z) - layer.p.log_prob(z)  # (N, 2)
    mc, err = per_draw.mean(0), per_draw.std(0) / math.sqrt(len(z))
    # both estimate E_q[log q - log p]; the closed form has the lower variance. Within 4 standard errors
    assert (analytic - mc).abs().max() < 4 * err.max()
    assert float(err.max()) < 0.1 and float(analytic.min()) > 1.0  # a tight comparison of a KL that is not ~0


def test_iwae_with_one_sample_is_the_mc_elbo_and_the_log_likelihood_bounds_the_elbo():
    m = tiny_model()
    x = videos(8)
    with torch.no_grad():
        one = iwae_bound(m, x, 1, generator=torch.Generator().manual_seed(3)).elbo
        est_a = elbo(m, x, kl="mc", generator=torch.Generator().manual_seed(3)).elbo
        torch.testing.assert_close(one, est_a)
        bound = elbo(m, x, samples=50, generator=torch.Generator().manual_seed(4)).elbo  # (8,)
        ll = m.log_likelihood(x, k=200, generator=torch.Generator().manual_seed(5))
    # measured at writing: log p(x) 1.9 nats above the ELBO (-705 nats) on average; seeded draws
    assert float((ll - bound).mean()) > 1.0
    assert torch.isfinite(ll).all()


def test_split_and_join_round_trip_in_the_documented_layout():
    m = tiny_model()
    z = torch.randn(3, 2, m.latent_dim)
    f, zs = m.split_latent(z)
    assert f.shape == (3, 2, S) and zs.shape == (3, 2, 4, D) and m.latent_dim == S + 4 * D
    assert torch.equal(m.join_latent(f, zs), z)
    assert torch.equal(f, z[..., :S]) and torch.equal(zs[..., 2, :], z[..., S + 2 * D:S + 3 * D])


def test_swap_decodes_f_of_the_first_with_the_motion_of_the_second():
    m = lively(tiny_model())
    a, b = videos(3, seed=1), videos(3, seed=2)
    torch.testing.assert_close(m.swap(a, a), m.reconstruct(a))
    swapped = m.swap(a, b)
    f_a, zs_b = m.split_latent(m.encode(a).mean)[0], m.split_latent(m.encode(b).mean)[1]
    torch.testing.assert_close(swapped, m.decode(m.join_latent(f_a, zs_b)))
    # it is neither video's reconstruction: f and z both matter to the decoder
    assert (swapped - m.reconstruct(a)).abs().max() > 1e-3 and (swapped - m.reconstruct(b)).abs().max() > 1e-3


def test_sample_motion_keeps_f_and_draws_z_from_the_prior():
    m = tiny_model()
    f = torch.randn(4000, S)
    z = m.sample_motion(f, torch.Generator().manual_seed(0))
    kept, zs = m.split_latent(z)
    assert torch.equal(kept, f)
    assert not torch.equal(zs, m.split_latent(m.sample_motion(f, torch.Generator().manual_seed(1)))[1])
    # ancestral draws: z_t standardised by p(z_t | z_<t) at the same draw are N(0, 1)
    with torch.no_grad():
        p = m.prior_at(z)
        eps = ((z - p.mean) / p.std)[:, S:]  # (4000, T D)
    assert float(eps.mean().abs()) < 0.02 and abs(float(eps.std()) - 1.0) < 0.02
    assert float(zs.std(0).min()) > 0.05  # and the draws vary


def test_sample_content_keeps_z_and_draws_f_and_prior_sample_draws_both():
    m = tiny_model()
    zs = torch.randn(4000, 4, D)
    z = m.sample_content(zs, torch.Generator().manual_seed(0))
    f, kept = m.split_latent(z)
    assert torch.equal(kept, zs)
    assert float(f.mean().abs()) < 0.03 and abs(float(f.std()) - 1.0) < 0.03  # f ~ N(0, I)
    drawn = m.prior_sample(4000, torch.Generator().manual_seed(2))
    with torch.no_grad():
        p = m.prior_at(drawn)
        eps = (drawn - p.mean) / p.std  # f under N(0, 1), z_t under p(z_t | z_<t): all N(0, 1)
    assert float(eps.mean().abs()) < 0.02 and abs(float(eps.std()) - 1.0) < 0.02


def deterministic_elbo(m: SequentialVAE, x: torch.Tensor) -> torch.Tensor:
    """log p(x | z = E q) - KL(q || p) with the KL in closed form: no draw, so two models can be compared."""
    q = m.posterior(x)
    return m.likelihood(q.mean).log_prob(x) - q.kl_per_dim(m.prior_at(q.mean[None])).sum(-1)[0]


def test_the_frame_model_is_the_sum_of_an_image_vae_over_frames():
    video_model, one = tiny_model("frames"), tiny_model("frames", frames=1, seed=1)
    one.load_state_dict(video_model.state_dict())  # the per-frame networks do not depend on T
    x = videos(3)
    with torch.no_grad():
        total = deterministic_elbo(video_model, x)  # (3,)
        per_frame = torch.stack([deterministic_elbo(one, x[:, t:t + 1]) for t in range(4)]).sum(0)
        torch.testing.assert_close(total, per_frame, rtol=1e-5, atol=1e-3)
        # frames shuffled in time: the same sum for the frame model, not for the sequence model
        perm = torch.tensor([2, 0, 3, 1])
        torch.testing.assert_close(deterministic_elbo(video_model, x[:, perm]), total, rtol=1e-5, atol=1e-3)
        dsae = lively(tiny_model())
        assert (deterministic_elbo(dsae, x[:, perm]) - deterministic_elbo(dsae, x)).abs().max() > 1e-2
    assert video_model.static_dim == 0 and video_model.latent_dim == 4 * D


@pytest.mark.parametrize("option", [{"conditional": True}, {"latent_layers": [4]}, {"prior": "mog"}])
def test_options_the_model_does_not_take_are_refused_by_name(option):
    name = "--" + next(iter(option)).replace("_", "-")
    with pytest.raises(ConfigError, match=name):
        tiny_model(**option)


def video_config(tmp_path, **train: object) -> Config:
    t = {"epochs": 1, "batch_size": 16, "lr": 3e-3, "progress": False, "compile": False, "grid": 4, "report": False,
         **train}
    return Config(data=DataConfig(dataset="moving-shapes"),
                  model=ModelConfig(arch="dsae", latent_dim=D, static_dim=S, rnn_hidden=16, channels_base=8,
                                    hidden=[32]),
                  train=TrainConfig(**t))


@pytest.fixture
def tiny_videos(monkeypatch):
    """moving-shapes served by 48 / 16 in-test moving squares, so the trainer runs on tiny videos."""
    def load_split(self, cfg, split, stats=None):
        n, seed = (48, 0) if split == "train" else (16, {"val": 1, "test": 2}[split])
        return TensorData(moving_squares(n, seed), is_image=False, kind="videos")

    monkeypatch.setattr(VideoKind, "load_split", load_split)


def test_training_lowers_the_loss_and_the_run_reloads_to_the_same_decoder(tiny_videos, tmp_path):
    from vaekit.runs import load_run
    from vaekit.training.loop import Trainer

    trainer = Trainer(video_config(tmp_path), tmp_path / "run")
    trainer.open(resume=False)
    x = trainer.train_data.x[:16]
    losses = [float(trainer.train_step(x).loss.detach()) for _ in range(30)]
    # 30 Adam steps on one batch: 329 -> 221 nats when written (the output bias starts at the mean video)
    assert sum(losses[-3:]) / 3 < losses[0] - 60.0
    trainer.fit()
    run = load_run(tmp_path / "run", "last")
    z = torch.randn(5, trainer.model.latent_dim, generator=torch.Generator().manual_seed(0))
    assert isinstance(run.model, SequentialVAE)
    assert torch.equal(run.model.decode(z), trainer.eval_model.eval().decode(z))
    assert torch.equal(run.model.prior_sample(3, torch.Generator().manual_seed(1)),
                       trainer.model.prior_sample(3, torch.Generator().manual_seed(1)))


def test_the_trainer_compiles_the_whole_step_and_matches_the_eager_step(tiny_videos, tmp_path):
    from vaekit.fast import FastStep
    from vaekit.training.loop import Trainer

    eager = Trainer(video_config(tmp_path, compile=False), tmp_path / "eager")
    fast = Trainer(video_config(tmp_path, compile=True), tmp_path / "fast")
    fast.model.load_state_dict(eager.model.state_dict())
    x = eager.train_data.x[:16]  # a full batch: the compiled graph's shape
    terms = []
    for trainer in (eager, fast):
        trainer.model.train()
        torch.manual_seed(3)
        terms.append(trainer.train_step(x))
    assert isinstance(fast.step, FastStep) and fast.step.gradients.fn is not None  # no fallback to eager
    torch.testing.assert_close(terms[1].loss, terms[0].loss, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(terms[1].elbo, terms[0].elbo, rtol=1e-5, atol=1e-3)
    for a, b in zip(eager.params, fast.params, strict=True):
        # the same Adam step: measured 4e-6 apart at most, 0.1% of the first step's lr (a gradient near 0 whose
        # last bits differ moves its weight by a share of lr of another size)
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
