"""Distributions as objects with log_prob / sample / kl (likelihoods, posteriors, priors)."""

from vaekit.distributions.bernoulli import BernoulliLogits
from vaekit.distributions.gaussian import DiagonalGaussian, GaussianPixels, StandardNormal
from vaekit.distributions.likelihoods import BernoulliHead, GaussianHead

__all__ = ["BernoulliHead", "BernoulliLogits", "DiagonalGaussian", "GaussianHead", "GaussianPixels",
           "StandardNormal"]
