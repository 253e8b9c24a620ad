"""`vaekit explore` as a command, the explorer's pieces without the server, and the decode latency."""

from __future__ import annotations

import io
import json
import socket
import sys
import tomllib
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.cli import build_parser, main
from vaekit.config import ModelConfig
from vaekit.errors import VaekitError
from vaekit.explore.state import ExplorerState, fit_map
from vaekit.model import build_model


def test_explore_is_a_subcommand_with_host_and_port():
    args = build_parser().parse_args(["explore", "runs/x", "--port", "9000"])
    assert (args.run_dir, args.host, args.port, args.which) == ("runs/x", "127.0.0.1", 9000, "best")


def test_without_fastapi_the_command_says_what_to_install(run_dir, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert "explore" in build_parser().format_help()  # the CLI itself does not need them
    assert main(["explore", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "fastapi, uvicorn" in err and "pip install 'vaekit[explore]'" in err


def test_the_page_ships_in_the_wheel():
    config = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert {"explore/*.html", "explore/*.js"} <= set(config["tool"]["setuptools"]["package-data"]["vaekit"])
    assert "fastapi" in " ".join(config["project"]["optional-dependencies"]["explore"])


def test_a_busy_port_is_a_clear_error(run_dir, capsys):
    pytest.importorskip("uvicorn")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        assert main(["explore", str(run_dir), "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_the_command_serves_the_page_and_the_api(served):
    with urllib.request.urlopen(served, timeout=10) as r:
        assert "vaekit latent explorer" in r.read().decode()
    with urllib.request.urlopen(served + "api/info", timeout=10) as r:
        assert json.load(r)["latent_dim"] >= 1


def test_non_image_models_are_refused():
    model = build_model(ModelConfig(hidden=[8], latent_dim=2), (5,))
    with pytest.raises(VaekitError, match="needs an image model"):
        ExplorerState(model, torch.rand(10, 5))


@pytest.mark.parametrize("d", [1, 2])
def test_small_latent_spaces_are_mapped_as_they_are(d):
    means = torch.randn(50, d)
    m = fit_map(means)
    assert m.method == "identity"
    expect = torch.cat([means, torch.zeros(50, 2 - d)], dim=1)
    torch.testing.assert_close(m.points, expect)
    torch.testing.assert_close(m.project(means[0]), expect[0])


def test_rgb_models_get_rgb_input():
    from vaekit.explore.images import image_to_input

    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), (255, 0, 0), np.uint8)).save(buf, format="PNG")
    x = image_to_input(buf.getvalue(), (3, 8, 8))
    assert x.shape == (3, 8, 8) and x[0].eq(1).all() and x[1:].eq(0).all()
    x = image_to_input(buf.getvalue(), (1, 4, 4))
    assert x.shape == (1, 4, 4) and torch.allclose(x, torch.full_like(x, 76 / 255))  # ITU-R 601 luma of red
