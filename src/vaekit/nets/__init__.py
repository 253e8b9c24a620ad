"""Encoder/decoder networks: tensor -> parameter tensors. No distributions, no loss."""

from vaekit.nets.conv import ConvDecoder, ConvEncoder
from vaekit.nets.mlp import MLPDecoder, MLPEncoder, mlp
from vaekit.nets.resmlp import ResMLPDecoder, ResMLPEncoder
from vaekit.nets.resnet import Residual, ResNetDecoder, ResNetEncoder

__all__ = ["ConvDecoder", "ConvEncoder", "MLPDecoder", "MLPEncoder", "ResMLPDecoder", "ResMLPEncoder", "ResNetDecoder",
           "ResNetEncoder", "Residual", "mlp"]
