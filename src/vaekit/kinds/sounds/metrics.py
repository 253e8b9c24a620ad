"""How far a sound is from another, in the numbers audio papers report. Every function is per item: batches
in, (N,) out; the magnitude forms take STFT amplitudes (N, F, T), the `_wave` forms and the multi-resolution
STFT distance take waveforms (N, samples) and compute the amplitudes with a `SpectrogramSpec`.
All are differentiable (torch operations only); `multi_resolution_stft` is the one meant as a training loss
(its amplitudes are floored as Parallel WaveGAN floors them, so its gradient is finite everywhere)."""

from __future__ import annotations

import math

import torch

from vaekit.errors import DataError
from vaekit.kinds.sounds.spectral import SpectrogramSpec, magnitude

# (n_fft, hop_length, win_length): at 16 kHz, windows of 16, 32 and 64 ms with 75 % overlap (Parallel WaveGAN's
# set at 24 kHz has 10, 25 and 50 ms windows); short enough that a 0.17 s clip (2,720 samples) has 11 frames at
# the coarsest resolution and is longer than its reflect padding.
MR_STFT_RESOLUTIONS: tuple[tuple[int, int, int], ...] = ((256, 64, 256), (512, 128, 512), (1024, 256, 1024))

DB_PER_NEPER = 20 / math.log(10)  # 20 log10(x) = DB_PER_NEPER * ln(x)


def _check_pair(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    if a.shape != b.shape or a.ndim < 2:
        raise DataError(f"{what} expects two batches of the same shape (N, ...), got {tuple(a.shape)} "
                        f"and {tuple(b.shape)}")


def spectral_convergence(mag: torch.Tensor, mag_hat: torch.Tensor) -> torch.Tensor:
    """‖|S| − |Ŝ|‖_F / ‖|S|‖_F per item (N,) of amplitudes (N, F, T); relative to the first argument, so not
    symmetric. Arık, Jun & Diamos 2018 (Fast spectrogram inversion using multi-head CNNs, eq. 2); the spectral
    convergence loss of Parallel WaveGAN (Yamamoto, Song & Kim 2020, eq. 3)."""
    _check_pair(mag, mag_hat, "spectral_convergence")
    diff = (mag.abs() - mag_hat.abs()).flatten(1)  # (N, F*T)
    return torch.linalg.vector_norm(diff, dim=1) / torch.linalg.vector_norm(mag.abs().flatten(1), dim=1)


def log_spectral_distance(mag: torch.Tensor, mag_hat: torch.Tensor, floor: float = 1e-5) -> torch.Tensor:
    """Log-spectral distance in dB per item (N,) of amplitudes (N, F, T): for each frame
    sqrt(mean over bins of (10 log10(|S|² / |Ŝ|²))²), then the mean over frames; amplitudes are floored at
    `floor` first. Symmetric. The frame-wise form of Gray & Markel 1976 (Distance measures for speech
    processing) that audio super-resolution papers report (Kuleshov, Enam & Ermon 2017)."""
    _check_pair(mag, mag_hat, "log_spectral_distance")
    db = DB_PER_NEPER * (mag.abs().clamp_min(floor).log() - mag_hat.abs().clamp_min(floor).log())  # (N, F, T)
    return db.square().mean(dim=-2).sqrt().mean(dim=-1)


def spectral_convergence_wave(x: torch.Tensor, x_hat: torch.Tensor, spec: SpectrogramSpec) -> torch.Tensor:
    """`spectral_convergence` of the STFT amplitudes of waves (N, samples) -> (N,)."""
    _check_pair(x, x_hat, "spectral_convergence_wave")
    return spectral_convergence(magnitude(x, spec), magnitude(x_hat, spec))


def log_spectral_distance_wave(x: torch.Tensor, x_hat: torch.Tensor, spec: SpectrogramSpec,
                               floor: float = 1e-5) -> torch.Tensor:
    """`log_spectral_distance` (dB) of the STFT amplitudes of waves (N, samples) -> (N,)."""
    _check_pair(x, x_hat, "log_spectral_distance_wave")
    return log_spectral_distance(magnitude(x, spec), magnitude(x_hat, spec), floor)


def _stft_amplitude(x: torch.Tensor, n_fft: int, hop: int, win: int) -> torch.Tensor:
    """|STFT| (N, F, T) with Parallel WaveGAN's floor: sqrt(max(|S|², 1e-7)), finite gradients at 0."""
    s = torch.stft(x, n_fft, hop, win, torch.hann_window(win, dtype=x.dtype, device=x.device),
                   center=True, pad_mode="reflect", return_complex=True)
    return (s.real.square() + s.imag.square()).clamp_min(1e-7).sqrt()


def multi_resolution_stft(x: torch.Tensor, x_hat: torch.Tensor,
                          resolutions: tuple[tuple[int, int, int], ...] = MR_STFT_RESOLUTIONS) -> torch.Tensor:
    """Parallel WaveGAN's multi-resolution STFT distance per item (N,) of waves (N, samples) (Yamamoto, Song &
    Kim 2020, eqs. 3-5): the mean over the (n_fft, hop_length, win_length) resolutions of spectral
    convergence + mean |log|S| − log|Ŝ||. Not symmetric (the convergence term is relative to x)."""
    _check_pair(x, x_hat, "multi_resolution_stft")
    if x.ndim != 2:
        raise DataError(f"multi_resolution_stft expects waves (N, samples), got {tuple(x.shape)}")
    total = x.new_zeros(x.shape[0])
    for n_fft, hop, win in resolutions:
        if x.shape[-1] <= n_fft // 2:
            raise DataError(f"multi_resolution_stft: waves of {x.shape[-1]} samples are too short for "
                            f"n_fft={n_fft} (reflect padding needs more than {n_fft // 2})")
        mag, mag_hat = _stft_amplitude(x, n_fft, hop, win), _stft_amplitude(x_hat, n_fft, hop, win)  # (N, F, T)
        log_mag = (mag.log() - mag_hat.log()).abs().flatten(1).mean(dim=1)
        total = total + spectral_convergence(mag, mag_hat) + log_mag
    return total / len(resolutions)
