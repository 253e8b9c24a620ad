"""A conditional VAE of tones converts held-out notes to another pitch, and an independent pitch judge hears the
target pitch far above chance: the label, not only z, decides what the decoder plays."""

from __future__ import annotations

import pytest
import torch

import vaekit
from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.kinds import kind_of
from vaekit.kinds.sounds.corpus import read_clips
from vaekit.kinds.sounds.features import items_to_waves
from vaekit.kinds.sounds.measures import Judge, conversion_measures

DATA = DataConfig(dataset="tones", subset=480, clip_seconds=0.25, sample_rate=8000)


@pytest.fixture
def one_thread():
    """Tiny ops: two threads spin against each other on a loaded 2-core host (this test: 118 s with two, 28 s
    with one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_conversions_are_judged_the_target_pitch(tmp_path, one_thread):
    """Measured: 83.3 % of the 48 test notes judged the target pitch (chance 12.5 %; the judge on the real
    test notes: 100 %), in 8 s of CPU (28 s on a 2-core host under a load of 7)."""
    cfg = Config(data=DATA, model=ModelConfig(arch="conv", channels_base=8, hidden=[64], latent_dim=4,
                                              conditional=True),
                 train=TrainConfig(epochs=8, batch_size=32, lr=3e-3, progress=False, compile=False, report=False))
    run = vaekit.train(cfg, out=tmp_path / "run", callbacks=[])
    test = kind_of("tones").load_split(run.config.data, "test", run.data_stats)
    shift = torch.randint(1, 8, (len(test),), generator=torch.Generator().manual_seed(0))
    target = (test.labels + shift) % 8  # another pitch for every note
    made = items_to_waves(run.model.convert(test.x, test.labels, target), run.data_stats)  # (N, S)
    train, real = read_clips(DATA, "train"), read_clips(DATA, "test")
    judge = Judge.fit(train.waves, train.labels, 8000, 8)
    m = conversion_measures(made, target, judge, real.waves, real.labels)
    assert m["n"] == 48 and m["chance"] == 12.5 and m["real_accuracy"] >= 90.0
    assert m["target_accuracy"] >= 50.0, m
