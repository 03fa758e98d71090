"""Cross-modal imputation error of a fitted model, and a scorer for model selection."""
import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted


def cross_modal_imputation_error(estimator, X, modalities=None, per_modality=False):
    """Error of each modality predicted from the others, on the rows of ``X``.

    For each modality, the rows of ``X`` where it is observed are given to the estimator
    without it, and the prediction is compared with what was observed, on a scale where 1 is
    about what predicting the modality's marginal gives and 0 is perfect:

    * a numeric modality (every likelihood but the categorical one): ``predict``, and the
      mean over the observed cells of ``((predicted - observed) / sd)^2``, with ``sd`` the
      per-feature standard deviation of the modality's observed values in ``X`` (1 where
      that is 0);
    * a categorical modality: ``predict_proba``, and its Brier score (the mean over the
      rows of the squared distance between the class probabilities and the one-hot
      observed class) divided by that of predicting the class frequencies of ``X``, ``1 -
      sum_k f_k^2`` (1 where that is 0).

    The result is the mean over the modalities. For the numeric ones this is the quality
    benchmark's imputation error (scaled by ``X``'s spread rather than the training
    data's), so it ranks models by what they impute, where ``score`` ranks them by
    likelihood; ``n_components="auto"`` chooses the latent size by it.

    Parameters
    ----------
    estimator : fitted MultiModalVAE or MultiModalImputer
    X : dict of array-like, ModalityDict, array-like or DataFrame
        Held-out rows, in the form the estimator was fitted on.
    modalities : list of str or None, default=None
        The modalities to predict; ``None``: every modality observed in some row of ``X``.
    per_modality : bool, default=False
        Return ``{modality: error}`` instead of their mean.

    Returns
    -------
    error : float or dict of float

    See Also
    --------
    cross_modal_imputation_scorer : its negative, as a scorer for ``GridSearchCV``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae import MultiModalVAE
    >>> from skmmvae.metrics import cross_modal_imputation_error
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(300, 2))
    >>> X = {"a": z @ rng.normal(size=(2, 4)), "b": z @ rng.normal(size=(2, 3))}
    >>> vae = MultiModalVAE(n_components=2, max_epochs=30, random_state=0).fit(X)
    >>> errors = cross_modal_imputation_error(vae, X, per_modality=True)
    >>> sorted(errors), all(0 <= e < 1 for e in errors.values())
    (['a', 'b'], True)
    """
    check_is_fitted(estimator, "module_")
    _, blocks = estimator._tensors(X)  # validated blocks in the user's units, any container
    schema = estimator._schema
    observed = observed_modalities(estimator, blocks)
    if modalities is None:
        names = observed
    else:
        names = [modalities] if isinstance(modalities, str) else list(modalities)
        for name in names:
            if name not in schema.names:
                raise ValueError(f"unknown modality {name!r}; the model has {schema.names}")
            if name not in observed:
                raise ValueError(f"modality {name!r} is not observed in any row of X")
    if not names:
        raise ValueError("X has no modality observed in any row: nothing to impute")
    return blocks_imputation_error(estimator, blocks, names, per_modality)


def observed_modalities(estimator, blocks):
    """The modalities of the model observed in some row of ``blocks``, in model order."""
    schema = estimator._schema
    seen = schema.tensors(blocks).mask.any(0).tolist()
    return [name for name, any_row in zip(schema.names, seen) if any_row]


def blocks_imputation_error(estimator, blocks, names, per_modality=False):
    """:func:`cross_modal_imputation_error` of the modalities ``names`` on validated
    ``blocks`` (``{modality: 2-D array}`` in the user's units, as ``estimator._tensors``
    gives them), each observed in some row."""
    schema = estimator._schema
    infos = dict(zip(schema.names, schema.modalities))
    tensors = schema.tensors(blocks)  # observed rows, and class codes of categorical modalities
    errors = {}
    for name in names:
        s = schema.names.index(name)
        rows = tensors.mask[:, s].numpy()
        given = {k: v[rows] for k, v in blocks.items() if k != name}
        if infos[name].is_categorical:
            codes = tensors.xs[s][rows, 0].numpy().astype(np.int64)
            proba = np.asarray(estimator.predict_proba(given, modality=name), dtype=np.float64)
            truth = np.eye(proba.shape[1])[codes]
            marginal = 1.0 - np.sum(truth.mean(0) ** 2)
            brier = np.mean(np.sum((proba - truth) ** 2, axis=1))
            errors[name] = float(brier / (marginal if marginal > 0 else 1.0))
            continue
        target = np.asarray(blocks[name], dtype=np.float64)
        predicted = np.asarray(estimator.predict(given)[name], dtype=np.float64)
        truth = target[rows]
        cells = ~np.isnan(truth)
        with warnings.catch_warnings():  # a feature missing in every row: no spread (sd 1)
            warnings.simplefilter("ignore", RuntimeWarning)
            sd = np.nanstd(truth, axis=0)
        sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
        errors[name] = float(np.mean((((predicted - truth) / sd) ** 2)[cells]))
    return errors if per_modality else float(np.mean(list(errors.values())))


def cross_modal_imputation_scorer(estimator, X, y=None):
    """Minus :func:`cross_modal_imputation_error` (greater is better): a scorer for
    ``GridSearchCV(..., scoring=cross_modal_imputation_scorer)``.

    Parameters
    ----------
    estimator : fitted MultiModalVAE or MultiModalImputer
    X : dict of array-like, ModalityDict, array-like or DataFrame
        The held-out rows of a cross-validation split.
    y : None
        Ignored.

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV, ShuffleSplit
    >>> from skmmvae import ModalityDict, MultiModalVAE
    >>> from skmmvae.metrics import cross_modal_imputation_scorer
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(200, 2))
    >>> X = ModalityDict({"a": z @ rng.normal(size=(2, 4)), "b": z @ rng.normal(size=(2, 3))})
    >>> search = GridSearchCV(MultiModalVAE(max_epochs=5, random_state=0),
    ...                       {"n_components": [1, 2]}, scoring=cross_modal_imputation_scorer,
    ...                       cv=ShuffleSplit(n_splits=1, test_size=0.25, random_state=0))
    >>> search.fit(X).best_params_["n_components"] in (1, 2)
    True
    """
    return -cross_modal_imputation_error(estimator, X)
