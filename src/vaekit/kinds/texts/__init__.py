"""Texts: sentences as items (T_max,) of token ids — the sentence's ids, `<eos>`, then `<pad>` (0) up to
T_max = --max-length + 1. Data sets: the built-in `text-shapes` (`grammar`), `yelp` and a user's `text`
files (`corpus`); the vocabulary (`vocab`) is built from the training split and kept in the data's stats;
sentences are written for a person as text and HTML (`show`). The networks and the categorical likelihood
live in `nets` (an LSTM VAE and an LSTM language model). docs/texts.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from vaekit.errors import ConfigError, DataError
from vaekit.kinds.base import Kind, Unit


class TextKind(Kind):
    name = "texts"
    datasets = ("text-shapes", "yelp", "text")
    architectures = ("lstm", "lm")
    likelihoods = ("categorical",)
    needs_data_dir = ("text",)
    # latent_dim 32: He et al. 2019's sentence VAEs
    model_defaults: ClassVar[dict[str, Any]] = {"arch": "lstm", "likelihood": "categorical", "latent_dim": 32}
    compiles = False  # every batch is cut to its longest sentence: a new shape each step
    eval_k = 500  # He et al. 2019's importance samples for sentence VAEs

    # --- data -----------------------------------------------------------------------------------
    def load_split(self, cfg: Any, split: str, stats: dict | None = None) -> Any:
        """A split as `TensorData` x (N, T_max) int64. The training split without `stats` builds the
        vocabulary (--min-count, --max-vocab); every other split, and a resumed run, read it from `stats`."""
        from vaekit.kinds.texts.vocab import Vocabulary

        found = read_split(cfg, split)
        if stats is None:
            if split != "train":
                raise DataError(f"the {split} split of {cfg.dataset} needs the training split's vocabulary "
                                "(its data stats)")
            vocab = Vocabulary.build(found.tokens, cfg.min_count, cfg.max_vocab)
        else:
            vocab = Vocabulary.from_stats(stats)
        return sentence_data(found.tokens, vocab, cfg.max_length, found.labels, found.label_names)

    def load_path(self, path: Path, cfg: Any, stats: dict | None = None) -> Any:
        """A text file of sentences (one a line, read as the run's --lowercase, --max-length and
        --long-lines say), as items with the run's vocabulary."""
        from vaekit.kinds.texts.corpus import read_sentences
        from vaekit.kinds.texts.vocab import Vocabulary

        if path.is_dir():
            raise DataError(f"{path} is a folder; give a text file of sentences, one a line")
        vocab = Vocabulary.from_stats(stats, "the run's data_stats.json")
        return sentence_data(read_sentences(path, cfg), vocab, cfg.max_length)

    # --- model ----------------------------------------------------------------------------------
    def networks(self, cfg: Any, event_shape: tuple[int, ...], params_per_dim: int,
                 stats: dict | None = None) -> tuple[torch.nn.Module, torch.nn.Module]:
        size = vocabulary_size(stats)  # checked before the networks' module is imported
        from vaekit.kinds.texts.nets import text_networks

        return text_networks(cfg, event_shape, size)

    def likelihood(self, cfg: Any, event_shape: tuple[int, ...], stats: dict | None = None) -> torch.nn.Module:
        size = vocabulary_size(stats)  # checked before the networks' module is imported
        from vaekit.kinds.texts.nets import text_likelihood

        return text_likelihood(cfg, event_shape, size)

    def init_model(self, model: Any, data: Any) -> None:
        """The decoder's output bias at the log-frequencies of the training tokens (<eos> included; <pad>
        and <bos>, never predicted, at a frequency of 1e-6 of a token's)."""
        x = torch.as_tensor(data.x)
        counts = torch.bincount(x[x != 0].flatten(), minlength=vocabulary_size(data.stats)).double()
        log_freq = (counts / counts.sum()).clamp(min=1e-6 / counts.sum()).log()
        model.likelihood_head.set_output_bias(log_freq.float())

    def unit(self, model: Any, data: Any) -> Unit | None:
        """nats per token, the tokens of an item counting its `<eos>` (as He et al. 2019 count them): the
        item's nats over the data's mean tokens per item; exp of it is the perplexity, reported beside it."""
        return Unit("nats/token", "nats_per_token", mean_tokens(data), exp_key="perplexity")

    # --- for a person ---------------------------------------------------------------------------
    def shows(self, event_shape: tuple[int, ...], data: Any = None) -> bool:
        return len(tuple(event_shape)) == 1

    def write_grid(self, items: torch.Tensor, out: Path, per_row: int | None = None,
                   stats: dict | None = None) -> list[Path]:
        """`out` with the suffix .txt: a sentence a line, a blank line between rows of `per_row`."""
        from vaekit.kinds.texts.show import write_sentences
        from vaekit.kinds.texts.vocab import Vocabulary

        return [write_sentences(items, out, per_row, Vocabulary.from_stats(stats))]

    def html_grid(self, items: torch.Tensor, alt: str, per_row: int | None = None, stats: dict | None = None) -> str:
        from vaekit.kinds.texts.show import sentences_html
        from vaekit.kinds.texts.vocab import Vocabulary

        return sentences_html(items, alt, per_row, Vocabulary.from_stats(stats))

    def parse_input(self, text: str, stats: dict | None, cfg: Any) -> torch.Tensor:
        """A typed sentence as one item (1, T_max), tokenised as the corpus files are (`corpus.read_sentences`:
        lowercased under --lowercase, split at whitespace, cut to --max-length under --long-lines truncate),
        tokens outside the run's vocabulary as `<unk>`."""
        from vaekit.kinds.texts.vocab import Vocabulary

        tokens = (text.lower() if cfg.lowercase else text).split()
        if not tokens:
            raise DataError("type a sentence: the input holds no words")
        if len(tokens) > cfg.max_length:
            if cfg.long_lines == "refuse":
                raise DataError(f"the sentence has {len(tokens)} tokens, more than the run's --max-length "
                                f"{cfg.max_length}")
            tokens = tokens[:cfg.max_length]
        return Vocabulary.from_stats(stats, "the run's data_stats.json").items([tokens], cfg.max_length)


