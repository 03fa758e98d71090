"""Correlation between latent codes and the mean correlation coefficient (MCC).

See :mod:`skmmvae.metrics`.
"""
import numbers

import numpy as np
from scipy import linalg
from scipy.optimize import linear_sum_assignment
from scipy.stats import rankdata
from sklearn.cross_decomposition import CCA
from sklearn.utils import check_random_state

_CORR_METHODS = ("pearson", "spearman", "rdc")


def as_2d(name, a):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 1-D or 2-D array, got {a.ndim} dimensions.")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return a


def _paired(z_true, z_est, min_samples=2):
    z_true, z_est = as_2d("z_true", z_true), as_2d("z_est", z_est)
    if z_true.shape[0] != z_est.shape[0]:
        raise ValueError(
            f"z_true and z_est need the same number of samples, got {z_true.shape[0]} and "
            f"{z_est.shape[0]}."
        )
    if z_true.shape[0] < min_samples:
        raise ValueError(f"At least {min_samples} samples are needed, got {z_true.shape[0]}.")
    return z_true, z_est


def _orthonormal_basis(a, rtol=1e-10):
    """Orthonormal basis of the column span of the centred ``a`` (rank-revealing SVD).

    Directions whose singular value is below ``rtol`` times the norm of the uncentred ``a``
    are rounding noise (e.g. what is left of a constant column) and are dropped.
    """
    u, s, _ = np.linalg.svd(a - a.mean(axis=0), full_matrices=False)
    return u[:, s > rtol * np.linalg.norm(a)]


def _random_sine_features(a, k, s, rng):
    """Copula (rank / n) transform, random projection with bias, sine non-linearity."""
    n = a.shape[0]
    # empirical CDF: ties share a value, so a constant variable stays constant
    copula = np.column_stack([rankdata(col, method="max") / n for col in a.T])
    copula = np.column_stack([copula, np.ones(n)])
    weights = rng.standard_normal((copula.shape[1], k)) * (s / copula.shape[1])
    return np.sin(copula @ weights)


def _rdc_basis(a, k, s, rng):
    return _orthonormal_basis(_random_sine_features(a, k, s, rng))


def _largest_canonical_corr(basis_x, basis_y):
    if basis_x.shape[1] == 0 or basis_y.shape[1] == 0:
        return 0.0  # a constant variable carries no dependence
    return float(np.clip(linalg.svdvals(basis_x.T @ basis_y)[0], 0.0, 1.0))


def rdc(x, y, k=20, s=1 / 6, random_state=None):
    """Randomised dependence coefficient (Lopez-Paz, Hennig and Schoelkopf, 2013).

    Each variable is mapped to its empirical copula (ranks divided by n), projected on
    ``k`` random directions ``w ~ N(0, (s / (p + 1))^2 I)`` (with a bias column, p the number
    of columns), passed through a sine, and the RDC is the largest canonical correlation
    between the two feature sets. It lies in [0, 1], is invariant to monotone transformations
    of each variable and detects non-linear dependence; for independent variables it is small
    but positive (of order ``sqrt(k / n)``).

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, p)
        First variable.
    y : array-like of shape (n_samples,) or (n_samples, q)
        Second variable.
    k : int, default=20
        Number of random features per variable.
    s : float, default=1/6
        Scale of the random projections.
    random_state : int, RandomState instance or None, default=None
        Seed or generator of the random projections.

    Returns
    -------
    float
        The randomised dependence coefficient.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae.metrics import rdc
    >>> x = np.linspace(-3, 3, 500)
    >>> rdc(x, np.sin(x), random_state=0) > 0.99
    True
    """
    x, y = _paired(x, y, min_samples=3)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    if not isinstance(s, numbers.Real) or not s > 0:
        raise ValueError(f"s must be a positive number, got {s!r}.")
    rng = check_random_state(random_state)
    return _largest_canonical_corr(_rdc_basis(x, k, s, rng), _rdc_basis(y, k, s, rng))


