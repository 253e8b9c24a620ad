"""The registry of kinds: data set names, checks of a config against its kind, per-item units."""

from __future__ import annotations

import math

import pytest
import torch

from vaekit.config import DataConfig, ModelConfig
from vaekit.data import TensorData
from vaekit.errors import ConfigError
from vaekit.evaluation import unit_of
from vaekit.kinds import dataset_names, kind_named, kind_of, load_split
from vaekit.model import build_model


def test_every_data_set_has_one_kind():
    names = dataset_names()
    assert set(names) == {"shapes", "mnist", "folder", "array", "text-shapes", "yelp", "text", "tones",
                          "spoken-digits", "audio", "moving-shapes", "moving-mnist", "video"}
    assert len(names) == len(set(names))
    assert kind_of("mnist").name == "images" and kind_of("array").name == "arrays"
    assert kind_of("yelp").name == "texts" and kind_named("texts") is kind_of("text-shapes")
    assert kind_of("spoken-digits").name == "sounds" and kind_of("moving-mnist").name == "videos"
    with pytest.raises(ConfigError, match="--data 'nope' is not one of shapes, mnist, folder, array, text-shapes, "
                                          "yelp, text, tones, spoken-digits, audio, moving-shapes, moving-mnist, "
                                          "video"):
        kind_of("nope")
    with pytest.raises(ConfigError, match="no kind of data is named 'audio'"):
        kind_named("audio")  # a data set, not a kind


def test_a_kind_refuses_what_does_not_fit_its_items():
    with pytest.raises(ConfigError, match="--model conv does not fit arrays data; use one of mlp, resmlp"):
        kind_of("array").check(ModelConfig(arch="conv"))
    with pytest.raises(ConfigError, match="--likelihood logistic does not fit arrays"):
        kind_of("array").check(ModelConfig(likelihood="logistic"))
    kind_of("shapes").check(ModelConfig(arch="conv", likelihood="logistic"))  # fits images
    with pytest.raises(ConfigError, match="--data folder needs --data-dir"):
        load_split(DataConfig(dataset="folder"), "train")


def test_the_unit_beside_nats_is_the_kinds():
    model = build_model(ModelConfig(hidden=[8], latent_dim=2), (1, 4, 4))
    binary = TensorData((torch.rand(5, 1, 4, 4) < 0.5).float())
    unit = unit_of(model, binary)
    assert unit.name == "bits/dim" and unit.nats == pytest.approx(16 * math.log(2))
    assert unit.of(-16 * math.log(2) * 3) == pytest.approx(3.0)  # 3 bits per pixel
    assert unit_of(model, TensorData(torch.randn(5, 1, 4, 4), kind="arrays")) is None
    assert unit_of(model, TensorData(torch.rand(5, 1, 4, 4))) is None  # grey levels under a Bernoulli