def read_split(cfg: Any, split: str) -> Any:
    """The tokenised sentences of a split of `cfg.dataset` (`corpus.Sentences`)."""
    from vaekit.kinds.texts.corpus import Sentences, read_text_split, read_yelp_split

    if cfg.dataset == "text-shapes":
        from vaekit.kinds.texts.grammar import OBJECTS, text_shapes

        tokens, factors = text_shapes(cfg, split)
        longest = max(map(len, tokens))
        if longest > cfg.max_length:
            if cfg.long_lines == "refuse":
                raise ConfigError(f"--max-length {cfg.max_length}: text-shapes has sentences of {longest} tokens "
                                  "(raise --max-length, or --long-lines truncate to cut them)")
            tokens = [t[:cfg.max_length] for t in tokens]
        return Sentences(tokens, factors[:, 0].tolist(), list(OBJECTS))
    if cfg.dataset == "yelp":
        return read_yelp_split(cfg, split)
    return read_text_split(cfg, split)


def sentence_data(tokens: list[list[str]], vocab: Any, max_length: int, labels: list[int] | None = None,
                  label_names: list[str] | None = None) -> Any:
    """Tokenised sentences (each at most `max_length` tokens) as a `TensorData` of items (N, max_length + 1)."""
    from vaekit.data.base import TensorData

    x = vocab.items(tokens, max_length)  # (N, T_max)
    return TensorData(x, None if labels is None else torch.tensor(labels, dtype=torch.int64), binarize="none",
                      stats=vocab.to_stats(), label_names=label_names, is_image=False, kind="texts",
                      lengths=(x != 0).sum(-1))


def vocabulary_size(stats: dict | None) -> int:
    """len(stats["vocabulary"]): the width of a text model's embeddings and output layer."""
    tokens = stats.get("vocabulary") if isinstance(stats, dict) else None
    if not isinstance(tokens, list) or not tokens:
        raise ConfigError("a text model needs its training split's vocabulary (the data stats "
                          "{'vocabulary': [...]}, saved in the run folder as data_stats.json); none was given")
    return len(tokens)


def mean_tokens(data: Any) -> float:
    """Mean tokens per item, `<eos>` included: (x != <pad>) counted over the items."""
    lengths = getattr(data, "lengths", None)
    if lengths is None:
        lengths = (torch.as_tensor(data.x) != 0).sum(-1)
    if len(lengths) == 0:
        raise DataError("no sentences to count tokens over")
    return float(lengths.double().mean())
