"""Sentences for a person: the exact text file of rows of items, the HTML piece (escaped, <unk> marked,
one numbered list per row), reconstruction pairs laid out as numbered rows, and clear errors."""

from __future__ import annotations

import html.parser

import pytest
import torch

from vaekit.errors import DataError
from vaekit.kinds import kind_of
from vaekit.kinds.images.grid import reconstruction_pairs
from vaekit.kinds.texts.vocab import EOS, UNK

STATS = {"vocabulary": ["<pad>", "<unk>", "<bos>", "<eos>", "the", "cat", "sat", "<b>&", "."]}
KIND = kind_of("text")
# rows of 2: "the cat sat .", "the <unk> ." | "(empty)", "<b>& cat"
ITEMS = torch.tensor([[4, 5, 6, 8, EOS, 0], [4, UNK, 8, EOS, 0, 0], [EOS, 0, 0, 0, 0, 0], [7, 5, EOS, 4, 4, 4]])


def test_the_text_file_has_one_sentence_a_line_numbered_in_rows(tmp_path):
    written = KIND.write_grid(ITEMS, tmp_path / "out" / "samples.png", 2, STATS)
    assert written == [tmp_path / "out" / "samples.txt"]
    assert written[0].read_text(encoding="utf-8") == ("1  the cat sat .\n2  the <unk> .\n\n"
                                                      "1  (empty)\n2  <b>& cat\n")
    KIND.write_grid(ITEMS, tmp_path / "all.png", None, STATS)  # one row
    assert (tmp_path / "all.txt").read_text().splitlines()[3] == "4  <b>& cat"


def test_reconstruction_pairs_put_an_input_and_its_output_under_the_same_number(tmp_path):
    x = torch.tensor([[4, 5, EOS], [4, 6, EOS], [5, 5, EOS], [6, EOS, 0]])
    recon = torch.tensor([[4, 5, EOS], [4, 5, EOS], [5, EOS, 0], [6, EOS, 0]])
    pairs, ncol = reconstruction_pairs(x, recon, 2)
    assert pairs.shape == (8, 3)  # (2 * N, T): a row of inputs, the row of their reconstructions, ...
    KIND.write_grid(pairs, tmp_path / "recon.png", ncol, STATS)
    blocks = (tmp_path / "recon.txt").read_text().split("\n\n")
    assert blocks == ["1  the cat\n2  the sat", "1  the cat\n2  the cat", "1  cat cat\n2  sat",
                      "1  cat\n2  sat\n"]


class Lists(html.parser.HTMLParser):
    """The text of each <li>, grouped by <ol>, from a piece of HTML (the standard library's parser)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.marked: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        if tag == "ol":
            self.rows.append([])
        elif tag == "li":
            self.rows[-1].append("")
        elif tag == "span":
            self.depth += 1

    def handle_endtag(self, tag):
        if tag == "span":
            self.depth -= 1

    def handle_data(self, data):
        if self.rows and self.rows[-1]:
            self.rows[-1][-1] += data
        if self.depth:
            self.marked.append(data)


def test_the_html_piece_escapes_the_words_and_marks_unk():
    piece = KIND.html_grid(ITEMS, "samples <1>", 2, STATS)
    assert "<b>&" not in piece and "&lt;b&gt;&amp;" in piece  # a token is text, never markup
    assert 'aria-label="samples &lt;1&gt;"' in piece
    parsed = Lists()
    parsed.feed(piece)
    assert parsed.rows == [["the cat sat .", "the <unk> ."], ["(empty)", "<b>& cat"]]
    assert parsed.marked == ["<unk>"]  # the one unknown word is set apart
    assert piece.count("<ol") == 2 and piece.count("<li>") == 4


def test_items_that_are_not_sentences_are_refused(tmp_path):
    assert KIND.html_grid(ITEMS.float(), "x", 2, STATS) == KIND.html_grid(ITEMS, "x", 2, STATS)  # ids saved as .npy
    with pytest.raises(DataError, match="these items hold fractional values"):
        KIND.html_grid(ITEMS.float() + 0.5, "x", 2, STATS)
    with pytest.raises(DataError, match=r"items \(N, T\) of token ids; got a tensor of shape \(2, 3, 4\)"):
        KIND.write_grid(torch.zeros(2, 3, 4, dtype=torch.long), tmp_path / "x.png", 2, STATS)
    with pytest.raises(DataError, match="token id 9 is outside the vocabulary of 9 tokens"):
        KIND.write_grid(torch.tensor([[4, 9, EOS]]), tmp_path / "x.png", 1, STATS)
    with pytest.raises(DataError, match="expected a 'vocabulary' list of token strings"):
        KIND.html_grid(ITEMS, "x", 2, None)
