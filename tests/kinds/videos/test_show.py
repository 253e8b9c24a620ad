"""Videos for a person: the GIF plays frame t of every video at frame t, laid out and enlarged as said; the
strip's row i is video i's frames; grey and colour come back exactly (one palette for all frames); HTML and
media are data URLs of the same pictures; bad shapes and media keys are refused with a message."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from vaekit.errors import ConfigError
from vaekit.kinds.images.grid import make_grid
from vaekit.kinds.videos import VideoKind
from vaekit.kinds.videos.show import (
    FRAME_MS,
    file_scale,
    frame_strip,
    gif_bytes,
    video_media,
    videos_html,
    write_videos,
)


def videos(n: int = 5, t: int = 4, c: int = 1, side: int = 16, seed: int = 0) -> torch.Tensor:
    """(N, T, C, H, W) videos whose values are multiples of 1/255 (exact in 8 bits), a square moving right.
    Grey takes all 256 levels, colour 4 levels a channel (64 colours: a GIF palette holds them exactly)."""
    gen = torch.Generator().manual_seed(seed)
    levels = 256 if c == 1 else 4
    x = torch.randint(0, levels, (n, t, c, side, side), generator=gen).float() * (255 // (levels - 1)) / 255
    for k in range(t):
        x[:, k, :, 2:6, 2 + 2 * k:6 + 2 * k] = 1.0  # the motion: frames differ, so none is merged away
    return x


def gif_frames(raw: bytes) -> tuple[list[np.ndarray], list[int], int]:
    """A GIF's frames as RGB arrays, their durations (ms) and its loop count."""
    im = Image.open(io.BytesIO(raw))
    frames, durations = [], []
    for frame in ImageSequence.Iterator(im):
        frames.append(np.asarray(frame.convert("RGB")))
        durations.append(frame.info["duration"])
    return frames, durations, im.info.get("loop")


def as_rgb(grid: np.ndarray) -> np.ndarray:
    return np.repeat(grid[..., None], 3, axis=2) if grid.ndim == 2 else grid


def from_url(url: str, mime: str) -> bytes:
    head, body = url.split(",", 1)
    assert head == f"data:{mime};base64"
    return base64.b64decode(body)


@pytest.mark.parametrize("c", [1, 3])
def test_gif_frame_t_is_the_grid_of_every_video_at_t(tmp_path, c):
    x = videos(n=5, t=4, c=c)
    written = write_videos(x, tmp_path / "samples.png", per_row=3)
    assert written == [tmp_path / "samples.gif", tmp_path / "samples.png"]
    frames, durations, loop = gif_frames(written[0].read_bytes())
    scale = file_scale(x, 3)
    assert scale == 96 // 16 and len(frames) == 4 and loop == 0 and durations == [FRAME_MS] * 4
    for t, frame in enumerate(frames):
        want = as_rgb(make_grid(x[:, t], 3)).repeat(scale, 0).repeat(scale, 1)  # nearest-neighbour enlarged
        np.testing.assert_array_equal(frame, want)


@pytest.mark.parametrize("c", [1, 3])
def test_strip_row_i_is_video_i_frames(tmp_path, c):
    x = videos(n=3, t=4, c=c, side=8)
    strip = np.asarray(Image.open(write_videos(x, tmp_path / "r.png")[1]))
    assert strip.shape[:2] == (3 * 10 + 2, 4 * 10 + 2)  # 3 rows of 4 frames, 8 pixels and 2 of padding each
    for i in range(3):
        for t in range(4):
            cell = strip[2 + 10 * i:10 + 10 * i, 2 + 10 * t:10 + 10 * t]
            want = np.rint(x[i, t].numpy() * 255).astype(np.uint8)
            np.testing.assert_array_equal(cell, want[0] if c == 1 else want.transpose(1, 2, 0))


