"""`text-shapes`: a built-in corpus of sentences about moving shapes, generated in-process from a small
grammar whose factors are known (the text counterpart of the `shapes` sprites).

Four factors say what a sentence means: the object (5), its colour (6), size (4) and motion (6). Three more
only change how it is said: one of 6 sentence templates, the determiner and an optional adverb. Every
combination is one point of a grid of 720 meanings x 36 wordings = 25,920 sentences, e.g.
"a small red square moves left ." or "there is a huge blue star , spinning around slowly .". As for
`shapes`, a --data-seed subset of --subset grid points is drawn and cut into train / val / test, so the
splits hold different sentences. The label is the object; `text_shapes_factors` gives all four factors,
and `factors_of_words` reads them back from a sentence's words.
"""

from __future__ import annotations

import numpy as np
import torch

from vaekit.config import DataConfig
from vaekit.data.base import check_split, split_indices
from vaekit.errors import ConfigError

OBJECTS = ("square", "circle", "triangle", "star", "heart")
COLOURS = ("red", "green", "blue", "yellow", "purple", "orange")
SIZES = ("tiny", "small", "big", "huge")
# (present tense, -ing form) of each motion
MOTIONS = (("moves left", "moving left"), ("moves right", "moving right"), ("moves up", "moving up"),
           ("moves down", "moving down"), ("spins around", "spinning around"), ("stays still", "staying still"))
FACTOR_NAMES = ("object", "colour", "size", "motion")
DETERMINERS = ("a", "the")
ADVERBS = ("", "slowly", "quickly")
# {d} determiner, {s} size, {c} colour, {o} object, {m} motion (present), {g} motion (-ing), {a} adverb
TEMPLATES = (
    "{d} {s} {c} {o} {m} {a} .",
    "{d} {o} is {s} and {c} , and it {m} {a} .",
    "there is {d} {s} {c} {o} , {g} {a} .",
    "{g} {a} , {d} {c} {o} looks {s} .",
    "{d} {c} shape {m} {a} : it is {d} {s} {o} .",
    "you can see {d} {o} that is {c} and {s} {g} {a} .",
)
MEANINGS = (len(OBJECTS), len(COLOURS), len(SIZES), len(MOTIONS))
GRID = (*MEANINGS, len(TEMPLATES), len(DETERMINERS), len(ADVERBS))  # 5 x 6 x 4 x 6 x 6 x 2 x 3 = 25,920


def sentence(point: tuple[int, ...]) -> list[str]:
    """The tokens of one grid point (object, colour, size, motion, template, determiner, adverb)."""
    o, c, s, m, t, d, a = point
    text = TEMPLATES[t].format(d=DETERMINERS[d], s=SIZES[s], c=COLOURS[c], o=OBJECTS[o], m=MOTIONS[m][0],
                               g=MOTIONS[m][1], a=ADVERBS[a])
    return text.split()  # an empty adverb leaves two spaces, which split() drops


def grid_points(cfg: DataConfig, split: str) -> np.ndarray:
    """The grid points (N, 7) of a split: a --data-seed subset of --subset points, cut as shapes' are."""
    check_split(split)
    total = int(np.prod(GRID))
    if cfg.subset > total:
        raise ConfigError(f"--subset {cfg.subset} is larger than the whole text-shapes grid ({total} sentences)")
    if cfg.subset < 10:
        raise ConfigError(f"--subset {cfg.subset} is too small to split into train/val/test (need >= 10)")
    drawn = np.random.default_rng(cfg.data_seed).choice(total, size=cfg.subset, replace=False)
    idx = drawn[split_indices(cfg.subset, cfg.val_fraction, cfg.data_seed, split).numpy()]
    return np.stack(np.unravel_index(idx, GRID), axis=1)  # (N, 7)


def text_shapes(cfg: DataConfig, split: str) -> tuple[list[list[str]], torch.Tensor]:
    """The sentences of a split and their factors (N, 4) int64: object, colour, size, motion."""
    points = grid_points(cfg, split)
    return [sentence(tuple(p)) for p in points.tolist()], torch.from_numpy(points[:, :len(MEANINGS)].copy())


def text_shapes_factors(cfg: DataConfig, split: str) -> torch.Tensor:
    """The factors (N, 4) int64 (object, colour, size, motion; `FACTOR_NAMES`) of the items of a split, in
    the order `TextKind.load_split` gives them."""
    return text_shapes(cfg, split)[1]


def factors_of_words(tokens: list[str]) -> tuple[int, int, int, int]:
    """The factors a text-shapes sentence says, read from its words alone; -1 where none is said."""
    words = set(tokens)
    found = []
    for names in (OBJECTS, COLOURS, SIZES, tuple(m[0].split()[1] for m in MOTIONS)):  # motions: left, ... still
        hits = [i for i, name in enumerate(names) if name in words]
        found.append(hits[0] if len(hits) == 1 else -1)
    return found[0], found[1], found[2], found[3]
