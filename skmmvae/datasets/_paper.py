"""The paper's synthetic data sets (linear Gaussian, identifiable bimodal and multimodal)."""
import numpy as np
from sklearn.utils import check_random_state

from ._checks import check_float, check_int, segment_sizes

_LEAKY_SLOPE = 0.1


def _leaky_relu(x, slope=_LEAKY_SLOPE):
    return np.where(x > 0, x, slope * x)


def _orthonormal_columns(n_rows, n_cols, rng):
    """QR-orthonormalised ``n_rows x n_cols`` matrix with U(-1, 1) entries before QR."""
    q, _ = np.linalg.qr(rng.uniform(-1.0, 1.0, size=(n_rows, n_cols)))
    return q


def _segment_sources(n_per_segment, n_segments, n_latent, family, rng):
    """Segment-ordered sources ``s | u=k ~ N(m_k, diag(L_k^2))`` (or Laplace with scale L_k).

    ``m_k ~ U(-5, 5)^d`` and ``L_k ~ U(0.5, 3)^d``. Returns ``(S, U)``.
    """
    means = rng.uniform(-5.0, 5.0, size=(n_segments, n_latent))
    scales = rng.uniform(0.5, 3.0, size=(n_segments, n_latent))
    labels = np.repeat(np.arange(n_segments, dtype=np.int64), n_per_segment)
    shape = (labels.size, n_latent)
    noise = rng.standard_normal(shape) if family == "gaussian" else rng.laplace(size=shape)
    return means[labels] + scales[labels] * noise, labels


def _sparse_loadings(dim, modality, n_modalities, n_shared, n_private, rng):
    """Full ``(dim, n_latent)`` loading matrix: shared block first, then private blocks."""
    q = _orthonormal_columns(dim, n_private + n_shared, rng)
    w = np.zeros((dim, n_shared + n_private * n_modalities))
    start = n_shared + modality * n_private
    w[:, start:start + n_private] = q[:, :n_private]
    w[:, :n_shared] = q[:, n_private:]
    return w


