"""Sound data sets from files, and the one entry point of all three sound data sets, `read_clips`.

`--data spoken-digits` reads $VAEKIT_DATA/spoken-digits (or --data-dir): its metadata.csv names each clip's
file, digit, speaker and split (train / val / test, by speaker, so the test voices are unseen). The label is the
digit ("zero".."nine"), or with --audio-label speaker the speaker ("s00".."s79"; test speakers then never
appear in training). The integer columns (digit, speaker, rate_wpm, pitch) are the clips' factors. Decoding
all 3,200 FLACs takes about a second, so the decoded clips are not cached.

`--data audio --data-dir DIR` reads a user's folder: either one subfolder per class (the label is the
subfolder, classes in sorted order) holding .wav / .flac / .ogg files (any case), or plain files (no labels),
or a metadata.csv with a `file` column (a path relative to DIR) and optional `label` and `split` columns (its
other integer columns become factors; when present, it alone decides what is read). Without a split column
the clips are cut into train / val / test by a --data-seed permutation, --val-fraction each for val and test.

Every clip is read by `audio.read_clip` (mono, resampled to --sample-rate), scaled to --loudness, then cropped
or padded to --clip-seconds (default: spoken-digits 0.8 s, longer than its longest clip; audio 1.0 s).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import torch

from vaekit.config import DataConfig
from vaekit.data.base import SPLITS, check_split, split_indices
from vaekit.errors import ConfigError, DataError
from vaekit.kinds.sounds import tones
from vaekit.kinds.sounds.audio import Clips, fit_length, is_audio, normalise_loudness, read_clip, seconds_to_samples

DATASETS = ("tones", "spoken-digits", "audio")
DEFAULT_SECONDS = {"tones": tones.DEFAULT_SECONDS, "spoken-digits": 0.8, "audio": 1.0}
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
METADATA = "metadata.csv"
RESERVED_COLUMNS = ("file", "label", "split")  # metadata columns that are never factors


def clip_seconds(cfg: DataConfig) -> float:
    """--clip-seconds, or the data set's default length."""
    if cfg.dataset not in DEFAULT_SECONDS:
        raise ConfigError(f"data={cfg.dataset!r} is not a sound data set ({', '.join(DATASETS)})")
    return cfg.clip_seconds or DEFAULT_SECONDS[cfg.dataset]


def read_clips(cfg: DataConfig, split: str) -> Clips:
    """One split of a sound data set (--data tones, spoken-digits or audio) as `Clips`."""
    check_split(split)
    loaders = {"tones": tones.load_tones, "spoken-digits": load_spoken_digits, "audio": load_audio_folder}
    if cfg.dataset not in loaders:
        raise ConfigError(f"data={cfg.dataset!r} is not a sound data set ({', '.join(DATASETS)})")
    return loaders[cfg.dataset](cfg, split)


def read_waves(files: list[Path], cfg: DataConfig) -> torch.Tensor:
    """Read, scale to --loudness and fit to the clip length each file: (N, S) float32.

    Loudness is set on the whole clip before it is fitted, so the padding's silence does not count."""
    n = seconds_to_samples(clip_seconds(cfg), cfg.sample_rate)
    out = torch.zeros(len(files), n)
    for i, path in enumerate(files):
        out[i] = fit_length(normalise_loudness(read_clip(path, cfg.sample_rate), cfg.loudness), n)
    return out


