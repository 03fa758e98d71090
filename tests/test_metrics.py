"""Tests of skmmvae.metrics against independent computations."""
import itertools

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from skmmvae.datasets import make_linear_gaussian
from skmmvae.metrics import (
    cross_modal_coherence,
    kl_to_linear_gaussian_posterior,
    linear_gaussian_log_likelihood,
    linear_gaussian_posterior,
    mcc_strong_weak,
    mean_corr_coef,
    ppca_log_likelihood,
    ppca_mle,
    rdc,
)


@pytest.fixture(scope="module")
def small_model():
    """3 modalities, 5 latent dims (2 shared + 3 x 1 private); a copy with 25% missing blocks."""
    X, _, params = make_linear_gaussian(n_samples=60, n_modalities=3, n_shared=2, n_private=1,
                                        dim_range=(3, 6), noise_variance=0.7, random_state=0,
                                        return_params=True)
    rng = np.random.RandomState(1)
    X_missing = {name: x.copy() for name, x in X.items()}
    for x in X_missing.values():
        x[rng.rand(x.shape[0]) < 0.25] = np.nan
    return X, X_missing, params


def stacked(X, params):
    return np.hstack(list(X.values())), np.vstack(params["W"]), np.concatenate(params["b"])


def brute_force_posterior(x_obs, W_obs, b_obs, noise):
    """Condition the joint Gaussian of (z, x_obs) with explicit solves."""
    d = W_obs.shape[1]
    cov_xx = W_obs @ W_obs.T + noise * np.eye(W_obs.shape[0])
    gain = np.linalg.solve(cov_xx, W_obs).T  # Sigma_zx Sigma_xx^{-1}
    return gain @ (x_obs - b_obs), np.eye(d) - gain @ W_obs


# --------------------------------------------------------------------------------------------
# MCC and RDC
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["pearson", "spearman", "rdc"])
def test_mcc_is_one_for_permuted_flipped_scaled_copy(method):
    z = np.random.RandomState(0).standard_normal((1000, 4))
    z_est = z[:, [2, 0, 3, 1]] * np.array([-3.0, 0.5, 2.0, -0.1]) + 7.0
    mcc = mean_corr_coef(z, z_est, method=method, random_state=0)
    assert mcc == pytest.approx(1.0, abs=1e-9 if method != "rdc" else 1e-6)


@pytest.mark.parametrize("method", ["pearson", "spearman", "rdc"])
def test_mcc_is_low_for_independent_noise(method):
    rng = np.random.RandomState(1)
    mcc = mean_corr_coef(rng.randn(2000, 3), rng.randn(2000, 3), method=method,
                         random_state=0)
    assert mcc < (0.06 if method != "rdc" else 0.15)


def test_mcc_matches_brute_force_over_permutations():
    rng = np.random.RandomState(2)
    z = rng.randn(300, 4)
    z_est = z @ rng.randn(4, 4) + rng.randn(300, 4)
    corr = np.abs(np.corrcoef(z.T, z_est.T)[:4, 4:])
    best = max(np.mean(corr[range(4), perm]) for perm in itertools.permutations(range(4)))
    assert mean_corr_coef(z, z_est) == pytest.approx(best, rel=1e-12)


def test_mcc_rectangular_and_monotone_invariance():
    rng = np.random.RandomState(3)
    z = rng.randn(500, 2)
    z_est = np.column_stack([rng.randn(500), np.exp(z[:, 1]), z[:, 0] ** 3])
    assert mean_corr_coef(z, z_est, method="spearman") == pytest.approx(1.0)
    assert mean_corr_coef(z, z_est, method="pearson") < 0.95


def test_mcc_validation():
    with pytest.raises(ValueError, match="method"):
        mean_corr_coef(np.ones((5, 2)), np.ones((5, 2)), method="kendall")
    with pytest.raises(ValueError, match="same number of samples"):
        mean_corr_coef(np.ones((5, 2)), np.ones((6, 2)))
    with pytest.raises(ValueError, match="NaN"):
        mean_corr_coef(np.full((5, 2), np.nan), np.ones((5, 2)))


def test_rdc_detects_nonlinear_dependence():
    rng = np.random.RandomState(0)
    x = rng.uniform(-3, 3, 2000)
    assert rdc(x, np.sin(x), random_state=0) > 0.95
    assert rdc(x, x**2 + 0.1 * rng.randn(2000), random_state=0) > 0.9
    assert rdc(x, rng.randn(2000), random_state=0) < 0.15
    assert abs(np.corrcoef(x, x**2)[0, 1]) < 0.1  # ... where Pearson sees nothing


