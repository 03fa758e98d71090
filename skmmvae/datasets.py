"""Synthetic data sets of the paper and a small bundled multi-modal data set.

Every generator returns the observed modalities as a dict ``{name: (n_samples, d_s) array}``,
the format the estimators take. A modality that is missing for a sample is a whole row of NaN
in its block. All randomness comes from the ``random_state`` argument.

The generators follow Hirt et al. (arXiv 2309.00380):

* :func:`make_linear_gaussian`: linear multi-modal Gaussian model (paper section 5.1), whose
  exact likelihood and posterior are available in :mod:`skmmvae.metrics`;
* :func:`make_identifiable_bimodal`: iVAE-style data with the segment label as a second,
  categorical modality (paper section 5.2);
* :func:`make_identifiable_multimodal`: four nonlinear views of shared sources with missing
  modalities (paper section 5.2).

:func:`make_cite_seq` simulates CITE-seq-like single cells: RNA counts with library sizes and
protein counts with a background, some cells measured by RNA only.

:func:`load_digits_modalities` splits scikit-learn's bundled 8x8 digits into four quadrant
modalities plus the label, a quick offline stand-in for image benchmarks.
"""
import numbers

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch, check_random_state

__all__ = [
    "make_linear_gaussian",
    "make_identifiable_bimodal",
    "make_identifiable_multimodal",
    "load_digits_modalities",
    "quadrants_to_images",
    "make_cite_seq",
]

QUADRANTS = ("top_left", "top_right", "bottom_left", "bottom_right")
_QUADRANT_SLICES = {
    "top_left": (slice(0, 4), slice(0, 4)),
    "top_right": (slice(0, 4), slice(4, 8)),
    "bottom_left": (slice(4, 8), slice(0, 4)),
    "bottom_right": (slice(4, 8), slice(4, 8)),
}
_LEAKY_SLOPE = 0.1


# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------
def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def _check_float(name, value, minimum=None, maximum=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}.")
    return value


def _segment_sizes(n_samples, n_segments):
    n_samples = _check_int("n_samples", n_samples, 1)
    n_segments = _check_int("n_segments", n_segments, 1)
    if n_samples < n_segments:
        raise ValueError(
            f"n_samples={n_samples} must be >= n_segments={n_segments}: every segment needs "
            "at least one sample."
        )
    return n_samples // n_segments, n_segments


# --------------------------------------------------------------------------------------------
# shared building blocks
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# linear Gaussian model (paper section 5.1)
# --------------------------------------------------------------------------------------------
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
    n_samples = _check_int("n_samples", n_samples, 1)
    n_modalities = _check_int("n_modalities", n_modalities, 1)
    noise_variance = _check_float("noise_variance", noise_variance, minimum=0.0)
    n_shared = _check_int("n_shared", n_shared, 0)
    n_private = _check_int("n_private", n_private, 0) if sparse else 0
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


# --------------------------------------------------------------------------------------------
# identifiable bimodal model (paper section 5.2)
# --------------------------------------------------------------------------------------------
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
    n_per_segment, n_segments = _segment_sizes(n_samples, n_segments)
    n_latent = _check_int("n_latent", n_latent, 1)
    noise_std = _check_float("noise_std", noise_std, minimum=0.0)
    rng = check_random_state(random_state)

    Z, U = _segment_sources(n_per_segment, n_segments, n_latent, "gaussian", rng)
    A = _orthonormal_columns(n_latent, n_latent, rng)
    x = _leaky_relu(Z @ A.T) @ A.T + noise_std * rng.standard_normal(Z.shape)
    order = rng.permutation(U.size)
    X = {"u": U[order, None], "x": x[order]}
    return X, Z[order], U[order]


# --------------------------------------------------------------------------------------------
# identifiable multi-modal model with missing modalities (paper section 5.2)
# --------------------------------------------------------------------------------------------
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
    n_per_segment, n_segments = _segment_sizes(n_samples, n_segments)
    n_modalities = _check_int("n_modalities", n_modalities, 1)
    n_features = _check_int("n_features", n_features, 1)
    n_latent = _check_int("n_latent", n_latent, 1)
    noise_std = _check_float("noise_std", noise_std, minimum=0.0)
    max_rate = 1.0 - 1.0 / n_modalities
    missing_rate = _check_float("missing_rate", missing_rate, minimum=0.0, maximum=1.0)
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


