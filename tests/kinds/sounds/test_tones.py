"""The built-in tones: determinism, splits, and factors that match the signal (spectra, levels, envelopes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.config import DataConfig
from vaekit.errors import ConfigError
from vaekit.kinds.sounds.tones import (
    DETUNE_CENTS,
    FACTOR_NAMES,
    GRID,
    PITCHES_HZ,
    WAVEFORMS,
    draw_tones,
    load_tones,
    synthesize,
    tone_factors,
)

RATE = 16000


def cfg(**kw) -> DataConfig:
    return DataConfig(**{"dataset": "tones", "subset": 60, "clip_seconds": 0.25, **kw})


def spectrum(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, power) of a Hann-windowed clip."""
    return np.fft.rfftfreq(len(x), 1 / RATE), np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2


def test_factors_are_named_with_their_values():
    f = tone_factors()
    assert tuple(f) == FACTOR_NAMES == ("pitch", "waveform", "envelope", "loudness")
    assert tuple(len(v) for v in f.values()) == GRID == (8, 4, 3, 4)
    assert f["pitch"][0] == "C4" and f["waveform"] == WAVEFORMS
    assert PITCHES_HZ[5] == pytest.approx(440.0) and PITCHES_HZ[0] == pytest.approx(261.6256, abs=1e-4)


def test_the_same_seed_gives_the_same_clips_and_another_seed_others():
    a, b = load_tones(cfg(), "train"), load_tones(cfg(), "train")
    assert torch.equal(a.waves, b.waves) and torch.equal(a.factors, b.factors)
    c = load_tones(cfg(data_seed=1), "train")
    assert not torch.equal(a.factors, c.factors)
    assert a.waves.shape == (48, 4000) and a.waves.dtype == torch.float32 and a.factors.dtype == torch.int64


def test_splits_are_disjoint_and_labelled_by_pitch():
    splits = {s: load_tones(cfg(), s) for s in ("train", "val", "test")}
    assert [len(splits[s]) for s in ("train", "val", "test")] == [48, 6, 6]
    rows = [w.numpy().tobytes() for c in splits.values() for w in c.waves]
    assert len(set(rows)) == 60  # no clip in two splits (nor twice in one)
    for c in splits.values():
        assert torch.equal(c.labels, c.factors[:, 0]) and c.label_names[0] == "C4"
        assert c.factor_names == list(FACTOR_NAMES)
        assert ((c.factors >= 0) & (c.factors < torch.tensor(GRID))).all()


def test_a_subset_larger_than_the_grid_repeats_every_note_equally():
    points, jitter = draw_tones(cfg(subset=2 * int(np.prod(GRID))))
    flat = np.ravel_multi_index(points.T, GRID)
    assert np.bincount(flat, minlength=int(np.prod(GRID))).tolist() == [2] * int(np.prod(GRID))
    assert len(np.unique(jitter[:, 0])) == len(jitter)  # each repetition has its own phase
    assert np.abs(jitter[:, 1]).max() <= DETUNE_CENTS


@pytest.mark.parametrize("pitch", range(8))
def test_a_sine_peaks_at_its_pitch(pitch):
    x = synthesize(np.array([[pitch, 0, 2, 3]]), RATE, 0.5)[0]
    freqs, power = spectrum(x)
    assert abs(freqs[power.argmax()] - PITCHES_HZ[pitch]) <= RATE / len(x)  # within one bin (2 Hz)


def test_jittered_sines_of_a_split_peak_at_their_pitch():
    c = load_tones(cfg(clip_seconds=0.5), "train")
    sines = (c.factors[:, 1] == 0).nonzero().flatten()
    assert len(sines) > 0
    for i in sines.tolist():
        freqs, power = spectrum(c.waves[i].numpy())
        detune = PITCHES_HZ[c.labels[i]] * (2 ** (DETUNE_CENTS / 1200) - 1)
        assert abs(freqs[power.argmax()] - PITCHES_HZ[c.labels[i]]) <= RATE / c.waves.shape[1] + detune


