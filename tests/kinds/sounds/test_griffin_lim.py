"""griffin_lim: a tone's true magnitude gives back the tone (its frequency, spectral convergence < 0.1), more
iterations do better, the generator makes it deterministic; spectrogram_to_wave from a log-mel spectrogram."""

from __future__ import annotations

import math

import pytest
import torch

from vaekit.errors import ConfigError, DataError
from vaekit.kinds.sounds.griffin_lim import griffin_lim, spectrogram_to_wave
from vaekit.kinds.sounds.metrics import spectral_convergence
from vaekit.kinds.sounds.spectral import SpectrogramSpec, log_mel, magnitude, mel_spectrogram

SR = 16000
N = 4000  # 0.25 s


def faded_tone(hz: float, n: int = N) -> torch.Tensor:
    """A tone with 20 ms linear fades in and out, as a synthesised note has."""
    t = torch.arange(n, dtype=torch.float64) / SR
    fade = torch.clamp(torch.minimum(t, t[-1] - t) / 0.02, max=1.0)
    return (0.5 * fade * torch.sin(2 * math.pi * hz * t)).float()


def test_griffin_lim_recovers_a_tone():
    spec = SpectrogramSpec()
    mag = magnitude(faded_tone(440.0), spec).expand(3, -1, -1)           # (3, F, T): three random starts
    g = torch.Generator().manual_seed(0)
    wave = griffin_lim(mag, spec, n_iter=60, generator=g, length=N)
    assert wave.shape == (3, N)
    peak_hz = torch.fft.rfft(wave).abs().argmax(dim=-1) * SR / N         # (3,), 4 Hz bins
    assert torch.all((peak_hz - 440.0).abs() <= SR / N)
    sc = spectral_convergence(mag, magnitude(wave, spec))
    assert torch.all(sc < 0.1), sc
    one = griffin_lim(mag, spec, n_iter=1, generator=torch.Generator().manual_seed(0), length=N)
    assert torch.all(spectral_convergence(mag, magnitude(one, spec)) > 2 * sc)


def test_griffin_lim_is_deterministic_given_a_generator():
    spec = SpectrogramSpec()
    mag = magnitude(faded_tone(300.0), spec)
    a, b = (griffin_lim(mag, spec, 5, generator=torch.Generator().manual_seed(7)) for _ in range(2))
    assert torch.equal(a, b) and a.shape == (spec.samples_for_frames(mag.shape[-1]),)
    c = griffin_lim(mag, spec, 5, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(a, c)
    assert torch.equal(griffin_lim(mag, spec, 5, init="zeros"), griffin_lim(mag, spec, 5, init="zeros"))


def test_griffin_lim_rejects_bad_options():
    mag = torch.ones(513, 4)
    with pytest.raises(ConfigError, match="momentum"):
        griffin_lim(mag, SpectrogramSpec(), momentum=1.5)
    with pytest.raises(ConfigError, match="init"):
        griffin_lim(mag, SpectrogramSpec(), init="noise")


def test_spectrogram_to_wave_from_log_mel():
    spec = SpectrogramSpec()
    wave = faded_tone(440.0) + faded_tone(1250.0)
    g = torch.Generator().manual_seed(0)
    back = spectrogram_to_wave(log_mel(wave, spec), spec, n_iter=60, generator=g, length=N)
    assert back.shape == (N,)
    sc_mel = spectral_convergence(mel_spectrogram(wave, spec)[None], mel_spectrogram(back, spec)[None])
    assert sc_mel.item() < 0.15
    spectrum = torch.fft.rfft(back).abs()                                # the two tones are the two peaks
    top2 = sorted((spectrum.topk(2).indices * SR / N).tolist())
    assert abs(top2[0] - 440.0) <= 2 * SR / N and abs(top2[1] - 1250.0) <= 2 * SR / N
    with pytest.raises(DataError, match="bins"):
        spectrogram_to_wave(torch.zeros(80, 5), spec)


def test_spectrogram_to_wave_linear():
    spec = SpectrogramSpec(n_mels=0)
    wave = faded_tone(700.0)
    back = spectrogram_to_wave(log_mel(wave, spec), spec, generator=torch.Generator().manual_seed(1), length=N)
    assert spectral_convergence(magnitude(wave, spec)[None], magnitude(back, spec)[None]).item() < 0.1
