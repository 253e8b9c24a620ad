"""Clips <-> items: the standardised log-mel spectrograms (1, n_mels, frames) a sound model reads and
generates, and the way back to sound.

An item is log(max(mel amplitude, log_floor)) (`spectral.log_mel`), minus one scalar mean, over one scalar
std, both measured on the training split: conv nets and a Gaussian p(x|z) with σ near 1 then see values of
unit scale, while the spectrogram's shape (its loudness contour over time and frequency) is kept. Every clip
is cut to the samples of a frame count that is a multiple of 8 (`clip_frames`), so the stride-2 conv nets
halve the time axis three times without a remainder.

What a run needs to turn its items back into sound is kept in its data stats (`sound_stats`): the
spectrogram spec, the sample rate, the clip length in samples and frames, the mean and std of the
log-mel values and the label names.
"""

from __future__ import annotations

from typing import Any

import torch

from vaekit.errors import ConfigError, DataError
from vaekit.kinds.sounds.spectral import SpectrogramSpec, log_mel

FRAME_MULTIPLE = 8  # stride-2 conv nets halve the time axis 3 times cleanly
CHUNK = 256  # clips per STFT pass: bounds the complex spectrogram's memory (256 x 513 x 64 x 8 bytes = 67 MB)
GRIFFIN_LIM_SEED = 0  # fixed initial phases: a decoded item always sounds the same
LOG_MAX = 20.0  # decoded log-mel values are clamped here before exp: float32 amplitudes stay finite


def spec_of(cfg: Any) -> SpectrogramSpec:
    """The spectrogram spec a data config asks for (--sample-rate, --n-fft, --hop-length, --win-length,
    --n-mels)."""
    return SpectrogramSpec(sample_rate=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                           win_length=cfg.win_length, n_mels=cfg.n_mels)


def clip_frames(spec: SpectrogramSpec, n_samples: int) -> int:
    """The largest multiple of 8 at most spec.frames(n_samples): the frames of an item (0.8 s at 16 kHz with
    the default hop of 200 -> 64; 0.5 s -> 40)."""
    frames = spec.frames(n_samples) // FRAME_MULTIPLE * FRAME_MULTIPLE
    if frames < FRAME_MULTIPLE:
        raise ConfigError(f"clips of {n_samples} samples have {spec.frames(n_samples)} spectrogram frames at "
                          f"--hop-length {spec.hop_length}; items need at least {FRAME_MULTIPLE}: use longer "
                          "--clip-seconds or a shorter --hop-length")
    return frames


def fit_clips(waves: torch.Tensor, spec: SpectrogramSpec) -> torch.Tensor:
    """Waves (N, S) cut to the samples of `clip_frames` frames, (N, S'), S' <= S: the last samples go (the
    loaders pad at the end, so a clip keeps its onset)."""
    n = spec.samples_for_frames(clip_frames(spec, waves.shape[-1]))
    return waves[..., :n]


def log_mels(waves: torch.Tensor, spec: SpectrogramSpec) -> torch.Tensor:
    """`log_mel` of waves (N, S), CHUNK clips at a time: (N, bins, frames) float32."""
    if waves.ndim != 2 or len(waves) == 0:
        raise DataError(f"expected clips (N, samples) with N >= 1, got shape {tuple(waves.shape)}")
    return torch.cat([log_mel(waves[i:i + CHUNK], spec) for i in range(0, len(waves), CHUNK)])


def sound_stats(train_log_mels: torch.Tensor, spec: SpectrogramSpec, n_samples: int,
                label_names: list[str] | None) -> dict[str, Any]:
    """The data stats of a sound run, from the training split's log-mels (N, bins, frames) (not
    standardised): one scalar mean and std (float64 sums), the spec, the clip length and the label names."""
    values = train_log_mels.double()
    std = float(values.std())
    if not std > 0:
        raise DataError("the training clips' log-mel spectrograms are all one value (silent clips?): nothing to "
                        "standardise by")
    return {"spectrogram": spec.to_dict(), "sample_rate": spec.sample_rate, "clip_samples": n_samples,
            "frames": spec.frames(n_samples), "log_mel_mean": float(values.mean()), "log_mel_std": std,
            "label_names": label_names}


def spec_from_stats(stats: dict | None) -> SpectrogramSpec:
    """The spectrogram spec kept in a sound run's data stats."""
    if not isinstance(stats, dict) or "spectrogram" not in stats:
        raise ConfigError("a sound model needs its training split's data stats ({'spectrogram': ..., "
                          "'log_mel_mean': ..., ...}, saved in the run folder as data_stats.json); none were given")
    return SpectrogramSpec.from_dict(stats["spectrogram"])


def clips_to_items(waves: torch.Tensor, stats: dict) -> torch.Tensor:
    """Clips (N, clip_samples) -> items (N, 1, bins, frames): standardised log-mel spectrograms."""
    spec = spec_from_stats(stats)
    if waves.ndim != 2 or waves.shape[-1] != stats["clip_samples"]:
        raise DataError(f"expected clips (N, {stats['clip_samples']}) (the run's clip length in samples), got "
                        f"shape {tuple(waves.shape)}")
    x = (log_mels(waves, spec) - stats["log_mel_mean"]) / stats["log_mel_std"]  # (N, F, T)
    return x.unsqueeze(1).float()  # (N, 1, F, T)


def items_to_log_mel(items: torch.Tensor, stats: dict) -> torch.Tensor:
    """Items (N, 1, bins, frames) -> log-mel spectrograms (N, bins, frames): the standardisation undone."""
    spec = spec_from_stats(stats)
    if items.ndim != 4 or items.shape[1] != 1 or items.shape[2] != spec.bins:
        raise DataError(f"expected sound items (N, 1, {spec.bins}, frames), got shape {tuple(items.shape)}")
    return items[:, 0].detach().cpu().double().mul(stats["log_mel_std"]).add(stats["log_mel_mean"]).float()


def items_to_waves(items: torch.Tensor, stats: dict, n_iter: int = 60,
                   generator: torch.Generator | None = None, nnls_iter: int = 100) -> torch.Tensor:
    """Items (N, 1, bins, frames) -> clips (N, clip_samples) at the run's sample rate: the log-mel
    spectrogram, clamped to [log log_floor, LOG_MAX] (below the floor is silence), through the mel
    filterbank's non-negative inverse (`nnls_iter` iterations) and `n_iter` iterations of fast Griffin-Lim
    (`griffin_lim.spectrogram_to_wave`). The initial phases come from `generator`, by default one seeded
    with GRIFFIN_LIM_SEED, so the same items always give the same sound."""
    import math

    from vaekit.kinds.sounds.griffin_lim import spectrogram_to_wave

    spec = spec_from_stats(stats)
    log_spec = items_to_log_mel(items, stats).clamp(math.log(spec.log_floor), LOG_MAX)  # (N, F, T)
    gen = generator if generator is not None else torch.Generator().manual_seed(GRIFFIN_LIM_SEED)
    length = spec.samples_for_frames(log_spec.shape[-1])
    waves = [spectrogram_to_wave(log_spec[i:i + CHUNK], spec, n_iter, generator=gen, length=length,
                                 nnls_iter=nnls_iter)
             for i in range(0, len(log_spec), CHUNK)]
    return torch.cat(waves) if waves else torch.zeros(0, length)
