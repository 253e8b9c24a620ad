"""The video kind's defaults and registry: --data moving-shapes takes the sequential VAE, 4,000 videos and steps
of 32 videos, unless the user says otherwise, through the CLI as through Python."""

from __future__ import annotations

from vaekit.config import Config, DataConfig
from vaekit.kinds import kind_of, with_kind_defaults


def test_the_kind_defaults_fill_model_data_and_training_fields():
    cfg = with_kind_defaults(Config(data=DataConfig(dataset="moving-shapes")))
    assert kind_of("moving-mnist").name == kind_of("video").name == "videos"
    assert (cfg.model.arch, cfg.model.latent_dim, cfg.model.static_dim) == ("dsae", 8, 16)
    assert (cfg.data.subset, cfg.train.batch_size) == (4000, 32)
    given = with_kind_defaults(Config(data=DataConfig(dataset="moving-shapes")), {"train.batch_size", "data.subset"})
    assert (given.train.batch_size, given.data.subset, given.model.arch) == (128, 20000, "dsae")
    assert with_kind_defaults(Config()).train.batch_size == 128  # images keep theirs


def test_the_cli_keeps_a_batch_size_given_on_the_line(tmp_path):
    import argparse

    from vaekit.cli.common import add_config_flags, config_from_args

    p = argparse.ArgumentParser()
    add_config_flags(p)
    assert config_from_args(p.parse_args(["--data", "moving-shapes"])).train.batch_size == 32
    assert config_from_args(p.parse_args(["--data", "moving-shapes", "--batch-size", "128"])).train.batch_size == 128
