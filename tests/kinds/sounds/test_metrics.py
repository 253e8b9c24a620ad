"""metrics: zero for identical inputs, symmetry where it holds, a 2-bin / 2-frame example by hand, scaling
laws, the waveform forms against the magnitude forms, and a finite gradient of the multi-resolution STFT."""

from __future__ import annotations

import math

import pytest
import torch

from vaekit.errors import DataError
from vaekit.kinds.sounds.metrics import (
    log_spectral_distance,
    log_spectral_distance_wave,
    multi_resolution_stft,
    spectral_convergence,
    spectral_convergence_wave,
)
from vaekit.kinds.sounds.spectral import SpectrogramSpec, magnitude


def mags(seed: int, shape=(3, 17, 6)) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + 0.05


def waves(seed: int, n: int = 2, length: int = 3000) -> torch.Tensor:
    return torch.randn(n, length, generator=torch.Generator().manual_seed(seed))


def test_zero_for_identical_inputs():
    s, x = mags(0), waves(0)
    assert torch.equal(spectral_convergence(s, s), torch.zeros(3, dtype=s.dtype))
    assert torch.equal(log_spectral_distance(s, s), torch.zeros(3, dtype=s.dtype))
    assert torch.equal(multi_resolution_stft(x, x), torch.zeros(2))


def test_hand_computed_two_bins_two_frames():
    s = torch.tensor([[[1.0, 2.0], [2.0, 4.0]]], dtype=torch.float64)      # (1, F=2, T=2)
    s_hat = torch.tensor([[[1.0, 1.0], [4.0, 4.0]]], dtype=torch.float64)
    # |S| - |Ŝ| = [[0, 1], [-2, 0]]: ‖·‖ = √5; ‖S‖ = √(1 + 4 + 4 + 16) = 5
    assert spectral_convergence(s, s_hat).item() == pytest.approx(math.sqrt(5) / 5)
    # frame 0: ratios 1, 1/2 -> dB 0, -6.0206; frame 1: ratios 2, 1 -> 6.0206, 0
    d = 20 * math.log10(2)
    assert log_spectral_distance(s, s_hat).item() == pytest.approx(math.sqrt(d * d / 2))


def test_symmetry():
    a, b = mags(1), mags(2)
    assert torch.allclose(log_spectral_distance(a, b), log_spectral_distance(b, a))
    assert not torch.allclose(spectral_convergence(a, b), spectral_convergence(b, a))  # relative to the first


@pytest.mark.parametrize("a", [0.5, 1.7, 3.0])
def test_scaling(a):
    s = mags(3)
    assert torch.allclose(spectral_convergence(s, a * s), torch.full((3,), abs(1 - a), dtype=s.dtype))
    assert torch.allclose(log_spectral_distance(a * s, s), torch.full((3,), abs(20 * math.log10(a)), dtype=s.dtype))


def test_log_spectral_distance_floor():
    s = torch.zeros(1, 4, 3, dtype=torch.float64)
    assert log_spectral_distance(s, s + 1e-9).item() == 0.0                 # both at the floor
    assert log_spectral_distance(s, s + 1e-3, floor=1e-5).item() == pytest.approx(40.0)


def test_wave_forms_match_magnitude_forms():
    spec = SpectrogramSpec(n_fft=256, win_length=256, hop_length=64, n_mels=0)
    x, y = waves(4), waves(5)
    mx, my = magnitude(x, spec), magnitude(y, spec)
    assert torch.allclose(spectral_convergence_wave(x, y, spec), spectral_convergence(mx, my))
    assert torch.allclose(log_spectral_distance_wave(x, y, spec), log_spectral_distance(mx, my))
    assert torch.allclose(spectral_convergence_wave(x, 2 * x, spec), torch.ones(2), atol=1e-6)


def test_multi_resolution_stft_by_hand_and_per_item():
    x, y = waves(6), waves(7)
    res = ((256, 64, 256), (512, 128, 512))
    want = torch.zeros(2)
    for n_fft, hop, win in res:
        w = torch.hann_window(win)
        m = [(torch.stft(v, n_fft, hop, win, w, return_complex=True).abs() ** 2).clamp_min(1e-7).sqrt() for v in (x, y)]
        sc = (m[0] - m[1]).flatten(1).norm(dim=1) / m[0].flatten(1).norm(dim=1)
        want += sc + (m[0].log() - m[1].log()).abs().flatten(1).mean(dim=1)
    got = multi_resolution_stft(x, y, res)
    assert torch.allclose(got, want / 2, rtol=1e-5)
    assert torch.allclose(multi_resolution_stft(x[1:], y[1:], res), got[1:], rtol=1e-5)  # per item
    assert torch.allclose(multi_resolution_stft(x, 2 * x), torch.full((2,), 1 + math.log(2)), rtol=1e-3)


def test_multi_resolution_stft_gradient_is_finite():
    x = waves(8)
    y = x.clone().requires_grad_(True)
    multi_resolution_stft(x, y).sum().backward()
    assert torch.isfinite(y.grad).all()
    z = (x + 0.1 * waves(9)).requires_grad_(True)
    loss = multi_resolution_stft(x, z).sum()
    loss.backward()
    with torch.no_grad():  # a small step against the gradient lowers the distance
        assert multi_resolution_stft(x, z - 1e-2 * z.grad / z.grad.norm()).sum() < loss


def test_bad_shapes_are_clear_errors():
    with pytest.raises(DataError, match="same shape"):
        spectral_convergence(mags(0), mags(1, (3, 17, 5)))
    with pytest.raises(DataError, match="too short"):
        multi_resolution_stft(torch.zeros(2, 300), torch.zeros(2, 300))