def _pearson_matrix(a, b):
    """|corr| between the columns of ``a`` and of ``b``; constant columns give 0."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    norm_a, norm_b = np.linalg.norm(a, axis=0), np.linalg.norm(b, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (a.T @ b) / np.outer(norm_a, norm_b)
    return np.abs(np.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0))


def _abs_corr_matrix(a, b, method, rng):
    if method == "pearson":
        return _pearson_matrix(a, b)
    if method == "spearman":
        return _pearson_matrix(rankdata(a, axis=0), rankdata(b, axis=0))
    # RDC features are drawn once per column and shared by all pairs that column is in.
    bases_a = [_rdc_basis(col[:, None], 20, 1 / 6, rng) for col in a.T]
    bases_b = [_rdc_basis(col[:, None], 20, 1 / 6, rng) for col in b.T]
    return np.array([[_largest_canonical_corr(u, v) for v in bases_b] for u in bases_a])


def _best_matching(abs_corr):
    """Row and column indices of the one-to-one matching maximising total |corr|."""
    return linear_sum_assignment(abs_corr, maximize=True)


def _check_method(method):
    if method not in _CORR_METHODS:
        raise ValueError(f"method must be one of {_CORR_METHODS}, got {method!r}.")


def mean_corr_coef(z_true, z_est, method="pearson", random_state=None):
    """Mean correlation coefficient (MCC) between true sources and their estimates.

    Computes the matrix of absolute correlations between every true source and every
    estimated component, finds the one-to-one matching with the largest total (Hungarian
    algorithm, :func:`scipy.optimize.linear_sum_assignment`) and averages the matched
    values. MCC is 1 when the estimate equals the sources up to permutation and, for
    Pearson, per-component affine maps (sign flips and scaling included); for Spearman and
    RDC, up to monotone maps. With different numbers of columns, ``min(d_true, d_est)``
    pairs are matched.

    Parameters
    ----------
    z_true : array-like of shape (n_samples, d_true)
        True sources.
    z_est : array-like of shape (n_samples, d_est)
        Estimated latents (e.g. posterior samples or means).
    method : {"pearson", "spearman", "rdc"}, default="pearson"
        Dependence measure; "rdc" is :func:`rdc` with its defaults (random, see
        ``random_state``; the random features of a column are shared by all its pairs).
    random_state : int, RandomState instance or None, default=None
        Seed or generator for ``method="rdc"``; unused otherwise.

    Returns
    -------
    float
        The MCC, in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae.metrics import mean_corr_coef
    >>> z = np.random.RandomState(0).standard_normal((500, 3))
    >>> round(mean_corr_coef(z, -2.0 * z[:, [2, 0, 1]] + 1.0), 6)
    1.0
    """
    _check_method(method)
    z_true, z_est = _paired(z_true, z_est, min_samples=3 if method == "rdc" else 2)
    abs_corr = _abs_corr_matrix(z_true, z_est, method, check_random_state(random_state))
    rows, cols = _best_matching(abs_corr)
    return float(abs_corr[rows, cols].mean())


def mcc_strong_weak(z_true, z_est, random_state=None):
    """The four MCC variants of the paper's identifiability experiments.

    The samples are randomly permuted and split into a first and a second half.

    * ``mcc_strong_in``: :func:`mean_corr_coef` with RDC on the first half (in sample).
    * ``mcc_strong_out``: Pearson; the matching is chosen on the first half and the matched
      |corr| are evaluated on the second half (out of sample). Strong identifiability means
      recovery up to permutation and per-component (here: affine) maps.
    * ``mcc_weak_in`` / ``mcc_weak_out``: a :class:`~sklearn.cross_decomposition.CCA` with
      ``min(d_true, d_est)`` components is fitted on the first half; the MCC (RDC) between
      the two sets of canonical projections is computed on the first half (in) and on the
      second half (out). Weak identifiability means recovery up to an invertible linear map.

    Parameters
    ----------
    z_true : array-like of shape (n_samples, d_true)
        True sources.
    z_est : array-like of shape (n_samples, d_est)
        Estimated latents (the paper uses one posterior sample per data point).
    random_state : int, RandomState instance or None, default=None
        Seed or generator for the split and the RDC features.

    Returns
    -------
    dict
        Keys ``"mcc_strong_in"``, ``"mcc_strong_out"``, ``"mcc_weak_in"``,
        ``"mcc_weak_out"``, each a float in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae.metrics import mcc_strong_weak
    >>> z = np.random.RandomState(0).standard_normal((400, 2))
    >>> scores = mcc_strong_weak(z, 3.0 * z[:, ::-1], random_state=0)
    >>> sorted(scores)
    ['mcc_strong_in', 'mcc_strong_out', 'mcc_weak_in', 'mcc_weak_out']
    >>> round(scores["mcc_strong_out"], 6)
    1.0
    """
    z_true, z_est = _paired(z_true, z_est, min_samples=6)
    rng = check_random_state(random_state)
    order = rng.permutation(z_true.shape[0])
    first, second = np.array_split(order, 2)

    scores = {"mcc_strong_in": mean_corr_coef(z_true[first], z_est[first], method="rdc",
                                              random_state=rng)}

    rows, cols = _best_matching(_pearson_matrix(z_true[first], z_est[first]))
    out_of_sample = _pearson_matrix(z_true[second], z_est[second])
    scores["mcc_strong_out"] = float(out_of_sample[rows, cols].mean())

    cca = CCA(n_components=min(z_true.shape[1], z_est.shape[1]), max_iter=5000)
    cca.fit(z_true[first], z_est[first])
    for split, idx in (("in", first), ("out", second)):
        proj_true, proj_est = cca.transform(z_true[idx], z_est[idx])
        scores[f"mcc_weak_{split}"] = mean_corr_coef(proj_true, proj_est, method="rdc",
                                                     random_state=rng)
    return scores
