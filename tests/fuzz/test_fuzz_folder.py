"""Fuzzing image folders: valid images of any size, mode and format, damaged and random files.

Property: every split loads (in memory and lazily) as (n, C, S, S) float32 in [0, 1], or fails with a
DataError naming the folder's file; a folder of valid images always loads.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from tests.fuzz.helpers import case, fuzz
from vaekit.config import DataConfig
from vaekit.data import iterate_batches
from vaekit.errors import DataError
from vaekit.kinds import load_split

FORMATS = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}
MODES = {"PNG": ["L", "RGB", "RGBA", "P", "1", "LA", "I;16"], "JPEG": ["L", "RGB", "CMYK"], "GIF": ["L", "P"],
         "BMP": ["L", "RGB", "1"], "TIFF": ["L", "RGB", "RGBA", "I;16", "F", "CMYK"], "WEBP": ["RGB", "RGBA"]}


@st.composite
def image_bytes(draw: st.DrawFn) -> tuple[bytes, str]:
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    mode = draw(st.sampled_from(MODES[fmt]))
    w, h = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**16))
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, 4), dtype=np.uint8)
    im = Image.fromarray(pixels, "RGBA").convert("RGB").convert(mode if mode not in ("I;16", "F") else "L")
    if mode in ("I;16", "F"):
        im = Image.fromarray(np.asarray(im).astype(np.uint16 if mode == "I;16" else np.float32) * 200)
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue(), FORMATS[fmt]


@st.composite
def folder_file(draw: st.DrawFn) -> tuple[bytes, str, bool]:
    """(bytes, extension, valid): a valid image, a damaged one, random bytes or an empty file."""
    kind = draw(st.sampled_from(["valid", "valid", "valid", "truncated", "flipped", "random", "empty"]))
    if kind in ("random", "empty"):
        ext = draw(st.sampled_from(sorted(FORMATS.values())))
        return (b"" if kind == "empty" else draw(st.binary(min_size=1, max_size=200))), ext, False
    raw, ext = draw(image_bytes())
    if draw(st.booleans()):  # an extension that does not match the format: Pillow reads the content
        ext = draw(st.sampled_from(sorted(FORMATS.values())))
    if kind == "truncated":
        return raw[: draw(st.integers(0, len(raw) - 1))], ext, False
    if kind == "flipped":
        at = draw(st.integers(0, len(raw) - 1))
        return raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1:], ext, False
    return raw, ext, True


def load_items(folder: Path, in_memory: bool, channels: int, size: int) -> list[torch.Tensor]:
    cfg = DataConfig(dataset="folder", data_dir=str(folder), in_memory=in_memory, channels=channels,
                     image_size=size)
    out = []
    for split in ("train", "val", "test"):
        data = load_split(cfg, split)
        out.append(torch.cat([x for x, _ in iterate_batches(data, 4, shuffle=False)]))
    return out


@fuzz(max_examples=120)
@given(files=st.lists(folder_file(), min_size=3, max_size=6), channels=st.sampled_from([1, 3]),
       size=st.sampled_from([8, 11]), classes=st.booleans())
def test_image_folders_load_or_fail_naming_the_file(tmp_path_factory, files, channels, size, classes):
    folder = tmp_path_factory.mktemp("img")
    for i, (raw, ext, _) in enumerate(files):
        path = folder / (f"c{i % 2}" if classes else "") / f"{i}{ext}"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(raw)
    with case():
        for in_memory in (True, False):
            try:
                splits = load_items(folder, in_memory, channels, size)
            except DataError as e:
                assert not all(valid for _, _, valid in files), f"a folder of valid images was refused: {e}"
                assert f"cannot read image {folder}" in str(e) or "too few" in str(e), str(e)
                continue
            assert sum(len(x) for x in splits) == len(files)
            for x in splits:
                assert x.shape[1:] == (channels, size, size) and x.dtype == torch.float32
                assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1


def png_header(w: int, h: int) -> bytes:
    """A PNG that declares w x h pixels, with a tiny (wrong) payload: only its header is ever read."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@fuzz(max_examples=60)
@given(w=st.integers(1, 2**31 - 1), h=st.integers(1, 2**31 - 1))
@example(w=50_000, h=50_000)  # beyond Pillow's own limit: DecompressionBombError escaped as itself
@example(w=10_000, h=10_000)  # between the limits: Pillow only warned, then decoded 10^8 pixels
@example(w=1, h=80_000_000)  # under the limit, but resizing the whole 1 x h image to 8 x 8h was a MemoryError
def test_huge_declared_sizes_are_refused_before_decoding(tmp_path_factory, w, h):
    folder = tmp_path_factory.mktemp("bomb")
    for i in range(3):
        (folder / f"{i}.png").write_bytes(png_header(w if i == 0 else 4, h if i == 0 else 4))
    with case():
        for split in ("train", "val", "test"):
            try:
                load_split(DataConfig(dataset="folder", data_dir=str(folder), image_size=8), split)
            except DataError as e:
                assert str(folder) in str(e)
                if w * h > Image.MAX_IMAGE_PIXELS:
                    assert "decompression bomb" in str(e).replace("-", " ").lower(), str(e)
                    assert f"{folder / '0.png'}" in str(e)


