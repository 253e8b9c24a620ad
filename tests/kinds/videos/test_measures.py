"""Video judges: trained on pixels alone, they tell a video's shape and its direction, and they read a video made
of one video's object on another's path as that object moving that way."""

from __future__ import annotations

import torch

from vaekit.judging import LinearJudge
from vaekit.kinds.videos.measures import VideoJudge, centres, content_features, motion_features

SIDE, T = 32, 6
DIRECTIONS = torch.tensor([[0, 1], [1, 0], [0, -1], [-1, 0]])  # (row, col) steps: E, S, W, N


def sprite(shape: int) -> torch.Tensor:
    """A 7x7 binary sprite: 0 a filled square, 1 a plus, 2 a hollow square."""
    s = torch.zeros(7, 7)
    if shape == 0:
        s[:] = 1
    elif shape == 1:
        s[3, :], s[:, 3] = 1, 1
    else:
        s[0, :], s[-1, :], s[:, 0], s[:, -1] = 1, 1, 1, 1
    return s


def render(shapes: torch.Tensor, dirs: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
    """(N, T, 1, SIDE, SIDE): sprite shapes[i] moving 2 px a frame in direction dirs[i] from starts[i]."""
    out = torch.zeros(len(shapes), T, 1, SIDE, SIDE)
    for i, (s, d, p) in enumerate(zip(shapes.tolist(), dirs.tolist(), starts.tolist(), strict=True)):
        for t in range(T):
            r, c = p[0] + 2 * t * DIRECTIONS[d][0], p[1] + 2 * t * DIRECTIONS[d][1]
            out[i, t, 0, r:r + 7, c:c + 7] = sprite(s)
    return out


def draw(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes, dirs = torch.randint(0, 3, (n,), generator=g), torch.randint(0, 4, (n,), generator=g)
    # starts leave room for 10 px of travel either way
    starts = torch.randint(10, SIDE - 7 - 10 + 1, (n, 2), generator=g)
    return shapes, dirs, starts


def test_centres_follow_the_sprite() -> None:
    v = render(torch.tensor([0]), torch.tensor([1]), torch.tensor([[4, 8]]))
    c = centres(v)[0]  # (T, 2)
    assert torch.allclose(c[:, 0], 4 + 3.5 + 2 * torch.arange(T).float())  # down 2 px a frame
    assert torch.allclose(c[:, 1], torch.full((T,), 8 + 3.5))
    assert torch.allclose(centres(torch.zeros(1, 2, 1, 8, 8)), torch.full((1, 2, 2), 4.0))  # empty: the middle


def test_features_separate_what_from_how() -> None:
    # the same sprite on two paths: equal content features; two sprites on one path: equal motion features
    a = render(torch.tensor([1, 1]), torch.tensor([0, 3]), torch.tensor([[8, 6], [14, 9]]))
    assert torch.allclose(content_features(a)[0], content_features(a)[1], atol=1e-6)
    assert not torch.allclose(motion_features(a)[0], motion_features(a)[1])
    b = render(torch.tensor([0, 2]), torch.tensor([2, 2]), torch.tensor([[8, 12], [8, 12]]))
    assert torch.allclose(motion_features(b)[0], motion_features(b)[1], atol=1e-6)
    assert not torch.allclose(content_features(b)[0], content_features(b)[1])


def test_judges_read_content_and_motion_of_a_combined_video() -> None:
    shapes, dirs, starts = draw(300, 0)
    train = render(shapes, dirs, starts)
    content = VideoJudge.fit("content", train, shapes, 3)
    motion = VideoJudge.fit("motion", train, dirs, 4)
    ts, td, tp = draw(120, 1)
    test = render(ts, td, tp)
    assert content.accuracy(test, ts) >= 0.95 and motion.accuracy(test, td) >= 0.95
    # a's sprite on b's path: the judges must say a's shape and b's direction
    swapped = render(ts, td.roll(1), tp.roll(1, 0))
    assert content.accuracy(swapped, ts) >= 0.95
    assert motion.accuracy(swapped, td.roll(1)) >= 0.95
    assert motion.accuracy(swapped, td) <= 0.5  # and not a's own direction (chance is ~0.25)


def test_linear_judge_round_trip() -> None:
    shapes, dirs, starts = draw(60, 2)
    x = motion_features(render(shapes, dirs, starts))
    judge = LinearJudge.fit(x, dirs, 4)
    again = LinearJudge.from_dict(judge.to_dict())
    assert torch.equal(judge.logits(x), again.logits(x))
