"""Residual networks (--model resnet, --model resmlp): every block starts as the identity, odd image sizes
come back whole, every weight learns, they train, round-trip and work inside hierarchical and conditional VAEs."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

import vaekit
from tests.conftest import tiny_config
from vaekit.config import Config, DataConfig, ModelConfig
from vaekit.errors import ConfigError
from vaekit.model import build_model
from vaekit.nets import Residual, ResMLPDecoder, ResMLPEncoder, ResNetDecoder, ResNetEncoder
from vaekit.objectives import elbo
from vaekit.runs.checkpoint import load_weights, save_weights
from vaekit.runs.metrics import read_metrics

SHAPES = [(1, 28, 28), (3, 16, 16), (1, 15, 15)]


def resnet_pair(shape: tuple[int, ...], p: int = 1, k: int = 0) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    return (ResNetEncoder(shape, 4, 16, 6, "gelu", blocks=2, extra_in=k),
            ResNetDecoder(3 + k, 4, 16, shape, "gelu", params_per_dim=p, blocks=2))


def resmlp_pair(shape: tuple[int, ...], p: int = 1) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    return ResMLPEncoder(shape, 16, 2, 6, "gelu"), ResMLPDecoder(3, 16, 2, shape, "gelu", params_per_dim=p)


def blocks_of(net: nn.Module) -> list[Residual]:
    return [m for m in net.modules() if isinstance(m, Residual)]


def block_input(block: Residual) -> torch.Tensor:
    """Random input of the block's width: (4, ch, 5, 7) for a conv block, (4, width) for a linear one."""
    layer = block.f[1]
    if isinstance(layer, nn.Conv2d):
        return torch.randn(4, layer.in_channels, 5, 7)
    return torch.randn(4, layer.in_features)


def without_blocks(net: nn.Module) -> nn.Module:
    """A copy of `net` with every residual block replaced by nn.Identity: the shallow network around them."""
    net = copy.deepcopy(net)
    for module in list(net.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, Residual):
                setattr(module, child_name, nn.Identity())
    return net


# --- identity at initialisation ----------------------------------------------------------------------------


@pytest.mark.parametrize("pair", [lambda: resnet_pair((1, 15, 15)), lambda: resmlp_pair((1, 15, 15))],
                         ids=["resnet", "resmlp"])
def test_every_residual_block_starts_as_the_identity_and_the_net_as_the_shallow_one(pair):
    enc, dec = pair()
    blocks = blocks_of(enc) + blocks_of(dec)
    # resnet: 2 blocks at each of the sizes 15 and 7, in each net; resmlp: 2 blocks in each net
    assert len(blocks) == (8 if isinstance(enc, ResNetEncoder) else 4)
    for block in blocks:
        x = block_input(block)
        assert torch.equal(block(x), x)
    x, z = torch.rand(5, 1, 15, 15), torch.randn(5, 3)
    with torch.no_grad():
        assert torch.equal(enc(x), without_blocks(enc)(x))
        assert torch.equal(dec(z), without_blocks(dec)(z))
        blocks[0].f[-1].weight.normal_()  # the check has teeth: a block with a non-zero last layer is not x
        x = block_input(blocks[0])
        assert (blocks[0](x) - x).abs().max() > 1e-3


# --- shapes, and the output bias ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("p", [1, 3])
def test_output_shapes_keep_odd_sizes(shape, p):
    c, h, w = shape
    for enc, dec in (resnet_pair(shape, p), resmlp_pair(shape, p)):
        assert enc(torch.rand(2, *shape)).shape == (2, 6)
        assert dec(torch.randn(2, 3)).shape == (2, p * c, h, w)


