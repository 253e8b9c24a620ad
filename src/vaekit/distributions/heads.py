"""The likelihood heads p(x|z) by `--likelihood` name: each builder takes the model config and the items'
event shape and returns the head module (`likelihoods`, `logistic`, `autoregressive`)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from vaekit.config import ModelConfig
from vaekit.distributions.autoregressive import AutoregressiveBernoulliHead
from vaekit.distributions.likelihoods import BernoulliHead, GaussianHead
from vaekit.distributions.logistic import DiscretizedLogisticHead, LogisticMixtureHead

LIKELIHOODS: dict[str, Callable[[ModelConfig, tuple[int, ...]], nn.Module]] = {
    "bernoulli": lambda cfg, shape: BernoulliHead(shape),
    "bernoulli_ar": lambda cfg, shape: AutoregressiveBernoulliHead(shape, cfg.ar_context),
    "gaussian": lambda cfg, shape: GaussianHead(shape, cfg.variance, cfg.sigma, cfg.min_log_scale),
    "logistic": lambda cfg, shape: DiscretizedLogisticHead(shape, cfg.min_log_scale),
    "logistic_mixture": lambda cfg, shape: LogisticMixtureHead(shape, cfg.n_mix, cfg.min_log_scale),
}
