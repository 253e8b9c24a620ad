"""The `video` data set: GIF and MP4 files (plain or in class subfolders) and .npy arrays read to the run's frames,
channels and side, and every kind of bad input refused with the file named."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.config import DataConfig
from vaekit.errors import DataError
from vaekit.kinds.videos.loading import load_video_path, load_video_split

SIDE = 16


def grey_gif(path: Path, values: list[int], side: int = SIDE) -> Path:
    """A GIF whose frame t is uniformly grey values[t]."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = [Image.new("L", (side, side), v) for v in values]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def gif_bytes(side: int, value: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (side, side), value).save(out, format="GIF")
    return out.getvalue()


def classes_folder(root: Path) -> Path:
    """Two classes, "a" and "b", of 3 GIFs each: video k of class c has frames of grey 40 c + 10 k + 20 t."""
    for c, name in enumerate(("b", "a")):  # written out of order: classes are sorted by name
        for k in range(3):
            grey_gif(root / name / f"v{k}.gif", [40 * c + 10 * k + 20 * t for t in range(5)])
    return root


def cfg(data_dir: Path, **kw: object) -> DataConfig:
    return DataConfig(**{"dataset": "video", "data_dir": str(data_dir), "image_size": 8, "frames": 3,
                         "val_fraction": 0.2, **kw})


def frame_greys(x: torch.Tensor) -> np.ndarray:
    """(N, T) the mean grey of each frame, in 0-255."""
    return (x.mean((2, 3, 4)) * 255).numpy()


def test_gif_folder_classes_frames_and_splits(tmp_path) -> None:
    root = classes_folder(tmp_path / "videos")
    parts = {s: load_video_split(cfg(root), s) for s in ("train",)}
    for s in ("val", "test"):
        parts[s] = load_video_split(cfg(root), s, parts["train"].stats)
    files = sorted(f for d in parts.values() for f in d.files)
    assert files == sorted(str(p) for p in root.glob("*/*.gif"))  # disjoint splits that cover the folder
    train = parts["train"]
    assert train.x.shape[1:] == (3, 3, 8, 8) and train.stats["label_names"] == ["a", "b"]
    for f, label, greys in zip(train.files, train.labels.tolist(), frame_greys(train.x), strict=True):
        c, k = {"b": 0, "a": 1}[Path(f).parent.name], int(Path(f).stem[1])
        assert label == ["a", "b"].index(Path(f).parent.name)
        assert np.allclose(greys, [40 * c + 10 * k + 20 * t for t in range(3)], atol=0.6)  # the first 3 frames
    assert torch.equal(train.x[:, :, 0], train.x[:, :, 2])  # grey frames in 3 channels


def test_frame_sampling_spread_channels_and_plain_files(tmp_path) -> None:
    for k in range(4):
        grey_gif(tmp_path / "plain" / f"{k}.gif", [10 * t for t in range(7)], side=12)
    data = load_video_split(cfg(tmp_path / "plain", frame_sampling="spread", channels=1, image_size=12), "train")
    assert data.labels is None and data.x.shape[1:] == (3, 1, 12, 12)
    assert np.allclose(frame_greys(data.x), [[0, 30, 60]] * len(data), atol=0.6)  # frames 0, 3 and 6 of 7


def test_load_path_reads_as_the_run_did(tmp_path) -> None:
    root = classes_folder(tmp_path / "videos")
    train = load_video_split(cfg(root, channels=1), "train")
    one = load_video_path(root / "a" / "v2.gif", cfg(root, channels=1), train.stats)
    assert one.x.shape == (1, 3, 1, 8, 8) and one.labels is None
    assert np.allclose(frame_greys(one.x), [[60, 80, 100]], atol=0.6)
    folder = load_video_path(root, cfg(root, channels=1), train.stats)
    assert folder.labels.tolist() == [0, 0, 0, 1, 1, 1] and folder.label_names == ["a", "b"]
    run_stats = dict(train.stats, frames=2, image_size=4)  # the run's shape wins over the config's
    assert load_video_path(root, cfg(root), run_stats).x.shape == (6, 2, 1, 4, 4)


