"""Decoding z into sentences: greedy picks the argmax, beam search finds a sentence at least as likely as
greedy's (and is greedy at width 1), sampling draws from the model's own first-token distribution and
tends to greedy as the temperature falls; every output is a well-formed item."""

from __future__ import annotations

import pytest
import torch

from tests.kinds.texts.test_nets import model_of
from vaekit.kinds.texts.decoding import beam_search, greedy, sample
from vaekit.kinds.texts.vocab import BOS, EOS, PAD

T = 7


def well_formed(items: torch.Tensor) -> None:
    """Each row: tokens without <pad>/<bos>, one <eos>, then only <pad>."""
    for row in items.tolist():
        end = row.index(EOS)
        assert PAD not in row[:end] and BOS not in row[:end + 1]
        assert all(t == PAD for t in row[end + 1:])


def decoder_output(n: int, seed: int = 0) -> tuple[torch.nn.Module, torch.Tensor]:
    model = model_of()
    with torch.no_grad():  # a decoder with sharper softmaxes than at initialisation
        model.likelihood_head.out.weight.mul_(8)
    z = torch.randn(n, 4, generator=torch.Generator().manual_seed(seed))
    return model, model.likelihood(z)


def score(px, items: torch.Tensor) -> torch.Tensor:
    return px.log_prob(items)[0] if px.h.dim() == 3 else px.log_prob(items)


def test_decoded_items_are_well_formed_and_greedy_is_the_mean():
    model, px = decoder_output(16)
    for items in (px.mean, px.sample(torch.Generator().manual_seed(0)), px.beam(3)):
        assert items.shape == (16, T) and items.dtype == torch.int64
        well_formed(items)
    assert torch.equal(px.mean, greedy(model.likelihood_head, px.h))


def test_beam_search_is_greedy_at_width_one_and_never_less_likely():
    model, px = decoder_output(32, seed=1)
    head, h = model.likelihood_head, px.h
    g = greedy(head, h)
    assert torch.equal(beam_search(head, h, 1), g)
    wide = beam_search(head, h, 6)
    gain = score(px, wide) - score(px, g)
    assert (gain >= -1e-4).all()
    assert (gain > 1e-3).any()  # on 32 sentences, a wider search finds a likelier one somewhere


def test_sampling_draws_the_first_token_from_the_model():
    model, _ = decoder_output(1, seed=2)
    head = model.likelihood_head
    h = model.likelihood(torch.randn(1, 4, generator=torch.Generator().manual_seed(3))).h.expand(4000, -1)
    first = sample(head, h, 1.0, torch.Generator().manual_seed(0))[:, 0]
    state, z = head.initial_state(h[:1])
    out, _ = head.rnn(head.step_inputs(torch.full((1, 1), BOS), z), state)
    p = torch.softmax(head.logits(out[0, 0]).float(), -1)
    p[[PAD, BOS]] = 0
    p /= p.sum()
    freq = torch.bincount(first, minlength=len(p)).double() / 4000
    assert (freq - p.double()).abs().max() < 0.03  # 4000 draws: a standard error under 0.008
    cold = sample(head, h[:64], 1e-3, torch.Generator().manual_seed(1))
    assert torch.equal(cold, greedy(head, h[:64]))


def test_bad_decoding_settings_are_refused():
    model, px = decoder_output(2)
    with pytest.raises(ValueError, match="temperature"):
        sample(model.likelihood_head, px.h, 0.0)
    with pytest.raises(ValueError, match="beam width"):
        beam_search(model.likelihood_head, px.h, 0)
