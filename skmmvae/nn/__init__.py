"""Pure-PyTorch core of skmmvae: no numpy, no scikit-learn.

``MultiModalModule`` is the model; ``objective_terms`` (or an objective of ``OBJECTIVES``)
trains it, ``iw_log_likelihood`` and ``iw_conditional_log_likelihood`` score it,
``encoder_class_probabilities`` (``predict_proba``'s estimate) and
``iw_class_probabilities`` (the importance-weighted one) predict labels; the registries ``AGGREGATORS``, ``LIKELIHOODS``
and ``OBJECTIVES`` list what can be selected by name.
"""
from .aggregators import AGGREGATORS, make_aggregator
from .distributions import DiagGaussian, GaussianMixture, PrecisionGaussian
from .likelihoods import LIKELIHOODS, make_likelihood
from . import counts  # noqa: E402,F401 - adds "negative_binomial" and "zinb" to LIKELIHOODS
from .model import MultiModalModule
from .objectives import (
    OBJECTIVES,
    Elbo,
    MixtureBound,
    Objective,
    TightBound,
    encoder_class_probabilities,
    iw_class_probabilities,
    iw_conditional_means,
    iw_conditional_log_likelihood,
    iw_log_likelihood,
    make_objective,
    objective_terms,
    sample_subsets,
)
from .priors import GaussianMixturePrior, StandardNormalPrior, make_prior

__all__ = [
    "AGGREGATORS",
    "LIKELIHOODS",
    "OBJECTIVES",
    "DiagGaussian",
    "Elbo",
    "GaussianMixture",
    "GaussianMixturePrior",
    "MixtureBound",
    "MultiModalModule",
    "Objective",
    "PrecisionGaussian",
    "StandardNormalPrior",
    "TightBound",
    "encoder_class_probabilities",
    "iw_class_probabilities",
    "iw_conditional_means",
    "iw_conditional_log_likelihood",
    "iw_log_likelihood",
    "make_aggregator",
    "make_likelihood",
    "make_objective",
    "make_prior",
    "objective_terms",
    "sample_subsets",
]
