"""Evaluation metrics of the paper.

* Identifiability: :func:`mean_corr_coef` (MCC) with Pearson, Spearman or the randomised
  dependence coefficient :func:`rdc`, and :func:`mcc_strong_weak`, the four MCC variants of
  the paper's identifiability experiments.
* Linear Gaussian models, in closed form: :func:`linear_gaussian_log_likelihood`, the
  probabilistic-PCA maximum-likelihood reference :func:`ppca_mle` /
  :func:`ppca_log_likelihood`, the exact posterior :func:`linear_gaussian_posterior` and
  :func:`kl_to_linear_gaussian_posterior`, the KL from a diagonal Gaussian encoder to it.
* Cross-modal generation: :func:`cross_modal_coherence`.
* Cross-modal imputation: :func:`cross_modal_imputation_error`, and its negative as a scorer
  for model selection, :func:`cross_modal_imputation_scorer`.

Linear Gaussian functions take the model ``z ~ N(0, I)``, ``x_s = W_s z + b_s + eps_s``,
``eps_s ~ N(0, noise_variance)``. Data may be a dict of modalities (in the order of ``W``
when ``W`` is a list) or a 2-D array; NaN entries are treated as unobserved and are
marginalised out exactly, one missingness pattern at a time.
"""
from ._coherence import cross_modal_coherence
from ._correlation import mcc_strong_weak, mean_corr_coef, rdc
from ._imputation import cross_modal_imputation_error, cross_modal_imputation_scorer
from ._linear_gaussian import (
    kl_to_linear_gaussian_posterior,
    linear_gaussian_log_likelihood,
    linear_gaussian_posterior,
    ppca_log_likelihood,
    ppca_mle,
)

__all__ = [
    "rdc",
    "mean_corr_coef",
    "mcc_strong_weak",
    "linear_gaussian_log_likelihood",
    "ppca_mle",
    "ppca_log_likelihood",
    "linear_gaussian_posterior",
    "kl_to_linear_gaussian_posterior",
    "cross_modal_coherence",
    "cross_modal_imputation_error",
    "cross_modal_imputation_scorer",
]
