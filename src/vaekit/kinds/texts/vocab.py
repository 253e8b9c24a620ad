"""The vocabulary of a text data set: token <-> id, built from the training split's tokens.

Four special tokens sit at fixed ids: `<pad>` 0 (fills an item after its end), `<unk>` 1 (a token outside
the vocabulary), `<bos>` 2 (the decoder's first input; never stored in an item) and `<eos>` 3 (ends every
item). Ordinary tokens follow, the most frequent first, ties in alphabetical order, so one training split
gives one vocabulary on every machine. The run keeps it as the plain list `stats["vocabulary"]` (list
index = id) in data_stats.json.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from vaekit.errors import DataError

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")


@dataclass(frozen=True)
class Vocabulary:
    tokens: tuple[str, ...]  # tokens[i] is the token of id i; SPECIALS first
    ids: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if tuple(self.tokens[:len(SPECIALS)]) != SPECIALS:
            raise DataError(f"a vocabulary starts with {', '.join(SPECIALS)}; this one starts with "
                            f"{', '.join(map(repr, self.tokens[:len(SPECIALS)]))}")
        ids = {tok: i for i, tok in enumerate(self.tokens)}
        if len(ids) != len(self.tokens):
            twice = sorted(t for t, c in Counter(self.tokens).items() if c > 1)
            raise DataError(f"a vocabulary lists each token once; {', '.join(map(repr, twice[:5]))} appear twice")
        if len(ids) == len(SPECIALS):
            raise DataError("the vocabulary holds no ordinary token (only the special ones): the training split "
                            "has no token left after --min-count / --max-vocab")
        for special in ("<pad>", "<bos>", "<eos>"):  # in text they are ordinary strings: read as unknown
            ids[special] = UNK
        object.__setattr__(self, "ids", ids)

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 1, max_vocab: int = 0) -> Vocabulary:
        """From the training split's tokenised sentences: the tokens seen at least `min_count` times, the
        `max_vocab` most frequent of them (0 = all)."""
        counts = Counter(tok for sentence in sentences for tok in sentence)
        for special in SPECIALS:  # a literal <unk> in a corpus (e.g. the Penn Treebank's) is the unknown token
            counts.pop(special, None)
        kept = sorted((tok for tok, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        if max_vocab:
            kept = kept[:max_vocab]
        if not kept:
            raise DataError(f"the training split gives an empty vocabulary: {len(counts)} distinct tokens, none "
                            f"seen at least --min-count {min_count} times" if counts else
                            "the training split gives an empty vocabulary: it holds no tokens")
        return cls((*SPECIALS, *kept))

    @classmethod
    def from_stats(cls, stats: dict | None, where: str = "data_stats.json") -> Vocabulary:
        """The vocabulary a run keeps in its data stats (`to_stats`)."""
        tokens = None if not isinstance(stats, dict) else stats.get("vocabulary")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            got = ("no data stats" if stats is None else "no 'vocabulary' entry" if tokens is None else
                   f"a {type(tokens).__name__}" if not isinstance(tokens, list) else "a list with non-strings")
            raise DataError(f"{where}: expected a 'vocabulary' list of token strings (text data), got {got}")
        try:
            return cls(tuple(tokens))
        except DataError as e:
            raise DataError(f"{where}: {e}") from None

    def to_stats(self) -> dict:
        return {"vocabulary": list(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Token ids; a token outside the vocabulary is `<unk>`. No `<eos>` is added."""
        get = self.ids.get
        return [get(tok, UNK) for tok in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ids up to the first `<eos>` (excluded); `<pad>` and `<bos>` are dropped."""
        return [self.tokens[i] for i in self.content(ids)]

    def content(self, ids: Iterable[int]) -> list[int]:
        """The ids `decode` turns into tokens: those before the first `<eos>`, except `<pad>` and `<bos>`."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            if not 0 <= i < len(self.tokens):
                raise DataError(f"token id {i} is outside the vocabulary of {len(self.tokens)} tokens")
            out.append(i)
        return out

    def items(self, sentences: Sequence[Sequence[str]], max_length: int) -> torch.Tensor:
        """Sentences of at most `max_length` tokens as items (N, max_length + 1) int64: ids, `<eos>`, `<pad>`s."""
        x = np.zeros((len(sentences), max_length + 1), dtype=np.int64)  # PAD == 0
        get = self.ids.get
        for row, sentence in zip(x, sentences, strict=True):
            n = len(sentence)
            if n > max_length:
                raise DataError(f"a sentence of {n} tokens is longer than --max-length {max_length}")
            row[:n] = [get(tok, UNK) for tok in sentence]
            row[n] = EOS
        return torch.from_numpy(x)
