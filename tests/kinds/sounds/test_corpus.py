"""Sound data sets from files: spoken-digits (the real corpus, skipped without it), a user's audio folders in
both layouts, and their errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from vaekit.config import DataConfig
from vaekit.errors import ConfigError, DataError
from vaekit.kinds.sounds.corpus import DIGIT_NAMES, read_clips, spoken_digits_folder

RATE = 8000


def spoken_digits() -> Path:
    try:
        return spoken_digits_folder(None)
    except DataError:
        pytest.skip("spoken-digits not found: set VAEKIT_DATA to a folder holding spoken-digits/")


_LOADED: dict = {}


def digits(split: str, **kw) -> object:
    """A split of the real corpus, read once per set of options for the module's tests."""
    key = (split, tuple(sorted(kw.items())))
    if key not in _LOADED:
        _LOADED[key] = read_clips(DataConfig(dataset="spoken-digits", data_dir=str(spoken_digits()), **kw), split)
    return _LOADED[key]


def test_spoken_digits_splits_have_the_sizes_of_its_metadata():
    sizes = {s: len(digits(s)) for s in ("train", "val", "test")}
    assert sizes == {"train": 64 * 40, "val": 320, "test": 320}
    assert digits("test").waves.shape == (320, 12800)  # 0.8 s at 16 kHz


def test_spoken_digits_labels_are_the_digit_of_each_file():
    c = digits("val")
    folder_digit = torch.tensor([int(f.split("/")[0]) for f in c.files])
    assert torch.equal(c.labels, folder_digit) and c.label_names == list(DIGIT_NAMES)
    assert c.factor_names[:2] == ["digit", "speaker"] and torch.equal(c.factors[:, 0], c.labels)
    assert torch.bincount(c.labels).tolist() == [32] * 10


def test_spoken_digits_test_speakers_are_unseen_in_training():
    train, test = digits("train"), digits("test")
    speakers = {s: set(c.factors[:, 1].tolist()) for s, c in (("train", train), ("test", test))}
    assert len(speakers["train"]) == 64 and len(speakers["test"]) == 8
    assert not speakers["train"] & speakers["test"]


def test_spoken_digits_clips_are_padded_at_the_end_and_read_as_the_files_are():
    c = digits("test")
    assert c.waves[:, -800:].abs().max() == 0  # every clip is shorter than 0.75 s: silence after it
    raw, rate = sf.read(spoken_digits() / c.files[0], dtype="float32")
    assert rate == 16000 and torch.equal(c.waves[0, :len(raw)], torch.from_numpy(raw))


def test_spoken_digits_by_speaker():
    c = digits("val", audio_label="speaker")
    assert c.label_names[:2] == ["s00", "s01"] and len(c.label_names) == 80
    assert torch.equal(c.labels, c.factors[:, 1])


def test_spoken_digits_missing_names_vaekit_data(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path))
    with pytest.raises(DataError, match="VAEKIT_DATA") as e:
        read_clips(DataConfig(dataset="spoken-digits"), "train")
    assert str(tmp_path / "spoken-digits") in str(e.value)


def tone(path: Path, freq: float, seconds: float = 0.1, rate: int = RATE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = 0.5 * np.sin(2 * np.pi * freq * np.arange(round(rate * seconds)) / rate)
    fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}[path.suffix.lower()]
    sf.write(path, x, rate, format=fmt, subtype="VORBIS" if fmt == "OGG" else "PCM_16")


def peak_hz(wave: torch.Tensor) -> float:
    x = wave.numpy()
    return float(np.fft.rfftfreq(len(x), 1 / RATE)[np.abs(np.fft.rfft(x)).argmax()])


def audio(root: Path, split: str, **kw) -> object:
    return read_clips(DataConfig(dataset="audio", data_dir=str(root), sample_rate=RATE, **kw), split)


def test_class_subfolders_are_the_labels(tmp_path):
    names = []
    for i in range(5):
        tone(tmp_path / "low" / f"{i}.wav", 500)
        tone(tmp_path / "high" / f"{i}.FLAC", 2000)
        names += [f"low/{i}.wav", f"high/{i}.FLAC"]
    (tmp_path / "high" / "notes.txt").write_text("not audio")
    splits = {s: audio(tmp_path, s) for s in ("train", "val", "test")}
    assert [len(splits[s]) for s in ("train", "val", "test")] == [8, 1, 1]
    assert sorted(f for c in splits.values() for f in c.files) == sorted(names)  # each file in one split
    for c in splits.values():
        assert c.label_names == ["high", "low"] and c.waves.shape[1] == RATE  # 1 s by default
        for wave, label, f in zip(c.waves, c.labels.tolist(), c.files, strict=True):
            assert f.startswith(c.label_names[label])
            assert abs(peak_hz(wave) - (2000 if label == 0 else 500)) <= 1
            assert wave[round(0.1 * RATE):].abs().max() == 0  # padded after its 0.1 s


