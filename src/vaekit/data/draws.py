"""Counter-based random 16-bit integers for dynamic binarization.

SplitMix64 (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators") has a state
that only moves by a constant γ, so its n-th 64-bit output is a function of the seed and n alone:

    out(n) = mix(key + (n + 1) γ)    (mod 2^64; mix: Stafford's 64-bit finalizer "Mix13")

Draw i of an epoch's stream is 16-bit half i mod 4 of out(i div 4), lowest half first, read as a
signed integer s (`uniforms_of` maps s to a uniform in (0, 1)). Without state to carry, any item's
draws can be computed where they are needed: by numpy in cache-sized blocks (`int16_draws`), or inside
a compiled kernel beside the gather and the comparison that use them (`int16_draws_torch`, all of its
work spread over the OpenMP threads). The two give the same numbers, so a compiled and an eager run
binarize alike, and the draws of an item do not depend on how items are grouped into batches.
"""

from __future__ import annotations

import math

import numpy as np
import torch

GAMMA = 0x9E3779B97F4A7C15  # the golden-ratio increment of SplitMix64 (odd)
MIX = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB)  # Mix13's two multipliers
SHIFTS = (30, 27, 31)  # Mix13's three xor-shifts
KEY_BOUND = 2**63 - 1  # keys are drawn below this, so a key is the same number signed or unsigned
_BLOCK_WORDS = 16384  # numpy's passes over 128 KB at a time stay in L2


def _signed(v: int) -> int:
    """A 64-bit pattern as the int64 that torch stores for it."""
    return v - 2**64 if v >= 2**63 else v


def int16_draws(key: int, start: int, shape: tuple[int, ...] | torch.Size) -> torch.Tensor:
    """Draws start, start + 1, ... of the stream `key`, as int16 of the given shape (numpy, eager).
    Computed in blocks that stay in L2: one numpy pass over all the words at once leaves the caches."""
    n = math.prod(shape)
    w0, offset = divmod(start, 4)
    words = np.empty(-(-(offset + n) // 4), dtype=np.uint64)
    tmp = np.empty(min(_BLOCK_WORDS, len(words)), dtype=np.uint64)
    steps = np.arange(1, len(tmp) + 1, dtype=np.uint64) * np.uint64(GAMMA)  # (j + 1) γ mod 2^64
    m1, m2 = np.uint64(MIX[0]), np.uint64(MIX[1])
    for lo in range(0, len(words), len(tmp)):
        z, t = words[lo:lo + len(tmp)], tmp[:len(words) - lo]
        # the state of output w0 + lo + j is key + (w0 + lo) γ + (j + 1) γ
        np.add(steps[:len(z)], np.uint64((key + (w0 + lo) * GAMMA) % 2**64), out=z)
        np.right_shift(z, np.uint64(SHIFTS[0]), out=t)
        z ^= t
        z *= m1
        np.right_shift(z, np.uint64(SHIFTS[1]), out=t)
        z ^= t
        z *= m2
        np.right_shift(z, np.uint64(SHIFTS[2]), out=t)
        z ^= t
    # a little-endian word's int16 view is its 16-bit halves, lowest first (x86 and ARM as torch runs them)
    return torch.from_numpy(words.view(np.int16)[offset:offset + n]).view(tuple(shape))


def _shift_right(z: torch.Tensor, k: int) -> torch.Tensor:
    """The logical shift of the 64-bit pattern z (torch's >> on int64 copies the sign bit)."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def int16_draws_torch(key: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """The draws at the given positions (int64) of the stream `key` (an int64 0-d tensor), as int64 in
    [-2^15, 2^15): `int16_draws` in torch ops, for a compiled kernel. Products wrap modulo 2^64 as in
    numpy's uint64, so the bits are those of `int16_draws` (tested)."""
    z = key + ((positions >> 2) + 1) * _signed(GAMMA)
    z = (z ^ _shift_right(z, SHIFTS[0])) * _signed(MIX[0])
    z = (z ^ _shift_right(z, SHIFTS[1])) * _signed(MIX[1])
    z = z ^ _shift_right(z, SHIFTS[2])
    half = (z >> ((positions & 3) * 16)) & 0xFFFF
    return half - ((half & 0x8000) << 1)  # read as signed: h - 2^16 when its top bit is set


def draw_key(generator: torch.Generator | None) -> int:
    """An epoch's stream, fixed by one draw of the torch generator (or of torch's global RNG)."""
    return int(torch.randint(0, KEY_BOUND, (), generator=generator))