def make_linear_gaussian(n_samples=5000, n_modalities=5, sparse=True, noise_variance=1.0,
                         n_shared=5, n_private=5, dim_range=(30, 60), random_state=None,
                         return_params=False):
    """Linear multi-modal Gaussian data ``x_s = W_s z + b_s + eps`` (paper section 5.1).

    The latent is ``z ~ N(0, I)``. With ``sparse=True`` it has ``n_shared + n_private *
    n_modalities`` dimensions laid out as ``[shared | private_0 | private_1 | ...]``:
    modality ``s`` loads on the shared block and on its own private block only. Its loadings
    are the columns of a QR-orthonormalised ``d_s x (n_private + n_shared)`` matrix with
    U(-1, 1) entries; the first ``n_private`` columns go to the private block and the last
    ``n_shared`` to the shared block. With ``sparse=False`` the latent is the ``n_shared``
    shared dimensions only. Offsets are ``b_s ~ N(0, I)`` and noise ``eps ~ N(0,
    noise_variance * I)``; the dimensions are ``d_s ~ randint(*dim_range)``.

    Parameters
    ----------
    n_samples : int, default=5000
        Number of samples.
    n_modalities : int, default=5
        Number of modalities, named ``"m0", "m1", ...``.
    sparse : bool, default=True
        Whether to add modality-specific (private) latent blocks.
    noise_variance : float, default=1.0
        Variance of the isotropic observation noise (>= 0).
    n_shared : int, default=5
        Number of shared latent dimensions.
    n_private : int, default=5
        Number of private latent dimensions per modality (ignored when ``sparse=False``).
    dim_range : tuple of int, default=(30, 60)
        Modality dimensions are drawn uniformly from ``range(*dim_range)``.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for all random draws.
    return_params : bool, default=False
        Whether to also return the true parameters.

    Returns
    -------
    X : dict of str to ndarray of shape (n_samples, d_s)
        The modalities, float64.
    Z : ndarray of shape (n_samples, n_latent)
        The latent variables.
    params : dict
        Only when ``return_params=True``: ``"W"`` (list of ``(d_s, n_latent)`` loading
        matrices), ``"b"`` (list of ``(d_s,)`` offsets), ``"noise_variance"`` (float) and
        ``"modalities"`` (list of names, the order of ``W`` and ``b``).

    Examples
    --------
    >>> from skmmvae.datasets import make_linear_gaussian
    >>> X, Z, params = make_linear_gaussian(n_samples=100, random_state=0, return_params=True)
    >>> sorted(X)
    ['m0', 'm1', 'm2', 'm3', 'm4']
    >>> Z.shape
    (100, 30)
    >>> params["W"][0].shape == (X["m0"].shape[1], 30)
    True
    """
    n_samples = check_int("n_samples", n_samples, 1)
    n_modalities = check_int("n_modalities", n_modalities, 1)
    noise_variance = check_float("noise_variance", noise_variance, minimum=0.0)
    n_shared = check_int("n_shared", n_shared, 0)
    n_private = check_int("n_private", n_private, 0) if sparse else 0
    n_loaded = n_shared + n_private
    if n_loaded < 1:
        raise ValueError("The model needs at least one latent dimension: increase n_shared "
                         "(or n_private with sparse=True).")
    low, high = _check_dim_range(dim_range, n_loaded)
    rng = check_random_state(random_state)

    dims = rng.randint(low, high, size=n_modalities)
    if sparse:
        W = [_sparse_loadings(d, s, n_modalities, n_shared, n_private, rng)
             for s, d in enumerate(dims)]
    else:
        W = [_orthonormal_columns(d, n_shared, rng) for d in dims]
    b = [rng.standard_normal(d) for d in dims]
    Z = rng.standard_normal((n_samples, W[0].shape[1]))
    names = [f"m{s}" for s in range(n_modalities)]
    noise_std = np.sqrt(noise_variance)
    X = {name: Z @ w.T + b_s + noise_std * rng.standard_normal((n_samples, w.shape[0]))
         for name, w, b_s in zip(names, W, b)}
    if not return_params:
        return X, Z
    params = {"W": W, "b": b, "noise_variance": noise_variance, "modalities": names}
    return X, Z, params


def _check_dim_range(dim_range, n_columns):
    try:
        low, high = (int(v) for v in dim_range)
    except (TypeError, ValueError):
        raise TypeError(f"dim_range must be a pair of integers (low, high), got {dim_range!r}.")
    if low >= high:
        raise ValueError(f"dim_range=(low, high) needs low < high, got {dim_range!r}.")
    if low < n_columns:
        raise ValueError(
            f"dim_range low={low} must be >= the {n_columns} latent dimensions a modality "
            "loads on, so that its loading columns can be orthonormal."
        )
    return low, high


