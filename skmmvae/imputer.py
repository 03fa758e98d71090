"""``MultiModalImputer``: the multi-modal VAE with imputer semantics."""
import functools

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .estimator import MultiModalVAE


class MultiModalImputer(MultiModalVAE):
    """Impute missing modalities with a multi-modal VAE; ``transform`` fills them in.

    The same model and parameters as :class:`MultiModalVAE`; only ``transform`` differs: it
    returns the input with every missing modality block (a row of NaN in that block) filled in
    from the observed ones, so the estimator drops into a ``Pipeline`` where
    ``sklearn.impute.IterativeImputer`` would stand. Observed values pass through unchanged.

    Parameters
    ----------
    See :class:`MultiModalVAE`.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae import MultiModalImputer
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(100, 2))
    >>> X = np.hstack([z @ rng.normal(size=(2, 3)), z @ rng.normal(size=(2, 3))])
    >>> X[:20, 3:] = np.nan                      # second modality missing in 20 rows
    >>> imp = MultiModalImputer(modalities=[3, 3], n_components=2, max_epochs=5, random_state=0)
    >>> np.isnan(imp.fit_transform(X)).any()
    np.False_
    """

    def transform(self, X):
        """Fill in the missing modalities of ``X``.

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame

        Returns
        -------
        X_imputed : same container type as ``X``
        """
        return self.predict(X)

    def encode(self, X, modalities=None):
        """Latent means, as :meth:`MultiModalVAE.transform`."""
        return MultiModalVAE.transform(self, X, modalities=modalities)

    def inverse_transform(self, X):
        """Imputation cannot be undone; ``X`` is returned as is.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        X : array-like
        """
        return X

    def get_feature_names_out(self, input_features=None):
        """Input feature names (the imputer keeps the columns).

        Parameters
        ----------
        input_features : array-like of str or None

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self, "module_")
        names = [f for info in self._schema.modalities for f in info.feature_names]
        if self._schema.input_kind != "dict":
            order = np.argsort([c for info in self._schema.modalities for c in info.columns])
            names = [names[i] for i in order]
        return np.asarray(names, dtype=object)


def _dicts_pass_through(wrapped):
    """Undo ``set_output`` wrapping for dict input: a dict of modalities is no table.

    scikit-learn wraps ``transform`` and ``fit_transform`` so that ``set_output`` (or
    ``set_config(transform_output="pandas")``) turns their result into a DataFrame; the imputer
    returns the container it was given, and a dict of blocks is returned as it is.
    """
    original = getattr(wrapped, "__wrapped__", wrapped)

    @functools.wraps(original)
    def method(self, X, *args, **kwargs):
        if isinstance(X, dict):
            return original(self, X, *args, **kwargs)
        return wrapped(self, X, *args, **kwargs)

    return method


MultiModalImputer.transform = _dicts_pass_through(MultiModalImputer.transform)
MultiModalImputer.fit_transform = _dicts_pass_through(TransformerMixin.fit_transform)