# --------------------------------------------------------------------------------------------
# bundled digits split into quadrants
# --------------------------------------------------------------------------------------------
_DIGITS_DESCR = """\
Digits split into quadrant modalities
-------------------------------------

scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes; see
``sklearn.datasets.load_digits``) cut into four 4x4 quadrants. Each quadrant is one modality
of 16 pixels scaled to [0, 1] (pixel value / 16), named top_left, top_right, bottom_left and
bottom_right; the digit class is a fifth, categorical modality "label" of shape (n, 1).
Reassemble images with ``skmmvae.datasets.quadrants_to_images``.
"""


def _pixel_names(name):
    rows, cols = _QUADRANT_SLICES[name]
    return [f"pixel_{r}_{c}" for r in range(rows.start, rows.stop)
            for c in range(cols.start, cols.stop)]


def load_digits_modalities(return_X_y=False, as_frame=False):
    """Load scikit-learn's 8x8 digits as a five-modality data set (no download).

    The four 4x4 image quadrants ``"top_left", "top_right", "bottom_left",
    "bottom_right"`` are modalities of 16 pixels each, scaled to [0, 1] by dividing the raw
    values (0..16) by 16, and the class label is the categorical modality ``"label"``.
    Pixels are flattened row by row within each quadrant.

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(X, y)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, the modalities are pandas DataFrames (pixel columns named
        ``pixel_<row>_<col>`` in image coordinates, the label column ``"label"``) and the
        target is a pandas Series. Requires pandas.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Returned when ``return_X_y=False``, with attributes ``data`` (the dict ``X``),
        ``target`` (``y``), ``images`` (ndarray (n, 8, 8), scaled to [0, 1]),
        ``modality_shapes`` (dict of quadrant name to ``(4, 4)``), ``target_names`` and
        ``DESCR``.
    (X, y) : tuple
        Returned when ``return_X_y=True``. ``X`` is a dict with the four quadrants (float64,
        shape (n, 16)) and ``"label"`` (int64, shape (n, 1)); ``y`` is the int64 label array
        of shape (n,).

    Examples
    --------
    >>> from skmmvae.datasets import load_digits_modalities
    >>> X, y = load_digits_modalities(return_X_y=True)
    >>> list(X)
    ['top_left', 'top_right', 'bottom_left', 'bottom_right', 'label']
    >>> X["top_left"].shape, X["label"].shape, y.shape
    ((1797, 16), (1797, 1), (1797,))
    """
    digits = load_digits()
    images = digits.images.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    X = {name: images[:, rows, cols].reshape(len(images), -1)
         for name, (rows, cols) in _QUADRANT_SLICES.items()}
    X["label"] = y[:, None].copy()
    if as_frame:
        X, y = _digits_as_frame(X, y)
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        images=images,
        modality_shapes={name: (4, 4) for name in QUADRANTS},
        target_names=np.arange(10),
        DESCR=_DIGITS_DESCR,
    )


def _digits_as_frame(X, y):
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is a test dependency
        raise ImportError("as_frame=True requires pandas.") from exc
    frames = {name: pd.DataFrame(X[name], columns=_pixel_names(name)) for name in QUADRANTS}
    frames["label"] = pd.DataFrame({"label": X["label"][:, 0]})
    return frames, pd.Series(y, name="target")


