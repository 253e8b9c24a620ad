"""A sound data set as the model reads it: the clips of a split (`corpus.read_clips`) turned into standardised
log-mel items (`features`) once, when the split is loaded, and held in memory (not cached on disk).

`SoundData` is a `TensorData` (x (N, 1, bins, frames) float32, labels (N,) int64 or None) that also keeps the
clips' known factors (`factors` (N, F) int64 and `factor_names`: tones' pitch, waveform, envelope and loudness;
spoken-digits' digit, speaker, rate and pitch columns; an audio folder's integer metadata columns) and the
file of each clip, for measures that compare latents with the factors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vaekit.data.base import TensorData
from vaekit.errors import DataError
from vaekit.kinds.sounds.features import clips_to_items, fit_clips, log_mels, sound_stats, spec_from_stats, spec_of


@dataclass
class SoundData(TensorData):
    factors: torch.Tensor | None = None     # (N, F) int64 known factors, or None
    factor_names: list[str] | None = None
    files: list[str] | None = None          # where each clip came from (None for generated tones)

    def take(self, n: int) -> SoundData:
        """The first n items, with their factors and files."""
        return dataclasses.replace(super().take(n), factors=None if self.factors is None else self.factors[:n],
                                   files=None if self.files is None else self.files[:n])

    def select(self, idx: torch.Tensor) -> SoundData:
        """The items at positions idx (M,) int64, in that order, with their factors and files (what
        `vaekit.data.random_items` draws)."""
        return dataclasses.replace(super().select(idx),
                                   factors=None if self.factors is None else self.factors[idx],
                                   files=None if self.files is None else [self.files[int(i)] for i in idx])


def _sound_data(x: torch.Tensor, clips: Any, stats: dict) -> SoundData:
    return SoundData(x, clips.labels, binarize="none", stats=stats, label_names=stats.get("label_names"),
                     is_image=False, kind="sounds", factors=clips.factors, factor_names=clips.factor_names,
                     files=clips.files)


def load_sound_split(cfg: Any, split: str, stats: dict | None = None) -> SoundData:
    """A split of --data tones, spoken-digits or audio as items. The training split without `stats` measures
    the stats (the mean and std of its log-mel values, with the spectrogram spec and the clip length); every
    other split, and a resumed run, take them from `stats`."""
    from vaekit.kinds.sounds.corpus import read_clips

    clips = read_clips(cfg, split)
    if stats is None:
        if split != "train":
            raise DataError(f"the {split} split of {cfg.dataset} needs the training split's data stats (the "
                            "log-mel mean and std)")
        spec = spec_of(cfg)
        waves = fit_clips(clips.waves, spec)  # (N, S): S samples give a multiple of 8 frames
        values = log_mels(waves, spec)  # (N, F, T)
        stats = sound_stats(values, spec, waves.shape[-1], clips.label_names)
        x = ((values - stats["log_mel_mean"]) / stats["log_mel_std"]).unsqueeze(1)  # (N, 1, F, T)
        return _sound_data(x, clips, stats)
    return _sound_data(clips_to_items(_cut(clips.waves, stats), stats), clips, stats)


def _cut(waves: torch.Tensor, stats: dict) -> torch.Tensor:
    """Clips (N, S) cut to the run's clip length (N, clip_samples); shorter clips are an error (the data
    config that made them is not the run's)."""
    n = int(stats["clip_samples"])
    if waves.shape[-1] < n:
        raise DataError(f"clips of {waves.shape[-1]} samples are shorter than the run's {n} (its --clip-seconds "
                        "and --sample-rate)")
    return waves[:, :n]


def load_sound_path(path: Path, cfg: Any, stats: dict) -> SoundData:
    """New clips for a trained model: an audio file, or a folder of them (plain, or one subfolder per class),
    read as the run's data config says (--sample-rate, --loudness, --clip-seconds) and standardised with the
    run's stats. Class subfolders named as the run's labels give those labels; other items have none."""
    from vaekit.kinds.sounds.audio import Clips
    from vaekit.kinds.sounds.corpus import list_audio, read_waves

    spec_from_stats(stats)  # the run's stats are needed before any file is read
    if path.is_dir():
        files, labels, names = list_audio(path)
    else:
        files, labels, names = [path], None, None
    known = stats.get("label_names") or []
    ids = None
    if labels is not None and names is not None and set(names) <= set(known):
        ids = torch.tensor([known.index(names[i]) for i in labels], dtype=torch.int64)
    clips = Clips(read_waves(files, cfg), cfg.sample_rate, labels=ids,
                  files=[str(f) for f in files])
    return _sound_data(clips_to_items(_cut(clips.waves, stats), stats), clips, stats)