@pytest.mark.parametrize("make", [resnet_pair, resmlp_pair])
def test_output_bias_starts_the_decoder_at_the_given_parameters(make):
    _, dec = make((3, 15, 15), p=3)
    last = dec.deconv[-1] if isinstance(dec, ResNetDecoder) else dec.net[-1]
    with torch.no_grad():
        last.weight.zero_()  # only the bias left: the output is what set_output_bias wrote
    params = torch.randn(3, 15, 15)
    dec.set_output_bias(params)
    out = dec(torch.randn(2, 3)).detach()  # (2, 9, 15, 15)
    # conv: one bias per channel, the spatial mean; MLP: one bias per output, the parameters themselves
    want = params.mean((1, 2), keepdim=True).expand(3, 15, 15) if isinstance(dec, ResNetDecoder) else params
    assert torch.allclose(out[:, :3], want.expand(2, 3, 15, 15), atol=1e-6)


# --- every parameter learns -------------------------------------------------------------------------------


def loss_and_backward(model: nn.Module, x: torch.Tensor) -> None:
    model.zero_grad()
    (-elbo(model, x, generator=torch.Generator().manual_seed(0)).elbo.mean()).backward()


@pytest.mark.parametrize("arch,hidden,n_blocks", [("resnet", [16], 8), ("resmlp", [16, 16, 16], 4)])
def test_every_parameter_gets_a_gradient_after_one_step(arch, hidden, n_blocks):
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, hidden=hidden, latent_dim=3, channels_base=4, res_blocks=2), (1, 9, 9))
    x = (torch.rand(8, 1, 9, 9) < 0.4).float()
    blocks = blocks_of(model)
    assert len(blocks) == n_blocks  # resnet: 2 per size (9, 4) per net; resmlp: 2 per net
    loss_and_backward(model, x)
    for b in blocks:  # step 0: the zeroed layer learns; the first layer of f is cut off by it (exactly zero)
        assert b.f[-1].weight.grad.abs().sum() > 0
        assert b.f[1].weight.grad.abs().sum() == 0
    torch.optim.Adam(model.parameters(), lr=1e-3).step()
    loss_and_backward(model, x)
    dead = [name for name, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert dead == []


# --- training, and the saved model ------------------------------------------------------------------------


def val_curve(run: vaekit.Run) -> list[float]:
    return [r["val_elbo"] for r in read_metrics(run.dir / "metrics.jsonl") if r["kind"] in ("init", "epoch")]


@pytest.fixture(scope="module")
def resnet_run(tmp_path_factory) -> vaekit.Run:
    cfg = tiny_config(epochs=2)
    cfg.model = ModelConfig(arch="resnet", hidden=[32], latent_dim=4, channels_base=8)
    return vaekit.train(cfg, out=tmp_path_factory.mktemp("resnet") / "r")


def test_resnet_trains_on_shapes(resnet_run):
    curve = val_curve(resnet_run)
    assert len(curve) == 3 and curve[-1] > curve[0] + 10.0  # nats per 16x16 image; measured 18.3 (-51.4 -> -33.2)
    assert type(resnet_run.model.encoder).__name__ == "ResNetEncoder"


def test_resnet_round_trips_bit_for_bit(resnet_run, tmp_path):
    loaded = vaekit.load(resnet_run.dir)
    z, x = torch.randn(6, 4), torch.rand(6, 1, 16, 16)
    assert torch.equal(resnet_run.model.decode(z), loaded.decode(z))
    assert torch.equal(resnet_run.model.encode(x).mean, loaded.encode(x).mean)
    assert all(b.f[-1].weight.abs().max() > 0 for b in blocks_of(loaded))  # trained weights, not the init
    # The same through save_weights/load_weights into a freshly built model, every weight non-zero
    model = build_model(resnet_run.config.model, (1, 16, 16))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    save_weights(tmp_path / "w.safetensors", model)
    fresh = build_model(resnet_run.config.model, (1, 16, 16))
    load_weights(tmp_path / "w.safetensors", fresh)
    assert torch.equal(model.decoder(z), fresh.decoder(z))


# --- inside a hierarchical and a conditional VAE; resmlp on flat data ----------------------------------------


def steps_improve(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, steps: int = 30) -> float:
    """ELBO gain (nats per data point, same noise) after `steps` Adam steps on one fixed batch."""
    def value() -> float:
        with torch.no_grad():
            return float(elbo(model, x, y=y, generator=torch.Generator().manual_seed(1)).elbo.mean())
    before = value()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for s in range(steps):
        opt.zero_grad()
        (-elbo(model, x, y=y, generator=torch.Generator().manual_seed(s)).elbo.mean()).backward()
        opt.step()
    return value() - before


@pytest.mark.parametrize("inference", ["bottom_up", "top_down"])
def test_resnet_inside_a_hierarchical_vae(inference):
    torch.manual_seed(0)
    cfg = ModelConfig(arch="resnet", hidden=[32], channels_base=4, latent_dim=6, latent_layers=[4],
                      layer_hidden=[16], inference=inference)
    model = build_model(cfg, (1, 12, 12))
    x = (torch.rand(16, 1, 12, 12) < 0.3).float()
    t = elbo(model, x, generator=torch.Generator().manual_seed(0))
    assert [layer.z.shape[-1] for layer in model(x).latents] == [6, 4]
    assert torch.allclose(t.elbo, -(t.rate + t.distortion)) and torch.isfinite(t.elbo).all()
    assert steps_improve(model, x) > 5.0  # nats per image; measured 11.6 (bottom-up), 11.9 (top-down)


def test_resnet_conditional_vae_reads_the_label():
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="resnet", hidden=[32], channels_base=4, latent_dim=3, conditional=True,
                                    n_classes=3), (1, 12, 12))
    x, z = (torch.rand(9, 1, 12, 12) < 0.3).float(), torch.randn(9, 3)
    y0, y1 = torch.zeros(9, dtype=torch.long), torch.ones(9, dtype=torch.long)
    assert (model.decode(z, y0) - model.decode(z, y1)).abs().max() > 1e-4  # p(x|z, y) depends on y
    assert (model.encode(x, y0).mean - model.encode(x, y1).mean).abs().max() > 1e-4  # and q(z|x, y)
    with pytest.raises(ConfigError, match="class-conditional"):
        model.decode(z)
    assert steps_improve(model, x, torch.arange(9) % 3) > 5.0  # nats per image; measured 15.2


