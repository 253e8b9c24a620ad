"""Sentences for a person: items (N, T) of token ids as words, in a text file or a piece of HTML.

Items come in rows of `per_row` (samples, reconstruction pairs as a row of inputs then the row of their
reconstructions, an interpolation or a traversal per row). A row is a numbered block of lines, so the
i-th sentence of one row and the i-th of the next (an input and its reconstruction) carry the same number;
the HTML puts the blocks side by side where the page is wide enough. `<unk>` is written as such, and marked
in the HTML.
"""

from __future__ import annotations

import html
from pathlib import Path

import torch

from vaekit.errors import DataError
from vaekit.kinds.texts.vocab import SPECIALS, UNK, Vocabulary

EMPTY = "(empty)"  # an item whose first token is <eos>


def item_ids(items: torch.Tensor) -> list[list[int]]:
    """Items (N, T) of token ids as lists; float items must hold whole numbers (e.g. ids saved as .npy)."""
    if items.dim() != 2:
        raise DataError(f"sentences are items (N, T) of token ids; got a tensor of shape {tuple(items.shape)}")
    items = items.detach().cpu()
    if items.is_floating_point():
        if not torch.equal(items, items.round()):
            raise DataError("sentences are token ids; these items hold fractional values")
        items = items.long()
    return items.tolist()


def rows_of(texts: list[str], per_row: int | None) -> list[list[str]]:
    per_row = per_row or max(1, len(texts))
    return [texts[i:i + per_row] for i in range(0, len(texts), per_row)]


def sentence_text(vocab: Vocabulary, ids: list[int]) -> str:
    words = vocab.decode(ids)
    return " ".join(words) if words else EMPTY


def sentence_texts(items: torch.Tensor, vocab: Vocabulary) -> list[str]:
    """Each item's words up to its `<eos>`, joined by spaces."""
    return [sentence_text(vocab, ids) for ids in item_ids(items)]


def write_sentences(items: torch.Tensor, out: Path, per_row: int | None, vocab: Vocabulary) -> Path:
    """`out` with the suffix .txt: one sentence a line, numbered within its row; a blank line between rows."""
    rows = rows_of(sentence_texts(items, vocab), per_row)
    width = len(str(max(len(r) for r in rows))) if rows else 1
    blocks = ["\n".join(f"{i:>{width}}  {text}" for i, text in enumerate(row, 1)) for row in rows]
    path = out.with_suffix(".txt")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def html_words(vocab: Vocabulary, ids: list[int]) -> str:
    """One sentence as escaped HTML, `<unk>` marked."""
    unk = f'<span style="color:#b00;font-weight:bold">{html.escape(SPECIALS[UNK])}</span>'
    words = [unk if i == UNK else html.escape(vocab.tokens[i]) for i in vocab.content(ids)]
    return " ".join(words) if words else f"<i>{EMPTY}</i>"


def sentences_html(items: torch.Tensor, alt: str, per_row: int | None, vocab: Vocabulary) -> str:
    """A self-contained piece of HTML: one numbered list per row, the rows side by side where they fit."""
    rows = rows_of([html_words(vocab, ids) for ids in item_ids(items)], per_row)
    lists = "".join('<ol style="flex:1 1 22em;margin:0 1em 0.8em 0;padding-left:2em;font-family:monospace">'
                    + "".join(f"<li>{s}</li>" for s in row) + "</ol>" for row in rows)
    return (f'<div class="sentences" role="group" aria-label="{html.escape(alt)}" '
            f'style="display:flex;flex-wrap:wrap">{lists}</div>')