def test_rdc_is_rank_based_and_reproducible():
    rng = np.random.RandomState(1)
    x, y = rng.randn(500), rng.randn(500)
    y = x + 0.5 * y
    value = rdc(x, y, random_state=3)
    assert value == rdc(np.exp(x), y**3, random_state=3)  # identical ranks, identical RDC
    assert value != rdc(x, y, random_state=4)
    assert 0.0 <= value <= 1.0
    assert rdc(np.ones(50), rng.randn(50), random_state=0) == 0.0


def test_mcc_strong_weak_variants():
    rng = np.random.RandomState(0)
    z = rng.randn(2000, 3)
    perfect = mcc_strong_weak(z, -2.0 * z[:, [1, 2, 0]], random_state=0)
    assert set(perfect) == {"mcc_strong_in", "mcc_strong_out", "mcc_weak_in", "mcc_weak_out"}
    assert all(v == pytest.approx(1.0, abs=1e-6) for v in perfect.values())

    mixed = mcc_strong_weak(z, z @ rng.randn(3, 3), random_state=0)  # linear mixing
    assert mixed["mcc_weak_in"] > 0.99 and mixed["mcc_weak_out"] > 0.99
    assert mixed["mcc_strong_out"] < 0.95

    noise = mcc_strong_weak(z, rng.randn(2000, 3), random_state=0)
    assert all(v < 0.2 for v in noise.values())


def test_mcc_strong_out_uses_the_matching_of_the_first_half():
    """Out-of-sample Pearson MCC computed by hand from the same random split."""
    rng = np.random.RandomState(5)
    z = rng.randn(400, 3)
    z_est = z @ rng.randn(3, 3) + 0.3 * rng.randn(400, 3)
    order = np.random.RandomState(11).permutation(400)
    first, second = order[:200], order[200:]
    corr_first = np.abs(np.corrcoef(z[first].T, z_est[first].T)[:3, 3:])
    perm = max(itertools.permutations(range(3)),
               key=lambda p: corr_first[range(3), list(p)].sum())
    corr_second = np.abs(np.corrcoef(z[second].T, z_est[second].T)[:3, 3:])
    expected = corr_second[range(3), list(perm)].mean()
    result = mcc_strong_weak(z, z_est, random_state=11)
    assert result["mcc_strong_out"] == pytest.approx(expected, rel=1e-12)
    assert result == mcc_strong_weak(z, z_est, random_state=11)


# --------------------------------------------------------------------------------------------
# exact log-likelihood
# --------------------------------------------------------------------------------------------
def test_log_likelihood_matches_scipy_full_data(small_model):
    X, _, params = small_model
    x, W, b = stacked(X, params)
    cov = W @ W.T + params["noise_variance"] * np.eye(W.shape[0])
    expected = multivariate_normal(b, cov).logpdf(x)
    for X_in, W_in, b_in in [(X, params["W"], params["b"]), (x, W, b), (X, W, b),
                             (x, params["W"], params["b"])]:
        ll = linear_gaussian_log_likelihood(X_in, W_in, b_in, params["noise_variance"])
        np.testing.assert_allclose(ll, expected, rtol=1e-10)


def test_log_likelihood_with_missing_blocks(small_model):
    _, X, params = small_model
    x, W, b = stacked(X, params)
    noise = params["noise_variance"]
    ll = linear_gaussian_log_likelihood(X, params["W"], params["b"], noise)
    assert ll.shape == (x.shape[0],)
    for i in range(x.shape[0]):
        obs = ~np.isnan(x[i])
        if not obs.any():
            assert ll[i] == 0.0
            continue
        cov = W[obs] @ W[obs].T + noise * np.eye(obs.sum())
        assert ll[i] == pytest.approx(multivariate_normal(b[obs], cov).logpdf(x[i, obs]),
                                      rel=1e-10)


def test_log_likelihood_prior_cov_and_per_feature_noise():
    rng = np.random.RandomState(0)
    W, b, x = rng.randn(5, 2), rng.randn(5), rng.randn(10, 5)
    prior = np.array([[2.0, 0.3], [0.3, 0.5]])
    noise = rng.uniform(0.2, 1.0, 5)
    expected = multivariate_normal(b, W @ prior @ W.T + np.diag(noise)).logpdf(x)
    ll = linear_gaussian_log_likelihood(x, W, b, noise, prior_cov=prior)
    np.testing.assert_allclose(ll, expected, rtol=1e-10)


def test_log_likelihood_validation(small_model):
    X, _, params = small_model
    with pytest.raises(ValueError, match="positive"):
        linear_gaussian_log_likelihood(X, params["W"], params["b"], 0.0)
    with pytest.raises(ValueError, match="b must have"):
        linear_gaussian_log_likelihood(X, params["W"], params["b"][:2], 1.0)
    with pytest.raises(ValueError, match="features"):
        linear_gaussian_log_likelihood(np.ones((3, 4)), params["W"], params["b"], 1.0)
    x = np.hstack(list(X.values()))
    with pytest.raises(ValueError, match="widths"):
        linear_gaussian_log_likelihood({"a": x[:, :1], "b": x[:, 1:2], "c": x[:, 2:]},
                                       params["W"], params["b"], 1.0)