def test_mp4_files(tmp_path) -> None:
    av = pytest.importorskip("av")
    root = tmp_path / "mp4"
    root.mkdir()
    for k in range(3):
        with av.open(str(root / f"{k}.mp4"), "w") as out:
            stream = out.add_stream("mpeg4", rate=10)
            stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
            for t in range(6):
                grey = np.full((16, 16, 3), 40 * k + 30 * t, dtype=np.uint8)
                for packet in stream.encode(av.VideoFrame.from_ndarray(grey, format="rgb24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
    data = load_video_path(root, cfg(root, frame_sampling="spread"), None)
    assert data.x.shape == (3, 3, 3, 8, 8)
    expected = [[40 * k + 30 * t for t in (0, 3, 5)] for k in range(3)]  # 3 of 6 frames: 0, 2.5 -> 3, 5
    assert np.allclose(frame_greys(data.x), expected, atol=4)  # lossy codec
    with pytest.raises(DataError, match=r"0\.mp4 has 6 frames, fewer than --frames 8"):
        load_video_path(root / "0.mp4", cfg(root, frames=8), None)


def npy(path: Path, arr: np.ndarray) -> Path:
    np.save(path, arr)
    return path


def test_npy_videos(tmp_path) -> None:
    arr = np.random.default_rng(0).integers(0, 256, (10, 4, 1, 6, 6), dtype=np.uint8)
    path = npy(tmp_path / "v.npy", arr)
    conf = DataConfig(dataset="video", data_dir=str(path))  # no size given: the array's own
    parts = [load_video_split(conf, "train")]
    parts += [load_video_split(conf, s, parts[0].stats) for s in ("val", "test")]
    x = torch.cat([p.x for p in parts])
    assert x.shape == (10, 4, 1, 6, 6) and parts[0].stats["frames"] == 4
    # each video is one of the array's, once: the splits are a partition
    rows = {tuple(np.round(v.numpy().ravel() * 255).astype(int)) for v in x}
    assert rows == {tuple(a.ravel().astype(int)) for a in arr}
    floats = npy(tmp_path / "f.npy", arr.astype(np.float32) / 255)
    assert torch.allclose(load_video_path(floats, conf, parts[0].stats).x, torch.from_numpy(arr / 255).float())
    rgb = load_video_path(floats, conf, dict(parts[0].stats, channels=3, image_size=3)).x
    assert rgb.shape == (10, 4, 3, 3, 3) and torch.equal(rgb[:, :, 0], rgb[:, :, 1])
    # to grey by the ITU-R 601 luma, and a flat frame stays flat when resized
    flat = np.ones((3, 2, 3, 6, 6), np.float32) * np.array([0.2, 0.5, 1.0], np.float32)[None, None, :, None, None]
    grey = load_video_path(npy(tmp_path / "rgb.npy", flat), conf, dict(parts[0].stats, frames=2, image_size=4)).x
    assert grey.shape == (3, 2, 1, 4, 4)
    assert torch.allclose(grey, torch.full_like(grey, 0.299 * 0.2 + 0.587 * 0.5 + 0.114), atol=1e-6)


def bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Each bad input: (the path to read, a pattern its error must match)."""
    cases = {}
    junk = tmp_path / "junk.gif"
    junk.write_bytes(b"GIF89a" + b"\x00" * 5)
    cases["broken gif"] = (junk, "cannot read video")
    bad_mp4 = tmp_path / "junk.mp4"
    bad_mp4.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"junk" * 20)
    cases["broken mp4"] = (bad_mp4, "cannot read video")
    small, large = gif_bytes(8, 200), gif_bytes(16, 100)
    body = 13 + 3 * 2 ** ((large[10] & 7) + 1)  # the header, screen descriptor and global colour table
    mixed = tmp_path / "mixed.gif"
    mixed.write_bytes(small[:-1] + large[body:-1] + large[body:])  # two 16 x 16 frames after an 8 x 8 one
    cases["mixed sizes"] = (mixed, "mixed sizes: 8x8, 16x16")
    huge = bytearray(gif_bytes(8, 0))
    huge[6:8] = (9000).to_bytes(2, "little")  # the screen's declared width
    (tmp_path / "huge.gif").write_bytes(bytes(huge))
    cases["declared side"] = (tmp_path / "huge.gif", "9000x8 pixels")
    np.lib.format.open_memmap(tmp_path / "long.npy", "w+", np.uint8, (1, 100_001, 1, 2, 2)).flush()
    cases["declared frames"] = (tmp_path / "long.npy", "100001 frames")
    cases["no frames"] = (npy(tmp_path / "empty.npy", np.zeros((2, 0, 1, 4, 4), np.uint8)), "holds no frames")
    cases["short"] = (grey_gif(tmp_path / "short.gif", [0, 50]), "2 frames, fewer than --frames 3")
    cases["rank"] = (npy(tmp_path / "rank.npy", np.zeros((2, 3, 4, 4), np.uint8)), "N, T, C, H, W")
    cases["channels"] = (npy(tmp_path / "chan.npy", np.zeros((2, 3, 2, 4, 4), np.uint8)), "C = 1 or 3")
    cases["dtype"] = (npy(tmp_path / "int.npy", np.zeros((2, 3, 1, 4, 4), np.int32)), "uint8.*or float")
    nan = np.zeros((2, 3, 1, 4, 4), np.float32)
    nan[1, 2, 0, 3, 1] = np.nan
    cases["nan"] = (npy(tmp_path / "nan.npy", nan), r"video 1 holds nan at \(t, c, h, w\) = \(2, 0, 3, 1\)")
    cases["range"] = (npy(tmp_path / "big.npy", nan[:1] + 2), "finite and in")
    (tmp_path / "empty").mkdir()
    cases["empty folder"] = (tmp_path / "empty", "has no videos")
    return cases


@pytest.mark.parametrize("case", ["broken gif", "broken mp4", "mixed sizes", "declared side", "declared frames",
                                  "no frames", "short", "rank", "channels", "dtype", "nan", "range", "empty folder"])
def test_bad_input_names_the_file(tmp_path, case) -> None:
    if case == "broken mp4":
        pytest.importorskip("av")
    path, pattern = bad_inputs(tmp_path)[case]
    with pytest.raises(DataError, match=pattern) as e:
        load_video_path(path, cfg(tmp_path), None)
    assert str(path) in str(e.value)


def test_mp4_without_frames(tmp_path) -> None:
    av = pytest.importorskip("av")
    path = tmp_path / "none.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height = 16, 16
        out.start_encoding()  # the header, and no frame
    with pytest.raises(DataError, match="holds no frames") as e:
        load_video_path(path, cfg(tmp_path), None)
    assert str(path) in str(e.value)


def test_too_few_videos_and_a_wrong_data_dir(tmp_path) -> None:
    for k in range(2):
        grey_gif(tmp_path / "two" / f"{k}.gif", [0, 1, 2])
    with pytest.raises(DataError, match="2 videos; need at least 3") as e:
        load_video_split(cfg(tmp_path / "two"), "train")
    assert str(tmp_path / "two") in str(e.value)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"notes\.txt: expected a folder"):
        load_video_split(cfg(tmp_path / "notes.txt"), "train")
