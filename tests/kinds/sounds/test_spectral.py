"""spectral: the spec's validation and frame arithmetic, STFT round trip, a tone's peak bin, the mel scale and
filterbank against hand computation, log-mel's floor and scaling, and the non-negative mel inversion."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from vaekit.errors import ConfigError, DataError
from vaekit.kinds.sounds.spectral import (
    SpectrogramSpec,
    hz_to_mel,
    istft,
    log_mel,
    magnitude,
    mel_filterbank,
    mel_frequencies,
    mel_to_hz,
    mel_to_linear,
    spec_for_clip,
    stft,
)

SR = 16000


def tone(hz: float, n: int, sr: int = SR) -> torch.Tensor:
    return 0.5 * torch.sin(2 * math.pi * hz * torch.arange(n, dtype=torch.float64) / sr).float()


@pytest.mark.parametrize(("fields", "word"), [
    ({"win_length": 2048}, "win_length"), ({"hop_length": 0}, "hop_length"), ({"hop_length": 800}, "hop_length"),
    ({"n_mels": 600}, "n_mels"), ({"f_max": 9000.0}, "Nyquist"), ({"f_min": 8000.0}, "f_min"),
    ({"log_floor": 0.0}, "log_floor"), ({"mel_scale": "bark"}, "mel_scale"), ({"n_fft": 1024.0}, "n_fft"),
    ({"sample_rate": 0}, "sample_rate"),
])
def test_spec_rejects_bad_fields(fields, word):
    with pytest.raises(ConfigError, match=word):
        SpectrogramSpec(**fields)


def test_spec_dict_round_trip_through_json():
    spec = SpectrogramSpec(sample_rate=22050, n_fft=512, hop_length=128, win_length=512, n_mels=0, f_max=8000.0)
    assert SpectrogramSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    with pytest.raises(ConfigError, match="n_melz"):
        SpectrogramSpec.from_dict({"n_melz": 3})


def test_default_spec_shapes():
    spec = SpectrogramSpec()
    assert (spec.bins, spec.n_freqs) == (128, 513)
    assert SpectrogramSpec(n_mels=0).bins == 513
    assert spec.frames(12800) == 65 and spec.samples_for_frames(64) == 12600 and spec.frames(12600) == 64
    assert spec.padded_length(12000, multiple=8) == 12600  # 61 frames -> 64
    assert spec.padded_length(12600, multiple=8) == 12600
    fitted = spec_for_clip(12800)  # keeps the clip, changes the hop: 0.8 s -> 64 frames
    assert fitted.hop_length == 203 and fitted.frames(12800) == 64 and fitted.n_fft == spec.n_fft
    assert spec_for_clip(4000, frames=16).frames(4000) == 16
    with pytest.raises(ConfigError, match="frames"):
        spec_for_clip(10, frames=64)


def test_stft_istft_round_trip_batched():
    spec = SpectrogramSpec()
    wave = torch.randn(2, 3, 4000, generator=torch.Generator().manual_seed(0))
    s = stft(wave, spec)
    assert s.shape == (2, 3, 513, spec.frames(4000)) and s.is_complex()
    assert torch.allclose(istft(s, spec, length=4000), wave, atol=1e-5)
    assert torch.allclose(s[1, 2], stft(wave[1, 2], spec))  # batching does not mix items


def test_stft_of_a_tone_peaks_at_its_bin():
    spec = SpectrogramSpec()
    mag = magnitude(tone(440.0, 8000), spec)        # (F, T)
    peak = int(mag[:, 5:-5].mean(dim=1).argmax())
    assert abs(peak * SR / spec.n_fft - 440.0) <= SR / spec.n_fft


def test_short_wave_is_a_clear_error():
    with pytest.raises(DataError, match="too short"):
        stft(torch.zeros(300), SpectrogramSpec())


def test_mel_scales_by_hand():
    # Slaney: 200/3 Hz per mel below 1 kHz (1 kHz = 15 mels), 27 mels per factor 6.4 above
    assert hz_to_mel(500.0) == pytest.approx(7.5)
    assert hz_to_mel(1000.0) == pytest.approx(15.0)
    assert hz_to_mel(6400.0) == pytest.approx(42.0)
    assert hz_to_mel(700.0, "htk") == pytest.approx(2595 * math.log10(2))
    hz = np.array([0.0, 300.0, 999.0, 1000.0, 4321.0, 8000.0])
    for scale in ("slaney", "htk"):
        assert np.allclose(mel_to_hz(hz_to_mel(hz, scale), scale), hz)


def triangle(f: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """A Slaney-normalised triangle from a to c peaking at b, written out plainly."""
    up = (f - a) / (b - a)
    down = (c - f) / (c - b)
    return np.clip(np.minimum(up, down), 0, None) * 2 / (c - a)


@pytest.mark.parametrize(("scale", "index"), [("slaney", 10), ("slaney", 50), ("htk", 30)])
def test_mel_filter_by_hand(scale, index):
    spec = SpectrogramSpec(mel_scale=scale, n_mels=64)
    top = hz_to_mel(8000.0, scale)
    step = top / 65                                  # 64 filters -> 66 equally spaced corners from 0 mel
    a, b, c = (float(mel_to_hz(step * k, scale)) for k in (index, index + 1, index + 2))
    if scale == "slaney" and index == 10:            # by hand: 8 kHz = 15 + 27 ln 8 / ln 6.4 mels; 11 steps
        assert c < 1000 and b == pytest.approx(200 / 3 * 11 * (15 + 27 * math.log(8) / math.log(6.4)) / 65)
    fft_hz = np.arange(513) * SR / 1024
    fb = mel_filterbank(spec, torch.float64).numpy()
    assert np.allclose(fb[index], triangle(fft_hz, a, b, c), atol=1e-12)
    assert abs(fft_hz[fb[index].argmax()] - b) <= SR / 1024 / 2 + 1e-9  # peak at the bin nearest the centre
    assert np.isclose(mel_frequencies(spec)[index + 1], b)


def test_slaney_filters_have_unit_area():
    fb = mel_filterbank(SpectrogramSpec(n_mels=64), torch.float64)
    area = fb.sum(dim=1) * SR / 1024                 # Riemann sum of each triangle over Hz
    assert torch.allclose(area, torch.ones(64, dtype=torch.float64), atol=0.02)


def test_too_many_mels_for_the_fft_is_a_clear_error():
    with pytest.raises(ConfigError, match="cover no STFT bin"):
        mel_filterbank(SpectrogramSpec(n_fft=256, win_length=256, hop_length=64, n_mels=120))


def test_log_mel_floor_and_scaling():
    spec = SpectrogramSpec()
    assert torch.equal(log_mel(torch.zeros(4000), spec), torch.full((128, 21), math.log(1e-5)))
    wave = tone(440.0, 4000) + 0.1 * torch.randn(4000, generator=torch.Generator().manual_seed(1))
    a, b = log_mel(wave, spec), log_mel(2 * wave, spec)
    assert a.shape == (128, 21) and a.min() > math.log(1e-5)
    assert torch.allclose(b - a, torch.full_like(a, math.log(2)), atol=1e-4)  # amplitude, not power
    assert log_mel(wave, SpectrogramSpec(n_mels=0)).shape == (513, 21)


def smooth_magnitudes(n: int, knots: int, frames: int, seed: int) -> torch.Tensor:
    raw = torch.rand(n, 1, knots, frames, generator=torch.Generator().manual_seed(seed)) + 0.1
    return torch.nn.functional.interpolate(raw, size=(513, frames), mode="bicubic",
                                           align_corners=True).squeeze(1).clamp_min(0)  # (n, F, T)


def test_mel_to_linear_recovers_a_smooth_magnitude():
    spec = SpectrogramSpec()
    fb = mel_filterbank(spec)
    x = smooth_magnitudes(3, 9, 8, seed=0)
    mel = fb @ x
    x_hat = mel_to_linear(mel, spec)
    assert x_hat.shape == x.shape and x_hat.min() >= 0
    assert ((fb @ x_hat - mel).norm() / mel.norm()) < 1e-4
    # between the first and last filter peaks (outside them only half a triangle sees the spectrum)
    centres = mel_frequencies(spec)
    hz = torch.arange(513) * SR / 1024
    band = (hz >= centres[1]) & (hz <= centres[-2])
    assert ((x_hat - x)[:, band].norm() / x[:, band].norm()) < 0.06
    assert torch.allclose(mel_to_linear(mel[None], spec)[0, 1], mel_to_linear(mel[1], spec), atol=1e-5)


def test_mel_to_linear_iterations_fix_what_clipping_breaks():
    spec = SpectrogramSpec()
    fb = mel_filterbank(spec)
    x = torch.zeros(513, 2)
    x[100, 0] = x[300, 1] = 1.0                      # lines: the pseudo-inverse rings below zero around them
    mel = fb @ x
    residual = [float((fb @ mel_to_linear(mel, spec, n) - mel).norm() / mel.norm()) for n in (0, 200)]
    assert mel_to_linear(mel, spec, 0).min() >= 0
    assert residual[0] > 0.1 and residual[1] < residual[0] / 10


def test_mel_to_linear_holds_when_two_filters_cover_the_same_bins():
    # 128 bands over a 512-point FFT: the lowest filters are narrower than a bin and some share their one bin,
    # so M M^T is singular; the inversion still fits the mel amplitudes it is given
    spec = SpectrogramSpec(n_fft=512, win_length=512, hop_length=200, n_mels=128)
    fb = mel_filterbank(spec, torch.float64)
    assert torch.linalg.matrix_rank(fb @ fb.T) < 128
    x = torch.rand(257, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    mel = fb @ x
    x_hat = mel_to_linear(mel, spec)
    assert x_hat.min() >= 0 and float((fb @ x_hat - mel).norm() / mel.norm()) < 1e-3
