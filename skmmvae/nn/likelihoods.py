"""Per-modality observation models ``p(x_s | z)``.

A likelihood owns whatever parameters are not produced by the decoder (a learnt per-feature
scale, say) and knows three things: how many numbers the decoder must output
(``n_params``), how to score data against those numbers (``log_prob``, summed over features),
and the mean used for imputation (``mean``). ``encoder_input`` maps stored data to what the
encoder network sees (one-hot for categorical labels).

Data layout: every modality arrives as a float tensor ``(B, n_features)``; a categorical
modality arrives as ``(B, 1)`` holding the class index.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from .distributions import positive_scale

_LOG_2PI = math.log(2.0 * math.pi)


class Likelihood(nn.Module):
    """Base class. ``support`` names the data domain checked by the estimator."""

    support = "real"

    def __init__(self, n_features):
        super().__init__()
        self.n_features = int(n_features)

    @property
    def n_params(self):
        return self.n_features

    @property
    def input_features(self):
        """Width of the encoder input for this modality."""
        return self.n_features

    def encoder_input(self, x):
        return x

    def log_prob(self, params, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def mean(self, params):  # pragma: no cover - abstract
        raise NotImplementedError


class _LocationScale(Likelihood):
    """Shared machinery of the Gaussian and Laplace likelihoods.

    ``scale="learned"`` learns one scale per feature (``min_scale + softplus(raw)``, initial
    value 1); a positive float fixes the scale.
    """

    def __init__(self, n_features, scale="learned", min_scale=1e-3):
        super().__init__(n_features)
        self.min_scale = float(min_scale)
        if scale == "learned":
            init = math.log(math.expm1(1.0 - self.min_scale))  # softplus^-1 so scale starts at 1
            self.raw_scale = nn.Parameter(torch.full((self.n_features,), init))
            self.register_buffer("fixed_scale", None)
        else:
            scale = float(scale)
            if not scale > 0:
                raise ValueError(f"a fixed scale must be positive, got {scale}")
            self.raw_scale = None
            self.register_buffer("fixed_scale", torch.full((self.n_features,), scale))

    @property
    def scale(self):
        if self.raw_scale is None:
            return self.fixed_scale
        return positive_scale(self.raw_scale, self.min_scale)

    def mean(self, params):
        return params


class Gaussian(_LocationScale):
    """Gaussian with decoder mean and a learnt (or fixed) per-feature standard deviation."""

    def log_prob(self, params, x):
        scale = self.scale
        return -0.5 * (((x - params) / scale) ** 2 + 2 * torch.log(scale) + _LOG_2PI).sum(-1)


class Laplace(_LocationScale):
    """Laplace with decoder location and a learnt (or fixed) per-feature scale."""

    def log_prob(self, params, x):
        scale = self.scale
        return (-(x - params).abs() / scale - torch.log(2 * scale)).sum(-1)


class Bernoulli(Likelihood):
    """Bernoulli on logits; data in [0, 1] (fractional values give the cross-entropy)."""

    support = "unit_interval"

    def log_prob(self, params, x):
        return -F.binary_cross_entropy_with_logits(
            params, x.expand_as(params), reduction="none"
        ).sum(-1)

    def mean(self, params):
        return torch.sigmoid(params)


class Poisson(Likelihood):
    """Poisson on the log-rate; data are non-negative counts."""

    support = "count"

    def log_prob(self, params, x):
        return (x * params - torch.exp(params) - torch.lgamma(x + 1)).sum(-1)

    def mean(self, params):
        return torch.exp(params)


class Categorical(Likelihood):
    """Categorical on logits over ``n_classes``; data are class indices stored as ``(B, 1)``."""

    support = "categorical"

    def __init__(self, n_features=1, n_classes=2):
        super().__init__(1)
        if int(n_classes) < 2:
            raise ValueError(f"a categorical modality needs at least 2 classes, got {n_classes}")
        self.n_classes = int(n_classes)

    @property
    def n_params(self):
        return self.n_classes

    @property
    def input_features(self):
        return self.n_classes

    def encoder_input(self, x):
        return F.one_hot(x[..., 0].long(), self.n_classes).to(x.dtype)

    def log_prob(self, params, x):
        index = x.long().expand(*params.shape[:-1], 1)
        return torch.log_softmax(params, -1).gather(-1, index).squeeze(-1)

    def mean(self, params):
        """Class probabilities (the estimator turns them into labels)."""
        return torch.softmax(params, -1)


LIKELIHOODS = {
    "gaussian": Gaussian,
    "laplace": Laplace,
    "bernoulli": Bernoulli,
    "categorical": Categorical,
    "poisson": Poisson,
}


def make_likelihood(name, n_features, **options):
    """Build a likelihood from its registry name, e.g. ``make_likelihood("gaussian", 10)``."""
    try:
        cls = LIKELIHOODS[name]
    except KeyError:
        raise ValueError(f"unknown likelihood {name!r}; choose from {sorted(LIKELIHOODS)}") from None
    return cls(n_features, **options)
