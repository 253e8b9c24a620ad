"""The encoder/decoder pairs of vaekit's generic networks, by `--model` name: each builder takes the model
config, the items' event shape and the likelihood's parameters per dimension, and returns (encoder,
decoder). The encoder maps items (and a conditional model's one-hot label) to 2 x latent_dim values; the
decoder maps z (and the label) to the likelihood's parameters."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from vaekit.config import ModelConfig
from vaekit.errors import ConfigError
from vaekit.nets.conv import ConvDecoder, ConvEncoder
from vaekit.nets.mlp import MLPDecoder, MLPEncoder
from vaekit.nets.resmlp import ResMLPDecoder, ResMLPEncoder
from vaekit.nets.resnet import ResNetDecoder, ResNetEncoder


def _mlp_nets(cfg: ModelConfig, shape: tuple[int, ...], p: int) -> tuple[nn.Module, nn.Module]:
    k = cfg.n_classes if cfg.conditional else 0  # one-hot label inputs of a conditional model
    enc = MLPEncoder(shape, cfg.hidden, 2 * cfg.latent_dim, cfg.activation, extra_in=k)
    dec = MLPDecoder(cfg.latent_dim + k, cfg.hidden, shape, cfg.activation, params_per_dim=p, dropout=cfg.dropout)
    return enc, dec


def _conv_nets(cfg: ModelConfig, shape: tuple[int, ...], p: int) -> tuple[nn.Module, nn.Module]:
    if len(shape) != 3:
        raise ConfigError(f"--model conv needs image data (C, H, W); this data has shape {shape}")
    k = cfg.n_classes if cfg.conditional else 0
    enc = ConvEncoder(shape, cfg.channels_base, cfg.hidden[0], 2 * cfg.latent_dim, cfg.activation, extra_in=k)
    dec = ConvDecoder(cfg.latent_dim + k, cfg.channels_base, cfg.hidden[0], shape, cfg.activation,
                      params_per_dim=p)
    return enc, dec


def _resnet_nets(cfg: ModelConfig, shape: tuple[int, ...], p: int) -> tuple[nn.Module, nn.Module]:
    if len(shape) != 3:
        raise ConfigError(f"--model resnet needs image data (C, H, W); this data has shape {shape}")
    k = cfg.n_classes if cfg.conditional else 0
    enc = ResNetEncoder(shape, cfg.channels_base, cfg.hidden[0], 2 * cfg.latent_dim, cfg.activation,
                        blocks=cfg.res_blocks, extra_in=k)
    dec = ResNetDecoder(cfg.latent_dim + k, cfg.channels_base, cfg.hidden[0], shape, cfg.activation,
                        params_per_dim=p, blocks=cfg.res_blocks)
    return enc, dec


def _resmlp_nets(cfg: ModelConfig, shape: tuple[int, ...], p: int) -> tuple[nn.Module, nn.Module]:
    # ModelConfig has checked that the hidden sizes are equal: one residual block per size after the first
    k = cfg.n_classes if cfg.conditional else 0
    width, blocks = cfg.hidden[0], len(cfg.hidden) - 1
    enc = ResMLPEncoder(shape, width, blocks, 2 * cfg.latent_dim, cfg.activation, extra_in=k)
    dec = ResMLPDecoder(cfg.latent_dim + k, width, blocks, shape, cfg.activation, params_per_dim=p)
    return enc, dec


NETWORKS: dict[str, Callable[[ModelConfig, tuple[int, ...], int], tuple[nn.Module, nn.Module]]] = {
    "mlp": _mlp_nets,
    "conv": _conv_nets,
    "resnet": _resnet_nets,
    "resmlp": _resmlp_nets,
}
