"""Linear Gaussian models in closed form: log-likelihoods, PPCA, exact posteriors.

See :mod:`skmmvae.metrics`.
"""
import numbers

import numpy as np
from scipy import linalg

from ._correlation import as_2d

_LOG_2PI = np.log(2.0 * np.pi)


def _stack_data(X, names=None):
    """Concatenate a dict of modalities (in ``names`` order, default its key order) or
    check a 2-D array.

    Returns the float64 data, the width of each block and the block names (None for an
    array).
    """
    if hasattr(X, "keys"):
        names = list(X) if names is None else list(names)
        absent = [name for name in names if name not in X]
        if absent:
            raise ValueError(f"X lacks the modalities {absent}.")
        blocks = [np.asarray(X[name], dtype=np.float64) for name in names]
        for name, block in zip(names, blocks):
            if block.ndim != 2 or block.shape[0] != blocks[0].shape[0]:
                raise ValueError(f"Modality {name!r} must be 2-D with {blocks[0].shape[0]} "
                                 f"rows, got shape {block.shape}.")
        return np.hstack(blocks), [b.shape[1] for b in blocks], names
    x = np.asarray(X, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"X must be a dict of modalities or a 2-D array, got shape {x.shape}.")
    return x, [x.shape[1]], None


def _loading_blocks(W):
    """The loading matrix as a list of 2-D blocks, and the modality names of a dict ``W``."""
    if hasattr(W, "keys"):
        names, blocks = list(W), [W[name] for name in W]
    elif isinstance(W, (list, tuple)):
        names, blocks = None, list(W)
    else:
        names, blocks = None, [W]
    blocks = [np.asarray(w, dtype=np.float64) for w in blocks]
    if not blocks or any(w.ndim != 2 for w in blocks) or len({w.shape[1] for w in blocks}) != 1:
        raise ValueError("W must be a 2-D loading matrix or a list/dict of 2-D matrices with "
                         "the same number of columns (the latent dimension).")
    return blocks, names


def _linear_model(X, W, b, noise_variance):
    """Bring data and parameters into stacked form.

    Returns ``x (n, D)`` with NaN for unobserved entries, ``W (D, d)``, ``b (D,)``, the
    noise variances ``(D,)``, the column slices of the modalities and their names (None
    when unnamed).
    """
    blocks, names = _loading_blocks(W)
    x, widths, data_names = _stack_data(X, names)
    if len(blocks) > 1:
        block_widths = [w.shape[0] for w in blocks]
        if hasattr(X, "keys") and widths != block_widths:
            raise ValueError(f"Modality widths of X {widths} differ from those of W "
                             f"{block_widths}; a dict X is read in the order of W.")
        widths = block_widths
    W = np.vstack(blocks)
    if x.shape[1] != W.shape[0]:
        raise ValueError(f"X has {x.shape[1]} features in total but W has {W.shape[0]} rows.")
    if np.isinf(x).any():
        raise ValueError("X contains infinite values (use NaN for unobserved entries).")
    b = _stack_vector("b", b, names, W.shape[0])
    noise = np.asarray(noise_variance, dtype=np.float64)
    if noise.ndim > 1 or noise.size not in (1, W.shape[0]):
        raise ValueError(f"noise_variance must be a scalar or have {W.shape[0]} entries, "
                         f"got shape {noise.shape}.")
    noise = np.broadcast_to(noise.ravel(), (W.shape[0],))
    if not np.all(noise > 0):
        raise ValueError("noise_variance must be positive.")
    edges = np.cumsum([0] + list(widths))
    slices = [slice(lo, hi) for lo, hi in zip(edges[:-1], edges[1:])]
    return x, W, b, noise, slices, names or data_names


def _stack_vector(name, v, names, size):
    if hasattr(v, "keys"):
        v = [v[key] for key in (names or list(v))]
    if isinstance(v, (list, tuple)):
        v = np.concatenate([np.ravel(np.asarray(part, dtype=np.float64)) for part in v])
    v = np.asarray(v, dtype=np.float64).ravel()
    if v.shape != (size,):
        raise ValueError(f"{name} must have {size} entries in total, got {v.size}.")
    return v


def _restrict(x, slices, modalities, names):
    """Mark the modalities outside ``modalities`` as unobserved (a copy of x)."""
    if modalities is None:
        return x
    if isinstance(modalities, (str, numbers.Integral)):
        modalities = [modalities]
    keep = np.zeros(x.shape[1], dtype=bool)
    for m in modalities:
        if isinstance(m, str):
            if names is None:
                raise ValueError(f"Modality {m!r} given by name, but the modalities are "
                                 "unnamed (pass X or W as a dict, or use indices).")
            if m not in names:
                raise ValueError(f"Unknown modality {m!r}; known: {names}.")
            m = names.index(m)
        if isinstance(m, bool) or not isinstance(m, numbers.Integral):
            raise TypeError(f"modalities must be indices or names, got {m!r}.")
        if not 0 <= m < len(slices):
            raise ValueError(f"Modality index {m} out of range for {len(slices)} modalities.")
        keep[slices[m]] = True
    x = x.copy()
    x[:, ~keep] = np.nan
    return x