def test_resmlp_trains_on_flat_array_data(tmp_path):
    # Rows on a noisy 2-D linear manifold in 8-D (as in tests/training/test_data_kinds.py)
    g = np.random.default_rng(0)
    x = 50.0 + 10.0 * g.normal(size=(1500, 2)) @ g.normal(size=(2, 8)) + 0.3 * g.normal(size=(1500, 8))
    np.save(tmp_path / "rows.npy", x)
    cfg = Config(data=DataConfig(dataset="array", data_dir=str(tmp_path / "rows.npy")),
                 model=ModelConfig(arch="resmlp", hidden=[32, 32, 32], latent_dim=2, likelihood="gaussian",
                                   variance="per_dim"),
                 train=tiny_config(epochs=4).train)
    run = vaekit.train(cfg, out=tmp_path / "run")
    curve = val_curve(run)
    assert curve[-1] > curve[0] + 3.0  # nats per row; measured 6.0 (-11.7 -> -5.7)
    assert len(blocks_of(run.model.encoder)) == 2 and run.event_shape == (8,)


# --- configs that cannot work --------------------------------------------------------------------------------


def test_resmlp_with_unequal_hidden_sizes_is_a_config_error_naming_hidden():
    with pytest.raises(ConfigError, match="--hidden 64,32"):
        ModelConfig(arch="resmlp", hidden=[64, 32])
    with pytest.raises(ConfigError, match=r"c\.json: \[model\]: --model resmlp needs equal --hidden"):
        Config.from_dict({"model": {"arch": "resmlp", "hidden": [64, 32]}}, source="c.json")
    assert ModelConfig(arch="resmlp", hidden=[64, 64]).hidden == [64, 64]


def test_resnet_on_flat_data_and_zero_blocks_are_config_errors():
    with pytest.raises(ConfigError, match=r"--model resnet needs image data \(C, H, W\); this data has shape \(8,\)"):
        build_model(ModelConfig(arch="resnet"), (8,))
    with pytest.raises(ConfigError, match="res-blocks=0"):
        ModelConfig(arch="resnet", res_blocks=0)
