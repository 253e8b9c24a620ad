"""Configs: validated on construction, unknown keys refused, JSON/TOML round trips, clear file errors."""

from __future__ import annotations

import pytest

from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.config_files import load_config, save_config
from vaekit.errors import ConfigError


@pytest.mark.parametrize("section, values, needle", [
    ("model", {"latent_dim": 0}, "latent-dim"),
    ("model", {"hidden": [400, -1]}, "hidden"),
    ("model", {"hidden": []}, "hidden"),
    ("model", {"likelihood": "poisson"}, "likelihood"),
    ("model", {"latent_dim": "abc"}, "latent_dim"),
    ("model", {"latent_dim": True}, "latent_dim"),
    ("model", {"inference": "sideways"}, "inference"),
    ("data", {"binarize": "dynamc"}, "binarize"),
    ("data", {"val_fraction": 0.7}, "val-fraction"),
    ("data", {"dataset": ""}, "must name a data set"),  # the name itself: its kind's (tests/kinds)
    ("train", {"ema": 1.0}, "ema"),
    ("train", {"iwae_k": 0}, "iwae-k"),
    ("train", {"batch_size": -8}, "batch-size"),
    ("train", {"lr": 0}, "lr"),
    ("train", {"epoch": 3}, "unknown key"),
])
def test_invalid_values_name_the_option(section, values, needle):
    with pytest.raises(ConfigError, match=needle):
        Config.from_dict({section: values})


def test_unknown_section_is_refused():
    with pytest.raises(ConfigError, match="optimizer"):
        Config.from_dict({"optimizer": {}})


def test_json_and_toml_round_trip(tmp_path):
    cfg = Config(DataConfig(dataset="mnist", binarize="dynamic"), ModelConfig(hidden=[200, 200], latent_layers=[50]),
                 TrainConfig(epochs=7, lr=3e-4, ema=0.999))
    save_config(cfg, tmp_path / "c.json")
    assert load_config(tmp_path / "c.json") == cfg
    (tmp_path / "c.toml").write_text('[data]\ndataset = "mnist"\nbinarize = "dynamic"\n'
                                     '[model]\nhidden = [200, 200]\nlatent_layers = [50]\n'
                                     '[train]\nepochs = 7\nlr = 3e-4\nema = 0.999\n')
    assert load_config(tmp_path / "c.toml") == cfg


def test_config_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.json"):
        load_config(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"bad\.json is not valid JSON"):
        load_config(tmp_path / "bad.json")
    (tmp_path / "bad.toml").write_text("[model\nhidden=")
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML"):
        load_config(tmp_path / "bad.toml")
    (tmp_path / "c.ini").write_text("")
    with pytest.raises(ConfigError, match="unknown format"):
        load_config(tmp_path / "c.ini")


@pytest.mark.parametrize("text, want", [
    ('{"train": {"compile": true}}', "on"), ('{"train": {"compile": false}}', "off"),
    ('{"train": {"compile": "auto"}}', "auto"), ('{"train": {}}', "auto"),
])
def test_compile_takes_auto_on_off_and_the_booleans_of_older_config_files(tmp_path, text, want):
    (tmp_path / "c.json").write_text(text)
    assert load_config(tmp_path / "c.json").train.compile == want
    (tmp_path / "c.toml").write_text(text.replace('{"train": {', "[train]\n").replace("}}", "").replace('"compile":',
                                                                                                      "compile ="))
    assert load_config(tmp_path / "c.toml").train.compile == want
    with pytest.raises(ConfigError, match="compile='yes' is not one of auto, on, off"):
        TrainConfig(compile="yes")


@pytest.mark.parametrize("flags, want", [([], "auto"), (["--compile"], "on"), (["--no-compile"], "off"),
                                         (["--compile", "auto"], "auto"), (["--compile", "off"], "off")])
def test_compile_flags_force_it_on_or_off(tmp_path, flags, want):
    from vaekit.cli import build_parser, config_from_args

    (tmp_path / "old.json").write_text('{"train": {"compile": true}}')  # a file's value, overridden by the flag
    args = build_parser().parse_args(["train", "--data", "shapes", *flags])
    assert config_from_args(args).train.compile == want
    from_file = config_from_args(args, load_config(tmp_path / "old.json").to_dict()).train.compile
    assert from_file == (want if flags else "on")
