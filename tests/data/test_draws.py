"""The counter-based draws of dynamic binarization (vaekit.data.draws): SplitMix64's published outputs,
numpy == torch == compiled, and draws addressed by position."""

from __future__ import annotations

import random

import pytest
import torch

from vaekit.data.draws import KEY_BOUND, draw_key, int16_draws, int16_draws_torch

M64 = 2**64 - 1


def splitmix64(seed: int, n: int) -> int:
    """Output n of SplitMix64 seeded with `seed`, in Python integers (Steele, Lea & Flood 2014;
    Vigna's splitmix64.c): the state advances by γ before each output, which is Mix13 of the state."""
    z = (seed + (n + 1) * 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def reference_draws(key: int, start: int, n: int) -> list[int]:
    """Draw i = 16-bit half i mod 4 of output i div 4, lowest first, read as a signed integer."""
    halves = [(splitmix64(key, i // 4) >> (16 * (i % 4))) & 0xFFFF for i in range(start, start + n)]
    return [h - 2**16 if h >= 2**15 else h for h in halves]


def test_the_reference_is_splitmix64():
    # the first five outputs for seed 1234567, as published (Rosetta Code, "Pseudo-random numbers/Splitmix64")
    assert [splitmix64(1234567, n) for n in range(5)] == [
        6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431,
        16408922859458223821]


@pytest.mark.parametrize("start, n", [(0, 20), (1, 7), (3, 4 * 16384 + 9), (2**40 + 2, 33)])
def test_numpy_and_torch_draws_are_splitmix64s_halves(start, n):
    # unaligned starts and ends, and (third case) more words than one numpy block of 16384
    key = random.Random(start).randrange(KEY_BOUND)
    expect = reference_draws(key, start, n)
    got = int16_draws(key, start, (n,))
    assert got.dtype == torch.int16 and got.tolist() == expect
    assert int16_draws_torch(torch.tensor(key), start + torch.arange(n)).tolist() == expect


def test_compiled_torch_draws_wrap_as_numpy_does():
    # int64 products overflow in nearly every draw: the compiled kernel must wrap them modulo 2^64
    key, start = KEY_BOUND - 1, 5
    positions = start + torch.arange(3 * 1001).view(3, 1001)  # rows of 1001: vectorised bodies and tails
    compiled = torch.compile(int16_draws_torch, dynamic=False)(torch.tensor(key), positions)
    assert torch.equal(compiled, int16_draws(key, start, positions.shape).long())


def test_draws_are_addressed_by_position():
    key = 12345
    whole = int16_draws(key, 0, (1000,))
    assert torch.equal(int16_draws(key, 397, (2, 101)).flatten(), whole[397:599])
    assert not torch.equal(int16_draws(key + 1, 0, (1000,)), whole)
    assert int16_draws(key, 10, (0,)).numel() == 0


def test_draw_key_follows_the_torch_generator():
    a = draw_key(torch.Generator().manual_seed(0))
    assert a == draw_key(torch.Generator().manual_seed(0)) != draw_key(torch.Generator().manual_seed(1))
    assert 0 <= a < KEY_BOUND
