"""Waveform <-> spectrogram: the STFT and its inverse, magnitudes, the mel filterbank, log-mel spectrograms
and the non-negative inversion of the filterbank. Pure torch, batched over any leading dimensions.

Conventions (the same everywhere in `vaekit.kinds.sounds`):
- STFT: Hann window (periodic) of `win_length` samples centred in `n_fft`, frames every `hop_length`
  samples, `center=True` with reflect padding, not normalised (torch.stft's defaults). A clip of S samples
  has `1 + S // hop_length` frames and `n_fft // 2 + 1` frequency bins from 0 Hz to Nyquist.
- Magnitudes are amplitudes |S|, not powers |S|^2; mel spectrograms are mel filterbank @ |S|.
- Log spectrograms are natural logs of amplitude, floored: log(max(x, log_floor)). In decibels,
  20 log10(x) = (20 / ln 10) * log(x), about 8.69 dB per nat.
- The mel scale is Slaney's (Auditory Toolbox, Slaney 1998: linear below 1 kHz at 200/3 Hz per mel,
  logarithmic above with 27 mels per factor 6.4) or HTK's (2595 log10(1 + f / 700), Young et al., The HTK
  Book), with Slaney's area normalisation of the triangles (each filter times 2 / its width in Hz), as
  librosa.filters.mel(htk=False, norm="slaney") does.

The default spec is for 16 kHz speech: n_fft 1024 (15.6 Hz bins), 128 mel filters from 0 to 8 kHz, a 50 ms
window (800 samples) and a 12.5 ms hop (200 samples), the window/hop ratios of Tacotron 2 (Shen et al. 2018).
128 mel bands rather than 64 because the way back to sound inverts the filterbank: Griffin-Lim from the true
log-mel of spoken-digit test clips reaches a spectral convergence of 0.14 with 128 bands and 0.38 with 64.
64 frames are 12,600 samples (0.7875 s), so a clip cut to that length becomes a 128 x 64 log-mel picture,
which stride-2 conv nets halve cleanly.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vaekit.errors import ConfigError, DataError

MEL_SCALES = ("slaney", "htk")


@dataclass(frozen=True)
class SpectrogramSpec:
    """How a waveform becomes a spectrogram. The defaults are the 16 kHz speech spec (module docstring)."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 200
    win_length: int = 800
    n_mels: int = 128           # 0: linear-frequency magnitudes (n_fft // 2 + 1 bins)
    f_min: float = 0.0
    f_max: float | None = None  # None: Nyquist (sample_rate / 2)
    log_floor: float = 1e-5     # amplitude floor before the log
    mel_scale: str = "slaney"   # "slaney" or "htk"

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ConfigError(f"spectrogram {name} must be an integer, got {v!r}")
        if self.sample_rate <= 0:
            raise ConfigError(f"spectrogram sample_rate must be > 0 Hz, got {self.sample_rate}")
        if not 0 < self.win_length <= self.n_fft:
            raise ConfigError(f"spectrogram win_length must be in 1..n_fft={self.n_fft}, got {self.win_length}")
        if not 0 < self.hop_length < self.win_length:
            # hop < window keeps the Hann windows' overlap-add envelope non-zero (the NOLA condition), so
            # the inverse STFT exists.
            raise ConfigError(f"spectrogram hop_length must be in 1..win_length-1={self.win_length - 1}, "
                              f"got {self.hop_length}")
        if not 0 <= self.n_mels <= self.n_freqs:
            raise ConfigError(f"spectrogram n_mels must be in 0..n_fft//2+1={self.n_freqs}, got {self.n_mels}")
        nyquist = self.sample_rate / 2
        if not 0 <= self.f_min < self.top_hz <= nyquist:
            raise ConfigError(f"spectrogram needs 0 <= f_min < f_max <= Nyquist ({nyquist:g} Hz), "
                              f"got f_min={self.f_min}, f_max={self.f_max}")
        if not (isinstance(self.log_floor, int | float) and self.log_floor > 0):
            raise ConfigError(f"spectrogram log_floor must be > 0, got {self.log_floor!r}")
        if self.mel_scale not in MEL_SCALES:
            raise ConfigError(f"spectrogram mel_scale must be one of {MEL_SCALES}, got {self.mel_scale!r}")

    @property
    def n_freqs(self) -> int:
        """STFT frequency bins, 0 Hz to Nyquist."""
        return self.n_fft // 2 + 1

    @property
    def bins(self) -> int:
        """Rows of the spectrogram: n_mels, or n_freqs for a linear one."""
        return self.n_mels or self.n_freqs

    @property
    def top_hz(self) -> float:
        """f_max with None resolved to Nyquist."""
        return self.sample_rate / 2 if self.f_max is None else float(self.f_max)

    def frames(self, n_samples: int) -> int:
        """STFT frames of a clip of n_samples (center=True pads n_fft // 2 on each side)."""
        return 1 + n_samples // self.hop_length

    def samples_for_frames(self, frames: int) -> int:
        """The shortest clip length with exactly `frames` frames."""
        if frames < 1:
            raise ConfigError(f"frames must be >= 1, got {frames}")
        return (frames - 1) * self.hop_length

    def padded_length(self, n_samples: int, multiple: int = 8) -> int:
        """The shortest length >= n_samples whose frame count is a multiple of `multiple` (pad clips to it)."""
        frames = math.ceil(self.frames(n_samples) / multiple) * multiple
        return max(n_samples, self.samples_for_frames(frames))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (kept in a run folder)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpectrogramSpec:
        """The spec `to_dict` wrote; unknown keys are an error, missing ones take the defaults."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"spectrogram spec has unknown fields {unknown}; expected some of {sorted(known)}")
        return cls(**d)


def spec_for_clip(n_samples: int, frames: int | None = None, multiple: int = 8,
                  base: SpectrogramSpec | None = None) -> SpectrogramSpec:
    """`base` (default: the 16 kHz speech spec) with the hop length changed so that a clip of exactly
    n_samples has `frames` frames (default: the multiple of `multiple` nearest base's frame count)."""
    base = base or SpectrogramSpec()
    if frames is None:
        frames = max(multiple, multiple * round(base.frames(n_samples) / multiple))
    if frames < 2 or n_samples < frames - 1:
        raise ConfigError(f"cannot fit {frames} frames to a clip of {n_samples} samples")
    hop = n_samples // (frames - 1)  # the largest hop with 1 + n_samples // hop >= frames
    if 1 + n_samples // hop != frames:
        raise ConfigError(f"no hop length gives exactly {frames} frames for {n_samples} samples; "
                          f"try another frame count or a longer clip")
    return dataclasses.replace(base, hop_length=hop)


def _check_wave(wave: torch.Tensor, spec: SpectrogramSpec) -> None:
    if not torch.is_floating_point(wave) or wave.ndim < 1:
        raise DataError(f"a waveform must be a float tensor (..., samples), got {wave.dtype} {tuple(wave.shape)}")
    if wave.shape[-1] <= spec.n_fft // 2:
        raise DataError(f"a waveform of {wave.shape[-1]} samples is too short for n_fft={spec.n_fft}: "
                        f"reflect padding needs more than n_fft // 2 = {spec.n_fft // 2} samples")


def _window(spec: SpectrogramSpec, like: torch.Tensor) -> torch.Tensor:
    return torch.hann_window(spec.win_length, periodic=True, dtype=like.real.dtype, device=like.device)


def stft(wave: torch.Tensor, spec: SpectrogramSpec) -> torch.Tensor:
    """Complex STFT (..., n_freqs, frames) of waves (..., samples)."""
    _check_wave(wave, spec)
    lead, n = wave.shape[:-1], wave.shape[-1]
    s = torch.stft(wave.reshape(-1, n), spec.n_fft, spec.hop_length, spec.win_length, _window(spec, wave),
                   center=True, pad_mode="reflect", return_complex=True)  # (B, F, T)
    return s.reshape(*lead, *s.shape[-2:])  # (..., F, T)


def istft(s: torch.Tensor, spec: SpectrogramSpec, length: int | None = None) -> torch.Tensor:
    """Inverse of `stft` by windowed overlap-add (Griffin & Lim 1984, eq. 6): complex (..., n_freqs, frames)
    -> waves (..., length); length defaults to (frames - 1) * hop_length."""
    if s.shape[-2] != spec.n_freqs:
        raise DataError(f"istft expects {spec.n_freqs} frequency bins (n_fft={spec.n_fft}), got {tuple(s.shape)}")
    lead, (f, t) = s.shape[:-2], s.shape[-2:]
    length = spec.samples_for_frames(t) if length is None else length
    wave = torch.istft(s.reshape(-1, f, t), spec.n_fft, spec.hop_length, spec.win_length, _window(spec, s),
                       center=True, length=length)  # (B, length)
    return wave.reshape(*lead, length)


def magnitude(wave: torch.Tensor, spec: SpectrogramSpec) -> torch.Tensor:
    """|STFT| (..., n_freqs, frames), amplitude."""
    return stft(wave, spec).abs()


def hz_to_mel(hz: np.ndarray | float, scale: str = "slaney") -> np.ndarray:
    """Hertz -> mels on Slaney's or HTK's scale (module docstring)."""
    hz = np.asarray(hz, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
    lin = hz / f_sp
    return np.where(hz >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(hz, 1e-12) / min_log_hz) / logstep, lin)


def mel_to_hz(mel: np.ndarray | float, scale: str = "slaney") -> np.ndarray:
    """Mels -> hertz, the inverse of `hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_frequencies(spec: SpectrogramSpec) -> np.ndarray:
    """The n_mels + 2 triangle corners in Hz: filter i rises from [i] to its peak at [i+1], falls to [i+2]."""
    lo, hi = hz_to_mel(spec.f_min, spec.mel_scale), hz_to_mel(spec.top_hz, spec.mel_scale)
    return mel_to_hz(np.linspace(lo, hi, spec.n_mels + 2), spec.mel_scale)


def _mel_weights(spec: SpectrogramSpec) -> np.ndarray:
    """The filterbank (n_mels, n_freqs) in float64 numpy."""
    if spec.n_mels < 1:
        raise ConfigError("a mel filterbank needs a spectrogram spec with n_mels >= 1")
    corners = mel_frequencies(spec)                                     # (M + 2,)
    fft_hz = np.linspace(0.0, spec.sample_rate / 2, spec.n_freqs)       # (F,)
    widths = np.diff(corners)                                           # (M + 1,)
    ramps = corners[:, None] - fft_hz[None, :]                          # (M + 2, F)
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))              # (M, F)
    weights *= (2.0 / (corners[2:] - corners[:-2]))[:, None]            # Slaney: each triangle's area is 1
    empty = np.flatnonzero(weights.max(axis=1) == 0)
    if len(empty):
        raise ConfigError(f"{len(empty)} of the {spec.n_mels} mel filters cover no STFT bin (first: filter "
                          f"{empty[0]}); use fewer mels (n_mels) or a larger n_fft than {spec.n_fft}")
    return weights


def mel_filterbank(spec: SpectrogramSpec, dtype: torch.dtype = torch.float32,
                   device: torch.device | str | None = None) -> torch.Tensor:
    """Slaney-normalised triangular mel filters (n_mels, n_freqs), as librosa.filters.mel(norm="slaney")."""
    return torch.as_tensor(_mel_weights(spec), dtype=dtype, device=device)


def mel_spectrogram(wave: torch.Tensor, spec: SpectrogramSpec) -> torch.Tensor:
    """Mel amplitudes (..., n_mels, frames) = filterbank @ |STFT|; the linear |STFT| when n_mels = 0."""
    mag = magnitude(wave, spec)
    if spec.n_mels == 0:
        return mag
    return mel_filterbank(spec, mag.dtype, mag.device) @ mag  # (M, F) @ (..., F, T) -> (..., M, T)


def log_mel(wave: torch.Tensor, spec: SpectrogramSpec) -> torch.Tensor:
    """log(max(mel amplitude, log_floor)) (..., bins, frames): natural log of amplitude (module docstring)."""
    return mel_spectrogram(wave, spec).clamp_min(spec.log_floor).log()


@functools.lru_cache(maxsize=8)
def _mel_inverse(spec: SpectrogramSpec) -> tuple[torch.Tensor, torch.Tensor, float]:
    """What `mel_to_linear` needs of a spec, computed once per spec (a page remakes sounds of one spec at
    every move, and under load the eigenvalue and SVD calls cost more than the iterations): the filterbank
    M (M, F) and its pseudo-inverse (F, M), float64, and the step 1 / ||M||_2^2. Read-only."""
    w = _mel_weights(spec)                                              # (M, F) float64
    step = 1.0 / np.linalg.eigvalsh(w @ w.T)[-1]                        # 1 / ||M||_2^2 = 1 / Lipschitz constant
    # (F, M): numpy's pseudo-inverse (an SVD of the small filterbank, ~ms), which also holds when two
    # narrow filters cover the same FFT bins (many bands over a short FFT) and M M^T is singular
    pinv = torch.as_tensor(np.linalg.pinv(w), dtype=torch.float64)
    return torch.as_tensor(w, dtype=torch.float64), pinv, float(step)


def mel_to_linear(mel_mag: torch.Tensor, spec: SpectrogramSpec, n_iter: int = 100) -> torch.Tensor:
    """Linear amplitudes X >= 0 (..., n_freqs, frames) with filterbank @ X ≈ mel_mag (..., n_mels, frames).

    Non-negative least squares min ||M X - Y||^2, X >= 0, as librosa.feature.inverse.mel_to_stft solves it,
    here by accelerated projected gradient (FISTA, Beck & Teboulle 2009) with step 1 / ||M||_2^2, started
    from the pseudo-inverse solution clipped at 0, for a fixed n_iter (deterministic, batched)."""
    if spec.n_mels == 0:
        raise ConfigError("mel_to_linear needs a spectrogram spec with n_mels >= 1 (this one is linear)")
    if mel_mag.shape[-2] != spec.n_mels:
        raise DataError(f"mel_to_linear expects {spec.n_mels} mel bins, got {tuple(mel_mag.shape)}")
    lead, frames = mel_mag.shape[:-2], mel_mag.shape[-1]
    # (M, B*T): one matrix, so each step is two plain 2-D products; in float64, so that an item's result does
    # not depend on the batch it comes in (float32 rounding, which differs with the product's blocking,
    # grows over the iterations)
    y = mel_mag.clamp_min(0).movedim(-2, 0).reshape(spec.n_mels, -1).double()
    w, pinv, step = _mel_inverse(spec)
    m, pinv = w.to(y.device), pinv.to(y.device)
    x = (pinv @ y).clamp_min(0)                                         # (F, B*T)
    z, t = x, 1.0
    for _ in range(n_iter):
        x_next = (z - step * (m.T @ (m @ z - y))).clamp_min(0)          # gradient of ||M z - Y||^2 / 2
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        z = x_next + ((t - 1) / t_next) * (x_next - x)
        x, t = x_next, t_next
    x = x.reshape(spec.n_freqs, *lead, frames)                          # (F, ..., T)
    return x.movedim(0, -2).to(mel_mag.dtype).contiguous()              # (..., F, T)
