"""How well a video model keeps content and motion apart: judges of real videos, and what they say of swapped and
resampled ones (the protocol of Li & Mandt 2018, sec. 5, and of the sequential-VAE papers after them).

Two judges, each a `vaekit.judging.LinearJudge` (softmax regression) on features computed from the pixels alone,
so that they owe nothing to the models they judge:
- the **content** judge (what a video shows: the sprite's shape, the digit) reads each frame moved so that its
  centre of mass sits in the middle, averaged over the frames (the object without its path), the radial
  profile of the mass around the centre (rotation-invariant, for rotating sprites) and the foreground's mean
  colour and area;
- the **motion** judges (how it moves: the start direction, the speed) read the path of the centre of mass, its
  T - 1 steps between frames in units of the frame side, with their sizes.
Both are translation-invariant in the way their factor needs, and neither sees a latent.

One judge per factor judged (`train_judges`: shape, colour, scale with content features; direction and speed with
motion features). `swap_measures` then asks, for pairs (a, b) of test videos: does the video decoded from f of
a and z_1:T of b show a's content (the content judges) and b's motion (the motion judges)? And with f kept and
z_1:T drawn anew from the prior, is the content kept; with z_1:T kept and f drawn anew, is the motion kept?
Beside them, the judges' accuracies on the real test videos and on their reconstructions bound what a model
can reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from vaekit.errors import DataError
from vaekit.judging import LinearJudge

RINGS = 8          # radial profile: rings of equal width out to half the frame side
CENTRED_SIDE = 16  # the centred mean frame is pooled to at most this side (a 784-weight judge on 28 px digits)


def centres(videos: torch.Tensor) -> torch.Tensor:
    """(N, T, 2) the centre of mass (row, column) of each frame's intensity (summed over channels), in pixels;
    an empty frame's centre is the frame's middle."""
    mass = videos.float().sum(2)  # (N, T, H, W)
    h, w = mass.shape[-2:]
    total = mass.sum((-2, -1))  # (N, T)
    rows = torch.arange(h, dtype=torch.float32) + 0.5
    cols = torch.arange(w, dtype=torch.float32) + 0.5
    r = (mass.sum(-1) * rows).sum(-1) / total.clamp_min(1e-6)  # (N, T)
    c = (mass.sum(-2) * cols).sum(-1) / total.clamp_min(1e-6)
    empty = total <= 1e-6
    return torch.stack([r.masked_fill(empty, h / 2), c.masked_fill(empty, w / 2)], -1)


def motion_features(videos: torch.Tensor) -> torch.Tensor:
    """(N, 5 (T - 1)) the steps of the centre of mass between frames, over the frame side: each step's two
    components (its direction), their sizes and the larger of them (its speed, whatever the direction: a
    linear judge cannot take the size of a signed step itself)."""
    _check(videos)
    path = centres(videos) / videos.shape[-1]  # (N, T, 2)
    steps = path[:, 1:] - path[:, :-1]  # (N, T - 1, 2)
    size = steps.abs()
    return torch.cat([steps.flatten(1), size.flatten(1), size.amax(-1)], 1)


def content_features(videos: torch.Tensor) -> torch.Tensor:
    """(N, D) the centred mean frame (pooled to <= CENTRED_SIDE), the mean radial mass profile, the foreground's
    mean colour per channel and its mean area."""
    _check(videos)
    v = videos.float()
    n, t, ch, h, w = v.shape
    mid = centres(v)  # (N, T, 2)
    # whole-pixel shifts, halves rounded up alike (not to even), so one sprite centres alike on any path
    shift_r = torch.floor(h / 2 - mid[..., 0] + 0.5).long()  # (N, T)
    shift_c = torch.floor(w / 2 - mid[..., 1] + 0.5).long()
    rows = (torch.arange(h)[None, None, :] - shift_r[..., None]) % h  # (N, T, H): source row of each row
    cols = (torch.arange(w)[None, None, :] - shift_c[..., None]) % w
    frames = v.flatten(0, 1)  # (N T, C, H, W)
    centred = frames.gather(2, rows.flatten(0, 1)[:, None, :, None].expand(-1, ch, -1, w))
    centred = centred.gather(3, cols.flatten(0, 1)[:, None, None, :].expand(-1, ch, h, -1))
    mean_frame = centred.view(n, t, ch, h, w).mean(1)  # (N, C, H, W)
    if h > CENTRED_SIDE:
        mean_frame = torch.nn.functional.adaptive_avg_pool2d(mean_frame, CENTRED_SIDE)
    mass = v.sum(2)  # (N, T, H, W)
    yy = (torch.arange(h, dtype=torch.float32) + 0.5)[:, None]
    xx = (torch.arange(w, dtype=torch.float32) + 0.5)[None, :]
    radius = ((yy - mid[..., 0, None, None]) ** 2 + (xx - mid[..., 1, None, None]) ** 2).sqrt()  # (N, T, H, W)
    ring = (radius / (min(h, w) / 2) * RINGS).long().clamp(max=RINGS)  # ring RINGS: beyond half the side
    profile = torch.zeros(n, t, RINGS + 1).scatter_add_(2, ring.flatten(2), mass.flatten(2))[..., :RINGS]
    area = mass.sum((-2, -1))  # (N, T)
    colour = v.sum((-2, -1)) / area.clamp_min(1e-6)[..., None]  # (N, T, C)
    return torch.cat([mean_frame.flatten(1), profile.mean(1) / (h * w), colour.mean(1),
                      (area.mean(1) / (h * w))[:, None]], 1)


FEATURES = {"content": content_features, "motion": motion_features}


@dataclass
class VideoJudge:
    """A judge of one factor of videos: `what` ("content" or "motion") picks its features."""

    what: str
    linear: LinearJudge

    @classmethod
    def fit(cls, what: str, videos: torch.Tensor, labels: Any, n_classes: int, l2: float = 1e-3) -> VideoJudge:
        """Train on real videos (N, T, C, H, W) and their classes (N,) of the factor."""
        return cls(what, LinearJudge.fit(_features(what, videos), labels, n_classes, l2=l2))

    def predict(self, videos: torch.Tensor) -> torch.Tensor:
        return self.linear.predict(_features(self.what, videos))

    def accuracy(self, videos: torch.Tensor, labels: Any) -> float:
        return self.linear.accuracy(_features(self.what, videos), labels)


def _features(what: str, videos: torch.Tensor, batch: int = 512) -> torch.Tensor:
    return torch.cat([FEATURES[what](part) for part in videos.split(batch)])


def _check(videos: torch.Tensor) -> None:
    if videos.dim() != 5 or videos.shape[1] < 2:
        raise DataError(f"video judges read videos (N, T, C, H, W) of at least 2 frames; got {tuple(videos.shape)}")


def factor_labels(data: Any, name: str) -> torch.Tensor:
    """(N,) int64 codes of the factor column `name` of a VideoData."""
    names = list(getattr(data, "factor_names", None) or [])
    if getattr(data, "factors", None) is None or name not in names:
        raise DataError(f"the videos have no factor {name!r} (factors: {', '.join(names) or 'none'})")
    return data.factors[:, names.index(name)].long()


def train_judges(train: Any, factors: dict[str, str]) -> dict[str, VideoJudge]:
    """One judge per factor, trained on real videos: `factors` maps a factor's name to "content" or "motion",
    which picks the judge's features."""
    judges = {}
    for name, what in factors.items():
        labels = factor_labels(train, name)
        judges[name] = VideoJudge.fit(what, train.x, labels, int(labels.max()) + 1)
    return judges


