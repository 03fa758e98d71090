"""Tests of the data generators and loaders in skmmvae.datasets."""
import numpy as np
import pytest
from scipy.stats import kurtosis
from sklearn.datasets import load_digits

from skmmvae.datasets import (
    load_digits_modalities,
    make_identifiable_bimodal,
    make_identifiable_multimodal,
    make_linear_gaussian,
    quadrants_to_images,
)


def observed_matrix(X):
    """(n, M) availability from NaN rows, asserting blocks are all-NaN or NaN-free."""
    columns = []
    for name, x in X.items():
        nan = np.isnan(x)
        assert np.all(nan.all(axis=1) | ~nan.any(axis=1)), f"{name}: partial NaN rows"
        columns.append(~nan[:, 0])
    return np.column_stack(columns)


def assert_same_dict(a, b):
    assert list(a) == list(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


# --------------------------------------------------------------------------------------------
# make_linear_gaussian
# --------------------------------------------------------------------------------------------
def test_linear_gaussian_shapes_and_dtypes():
    X, Z, params = make_linear_gaussian(n_samples=50, random_state=1, return_params=True)
    assert list(X) == ["m0", "m1", "m2", "m3", "m4"] == params["modalities"]
    assert Z.shape == (50, 30)
    for x, w, b in zip(X.values(), params["W"], params["b"]):
        assert x.dtype == np.float64 and x.shape[0] == 50
        assert 30 <= x.shape[1] < 60
        assert w.shape == (x.shape[1], 30) and b.shape == (x.shape[1],)
    assert params["noise_variance"] == 1.0
    offsets = np.concatenate(params["b"])  # b_s ~ N(0, I)
    assert abs(offsets.mean()) < 0.25 and 0.8 < offsets.std() < 1.2


def test_linear_gaussian_dense_latent_and_two_outputs():
    out = make_linear_gaussian(n_samples=20, n_modalities=3, sparse=False, n_shared=4,
                               dim_range=(6, 9), random_state=0)
    assert len(out) == 2
    X, Z = out
    assert Z.shape == (20, 4) and len(X) == 3
    assert all(6 <= x.shape[1] < 9 for x in X.values())


def test_linear_gaussian_reproducible():
    X1, Z1 = make_linear_gaussian(n_samples=30, random_state=3)
    X2, Z2 = make_linear_gaussian(n_samples=30, random_state=3)
    X3, Z3 = make_linear_gaussian(n_samples=30, random_state=4)
    assert_same_dict(X1, X2)
    np.testing.assert_array_equal(Z1, Z2)
    assert not np.allclose(Z1, Z3)


def test_linear_gaussian_sparse_loading_structure():
    n_shared, n_private, n_mod = 3, 2, 4
    _, _, params = make_linear_gaussian(n_samples=5, n_modalities=n_mod, n_shared=n_shared,
                                        n_private=n_private, dim_range=(8, 12),
                                        random_state=0, return_params=True)
    for s, w in enumerate(params["W"]):
        own = np.zeros(w.shape[1], dtype=bool)
        own[:n_shared] = True  # shared block first
        own[n_shared + s * n_private:n_shared + (s + 1) * n_private] = True
        assert np.all(w[:, ~own] == 0.0)
        assert np.all(np.abs(w[:, own]).sum(axis=0) > 0)
        # loadings are orthonormal columns of one QR factor
        np.testing.assert_allclose(w[:, own].T @ w[:, own], np.eye(own.sum()), atol=1e-12)


def test_linear_gaussian_data_follow_the_model():
    X, Z, params = make_linear_gaussian(n_samples=4000, n_modalities=2, n_shared=2,
                                        n_private=2, dim_range=(6, 8), noise_variance=0.5,
                                        random_state=0, return_params=True)
    for x, w, b in zip(X.values(), params["W"], params["b"]):
        residual = x - Z @ w.T - b
        assert abs(residual.var() - 0.5) < 0.03
        assert np.abs(residual.mean(axis=0)).max() < 0.05


def test_linear_gaussian_covariance_matches_model():
    X, _, params = make_linear_gaussian(n_samples=20000, n_modalities=2, n_shared=2,
                                        n_private=2, dim_range=(10, 14), random_state=1,
                                        return_params=True)
    x = np.hstack(list(X.values()))
    W = np.vstack(params["W"])
    expected = W @ W.T + params["noise_variance"] * np.eye(W.shape[0])
    np.testing.assert_allclose(np.cov(x, rowvar=False), expected, atol=0.1)
    np.testing.assert_allclose(x.mean(axis=0), np.concatenate(params["b"]), atol=0.05)


@pytest.mark.parametrize("kwargs, error", [
    ({"n_samples": 0}, ValueError),
    ({"n_samples": 2.5}, TypeError),
    ({"noise_variance": -1.0}, ValueError),
    ({"dim_range": (5, 60)}, ValueError),  # fewer dims than the 10 loaded latents
    ({"dim_range": (40, 40)}, ValueError),
    ({"dim_range": "wide"}, TypeError),
    ({"n_shared": 0, "sparse": False}, ValueError),
])
def test_linear_gaussian_validation(kwargs, error):
    with pytest.raises(error):
        make_linear_gaussian(**kwargs)


# --------------------------------------------------------------------------------------------
# make_identifiable_bimodal
# --------------------------------------------------------------------------------------------
def test_bimodal_shapes_dtypes_and_segments():
    X, Z, U = make_identifiable_bimodal(n_samples=103, n_segments=5, random_state=0)
    assert list(X) == ["u", "x"]
    assert X["u"].shape == (100, 1) and X["u"].dtype == np.int64
    assert X["x"].shape == (100, 2) and X["x"].dtype == np.float64
    assert Z.shape == (100, 2) and U.shape == (100,) and U.dtype == np.int64
    np.testing.assert_array_equal(X["u"][:, 0], U)
    np.testing.assert_array_equal(np.bincount(U), [20] * 5)
    assert not np.all(np.diff(U) >= 0), "rows should be shuffled"


def test_bimodal_reproducible():
    a = make_identifiable_bimodal(n_samples=50, random_state=7)
    b = make_identifiable_bimodal(n_samples=50, random_state=7)
    c = make_identifiable_bimodal(n_samples=50, random_state=8)
    assert_same_dict(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[1], c[1])


def test_bimodal_noise_and_mixing():
    kwargs = dict(n_samples=4000, random_state=3)
    X0, Z0, _ = make_identifiable_bimodal(noise_std=0.0, **kwargs)
    X1, Z1, _ = make_identifiable_bimodal(noise_std=0.1, **kwargs)
    np.testing.assert_array_equal(Z0, Z1)  # same sources, only the noise differs
    eps = (X1["x"] - X0["x"]) / 0.1
    assert abs(eps.std() - 1.0) < 0.05 and abs(eps.mean()) < 0.05
    # A orthogonal and lrelu slope 0.1: 0.1 |s| <= |A lrelu(A s)| <= |s|
    ratio = np.linalg.norm(X0["x"], axis=1) / np.linalg.norm(Z0, axis=1)
    assert np.all(ratio <= 1 + 1e-9) and np.all(ratio >= 0.1 - 1e-9)


def test_bimodal_source_segment_statistics():
    _, Z, U = make_identifiable_bimodal(n_samples=10000, random_state=0)
    for k in range(5):
        zk = Z[U == k]
        assert np.all(np.abs(zk.mean(axis=0)) < 5.3)
        assert np.all((zk.std(axis=0) > 0.45) & (zk.std(axis=0) < 3.2))


def test_bimodal_too_few_samples():
    with pytest.raises(ValueError, match="n_segments"):
        make_identifiable_bimodal(n_samples=3, n_segments=5)


# --------------------------------------------------------------------------------------------
# make_identifiable_multimodal
# --------------------------------------------------------------------------------------------
def test_multimodal_shapes_and_missingness():
    X, Z, U = make_identifiable_multimodal(n_samples=2000, random_state=0)
    assert list(X) == ["m0", "m1", "m2", "m3"]
    assert all(x.shape == (2000, 25) and x.dtype == np.float64 for x in X.values())
    assert Z.shape == (2000, 10) and U.shape == (2000,) and U.dtype == np.int64
    observed = observed_matrix(X)  # also checks whole-row NaN blocks
    assert observed.any(axis=1).all()
    assert abs(observed.mean() - 0.5) <= 0.005
    assert not observed.all(axis=1).all() and observed.sum(axis=1).max() > 1


@pytest.mark.parametrize("missing_rate", [0.0, 0.3, 0.75])
def test_multimodal_observed_fraction(missing_rate):
    X, _, _ = make_identifiable_multimodal(n_samples=1000, missing_rate=missing_rate,
                                           random_state=1)
    observed = observed_matrix(X)
    assert observed.any(axis=1).all()
    assert abs(observed.mean() - (1 - missing_rate)) <= 0.005
    if missing_rate == 0.0:
        assert not any(np.isnan(x).any() for x in X.values())
    if missing_rate == 0.75:  # the maximum for 4 modalities: exactly one each
        np.testing.assert_array_equal(observed.sum(axis=1), 1)


def test_multimodal_reproducible():
    a = make_identifiable_multimodal(n_samples=100, random_state=5)
    b = make_identifiable_multimodal(n_samples=100, random_state=5)
    c = make_identifiable_multimodal(n_samples=100, random_state=6)
    assert_same_dict(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[1], c[1])


def test_multimodal_shuffle_is_a_row_permutation():
    kwargs = dict(n_samples=500, n_modalities=3, n_features=6, n_latent=3, random_state=2)
    X0, Z0, U0 = make_identifiable_multimodal(shuffle=False, **kwargs)
    X1, Z1, U1 = make_identifiable_multimodal(shuffle=True, **kwargs)
    assert np.all(np.diff(U0) >= 0), "unshuffled data are segment-ordered"
    assert not np.all(np.diff(U1) >= 0)
    order0, order1 = np.lexsort(Z0.T), np.lexsort(Z1.T)
    np.testing.assert_array_equal(Z0[order0], Z1[order1])
    np.testing.assert_array_equal(U0[order0], U1[order1])
    for name in X0:
        np.testing.assert_array_equal(X0[name][order0], X1[name][order1])


def test_multimodal_noise_is_additive_and_views_differ():
    kwargs = dict(n_samples=600, missing_rate=0.0, random_state=4, shuffle=False)
    X0, Z, _ = make_identifiable_multimodal(noise_std=0.0, **kwargs)
    X1, _, _ = make_identifiable_multimodal(noise_std=0.5, **kwargs)
    eps = (X1["m2"] - X0["m2"]) / 0.5
    assert abs(eps.std() - 1.0) < 0.05
    # every modality has its own mixing matrices
    assert not np.allclose(X0["m0"], X0["m1"])


def test_multimodal_laplace_sources_are_heavier_tailed():
    kw = dict(n_samples=20000, n_segments=1, n_modalities=1, missing_rate=0.0,
              random_state=0)
    _, Zg, _ = make_identifiable_multimodal(family="gaussian", **kw)
    _, Zl, _ = make_identifiable_multimodal(family="laplace", **kw)
    assert np.all(np.abs(kurtosis(Zg, axis=0)) < 0.3)
    assert np.all(np.abs(kurtosis(Zl, axis=0) - 3.0) < 1.0)


@pytest.mark.parametrize("kwargs, error", [
    ({"missing_rate": 0.8}, ValueError),  # > 1 - 1/4
    ({"missing_rate": -0.1}, ValueError),
    ({"n_modalities": 1, "missing_rate": 0.2}, ValueError),
    ({"family": "cauchy"}, ValueError),
    ({"n_samples": 4, "n_segments": 5}, ValueError),
    ({"n_features": "25"}, TypeError),
])
def test_multimodal_validation(kwargs, error):
    with pytest.raises(error):
        make_identifiable_multimodal(**{"n_samples": 50, **kwargs})


# --------------------------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------------------------
def test_digits_modalities_content():
    X, y = load_digits_modalities(return_X_y=True)
    raw = load_digits()
    assert list(X) == ["top_left", "top_right", "bottom_left", "bottom_right", "label"]
    np.testing.assert_array_equal(y, raw.target)
    assert X["label"].shape == (1797, 1) and X["label"].dtype == np.int64
    np.testing.assert_array_equal(X["label"][:, 0], y)
    for name in ["top_left", "top_right", "bottom_left", "bottom_right"]:
        assert X[name].shape == (1797, 16) and X[name].dtype == np.float64
        assert X[name].min() >= 0.0 and X[name].max() <= 1.0
    # independent slicing of the raw images
    np.testing.assert_array_equal(X["top_right"][5], raw.images[5, :4, 4:].ravel() / 16)
    np.testing.assert_array_equal(X["bottom_left"][9], raw.images[9, 4:, :4].ravel() / 16)


def test_digits_quadrants_reassemble_exactly():
    bunch = load_digits_modalities()
    images = quadrants_to_images(bunch.data)
    np.testing.assert_array_equal(images, load_digits().images / 16.0)
    np.testing.assert_array_equal(images, bunch.images)
    assert bunch.modality_shapes == {name: (4, 4) for name in
                                     ["top_left", "top_right", "bottom_left", "bottom_right"]}
    np.testing.assert_array_equal(bunch.target, load_digits().target)
    assert "quadrant" in bunch.DESCR


def test_quadrants_to_images_keeps_nan_rows():
    X, _ = load_digits_modalities(return_X_y=True)
    X = {name: x[:3].copy() for name, x in X.items()}
    X["top_left"][1] = np.nan
    images = quadrants_to_images(X)
    assert np.isnan(images[1, :4, :4]).all()
    assert not np.isnan(images[1, 4:, :]).any() and not np.isnan(images[0]).any()


def test_quadrants_to_images_validation():
    X, _ = load_digits_modalities(return_X_y=True)
    with pytest.raises(ValueError, match="top_left"):
        quadrants_to_images({k: v for k, v in X.items() if k != "top_left"})
    with pytest.raises(ValueError, match="shape"):
        quadrants_to_images({**X, "top_right": X["top_right"][:, :8]})
    with pytest.raises(TypeError):
        quadrants_to_images(np.zeros((3, 64)))


def test_digits_as_frame():
    pd = pytest.importorskip("pandas")
    X, y = load_digits_modalities(return_X_y=True, as_frame=True)
    assert isinstance(y, pd.Series)
    assert isinstance(X["bottom_right"], pd.DataFrame)
    assert list(X["bottom_right"].columns[:2]) == ["pixel_4_4", "pixel_4_5"]
    assert list(X["label"].columns) == ["label"]
    np.testing.assert_array_equal(quadrants_to_images(X), load_digits().images / 16.0)


def test_make_cite_seq_counts_libraries_and_missing_proteins():
    from skmmvae.datasets import make_cite_seq

    cells = make_cite_seq(n_samples=3000, n_genes=40, n_proteins=6, n_cell_types=4,
                          rna_only_fraction=0.25, library_size=500.0, library_spread=0.3, random_state=1)
    rna, protein = cells.data["rna"], cells.data["protein"]
    assert rna.shape == (3000, 40) and protein.shape == (3000, 6)
    for counts in (rna, cells.truth["protein"]):
        assert (counts >= 0).all() and (counts == np.round(counts)).all()
    assert cells.rna_only.sum() == 750
    assert np.isnan(protein[cells.rna_only]).all() and not np.isnan(protein[~cells.rna_only]).any()
    np.testing.assert_array_equal(protein[~cells.rna_only], cells.truth["protein"][~cells.rna_only])
    # the library sizes: log-normal about the median asked for; the RNA totals follow them
    assert abs(np.log(np.median(cells.library_size)) - np.log(500.0)) < 0.05
    assert abs(np.std(np.log(cells.library_size)) - 0.3) < 0.03
    assert abs(np.mean(rna.sum(1) / cells.library_size) - 1) < 0.05  # the proportions sum to 1
    assert np.corrcoef(np.log1p(rna.sum(1)), np.log(cells.library_size))[0, 1] > 0.5
    # proteins: the background is a floor of every cell's expected counts
    assert (cells.protein_mean > 0).all()
    assert abs(cells.truth["protein"].mean() - cells.protein_mean.mean()) < 0.05 * cells.protein_mean.mean()
    assert set(cells.cell_type) == {"B", "CD4 T", "CD8 T", "NK"}
    again = make_cite_seq(n_samples=3000, n_genes=40, n_proteins=6, n_cell_types=4,
                          rna_only_fraction=0.25, library_size=500.0, library_spread=0.3, random_state=1)
    np.testing.assert_array_equal(again.data["rna"], rna)


@pytest.mark.parametrize("kwargs, exc", [({"rna_only_fraction": 1.0}, ValueError),
                                         ({"library_size": 0.0}, ValueError),
                                         ({"n_genes": 1}, ValueError),
                                         ({"n_samples": 2.5}, TypeError)])
def test_make_cite_seq_checks_its_arguments(kwargs, exc):
    from skmmvae.datasets import make_cite_seq

    with pytest.raises(exc):
        make_cite_seq(**kwargs)
