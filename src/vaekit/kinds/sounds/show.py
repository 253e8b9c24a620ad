"""Sound items for a person: a spectrogram picture to look at and a WAV file to listen to, for every item.

Files (`write_sounds`): OUT.png, the spectrogram grid on one dB scale; OUT/NN.wav, one clip per item; and
OUT_row_RR.wav, each row's clips joined by ROW_GAP_SECONDS of silence, so an interpolation or a traversal is
heard in order. HTML (`sounds_html`): a table of cells, each a spectrogram above an `<audio>` player whose
WAV is embedded as base64, so the page stays self-contained. Media (`sounds_media`): each item's picture and
sound as data URLs on their own, for a page that swaps them as it goes (the explorer). Items become sound through
`features.items_to_waves` (Griffin-Lim from a fixed seed: the same items always give the same files).
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Collection
from pathlib import Path

import torch
from PIL import Image

from vaekit.errors import ConfigError
from vaekit.kinds.sounds.audio import wav_bytes, write_wav
from vaekit.kinds.sounds.features import items_to_log_mel, items_to_waves, spec_from_stats
from vaekit.kinds.sounds.metrics import DB_PER_NEPER
from vaekit.kinds.sounds.picture import save_png, spectrogram_grid, spectrogram_image

ROW_GAP_SECONDS = 0.15  # silence between the clips of a row's WAV: each is heard as its own sound
MAX_PLAYERS = 64  # <audio> players per HTML grid: each embeds its WAV (0.5 s at 16 kHz is 16 kB)
TOP_DB = 80.0  # the dB range a picture shows, below the loudest value of its grid
CELL_SCALE = 2  # spectrogram pixels per bin and frame in HTML
MEDIA_KEYS = ("image", "audio")  # what `sounds_media` gives for an item: its spectrogram PNG and its WAV
RUN_TOP_STD = 3.0  # `run_db_range` tops out this many training log-mel stds above their mean
# (Griffin-Lim, NNLS) iterations of `sounds_media`, the explorer's previews, which are remade at every slider
# rest: fewer than the files' (60, 100), at the spectral-convergence cost measured in docs/explorer.md
PREVIEW_ITERATIONS = (24, 16)


def _per_row(n: int, per_row: int | None) -> int:
    """Items per row: `per_row`, or the square-ish grid `images.grid.make_grid` lays out by default."""
    return per_row or max(1, math.ceil(math.sqrt(n)))


def join_rows(waves: torch.Tensor, per_row: int, sample_rate: int) -> list[torch.Tensor]:
    """Clips (N, S) -> one clip per row of `per_row`: the row's clips in order, ROW_GAP_SECONDS of silence
    between them."""
    gap = torch.zeros(round(ROW_GAP_SECONDS * sample_rate))
    rows = []
    for lo in range(0, len(waves), per_row):
        parts = [p for w in waves[lo:lo + per_row] for p in (gap, w)][1:]  # clip, gap, clip, ...
        rows.append(torch.cat(parts))
    return rows


def write_sounds(items: torch.Tensor, out: Path, per_row: int | None, stats: dict) -> list[Path]:
    """Items (N, 1, bins, frames) as OUT.png, OUT/NN.wav and OUT_row_RR.wav (module docstring); returns every
    path written. Item WAVs left in OUT/ by an earlier, larger grid are removed."""
    out = Path(out)
    rate = int(stats["sample_rate"])
    png = save_png(spectrogram_grid(items_to_log_mel(items, stats), per_row, top_db=TOP_DB), out.with_suffix(".png"))
    waves = items_to_waves(items, stats)  # (N, S)
    folder = out.parent / out.stem
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("[0-9]*.wav"):
        old.unlink()
    width = max(2, len(str(len(waves) - 1)))
    written = [png] + [write_wav(folder / f"{i:0{width}d}.wav", w, rate) for i, w in enumerate(waves)]
    rows = join_rows(waves, _per_row(len(waves), per_row), rate)
    width = max(2, len(str(len(rows) - 1)))
    for old in out.parent.glob(f"{out.stem}_row_[0-9]*.wav"):
        old.unlink()
    written += [write_wav(out.parent / f"{out.stem}_row_{r:0{width}d}.wav", w, rate) for r, w in enumerate(rows)]
    return written


def _data_uri(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(payload).decode("ascii")


def _png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def sounds_html(items: torch.Tensor, alt: str, per_row: int | None, stats: dict) -> str:
    """Items (N, 1, bins, frames) as a table, `per_row` cells a row: each cell the item's spectrogram (all on
    the grid's one dB scale) above an `<audio>` player of its sound; only the first MAX_PLAYERS items get a
    player (a note says so)."""
    log_spec = items_to_log_mel(items, stats)  # (N, F, T)
    spec = spec_from_stats(stats)
    hi = float(log_spec.max()) * DB_PER_NEPER
    heard = min(len(items), MAX_PLAYERS)
    waves = items_to_waves(items[:heard], stats)
    rate, ncol = int(stats["sample_rate"]), _per_row(len(items), per_row)
    width, height = CELL_SCALE * log_spec.shape[-1], CELL_SCALE * spec.bins
    cells = []
    for i in range(len(items)):
        png = _png_bytes(spectrogram_image(log_spec[i], db_range=(hi - TOP_DB, hi)))
        cell = f'<img src="{_data_uri("image/png", png)}" alt="{html.escape(alt)} {i}" width="{width}" ' \
               f'height="{height}">'
        if i < heard:
            cell += f'<br><audio controls preload="none" style="width:{max(width, 120)}px" ' \
                    f'src="{_data_uri("audio/wav", wav_bytes(waves[i], rate))}"></audio>'
        cells.append(f'<td style="text-align:center">{cell}</td>')
    rows = ["<tr>" + "".join(cells[lo:lo + ncol]) + "</tr>" for lo in range(0, len(cells), ncol)]
    note = (f'<p class="note">{alt}: the first {heard} of {len(items)} items have a player</p>'
            if heard < len(items) else "")
    return f'<table class="sounds" title="{html.escape(alt)}">{"".join(rows)}</table>{note}'


def run_db_range(stats: dict) -> tuple[float, float]:
    """The dB range a run's items are pictured on one at a time: from the spectrogram's floor (log_floor, the
    quietest any item can be: 1e-5 is -100 dB) to RUN_TOP_STD stds above the mean of its training log-mel
    values (a level the loud bins of its clips reach). Pictures made apart (the explorer's decodes, one per
    slider move) then share one scale, so a louder item looks brighter, and a blurred decoding that sits
    between the floor and the loud bins stays visible."""
    lo = math.log(spec_from_stats(stats).log_floor) * DB_PER_NEPER
    hi = (stats["log_mel_mean"] + RUN_TOP_STD * stats["log_mel_std"]) * DB_PER_NEPER
    return lo, max(hi, lo + 1.0)


def sounds_media(items: torch.Tensor, stats: dict, keys: Collection[str] | None = None,
                 iterations: tuple[int, int] = PREVIEW_ITERATIONS) -> list[dict[str, str]]:
    """Items (N, 1, bins, frames) as data URLs, one dict per item: "image", its spectrogram as a PNG (one
    pixel per bin and frame, on `run_db_range`'s scale), and "audio", its sound as a 16-bit WAV at the run's
    rate (`features.items_to_waves` with `iterations` of Griffin-Lim and of the mel inversion: by default the
    previews' PREVIEW_ITERATIONS). `keys`: some of MEDIA_KEYS only (the picture costs far less than the
    sound's Griffin-Lim)."""
    wanted = tuple(MEDIA_KEYS if keys is None else keys)
    unknown = sorted(set(wanted) - set(MEDIA_KEYS))
    if unknown:
        raise ConfigError(f"sound media are {', '.join(MEDIA_KEYS)}; asked for {', '.join(unknown)}")
    out: list[dict[str, str]] = [{} for _ in range(len(items))]
    if "image" in wanted:
        scale = run_db_range(stats)
        for media, log_spec in zip(out, items_to_log_mel(items, stats), strict=True):  # (F, T) each
            media["image"] = _data_uri("image/png", _png_bytes(spectrogram_image(log_spec, db_range=scale)))
    if "audio" in wanted:
        rate = int(stats["sample_rate"])
        waves = items_to_waves(items, stats, iterations[0], nnls_iter=iterations[1])  # (N, S)
        for media, wave in zip(out, waves, strict=True):  # (S,) each
            media["audio"] = _data_uri("audio/wav", wav_bytes(wave, rate))
    return out
