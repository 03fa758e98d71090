"""Missing values anywhere: a NaN in an observed row is a missing cell, not an error.

A row of NaN in a block is a missing modality (as before); any other NaN is a missing cell.
The encoders of a modality with missing cells at fit see the mask of observed cells, every
likelihood scores the observed cells only, ``predict``/``MultiModalImputer.transform`` fill
every NaN and return observed cells bit-identical, and ``sample_posterior=True`` draws the
imputations from the model's conditional.
"""
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from conftest import NO_STOPPING
import torch
from sklearn.base import clone

from skmmvae import MultiModalImputer, MultiModalVAE
from skmmvae.estimator import MultiModalVAE as _VAE

FAST = NO_STOPPING
pytestmark = pytest.mark.usefixtures("quiet")


def _correlated(n=200, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    a = z @ rng.normal(size=(2, 4)) + 0.1 * rng.normal(size=(n, 4))
    b = np.tanh(z @ rng.normal(size=(2, 3))) + 0.1 * rng.normal(size=(n, 3))
    return a, b


def _every_pattern(a, b):
    """One cell, a whole block row, a feature missing in many rows, all in one data set."""
    a, b = a.copy(), b.copy()
    a[0, 1] = np.nan                  # a single cell
    b[1] = np.nan                     # a missing modality
    a[2:60:3, 3] = np.nan             # a feature missing in some rows
    b[5, [0, 2]] = np.nan             # two cells of a row
    a[7] = np.nan                     # a row missing in a, with a cell missing in b
    b[7, 1] = np.nan
    return a, b


def test_any_nan_pattern_is_data_and_predict_fills_every_nan():
    a, b = _every_pattern(*_correlated())
    X = {"a": a, "b": b}
    before = {k: v.copy() for k, v in X.items()}
    vae = MultiModalVAE(**FAST).fit(X)
    assert [m.missing_cells for m in vae._schema.modalities] == [True, True]
    out = vae.predict(X)
    for name in X:
        observed = ~np.isnan(X[name])
        assert not np.isnan(out[name]).any()
        assert np.array_equal(out[name][observed], X[name][observed])  # bit-identical
        np.testing.assert_array_equal(X[name], before[name])  # the user's data untouched
    assert np.isfinite(vae.score_samples(X)).all()
    assert np.isfinite(vae.transform(X)).all()


@pytest.mark.parametrize("container", ["array", "frame"])
def test_a_2d_array_with_scattered_nan_is_a_one_modality_imputer(container):
    a, b = _correlated()
    X = np.hstack([a, b])
    rng = np.random.default_rng(1)
    X[rng.random(X.shape) < 0.2] = np.nan
    X_in = pd.DataFrame(X, columns=[f"f{i}" for i in range(7)]) if container == "frame" else X
    imputer = MultiModalImputer(**FAST).fit(X_in)
    assert imputer.modality_names_ == ["x"] and imputer._schema.modalities[0].missing_cells
    out = imputer.transform(X_in)
    values = np.asarray(out)
    observed = ~np.isnan(X)
    assert not np.isnan(values).any() and np.array_equal(values[observed], X[observed])
    if container == "frame":
        assert list(out.columns) == list(X_in.columns) and out.index.equals(X_in.index)


def test_the_encoder_of_a_modality_with_missing_cells_sees_the_cell_mask():
    a, b = _correlated()
    a_holes = a.copy()
    a_holes[::4, 0] = np.nan
    vae = MultiModalVAE(**FAST).fit({"a": a_holes, "b": b})
    encoders = vae.module_.encoders
    # modality a: 4 standardised values and 4 observed flags; b has no missing cells
    assert encoders[0][0].in_features == 8 and encoders[1][0].in_features == 3
    complete = MultiModalVAE(**FAST).fit({"a": a, "b": b})
    assert complete.module_.encoders[0][0].in_features == 4


def test_cells_missing_at_predict_only_are_filled_too():
    a, b = _correlated()
    vae = MultiModalVAE(**FAST).fit({"a": a, "b": b})  # no missing cells at fit
    assert not any(m.missing_cells for m in vae._schema.modalities)
    holes = a.copy()
    holes[:10, 2] = np.nan
    out = vae.predict({"a": holes, "b": b})
    assert not np.isnan(out["a"]).any() and np.array_equal(out["a"][10:], a[10:])
    assert np.isfinite(vae.score_samples({"a": holes, "b": b})).all()


def test_score_samples_scores_the_observed_cells_only():
    """log p(x_obs) of a row does not depend on what stands in its missing cells: scoring a
    row whose cell is NaN equals scoring it with the cell's feature removed from the
    likelihood (computed here by hand through the module, per cell, with the same draws)."""
    a, b = _every_pattern(*_correlated())
    vae = MultiModalVAE(**FAST, n_importance_samples=8).fit({"a": a, "b": b})
    rows = {"a": a[:12], "b": b[:12]}
    got = vae.score_samples(rows)
    # independent: the same estimate with log-densities summed over the observed cells by
    # hand (torch.distributions.Normal per cell), the draws seeded as score_samples seeds them
    tensors, _ = vae._tensors(rows)
    batch, n = vae._padded(tensors.rows(torch.arange(len(tensors))))
    module = vae.module_.eval()
    from skmmvae._runtime import module_device, seeded

    device = module_device(module)
    batch = batch.to(device)
    with torch.no_grad(), seeded(vae._seed, device):
        q = module.encode(batch.xs, batch.mask)
        z = q.sample_common(8) if hasattr(q, "sample_common") else q.sample(8)
        log_w = module.prior.log_prob(z) - q.log_prob(z)
        for s, (x, lik) in enumerate(zip(batch.xs, module.likelihoods.values())):
            params = module.decode(z, s)
            normal = torch.distributions.Normal(lik.location(params), lik.scale)
            cells = normal.log_prob(torch.nan_to_num(x))
            observed = ~torch.isnan(x) & batch.mask[:, s, None]
            log_w = log_w + torch.where(observed, cells, torch.zeros((), device=device)).sum(-1)
        expected = (torch.logsumexp(log_w, 0) - np.log(8))[:n].double().cpu().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_imputations_of_correlated_cells_beat_the_column_mean():
    a, b = _correlated(400)
    X = np.hstack([a, b])
    rng = np.random.default_rng(2)
    holes = rng.random(X.shape) < 0.3
    X_holes = np.where(holes, np.nan, X)
    imputer = MultiModalImputer(n_components=2, max_epochs=60, random_state=0).fit(X_holes)
    err = ((imputer.transform(X_holes) - X)[holes] ** 2).mean()
    mean_err = ((np.nanmean(X_holes, 0) - X)[holes] ** 2).mean()
    assert err < 0.5 * mean_err


def test_sample_posterior_draws_reproducible_multiple_imputations():
    a, b = _correlated()
    X = np.hstack([a, b])
    X[np.random.default_rng(3).random(X.shape) < 0.2] = np.nan
    observed = ~np.isnan(X)
    mean = MultiModalImputer(**FAST).fit(X)
    draws = MultiModalImputer(**FAST, sample_posterior=True).fit(X)
    other = clone(draws).set_params(random_state=1).fit(X)
    d0, d1 = draws.transform(X), other.transform(X)
    assert np.array_equal(d0, draws.transform(X))  # seeded: the same X, the same draws
    assert not np.array_equal(d0[~observed], d1[~observed])
    assert not np.allclose(d0[~observed], mean.transform(X)[~observed])
    for d in (d0, d1):
        assert np.array_equal(d[observed], X[observed]) and np.isfinite(d).all()


def test_sample_posterior_draws_lie_in_each_likelihoods_support():
    rng = np.random.default_rng(4)
    n = 150
    X = {
        "binary": rng.integers(0, 2, size=(n, 5)).astype(float),
        "counts": rng.poisson(3.0, size=(n, 4)).astype(float),
        "label": rng.integers(0, 3, size=(n, 1)).astype(float),
    }
    X["binary"][rng.random((n, 5)) < 0.2] = np.nan   # missing cells
    X["counts"][rng.random((n, 4)) < 0.2] = np.nan
    X["label"][:30] = np.nan                          # missing labels
    likelihoods = {"binary": "bernoulli", "counts": "poisson", "label": "categorical"}
    for draw in (False, True):
        out = MultiModalImputer(likelihoods=likelihoods, sample_posterior=draw, **FAST).fit(X).transform(X)
        assert set(np.unique(out["label"])) <= {0.0, 1.0, 2.0}
        assert np.isfinite(out["counts"]).all() and (out["counts"] >= 0).all()
        if draw:
            assert set(np.unique(out["binary"])) <= {0.0, 1.0}
            assert (out["counts"] == np.round(out["counts"])).all()
        else:
            assert ((out["binary"] >= 0) & (out["binary"] <= 1)).all()
        for name in X:
            observed = ~np.isnan(X[name])
            assert np.array_equal(out[name][observed], X[name][observed])


def test_inf_and_partly_missing_one_hot_rows_are_still_errors():
    a, b = _correlated()
    inf = a.copy()
    inf[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"modality 'a': rows \[3\] contain inf"):
        MultiModalVAE(**FAST).fit({"a": inf, "b": b})
    one_hot = np.eye(3)[np.arange(200) % 3]
    one_hot[4, 0] = np.nan
    with pytest.raises(ValueError, match=r"modality 'y': one-hot rows \[4\] are partly NaN"):
        MultiModalVAE(likelihoods={"y": "categorical"}, **FAST).fit({"a": a, "y": one_hot})
    counts = np.abs(np.round(b * 3))
    counts[5, 0] = np.nan  # a missing cell is not a bad count
    MultiModalVAE(likelihoods={"c": "poisson"}, **FAST).fit({"a": a, "c": counts})


def test_allow_nan_tag():
    assert MultiModalVAE().__sklearn_tags__().input_tags.allow_nan
    assert MultiModalImputer().__sklearn_tags__().input_tags.allow_nan


def test_the_imputer_takes_every_parameter_of_the_vae_plus_sample_posterior():
    assert set(MultiModalImputer().get_params()) == set(_VAE().get_params()) | {"sample_posterior"}
    assert MultiModalImputer(n_components=3).get_params()["n_components"] == 3


def test_save_load_keeps_the_cell_mask_and_old_files_without_it_load(tmp_path):
    a, b = _every_pattern(*_correlated())
    X = {"a": a, "b": b}
    vae = MultiModalVAE(**FAST).fit(X)
    path = tmp_path / "model.skmmvae"
    vae.save(path)
    loaded = MultiModalVAE.load(path)
    assert np.array_equal(loaded.predict(X)["a"], vae.predict(X)["a"])
    # a file written before the field existed: a model without missing cells
    complete = MultiModalVAE(**FAST).fit(dict(zip("ab", _correlated())))
    complete.save(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(buffer, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "metadata.json":
                metadata = json.loads(data)
                for info in metadata["schema"]["modalities"]:
                    del info["missing_cells"]
                data = json.dumps(metadata).encode()
            new.writestr(item, data)
    old_path = tmp_path / "old.skmmvae"
    old_path.write_bytes(buffer.getvalue())
    reloaded = MultiModalVAE.load(old_path)
    assert not any(m.missing_cells for m in reloaded._schema.modalities)
    X_c = dict(zip("ab", _correlated()))
    assert np.array_equal(reloaded.transform(X_c), complete.transform(X_c))


def test_the_imputers_latent_draws_are_encode_samples():
    a, b = _correlated()
    X = np.hstack([a, b])
    imputer = MultiModalImputer(**FAST, sample_posterior=True).fit(X)
    draws = imputer.encode_samples(X, n_samples=3)
    assert draws.shape == (3, len(X), FAST["n_components"])
    np.testing.assert_array_equal(draws, MultiModalVAE.sample_posterior(imputer, X, n_samples=3))
    assert imputer.get_params()["sample_posterior"] is True  # the parameter, not the method
