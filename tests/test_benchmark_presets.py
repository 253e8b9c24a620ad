"""The likelihood benchmark's presets are valid configs, and the 60-minute ones fit their budget: a broken
preset would otherwise surface only after an hour of training."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import pytest

from vaekit.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
likelihood = importlib.import_module("likelihood")  # benchmarks/likelihood.py


@pytest.mark.parametrize("name", sorted(likelihood.PRESETS))
def test_every_stage_of_a_preset_is_a_valid_config(name):
    args = argparse.Namespace(minutes=None, epochs=None)
    stages = likelihood.stage_configs(name, args, Path("runs") / f"bench-{name}")
    for cfg_dict, _ in stages:
        cfg = Config.from_dict(cfg_dict, source=f"preset {name}")
        assert cfg.data.dataset == "mnist" and cfg.data.binarize == "dynamic"  # the protocol's data
    if len(stages) == 2:  # a fine-tuning stage starts from the first stage's run folder
        assert stages[1][0]["train"]["init_from"] == str(stages[0][1])


@pytest.mark.parametrize("name", [n for n in sorted(likelihood.PRESETS) if n.endswith("-1h")])
def test_sixty_minute_presets_cap_their_stages_at_sixty_minutes_in_all(name):
    stages = likelihood.stage_configs(name, argparse.Namespace(minutes=None, epochs=None), Path("run"))
    assert sum(cfg["train"]["max_minutes"] for cfg, _ in stages) <= 60
