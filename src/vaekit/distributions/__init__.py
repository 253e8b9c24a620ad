"""Distributions as objects with log_prob / sample / kl (likelihoods, posteriors, priors)."""

from vaekit.distributions.autoregressive import AutoregressiveBernoulli, AutoregressiveBernoulliHead
from vaekit.distributions.bernoulli import BernoulliLogits
from vaekit.distributions.gaussian import DiagonalGaussian, GaussianPixels, StandardNormal
from vaekit.distributions.likelihoods import BernoulliHead, GaussianHead
from vaekit.distributions.logistic import (
    DiscretizedLogistic,
    DiscretizedLogisticHead,
    DiscretizedLogisticMixture,
    LogisticMixtureHead,
)
from vaekit.distributions.priors import MixtureOfGaussiansPrior, VampPrior

__all__ = ["AutoregressiveBernoulli", "AutoregressiveBernoulliHead", "BernoulliHead", "BernoulliLogits",
           "DiagonalGaussian", "DiscretizedLogistic", "DiscretizedLogisticHead", "DiscretizedLogisticMixture",
           "GaussianHead", "GaussianPixels", "LogisticMixtureHead", "MixtureOfGaussiansPrior", "StandardNormal",
           "VampPrior"]