# --------------------------------------------------------------------------------------------
# PPCA maximum likelihood
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ppca_data():
    X, _, params = make_linear_gaussian(n_samples=800, n_modalities=2, n_shared=2,
                                        n_private=1, dim_range=(5, 8), random_state=3,
                                        return_params=True)
    return X, params


def test_ppca_mle_beats_the_true_parameters(ppca_data):
    X, params = ppca_data
    d = params["W"][0].shape[1]
    ll_mle = ppca_log_likelihood(X, d).sum()
    ll_true = linear_gaussian_log_likelihood(X, params["W"], params["b"], 1.0).sum()
    assert ll_mle >= ll_true
    # ... and any perturbation of the MLE
    mle = ppca_mle(X, d)
    for scale in (0.9, 1.1):
        ll = linear_gaussian_log_likelihood(X, mle["W"] * scale, mle["b"],
                                            mle["noise_variance"]).sum()
        assert ll < ll_mle
        ll = linear_gaussian_log_likelihood(X, mle["W"], mle["b"],
                                            mle["noise_variance"] * scale).sum()
        assert ll < ll_mle


def test_ppca_mle_agrees_with_sklearn_pca(ppca_data):
    X, _ = ppca_data
    x = np.hstack(list(X.values()))
    n = x.shape[0]
    pca = PCA(n_components=3).fit(x)
    mle = ppca_mle(x, 3)
    # sklearn normalises the covariance by n - 1, the MLE by n
    cov_mle = mle["W"] @ mle["W"].T + mle["noise_variance"] * np.eye(x.shape[1])
    np.testing.assert_allclose(cov_mle, pca.get_covariance() * (n - 1) / n, rtol=1e-8,
                               atol=1e-10)
    np.testing.assert_allclose(mle["b"], pca.mean_)
    np.testing.assert_allclose(ppca_log_likelihood(x, 3), pca.score_samples(x), rtol=2e-3)
    # the same likelihood formula with sklearn's parameters reproduces score_samples exactly
    W_sk = pca.components_.T * np.sqrt(pca.explained_variance_ - pca.noise_variance_)
    ll = linear_gaussian_log_likelihood(x, W_sk, pca.mean_, pca.noise_variance_)
    np.testing.assert_allclose(ll, pca.score_samples(x), rtol=1e-10)