def _patterns(x):
    """Group rows by their set of observed columns: yields ``(rows, observed_columns)``."""
    observed = ~np.isnan(x)
    unique, inverse = np.unique(observed, axis=0, return_inverse=True)
    inverse = np.ravel(inverse)
    for p, mask in enumerate(unique):
        yield np.flatnonzero(inverse == p), np.flatnonzero(mask)


# --------------------------------------------------------------------------------------------
# linear Gaussian models: likelihood
# --------------------------------------------------------------------------------------------
def _gaussian_logpdf(residual, cov):
    """Row-wise log N(residual; 0, cov) through a Cholesky factor."""
    chol = linalg.cholesky(cov, lower=True)
    white = linalg.solve_triangular(chol, residual.T, lower=True)
    log_det = 2.0 * np.sum(np.log(np.diag(chol)))
    return -0.5 * (cov.shape[0] * _LOG_2PI + log_det + np.sum(white**2, axis=0))


def linear_gaussian_log_likelihood(X, W, b, noise_variance, prior_cov=None):
    """Exact per-sample log-likelihood ``log p(x_obs)`` of a linear Gaussian model.

    Under ``z ~ N(0, P)`` and ``x = W z + b + eps``, ``eps ~ N(0, diag(noise_variance))``,
    the data are ``N(b, W P W^T + diag(noise_variance))``. NaN entries (e.g. a missing
    modality's NaN row) are marginalised out: each sample is scored on its observed
    coordinates only, one missingness pattern at a time. A sample with nothing observed
    gets 0.

    Parameters
    ----------
    X : dict of str to array-like, or array-like of shape (n_samples, D)
        The data. A dict is concatenated in the order of the keys of ``W`` when ``W`` is a
        dict, otherwise in its own key order (which must match a list ``W``).
    W : array-like of shape (D, d), or list/dict of (d_s, d) arrays
        Loading matrix, stacked or per modality.
    b : array-like of shape (D,), or list/dict of (d_s,) arrays
        Offsets.
    noise_variance : float or array-like of shape (D,)
        Observation noise variance(s), positive.
    prior_cov : array-like of shape (d, d), default=None
        Covariance ``P`` of the latent prior; identity when None.

    Returns
    -------
    ndarray of shape (n_samples,)
        Per-sample log-likelihoods.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import multivariate_normal
    >>> from skmmvae.metrics import linear_gaussian_log_likelihood
    >>> rng = np.random.RandomState(0)
    >>> W, b, x = rng.randn(4, 2), rng.randn(4), rng.randn(3, 4)
    >>> ll = linear_gaussian_log_likelihood(x, W, b, noise_variance=0.5)
    >>> np.allclose(ll, multivariate_normal(b, W @ W.T + 0.5 * np.eye(4)).logpdf(x))
    True
    """
    x, W, b, noise, _, _ = _linear_model(X, W, b, noise_variance)
    prior_cov = np.eye(W.shape[1]) if prior_cov is None else np.asarray(prior_cov, float)
    if prior_cov.shape != (W.shape[1], W.shape[1]):
        raise ValueError(f"prior_cov must have shape {(W.shape[1],) * 2}, "
                         f"got {prior_cov.shape}.")
    log_lik = np.zeros(x.shape[0])
    for rows, obs in _patterns(x):
        if obs.size == 0:
            continue
        w_obs = W[obs]
        cov = w_obs @ prior_cov @ w_obs.T + np.diag(noise[obs])
        log_lik[rows] = _gaussian_logpdf(x[np.ix_(rows, obs)] - b[obs], cov)
    return log_lik


