"""`tones`: a built-in data set of synthetic notes, generated in-process, whose factors are known (the sound
counterpart of the `shapes` sprites).

Four factors make a note: its pitch (8 notes of the C major scale, C4 to C5), its waveform (sine, square,
sawtooth, triangle), its envelope (percussive, swell, flat) and its loudness (peak at -24, -18, -12 or
-6 dBFS): a grid of 8 x 4 x 3 x 4 = 384 notes. Each clip also draws a small jitter from --data-seed (a start
phase, a detuning of at most 3 cents and an onset delay of at most 10 ms), so no two clips are the same
waveform. As for `shapes`, --subset grid points are drawn and cut into train / val / test; a subset larger than
the grid repeats every grid point equally often, each time with its own jitter. The label is the pitch;
`tone_factors` names all four factors and their values.

Waveforms are band-limited: each is the Fourier series of the ideal shape cut to the harmonics below the
Nyquist frequency (additive synthesis), so none folds back as aliasing, whatever --sample-rate.
"""

from __future__ import annotations

import numpy as np
import torch

from vaekit.config import DataConfig
from vaekit.data.base import check_split, split_indices
from vaekit.errors import ConfigError
from vaekit.kinds.sounds.audio import Clips, normalise_loudness, seconds_to_samples

NOTES = ("C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5")
MIDI = np.array([60, 62, 64, 65, 67, 69, 71, 72])
PITCHES_HZ = 440.0 * 2.0 ** ((MIDI - 69) / 12)  # equal temperament, A4 = 440 Hz
WAVEFORMS = ("sine", "square", "sawtooth", "triangle")
ENVELOPES = ("percussive", "swell", "flat")
LEVELS_DBFS = np.array([-24.0, -18.0, -12.0, -6.0])  # the peak of the oscillator times its envelope
FACTORS: dict[str, tuple[str, ...]] = {
    "pitch": NOTES, "waveform": WAVEFORMS, "envelope": ENVELOPES,
    "loudness": tuple(f"{db:g} dBFS" for db in LEVELS_DBFS),
}
FACTOR_NAMES = tuple(FACTORS)
GRID = tuple(len(v) for v in FACTORS.values())  # 8 x 4 x 3 x 4 = 384
LABEL_FACTOR = "pitch"
DEFAULT_SECONDS = 0.5
DETUNE_CENTS = 3.0  # jitter: at most this far from the note (a 20th of the smallest step, a semitone)
ONSET_SECONDS = 0.01  # jitter: the note starts up to this late
RAMP_SECONDS = 0.005  # every note fades in and out over 5 ms: no click at its edges
TABLE_SIZE = 4096  # one period of each waveform, read with linear interpolation


def tone_factors() -> dict[str, tuple[str, ...]]:
    """The factors of a note, in the order of the factor columns, and the names of their values."""
    return {name: tuple(values) for name, values in FACTORS.items()}


