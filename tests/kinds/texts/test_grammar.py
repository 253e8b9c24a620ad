"""text-shapes: deterministic splits of distinct sentences, factors read back from the words alone, more
than one way of saying a thing, labels, --subset and --max-length."""

from __future__ import annotations

import re

import pytest
import torch

from vaekit.config import DataConfig
from vaekit.errors import ConfigError
from vaekit.kinds import load_split
from vaekit.kinds.texts.grammar import (
    ADVERBS,
    COLOURS,
    DETERMINERS,
    GRID,
    MOTIONS,
    OBJECTS,
    SIZES,
    TEMPLATES,
    factors_of_words,
    sentence,
    text_shapes_factors,
)
from vaekit.kinds.texts.vocab import Vocabulary

SMALL = DataConfig(dataset="text-shapes", subset=3000)


def splits(cfg: DataConfig) -> list:
    train = load_split(cfg, "train")
    return [train, load_split(cfg, "val", stats=train.stats), load_split(cfg, "test", stats=train.stats)]


def texts(data) -> list[str]:
    v = Vocabulary.from_stats(data.stats)
    return [" ".join(v.decode(row)) for row in data.x.tolist()]


def test_the_grid_and_the_default_sizes():
    assert GRID == (5, 6, 4, 6, 6, 2, 3) and torch.tensor(GRID).prod() == 25_920
    train, val, test = splits(DataConfig(dataset="text-shapes"))  # --subset 20000, --val-fraction 0.1
    assert (len(train), len(val), len(test)) == (16_000, 2_000, 2_000)
    assert train.event_shape == (41,) and int(train.lengths.max()) <= 15
    assert train.label_names == list(OBJECTS)


def test_splits_are_deterministic_distinct_sentences_and_change_with_the_data_seed():
    a, b = splits(SMALL), splits(SMALL)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x.x, y.x) and torch.equal(x.labels, y.labels)
    assert [len(s) for s in a] == [2400, 300, 300]
    every = [t for s in a for t in texts(s)]
    assert len(set(every)) == 3000  # one grid point, one sentence: no sentence in two splits
    other = texts(load_split(DataConfig(dataset="text-shapes", subset=3000, data_seed=1), "train"))
    assert len(set(other) & set(texts(a[0]))) < 600  # another draw of 3000 of 25,920 (~280 shared expected)


def test_every_factor_is_read_back_from_the_words_of_the_sentence():
    for split, data in zip(("train", "val", "test"), splits(SMALL), strict=True):
        factors = text_shapes_factors(SMALL, split)
        assert factors.shape == (len(data), 4) and factors.dtype == torch.int64
        read = torch.tensor([factors_of_words(t.split()) for t in texts(data)])
        assert torch.equal(read, factors)
        assert torch.equal(data.labels, factors[:, 0])  # the label is the object
    assert factors_of_words(["a", "red", "square", "moves", "left", "."]) == (0, 0, -1, 0)  # no size said


def test_every_value_of_every_factor_and_every_wording_occurs():
    train = splits(SMALL)[0]
    factors = text_shapes_factors(SMALL, "train")
    assert [len(set(col.tolist())) for col in factors.T] == [5, 6, 4, 6]
    vocab_words = set(Vocabulary.from_stats(train.stats).tokens)
    factor_words = {*OBJECTS, *COLOURS, *SIZES, *(w for m in MOTIONS for w in " ".join(m).split())}
    pattern = re.compile(r"\b(" + "|".join(sorted(factor_words, key=len, reverse=True)) + r")\b")
    skeletons = {pattern.sub("_", t) for t in texts(train)}
    # 6 templates x 2 determiners x 3 adverbs: the same meaning is said in 36 ways
    assert len(skeletons) == len(TEMPLATES) * len(DETERMINERS) * len(ADVERBS) == 36
    assert len(vocab_words) == 4 + 44  # the specials and the grammar's 44 words
    assert sentence((0, 0, 1, 0, 0, 0, 0)) == ["a", "small", "red", "square", "moves", "left", "."]
    assert " ".join(sentence((3, 2, 3, 4, 2, 0, 2))) == "there is a huge blue star , spinning around quickly ."


def test_subset_and_max_length_are_checked():
    with pytest.raises(ConfigError, match="--subset 30000 is larger than the whole text-shapes grid"):
        load_split(DataConfig(dataset="text-shapes", subset=30_000), "train")
    with pytest.raises(ConfigError, match="--subset 5 is too small"):
        load_split(DataConfig(dataset="text-shapes", subset=5), "train")
    with pytest.raises(ConfigError, match="--max-length 8: text-shapes has sentences of 14 tokens"):
        load_split(DataConfig(dataset="text-shapes", subset=300, max_length=8, long_lines="refuse"), "train")
    cut = load_split(DataConfig(dataset="text-shapes", subset=300, max_length=8), "train")
    assert cut.event_shape == (9,) and int(cut.lengths.max()) == 9 and (cut.x[:, -1] != 0).sum() > 0