def test_values_are_clamped_and_nan_drawn_black():
    x = torch.full((1, 2, 1, 4, 4), 0.5)
    x[0, 0, 0, 0, 0], x[0, 0, 0, 0, 1], x[0, 1, 0, 0, 0] = 3.0, -2.0, float("nan")
    strip = frame_strip(x, pad=0)
    assert strip[0, 0] == 255 and strip[0, 1] == 0 and strip[0, 4] == 0 and strip[1, 1] == 128


def test_many_colours_share_one_palette_close_to_the_frames():
    """Over 256 colours: one median-cut palette for all frames, every pixel within a few levels of its colour."""
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 3, 24, 24, generator=gen)
    x = (x * 0.3 + torch.linspace(0, 0.7, 24)).clamp(0, 1)  # smooth ramps: thousands of colours
    frames, _, _ = gif_frames(gif_bytes(np.stack([make_grid(x[:, t], pad=0) for t in range(3)])))
    palettes = {Image.fromarray(f).getcolors(1 << 24) is not None for f in frames}
    assert palettes == {True}
    colours = {tuple(c) for f in frames for c in f.reshape(-1, 3)}
    assert len(colours) <= 256  # one palette shared by every frame
    for t, f in enumerate(frames):
        want = make_grid(x[:, t], pad=0).astype(int)
        assert np.abs(f.astype(int) - want).mean() < 6


def test_small_frames_enlarged_large_grids_kept_within_bounds():
    assert file_scale(torch.zeros(4, 2, 1, 32, 32), None) == 3
    assert file_scale(torch.zeros(4, 2, 1, 128, 128), None) == 1
    assert file_scale(torch.zeros(400, 2, 1, 16, 16), None) == 2048 // (20 * 18 + 2)  # 20 x 20 grid


def test_html_is_self_contained_gif_and_strip():
    x = videos(n=4, t=3, c=3, side=8)
    page = videos_html(x, "samples <epoch 3>", per_row=2)
    gif, png = re.findall(r'src="(data:[^"]+)"', page)
    frames, _, _ = gif_frames(from_url(gif, "image/gif"))
    assert len(frames) == 3
    np.testing.assert_array_equal(frames[1], make_grid(x[:, 1], 2))
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(from_url(png, "image/png")))), frame_strip(x))
    assert "samples &lt;epoch 3&gt;" in page and "<epoch" not in page and "http" not in page


@pytest.mark.parametrize("c", [1, 3])
def test_media_per_video_strip_and_gif(c):
    x = videos(n=2, t=4, c=c, side=8)
    media = video_media(x)
    assert len(media) == 2 and all(set(m) == {"image", "video"} for m in media)
    for i, m in enumerate(media):
        frames, _, _ = gif_frames(from_url(m["video"], "image/gif"))
        assert len(frames) == 4
        for t in range(4):
            np.testing.assert_array_equal(frames[t], as_rgb(make_grid(x[i:i + 1, t], 1, pad=0)))
        strip = np.asarray(Image.open(io.BytesIO(from_url(m["image"], "image/png"))))
        np.testing.assert_array_equal(strip, frame_strip(x[i:i + 1], pad=1))
    assert video_media(x, ["image"])[1].keys() == {"image"}


def test_kind_writes_and_shows_through_show():
    kind = VideoKind()
    x = videos(n=2, t=2, c=1, side=8)
    assert kind.item_media(x, None, ["video"])[0].keys() == {"video"}
    assert kind.html_grid(x, "a").startswith('<figure class="videos"')


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (2, 3, 2, 8, 8), (0, 3, 1, 8, 8)])
def test_bad_shapes_are_refused(tmp_path, shape):
    with pytest.raises(ConfigError, match=r"\(N, T, C, H, W\)"):
        write_videos(torch.zeros(shape), tmp_path / "x.png")


def test_unknown_media_key_is_refused():
    with pytest.raises(ConfigError, match="asked for audio"):
        video_media(videos(n=1, t=2), ["image", "audio"])