def read_metadata(path: Path) -> list[tuple[int, dict[str, str]]]:
    """The rows of a metadata.csv as (line number, {column: value}); it needs a `file` column, and a `split`
    column, when present, holds only train / val / test."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            rows = [(reader.line_num, row) for row in reader]
            columns = list(reader.fieldnames or [])
    except FileNotFoundError:
        raise DataError(f"{path} is missing") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte offset {e.start})") from None
    except (OSError, csv.Error) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    if "file" not in columns:
        raise DataError(f"{path}: needs a `file` column (a path relative to its folder); found columns "
                        f"{', '.join(columns) or 'none'}")
    if not rows:
        raise DataError(f"{path} names no files (a header and no rows)")
    for line, row in rows:
        if None in row or any(v is None for v in row.values()):
            raise DataError(f"{path}:{line}: {len(row)} fields where the header has {len(columns)}")
        if not row["file"].strip():
            raise DataError(f"{path}:{line}: empty `file`")
        if "split" in row and row["split"] not in SPLITS:
            raise DataError(f"{path}:{line}: split {row['split']!r} is not one of {', '.join(SPLITS)}")
    return rows


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def int_columns(rows: list[tuple[int, dict[str, str]]]) -> list[str]:
    """The metadata columns (besides file, label and split) whose every value is an integer: the factors."""
    columns = [c for c in rows[0][1] if c not in RESERVED_COLUMNS]
    return [c for c in columns if all(_int_or_none(row[c]) is not None for _, row in rows)]


def _sorted_names(values: set[str]) -> list[str]:
    """Class names in order: integers numerically first, then the others alphabetically."""
    return sorted(values, key=lambda s: (_int_or_none(s) is None, _int_or_none(s) or 0, s))


def _factors(rows: list[tuple[int, dict[str, str]]], names: list[str]) -> torch.Tensor | None:
    if not names:
        return None
    return torch.tensor([[int(row[c]) for c in names] for _, row in rows], dtype=torch.int64)  # (N, F)


def _check_files(root: Path, meta: Path, rows: list[tuple[int, dict[str, str]]]) -> list[Path]:
    """The files the rows name, each checked to exist (every split's, so a bad row shows whatever the split)."""
    files = []
    for line, row in rows:
        path = root / row["file"]
        if not path.is_file():
            raise DataError(f"{meta}:{line}: {row['file']} names no file ({path} is missing)")
        files.append(path)
    return files


def spoken_digits_folder(data_dir: str | None) -> Path:
    """The folder with the corpus' metadata.csv: --data-dir (or its spoken-digits/), else
    $VAEKIT_DATA/spoken-digits."""
    from vaekit.data.locate import corpus_folder

    return corpus_folder("spoken-digits", data_dir, [METADATA])


def load_spoken_digits(cfg: DataConfig, split: str) -> Clips:
    """One split of spoken-digits, labelled by digit or speaker (--audio-label)."""
    check_split(split)
    root = spoken_digits_folder(cfg.data_dir)
    meta = root / METADATA
    rows = read_metadata(meta)
    for column in ("digit", "speaker", "split"):
        if column not in rows[0][1]:
            raise DataError(f"{meta}: needs a `{column}` column (spoken-digits' layout: see its README.md)")
    factor_names = int_columns(rows)
    if cfg.audio_label not in factor_names:
        raise DataError(f"{meta}: the `{cfg.audio_label}` column must hold integers")
    ids = [int(row[cfg.audio_label]) for _, row in rows]
    if min(ids) < 0 or (cfg.audio_label == "digit" and max(ids) > 9):
        raise DataError(f"{meta}: `{cfg.audio_label}` values must lie in "
                        f"{'0-9' if cfg.audio_label == 'digit' else '0 and above'}, found {min(ids)}..{max(ids)}")
    names = list(DIGIT_NAMES) if cfg.audio_label == "digit" else [f"s{i:02d}" for i in range(max(ids) + 1)]
    files = _check_files(root, meta, rows)
    keep = [i for i, (_, row) in enumerate(rows) if row["split"] == split]
    if not keep:
        raise DataError(f"{meta}: no clip of split {split}")
    chosen = [rows[i] for i in keep]
    return Clips(read_waves([files[i] for i in keep], cfg), cfg.sample_rate,
                 labels=torch.tensor([ids[i] for i in keep], dtype=torch.int64), label_names=names,
                 factors=_factors(chosen, factor_names), factor_names=factor_names or None,
                 files=[row["file"] for _, row in chosen])


def list_audio(root: Path) -> tuple[list[Path], list[int] | None, list[str] | None]:
    """Audio files under root (sorted); with class subfolders also their labels and the class names."""
    from vaekit.data.locate import class_folders

    files, labels, classes = class_folders(root, is_audio, "audio folder")
    if not files:
        raise DataError(f"audio folder {root} has no audio files (.wav, .flac, .ogg, in any case) in it or in class "
                        f"subfolders, and no {METADATA}")
    return files, labels, classes


def _from_metadata(root: Path) -> tuple[list[Path], list[int] | None, list[str] | None, list[str] | None,
                                         torch.Tensor | None, list[str]]:
    """files, labels, label names, the split of each file (None: no split column), factors, factor names."""
    meta = root / METADATA
    rows = read_metadata(meta)
    files = _check_files(root, meta, rows)
    labels = names = None
    if "label" in rows[0][1]:
        names = _sorted_names({row["label"] for _, row in rows})
        labels = [names.index(row["label"]) for _, row in rows]
    splits = [row["split"] for _, row in rows] if "split" in rows[0][1] else None
    factor_names = int_columns(rows)
    return files, labels, names, splits, _factors(rows, factor_names), factor_names


def load_audio_folder(cfg: DataConfig, split: str) -> Clips:
    """One split of a user's audio folder (--data-dir): class subfolders, plain files or a metadata.csv."""
    check_split(split)
    root = Path(cfg.data_dir or "")
    if not cfg.data_dir or not root.is_dir():
        raise DataError(f"--data-dir {cfg.data_dir} is not a folder (--data audio needs a folder of class "
                        f"subfolders of .wav/.flac/.ogg files, or with a {METADATA})")
    factors, factor_names, splits = None, [], None
    if (root / METADATA).is_file():
        files, labels, names, splits, factors, factor_names = _from_metadata(root)
    else:
        files, labels, names = list_audio(root)
    if splits is None:
        try:
            keep = split_indices(len(files), cfg.val_fraction, cfg.data_seed, split).tolist()
        except DataError as e:
            raise DataError(f"audio folder {root}: {e}") from None
    else:
        keep = [i for i, s in enumerate(splits) if s == split]
        if not keep:
            raise DataError(f"{root / METADATA}: no clip of split {split}")
    return Clips(read_waves([files[i] for i in keep], cfg), cfg.sample_rate,
                 labels=None if labels is None else torch.tensor([labels[i] for i in keep], dtype=torch.int64),
                 label_names=names, factors=None if factors is None else factors[keep],
                 factor_names=factor_names or None, files=[os.path.relpath(files[i], root) for i in keep])