def harmonic_amplitudes(waveform: int, n_harmonics: int) -> np.ndarray:
    """Sine-series amplitudes b_k, k = 1..n, of the ideal waveform (x(θ) = Σ b_k sin(2π k θ)), unscaled."""
    k = np.arange(1, n_harmonics + 1, dtype=np.float64)
    odd = (k % 2 == 1).astype(np.float64)
    name = WAVEFORMS[waveform]
    if name == "sine":
        return (k == 1).astype(np.float64)
    if name == "square":
        return odd / k
    if name == "sawtooth":
        return (-1.0) ** (k + 1) / k
    return odd * (-1.0) ** ((k - 1) // 2) / (k * k)  # triangle


def wavetable(pitch: int, waveform: int, sample_rate: int) -> np.ndarray:
    """One period (TABLE_SIZE,) of a waveform keeping the harmonics that stay below Nyquist even at the
    largest detuning, scaled to a peak of 1."""
    top = PITCHES_HZ[pitch] * 2.0 ** (DETUNE_CENTS / 1200)
    n = int(np.ceil(sample_rate / 2 / top)) - 1  # the largest k with k * top < sample_rate / 2
    if n < 1:
        raise ConfigError(f"sample-rate={sample_rate}: the tones' note {NOTES[pitch]} ({PITCHES_HZ[pitch]:.1f} Hz) "
                          f"lies above its Nyquist frequency; tones need a sample rate >= {int(2 * top) + 1} Hz")
    theta = np.arange(TABLE_SIZE) / TABLE_SIZE
    amps = harmonic_amplitudes(waveform, n)
    table = np.zeros(TABLE_SIZE)
    for k in np.flatnonzero(amps):
        table += amps[k] * np.sin(2 * np.pi * (k + 1) * theta)
    return table / np.abs(table).max()


def envelope(envelope_id: int, t: np.ndarray, length: float) -> np.ndarray:
    """Gain over time t (seconds from the onset) of a note lasting `length` seconds; 0 outside it."""
    name = ENVELOPES[envelope_id]
    if length <= 0:  # a clip of a sample or two: no room for a note
        return np.zeros_like(t)
    u = np.clip(t / length, 0.0, 1.0)
    if name == "percussive":
        shape = np.exp(-5.0 * u)  # falls to e^-5 (-43 dB) by the end
    elif name == "swell":
        shape = np.sin(np.pi * u) ** 2  # rises to its peak mid-note, then falls
    else:
        shape = np.ones_like(u)
    ramp = min(RAMP_SECONDS, length / 4)
    edges = np.clip(np.minimum(t, length - t) / ramp, 0.0, 1.0)
    return shape * edges


def synthesize(points: np.ndarray, sample_rate: int, seconds: float, jitter: np.ndarray | None = None) -> np.ndarray:
    """Render notes: grid points (N, 4) (pitch, waveform, envelope, loudness ids) and their jitter (N, 3)
    (start phase in cycles, detuning in cents, onset delay in seconds; None: none) -> (N, S) float32."""
    points = np.asarray(points, dtype=np.int64).reshape(-1, len(GRID))
    jitter = np.zeros((len(points), 3)) if jitter is None else np.asarray(jitter, dtype=np.float64)
    n = seconds_to_samples(seconds, sample_rate)
    t = np.arange(n) / sample_rate  # (S,)
    out = np.empty((len(points), n), dtype=np.float32)
    tables = {}
    for i, (p, w, e, lv) in enumerate(points):
        if (p, w) not in tables:
            tables[p, w] = wavetable(p, w, sample_rate)
        phase0, cents, onset = jitter[i]
        f = PITCHES_HZ[p] * 2.0 ** (cents / 1200)
        pos = ((f * t + phase0) % 1.0) * TABLE_SIZE  # (S,) position in the period's table
        i0 = pos.astype(np.int64)
        frac = pos - i0
        table = tables[p, w]
        osc = (1 - frac) * table[i0] + frac * table[(i0 + 1) % TABLE_SIZE]
        gain = 10 ** (LEVELS_DBFS[lv] / 20) * envelope(e, t - onset, t[-1] - onset)  # silent at the last sample
        out[i] = osc * gain
    return out


def draw_tones(cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    """The --subset grid points (subset, 4) and their jitter (subset, 3) of all splits, from --data-seed."""
    total = int(np.prod(GRID))
    if cfg.subset < 10:
        raise ConfigError(f"--subset {cfg.subset} is too small to split into train/val/test (need >= 10)")
    rng = np.random.default_rng(cfg.data_seed)
    if cfg.subset <= total:
        flat = rng.choice(total, size=cfg.subset, replace=False)
    else:  # every grid point equally often, the remainder drawn without replacement
        reps, rest = divmod(cfg.subset, total)
        flat = rng.permutation(np.concatenate([np.tile(np.arange(total), reps), rng.choice(total, rest, False)]))
    points = np.stack(np.unravel_index(flat, GRID), axis=1)  # (subset, 4)
    seconds = cfg.clip_seconds or DEFAULT_SECONDS
    jitter = np.stack([rng.random(cfg.subset),
                       rng.uniform(-DETUNE_CENTS, DETUNE_CENTS, cfg.subset),
                       rng.uniform(0.0, min(ONSET_SECONDS, seconds / 4), cfg.subset)], axis=1)
    return points, jitter


def load_tones(cfg: DataConfig, split: str) -> Clips:
    """One split of `tones`: waves (N, S) at --sample-rate, --clip-seconds long (0.5 s by default), labelled
    by pitch, with all four factors."""
    check_split(split)
    points, jitter = draw_tones(cfg)
    idx = split_indices(cfg.subset, cfg.val_fraction, cfg.data_seed, split).numpy()
    seconds = cfg.clip_seconds or DEFAULT_SECONDS
    waves = torch.from_numpy(synthesize(points[idx], cfg.sample_rate, seconds, jitter[idx]))
    factors = torch.from_numpy(points[idx].astype(np.int64))
    return Clips(normalise_loudness(waves, cfg.loudness), cfg.sample_rate,
                 labels=factors[:, FACTOR_NAMES.index(LABEL_FACTOR)].clone(), label_names=list(NOTES),
                 factors=factors, factor_names=list(FACTOR_NAMES))
