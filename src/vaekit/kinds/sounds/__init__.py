"""Sounds: clips of audio. Data sets: the built-in `tones` (synthetic notes with known factors, `tones`),
the `spoken-digits` corpus found through $VAEKIT_DATA and a user's `audio` folder (`corpus`); files are read,
resampled, fitted to a length and written back as WAV by `audio`. Every loader returns `audio.Clips`:
waveforms (N, S) float32 in [-1, 1] at --sample-rate, with their labels and known factors.

The model's items are standardised log-mel spectrograms (1, n_mels, frames) (`spectral`, `features`), made
once when a split is loaded (`loading.SoundData`), so the generic conv / resnet / MLP networks and the
Gaussian likelihood apply. Items go back to sound by the mel filterbank's inverse and Griffin-Lim
(`griffin_lim`), and are written for a person as spectrogram pictures (`picture`) with WAV files and HTML
players (`show`). docs/sounds.md.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from pathlib import Path
from typing import Any, ClassVar

import torch

from vaekit.kinds.base import Kind, Unit
from vaekit.kinds.sounds.audio import EXTENSIONS


class SoundKind(Kind):
    name = "sounds"
    datasets = ("tones", "spoken-digits", "audio")
    architectures = ("conv", "resnet", "mlp")
    # a density on real values: the discretized logistics and the Bernoullis are masses on [0, 1] grids
    likelihoods = ("gaussian",)
    needs_data_dir = ("audio",)
    # --variance stays global: on tones (15 epochs, default conv) its test log p(x) was 55 nats above per_dim's
    model_defaults: ClassVar[dict[str, Any]] = {"arch": "conv", "likelihood": "gaussian", "latent_dim": 32}
    # tones: 20,000 clips of 0.5 s are 640 MB of waves for a 384-note grid; 2,000 cover it 5 times
    data_defaults: ClassVar[dict[str, Any]] = {"subset": 2000}
    media_keys = ("image", "audio")  # the explorer shows each item's spectrogram and plays its sound
    file_types = EXTENSIONS

    # --- data -----------------------------------------------------------------------------------
    def load_split(self, cfg: Any, split: str, stats: dict | None = None) -> Any:
        """A split as `loading.SoundData`: x (N, 1, n_mels, frames) standardised log-mels, labels (N,)
        int64 (tones: pitch; spoken-digits: digit or speaker; audio: the class) and the known factors."""
        from vaekit.kinds.sounds.loading import load_sound_split

        return load_sound_split(cfg, split, stats)

    def load_path(self, path: Path, cfg: Any, stats: dict | None = None) -> Any:
        """An audio file or a folder of them, read as the run's data config says and standardised with its
        stats."""
        from vaekit.kinds.sounds.features import spec_from_stats
        from vaekit.kinds.sounds.loading import load_sound_path

        spec_from_stats(stats)
        return load_sound_path(path, cfg, stats or {})

    # --- model ----------------------------------------------------------------------------------
    def unit(self, model: Any, data: Any) -> Unit | None:
        """nats per time-frequency bin: -log p(x) over D = n_mels x frames, of the standardised log-mel
        density (docs/sounds.md)."""
        return Unit("nats/bin", "nats_per_bin", float(math.prod(data.event_shape)))

    # --- for a person ---------------------------------------------------------------------------
    def shows(self, event_shape: tuple[int, ...], data: Any = None) -> bool:
        """(1, bins, frames) spectrogram items."""
        shape = tuple(event_shape)
        return len(shape) == 3 and shape[0] == 1

    def write_grid(self, items: torch.Tensor, out: Path, per_row: int | None = None,
                   stats: dict | None = None) -> list[Path]:
        """OUT.png (the spectrograms on one dB scale), OUT/NN.wav (one clip per item) and OUT_row_RR.wav
        (each row's clips joined by 0.15 s of silence)."""
        from vaekit.kinds.sounds.features import spec_from_stats
        from vaekit.kinds.sounds.show import write_sounds

        spec_from_stats(stats)
        return write_sounds(items, out, per_row, stats or {})

    def html_grid(self, items: torch.Tensor, alt: str, per_row: int | None = None, stats: dict | None = None) -> str:
        """A table of spectrograms, each above an `<audio>` player of its sound (base64 WAV)."""
        from vaekit.kinds.sounds.features import spec_from_stats
        from vaekit.kinds.sounds.show import sounds_html

        spec_from_stats(stats)
        return sounds_html(items, alt, per_row, stats or {})

    def item_media(self, items: torch.Tensor, stats: dict | None = None,
                   keys: Collection[str] | None = None) -> list[dict[str, str]]:
        """Each item's spectrogram ("image", a PNG on the run's one dB scale) and sound ("audio", a WAV) as
        data URLs (`show.sounds_media`)."""
        from vaekit.kinds.sounds.features import spec_from_stats
        from vaekit.kinds.sounds.show import sounds_media

        spec_from_stats(stats)
        return sounds_media(items, stats or {}, keys)