def test_metadata_names_files_labels_splits_and_factors(tmp_path):
    rows = ["file,label,split,take,mic"]
    for i in range(6):
        split = ("train", "train", "train", "train", "val", "test")[i]
        tone(tmp_path / "clips" / f"c{i}.ogg", 300 * (i + 1), rate=16000)
        rows.append(f"clips/c{i}.ogg,{'b' if i % 2 else 'a'},{split},{i},usb")
    (tmp_path / "metadata.csv").write_text("\n".join(rows) + "\n")
    train, val = audio(tmp_path, "train", clip_seconds=0.05), audio(tmp_path, "val", clip_seconds=0.05)
    assert train.files == [f"clips/c{i}.ogg" for i in range(4)] and val.files == ["clips/c4.ogg"]
    assert train.labels.tolist() == [0, 1, 0, 1] and train.label_names == ["a", "b"]
    assert train.factor_names == ["take"] and train.factors[:, 0].tolist() == [0, 1, 2, 3]  # `mic` is text
    assert val.waves.shape == (1, 400)  # resampled from 16 kHz to 8 kHz, fitted to 0.05 s
    assert abs(peak_hz(val.waves[0]) - 1500) <= RATE / 400


def test_metadata_without_split_is_split_by_seed(tmp_path):
    for i in range(10):
        tone(tmp_path / f"{i}.wav", 400)
    (tmp_path / "metadata.csv").write_text("file\n" + "".join(f"{i}.wav\n" for i in range(10)))
    parts = {s: audio(tmp_path, s).files for s in ("train", "val", "test")}
    assert [len(parts[s]) for s in ("train", "val", "test")] == [8, 1, 1]
    assert sorted(f for part in parts.values() for f in part) == sorted(f"{i}.wav" for i in range(10))
    assert audio(tmp_path, "val").labels is None


def test_a_folder_without_audio_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no audio files"):
        audio(tmp_path, "train")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(DataError, match="no audio files"):
        audio(tmp_path, "train")
    with pytest.raises(DataError, match="not a folder"):
        audio(tmp_path / "nowhere", "train")


def test_metadata_errors_name_the_line(tmp_path):
    tone(tmp_path / "a.wav", 400)
    meta = tmp_path / "metadata.csv"
    meta.write_text("file,split\na.wav,train\nb.wav,test\n")
    with pytest.raises(DataError, match=r"metadata\.csv:3: b\.wav names no file"):
        audio(tmp_path, "train")
    meta.write_text("file,split\na.wav,valid\n")
    with pytest.raises(DataError, match=r"metadata\.csv:2: split 'valid' is not one of train, val, test"):
        audio(tmp_path, "train")
    meta.write_text("path\na.wav\n")
    with pytest.raises(DataError, match="needs a `file` column"):
        audio(tmp_path, "train")
    meta.write_text("file,split\na.wav,train\n")
    with pytest.raises(DataError, match="no clip of split test"):
        audio(tmp_path, "test")


def test_a_bad_file_in_a_folder_names_it(tmp_path):
    for i in range(9):
        tone(tmp_path / "x" / f"{i}.wav", 400)
    (tmp_path / "x" / "9.wav").write_text("not audio")
    with pytest.raises(DataError, match=r"9\.wav"):
        for split in ("train", "val", "test"):
            audio(tmp_path, split)


def test_read_clips_dispatches_on_the_data_set():
    c = read_clips(DataConfig(dataset="tones", subset=20, clip_seconds=0.1, sample_rate=RATE), "val")
    assert c.waves.shape == (2, 800) and c.sample_rate == RATE and c.factor_names[0] == "pitch"
    with pytest.raises(ConfigError, match="not a sound data set"):
        read_clips(DataConfig(dataset="shapes"), "train")


def test_spoken_digits_found_through_vaekit_data():
    assert spoken_digits() == Path(os.environ["VAEKIT_DATA"]) / "spoken-digits"