def test_the_bomb_message_is_exact(tmp_path):
    (tmp_path / "big.png").write_bytes(png_header(10_000, 10_000))
    from vaekit.kinds.images.folder import read_image

    with pytest.raises(DataError) as e:
        read_image(tmp_path / "big.png", 8, 3)
    assert str(e.value) == (f"cannot read image {tmp_path / 'big.png'}: 10000x10000 pixels exceed the decompression-"
                            f"bomb limit of {Image.MAX_IMAGE_PIXELS} pixels (PIL.Image.MAX_IMAGE_PIXELS)")


def test_an_extreme_aspect_ratio_is_cropped_before_it_is_scaled(tmp_path):
    im = Image.new("L", (1, 3_000_000), 0)
    im.paste(255, (0, 1_500_000 - 100, 1, 1_500_000 + 100))  # a bright band at the centre
    im.save(tmp_path / "tall.png")
    from vaekit.kinds.images.folder import read_image

    x = read_image(tmp_path / "tall.png", 8, 1)  # the centred 1 x 1 square, scaled to 8 x 8
    assert x.shape == (1, 8, 8) and np.allclose(x, 1.0)


def _save(path: Path, im: Image.Image, fmt: str = "PNG") -> None:
    im.save(path, fmt)


def test_mixed_sizes_and_modes_load_resized_with_the_right_values(tmp_path):
    # solid images: resizing keeps the value, so each item's value is known exactly
    _save(tmp_path / "a.png", Image.new("L", (30, 12), 51))
    _save(tmp_path / "b.png", Image.new("RGBA", (5, 40), (102, 102, 102, 255)))
    _save(tmp_path / "c.gif", Image.new("P", (9, 9), 0))
    _save(tmp_path / "d.bmp", Image.new("RGB", (64, 64), (204, 204, 204)), "BMP")
    # 16-bit: was clipped at 255 by Pillow's convert("L") (all white); now scaled by 1/257
    _save(tmp_path / "e.png", Image.fromarray(np.full((7, 13), 30_000, np.uint16)))
    cfg = DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=8, channels=1, val_fraction=0.2)
    values = []
    for split in ("train", "val", "test"):
        x = load_split(cfg, split).x
        assert x.shape[1:] == (1, 8, 8)
        assert torch.equal(x, x[:, :, :1, :1].expand_as(x))  # each item is solid
        values += x[:, 0, 0, 0].tolist()
    expected = [51, 102, 0, 204, round(30_000 / 257)]
    assert sorted(round(v * 255) for v in values) == sorted(expected)


@pytest.mark.parametrize("setup, needle", [
    (lambda p: None, "has no images"),
    (lambda p: (p / "notes.txt").write_text("hi"), "has no images"),
    (lambda p: (p / "sub").mkdir(), "has no images"),
])
def test_empty_folders_are_refused(tmp_path, setup, needle):
    setup(tmp_path)
    for in_memory in (True, False):
        with pytest.raises(DataError, match=needle) as e:
            load_split(DataConfig(dataset="folder", data_dir=str(tmp_path), in_memory=in_memory), "train")
        assert str(tmp_path) in str(e.value)


def test_zero_size_files_are_refused_by_name_in_memory_and_lazily(tmp_path):
    for i in range(4):
        _save(tmp_path / f"{i}.png", Image.new("L", (9, 9), 3))
    (tmp_path / "2.png").write_bytes(b"")
    cfg = DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=8)
    with pytest.raises(DataError, match=f"cannot read image {tmp_path / '2.png'}: cannot identify image file"):
        for split in ("train", "val", "test"):
            load_split(cfg, split)
    lazy = DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=8, in_memory=False)
    with pytest.raises(DataError, match=f"cannot read image {tmp_path / '2.png'}"):
        for split in ("train", "val", "test"):
            list(iterate_batches(load_split(lazy, split), 2))


def test_too_few_images_for_the_split_name_the_folder(tmp_path):
    for i in range(4):
        _save(tmp_path / f"{i}.png", Image.new("L", (9, 9), 3))
    with pytest.raises(DataError) as e:  # 2 val + 2 test leave none: the message did not name the folder
        load_split(DataConfig(dataset="folder", data_dir=str(tmp_path), val_fraction=0.45), "train")
    assert str(e.value).startswith(f"image folder {tmp_path}: 4 items are too few")
