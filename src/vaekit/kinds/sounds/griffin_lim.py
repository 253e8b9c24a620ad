"""Phase retrieval: a waveform whose STFT magnitude is a given one, by the fast Griffin-Lim algorithm, and the
whole way back from a (log-mel or log-linear) spectrogram to sound."""

from __future__ import annotations

import math

import torch

from vaekit.errors import ConfigError, DataError
from vaekit.kinds.sounds.spectral import SpectrogramSpec, istft, mel_to_linear, stft

INITS = ("random", "zeros")


def _unit(s: torch.Tensor) -> torch.Tensor:
    """s / |s|: the phase as a unit complex number (1 where |s| = 0)."""
    mag = s.abs()
    parts = torch.view_as_real(s) / mag.clamp_min(1e-30).unsqueeze(-1)  # (..., 2): real arithmetic, ~2x faster
    parts[..., 0] += mag == 0
    return torch.view_as_complex(parts)


def _initial_phase(magnitude: torch.Tensor, init: str, generator: torch.Generator | None) -> torch.Tensor:
    if init == "zeros":
        angle = torch.zeros(magnitude.shape, dtype=magnitude.dtype)
    else:
        angle = torch.rand(magnitude.shape, generator=generator, dtype=magnitude.dtype) * (2 * math.pi)
    return torch.polar(torch.ones_like(angle), angle).to(magnitude.device)  # unit complex (..., F, T)


def griffin_lim(magnitude: torch.Tensor, spec: SpectrogramSpec, n_iter: int = 60, momentum: float = 0.99,
                generator: torch.Generator | None = None, init: str = "random",
                length: int | None = None) -> torch.Tensor:
    """Waves (..., length) whose STFT magnitude approaches `magnitude` (..., n_freqs, frames), amplitude.

    The fast Griffin-Lim algorithm (Perraudin, Balazs & Søndergaard 2013, Algorithm 2): alternate the
    projections onto consistent spectrograms (P_C2 = stft∘istft) and onto the given magnitude (P_C1), with an
    inertial step c_n = t_n + momentum (t_n - t_{n-1}); momentum 0 is Griffin & Lim (1984). Momenta near 1
    converge fastest (the paper uses 0.99). The initial phase is uniform random, drawn from `generator`
    (torch's global one if None), or zero (init="zeros"). `length` defaults to (frames - 1) * hop_length.
    """
    if init not in INITS:
        raise ConfigError(f"griffin_lim init must be one of {INITS}, got {init!r}")
    if n_iter < 0 or not 0 <= momentum < 1:
        raise ConfigError(f"griffin_lim needs n_iter >= 0 and 0 <= momentum < 1, got {n_iter}, {momentum}")
    mag = magnitude.clamp_min(0)
    length = spec.samples_for_frames(mag.shape[-1]) if length is None else length
    t_prev = c = mag * _initial_phase(mag, init, generator)     # (..., F, T) complex
    for _ in range(n_iter):
        rebuilt = stft(istft(c, spec, length), spec)             # P_C2: the nearest consistent spectrogram
        t = mag * _unit(rebuilt)                                 # P_C1: the given magnitude, its phase
        c = t + momentum * (t - t_prev)
        t_prev = t
    return istft(t_prev, spec, length)


def spectrogram_to_wave(log_spec: torch.Tensor, spec: SpectrogramSpec, n_iter: int = 60,
                        momentum: float = 0.99, generator: torch.Generator | None = None,
                        length: int | None = None, nnls_iter: int = 100) -> torch.Tensor:
    """Sound (..., length) from a log spectrogram (..., bins, frames) as `log_mel` makes it: undo the log,
    invert the mel filterbank (`mel_to_linear`) when spec.n_mels > 0, then `griffin_lim`."""
    if log_spec.shape[-2] != spec.bins:
        raise DataError(f"spectrogram_to_wave expects {spec.bins} bins for this spec, got {tuple(log_spec.shape)}")
    amp = log_spec.exp()
    if spec.n_mels > 0:
        amp = mel_to_linear(amp, spec, nnls_iter)                # (..., F, T)
    return griffin_lim(amp, spec, n_iter, momentum, generator, length=length)
