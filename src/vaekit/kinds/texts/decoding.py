"""Turning z into a sentence: greedy decoding, sampling with a temperature, beam search.

Each reads the decoder's output h (N, H + z_in) (`SentenceHead.initial_state`) and returns ids (N, T_max):
the tokens, `<eos>`, then `<pad>`, the layout of the data's items. A sentence that has not ended by position
T_max - 1 ends there with `<eos>` (items hold at most --max-length tokens and their `<eos>`). `<pad>` and
`<bos>` are never emitted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from vaekit.kinds.texts.vocab import BOS, EOS, PAD


def step_logits(head: Any, tokens: torch.Tensor, z: torch.Tensor, state: Any, t: int
                ) -> tuple[torch.Tensor, Any]:
    """One step of the decoder LSTM: log-probabilities (N, V) of the next token after `tokens` (N,), at
    position t, and the new state. <pad> and <bos> are ruled out; the last position allows only <eos>."""
    out, state = head.rnn(head.step_inputs(tokens[:, None], z), state)  # (N, 1, H)
    logits = head.logits(out[:, 0]).float()  # (N, V)
    logits[:, PAD] = logits[:, BOS] = -torch.inf
    if t == head.max_len - 1:
        logits[:, :EOS] = logits[:, EOS + 1:] = -torch.inf
    return torch.log_softmax(logits, -1), state


@torch.no_grad()
def decode_with(head: Any, h: torch.Tensor, choose: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Left to right, one token per step chosen by `choose(log_probs (N, V)) -> (N,)`, until every
    sentence has its <eos>."""
    state, z = head.initial_state(h)
    n = len(h)
    out = torch.full((n, head.max_len), PAD, dtype=torch.int64, device=h.device)
    done = torch.zeros(n, dtype=torch.bool, device=h.device)
    tokens = torch.full((n,), BOS, dtype=torch.int64, device=h.device)
    for t in range(head.max_len):
        log_p, state = step_logits(head, tokens, z, state, t)
        tokens = choose(log_p).masked_fill(done, PAD)  # (N,)
        out[:, t] = tokens
        done |= tokens == EOS
        if bool(done.all()):
            break
    return out


def greedy(head: Any, h: torch.Tensor) -> torch.Tensor:
    """The most likely token at each step."""
    return decode_with(head, h, lambda log_p: log_p.argmax(-1))


def sample(head: Any, h: torch.Tensor, temperature: float = 1.0,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Ancestral sampling from p(x_t | x_<t, z)^(1/temperature), renormalised (temperature 1: the model)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")

    def draw(log_p: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(log_p / temperature, -1)
        return torch.multinomial(probs, 1, generator=generator)[:, 0]

    return decode_with(head, h, draw)


@torch.no_grad()
def beam_search(head: Any, h: torch.Tensor, width: int = 5) -> torch.Tensor:
    """The highest-scoring of `width` beams per z, by the sum of the tokens' log-probabilities (a finished
    beam keeps its score and emits <pad> at no cost)."""
    if width < 1:
        raise ValueError(f"beam width must be at least 1, got {width}")
    n, w, t_max = len(h), width, head.max_len
    (h0, c0), z = head.initial_state(h.repeat_interleave(w, 0))  # (1, N W, H), (N W, Z)
    state = (h0, c0)
    scores = torch.full((n, w), -torch.inf, device=h.device)
    scores[:, 0] = 0.0  # one live beam at the start: the others would repeat it
    hist = torch.full((n, w, t_max), PAD, dtype=torch.int64, device=h.device)
    done = torch.zeros(n, w, dtype=torch.bool, device=h.device)
    tokens = torch.full((n * w,), BOS, dtype=torch.int64, device=h.device)
    for t in range(t_max):
        log_p, state = step_logits(head, tokens, z, state, t)  # (N W, V)
        log_p = log_p.view(n, w, -1)
        log_p[done] = -torch.inf
        log_p[..., PAD] = torch.where(done, 0.0, -torch.inf)
        cand = (scores[..., None] + log_p).view(n, -1)  # (N, W V)
        scores, idx = cand.topk(w, -1)  # (N, W)
        beam, tok = idx // log_p.shape[-1], idx % log_p.shape[-1]
        hist = hist.gather(1, beam[..., None].expand(-1, -1, t_max))  # a new tensor: safe to write into
        hist[..., t] = tok
        done = done.gather(1, beam) | (tok == EOS)
        rows = (beam + torch.arange(n, device=h.device)[:, None] * w).view(-1)  # (N W,) rows of the states
        state = (state[0][:, rows], state[1][:, rows])
        tokens = tok.view(-1)
        if bool(done.all()):
            break
    return hist[:, 0]  # topk sorts: beam 0 is the best