def test_ppca_validation():
    x = np.random.RandomState(0).randn(20, 4)
    with pytest.raises(ValueError, match="n_components"):
        ppca_mle(x, 4)
    with pytest.raises(TypeError):
        ppca_mle(x, 1.5)
    x[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ppca_mle(x, 2)


# --------------------------------------------------------------------------------------------
# exact posterior and KL
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("modalities, keep", [
    (None, [0, 1, 2]), ([0], [0]), ([2, 1], [1, 2]), ("m1", [1]), (["m0", 2], [0, 2]),
])
def test_posterior_matches_brute_force_conditioning(small_model, modalities, keep):
    _, X, params = small_model
    x, W, b = stacked(X, params)
    mean, cov = linear_gaussian_posterior(X, params["W"], params["b"],
                                          params["noise_variance"], modalities=modalities)
    assert mean.shape == (x.shape[0], 5) and cov.shape == (x.shape[0], 5, 5)
    widths = [w.shape[0] for w in params["W"]]
    block = np.repeat(np.arange(3), widths)
    for i in range(x.shape[0]):
        obs = ~np.isnan(x[i]) & np.isin(block, keep)
        m_ref, c_ref = brute_force_posterior(x[i, obs], W[obs], b[obs],
                                             params["noise_variance"])
        np.testing.assert_allclose(mean[i], m_ref, atol=1e-10)
        np.testing.assert_allclose(cov[i], c_ref, atol=1e-10)


def test_posterior_single_pattern_is_a_shared_covariance(small_model):
    X, _, params = small_model
    x, W, b = stacked(X, params)
    mean, cov = linear_gaussian_posterior(x, W, b, params["noise_variance"])
    m_ref, c_ref = brute_force_posterior(x[3], W, b, params["noise_variance"])
    np.testing.assert_allclose(cov[0], c_ref, atol=1e-12)
    np.testing.assert_allclose(mean[3], m_ref, atol=1e-12)
    assert cov.shape == (x.shape[0], 5, 5) and np.shares_memory(cov[0], cov[-1])


def test_posterior_of_empty_subset_is_the_prior(small_model):
    _, X, params = small_model
    mean, cov = linear_gaussian_posterior(X, params["W"], params["b"], 1.0, modalities=[])
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_allclose(cov[0], np.eye(5))


def test_posterior_bad_modalities(small_model):
    X, _, params = small_model
    with pytest.raises(ValueError, match="out of range"):
        linear_gaussian_posterior(X, params["W"], params["b"], 1.0, modalities=[3])
    with pytest.raises(ValueError, match="Unknown modality"):
        linear_gaussian_posterior(X, params["W"], params["b"], 1.0, modalities=["rna"])


def test_kl_is_zero_at_the_posterior():
    # orthonormal loadings make the posterior covariance diagonal, so q can equal it
    rng = np.random.RandomState(0)
    q_factor, _ = np.linalg.qr(rng.randn(7, 3))
    W, b, noise = q_factor * np.array([2.0, 1.0, 0.5]), rng.randn(7), 0.8
    x = rng.randn(20, 7)
    mean, cov = linear_gaussian_posterior(x, W, b, noise)
    assert np.allclose(cov[0], np.diag(np.diag(cov[0])), atol=1e-14)
    kl = kl_to_linear_gaussian_posterior(mean, np.diag(cov[0]), x, W, b, noise)
    np.testing.assert_allclose(kl, 0.0, atol=1e-10)
    shifted = kl_to_linear_gaussian_posterior(mean + 0.1, np.diag(cov[0]), x, W, b, noise)
    assert np.all(shifted > 1e-4)


def test_kl_matches_closed_form_and_monte_carlo(small_model):
    _, X, params = small_model
    x, W, b = stacked(X, params)
    noise = params["noise_variance"]
    rng = np.random.RandomState(4)
    q_mean = rng.randn(x.shape[0], 5)
    q_var = rng.uniform(0.1, 1.5, (x.shape[0], 5))
    kl = kl_to_linear_gaussian_posterior(q_mean, q_var, X, params["W"], params["b"], noise,
                                         modalities=[0, 2])
    block = np.repeat(np.arange(3), [w.shape[0] for w in params["W"]])
    for i in range(0, x.shape[0], 7):
        obs = ~np.isnan(x[i]) & np.isin(block, [0, 2])
        m_p, c_p = brute_force_posterior(x[i, obs], W[obs], b[obs], noise)
        # textbook formula with explicit inverses
        inv = np.linalg.inv(c_p)
        diff = m_p - q_mean[i]
        exact = 0.5 * (np.trace(inv @ np.diag(q_var[i])) + diff @ inv @ diff - 5
                       + np.linalg.slogdet(c_p)[1] - np.log(q_var[i]).sum())
        assert kl[i] == pytest.approx(exact, rel=1e-9)
        # Monte Carlo: E_q[log q - log p]
        z = q_mean[i] + np.sqrt(q_var[i]) * rng.randn(20000, 5)
        log_ratio = (multivariate_normal(q_mean[i], np.diag(q_var[i])).logpdf(z)
                     - multivariate_normal(m_p, c_p).logpdf(z))
        assert abs(log_ratio.mean() - kl[i]) < 4 * log_ratio.std() / np.sqrt(z.shape[0]) + 1e-3


def test_kl_validation(small_model):
    X, _, params = small_model
    with pytest.raises(ValueError, match="q_mean must have shape"):
        kl_to_linear_gaussian_posterior(np.zeros((5, 5)), np.ones((5, 5)), X, params["W"],
                                        params["b"], 1.0)
    with pytest.raises(ValueError, match="positive"):
        kl_to_linear_gaussian_posterior(np.zeros((60, 5)), -np.ones((60, 5)), X, params["W"],
                                        params["b"], 1.0)


# --------------------------------------------------------------------------------------------
# coherence
# --------------------------------------------------------------------------------------------
class SumClassifier:
    """A 'classifier' on a dict of modalities: label 1 when the modality sums are positive."""

    def predict(self, X):
        return (X["a"].sum(axis=1) + X["b"].sum(axis=1) > 0).astype(int)


def test_coherence_is_accuracy():
    rng = np.random.RandomState(0)
    x = rng.randn(200, 2)
    y = (x[:, 0] > 0).astype(int)
    clf = LogisticRegression().fit(x, y)
    x_gen = rng.randn(50, 2)
    expected = np.mean(clf.predict(x_gen) == (x_gen[:, 0] > 0))
    assert cross_modal_coherence(clf, x_gen, (x_gen[:, 0] > 0).astype(int)) == expected
    X_gen = {"a": np.array([[1.0], [-2.0], [3.0]]), "b": np.array([[0.5], [0.5], [-4.0]])}
    assert cross_modal_coherence(SumClassifier(), X_gen, [[1], [0], [1]]) == pytest.approx(2 / 3)


def test_coherence_validation():
    with pytest.raises(TypeError, match="predict"):
        cross_modal_coherence(object(), np.zeros((2, 1)), [0, 1])
    clf = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(ValueError, match="predictions"):
        cross_modal_coherence(clf, np.zeros((3, 1)), [0, 1])