def ppca_mle(X, n_components):
    """Closed-form maximum-likelihood probabilistic PCA (Tipping and Bishop, 1999).

    With the sample covariance ``S`` (1/n normalisation) and its eigendecomposition
    ``S = U diag(lambda) U^T`` (eigenvalues descending)::

        b = mean(X),  noise_variance = mean(lambda[n_components:]),
        W = U[:, :n_components] sqrt(lambda[:n_components] - noise_variance)

    It is the best achievable linear Gaussian model with ``n_components`` latent dimensions
    and isotropic noise; the paper uses its log-likelihood as the reference.

    Parameters
    ----------
    X : dict of str to array-like, or array-like of shape (n_samples, D)
        Fully observed data; a dict is concatenated in key order.
    n_components : int
        Latent dimension, ``1 <= n_components < D``.

    Returns
    -------
    dict
        ``"W"`` (ndarray (D, n_components)), ``"b"`` (ndarray (D,)) and
        ``"noise_variance"`` (float).

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae.metrics import ppca_mle
    >>> x = np.random.RandomState(0).randn(200, 5)
    >>> params = ppca_mle(x, n_components=2)
    >>> params["W"].shape, params["b"].shape
    ((5, 2), (5,))
    """
    x, _, _ = _stack_data(X)
    if not np.all(np.isfinite(x)):
        raise ValueError("ppca_mle needs fully observed data without NaN or infinite values.")
    n, dim = x.shape
    if isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral):
        raise TypeError(f"n_components must be an integer, got {type(n_components).__name__}.")
    if not 1 <= n_components < dim:
        raise ValueError(f"n_components must be in [1, {dim - 1}] for {dim} features, "
                         f"got {n_components}.")
    if n < 2:
        raise ValueError("ppca_mle needs at least 2 samples.")
    mean = x.mean(axis=0)
    centred = x - mean
    eigvals, eigvecs = linalg.eigh(centred.T @ centred / n)
    eigvals, eigvecs = eigvals[::-1], eigvecs[:, ::-1]
    noise_variance = float(np.mean(eigvals[n_components:]))
    scale = np.sqrt(np.maximum(eigvals[:n_components] - noise_variance, 0.0))
    return {"W": eigvecs[:, :n_components] * scale, "b": mean,
            "noise_variance": noise_variance}


def ppca_log_likelihood(X, n_components):
    """Per-sample log-likelihood of the data under its own PPCA maximum-likelihood fit.

    Equivalent to ``linear_gaussian_log_likelihood(X, **ppca_mle(X, n_components))``.

    Parameters
    ----------
    X : dict of str to array-like, or array-like of shape (n_samples, D)
        Fully observed data; a dict is concatenated in key order.
    n_components : int
        Latent dimension, ``1 <= n_components < D``.

    Returns
    -------
    ndarray of shape (n_samples,)
        Per-sample log-likelihoods; their sum is the maximal log-likelihood.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae.metrics import ppca_log_likelihood
    >>> x = np.random.RandomState(0).randn(200, 5)
    >>> ppca_log_likelihood(x, n_components=2).shape
    (200,)
    """
    x, _, _ = _stack_data(X)
    return linear_gaussian_log_likelihood(x, **ppca_mle(x, n_components))


# --------------------------------------------------------------------------------------------
# linear Gaussian models: posterior
# --------------------------------------------------------------------------------------------
def _conditioning_data(X, W, b, noise_variance, modalities):
    """Stacked model whose data has every coordinate outside ``modalities`` set to NaN."""
    x, W, b, noise, slices, names = _linear_model(X, W, b, noise_variance)
    return _restrict(x, slices, modalities, names), W, b, noise


def _posterior_patterns(x, W, b, noise):
    """Exact posterior p(z | x_obs) under z ~ N(0, I), one missingness pattern at a time.

    Yields ``(rows, precision, lower Cholesky factor of the precision, means of the rows)``.
    """
    for rows, obs in _patterns(x):
        scaled = W[obs] / noise[obs, None]
        precision = np.eye(W.shape[1]) + W[obs].T @ scaled
        chol = linalg.cholesky(precision, lower=True)
        rhs = scaled.T @ (x[np.ix_(rows, obs)] - b[obs]).T
        yield rows, precision, chol, linalg.cho_solve((chol, True), rhs).T


