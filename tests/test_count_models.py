"""The estimator with the count likelihoods: missing rows and cells, library sizes of the
imputations, draws for the imputer, standardize=False and errors before training."""
import numpy as np
import pytest

from skmmvae import MultiModalImputer, MultiModalVAE

from conftest import SMALL

FAST = {**SMALL, "early_stopping": False}


def make_counts(n=90, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    library = rng.lognormal(5.0, 0.4, size=(n, 1))
    proportions = np.exp(z @ rng.normal(size=(2, 6)))
    proportions /= proportions.sum(1, keepdims=True)
    rna = rng.poisson(rng.gamma(2.0, library * proportions / 2.0)).astype(float)
    protein = rng.poisson(np.exp(1.0 + z @ rng.normal(size=(2, 3)))).astype(float)
    rna[80:] = np.nan  # rna missing in 10 rows
    protein[:20] = np.nan  # protein missing in 20 rows
    rna[60:70, [1, 4]] = np.nan  # missing cells
    return {"rna": rna, "protein": protein}


def _missing_rows(X, name):
    return np.isnan(X[name]).all(1)


@pytest.mark.parametrize("name", ["negative_binomial", "zinb"])
def test_fit_predict_with_missing_rows_and_cells(name):
    X = make_counts()
    original = {k: v.copy() for k, v in X.items()}
    vae = MultiModalVAE(likelihoods={"rna": name, "protein": name}, **FAST).fit(X)
    out = vae.predict(X)
    for k in X:
        np.testing.assert_array_equal(X[k], original[k])  # user data untouched
        assert np.isfinite(out[k]).all() and (out[k] >= 0).all()
        observed = ~np.isnan(X[k])
        np.testing.assert_array_equal(out[k][observed], X[k][observed])
    assert np.isfinite(vae.score_samples(X)).all()
    # the median library of the complete training rows of rna
    complete = ~np.isnan(X["rna"]).any(1)
    assert float(vae.module_.likelihoods["rna"].default_library) == np.median(X["rna"][complete].sum(1))


def test_library_size_of_imputations():
    """A number: imputed rows of a missing modality sum to it (NB means sum to the library);
    "median": to the median training total; "observed": a row's missing cells take the
    observed total spread by the renormalised proportions, i.e. the "median" imputations
    times observed total / (median - their sum)."""
    X = make_counts()
    missing = _missing_rows(X, "rna")
    fits = {}
    for library_size in (500, "median", "observed"):
        likelihoods = {"rna": ("negative_binomial", {"library_size": library_size}), "protein": "zinb"}
        fits[library_size] = MultiModalVAE(likelihoods=likelihoods, **FAST).fit(X)
    np.testing.assert_allclose(fits[500].predict(X)["rna"][missing].sum(1), 500, rtol=1e-5)
    median = float(fits["median"].module_.likelihoods["rna"].default_library)
    by_median = fits["median"].predict(X)["rna"]
    np.testing.assert_allclose(by_median[missing].sum(1), median, rtol=1e-5)
    # same seed, same weights: only the library of the imputations differs
    by_observed = fits["observed"].predict(X)["rna"]
    np.testing.assert_allclose(by_observed[missing], by_median[missing], rtol=1e-6)
    rows, cells = slice(60, 70), [1, 4]
    observed_total = np.nansum(X["rna"][rows], 1, keepdims=True)
    expected = by_median[rows][:, cells] * observed_total / (median - by_median[rows][:, cells].sum(1, keepdims=True))
    np.testing.assert_allclose(by_observed[rows][:, cells], expected, rtol=1e-4)
    assert not np.allclose(by_observed[rows][:, cells], by_median[rows][:, cells], rtol=1e-2)


def test_imputer_draws_counts():
    X = make_counts()
    imputer = MultiModalImputer(modalities={"rna": 6, "protein": 3}, sample_posterior=True,
                                likelihoods={"rna": "negative_binomial", "protein": "zinb"}, **FAST)
    table = np.hstack([X["rna"], X["protein"]])
    out = imputer.fit(table).transform(table)
    assert np.isfinite(out).all() and (out == np.round(out)).all() and (out >= 0).all()
    np.testing.assert_array_equal(out, imputer.transform(table))  # seeded draws


def test_without_standardize_the_library_is_still_learnt():
    X = make_counts()
    vae = MultiModalVAE(likelihoods={"rna": "negative_binomial"}, standardize=False, **FAST).fit(X)
    complete = ~np.isnan(X["rna"]).any(1)
    assert float(vae.module_.likelihoods["rna"].default_library) == np.median(X["rna"][complete].sum(1))


@pytest.mark.parametrize(
    "likelihoods, bad, exc, match",
    [
        ({"rna": ("zinb", {"library_size": "total"})}, None, ValueError,
         r"modality 'rna': invalid options for the zinb likelihood: library_size must be"),
        ({"rna": ("negative_binomial", {"dispersion": 2})}, None, TypeError,
         r"modality 'rna': unknown option\(s\) \['dispersion'\] for the negative_binomial"),
        ({"rna": "negative_binomial"}, 0.5, ValueError,
         r"modality 'rna': the negative_binomial likelihood needs non-negative integer counts "
         r"\(got non-integer values, e.g. 0.5: pass raw counts"),
        ({"rna": "zinb"}, -3.0, ValueError,
         r"modality 'rna': the zinb likelihood needs non-negative integer counts \(got negative"),
    ],
)
def test_bad_count_input_fails_before_training(likelihoods, bad, exc, match):
    X = make_counts()
    if bad is not None:
        X["rna"][5, 2] = bad
    vae = MultiModalVAE(likelihoods=likelihoods, **FAST)
    with pytest.raises(exc, match=match):
        vae.fit(X)
    assert not hasattr(vae, "module_")


def test_the_poisson_likelihood_takes_the_library_size_offset_too(tmp_path):
    import torch
    from scipy import stats

    from skmmvae.nn import make_likelihood
    from skmmvae.nn.counts import LibraryPoisson
    from skmmvae.nn.likelihoods import Poisson

    assert type(make_likelihood("poisson", 4)) is Poisson  # no offset: as before
    lik = make_likelihood("poisson", 4, library_size="median")
    assert isinstance(lik, LibraryPoisson)
    rng = np.random.default_rng(0)
    params = rng.normal(size=(5, 4))
    x = rng.poisson(4.0, size=(5, 4)).astype(float)
    x[1, 2] = np.nan  # a missing cell: scored on the observed ones, proportions renormalised
    observed = ~np.isnan(x)
    expected = []
    for row, p, seen in zip(x, params, observed):
        proportions = np.exp(p[seen] - p[seen].max())
        proportions /= proportions.sum()
        rate = proportions * row[seen].sum()
        expected.append(stats.poisson.logpmf(row[seen], rate).sum())
    got = lik.log_prob(torch.tensor(params), torch.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)

    X = make_counts()
    spec = {"rna": ("poisson", {"library_size": 1000.0}), "protein": "poisson"}
    vae = MultiModalVAE(likelihoods=spec, **FAST).fit(X)
    assert isinstance(vae.module_.likelihoods["rna"], LibraryPoisson)
    means = vae.inverse_transform(np.zeros((3, vae.n_components)))["rna"]
    np.testing.assert_allclose(means.sum(1), 1000.0, rtol=1e-5)  # imputed at the library given
    vae.save(tmp_path / "model.zip")
    loaded = MultiModalVAE.load(tmp_path / "model.zip")
    np.testing.assert_array_equal(loaded.predict(X)["rna"], vae.predict(X)["rna"])
