"""The sentence VAE's and the language model's networks, by their numbers: padding never changes a score,
teacher forcing equals step-by-step decoding, the LM's ELBO and IWAE estimate are its exact log-likelihood,
IWAE(k=1) is the ELBO, word dropout replaces the stated share of inputs, the output bias starts at the
unigram log-frequencies, save/load round-trips, and a short run lowers the loss."""

from __future__ import annotations

import math

import pytest
import torch

from vaekit.cli import build_parser, config_from_args
from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.errors import ConfigError
from vaekit.kinds import kind_of, with_kind_defaults
from vaekit.kinds.texts.decoding import step_logits
from vaekit.kinds.texts.vocab import BOS, EOS, PAD, UNK
from vaekit.model import build_model
from vaekit.objectives import elbo, iwae_bound

KIND = kind_of("text-shapes")
V, T = 12, 7
STATS = {"vocabulary": ["<pad>", "<unk>", "<bos>", "<eos>", *"abcdefgh"]}


def model_of(arch: str = "lstm", **kw) -> torch.nn.Module:
    cfg = ModelConfig(arch=arch, likelihood="categorical", embed_dim=8, rnn_hidden=16, latent_dim=4, **kw)
    torch.manual_seed(0)
    return build_model(cfg, (T,), kind=KIND, stats=STATS).eval()


def sentences() -> torch.Tensor:
    """Four items (4, T): tokens, <eos>, <pad>s."""
    return torch.tensor([[4, 5, 6, EOS, 0, 0, 0], [7, EOS, 0, 0, 0, 0, 0], [EOS, 0, 0, 0, 0, 0, 0],
                         [4, 4, 5, 9, 10, 11, EOS]])


def test_text_data_take_the_sentence_models_by_default():
    cfg = with_kind_defaults(Config(data=DataConfig(dataset="yelp")))
    assert (cfg.model.arch, cfg.model.likelihood, cfg.model.latent_dim) == ("lstm", "categorical", 32)
    assert with_kind_defaults(Config(data=DataConfig(dataset="text"), model=ModelConfig(arch="lm"))).model.arch == "lm"
    assert with_kind_defaults(Config()).model.arch == "mlp"  # images keep theirs
    cli = config_from_args(build_parser().parse_args(["train", "--data", "text-shapes", "--latent-dim", "8"]))
    assert (cli.model.arch, cli.model.latent_dim) == ("lstm", 8)
    with pytest.raises(ConfigError, match="--model lm has no latent code"):
        model_of("lm", conditional=True, n_classes=2)
    with pytest.raises(ConfigError, match="takes neither --latent-layers nor --prior vamp"):
        ModelConfig(arch="lstm", latent_layers=[8])
    with pytest.raises(ConfigError, match="needs --prior standard"):
        ModelConfig(arch="lm", prior="mog")


def test_padding_changes_neither_the_posterior_nor_the_likelihood():
    model, x = model_of(), sentences()
    longer = torch.cat([x, torch.zeros(4, 5, dtype=torch.int64)], 1)  # 5 more <pad>s
    q, q2 = model.posterior(x), model.posterior(longer)
    torch.testing.assert_close(q.mean, q2.mean, rtol=0, atol=1e-6)
    z = q.mean[None]  # (1, B, D)
    torch.testing.assert_close(model.likelihood(z).log_prob(x), model.likelihood(z).log_prob(longer), rtol=0,
                               atol=1e-5)


def test_teacher_forcing_scores_what_stepwise_decoding_scores():
    """log p(x|z) by the one-pass teacher-forced LSTM equals the sum of the log-softmaxes of the LSTM run one
    token at a time; and the decoder's step (`step_logits`) is that softmax renormalised without <pad> and
    <bos>."""
    model, x = model_of(), sentences()
    z = torch.randn(4, 4, generator=torch.Generator().manual_seed(1))
    px = model.likelihood(z)
    head = model.likelihood_head
    state, zz = head.initial_state(px.h)
    total, tokens = torch.zeros(4), torch.full((4,), BOS)
    for t in range(T):
        renormalised, _ = step_logits(head, tokens, zz, state, t)
        out, state = head.rnn(head.step_inputs(tokens[:, None], zz), state)
        log_p = torch.log_softmax(head.logits(out[:, 0]), -1)  # (4, V)
        if t < T - 1:
            kept = torch.logsumexp(log_p[:, [UNK, EOS, *range(4, V)]], -1, keepdim=True)
            torch.testing.assert_close(renormalised[:, 4:], log_p[:, 4:] - kept, rtol=0, atol=1e-5)
        tokens = x[:, t]
        total += torch.where(tokens != PAD, log_p.gather(1, tokens[:, None])[:, 0], 0.0)
    torch.testing.assert_close(px.log_prob(x), total, rtol=0, atol=1e-5)


