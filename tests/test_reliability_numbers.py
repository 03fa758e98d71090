"""Numbers float32 cannot carry, divergence after the last step, constants at any scale,
large counts, and categorical modalities (fixed ``categories``, integer data modelled as
Gaussian, the dtype of imputed labels)."""
import warnings

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, KFold

from skmmvae import ModalityDict, MultiModalVAE, TrainingDivergedError
from skmmvae._data import check_float32_range

SMALL = dict(hidden_layer_sizes=(8,), embedding_size=8, n_components=2, random_state=0,
             max_epochs=5, early_stopping=False, validation_fraction=0.0)


def _rng():
    return np.random.default_rng(0)


# ------------------------------------------------------------------ A. numbers
def test_fit_with_overflowing_weights_raises_and_leaves_no_model():
    X = _rng().normal(size=(64, 4))
    vae = MultiModalVAE(lr=1e30, max_epochs=1, validation_fraction=0.0, batch_size=64, early_stopping=False,
                        modalities=[2, 2], random_state=0)
    with pytest.raises(TrainingDivergedError, match="lr"):
        vae.fit(X)
    assert not hasattr(vae, "module_")


def test_failed_partial_fit_restores_the_model():
    X = _rng().normal(size=(64, 4))
    vae = MultiModalVAE(max_epochs=1, validation_fraction=0.0, batch_size=64, early_stopping=False,
                        modalities=[2, 2], random_state=0).fit(X)
    before = {k: v.clone() for k, v in vae.module_.state_dict().items()}
    vae.set_params(lr=1e30)
    with pytest.raises(TrainingDivergedError, match="lr"):
        vae.partial_fit(X)
    after = vae.module_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert np.isfinite(vae.transform(X)).all()


def test_fit_returns_only_finite_parameters():
    X = _rng().normal(size=(64, 4))
    for lr in (1e10, 1e30):
        for epochs in (1, 3):
            vae = MultiModalVAE(lr=lr, max_epochs=epochs, validation_fraction=0.0, batch_size=64, early_stopping=False,
                                modalities=[2, 2], random_state=0)
            try:
                vae.fit(X)
            except TrainingDivergedError:
                continue
            assert all(torch.isfinite(p).all() for p in vae.module_.parameters())
            assert np.isfinite(vae.transform(X)).all()


@pytest.mark.parametrize("value, what", [(1e300, "largest"), (-1e39, "largest"),
                                         (1e-300, "smallest normal"), (1e-39, "smallest normal")])
def test_magnitudes_float32_cannot_carry_are_a_value_error(value, what):
    X = {"a": _rng().normal(size=(32, 2)) * value, "b": _rng().normal(size=(32, 2))}
    with pytest.raises(ValueError, match=f"modality 'a'.*{what}") as info:
        MultiModalVAE(**SMALL).fit(X)
    assert not isinstance(info.value, FloatingPointError)


def test_large_and_small_magnitudes_float32_can_carry_are_fine():
    check_float32_range(np.array([[0.0, 3e38], [2e-38, -3e38], [np.nan, np.nan]]), "a")
    X = {"a": _rng().normal(size=(32, 2)) * 1e30, "b": _rng().normal(size=(32, 2)) * 1e-30}
    MultiModalVAE(**SMALL).fit(X)


@pytest.mark.parametrize("constant", [3e-6, 3e6, -7e-20, 0.0])
def test_constant_modality_is_imputed_as_the_constant(constant):
    X = {"a": np.full((64, 2), constant), "b": _rng().normal(size=(64, 2))}
    vae = MultiModalVAE(**SMALL).fit(X)
    out = vae.predict({"b": X["b"][:8]})["a"]
    # within float32 rounding of the constant (of 1 for a constant 0)
    np.testing.assert_allclose(out, constant, rtol=2.0**-22, atol=0 if constant else 2.0**-22)


def test_poisson_counts_around_1e9_fit_sensibly():
    rng = _rng()
    counts = rng.poisson(rng.uniform(0.5e9, 2e9, size=(64, 1))).astype(float)
    X = {"c": counts, "b": rng.normal(size=(64, 2))}
    # 20 epochs: after SMALL's 5 the decoders' linear paths (their initial weights) still
    # spread the imputed rates over 0.97e9-3.5e9 (0.74e9-2.3e9 after 20, plain MLPs 1.2e9-2.4e9)
    vae = MultiModalVAE(likelihoods={"c": "poisson"}, **{**SMALL, "max_epochs": 20}).fit(X)
    out = vae.predict({"b": X["b"]})["c"]
    assert np.isfinite(out).all()
    assert 0.3e9 < out.min() and out.max() < 3e9