@torch.no_grad()
def judged_videos(model: Any, x: torch.Tensor, partner: torch.Tensor, generator: torch.Generator,
                  batch: int = 128) -> dict[str, torch.Tensor]:
    """What the judges look at, for videos x (N, T, C, H, W) and each one's swap partner (N,) (indices into x):
    reconstructions, swaps (f of x, z_1:T of its partner), z_1:T drawn anew (f kept), f drawn anew (z kept)."""
    out: dict[str, list[torch.Tensor]] = {"recon": [], "swap": [], "new_motion": [], "new_content": []}
    for s in range(0, len(x), batch):
        xa, xb = x[s:s + batch], x[partner[s:s + batch]]
        out["recon"].append(model.reconstruct(xa))
        out["swap"].append(model.swap(xa, xb))
        f, zs = model.split_latent(model.encode(xa).mean)
        out["new_motion"].append(model.decode(model.sample_motion(f, generator)))
        out["new_content"].append(model.decode(model.sample_content(zs, generator)))
    return {k: torch.cat(parts) for k, parts in out.items()}


@torch.no_grad()
def swap_measures(model: Any, test: Any, judges: dict[str, VideoJudge], n: int = 512, seed: int = 0
                  ) -> dict[str, dict[str, Any]]:
    """Per factor judged, its judge's accuracy (in [0, 1]) on `n` random test videos: `real`, `recon`
    (reconstructions), `swap` (f of video a with z_1:T of video b: a content judge must name a's factor, a
    motion judge b's), `kept` (a content judge on videos whose z_1:T were drawn anew, a motion judge on videos
    whose f was: the factor must stay), and `chance` (the most frequent class's share)."""
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(test), generator=gen)[:n]
    x = test.x[idx]
    partner = torch.roll(torch.arange(len(idx)), 1)  # b of a: the next video in the draw
    v = judged_videos(model, x, partner, gen)
    out = {}
    for name, judge in judges.items():
        labels = factor_labels(test, name)[idx]
        content = judge.what == "content"
        out[name] = {"what": judge.what, "real": judge.accuracy(x, labels), "recon": judge.accuracy(v["recon"], labels),
                     "swap": judge.accuracy(v["swap"], labels if content else labels[partner]),
                     "kept": judge.accuracy(v["new_motion" if content else "new_content"], labels),
                     "chance": float(torch.bincount(labels).max()) / len(labels)}
    return out
