"""The warning at the end of fit where the model predicts a modality from the others no
better than the training rows' column means (``skmmvae._usefulness``)."""
import warnings

import numpy as np
import pytest
import torch

from conftest import make_labelled_data
from skmmvae import MultiModalImputer, MultiModalVAE
from skmmvae._net import validation_split
from skmmvae._usefulness import MIN_USEFULNESS_ROWS, _hidden_cells, usefulness_ratios

SMALL = dict(n_components=2, hidden_layer_sizes=(16,), embedding_size=16, batch_size=64,
             random_state=0)


def _independent(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return {"a": rng.normal(size=(n, 4)), "b": rng.normal(size=(n, 3))}


def _related(n=400, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    return {"a": z @ rng.normal(size=(2, 4)) + 0.1 * rng.normal(size=(n, 4)),
            "b": z @ rng.normal(size=(2, 3)) + 0.1 * rng.normal(size=(n, 3))}


def _useless_warnings(record):
    return [str(w.message) for w in record if "better than the training rows" in str(w.message)]


def test_unrelated_modalities_warn_and_name_the_modalities():
    with pytest.warns(UserWarning, match="less than 5% better than the training rows' column means") as record:
        MultiModalVAE(max_epochs=20, **SMALL).fit(_independent())
    (message,) = _useless_warnings(record)
    assert "'a'" in message and "'b'" in message and "SimpleImputer" in message


def test_related_modalities_do_not_warn():
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        vae = MultiModalVAE(max_epochs=40, **SMALL).fit(_related())
    assert _useless_warnings(record) == []
    # and the check can fail: the same model is far better than the means
    assert all(r < 0.5 for r in usefulness_ratios(vae, vae._tensors(_related())[0]).values())


def test_one_modality_the_others_do_not_predict_is_no_useless_model():
    # a property of the data (the diabetes data's age and sex), not of the model: the ratios
    # say so, and the model, useful for the other modalities, does not warn
    X = _related()
    X["noise"] = np.random.default_rng(5).normal(size=(400, 3))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        vae = MultiModalVAE(max_epochs=40, **SMALL).fit(X)
    assert _useless_warnings(record) == []
    ratios = usefulness_ratios(vae, vae._tensors(X)[0])
    assert ratios["noise"] > 0.95 and ratios["a"] < 0.5 and ratios["b"] < 0.5


def test_the_imputer_warns_too():
    with pytest.warns(UserWarning, match="better than the training rows"):
        MultiModalImputer(max_epochs=20, **SMALL).fit(_independent())


def _hidden_prediction_errors(vae, X):
    """Independent computation with the public API: the validation rows of the fit, each
    modality predicted from the other (predict / predict_proba), against the numpy column
    means (class frequencies) of the training rows."""
    n = len(next(iter(X.values())))
    train, valid = (i.numpy() for i in validation_split(n, vae.validation_fraction, vae._split_seed))
    ratios = {}
    for name in X:
        other = [k for k in X if k != name]
        given = {k: X[k][valid] for k in other}
        given[name] = np.full((len(valid), np.shape(X[name])[1] if np.ndim(X[name]) == 2 else 1), np.nan)
        if X[name].dtype == object:
            given[name] = np.full(len(valid), None, dtype=object)
            classes = np.unique(X[name])
            truth = (X[name][valid][:, None] == classes[None]).astype(float)
            freq = (X[name][train][:, None] == classes[None]).mean(0)
            proba = vae.predict_proba({k: X[k][valid] for k in other}, modality=name)
            model = np.mean(np.sum((proba - truth) ** 2, 1))
            base = np.mean(np.sum((freq - truth) ** 2, 1))
        else:
            truth = X[name][valid]
            sd = X[name][train].std(0)  # the training rows' spread
            predicted = vae.predict(given)[name]
            model = np.mean(((predicted - truth) / sd) ** 2)
            base = np.mean(((X[name][train].mean(0) - truth) / sd) ** 2)
        ratios[name] = model / base
    return ratios


@pytest.mark.parametrize("data", ["related", "labelled"])
def test_ratios_match_an_independent_computation(data):
    X = _related() if data == "related" else make_labelled_data()
    params = dict(SMALL, max_epochs=10)
    if data == "labelled":
        params["likelihoods"] = {"y": "categorical"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vae = MultiModalVAE(**params).fit(X)
    ours = usefulness_ratios(vae, vae._tensors(X)[0])
    expected = _hidden_prediction_errors(vae, X)
    assert set(ours) == set(X)
    for name in X:
        # predict_proba draws importance samples: the same seed, the same draws, but a
        # different batching than the check's; numeric predictions are deterministic
        tol = 0.05 if name == "y" else 1e-4
        assert ours[name] == pytest.approx(expected[name], rel=tol), name


def test_no_check_without_enough_validation_rows():
    X = _independent()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        MultiModalVAE(max_epochs=5, validation_fraction=0.0, early_stopping=False, **SMALL).fit(X)
        # 10% of 290 rows: 29 validation rows, fewer than the check needs
        MultiModalVAE(max_epochs=5, **SMALL).fit({k: v[:290] for k, v in X.items()})
        MultiModalVAE(max_epochs=5, **SMALL).fit({"a": X["a"][:290]})
    assert MIN_USEFULNESS_ROWS == 30
    assert _useless_warnings(record) == []


def test_one_unrelated_modality_alone_is_checked_by_its_cells():
    # a useless model of one modality scores about 1 (0.97 here: the noise of 40 rows),
    # within the 5% the warning allows
    X = {"a": _independent()["a"]}
    with pytest.warns(UserWarning, match="hidden in the validation rows") as record:
        vae = MultiModalVAE(max_epochs=5, **SMALL).fit(X)
    assert "'a'" in _useless_warnings(record)[0]
    assert 0.95 <= usefulness_ratios(vae, vae._tensors(X)[0])["a"] < 1.05


def test_a_modality_never_observed_with_another_in_the_validation_rows_is_left_out():
    X = _independent()
    X["b"][:] = np.nan
    X["b"][:5] = 0.0  # observed in 5 rows only: b never has 30 rows to check on
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vae = MultiModalVAE(max_epochs=3, **SMALL).fit(X)
    assert set(usefulness_ratios(vae, vae._tensors(X)[0])) <= {"a"}


def test_the_check_does_not_convert_the_training_data_again(monkeypatch):
    converted = []
    original = MultiModalVAE._tensors

    def counting(self, X, *args, **kwargs):
        tensors, blocks = original(self, X, *args, **kwargs)
        converted.append(len(tensors))
        return tensors, blocks

    monkeypatch.setattr(MultiModalVAE, "_tensors", counting)
    with pytest.warns(UserWarning, match="5% better"):
        MultiModalVAE(max_epochs=5, **SMALL).fit(_independent())
    assert converted == [400]


def test_an_auto_sized_fit_warns_once():
    with pytest.warns(UserWarning) as record:
        MultiModalVAE(**dict(SMALL, n_components="auto", max_epochs=10)).fit(_independent())
    assert len(_useless_warnings(record)) == 1


def test_the_users_data_are_not_modified():
    X = _independent()
    copy = {k: v.copy() for k, v in X.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MultiModalVAE(max_epochs=3, **SMALL).fit(X)
    for k in X:
        np.testing.assert_array_equal(X[k], copy[k])


def test_counts_imputed_at_a_fixed_library_size_are_no_useless_model():
    # library_size=1e4 (counts per 10,000) trains the model of "median" and imputes at another
    # scale than the data's: compared with the column means of the raw counts as they were,
    # the RNA of a good model was 12 times worse than the means, and fit warned
    from skmmvae.datasets import make_cite_seq

    cells = make_cite_seq(n_samples=400, n_genes=30, n_proteins=8, rna_only_fraction=0.0,
                          random_state=0)
    ratios = {}
    for library in ("median", 1e4):
        likelihoods = {"rna": ("negative_binomial", {"library_size": library}),
                       "protein": ("negative_binomial", {"library_size": None})}
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            vae = MultiModalVAE(likelihoods=likelihoods, max_epochs=20,
                                **dict(SMALL, n_components=5)).fit(cells.data)
        assert _useless_warnings(record) == []
        ratios[library] = usefulness_ratios(vae, vae._tensors(cells.data)[0])
    assert ratios[1e4] == pytest.approx(ratios["median"], rel=1e-4)


def test_the_warning_turned_into_an_error_leaves_the_estimator_unfitted():
    # as the ConvergenceWarning, issued before the fitted attributes are set, does: a fit that
    # raised left a fitted model behind (n_components="auto" leaves the estimator as it was)
    from sklearn.exceptions import ConvergenceWarning, NotFittedError

    vae = MultiModalVAE(max_epochs=20, **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(UserWarning, match="better than the training rows"):
            vae.fit(_independent())
    assert not any(hasattr(vae, a) for a in ("module_", "history_", "n_iter_", "class_temperatures_"))
    with pytest.raises(NotFittedError):
        vae.predict(_independent())


def test_a_column_without_a_validation_cell_gives_no_runtime_warning():
    # np.nanstd of the column warned "Degrees of freedom <= 0 for slice." at the caller of fit
    # (an error under warnings.simplefilter("error"))
    X = _related()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vae = MultiModalVAE(max_epochs=5, **SMALL).fit(X)
    X["b"][validation_split(400, vae.validation_fraction, vae._split_seed)[1].numpy(), 2] = np.nan
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        vae.fit(X)
    assert [w for w in record if issubclass(w.category, RuntimeWarning)] == []
    assert "b" in usefulness_ratios(vae, vae._tensors(X)[0])


def test_a_modality_constant_on_the_validation_rows_is_left_out():
    # a rare binary feature (2% of the rows), all 0 in the validation rows: the means' error is
    # their bias alone, near 0, and the ratio to it noise; it was 4 here, and the model, good for
    # the other modalities, warned
    X = _related()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vae = MultiModalVAE(max_epochs=5, **SMALL).fit(X)
    train, valid = (rows.numpy() for rows in validation_split(400, vae.validation_fraction, vae._split_seed))
    X["flag"] = np.zeros((400, 1))
    X["flag"][train[np.random.default_rng(0).random(len(train)) < 0.02]] = 1.0
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        vae = MultiModalVAE(max_epochs=40, **SMALL).fit(X)
    assert _useless_warnings(record) == []
    ratios = usefulness_ratios(vae, vae._tensors(X)[0])
    assert set(ratios) == {"a", "b"} and all(r < 0.5 for r in ratios.values())


def _one_block(n=400, related=True, seed=0):
    rng = np.random.default_rng(seed)
    if related:
        X = rng.normal(size=(n, 2)) @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(n, 6))
    else:
        X = rng.normal(size=(n, 6))
    X[rng.random(X.shape) < 0.1] = np.nan  # scattered missing cells
    return X


def test_a_one_block_imputer_of_unrelated_columns_warns_about_its_cells():
    with pytest.warns(UserWarning, match="hidden in the validation rows and predicted from the rest"):
        MultiModalImputer(max_epochs=20, **SMALL).fit(_one_block(related=False))


def test_a_one_block_imputer_of_related_columns_does_not_warn():
    X = _one_block()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        imp = MultiModalImputer(max_epochs=40, **SMALL).fit(X)
    assert not [w for w in record if "hidden in the validation rows" in str(w.message)]
    (ratio,) = usefulness_ratios(imp, imp._tensors(X)[0]).values()
    assert ratio < 0.5


def test_the_cell_ratio_matches_an_independent_computation():
    X = _one_block()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imp = MultiModalImputer(max_epochs=10, **SMALL).fit(X)
    tensors = imp._tensors(X)[0]
    (ours,) = usefulness_ratios(imp, tensors).values()
    # the hidden cells (the check's seeded choice), then the public API and numpy only
    train, valid = (i.numpy() for i in validation_split(len(X), imp.validation_fraction, imp._split_seed))
    rows = valid[(~np.isnan(X[valid])).sum(1) >= 2]
    _, truth = _hidden_cells(tensors.rows(torch.as_tensor(valid)), 0, imp._split_seed)
    hidden = ~np.isnan(truth.numpy())
    assert hidden.sum() >= len(rows) and (hidden.sum(1) >= 1).all()
    given = X[rows].copy()
    given[hidden] = np.nan
    filled = imp.transform(given)
    truth = np.where(hidden, X[rows], np.nan)
    sd = np.nanstd(X[train], axis=0)  # the training rows' spread
    means = np.nanmean(X[train], axis=0)
    model = np.nanmean(((filled - truth) / sd) ** 2)
    base = np.nanmean(((means - truth) / sd) ** 2)
    assert ours == pytest.approx(model / base, rel=1e-4)
    np.testing.assert_array_equal(X[rows][~np.isnan(X[rows]) & ~hidden], filled[~np.isnan(X[rows]) & ~hidden])