# ------------------------------------------------------------------ B. categorical
def _rare_class_data(n=60):
    rng = np.random.default_rng(1)
    label = rng.integers(0, 2, size=n).astype(float)
    label[:3] = 2  # a class in only 3 rows: some folds never see it at fit
    features = rng.normal(size=(n, 3)) + label[:, None]
    return ModalityDict({"label": label.reshape(-1, 1), "x": features})


def test_categories_fix_the_classes_for_cross_validation():
    X = _rare_class_data()
    grid = {"n_components": [2, 3]}
    search = GridSearchCV(MultiModalVAE(likelihoods={"label": "categorical"}, **SMALL), grid, cv=KFold(5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X)
    assert np.isnan(search.cv_results_["mean_test_score"]).all()  # the failure today
    fixed = MultiModalVAE(likelihoods={"label": ("categorical", {"categories": [0, 1, 2]})}, **SMALL)
    search = GridSearchCV(fixed, grid, cv=KFold(5), error_score="raise").fit(X)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.predict_proba(X, modality="label").shape == (60, 3)


def test_categories_are_the_classes_even_if_absent_at_fit():
    X = _rare_class_data()
    train = ModalityDict({k: v[3:] for k, v in X.items()})  # no row of class 2
    vae = MultiModalVAE(likelihoods={"label": ("categorical", {"categories": [2, 0, 1]})}, **SMALL)
    vae.fit(train)
    np.testing.assert_array_equal(vae.categories_["label"], [0, 1, 2])
    assert vae.predict_proba(X, modality="label").shape == (60, 3)
    assert np.isfinite(vae.score(X))


def test_labels_outside_categories_are_a_value_error():
    X = _rare_class_data()
    vae = MultiModalVAE(likelihoods={"label": ("categorical", {"categories": [0, 1]})}, **SMALL)
    with pytest.raises(ValueError, match="modality 'label'.*not among its categories"):
        vae.fit(X)
    vae = MultiModalVAE(likelihoods={"label": ("categorical", {"categories": ["a", "b"]})}, **SMALL)
    with pytest.raises(ValueError, match="modality 'label'"):
        vae.fit({"label": np.array(["a", "c"] * 10, dtype=object), "x": np.zeros((20, 1))})


@pytest.mark.parametrize("categories", [[0], "ab", [0.5, 1], [0, 0, 1], [0, "a"], 3])
def test_bad_categories_are_rejected_before_training(categories):
    vae = MultiModalVAE(likelihoods={"label": ("categorical", {"categories": categories})}, **SMALL)
    with pytest.raises((TypeError, ValueError), match="modality 'label'.*categories"):
        vae.fit(_rare_class_data())


def test_string_categories():
    labels = np.array(["b", "a"] * 10, dtype=object)
    vae = MultiModalVAE(likelihoods={"label": ("categorical", {"categories": ["c", "a", "b"]})}, **SMALL)
    vae.fit({"label": labels, "x": np.arange(20.0).reshape(-1, 1)})
    assert vae.categories_["label"].tolist() == ["a", "b", "c"]


def test_few_distinct_integers_modelled_as_gaussian_by_default_warn():
    rng = _rng()
    X = {"label": rng.integers(0, 3, size=(40, 1)).astype(float), "x": rng.normal(size=(40, 2))}
    with pytest.warns(UserWarning, match="'label'.*3 distinct integer.*Gaussian.*categorical.*poisson"):
        MultiModalVAE(**SMALL).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for likelihoods in ({"label": "gaussian"}, {"label": "categorical"}, "gaussian"):
            MultiModalVAE(likelihoods=likelihoods, **SMALL).fit(X)
        X["label"] = rng.integers(0, 50, size=(40, 1)).astype(float)  # many values
        MultiModalVAE(**SMALL).fit(X)


def test_missing_labels_given_as_float_with_nan_come_back_as_the_labels():
    rng = _rng()
    label = rng.integers(0, 3, size=40).astype(float)
    label[:5] = np.nan
    X = {"label": label.reshape(-1, 1), "x": rng.normal(size=(40, 2))}
    vae = MultiModalVAE(likelihoods={"label": "categorical"}, **SMALL).fit(X)
    out = vae.predict(X)["label"]
    assert out.dtype == np.float64 and np.isin(out[:5], [0.0, 1.0, 2.0]).all()
    np.testing.assert_array_equal(out[5:], X["label"][5:])
    out32 = vae.predict({"label": X["label"].astype(np.float32), "x": X["x"]})["label"]
    assert out32.dtype == np.float32 and np.isin(out32[:5], [0, 1, 2]).all()
    pd = pytest.importorskip("pandas")
    series = pd.Series(label).astype("Int64")
    out = vae.predict({"label": series, "x": X["x"]})["label"]
    assert str(out.dtype) == "Int64" and set(out[:5].tolist()) <= {0, 1, 2}