def linear_gaussian_posterior(X, W, b, noise_variance, modalities=None):
    """Exact posterior ``p(z | x_S) = N(mean, cov)`` of a linear Gaussian model.

    Under ``z ~ N(0, I)`` and ``x_s = W_s z + b_s + eps``, conditioning on the observed
    coordinates ``o`` of the modalities in ``S`` gives::

        cov = (I + W_o^T diag(1/noise_o) W_o)^{-1},  mean = cov W_o^T diag(1/noise_o)(x_o - b_o)

    computed with Cholesky solves. Modalities outside ``modalities`` and NaN entries are
    ignored; a sample with nothing observed gets the prior ``N(0, I)``.

    Parameters
    ----------
    X : dict of str to array-like, or array-like of shape (n_samples, D)
        The data (see :func:`linear_gaussian_log_likelihood` for the layout).
    W : array-like of shape (D, d), or list/dict of (d_s, d) arrays
        Loading matrix, stacked or per modality.
    b : array-like of shape (D,), or list/dict of (d_s,) arrays
        Offsets.
    noise_variance : float or array-like of shape (D,)
        Observation noise variance(s), positive.
    modalities : int, str or list of int/str, default=None
        The subset ``S`` to condition on, as indices into the modality list (the blocks of
        a list ``W``) or names (keys of a dict ``X`` or ``W``). None uses all modalities.

    Returns
    -------
    mean : ndarray of shape (n_samples, d)
        Posterior means.
    cov : ndarray of shape (n_samples, d, d)
        Posterior covariances. When all samples share one missingness pattern this is a
        read-only broadcast view of a single ``(d, d)`` matrix (``cov[0]``).

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae.metrics import linear_gaussian_posterior
    >>> W = [np.eye(2), 2 * np.eye(2)]
    >>> X = {"a": np.ones((1, 2)), "b": np.full((1, 2), np.nan)}
    >>> mean, cov = linear_gaussian_posterior(X, W, b=np.zeros(4), noise_variance=1.0)
    >>> mean, cov[0]
    (array([[0.5, 0.5]]), array([[0.5, 0. ],
           [0. , 0.5]]))
    """
    x, W, b, noise = _conditioning_data(X, W, b, noise_variance, modalities)
    patterns = list(_posterior_patterns(x, W, b, noise))
    n, d = x.shape[0], W.shape[1]
    mean = np.empty((n, d))
    if len(patterns) == 1:
        rows, _, chol, means = patterns[0]
        cov = linalg.cho_solve((chol, True), np.eye(d))
        mean[rows] = means
        return mean, np.broadcast_to(cov, (n, d, d))
    cov = np.empty((n, d, d))
    for rows, _, chol, means in patterns:
        mean[rows] = means
        cov[rows] = linalg.cho_solve((chol, True), np.eye(d))
    return mean, cov


def kl_to_linear_gaussian_posterior(q_mean, q_var, X, W, b, noise_variance, modalities=None):
    """Exact ``KL( N(q_mean, diag(q_var)) || p(z | x_S) )`` per sample.

    Uses the posterior precision ``Lambda`` of :func:`linear_gaussian_posterior` directly::

        KL = 0.5 [ sum(diag(Lambda) q_var) + (m - q_mean)^T Lambda (m - q_mean) - d
                   - log det Lambda - sum(log q_var) ]

    so no covariance matrix is inverted. This is how the paper scores encoders on the linear
    Gaussian experiment, with ``q`` the encoder's ``q(z | x_S)``.

    Parameters
    ----------
    q_mean : array-like of shape (n_samples, d)
        Means of the diagonal Gaussian ``q``.
    q_var : array-like of shape (n_samples, d)
        Variances (not standard deviations) of ``q``, positive; broadcast to
        ``(n_samples, d)``, so a shared ``(d,)`` vector works.
    X : dict of str to array-like, or array-like of shape (n_samples, D)
        The data (see :func:`linear_gaussian_log_likelihood`).
    W : array-like of shape (D, d), or list/dict of (d_s, d) arrays
        Loading matrix, stacked or per modality.
    b : array-like of shape (D,), or list/dict of (d_s,) arrays
        Offsets.
    noise_variance : float or array-like of shape (D,)
        Observation noise variance(s), positive.
    modalities : int, str or list of int/str, default=None
        The subset ``S`` conditioned on (see :func:`linear_gaussian_posterior`).

    Returns
    -------
    ndarray of shape (n_samples,)
        Per-sample KL divergences (>= 0).

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae.metrics import kl_to_linear_gaussian_posterior
    >>> x = np.ones((1, 2))
    >>> kl = kl_to_linear_gaussian_posterior([[0.5, 0.5]], [[0.5, 0.5]], x, np.eye(2),
    ...                                      np.zeros(2), noise_variance=1.0)
    >>> bool(abs(kl[0]) < 1e-12)
    True
    """
    x, W, b, noise = _conditioning_data(X, W, b, noise_variance, modalities)
    n, d = x.shape[0], W.shape[1]
    q_mean = as_2d("q_mean", q_mean)
    if q_mean.shape != (n, d):
        raise ValueError(f"q_mean must have shape {(n, d)} (samples of X, columns of W), "
                         f"got {q_mean.shape}.")
    try:
        q_var = np.broadcast_to(np.asarray(q_var, dtype=np.float64), (n, d))
    except ValueError:
        raise ValueError(f"q_var must have (or broadcast to) shape {(n, d)}, got "
                         f"{np.shape(q_var)}.") from None
    if not np.all(np.isfinite(q_var) & (q_var > 0)):
        raise ValueError("q_var must be positive (variances, not log-variances).")
    kl = np.empty(n)
    for rows, precision, chol, means in _posterior_patterns(x, W, b, noise):
        diff = means - q_mean[rows]
        trace = q_var[rows] @ np.diag(precision)
        quad = np.einsum("ij,jk,ik->i", diff, precision, diff)
        log_det = 2.0 * np.sum(np.log(np.diag(chol)))
        kl[rows] = 0.5 * (trace + quad - d - log_det - np.log(q_var[rows]).sum(axis=1))
    return kl