def test_harmonics_follow_the_fourier_series_of_each_shape():
    x = synthesize(np.array([[0, w, 2, 3] for w in range(4)]), RATE, 0.5)  # C4, flat envelope
    f0 = PITCHES_HZ[0]

    def harmonic(row: int, k: int) -> float:  # the amplitude at exactly k f0, by a Hann-windowed projection
        t, w = np.arange(x.shape[1]) / RATE, np.hanning(x.shape[1])
        return float(2 * np.abs(np.sum(w * x[row] * np.exp(-2j * np.pi * k * f0 * t))) / w.sum())

    ratios = {w: [harmonic(w, k) / harmonic(w, 1) for k in (2, 3, 5)] for w in range(1, 4)}
    assert ratios[1] == pytest.approx([0.0, 1 / 3, 1 / 5], abs=0.01)  # square: odd harmonics, 1/k
    assert ratios[2] == pytest.approx([1 / 2, 1 / 3, 1 / 5], abs=0.01)  # sawtooth: all harmonics, 1/k
    assert ratios[3] == pytest.approx([0.0, 1 / 9, 1 / 25], abs=0.01)  # triangle: odd harmonics, 1/k^2
    assert harmonic(0, 3) / harmonic(0, 1) < 1e-3  # sine: nothing else


def non_harmonic_fraction(x: np.ndarray, f0: float) -> float:
    freqs, power = spectrum(x)
    k = freqs / f0
    near = np.abs(k - np.round(k)) * f0 < 10  # within 10 Hz of a harmonic
    return float(power[~near].sum() / power.sum())


def test_waveforms_are_band_limited():
    f0 = PITCHES_HZ[7]  # C5: its sawtooth's harmonics reach Nyquist soonest
    x = synthesize(np.array([[7, 2, 2, 3]]), RATE, 0.5)[0]
    t = np.arange(len(x)) / RATE
    naive = 0.5 * (2 * ((f0 * t) % 1.0) - 1)  # a sawtooth sampled as is: its harmonics fold back
    assert non_harmonic_fraction(naive, f0) > 1e-3
    assert non_harmonic_fraction(x, f0) < 1e-4


def test_each_loudness_level_is_6_db_above_the_last():
    x = synthesize(np.array([[3, 1, 2, lv] for lv in range(4)]), RATE, 0.25)  # F4 square, flat
    rms = np.sqrt((x.astype(np.float64) ** 2).mean(axis=1))
    np.testing.assert_allclose(rms[1:] / rms[:-1], 10 ** (6 / 20), rtol=1e-6)
    assert np.abs(x[3]).max() == pytest.approx(10 ** (-6 / 20), rel=0.01)


def test_envelopes_have_their_shapes():
    x = synthesize(np.array([[2, 0, e, 3] for e in range(3)]), RATE, 0.4)
    quarters = np.sqrt((x.reshape(3, 4, -1).astype(np.float64) ** 2).mean(axis=2))  # (envelope, quarter)
    percussive, swell, flat = quarters
    assert np.all(np.diff(percussive) < 0) and percussive[0] / percussive[3] > 10  # decays
    assert swell[1] > 3 * swell[0] and swell[2] > 3 * swell[3]  # rises, then falls
    assert flat[1] == pytest.approx(flat[2], rel=0.01)
    assert np.abs(x[:, [0, -1]]).max() < 1e-3  # every note fades in and out: no click


def test_a_sample_rate_below_the_highest_note_is_refused():
    with pytest.raises(ConfigError, match="sample-rate=1000"):
        load_tones(cfg(sample_rate=1000), "train")
    with pytest.raises(ConfigError, match="subset"):
        load_tones(cfg(subset=5), "train")


def test_loudness_option_applies_to_tones():
    c = load_tones(cfg(loudness="peak"), "val")
    assert c.waves.abs().amax(dim=1).tolist() == pytest.approx([10 ** (-1 / 20)] * len(c), rel=1e-5)