def test_the_language_model_bound_is_its_exact_log_likelihood():
    """--model lm: q(z|x) = p(z), so KL = 0 and every importance weight is p(x): ELBO = IWAE_k = log p(x)."""
    model, x = model_of("lm"), sentences()
    g = torch.Generator().manual_seed(0)
    e = elbo(model, x, generator=g)
    assert torch.equal(e.rate, torch.zeros(4))
    ll = model.log_likelihood(x, k=64, generator=g)
    torch.testing.assert_close(ll.double(), e.elbo.double(), rtol=0, atol=1e-4)
    # and log p(x) is a sum of log-softmaxes: negative, and for the empty sentence one token's
    assert (e.elbo < 0).all() and -e.elbo[2] < -e.elbo[0]


def test_iwae_with_one_sample_is_the_single_sample_elbo():
    model, x = model_of(), sentences()
    one = iwae_bound(model, x, 1, generator=torch.Generator().manual_seed(3))
    mc = elbo(model, x, kl="mc", generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(one.elbo, mc.elbo, rtol=0, atol=1e-4)
    many = model.log_likelihood(x, k=500, generator=torch.Generator().manual_seed(4))
    average = elbo(model, x, samples=500, generator=torch.Generator().manual_seed(5)).elbo.detach()
    assert float(many.sum()) >= float(average.sum()) - 0.1  # L_500 >= L_1 in expectation (Burda et al., thm 1)


def test_word_dropout_replaces_the_stated_share_of_inputs_in_training_only():
    model = model_of(word_dropout=0.4)
    seen: list[torch.Tensor] = []
    model.likelihood_head.embed.register_forward_hook(lambda m, args, out: seen.append(args[0].clone()))
    x = torch.randint(4, V, (400, T))
    z = torch.zeros(1, 400, 4)
    model.train()
    torch.manual_seed(0)
    model.likelihood(z).log_prob(x)
    inputs = seen[-1]  # (400, T): <bos>, x_0 .. x_{T-2}
    assert (inputs[:, 0] == BOS).all()
    share = (inputs[:, 1:] == UNK).double().mean().item()
    assert abs(share - 0.4) < 0.03
    model.eval()
    model.likelihood(z).log_prob(x)
    assert not (seen[-1] == UNK).any()


def test_the_output_bias_starts_at_the_unigram_log_frequencies():
    data = KIND.load_split(DataConfig(dataset="text-shapes", subset=300), "train")
    cfg = with_kind_defaults(Config(data=DataConfig(dataset="text-shapes"))).model
    model = build_model(cfg, data.event_shape, kind=KIND, stats=data.stats)
    KIND.init_model(model, data)
    counts = torch.bincount(data.x[data.x != PAD], minlength=len(data.stats["vocabulary"])).double()
    bias = model.likelihood_head.out.bias.detach().double()
    word = int(data.x[0, 0])
    assert float(bias[word]) == pytest.approx(math.log(counts[word] / counts.sum()), abs=1e-5)
    assert float(bias[EOS]) == pytest.approx(math.log(len(data) / counts.sum()), abs=1e-5)  # one <eos> an item
    assert bias[BOS] < bias[word] - 10


def test_save_and_load_give_identical_outputs(tmp_path):
    from vaekit.api import train
    from vaekit.runs import load_run

    cfg = Config(data=DataConfig(dataset="text-shapes", subset=200),
                 model=ModelConfig(embed_dim=8, rnn_hidden=16),
                 train=TrainConfig(epochs=1, batch_size=32, progress=False, report=False))
    run = train(cfg, out=tmp_path / "run")
    again = load_run(tmp_path / "run", "best")
    x = KIND.load_split(cfg.data, "val", run.data_stats).x[:8]
    z = torch.randn(8, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(run.model.posterior(x).mean, again.model.posterior(x).mean)
    assert torch.equal(run.model.decode(z), again.model.decode(z))
    assert again.data_stats == run.data_stats


def test_a_short_run_raises_the_validation_elbo_by_ten_nats(tmp_path):
    from vaekit.api import train

    cfg = Config(data=DataConfig(dataset="text-shapes", subset=1500),
                 train=TrainConfig(epochs=2, batch_size=64, progress=False, report=False))
    run = train(cfg, out=tmp_path / "run")
    start = next(r for r in run.metrics if r["kind"] == "init")["val_elbo"]
    end = [r for r in run.metrics if r["kind"] == "epoch"][-1]["val_elbo"]
    assert end > start + 10, (start, end)
