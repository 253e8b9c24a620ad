"""Images in and out of the explorer: PNG encoding, data URLs, and turning an upload into model input."""

from __future__ import annotations

import base64
import binascii
import io
import warnings

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from vaekit.explore.state import RequestError

MAX_BYTES = 10 * 1024 * 1024  # an upload larger than this is refused before decoding
MAX_SIDE = 4096               # bigger pictures are refused: decoding them costs more than it is worth here
MIN_SIDE = 4                  # blowing up fewer pixels than this invents the picture
MAX_ASPECT = 4.0              # the centre crop of a longer strip would throw most of it away


def png_bytes(pixels: np.ndarray) -> bytes:
    """uint8 (H, W) or (H, W, 3) -> PNG file bytes."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def data_url(pixels: np.ndarray) -> str:
    """A `data:image/png;base64,...` URL the page can put straight into an <img>."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode("ascii")


def parse_data_url(text: str) -> bytes:
    """The bytes of a base64 data URL (what a canvas's toDataURL gives)."""
    head, sep, body = text.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        raise RequestError("data_url must look like data:image/png;base64,... (a canvas's toDataURL())", 400)
    if len(body) > MAX_BYTES * 4 // 3 + 4:
        raise RequestError(f"the image is larger than {MAX_BYTES // 2**20} MB", 413)
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("data_url is not valid base64", 400) from None


def _flatten(im: Image.Image, channels: int) -> Image.Image:
    """Grey or RGB; transparency is put over black, the background of the built-in data and the canvas."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    return im.convert("L" if channels == 1 else "RGB")


def _check_size(w: int, h: int, shape: tuple[int, int, int]) -> None:
    want = f"this model takes {shape[2]}x{shape[1]} images"
    if min(w, h) < MIN_SIDE:
        raise RequestError(f"the image is {w}x{h} pixels: too small to resize sensibly ({want})")
    if max(w, h) > MAX_SIDE:
        raise RequestError(f"the image is {w}x{h} pixels: larger than {MAX_SIDE} on a side ({want}; shrink it first)")
    if max(w, h) / min(w, h) > MAX_ASPECT:
        raise RequestError(f"the image is {w}x{h} pixels: too elongated to crop to a {shape[2]}x{shape[1]} "
                           f"picture (sides may differ by at most {MAX_ASPECT:g}x)")


def image_to_input(raw: bytes, shape: tuple[int, int, int]) -> torch.Tensor:
    """Decode an uploaded image and bring it to the model's (C, H, W) in [0, 1].

    Like the folder data loader: scale so the picture covers H x W, then crop the centre. A picture that
    already has the model's size is taken pixel for pixel."""
    if len(raw) > MAX_BYTES:
        raise RequestError(f"the image is larger than {MAX_BYTES // 2**20} MB", 413)
    c, h, w = shape
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as im:
                _check_size(*im.size, shape)
                im = _flatten(im, c)
                if im.size != (w, h):
                    s = max(w / im.width, h / im.height)
                    im = im.resize((max(w, round(im.width * s)), max(h, round(im.height * s))),
                                   Image.Resampling.LANCZOS)
                    left, top = (im.width - w) // 2, (im.height - h) // 2
                    im = im.crop((left, top, left + w, top + h))
                arr = np.asarray(im, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise RequestError("the upload is not an image PIL can read (PNG, JPEG, GIF, BMP, WebP, ...)", 415) from None
    except (OSError, ValueError, SyntaxError) as e:  # truncated or corrupt files fail while decoding
        raise RequestError(f"the image cannot be decoded: {e}", 415) from None
    return torch.from_numpy(arr[None] if c == 1 else arr.transpose(2, 0, 1).copy())
