"""The networks of a sentence VAE (Bowman et al. 2016, "Generating Sentences from a Continuous Space") and of
the language model with the same decoder.

    encoder   q(z|x):          embedding -> (bi)LSTM over the sentence -> its final state -> (mean, log-variance)
    decoder   z -> state:      c_0 = W z + b, h_0 = tanh(c_0)          (He et al. 2019's initial state)
    head      p(x_t|x_<t, z):  LSTM over [embed(x_{t-1}); z] from (h_0, c_0) -> softmax over the vocabulary

z enters twice, as the initial state and concatenated to every input, as in He et al. (2019) and Bowman et
al.; a conditional model's one-hot label travels with z (`GenerativeAPI.likelihood` appends it). The VAE's
"decoder" is only the map from z to the initial state: the autoregressive part reads x, so it sits in the
likelihood head, whose distribution scores x by teacher forcing (`SentenceDistribution`), as the
autoregressive image likelihood does.

`--model lm` is the same decoder without z: its "encoder" returns q(z|x) = N(0, I) = p(z) for every x, and its
decoder a learned initial state that does not read z, so KL = 0, every importance weight is p(x), and the
ELBO and the IWAE estimate are both the exact log-likelihood of the language model.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from vaekit.errors import ConfigError
from vaekit.kinds.texts.vocab import BOS, PAD, UNK


class SentenceEncoder(nn.Module):
    """x (B, T) token ids, padded with <pad> after each item's <eos> -> (B, 2 x latent): the LSTM's final
    state over the item's real tokens (packed, so padding never enters it), both directions when
    bidirectional, with a conditional model's one-hot label, mapped linearly to q's mean and log-variance."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden: int, out: int, extra_in: int = 0,
                 bidirectional: bool = False) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.rnn = nn.LSTM(embed_dim, hidden, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1) + extra_in, out)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        lengths = (x != PAD).sum(-1).clamp(min=1).cpu()  # (B,) tokens incl. <eos>
        packed = pack_padded_sequence(self.embed(x), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.rnn(packed)  # h: (directions, B, H)
        h = h.transpose(0, 1).reshape(len(x), -1)  # (B, directions x H)
        return self.head(h if c is None else torch.cat([h, c.to(h.dtype)], -1))


class NoEncoder(nn.Module):
    """The language model's q(z|x) = N(0, I) for every x: mean 0, log-variance 0, (B, 2 x latent). With the
    standard normal prior the KL is exactly 0 and z carries nothing."""

    is_prior = True  # q(z|x) is p(z): with a decoder that ignores z, one importance sample is exact (evaluate)

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return torch.zeros(len(x), 2 * self.latent_dim, device=x.device)


class LatentState(nn.Module):
    """z (N, Z) -> (N, H + Z): the decoder LSTM's initial cell state c_0 = W z + b, and z itself, which the
    head concatenates to every input."""

    def __init__(self, z_in: int, hidden: int) -> None:
        super().__init__()
        self.proj = nn.Linear(z_in, hidden)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.proj(z), z], -1)


class LearnedState(nn.Module):
    """The language model's initial cell state: one learned vector, whatever z is. (N, Z) -> (N, H)."""

    ignores_latent = True  # p(x|z) = p(x) for every z

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.c0 = nn.Parameter(torch.zeros(hidden))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.c0.expand(len(z), -1)


