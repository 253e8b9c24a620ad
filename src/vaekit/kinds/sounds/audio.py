"""Waveforms in and out: read an audio file as mono float samples at a chosen rate, fit it to a length,
set its loudness, and write it back as a 16-bit WAV (to a file, or to bytes for an HTML `<audio>` tag).

Reading goes through soundfile (libsndfile): WAV, FLAC and OGG/Vorbis, with 8-, 16-, 24- or 32-bit integer
or float samples, all returned as float32 (integers divided by 2^(bits-1), libsndfile's convention, so a
16-bit sample v reads as v / 32768). Writing uses only the standard library's `wave` module.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import wave as wavelib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vaekit.errors import ConfigError, DataError

EXTENSIONS = (".wav", ".flac", ".ogg")  # compared in lower case
LOUDNESS = ("none", "peak", "rms")
PEAK_DBFS = -1.0  # `peak`: the largest |sample| becomes -1 dBFS, leaving headroom for resampling overshoot
RMS_DBFS = -20.0  # `rms`: the level broadcast loudness practice aims speech at, well below clipping
SILENCE = 1e-6  # a clip whose peak is below -120 dBFS is silent: scaling it up would only amplify noise
INT16_SCALE = 32768.0  # 16-bit PCM: sample v <-> v / 32768, the scale libsndfile reads with


@dataclass
class Clips:
    """A split's waveforms with what is known about them.

    waves: (N, S) float32 in [-1, 1] at `sample_rate`; labels: (N,) int64 class ids, or None; factors:
    (N, F) int64 known generative factors (e.g. pitch, speaker), or None; files: where each clip came from."""
    waves: torch.Tensor
    sample_rate: int
    labels: torch.Tensor | None = None
    label_names: list[str] | None = None
    factors: torch.Tensor | None = None
    factor_names: list[str] | None = None
    files: list[str] | None = None

    def __len__(self) -> int:
        return len(self.waves)


def read_clip(path: str | Path, sample_rate: int) -> torch.Tensor:
    """One audio file as (S,) float32 in [-1, 1], mono, at `sample_rate`.

    Several channels are mixed down by their mean (a mono mix that keeps the level of a signal present in
    all channels). A file at another rate is resampled by soxr's band-limited "HQ" filter, so no aliasing
    enters. Float files with samples beyond +-1 are clipped, as an export to integer PCM would. A truncated
    WAV reads the whole samples that are present (libsndfile shortens the clip to its data); a truncated FLAC
    or OGG stops the decoder and raises DataError. Unreadable, empty or non-finite files raise DataError
    naming the file."""
    if sample_rate <= 0:
        raise ConfigError(f"sample-rate={sample_rate} must be > 0")
    data, rate = _decode(Path(path))
    if len(data) == 0:
        raise DataError(f"audio file {path} holds no samples (a zero-length clip)")
    if rate <= 0:
        raise DataError(f"audio file {path} declares a sample rate of {rate} Hz (must be > 0)")
    if not np.isfinite(data).all():
        bad = int(np.argmax(~np.isfinite(data).all(axis=1)))
        raise DataError(f"audio file {path} holds a non-finite sample (NaN or inf) at frame {bad}")
    mono = data.mean(axis=1, dtype=np.float64).astype(np.float32)  # (frames, channels) -> (frames,)
    if rate != sample_rate:
        import soxr

        mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
        if len(mono) == 0:  # a few samples at a much lower target rate
            raise DataError(f"audio file {path}: {len(data)} samples at {rate} Hz leave none at {sample_rate} Hz")
    return torch.from_numpy(np.clip(mono, -1.0, 1.0).astype(np.float32, copy=False))


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 samples and the declared rate; soundfile's errors become DataErrors."""
    import soundfile as sf

    if not path.is_file():
        raise DataError(f"audio file {path} is missing" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except sf.SoundFileError as e:  # LibsndfileError: not audio, corrupt, truncated compressed stream
        raise DataError(f"cannot read audio file {path}: {e}") from None
    except (OSError, ValueError, TypeError, RuntimeError) as e:  # I/O errors; odd headers soundfile rejects
        raise DataError(f"cannot read audio file {path}: {e}") from None
    return data, int(rate)


def fit_length(wave: torch.Tensor, n: int) -> torch.Tensor:
    """Crop or zero-pad the last axis to n samples: (..., S) -> (..., n).

    A long clip keeps its centred n samples (speech sits mid-clip once silence is trimmed); a short one is
    padded with silence at the end, so every clip starts at its onset."""
    if n <= 0:
        raise ConfigError(f"a clip needs at least one sample, got length {n}")
    s = wave.shape[-1]
    if s >= n:
        start = (s - n) // 2
        return wave[..., start:start + n]
    return torch.nn.functional.pad(wave, (0, n - s))  # (..., n): zeros after the clip


def normalise_loudness(wave: torch.Tensor, mode: str) -> torch.Tensor:
    """Scale each clip (the last axis) to a loudness target: none, peak (-1 dBFS) or rms (-20 dBFS, then
    clipped to [-1, 1]). Silent clips (peak below -120 dBFS) are returned as they are."""
    if mode not in LOUDNESS:
        raise ConfigError(f"loudness={mode!r} is not one of {', '.join(LOUDNESS)}")
    if mode == "none":
        return wave
    peak = wave.abs().amax(dim=-1, keepdim=True)  # (..., 1)
    if mode == "peak":
        level, target = peak, 10 ** (PEAK_DBFS / 20)
    else:
        level, target = wave.pow(2).mean(dim=-1, keepdim=True).sqrt(), 10 ** (RMS_DBFS / 20)
    gain = torch.where(peak >= SILENCE, target / level.clamp_min(SILENCE), torch.ones_like(level))
    return (wave * gain).clamp(-1.0, 1.0)


def _pcm16(wave: torch.Tensor | np.ndarray) -> bytes:
    """Little-endian 16-bit samples of a mono clip: clipped to [-1, 1], NaN as silence, +-inf as +-1."""
    x = np.asarray(wave.detach().cpu() if isinstance(wave, torch.Tensor) else wave, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"a mono clip is one-dimensional (S,), got shape {tuple(x.shape)}")
    x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
    ints = np.clip(np.round(x * INT16_SCALE), -32768, 32767)  # +1.0 becomes 32767, the largest code
    return ints.astype("<i2").tobytes()


def _write(f: io.BufferedIOBase | io.BytesIO, wave: torch.Tensor | np.ndarray, sample_rate: int) -> None:
    if not 1 <= sample_rate <= 2**31 - 1:
        raise ConfigError(f"sample-rate={sample_rate} must be a positive 32-bit number of hertz")
    with wavelib.open(f, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(_pcm16(wave))


def wav_bytes(wave: torch.Tensor | np.ndarray, sample_rate: int) -> bytes:
    """The 16-bit PCM WAV of a mono clip (S,) in memory: for `<audio src="data:audio/wav;base64,...">`."""
    buf = io.BytesIO()
    _write(buf, wave, sample_rate)
    return buf.getvalue()


def write_wav(path: str | Path, wave: torch.Tensor | np.ndarray, sample_rate: int) -> Path:
    """Write a mono clip (S,) as a 16-bit PCM WAV, clipped to [-1, 1]. Atomic: the bytes go to a temporary
    file in the same folder, which then replaces `path`, so a reader never sees half a file."""
    path = Path(path)
    payload = wav_bytes(wave, sample_rate)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def is_audio(path: Path) -> bool:
    """A file whose name ends in one of EXTENSIONS, in any case."""
    return path.suffix.lower() in EXTENSIONS and path.is_file()


def seconds_to_samples(seconds: float, sample_rate: int) -> int:
    """The number of samples of a clip of `seconds` at `sample_rate` (at least one)."""
    n = round(seconds * sample_rate)
    if n < 1 or not math.isfinite(seconds):
        raise ConfigError(f"clip-seconds={seconds} at sample-rate={sample_rate} leaves no sample")
    return n
