"""Cross-modal imputation error of a fitted model, and a scorer for model selection."""
import numpy as np
from sklearn.utils.validation import check_is_fitted


def cross_modal_imputation_error(estimator, X, modalities=None, per_modality=False):
    """Standardised error of each modality predicted from the others, on the rows of ``X``.

    For each modality (numeric: every likelihood but the categorical ones), the rows of ``X``
    where it is observed are given to ``estimator.predict`` without it, and the prediction
    is compared with its observed cells: the mean over those cells of ``((predicted -
    observed) / sd)^2``, with ``sd`` the per-feature standard deviation of the modality's
    observed values in ``X`` (1 where that is 0). 1 is about what predicting each feature's
    mean gives, 0 is perfect. The result is the mean over the modalities. This is the quality
    benchmark's imputation error (scaled by ``X``'s spread rather than the training data's),
    so it ranks models by what they impute, where ``score`` ranks them by likelihood.

    Parameters
    ----------
    estimator : fitted MultiModalVAE or MultiModalImputer
    X : dict of array-like, ModalityDict, array-like or DataFrame
        Held-out rows, in the form the estimator was fitted on.
    modalities : list of str or None, default=None
        The modalities to predict (numeric ones); ``None``: every numeric modality observed
        in some row of ``X``.
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
    numeric = [info.name for info in schema.modalities if not info.is_categorical]
    if modalities is None:
        names = [n for n in numeric if n in blocks and not np.isnan(blocks[n]).all()]
    else:
        names = [modalities] if isinstance(modalities, str) else list(modalities)
        for name in names:
            if name not in schema.names:
                raise ValueError(f"unknown modality {name!r}; the model has {schema.names}")
            if name not in numeric:
                raise ValueError(
                    f"modality {name!r} is categorical: its imputation error is not a squared "
                    "error; score its labels with predict and an accuracy or predict_proba and a "
                    "log-loss")
            if name not in blocks or np.isnan(blocks[name]).all():
                raise ValueError(f"modality {name!r} is not observed in any row of X")
    if not names:
        raise ValueError("X has no numeric modality observed in any row: nothing to impute")
    return blocks_imputation_error(estimator, blocks, names, per_modality)


def blocks_imputation_error(estimator, blocks, names, per_modality=False):
    """:func:`cross_modal_imputation_error` of the modalities ``names`` on validated
    ``blocks`` (``{modality: 2-D array}`` in the user's units, as ``estimator._tensors``
    gives them), each observed in some row and numeric."""
    errors = {}
    for name in names:
        target = np.asarray(blocks[name], dtype=np.float64)
        rows = ~np.isnan(target).all(axis=1)
        given = {k: v[rows] for k, v in blocks.items() if k != name}
        predicted = np.asarray(estimator.predict(given)[name], dtype=np.float64)
        truth = target[rows]
        observed = ~np.isnan(truth)
        with np.errstate(invalid="ignore"):
            sd = np.nanstd(truth, axis=0)
        sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
        errors[name] = float(np.mean((((predicted - truth) / sd) ** 2)[observed]))
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