class SentenceHead(nn.Module):
    """The likelihood head p(x|z) of sentences: the decoder LSTM, its input embedding and its output layer.

    Reads the decoder's output (..., H + z_in): the initial cell state and the z (with label) it appends to
    every input. word_dropout: in training, each input token after <bos> becomes <unk> with this probability
    (Bowman et al. 2016, sec. 3.3), so the decoder must lean on z. tie: the output layer reuses the input
    embedding (Press & Wolf 2017) through a projection of the LSTM state to the embedding's width."""

    levels = None  # a mass over token sequences, not over pixel values: no bits/dim (Kind.unit gives nats/token)

    def __init__(self, vocab_size: int, max_len: int, embed_dim: int, hidden: int, z_in: int,
                 word_dropout: float = 0.0, tie: bool = False) -> None:
        super().__init__()
        self.vocab_size, self.max_len, self.hidden, self.z_in = vocab_size, max_len, hidden, z_in
        self.params_per_dim = vocab_size  # logits per position: what one pass holds (objectives.bytes_per_row)
        self.word_dropout = word_dropout
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.rnn = nn.LSTM(embed_dim + z_in, hidden, batch_first=True)
        self.proj = nn.Linear(hidden, embed_dim, bias=False) if tie else None
        self.out = nn.Linear(embed_dim if tie else hidden, vocab_size)
        if tie:
            self.out.weight = self.embed.weight

    def forward(self, h: torch.Tensor) -> SentenceDistribution:
        return SentenceDistribution(h, self)

    def initial_state(self, h: torch.Tensor) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        """((h_0, c_0) each (1, N, H), z (N, z_in)) from the decoder's output h (N, H + z_in)."""
        c0, z = h[:, :self.hidden], h[:, self.hidden:]
        return (torch.tanh(c0).unsqueeze(0).contiguous(), c0.unsqueeze(0).contiguous()), z

    def step_inputs(self, tokens: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """[embed(tokens); z] for tokens (N, T) -> (N, T, E + z_in)."""
        e = self.embed(tokens)  # (N, T, E)
        return torch.cat([e, z.unsqueeze(1).expand(-1, e.shape[1], -1).to(e.dtype)], -1) if self.z_in else e

    def logits(self, out: torch.Tensor) -> torch.Tensor:
        """LSTM outputs (..., H) -> (..., V)."""
        return self.out(out if self.proj is None else self.proj(out))

    def teacher_forced(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The LSTM's outputs (N, T, H) that predict every x_t given x_<t (inputs <bos>, x_0 .. x_{T-2}) from
        the decoder's h (N, ·); `logits` turns them into (N, T, V)."""
        state, z = self.initial_state(h)
        inputs = torch.cat([torch.full_like(x[:, :1], BOS), x[:, :-1]], 1)  # (N, T)
        if self.training and self.word_dropout > 0:
            drop = torch.rand(inputs.shape, device=x.device) < self.word_dropout
            drop[:, 0] = False  # <bos> stays: it says where the sentence starts
            inputs = inputs.masked_fill(drop & (inputs != PAD), UNK)
        out, _ = self.rnn(self.step_inputs(inputs, z), state)  # (N, T, H)
        return out

    @torch.no_grad()
    def set_output_bias(self, log_freq: torch.Tensor) -> None:
        """Start the output layer at the tokens' log-frequencies (V,): the first steps need not learn the
        unigram distribution."""
        self.out.bias.copy_(log_freq)


class SentenceDistribution:
    """p(x|z) over sentences for decoder outputs h (*S, B, H + z_in): log p(x|z) = Σ_t log p(x_t | x_<t, z)
    over each item's tokens up to and including its <eos> (<pad> positions count nothing)."""

    def __init__(self, h: torch.Tensor, head: SentenceHead) -> None:
        self.h, self.head = h, head

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T) against h (*S, B, ·) -> (*S, B); the S draws of z run as S x B sequences. Only the real
        positions (up to each <eos>) go through the output layer and its softmax, the two costliest steps."""
        lead, b, t = self.h.shape[:-2], x.shape[0], x.shape[1]
        xs = x.expand(*lead, b, t).reshape(-1, t)  # (S B, T)
        out = self.head.teacher_forced(self.h.reshape(-1, self.h.shape[-1]), xs)  # (S B, T, H)
        real = xs != PAD  # (S B, T)
        nll = F.cross_entropy(self.head.logits(out[real]).float(), xs[real], reduction="none")  # (M,) real tokens
        per_token = torch.zeros(real.shape, dtype=nll.dtype, device=nll.device).masked_scatter(real, nll)
        return -per_token.view(*lead, b, t).sum(-1)

    @property
    def mean(self) -> torch.Tensor:
        """A deterministic sentence for display: greedy decoding (the most likely token at each step), ids
        (*S, B, T_max) padded after <eos>."""
        from vaekit.kinds.texts.decoding import greedy

        return self._decoded(greedy)

    def sample(self, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Ancestral sampling, token after token, from p(x_t | x_<t, z)^(1/temperature) renormalised."""
        from vaekit.kinds.texts.decoding import sample

        return self._decoded(lambda head, h: sample(head, h, temperature, generator))

    def beam(self, width: int = 5) -> torch.Tensor:
        """Beam search for the most likely sentence given z (width beams)."""
        from vaekit.kinds.texts.decoding import beam_search

        return self._decoded(lambda head, h: beam_search(head, h, width))

    def _decoded(self, decode: Any) -> torch.Tensor:
        flat = self.h.reshape(-1, self.h.shape[-1])  # (N, ·)
        return decode(self.head, flat).view(*self.h.shape[:-1], self.head.max_len)


def text_networks(cfg: Any, event_shape: tuple[int, ...], vocab_size: int) -> tuple[nn.Module, nn.Module]:
    """(encoder, decoder) of --model lstm (the sentence VAE) or lm (the language model: no encoder, no z)."""
    if cfg.arch == "lm":
        return NoEncoder(cfg.latent_dim), LearnedState(cfg.rnn_hidden)
    k = cfg.n_classes if cfg.conditional else 0
    enc = SentenceEncoder(vocab_size, cfg.embed_dim, cfg.rnn_hidden, 2 * cfg.latent_dim, extra_in=k,
                          bidirectional=cfg.bidirectional)
    return enc, LatentState(cfg.latent_dim + k, cfg.rnn_hidden)


def text_likelihood(cfg: Any, event_shape: tuple[int, ...], vocab_size: int) -> SentenceHead:
    """The categorical head p(x_t | x_<t, z) of --likelihood categorical."""
    if len(event_shape) != 1:
        raise ConfigError(f"--likelihood categorical reads sentences of token ids (T,); these items are {event_shape}")
    z_in = 0 if cfg.arch == "lm" else cfg.latent_dim + (cfg.n_classes if cfg.conditional else 0)
    if cfg.arch == "lm" and cfg.conditional:
        raise ConfigError("--model lm has no latent code to condition: use --model lstm --conditional")
    return SentenceHead(vocab_size, event_shape[0], cfg.embed_dim, cfg.rnn_hidden, z_in,
                        word_dropout=cfg.word_dropout, tie=cfg.tie_embeddings)
