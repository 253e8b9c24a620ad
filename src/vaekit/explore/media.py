"""Items with media (sounds) in the explorer: each item is shown and played as the run's kind makes it
(`Kind.item_media`: a spectrogram PNG and a WAV, as data URLs), and an uploaded file is read as the run's
training data were read (`Kind.load_path` with the run's data config and stats: for sounds resampled, mixed
to mono, set to the run's loudness, fitted to its clip length and standardised)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from vaekit.errors import VaekitError
from vaekit.explore.classes import conversion_row
from vaekit.explore.images import MAX_BYTES, parse_data_url
from vaekit.explore.state import ExplorerState, RequestError

PICTURE = ("image",)  # thumbnails need the picture only: the sound (Griffin-Lim) costs far more


def decode_answer(state: ExplorerState, z: torch.Tensor, y: int | None = None) -> dict[str, Any]:
    """decode(z) (with class y for a conditional model) as the page shows and plays it, and where z is on
    the map."""
    return {**state.media_of(state.decode_item(z, y)[None])[0], "point": state.point(z)}


def interpolate_answer(state: ExplorerState, i: int, j: int, t: float, y: int | None = None) -> dict[str, Any]:
    """The decoding of (1 - t) m_i + t m_j (`ExplorerState.interpolate_latent`) with class y for a
    conditional model, with z and its place."""
    z = state.interpolate_latent(i, j, t)
    return {**state.media_of(state.decode_item(z, y)[None])[0], "z": z.tolist(), "point": state.point(z)}


def item_answer(state: ExplorerState, i: int) -> dict[str, Any]:
    """Test item i as the page shows and plays it, with its posterior mean's place on the map."""
    i = state.check_index(i)
    answer = {"index": i, **state.media_of(state.images[i:i + 1])[0], "point": state.map.points[i].tolist()}
    return answer if state.item_labels is None else {**answer, "label": state.item_label(i)}


def picture_png(state: ExplorerState, i: int) -> bytes:
    """Test item i's picture as PNG bytes (the thumbnails)."""
    i = state.check_index(i)
    return parse_data_url(state.media_of(state.images[i:i + 1], PICTURE)[0]["image"])


def _suffix(state: ExplorerState, name: str | None) -> str:
    """The upload's file ending, which the reader may go by; one the run's kind does not read is refused."""
    suffix = Path(name or "").suffix.lower()
    accepted = state.kind.file_types
    if suffix and accepted and suffix not in accepted:
        raise RequestError(f"the upload {name} is a {suffix} file; this run reads {', '.join(accepted)} files", 415)
    return suffix


def upload_to_item(state: ExplorerState, raw: bytes, name: str | None = None) -> torch.Tensor:
    """One item (*event) from an uploaded file's bytes, as the run's kind reads its files (`Kind.load_path`,
    which takes a path: the bytes go to a temporary file, removed afterwards). Refused with a 4xx naming
    the problem: too large (413), empty (422), not readable by the kind (415)."""
    if len(raw) > MAX_BYTES:
        raise RequestError(f"the upload is larger than {MAX_BYTES // 2**20} MB", 413)
    shown = name or "the upload"
    if not raw:
        raise RequestError(f"{shown} is empty (0 bytes)", 422)
    with tempfile.TemporaryDirectory(prefix="vaekit-upload-") as folder:
        path = Path(folder) / f"upload{_suffix(state, name)}"
        path.write_bytes(raw)
        try:
            data = state.kind.load_path(path, state.data_config, state.stats)
        except VaekitError as e:  # the reader names the file: name the upload instead of the temporary copy
            raise RequestError(str(e).replace(str(path), shown), 415) from None
    x = data.x[0].float()
    if tuple(x.shape) != state.event_shape:
        raise RequestError(f"{shown} reads as an item of shape {tuple(x.shape)}; this model takes "
                           f"{state.event_shape}", 422)
    return x


def reconstruct_answer(state: ExplorerState, raw: bytes, name: str | None = None,
                       y: int | None = None) -> dict[str, Any]:
    """The upload as the model sees it, its reconstruction decode(E[z|x]), E[z|x] and its place on the map;
    the input and the reconstruction each as the page shows and plays them. A conditional model reads the
    upload with its class y, q(z|x, y), and the answer has E[z|x, y] decoded with every class too."""
    x = upload_to_item(state, raw, name)
    z = state.encode(x, y)
    # one call each: Griffin-Lim draws its starting phases per call, so the reconstruction sounds exactly as
    # the sliders' decode of the same z
    answer = {"input": state.media_of(x[None])[0], "reconstruction": state.media_of(state.decode_item(z, y)[None])[0],
              "z": z.tolist(), "point": state.point(z)}
    return answer if y is None else {**answer, "conversions": conversion_row(state, z)}

