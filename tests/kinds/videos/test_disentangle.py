"""After a short run on the built-in moving shapes (16 x 16 frames, about two minutes on 2 cores), the
sequential VAE keeps content and motion apart where judges of the pixels can see it: swapped videos show the
colour of the video whose f they took and the direction of the one whose z_1:T they took, well above chance;
swapping f between two videos that show the same sprite changes the video far less than swapping in another
sprite's f; and its importance-sampled log-likelihood lies above its ELBO."""

from __future__ import annotations

import pytest
import torch

import vaekit
from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.evaluation import evaluate
from vaekit.kinds import load_split
from vaekit.kinds.videos.measures import factor_labels, swap_measures, train_judges

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    # 1,600 training videos of 16 x 16 frames, 50 steps of 32 an epoch: 2,000 steps in ~2 minutes (a model of the
    # sprites plateaus at grey blobs for several hundred steps before it tells their colours apart)
    cfg = Config(DataConfig(dataset="moving-shapes", subset=2000, image_size=16), ModelConfig(),
                 TrainConfig(epochs=40, lr=2e-3, progress=False, report=False))
    run = vaekit.train(cfg, out=tmp_path_factory.mktemp("moving") / "run", callbacks=[])
    return run, load_split(run.config.data, "test", stats=run.data_stats)


def test_swaps_show_the_content_of_f_and_the_motion_of_z(trained):
    run, test = trained
    judges = train_judges(load_split(run.config.data, "train", stats=run.data_stats),
                          {"colour": "content", "direction": "motion"})
    m = swap_measures(run.model, test, judges, n=200)
    assert m["colour"]["real"] > 0.95 and m["direction"]["real"] > 0.8
    assert m["colour"]["swap"] > m["colour"]["chance"] + 0.5, m  # measured: 0.985, chance 0.22
    assert m["direction"]["swap"] > m["direction"]["chance"] + 0.4, m  # measured: 0.85, chance 0.16


def test_swapping_f_of_a_video_with_the_same_content_changes_little(trained):
    run, test = trained
    content = torch.stack([factor_labels(test, n) for n in ("shape", "colour", "scale")], 1)  # (N, 3)
    same, other = [], []
    for a in range(len(test)):
        match = (content == content[a]).all(1)
        match[a] = False
        if match.any() and (~match).any():
            same.append((a, int(match.nonzero()[0])))
            other.append((a, int((content[:, 1] != content[a, 1]).nonzero()[0])))  # another colour
    assert len(same) >= 10

    def change(pairs: list[tuple[int, int]]) -> float:
        a, b = (torch.tensor(i) for i in zip(*pairs, strict=True))
        x = test.x
        return float((run.model.swap(x[b], x[a]) - run.model.reconstruct(x[a])).abs().mean())

    assert change(same) < 0.5 * change(other), (change(same), change(other))


def test_the_log_likelihood_lies_above_the_elbo(trained):
    run, test = trained
    res = evaluate(run.model, test.take(64), k=50, progress=False, compile=False)
    assert res["log_likelihood"] > res["elbo"]
