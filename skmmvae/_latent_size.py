"""``n_components="auto"``: the size of the latent space chosen from the data.

A fit with ``n_components="auto"`` fits one model for each size of ``AUTO_SIZES`` on the same
rows, with the same validation split and seed, scores each on the validation rows by the
cross-modal imputation error (every modality predicted from the others, as
:func:`skmmvae.metrics.cross_modal_imputation_error` does: the standardised squared error
of a numeric one, the normalised Brier score of a categorical one) and keeps the better one
(the smaller on a tie). The quality benchmark found no single size that imputes well on every
data set: 24 dimensions imputed 9% better than 12 on breast cancer, where a per-view ridge
is strong, and 11% worse on the nonlinear views with views missing in training; choosing by
held-out imputation picked the size with the lower test error on every split where the two
differed by more than a few percent (``docs/quality.rst``).

Where there is nothing to choose on, the first size is fitted alone: no validation rows
(``validation_fraction`` too small for the data), fewer than ``MIN_SELECTION_ROWS`` of them, a
single modality, or ``max_epochs=0``.
"""
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

from ._layout import from_single_cell
from ._net import validation_split

AUTO_SIZES = (12, 24)
MIN_SELECTION_ROWS = 10


def latent_size(estimator):
    """``n_components`` as an integer: ``"auto"`` is the fitted size, or before a fit (a first
    ``partial_fit``, a size estimate) the first of ``AUTO_SIZES``."""
    if isinstance(estimator.n_components, str):
        return int(estimator.__dict__.get("n_components_", AUTO_SIZES[0]))
    return int(estimator.n_components)


def fit_auto(estimator, X):
    """Fit ``estimator`` (``n_components="auto"``) by choosing among ``AUTO_SIZES``; returns
    it with the chosen model's fitted state and ``latent_selection_``."""
    X = from_single_cell(X, estimator.modalities)
    random_state = estimator.random_state
    if not isinstance(random_state, (int, np.integer)):
        # one seed for every candidate (the same split and initial draws); an integer
        # random_state is passed on as it is, so that the model of a size is the one
        # n_components=size gives
        random_state = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    fits = []
    for size in AUTO_SIZES:
        candidate = clone(estimator).set_params(n_components=size, random_state=random_state)
        unfitted = set(candidate.__dict__)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            candidate.fit(X)
        candidate._fitted_names = set(candidate.__dict__) - unfitted
        rows = _selection_rows(candidate)
        if rows is None:  # nothing to choose on: keep this one
            _adopt(estimator, candidate, caught)
            return estimator
        fits.append((candidate, caught, _validation_error(candidate, X, rows)))
    errors = [error for _, _, error in fits]
    best = min(range(len(fits)), key=lambda i: (not np.isfinite(errors[i]), errors[i]))
    _adopt(estimator, fits[best][0], fits[best][1])
    estimator.latent_selection_ = {"n_components": list(AUTO_SIZES), "validation_error": errors}
    return estimator


def _selection_rows(candidate):
    """The validation rows to choose on (an index array), or None where there are none to
    choose on (see the module's docstring)."""
    if candidate.max_epochs == 0 or len(candidate._schema.names) < 2:
        return None
    split = validation_split(candidate._n_fit_rows, candidate.validation_fraction, candidate._split_seed)
    if split is None or len(split[1]) < MIN_SELECTION_ROWS:
        return None
    return split[1].numpy()


def _validation_error(candidate, X, rows):
    """The cross-modal imputation error of ``candidate`` on the training rows ``rows``."""
    from .metrics._imputation import blocks_imputation_error, observed_modalities

    _, blocks = candidate._tensors(X)
    blocks = {name: block[rows] for name, block in blocks.items()}
    names = observed_modalities(candidate, blocks)
    return blocks_imputation_error(candidate, blocks, names) if names else np.nan


def _adopt(estimator, candidate, caught):
    """Give ``estimator`` the fitted state of ``candidate`` (what its fit set, not what
    scikit-learn keeps on an estimator, such as a pipeline's callback context) and issue
    the warnings its fit gave."""
    fitted = candidate.__dict__.pop("_fitted_names")
    for name in [n for n in estimator.__dict__ if n.endswith("_") and not n.startswith("_")]:
        if name not in fitted:  # a public fitted attribute of an earlier fit
            del estimator.__dict__[name]
    estimator.__dict__.update({name: candidate.__dict__[name] for name in fitted})
    for record in caught:  # at the caller of fit (through _adopt, fit_auto, fit, _fit_context)
        warnings.warn(record.message, record.category, stacklevel=5)
