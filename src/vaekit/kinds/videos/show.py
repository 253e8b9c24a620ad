"""Video items for a person: an animated GIF to watch and a frame strip to read frame by frame, for every item.

Files (`write_videos`): OUT.gif, all videos in one grid that plays (frame t of the GIF is frame t of every
video, laid out by `images.grid.make_grid`), enlarged pixel for pixel when the frames are small; and OUT.png,
the frame strip: row i holds video i's T frames left to right. HTML (`videos_html`): the grid GIF and the strip
as base64 data URIs, so the page stays self-contained. Media (`video_media`): each video's strip and GIF as data
URLs on their own, for a page that swaps them as it goes (the explorer). Values are clamped to [0, 1] first, as
the image grids clamp them.

Pillow writes the GIFs (no video library needed). A GIF holds at most 256 colours per frame: grey videos are
written exactly, colour videos with one palette shared by all frames (exact when they use at most 256 colours,
else a median-cut palette of all frames together), so a colour does not flicker from frame to frame.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Collection
from pathlib import Path

import numpy as np
import torch

from vaekit.errors import ConfigError
from vaekit.kinds.images.grid import make_grid, save_png

FRAME_MS = 120  # about 8 frames per second (a GIF counts hundredths of a second): motion seen, not a flash
TARGET_SIDE = 96  # GIF files enlarge frames (nearest neighbour) to about this many pixels a side: 32x32 -> 3x
MAX_GIF_SIDE = 2048  # ... unless the grid would grow wider or taller than this
HTML_FRAME_PX = 64  # HTML shows a frame at least this wide (the browser enlarges it, pixelated), up to 4x
HTML_MAX_WIDTH = 960
MEDIA_KEYS = ("image", "video")  # what `video_media` gives for a video: its frame strip PNG and its GIF
PIXELATED = "image-rendering:pixelated"


def check_videos(items: torch.Tensor) -> torch.Tensor:
    """Items (N, T, C, H, W) with C = 1 or 3 as float32 on the CPU, clamped to [0, 1] (NaN drawn as 0); a
    ConfigError naming the shape otherwise."""
    if items.dim() != 5 or items.shape[2] not in (1, 3) or 0 in items.shape:
        raise ConfigError(f"videos are shown from (N, T, C, H, W) items with C = 1 or 3 and none empty; got shape "
                          f"{tuple(items.shape)}")
    return torch.nan_to_num(items.detach().cpu().float(), nan=0.0).clamp(0, 1)


def _per_row(n: int, per_row: int | None) -> int:
    """Videos per row: `per_row`, or the square-ish grid `make_grid` lays out by default."""
    return per_row or max(1, math.ceil(math.sqrt(n)))


def grid_frames(items: torch.Tensor, per_row: int | None = None, pad: int = 2, scale: int = 1) -> np.ndarray:
    """Videos (N, T, C, H, W) -> the T frames of their grid, uint8 (T, H', W') for grey or (T, H', W', 3) for
    colour: frame t tiles frame t of every video, `per_row` to a row, each pixel repeated `scale` times."""
    x = check_videos(items)
    frames = np.stack([make_grid(x[:, t], _per_row(len(x), per_row), pad=pad) for t in range(x.shape[1])])
    return frames.repeat(scale, axis=1).repeat(scale, axis=2) if scale > 1 else frames


def frame_strip(items: torch.Tensor, pad: int = 2) -> np.ndarray:
    """Videos (N, T, C, H, W) -> one uint8 picture (`make_grid`'s layout) whose row i is video i's T frames."""
    x = check_videos(items)
    n, t = x.shape[:2]
    return make_grid(x.reshape(n * t, *x.shape[2:]), t, pad=pad)  # (N*T, C, H, W) laid out T to a row


def file_scale(items: torch.Tensor, per_row: int | None) -> int:
    """How many times a GIF file enlarges its frames: about TARGET_SIDE pixels a side per frame, and the whole
    grid within MAX_GIF_SIDE."""
    n, _, _, h, w = items.shape
    ncol = _per_row(n, per_row)
    grid_side = max(ncol * (w + 2), math.ceil(n / ncol) * (h + 2)) + 2
    return max(1, min(TARGET_SIDE // max(h, w), MAX_GIF_SIDE // grid_side))


def gif_bytes(frames: np.ndarray, frame_ms: int = FRAME_MS) -> bytes:
    """uint8 frames (T, H, W) or (T, H, W, 3) -> the bytes of a GIF that loops forever, `frame_ms` per frame."""
    from PIL import Image

    images = [Image.fromarray(f) for f in frames] if frames.ndim == 3 else _paletted(frames)  # grey: mode L
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=frame_ms, loop=0)
    return buf.getvalue()


def _paletted(frames: np.ndarray) -> list:
    """Colour frames (T, H, W, 3) as palette images sharing one palette: the colours themselves when there are
    at most 256, else a median-cut palette of all frames at once."""
    from PIL import Image

    t, h, w, _ = frames.shape
    colours, index = np.unique(frames.reshape(-1, 3), axis=0, return_inverse=True)  # (K, 3), (T*H*W,)
    if len(colours) <= 256:
        images = []
        for f in index.reshape(t, h, w).astype(np.uint8):  # (H, W) palette indices
            im = Image.frombytes("P", (w, h), f.tobytes())
            im.putpalette(colours.astype(np.uint8).tobytes())
            images.append(im)
        return images
    atlas = Image.fromarray(frames.reshape(t * h, w, 3))  # every frame stacked: one palette for the video
    palette = atlas.quantize(256, method=Image.Quantize.MEDIANCUT)
    return [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]


def write_videos(items: torch.Tensor, out: Path, per_row: int | None = None) -> list[Path]:
    """Videos (N, T, C, H, W) as OUT.gif (the grid, playing, enlarged `file_scale` times) and OUT.png (the
    frame strip); returns both paths."""
    out, items = Path(out), check_videos(items)
    frames = grid_frames(items, per_row, scale=file_scale(items, per_row))
    gif = out.with_suffix(".gif")
    gif.parent.mkdir(parents=True, exist_ok=True)
    gif.write_bytes(gif_bytes(frames))
    return [gif, save_png(frame_strip(items), out.with_suffix(".png"))]


def _data_uri(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(payload).decode("ascii")


def _png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _shown_width(pixels: int, frame_side: int) -> int:
    """The width HTML gives a picture `pixels` wide whose frames are `frame_side` wide: at least HTML_FRAME_PX
    a frame (up to 4x), at most HTML_MAX_WIDTH."""
    return min(pixels * max(1, min(4, HTML_FRAME_PX // frame_side)), HTML_MAX_WIDTH)


def videos_html(items: torch.Tensor, alt: str, per_row: int | None = None) -> str:
    """Videos (N, T, C, H, W) as a self-contained piece of HTML: the grid GIF, playing, and below it the frame
    strip (row i: video i's frames), both as base64 data URIs shown enlarged without blurring."""
    x = check_videos(items)
    frames = grid_frames(x, per_row)  # (T, H', W'[, 3])
    strip = frame_strip(x)
    side, name = x.shape[-1], html.escape(alt)
    gif = f'<img src="{_data_uri("image/gif", gif_bytes(frames))}" alt="{name}" ' \
          f'width="{_shown_width(frames.shape[2], side)}" style="{PIXELATED}">'
    png = f'<img src="{_data_uri("image/png", _png_bytes(strip))}" alt="{name}: frames" ' \
          f'width="{_shown_width(strip.shape[1], side)}" style="{PIXELATED}">'
    return (f'<figure class="videos" title="{name}">{gif}<details><summary>{name}: each video\'s '
            f'{x.shape[1]} frames, one row per video</summary>{png}</details></figure>')


def video_media(items: torch.Tensor, keys: Collection[str] | None = None) -> list[dict[str, str]]:
    """Videos (N, T, C, H, W) as data URLs, one dict per video: "image", its frame strip as a PNG (frames
    side by side, 1 pixel apart), and "video", its GIF at the frames' own size (the page enlarges it).
    `keys`: some of MEDIA_KEYS only."""
    wanted = tuple(MEDIA_KEYS if keys is None else keys)
    unknown = sorted(set(wanted) - set(MEDIA_KEYS))
    if unknown:
        raise ConfigError(f"video media are {', '.join(MEDIA_KEYS)}; asked for {', '.join(unknown)}")
    x = check_videos(items)
    out: list[dict[str, str]] = []
    for video in x:  # (T, C, H, W)
        media = {}
        if "image" in wanted:
            media["image"] = _data_uri("image/png", _png_bytes(frame_strip(video[None], pad=1)))
        if "video" in wanted:
            media["video"] = _data_uri("image/gif", gif_bytes(grid_frames(video[None], 1, pad=0)))
        out.append(media)
    return out
