"""Sentences from files: one sentence a line, UTF-8, tokens split at whitespace.

`--data text --data-dir PATH` reads a folder with train.txt / valid.txt / test.txt, or class-suffixed files
train.0, train.1, ... (with valid.K and test.K; the label is the suffix's rank, its name the suffix), or one
file split 90/5/5 into train / val / test by a permutation seeded with --data-seed. `--data yelp` reads
$VAEKIT_DATA/yelp/{train,valid,test}.{0,1} (0: negative review, 1: positive). Empty lines are skipped and
counted; lines longer than --max-length are cut (--long-lines truncate) or refused with the file and line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from vaekit.config import DataConfig
from vaekit.data.base import check_split, split_indices
from vaekit.errors import DataError

log = logging.getLogger("vaekit.kinds.texts")

FILE_NAMES = {"train": "train", "val": "valid", "test": "test"}  # split -> file stem
ONE_FILE_HELD_OUT = 0.05  # one file: 5 % validation, 5 % test, 90 % training
YELP_LABELS = ["negative", "positive"]


@dataclass
class Sentences:
    """A split's tokenised sentences, with their class labels (or None) and the classes' names."""
    tokens: list[list[str]]
    labels: list[int] | None = None
    label_names: list[str] | None = None


def read_sentences(path: Path, cfg: DataConfig) -> list[list[str]]:
    """The tokenised sentences of one file, empty lines skipped. Long lines are cut to --max-length, or
    refused with their line number (--long-lines refuse)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path} is missing") from None
    except OSError as e:  # a folder in the file's place, permissions
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise DataError(f"{path}:{line}: not UTF-8 text (byte {raw[e.start]:#04x} at offset {e.start})") from None
    if text.startswith("\ufeff"):  # a byte-order mark some editors write
        text = text[1:]
    if cfg.lowercase:
        text = text.lower()
    sentences, empty, cut = [], 0, 0
    # split("\n"), not splitlines(): the latter also breaks at \x0b, \x1c or U+2028 and would miscount lines
    lines = text.split("\n")
    if lines[-1] == "":  # the file ends with a newline: no line after it
        lines.pop()
    for number, line in enumerate(lines, 1):
        tokens = line.split()
        if not tokens:
            empty += 1
            continue
        if len(tokens) > cfg.max_length:
            if cfg.long_lines == "refuse":
                raise DataError(f"{path}:{number}: {len(tokens)} tokens, more than --max-length {cfg.max_length} "
                                "(raise --max-length, or --long-lines truncate to cut such lines)")
            tokens, cut = tokens[:cfg.max_length], cut + 1
        sentences.append(tokens)
    if not sentences:
        raise DataError(f"{path}: no sentences (the file holds {empty} empty lines and nothing else)")
    if empty or cut:
        log.warning("%s: %d sentences read; %d empty lines skipped, %d lines cut to --max-length %d", path,
                    len(sentences), empty, cut, cfg.max_length)
    return sentences


def read_classes(folder: Path, stem: str, suffixes: list[str], cfg: DataConfig) -> Sentences:
    """stem.K for every class suffix K: the sentences of all classes, labelled with the suffix's rank."""
    tokens: list[list[str]] = []
    labels: list[int] = []
    for label, suffix in enumerate(suffixes):
        part = read_sentences(folder / f"{stem}.{suffix}", cfg)
        tokens += part
        labels += [label] * len(part)
    return Sentences(tokens, labels, list(suffixes))


def class_suffixes(folder: Path) -> list[str]:
    """The suffixes K of the train.K files in a folder, numbers in numeric order, others after them."""
    found = [p.name[len("train."):] for p in folder.glob("train.*") if p.is_file()]
    found = [s for s in found if s and s != "txt"]
    return sorted(found, key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s))


def read_text_split(cfg: DataConfig, split: str) -> Sentences:
    """One split of `--data text --data-dir PATH` (a folder of splits, or one file split 90/5/5)."""
    check_split(split)
    path = Path(cfg.data_dir or "")
    if not path.exists():
        raise DataError(f"--data-dir {path} does not exist (a folder with train.txt/valid.txt/test.txt or "
                        "train.0/valid.0/test.0..., or one text file)")
    if path.is_file():
        return one_file_split(path, cfg, split)
    stem = FILE_NAMES[split]
    if (path / "train.txt").is_file():
        return Sentences(read_sentences(path / f"{stem}.txt", cfg))
    suffixes = class_suffixes(path)
    if not suffixes:
        raise DataError(f"--data-dir {path}: expected train.txt, valid.txt and test.txt, or class-suffixed "
                        "train.0, valid.0, test.0, train.1, ...; found neither train.txt nor train.K")
    return read_classes(path, stem, suffixes, cfg)


def one_file_split(path: Path, cfg: DataConfig, split: str) -> Sentences:
    """The split of one file's sentences: a permutation seeded with --data-seed, 5 % val, 5 % test."""
    sentences = read_sentences(path, cfg)
    try:
        idx = split_indices(len(sentences), ONE_FILE_HELD_OUT, cfg.data_seed, split)
    except DataError as e:
        raise DataError(f"{path}: {e}") from None
    return Sentences([sentences[i] for i in idx.tolist()])


def yelp_folder(data_dir: str | None) -> Path:
    """The folder with yelp's six files: --data-dir (or its yelp/), else $VAEKIT_DATA/yelp."""
    from vaekit.data.locate import corpus_folder

    return corpus_folder("yelp", data_dir, [f"{stem}.{k}" for stem in FILE_NAMES.values() for k in (0, 1)])


def read_yelp_split(cfg: DataConfig, split: str) -> Sentences:
    check_split(split)
    found = read_classes(yelp_folder(cfg.data_dir), FILE_NAMES[split], ["0", "1"], cfg)
    found.label_names = list(YELP_LABELS)
    return found
