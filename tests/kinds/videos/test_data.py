"""The built-in video data sets: moving-shapes' factors read back from its pixels (path, colour, size, turn),
moving-mnist's frames made of the split's digits, its motion read from the digits' paths, and its cache."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.kinds.images.conftest import N_TRAIN_SMALL, fake_mnist
from vaekit.config import DataConfig
from vaekit.errors import DataError
from vaekit.kinds.images import mnist
from vaekit.kinds.videos.items import VideoData
from vaekit.kinds.videos.loading import load_video_split
from vaekit.kinds.videos.moving import bounce

# written out independently of vaekit.kinds.videos.moving: compass directions counter-clockwise from east
COMPASS = {"E": 0, "NE": 45, "N": 90, "NW": 135, "W": 180, "SW": 225, "S": 270, "SE": 315}
COLOUR_RGB = {"red": (1, 0, 0), "green": (0, 1, 0), "blue": (0, 0, 1), "yellow": (1, 1, 0), "magenta": (1, 0, 1),
              "cyan": (0, 1, 1)}


def shapes_cfg(**kw: object) -> DataConfig:
    return DataConfig(**{"dataset": "moving-shapes", "subset": 60, "image_size": 32, "frames": 8, **kw})


def centres_of_mass(x: torch.Tensor) -> np.ndarray:
    """(N, T, 2) (column, row) centre of mass of each frame, at pixel centres."""
    m = x.double().sum(2).numpy()  # (N, T, H, W)
    grid = np.arange(m.shape[-1]) + 0.5
    total = m.sum((-2, -1))
    return np.stack([(m.sum(-2) * grid).sum(-1) / total, (m.sum(-1) * grid).sum(-1) / total], -1)


def factor(data: VideoData, name: str) -> np.ndarray:
    return data.factors[:, data.factor_names.index(name)].numpy()


def test_bounce_reflects_at_the_walls() -> None:
    path = bounce(np.array([[2, 5]]), np.array([[3, -2]]), 7, np.array([[0, 1]]), np.array([[10, 6]]))
    assert path[0, :, 0].tolist() == [2, 5, 8, 9, 6, 3, 0]  # 11 -> 9 off the wall at 10; 0 is the other wall
    assert path[0, :, 1].tolist() == [5, 3, 1, 3, 5, 5, 3]


def test_moving_shapes_paths_follow_the_velocity() -> None:
    data = load_video_split(shapes_cfg(subset=200), "train")
    assert data.x.shape == (160, 8, 3, 32, 32) and data.kind == "videos" and not data.is_image
    assert data.content_factors == ("shape", "colour", "scale")
    assert data.motion_factors == ("direction", "speed", "rotation")
    still = factor(data, "rotation") == 0
    steps = np.diff(centres_of_mass(data.x), axis=1)  # (N, T - 1, 2)
    angles = np.radians([COMPASS[d] for d in ("E", "NE", "N", "NW", "W", "SW", "S", "SE")])
    unit = np.stack([np.rint(np.cos(angles)), -np.rint(np.sin(angles))], 1)  # (8, 2) rows grow downwards
    velocity = unit[factor(data, "direction")] * (factor(data, "speed") + 1)[:, None]  # 1-3 px in 32 px frames
    # the first step of a sprite that does not turn is the velocity exactly, until a bounce reverses an axis
    first = steps[still, 0]
    free = (np.abs(first - velocity[still]) < 1e-6).all(1)
    bounced = (np.abs(first) <= np.abs(velocity[still]) + 1e-6).all(1)
    assert free.mean() > 0.6 and bounced.all()
    # every step of every such sprite moves each axis by at most the speed, and the mass stays in the frame
    assert (np.abs(steps[still]) <= np.abs(velocity[still])[:, None] + 1e-6).all()
    mass = data.x.sum((2, 3, 4))
    assert torch.equal(mass[still], mass[still][:, :1].expand(-1, 8))


def test_moving_shapes_colour_and_size_are_the_factors() -> None:
    data = load_video_split(shapes_cfg(subset=300), "train")
    assert set(data.x.unique().tolist()) == {0.0, 1.0}
    lit = data.x.amax((1, 3, 4))  # (N, 3): which channels the sprite lights
    colours = list(COLOUR_RGB.values())
    assert torch.equal(lit, torch.tensor([colours[c] for c in factor(data, "colour")], dtype=torch.float32))
    assert torch.equal(data.labels, data.factors[:, 0]) and data.label_names == ["square", "ellipse", "heart"]
    area = (data.x.amax(2).sum((-2, -1)).float().mean(1)).numpy()  # (N,) sprite pixels a frame
    for shape in range(3):
        means = [area[(factor(data, "shape") == shape) & (factor(data, "scale") == s)].mean() for s in range(3)]
        assert means[0] < means[1] < means[2]
        assert means[2] / means[0] == pytest.approx((0.9 / 0.5) ** 2, rel=0.2)  # area grows as the square


def test_moving_shapes_turn_as_their_factor_says() -> None:
    data = load_video_split(shapes_cfg(subset=400), "train")
    ellipses = (factor(data, "shape") == 1) & (factor(data, "scale") == 2)
    m = data.x[ellipses].amax(2).double().numpy()  # (n, T, H, W)
    grid = np.arange(32) + 0.5
    cx = (m.sum(-2) * grid).sum(-1) / m.sum((-2, -1))
    cy = (m.sum(-1) * grid).sum(-1) / m.sum((-2, -1))
    dx, dy = grid[None, None, None, :] - cx[..., None, None], grid[None, None, :, None] - cy[..., None, None]
    cov = [(m * a * b).sum((-2, -1)) for a, b in ((dx, dx), (dy, dy), (dx, dy))]
    axis = 0.5 * np.arctan2(2 * cov[2], cov[0] - cov[1])  # (n, T) the long axis; y down: growing = clockwise
    turn = np.angle(np.exp(2j * np.diff(axis, axis=1))) / 2  # wrapped to (-pi/2, pi/2]
    expected = np.array([0.0, math.pi / 8, -math.pi / 8])[factor(data, "rotation")[ellipses]]
    assert len(expected) > 10 and np.abs(turn - expected[:, None]).max() < 0.12


def test_moving_shapes_seeded_and_split() -> None:
    a, b = load_video_split(shapes_cfg(), "train"), load_video_split(shapes_cfg(), "train")
    assert torch.equal(a.x, b.x) and torch.equal(a.factors, b.factors)
    assert not torch.equal(a.x, load_video_split(shapes_cfg(data_seed=1), "train").x)
    splits = {s: load_video_split(shapes_cfg(), s, a.stats) for s in ("val", "test")}
    assert len(a) + len(splits["val"]) + len(splits["test"]) == 60
    flat = [d.x.flatten(1) for d in (a, splits["val"], splits["test"])]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not (flat[i][:, None] == flat[j][None]).all(-1).any()  # no video in two splits
    assert a.stats == {"frames": 8, "channels": 3, "image_size": 32, "label_names": ["square", "ellipse", "heart"]}


def test_take_and_select_keep_the_factors() -> None:
    data = load_video_split(shapes_cfg(), "train")
    picked = data.select(torch.tensor([5, 2]))
    assert torch.equal(picked.factors, data.factors[[5, 2]]) and torch.equal(picked.x, data.x[[5, 2]])
    assert torch.equal(data.take(3).factors, data.factors[:3]) and data.take(3).content_factors == data.content_factors


# --- moving MNIST -------------------------------------------------------------------------------------------------

@pytest.fixture
def fake(monkeypatch, tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    """Fake MNIST files (12 training images: 8 train, 4 val; 5 test) as the only MNIST, and the cache in tmp."""
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(mnist, "N_TRAIN", N_TRAIN_SMALL)
    return tmp_path / "xdg" / "vaekit" / "moving-mnist", fake_mnist(tmp_path / "data" / "mnist")


def mm_cfg(**kw: object) -> DataConfig:
    return DataConfig(**{"dataset": "moving-mnist", "subset": 20, "image_size": 56, "frames": 4, **kw})


def test_moving_mnist_frames_hold_the_splits_digits(fake) -> None:
    _, arrays = fake
    sources = {"train": (arrays["train_x"][:8], arrays["train_y"][:8]),
               "val": (arrays["train_x"][8:], arrays["train_y"][8:]), "test": (arrays["test_x"], arrays["test_y"])}
    stats = None
    for split, (images, labels) in sources.items():
        data = load_video_split(mm_cfg(), split, stats)
        stats = data.stats
        assert data.x.shape[1:] == (4, 1, 56, 56) and data.factor_names == ["digit", "direction", "speed"]
        mass = data.x.double().sum((2, 3, 4)) * 255  # (N, T): a 28 px digit in 56 px frames, never cut
        digit_mass = images.reshape(len(images), -1).sum(1).astype(np.float64)  # all distinct (random pixels)
        which = np.abs(mass[:, :1].numpy() - digit_mass[None]).argmin(1)  # (N,)
        assert np.allclose(mass.numpy(), digit_mass[which][:, None], atol=1e-6)
        assert (data.labels.numpy() == labels[which]).all()


def test_moving_mnist_motion_is_the_factor(fake) -> None:
    data = load_video_split(mm_cfg(subset=300, image_size=64, frames=3), "train")
    m = data.x[:, :, 0].double().numpy()  # (N, T, H, W)
    grid = np.arange(64) + 0.5
    com = np.stack([(m.sum(-2) * grid).sum(-1), (m.sum(-1) * grid).sum(-1)], -1) / m.sum((-2, -1))[..., None]
    steps = np.diff(com, axis=1)  # (N, 2, 2) (column, row) steps of the digit's path
    # no bounce: equal steps (up to the rounding of positions), and the digit (28 px, its edge pixels lit) at
    # least 2 px from the walls in every frame: a bounce leaves it within about a pixel of one, or bends the path
    corner = np.stack([np.argmax(m.sum(-2) > 0, -1), np.argmax(m.sum(-1) > 0, -1)], -1)  # (N, T, 2) top-left
    away = ((corner >= 2) & (corner <= 64 - 28 - 2)).all((1, 2))
    straight = (np.abs(steps[:, 0] - steps[:, 1]) <= 1.0 + 1e-9).all(1) & away
    move = steps.sum(1) / 2  # (N, 2) the mean step
    angle = np.degrees(np.arctan2(-move[:, 1], move[:, 0]))  # counter-clockwise from east, rows grow down
    centre = factor(data, "direction") * 45.0
    off = np.abs((angle - centre + 180) % 360 - 180)[straight]
    assert straight.sum() > 50 and (off <= 22.5 + 9).all()
    speed = np.array([0.05, 0.08, 0.11])[factor(data, "speed")] * 64
    assert np.allclose(np.hypot(*move.T)[straight], speed[straight], atol=0.75)


def test_moving_mnist_two_digits_and_binarized(fake) -> None:
    data = load_video_split(mm_cfg(digits=2, image_size=32), "train")
    assert data.x.shape[1:] == (4, 1, 32, 32)
    assert data.content_factors == ("digit", "digit2") and data.motion_factors[-2:] == ("direction2", "speed2")
    static = load_video_split(mm_cfg(digits=2, image_size=32, binarize="static"), "train")
    assert torch.equal(static.x, (data.x >= 0.5).float()) and static.binarize == "static"
    one = load_video_split(mm_cfg(image_size=32), "train")  # 16 px digits keep about their share of ink
    assert float(one.x.sum()) > 0 and data.x.sum() >= one.x.sum()


def test_moving_mnist_cache_is_reused_and_repaired(fake, caplog) -> None:
    cache, _ = fake
    first = load_video_split(mm_cfg(), "train")
    (path,) = cache.glob("train-*.npz")
    stamp = os.stat(path).st_mtime_ns
    again = load_video_split(mm_cfg(), "train")
    assert os.stat(path).st_mtime_ns == stamp and torch.equal(first.x, again.x)
    assert torch.equal(first.factors, again.factors)
    path.write_bytes(b"not an npz")
    with caplog.at_level(logging.WARNING, logger="vaekit.kinds.videos"):
        repaired = load_video_split(mm_cfg(), "train")
    assert torch.equal(repaired.x, first.x) and str(path) in caplog.text
    np.savez(path, key=np.array("{}"), x=np.zeros((1, 1, 1, 1, 1), np.uint8), factors=np.zeros((1, 3), np.int64))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vaekit.kinds.videos"):
        assert torch.equal(load_video_split(mm_cfg(), "train").x, first.x)
    assert "other parameters" in caplog.text
    load_video_split(mm_cfg(data_seed=3), "train")  # another seed: another file beside it
    assert len(list(cache.glob("train-*.npz"))) == 2 and not list(cache.glob(".*"))


def test_moving_mnist_without_mnist_says_where_it_looked(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with pytest.raises(DataError, match="moving-mnist") as e:
        load_video_split(mm_cfg(), "train")
    assert str(tmp_path / "nothing" / "mnist") in str(e.value)