def quadrants_to_images(X):
    """Reassemble ``(n, 8, 8)`` images from the four quadrant modalities.

    Inverse of the split in :func:`load_digits_modalities`; a NaN quadrant row (a missing
    modality) stays NaN in the image.

    Parameters
    ----------
    X : dict
        Mapping with keys ``"top_left", "top_right", "bottom_left", "bottom_right"``, each an
        array-like of shape (n, 16); other keys (such as ``"label"``) are ignored.

    Returns
    -------
    images : ndarray of shape (n, 8, 8)
        The reassembled images, float64.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae.datasets import load_digits_modalities, quadrants_to_images
    >>> digits = load_digits_modalities()
    >>> np.array_equal(quadrants_to_images(digits.data), digits.images)
    True
    """
    if not hasattr(X, "keys"):
        raise TypeError(f"X must be a dict of quadrant arrays, got {type(X).__name__}.")
    missing = [name for name in QUADRANTS if name not in X]
    if missing:
        raise ValueError(f"X lacks the quadrant modalities {missing}; expected {list(QUADRANTS)}.")
    blocks = [np.asarray(X[name], dtype=np.float64) for name in QUADRANTS]
    n = blocks[0].shape[0]
    for name, block in zip(QUADRANTS, blocks):
        if block.shape != (n, 16):
            raise ValueError(
                f"Quadrant {name!r} must have shape ({n}, 16), got {block.shape}."
            )
    images = np.empty((n, 8, 8))
    for name, block in zip(QUADRANTS, blocks):
        rows, cols = _QUADRANT_SLICES[name]
        images[:, rows, cols] = block.reshape(n, 4, 4)
    return images


# --------------------------------------------------------------------------------------------
# CITE-seq-like single-cell counts
# --------------------------------------------------------------------------------------------
_CELL_TYPES = ("B", "CD4 T", "CD8 T", "NK", "Monocyte", "DC", "Platelet", "pDC")