def make_identifiable_bimodal(n_samples=4000, n_segments=5, n_latent=2, noise_std=0.1,
                              random_state=None):
    """iVAE-style data with the segment label as a categorical modality (paper section 5.2).

    Sources are ``s | u=k ~ N(m_k, diag(L_k^2))`` with ``m_k ~ U(-5, 5)^d`` and ``L_k ~
    U(0.5, 3)^d``. The observation is ``x = A lrelu(A s) + noise_std * eps`` with a leaky ReLU
    of slope 0.1 and one random orthogonal ``A`` (QR of U(-1, 1)) used in both layers, so the
    mixing is injective. All segments have ``n_samples // n_segments`` samples, so the data
    set has ``n_segments * (n_samples // n_segments)`` rows, shuffled.

    Parameters
    ----------
    n_samples : int, default=4000
        Requested number of samples (rounded down to a multiple of ``n_segments``).
    n_segments : int, default=5
        Number of segments, i.e. classes of the label modality.
    n_latent : int, default=2
        Dimension of the sources and of the observation ``x``.
    noise_std : float, default=0.1
        Standard deviation of the observation noise (>= 0).
    random_state : int, RandomState instance or None, default=None
        Seed or generator for all random draws.

    Returns
    -------
    X : dict
        ``"u"``: int64 array of shape (n, 1), the segment label (a categorical modality);
        ``"x"``: float array of shape (n, n_latent), the mixed observation.
    Z : ndarray of shape (n, n_latent)
        The true sources.
    U : ndarray of shape (n,)
        The segment labels, int64 (the same values as ``X["u"]``).

    Examples
    --------
    >>> from skmmvae.datasets import make_identifiable_bimodal
    >>> X, Z, U = make_identifiable_bimodal(n_samples=100, random_state=0)
    >>> X["u"].shape, X["x"].shape, Z.shape, U.shape
    ((100, 1), (100, 2), (100, 2), (100,))
    >>> sorted(set(U.tolist()))
    [0, 1, 2, 3, 4]
    """
    n_per_segment, n_segments = segment_sizes(n_samples, n_segments)
    n_latent = check_int("n_latent", n_latent, 1)
    noise_std = check_float("noise_std", noise_std, minimum=0.0)
    rng = check_random_state(random_state)

    Z, U = _segment_sources(n_per_segment, n_segments, n_latent, "gaussian", rng)
    A = _orthonormal_columns(n_latent, n_latent, rng)
    x = _leaky_relu(Z @ A.T) @ A.T + noise_std * rng.standard_normal(Z.shape)
    order = rng.permutation(U.size)
    X = {"u": U[order, None], "x": x[order]}
    return X, Z[order], U[order]


def _well_conditioned_matrix(n_rows, n_cols, rng, n_candidates=200, quantile=25.0):
    """A column-normalised U(-1, 1) matrix whose condition number is below the given
    percentile of ``n_candidates`` random draws (one of those draws, picked at random)."""
    candidates = rng.uniform(-1.0, 1.0, size=(n_candidates, n_rows, n_cols))
    candidates /= np.linalg.norm(candidates, axis=1, keepdims=True)
    conds = np.linalg.cond(candidates)
    good = np.flatnonzero(conds <= np.percentile(conds, quantile))
    return candidates[rng.choice(good)]


def _observed_mask(n_samples, n_modalities, missing_rate, rng):
    """Boolean ``(n, M)`` availability mask: every row has at least one True and about a
    fraction ``1 - missing_rate`` of all cells is True.

    Each sample first gets one observed modality at random; more observed cells are then
    added uniformly at random among the rest until the target count is reached.
    """
    observed = np.zeros((n_samples, n_modalities), dtype=bool)
    observed[np.arange(n_samples), rng.randint(n_modalities, size=n_samples)] = True
    target = int(round((1.0 - missing_rate) * n_samples * n_modalities))
    n_extra = max(target - n_samples, 0)
    free = np.flatnonzero(~observed)
    observed.flat[rng.choice(free, size=n_extra, replace=False)] = True
    return observed


