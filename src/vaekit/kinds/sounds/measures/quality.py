"""How close decoded clips are to the true ones, and how close they could be: the reconstruction measures of
`metrics` averaged over a batch, and the Griffin-Lim floor.

A sound VAE models log-mel spectrograms, and its decoded spectrograms become sound by mel inversion and
Griffin-Lim (`griffin_lim.spectrogram_to_wave`). That road loses the phase and the detail finer than the mel
filters even for a perfect spectrogram, so a model's numbers are read beside the floor: the same measures of
the clips rebuilt from their *true* log-mel spectrograms (`griffin_lim_floor`). A model at the floor is as good
as this inversion lets it sound; the distance to it is the model's own error.

Log-spectral distance by default averages over the active frames only, those whose true energy lies within
`active_db` = 60 dB of the clip's loudest frame: padded clips end in digital silence, where any decoded
noise is tens of dB above the true floor and would swamp the measure with frames nobody hears.
`active_db=None` averages over all frames, as `metrics.log_spectral_distance_wave` does. Spectral
convergence is a ratio of norms, dominated by the loud frames, and the multi-resolution STFT distance is
Parallel WaveGAN's as it stands; neither is masked.
"""

from __future__ import annotations

import torch

from vaekit.errors import ConfigError, DataError
from vaekit.kinds.sounds.griffin_lim import spectrogram_to_wave
from vaekit.kinds.sounds.metrics import DB_PER_NEPER, multi_resolution_stft, spectral_convergence
from vaekit.kinds.sounds.spectral import SpectrogramSpec, log_mel, magnitude

ACTIVE_DB = 60.0


def active_frames(mag: torch.Tensor, active_db: float = ACTIVE_DB) -> torch.Tensor:
    """(N, T) bool: the frames of amplitudes (N, F, T) whose energy Σ_f |S|² lies within active_db of the
    clip's loudest frame (an all-silent clip: every frame, so none is left without frames)."""
    if not active_db > 0:
        raise ConfigError(f"active_db must be > 0 dB (or None for every frame), got {active_db}")
    energy_db = 10 * torch.log10(mag.square().sum(-2).clamp_min(1e-30))  # (N, T)
    return energy_db >= energy_db.amax(-1, keepdim=True) - active_db


def masked_log_spectral_distance(mag: torch.Tensor, mag_hat: torch.Tensor, mask: torch.Tensor,
                                 floor: float = 1e-5) -> torch.Tensor:
    """`metrics.log_spectral_distance` (dB, per item (N,)) with the mean taken over the frames where mask
    (N, T) holds: each frame's RMS over bins of 20 log10(|S| / |Ŝ|), amplitudes floored at `floor`."""
    db = DB_PER_NEPER * (mag.clamp_min(floor).log() - mag_hat.clamp_min(floor).log())  # (N, F, T)
    per_frame = db.square().mean(dim=-2).sqrt()                                        # (N, T)
    m = mask.to(per_frame.dtype)
    return (per_frame * m).sum(-1) / m.sum(-1).clamp_min(1)


def _check_waves(true_waves: torch.Tensor, decoded_waves: torch.Tensor) -> None:
    if true_waves.dim() != 2 or true_waves.shape != decoded_waves.shape:
        raise DataError(f"reconstruction measures need true and decoded waves of one shape (N, samples), got "
                        f"{tuple(true_waves.shape)} and {tuple(decoded_waves.shape)}")
    if len(true_waves) == 0:
        raise DataError("reconstruction measures of no clips: give at least one")
    for name, w in (("true", true_waves), ("decoded", decoded_waves)):
        bad = torch.nonzero(~torch.isfinite(w).all(1)).flatten()
        if len(bad):
            raise DataError(f"{len(bad)} {name} clips hold non-finite samples, the first is clip {int(bad[0])}")


@torch.no_grad()
def reconstruction_measures(true_waves: torch.Tensor, decoded_waves: torch.Tensor, spec: SpectrogramSpec,
                            active_db: float | None = ACTIVE_DB) -> dict[str, float]:
    """Means over the clips (N, S) of: `lsd_db`, the log-spectral distance in dB (active frames only unless
    active_db is None: module docstring); `spectral_convergence`; `mr_stft`, the multi-resolution STFT
    distance. LSD and spectral convergence use the STFT amplitudes of `spec` (its n_fft, hop and window;
    its mel bins play no part), relative to the true clips."""
    _check_waves(true_waves, decoded_waves)
    x, x_hat = true_waves.float(), decoded_waves.float()
    mag, mag_hat = magnitude(x, spec), magnitude(x_hat, spec)  # (N, F, T)
    mask = torch.ones(mag.shape[0], mag.shape[-1], dtype=torch.bool) if active_db is None \
        else active_frames(mag, active_db)
    return {
        "lsd_db": float(masked_log_spectral_distance(mag, mag_hat, mask).mean()),
        "spectral_convergence": float(spectral_convergence(mag, mag_hat).mean()),
        "mr_stft": float(multi_resolution_stft(x, x_hat).mean()),
        "n": len(x),
    }


@torch.no_grad()
def griffin_lim_floor(true_waves: torch.Tensor, spec: SpectrogramSpec, n_iter: int = 60,
                      generator: torch.Generator | None = None,
                      active_db: float | None = ACTIVE_DB) -> tuple[torch.Tensor, dict[str, float]]:
    """The clips (N, S) rebuilt from their true log spectrograms under `spec` (the model's item spec) by
    `spectrogram_to_wave` (mel inversion, then n_iter fast Griffin-Lim iterations from a random phase drawn
    from `generator`), and their `reconstruction_measures` against the true clips."""
    if true_waves.dim() != 2:
        raise DataError(f"griffin_lim_floor expects waves (N, samples), got {tuple(true_waves.shape)}")
    x = true_waves.float()
    rebuilt = spectrogram_to_wave(log_mel(x, spec), spec, n_iter=n_iter, generator=generator,
                                  length=x.shape[-1])  # (N, S)
    return rebuilt, reconstruction_measures(x, rebuilt, spec, active_db)