def make_cite_seq(n_samples=2000, n_genes=200, n_proteins=20, n_cell_types=6, n_latent=5,
                  rna_only_fraction=0.3, library_size=2000.0, library_spread=0.4,
                  gene_dispersion=2.0, protein_background=20.0, random_state=None):
    """CITE-seq-like cells: RNA counts with library sizes, protein counts with a background.

    Cells of ``n_cell_types`` types lie in a latent space: a type's centre ``m_k ~ N(0, 4 I)``
    (dimension ``n_latent``), a cell ``z = m_k + N(0, 0.25 I)``. Each modality is a negative
    binomial of the latent:

    * RNA: gene proportions ``rho = softmax(z W + b)`` (``W ~ N(0, 0.64 / n_latent)``,
      ``b ~ N(0, 1)``),
      a library size per cell ``l ~ LogNormal(log library_size, library_spread)``, and
      counts ``NB(mean l * rho, theta_g)`` with per-gene inverse dispersions ``theta_g``
      around ``gene_dispersion`` (log-normal, spread 0.5);
    * protein (antibody-derived tags): a background per protein
      ``beta_p ~ LogNormal(log protein_background, 0.5)`` in every cell (ambient and unbound
      antibodies, as in totalVI) plus a foreground ``exp(a_p + z v_p)`` on the cells that
      express it (``v_p ~ N(0, 0.36 / n_latent)``, ``a_p ~ N(3, 0.5^2)``), with NB noise of inverse
      dispersion 10.

    A fraction ``rna_only_fraction`` of the cells, chosen at random, was measured by RNA
    only: their protein row is NaN in ``data`` (the truth keeps it).

    Parameters
    ----------
    n_samples : int, default=2000
        Number of cells.
    n_genes, n_proteins : int, default=200, 20
        Number of genes and of proteins.
    n_cell_types : int, default=6
        Number of cell types (at most 8 are named, the others ``"type<k>"``).
    n_latent : int, default=5
        Dimension of the latent space of the cells.
    rna_only_fraction : float, default=0.3
        Fraction of cells whose proteins are missing, in [0, 1).
    library_size : float, default=2000.0
        Median RNA library size (total count per cell).
    library_spread : float, default=0.4
        Standard deviation of the log library size (>= 0).
    gene_dispersion : float, default=2.0
        Typical inverse dispersion of the genes (> 0; smaller is noisier).
    protein_background : float, default=20.0
        Typical background count of a protein (> 0).
    random_state : int, RandomState instance or None, default=None
        Seed or generator for all random draws.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``: the dict ``{"rna": (n, n_genes), "protein": (n, n_proteins)}`` of float
        counts, the protein rows of RNA-only cells NaN; ``truth``: the same without NaN;
        ``protein_mean``: the expected protein counts (background plus foreground);
        ``cell_type``: the type names (object array (n,)); ``latent``: ``z`` (n, n_latent);
        ``library_size``: the RNA library sizes ``l`` (n,); ``rna_only``: boolean (n,);
        ``gene_names`` and ``protein_names``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae.datasets import make_cite_seq
    >>> cells = make_cite_seq(n_samples=300, n_genes=50, n_proteins=10, random_state=0)
    >>> cells.data["rna"].shape, cells.data["protein"].shape
    ((300, 50), (300, 10))
    >>> int(cells.rna_only.sum()), bool(np.isnan(cells.data["protein"][cells.rna_only]).all())
    (90, True)
    >>> sorted(set(cells.cell_type))
    ['B', 'CD4 T', 'CD8 T', 'DC', 'Monocyte', 'NK']
    """
    n_samples = _check_int("n_samples", n_samples, 1)
    n_genes = _check_int("n_genes", n_genes, 2)
    n_proteins = _check_int("n_proteins", n_proteins, 1)
    n_cell_types = _check_int("n_cell_types", n_cell_types, 1)
    n_latent = _check_int("n_latent", n_latent, 1)
    rna_only_fraction = _check_float("rna_only_fraction", rna_only_fraction, 0.0, 1.0)
    if rna_only_fraction >= 1:
        raise ValueError(f"rna_only_fraction must be < 1 (some cells need proteins), got {rna_only_fraction}")
    library_size = _check_float("library_size", library_size, minimum=0.0)
    library_spread = _check_float("library_spread", library_spread, minimum=0.0)
    gene_dispersion = _check_float("gene_dispersion", gene_dispersion, minimum=0.0)
    protein_background = _check_float("protein_background", protein_background, minimum=0.0)
    for name, value in (("library_size", library_size), ("gene_dispersion", gene_dispersion),
                        ("protein_background", protein_background)):
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    rng = check_random_state(random_state)

    names = np.array([_CELL_TYPES[k] if k < len(_CELL_TYPES) else f"type{k}"
                      for k in range(n_cell_types)], dtype=object)
    centres = 2.0 * rng.standard_normal((n_cell_types, n_latent))
    types = rng.randint(n_cell_types, size=n_samples)
    z = centres[types] + 0.5 * rng.standard_normal((n_samples, n_latent))

    logits = z @ (0.8 / np.sqrt(n_latent) * rng.standard_normal((n_latent, n_genes))) + rng.standard_normal(n_genes)
    rho = np.exp(logits - logits.max(1, keepdims=True))
    rho /= rho.sum(1, keepdims=True)
    library = np.exp(np.log(library_size) + library_spread * rng.standard_normal(n_samples))
    theta_genes = gene_dispersion * np.exp(0.5 * rng.standard_normal(n_genes))
    rna = _negative_binomial(library[:, None] * rho, theta_genes, rng)

    background = protein_background * np.exp(0.5 * rng.standard_normal(n_proteins))
    foreground = np.exp(3.0 + 0.5 * rng.standard_normal(n_proteins)
                        + z @ (0.6 / np.sqrt(n_latent) * rng.standard_normal((n_latent, n_proteins))))
    protein_mean = background + foreground
    protein = _negative_binomial(protein_mean, 10.0, rng)

    rna_only = np.zeros(n_samples, dtype=bool)
    rna_only[rng.permutation(n_samples)[: int(round(rna_only_fraction * n_samples))]] = True
    observed_protein = protein.copy()
    observed_protein[rna_only] = np.nan
    return Bunch(
        data={"rna": rna.copy(), "protein": observed_protein},
        truth={"rna": rna, "protein": protein},
        protein_mean=protein_mean,
        cell_type=names[types],
        latent=z,
        library_size=library,
        rna_only=rna_only,
        gene_names=[f"gene{j}" for j in range(n_genes)],
        protein_names=[f"protein{j}" for j in range(n_proteins)],
    )


def _negative_binomial(mean, theta, rng):
    """Negative binomial counts (float) of ``mean`` and inverse dispersion ``theta``, as a
    gamma-Poisson mixture."""
    theta = np.broadcast_to(theta, mean.shape)
    return rng.poisson(rng.gamma(theta, mean / theta)).astype(np.float64)