def make_identifiable_multimodal(n_samples=10000, n_modalities=4, n_features=25, n_latent=10,
                                 n_segments=5, noise_std=0.5, missing_rate=0.5,
                                 family="gaussian", shuffle=True, random_state=None):
    """Nonlinear views of segment-structured sources with missing modalities (paper 5.2).

    Sources follow ``s | u=k ~ N(m_k, diag(L_k^2))`` (``family="laplace"``: Laplace with
    location ``m_k`` and scale ``L_k``), ``m_k ~ U(-5, 5)^d``, ``L_k ~ U(0.5, 3)^d``. Each
    modality mixes them through its own three-layer map (row-vector convention)::

        x_s = lrelu(lrelu(s A_s) B_s) B_s + noise_std * eps

    with a leaky ReLU of slope 0.1, ``A_s`` of shape ``(n_latent, n_features)`` and ``B_s``
    of shape ``(n_features, n_features)``. Both have U(-1, 1) entries, unit-norm columns and a
    condition number below the 25th percentile of 200 random draws. Missing modalities
    (CPM-Nets style): every sample keeps at least one modality and a fraction ``1 -
    missing_rate`` of all (sample, modality) cells is observed; a missing cell is a whole row
    of NaN in that modality's block.

    Parameters
    ----------
    n_samples : int, default=10000
        Requested number of samples (rounded down to a multiple of ``n_segments``).
    n_modalities : int, default=4
        Number of modalities, named ``"m0", "m1", ...``.
    n_features : int, default=25
        Dimension of every modality.
    n_latent : int, default=10
        Dimension of the sources.
    n_segments : int, default=5
        Number of segments (clusters of the sources).
    noise_std : float, default=0.5
        Standard deviation of the observation noise (>= 0).
    missing_rate : float, default=0.5
        Fraction of missing (sample, modality) cells, in ``[0, 1 - 1/n_modalities]``.
        0 gives fully observed data.
    family : {"gaussian", "laplace"}, default="gaussian"
        Distribution of the sources within a segment.
    shuffle : bool, default=True
        Whether to permute the rows. ``shuffle=False`` keeps the paper's segment-ordered
        layout, where splitting into the first and second half separates segments.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for all random draws.

    Returns
    -------
    X : dict of str to ndarray of shape (n, n_features)
        The modalities, float64, with NaN rows where a modality is missing.
    Z : ndarray of shape (n, n_latent)
        The true sources.
    U : ndarray of shape (n,)
        The segment labels, int64.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae.datasets import make_identifiable_multimodal
    >>> X, Z, U = make_identifiable_multimodal(n_samples=200, random_state=0)
    >>> X["m0"].shape, Z.shape, U.shape
    ((200, 25), (200, 10), (200,))
    >>> observed = np.column_stack([~np.isnan(X[m][:, 0]) for m in X])
    >>> bool(observed.any(axis=1).all()), float(observed.mean())
    (True, 0.5)
    """
    n_per_segment, n_segments = segment_sizes(n_samples, n_segments)
    n_modalities = check_int("n_modalities", n_modalities, 1)
    n_features = check_int("n_features", n_features, 1)
    n_latent = check_int("n_latent", n_latent, 1)
    noise_std = check_float("noise_std", noise_std, minimum=0.0)
    max_rate = 1.0 - 1.0 / n_modalities
    missing_rate = check_float("missing_rate", missing_rate, minimum=0.0, maximum=1.0)
    if missing_rate > max_rate + 1e-12:
        raise ValueError(
            f"missing_rate={missing_rate} is too high: every sample keeps at least one of the "
            f"{n_modalities} modalities, so missing_rate must be <= {max_rate:.4g}."
        )
    if family not in ("gaussian", "laplace"):
        raise ValueError(f"family must be 'gaussian' or 'laplace', got {family!r}.")
    rng = check_random_state(random_state)

    Z, U = _segment_sources(n_per_segment, n_segments, n_latent, family, rng)
    X = {}
    for s in range(n_modalities):
        A = _well_conditioned_matrix(n_latent, n_features, rng)
        B = _well_conditioned_matrix(n_features, n_features, rng)
        hidden = _leaky_relu(_leaky_relu(Z @ A) @ B)
        X[f"m{s}"] = hidden @ B + noise_std * rng.standard_normal((U.size, n_features))

    observed = _observed_mask(U.size, n_modalities, missing_rate, rng)
    for s, name in enumerate(X):
        X[name][~observed[:, s]] = np.nan
    if shuffle:
        order = rng.permutation(U.size)
        X = {name: x[order] for name, x in X.items()}
        Z, U = Z[order], U[order]
    return X, Z, U
