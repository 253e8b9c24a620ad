"""shapes: determinism per data_seed, disjoint splits of the rule's sizes, factor ranges, sprite geometry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.config import DataConfig
from vaekit.errors import ConfigError
from vaekit.kinds import load_split
from vaekit.kinds.images.shapes import POSITIONS, RADIUS, ROTATIONS, SCALES, render

SUBSET = 400
SIZE = 16


def splits(**kw):
    cfg = DataConfig(dataset="shapes", image_size=kw.pop("image_size", SIZE), subset=kw.pop("subset", SUBSET), **kw)
    return {s: load_split(cfg, s) for s in ("train", "val", "test")}


def rows(data) -> set[tuple[float, ...]]:
    return {tuple(r) for r in data.labels.tolist()}


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = splits(data_seed=3), splits(data_seed=3), splits(data_seed=4)
    for s in ("train", "val", "test"):
        assert torch.equal(a[s].x, b[s].x) and torch.equal(a[s].labels, b[s].labels)
    assert not torch.equal(a["train"].labels, c["train"].labels)
    assert rows(a["val"]) != rows(c["val"])


@pytest.mark.parametrize("subset, frac", [(400, 0.1), (101, 0.1), (10, 0.1), (333, 0.25)])
def test_split_sizes_follow_the_rule_and_splits_are_disjoint(subset, frac):
    d = splits(subset=subset, val_fraction=frac, image_size=8)
    n_val = max(1, round(subset * frac))  # the documented rule: val and test get val_fraction each
    assert (len(d["train"]), len(d["val"]), len(d["test"])) == (subset - 2 * n_val, n_val, n_val)
    tr, va, te = rows(d["train"]), rows(d["val"]), rows(d["test"])
    # grid indices are drawn without replacement, so the factor rows are distinct and the splits disjoint
    assert len(tr) + len(va) + len(te) == subset
    assert not (tr & va) and not (tr & te) and not (va & te)


def test_factor_labels_lie_on_the_grid():
    lab = torch.cat([d.labels for d in splits(subset=2000, image_size=8).values()]).numpy()
    assert lab.shape == (2000, 5) and lab.dtype == np.float32
    assert set(np.unique(lab[:, 0]).tolist()) <= {0.0, 1.0, 2.0}
    for col, grid in ((1, SCALES), (2, ROTATIONS), (3, POSITIONS), (4, POSITIONS)):
        dist = np.abs(lab[:, col, None] - grid.astype(np.float32)[None]).min(1)
        assert dist.max() < 1e-6, col
    assert lab[:, 1].min() >= 0.5 and lab[:, 1].max() <= 1.0
    assert lab[:, 2].min() >= 0 and lab[:, 2].max() < 2 * np.pi
    assert lab[:, 3:].min() >= 0 and lab[:, 3:].max() <= 1
    assert len(np.unique(lab[:, 0])) == 3  # 2000 draws cover all three shapes


def test_images_are_exactly_binary_and_match_the_renderer():
    d = splits(subset=200)
    x = d["train"].x
    assert x.dtype == torch.float32 and x.shape[1:] == (1, SIZE, SIZE)
    assert set(torch.unique(x).tolist()) == {0.0, 1.0}
    assert (x.flatten(1).sum(1) > 0).all()  # every sprite is visible
    assert torch.equal(x, torch.from_numpy(render(d["train"].labels.numpy(), SIZE)))


def test_image_size_32_renders_at_32():
    d = load_split(DataConfig(image_size=32, subset=50), "val")
    assert d.x.shape == (5, 1, 32, 32)
    assert torch.equal(d.x, torch.from_numpy(render(d.labels.numpy(), 32)))
    assert set(torch.unique(d.x).tolist()) == {0.0, 1.0}


def test_default_image_size_is_32():
    assert load_split(DataConfig(subset=20), "test").x.shape == (2, 1, 32, 32)


def sprite(shape: int, scale: float = 1.0, rot: float = 0.0, size: int = 64) -> np.ndarray:
    return render(np.array([[shape, scale, rot, 0.5, 0.5]], np.float32), size)[0, 0]


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_square_area(scale):
    # side = 2 * 0.8 * RADIUS * scale * 64 pixels; the pixel-centre sampling errs by at most one row/column per edge
    side = 2 * 0.8 * RADIUS * scale * 64
    area = sprite(0, scale).sum()
    assert abs(area - side**2) <= 2 * (side + 1) + 1, (area, side**2)
    assert area == pytest.approx(side**2, rel=2 / side)  # about a row and a column: 2 side / side²


@pytest.mark.parametrize("scale", [1.0, 0.7])
def test_ellipse_area_is_pi_a_b(scale):
    a = RADIUS * scale * 64  # u² + 4 v² <= 1: semi-axes a (along x at rotation 0) and a / 2
    b = a / 2
    img = sprite(1, scale)
    assert img.sum() == pytest.approx(np.pi * a * b, rel=0.08)
    cols, rws = np.nonzero(img.any(0))[0], np.nonzero(img.any(1))[0]
    assert cols.max() - cols.min() + 1 == pytest.approx(2 * a, abs=2)  # wider than tall
    assert rws.max() - rws.min() + 1 == pytest.approx(2 * b, abs=2)


def test_square_turned_by_a_quarter_turn_is_the_same_square():
    rot = ROTATIONS[10]  # pi / 2 on the grid
    assert rot == pytest.approx(np.pi / 2)
    diff = np.abs(sprite(0) - sprite(0, rot=rot)).sum()
    assert diff <= 4


def test_an_eighth_turn_changes_the_square_but_not_its_area():
    plain, turned = sprite(0), sprite(0, rot=np.pi / 4)
    assert np.abs(plain - turned).sum() > 50
    assert turned.sum() == pytest.approx(plain.sum(), rel=0.05)


def test_ellipse_turned_by_a_quarter_turn_is_transposed():
    a, b = sprite(1), sprite(1, rot=np.pi / 2)
    assert np.abs(a.T - b).sum() <= 4
    assert np.abs(a - b).sum() > 100


def test_sprite_is_centred():
    img = sprite(0)
    ys, xs = np.nonzero(img)
    assert xs.mean() == pytest.approx(31.5, abs=0.5) and ys.mean() == pytest.approx(31.5, abs=0.5)


def test_position_factors_move_the_sprite():
    f = np.array([[0, 0.5, 0.0, 0.0, 0.0], [0, 0.5, 0.0, 1.0, 1.0], [0, 0.5, 0.0, 1.0, 0.0]], np.float32)
    imgs = render(f, 64)[:, 0]
    centre = lambda im: (np.nonzero(im)[1].mean(), np.nonzero(im)[0].mean())  # noqa: E731  (x, y)
    (x0, y0), (x1, y1), (x2, y2) = map(centre, imgs)
    lo, hi = RADIUS * np.sqrt(2) * 64 - 0.5, (1 - RADIUS * np.sqrt(2)) * 64 - 0.5  # the margins, as pixel indices
    for got, want in ((x0, lo), (y0, lo), (x1, hi), (y1, hi), (x2, hi), (y2, lo)):
        assert got == pytest.approx(want, abs=1)
    for im in imgs:  # a scale-1/2 sprite stays entirely inside the image: nothing on the border
        assert im[0].sum() == im[-1].sum() == im[:, 0].sum() == im[:, -1].sum() == 0


def test_a_rotated_square_at_scale_1_in_a_corner_stays_inside_the_image():
    for x, y in ((0, 0), (0, 1), (1, 0), (1, 1)):
        im = render(np.array([[0, 1.0, np.pi / 4, x, y]], np.float32), 64)[0, 0]
        assert im.sum() > 0
        assert im[0].sum() == im[-1].sum() == im[:, 0].sum() == im[:, -1].sum() == 0, (x, y)


def test_bad_subset_sizes_are_config_errors():
    with pytest.raises(ConfigError, match="too small"):
        load_split(DataConfig(subset=9), "train")
    with pytest.raises(ConfigError, match="larger than the whole grid"):
        load_split(DataConfig(subset=737_281), "train")
    with pytest.raises(ConfigError, match="split"):
        load_split(DataConfig(subset=20), "training")
