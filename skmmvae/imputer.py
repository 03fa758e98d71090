"""``MultiModalImputer``: the multi-modal VAE with imputer semantics."""
import functools

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._inference import positive_count
from .estimator import MultiModalVAE


class MultiModalImputer(MultiModalVAE):
    """Impute missing values with a multi-modal VAE; ``transform`` fills them in.

    The same model and parameters as :class:`MultiModalVAE`; ``transform`` differs: it
    returns the input with every missing value filled in from the observed ones (a row of NaN
    in a block is a missing modality, any other NaN a missing cell), so the estimator drops
    into a ``Pipeline`` where ``sklearn.impute.IterativeImputer`` would stand. Observed values
    pass through unchanged (bit-identical). With ``modalities=None`` a 2-D array is one
    modality: a VAE imputer of scattered missing values, whose encoder sees which cells are
    observed (as MIWAE's does).

    Parameters
    ----------
    sample_posterior : bool, default=False
        Fill each missing value with a draw from the model's conditional distribution
        (``z ~ q(z | x_observed)``, then ``x ~ p(x | z)``) instead of its mean, as
        ``IterativeImputer(sample_posterior=True)`` does: for multiple imputation, fit one
        imputer per ``random_state``. The draws are seeded by ``random_state`` (the same
        ``X`` gets the same draws from a fitted imputer).
    **other parameters
        See :class:`MultiModalVAE` (every parameter of it, with the same default).

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

    Scattered missing cells and multiple imputation by posterior draws:

    >>> X[rng.random(X.shape) < 0.1] = np.nan     # 10% of the cells missing anywhere
    >>> draws = [MultiModalImputer(modalities=[3, 3], n_components=2, max_epochs=5,
    ...                            sample_posterior=True, random_state=seed).fit_transform(X)
    ...          for seed in range(3)]
    >>> observed = ~np.isnan(X)
    >>> all(np.array_equal(d[observed], X[observed]) for d in draws)
    True
    """

    _parameter_constraints = {**MultiModalVAE._parameter_constraints, "sample_posterior": ["boolean"]}

    def __init__(
        self,
        modalities=None,
        likelihoods=None,
        standardize=True,
        n_components="auto",
        aggregation="auto",
        objective="tight",
        beta=0.5,
        kl_warmup="auto",
        n_prior_components=1,
        n_private_components=0,
        hidden_layer_sizes="auto",
        embedding_size="auto",
        activation="relu",
        weight_init="lecun",
        max_epochs=100,
        batch_size="auto",
        lr=3e-3,
        validation_fraction=0.1,
        early_stopping="auto",
        n_iter_no_change=20,
        n_importance_samples=64,
        device="auto",
        random_state=None,
        verbose=0,
        callbacks=None,
        encoders=None,
        decoders=None,
        n_jobs=None,
        autocast=None,
        compile=False,
        accelerator=None,
        aggregator_options=None,
        sample_posterior=False,
        lr_schedule="cosine",
        decoder_skip="auto",
        encoder_skip="auto",
        weight_decay="auto",
    ):
        super().__init__(
            modalities=modalities,
            likelihoods=likelihoods,
            standardize=standardize,
            n_components=n_components,
            aggregation=aggregation,
            objective=objective,
            beta=beta,
            kl_warmup=kl_warmup,
            n_prior_components=n_prior_components,
            n_private_components=n_private_components,
            hidden_layer_sizes=hidden_layer_sizes,
            embedding_size=embedding_size,
            activation=activation,
            weight_init=weight_init,
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            validation_fraction=validation_fraction,
            early_stopping=early_stopping,
            n_iter_no_change=n_iter_no_change,
            n_importance_samples=n_importance_samples,
            device=device,
            random_state=random_state,
            verbose=verbose,
            callbacks=callbacks,
            encoders=encoders,
            decoders=decoders,
            n_jobs=n_jobs,
            autocast=autocast,
            compile=compile,
            accelerator=accelerator,
            aggregator_options=aggregator_options,
            lr_schedule=lr_schedule,
            decoder_skip=decoder_skip,
            encoder_skip=encoder_skip,
            weight_decay=weight_decay,
        )
        self.sample_posterior = sample_posterior


    def transform(self, X):
        """Fill in the missing values of ``X`` (means, or draws with ``sample_posterior``).

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame

        Returns
        -------
        X_imputed : same container type as ``X``
        """
        check_is_fitted(self, "module_")
        return self._impute(X, draw=self.sample_posterior)

    def multiple_imputations(self, X, n_imputations=5, random_state=None):
        """``n_imputations`` completed copies of ``X``, each filled with its own draws from
        the fitted model's conditional distribution: multiple imputation from one fit.

        Each copy is what ``transform`` gives with ``sample_posterior=True`` under another
        seed: every missing value a draw ``x ~ p(x | z)`` with ``z ~ q(z | x_observed)``, the
        observed values unchanged (bit-identical). One fit instead of one per imputation
        (``IterativeImputer`` needs a fit per ``random_state``), whatever
        ``sample_posterior`` is. The copies vary by what the fitted model leaves uncertain
        (the latent variables and the likelihood's noise), not by the uncertainty of its
        weights: where the fit itself varies (small data), imputations from separately
        fitted imputers (``random_state`` 0, 1, ...) spread more, and Rubin's rules on these
        copies give narrower intervals than on those.

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame
            As for :meth:`transform`.
        n_imputations : int, default=5
            Number of completed copies.
        random_state : int, RandomState instance or None, default=None
            Seed of the draws; ``None`` uses the seed fixed at fit (repeated calls agree).

        Returns
        -------
        imputations : list of length ``n_imputations``
            Completed copies of ``X``, each of the container type ``transform`` returns.

        Examples
        --------
        >>> import numpy as np
        >>> from skmmvae import MultiModalImputer
        >>> rng = np.random.default_rng(0)
        >>> z = rng.normal(size=(100, 2))
        >>> X = np.hstack([z @ rng.normal(size=(2, 3)), z @ rng.normal(size=(2, 3))])
        >>> X[rng.random(X.shape) < 0.1] = np.nan
        >>> imp = MultiModalImputer(modalities=[3, 3], n_components=2, max_epochs=5,
        ...                         random_state=0).fit(X)
        >>> copies = imp.multiple_imputations(X, n_imputations=3)
        >>> len(copies), copies[0].shape, any(np.isnan(c).any() for c in copies)
        (3, (100, 6), False)
        >>> spread = np.ptp(copies, axis=0)   # per-cell range over the copies
        >>> bool((spread[~np.isnan(X)] == 0).all() and (spread[np.isnan(X)] > 0).all())
        True
        """
        check_is_fitted(self, "module_")
        n_imputations = positive_count("n_imputations", n_imputations)
        rng = check_random_state(self._seed if random_state is None else random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=n_imputations)
        return [self._impute(X, draw=True, seed=int(seed)) for seed in seeds]

    def encode_samples(self, X, n_samples=1, modalities=None, random_state=None):
        """Latent draws, as :meth:`MultiModalVAE.sample_posterior` (that name is the
        imputer's parameter here).

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame
        n_samples : int, default=1
        modalities : str, list of str or None, default=None
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        Z : ndarray of shape (n_samples, n_rows, n_components)

        Examples
        --------
        >>> import numpy as np
        >>> from skmmvae import MultiModalImputer
        >>> X = np.random.default_rng(0).normal(size=(60, 4))
        >>> imp = MultiModalImputer(n_components=2, max_epochs=2, random_state=0).fit(X)
        >>> imp.encode_samples(X, n_samples=5).shape
        (5, 60, 2)
        """
        return MultiModalVAE.sample_posterior(self, X, n_samples, modalities, random_state)

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
        return self._schema.feature_names_out()


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
