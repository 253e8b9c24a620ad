"""The vocabulary: sizes under --min-count / --max-vocab on a hand-made corpus, fixed special ids, encode /
decode round trips, items, and the plain list kept in data_stats.json."""

from __future__ import annotations

import json

import pytest
import torch

from vaekit.errors import DataError
from vaekit.kinds.texts.vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocabulary

# counts: the 4, cat 3, sat 2, mat 1, on 1, a 1
CORPUS = [s.split() for s in ("the cat sat", "the cat sat on the mat", "a cat the")]


def test_specials_sit_at_fixed_ids_then_tokens_by_frequency_ties_alphabetical():
    v = Vocabulary.build(CORPUS)
    assert (PAD, UNK, BOS, EOS) == (0, 1, 2, 3) and SPECIALS == ("<pad>", "<unk>", "<bos>", "<eos>")
    assert v.tokens == (*SPECIALS, "the", "cat", "sat", "a", "mat", "on")
    assert len(v) == 10
    assert Vocabulary.build(CORPUS[::-1]).tokens == v.tokens  # the order of the sentences does not matter


@pytest.mark.parametrize(("min_count", "max_vocab", "kept"), [
    (1, 0, ("the", "cat", "sat", "a", "mat", "on")),
    (2, 0, ("the", "cat", "sat")),
    (3, 0, ("the", "cat")),
    (4, 0, ("the",)),
    (1, 4, ("the", "cat", "sat", "a")),
    (2, 2, ("the", "cat")),
    (1, 100, ("the", "cat", "sat", "a", "mat", "on")),
])
def test_min_count_and_max_vocab_give_the_sizes_they_promise(min_count, max_vocab, kept):
    v = Vocabulary.build(CORPUS, min_count=min_count, max_vocab=max_vocab)
    assert v.tokens == (*SPECIALS, *kept) and len(v) == 4 + len(kept)


def test_encode_then_decode_gives_the_sentence_back_and_unknown_words_read_unk():
    v = Vocabulary.build(CORPUS)
    for sentence in CORPUS:
        assert v.decode(v.encode(sentence)) == sentence
    assert v.encode(["the", "dog", "sat"]) == [4, UNK, 6]
    assert v.decode(v.encode(["the", "dog", "sat"])) == ["the", "<unk>", "sat"]
    v2 = Vocabulary.build(CORPUS, min_count=2)  # rare words become <unk>
    assert v2.encode(["a", "cat", "on", "the", "mat"]) == [UNK, 5, UNK, 4, UNK]


def test_decode_stops_at_eos_and_drops_pads_and_bos():
    v = Vocabulary.build(CORPUS)
    assert v.decode([BOS, 4, 5, EOS, 6, 7]) == ["the", "cat"]
    assert v.decode([4, PAD, 5, PAD]) == ["the", "cat"]
    assert v.decode([EOS, 4]) == []
    assert v.decode(torch.tensor([6, 5, EOS, PAD])) == ["sat", "cat"]
    with pytest.raises(DataError, match="token id 10 is outside the vocabulary of 10 tokens"):
        v.decode([4, 10])


def test_special_strings_in_a_corpus_are_not_counted_and_read_as_unknown():
    v = Vocabulary.build([["<unk>", "x", "<eos>", "<pad>", "<bos>", "x"]])
    assert v.tokens == (*SPECIALS, "x")
    assert v.encode(["x", "<eos>", "<unk>", "<pad>", "x"]) == [4, UNK, UNK, UNK, 4]  # <eos> in text ends nothing


def test_items_are_ids_then_eos_then_pads():
    v = Vocabulary.build(CORPUS)
    x = v.items([["the", "cat"], ["dog"], []], max_length=4)
    assert x.dtype == torch.int64
    assert x.tolist() == [[4, 5, EOS, 0, 0], [UNK, EOS, 0, 0, 0], [EOS, 0, 0, 0, 0]]
    with pytest.raises(DataError, match="a sentence of 3 tokens is longer than --max-length 2"):
        v.items([["the", "cat", "sat"]], max_length=2)


def test_the_stats_list_round_trips_through_json():
    v = Vocabulary.build(CORPUS, max_vocab=3)
    stats = json.loads(json.dumps(v.to_stats()))
    assert stats == {"vocabulary": ["<pad>", "<unk>", "<bos>", "<eos>", "the", "cat", "sat"]}
    again = Vocabulary.from_stats(stats)
    assert again == v and again.encode(["sat", "mat"]) == [6, UNK]


def test_an_empty_vocabulary_and_malformed_stats_are_clear_errors():
    with pytest.raises(DataError, match="6 distinct tokens, none seen at least --min-count 5 times"):
        Vocabulary.build(CORPUS, min_count=5)
    with pytest.raises(DataError, match="it holds no tokens"):
        Vocabulary.build([[], []])
    with pytest.raises(DataError, match="holds no ordinary token"):
        Vocabulary(SPECIALS)
    with pytest.raises(DataError, match=r"data_stats.json: expected a 'vocabulary' list of token strings .* no data"):
        Vocabulary.from_stats(None)
    with pytest.raises(DataError, match=r"data_stats.json: expected a 'vocabulary' list .* got no 'vocabulary' entry"):
        Vocabulary.from_stats({"mean": [0.0]})
    with pytest.raises(DataError, match=r"data_stats.json: a vocabulary starts with <pad>, <unk>, <bos>, <eos>; "
                                        r"this one starts with 'the'"):
        Vocabulary.from_stats({"vocabulary": ["the", "cat"]})
    with pytest.raises(DataError, match="got a list with non-strings"):
        Vocabulary.from_stats({"vocabulary": [*SPECIALS, 7]})
    with pytest.raises(DataError, match="'cat' appear twice"):
        Vocabulary.from_stats({"vocabulary": [*SPECIALS, "cat", "the", "cat"]})
