"""MultiModalImputer, and both estimators inside scikit-learn's model selection tools."""
import numpy as np
import pandas as pd
import pytest
import sklearn
from conftest import A_MISSING, B_MISSING, SMALL, make_data
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skmmvae import ModalityDict, MultiModalImputer, MultiModalVAE

COLUMNS = [f"a{i}" for i in range(4)] + [f"b{i}" for i in range(3)]
GRID = {"aggregation": ["sumpooling", "poe"], "objective": ["tight", "elbo"], "n_components": [1, 2]}


def _labelled(n=100):
    """2-D data (a: 4 columns, b: 3 columns, b missing in 10 rows) and a label from the latent."""
    data = make_data(n=n)
    rng = np.random.default_rng(1)
    y = (np.nan_to_num(data["a"][:, 0]) + 0.1 * rng.normal(size=n) > 0).astype(int)
    data["a"][A_MISSING] = data["a"][20:26]  # keep "a" observed: missing only in b
    return np.hstack([data["a"], data["b"]]), y


# --------------------------------------------------------------------------- imputer


def test_imputer_transform_fills_missing_blocks(data):
    X = np.hstack([data["a"], data["b"]])
    imputer = MultiModalImputer(modalities={"a": 4, "b": 3}, **SMALL)
    filled = imputer.fit_transform(X)
    assert filled.shape == X.shape and not np.isnan(filled).any()
    observed = ~np.isnan(X)
    np.testing.assert_array_equal(filled[observed], X[observed])
    vae = MultiModalVAE(modalities={"a": 4, "b": 3}, **SMALL).fit(X)
    np.testing.assert_array_equal(filled, vae.predict(X))  # the same model with imputer semantics
    np.testing.assert_array_equal(imputer.encode(X), vae.transform(X))
    np.testing.assert_array_equal(imputer.encode(X, modalities=["b"]), vae.transform(X, modalities=["b"]))


def test_imputer_on_dicts_returns_dicts(data):
    out = MultiModalImputer(**SMALL).fit(data).transform(ModalityDict(data))
    assert isinstance(out, ModalityDict)
    assert not np.isnan(out["b"]).any()
    np.testing.assert_array_equal(out["b"][B_MISSING.stop:], data["b"][B_MISSING.stop:])


def test_imputer_feature_names_and_pandas_output(data):
    frame = pd.DataFrame(np.hstack([data["a"], data["b"]]), columns=COLUMNS)
    imputer = MultiModalImputer(modalities={"b": COLUMNS[4:], "a": COLUMNS[:4]}, **SMALL).fit(frame)
    np.testing.assert_array_equal(imputer.get_feature_names_out(), COLUMNS)  # input order
    out = imputer.set_output(transform="pandas").transform(frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == COLUMNS
    assert not out.isna().any().any()
    dict_imputer = MultiModalImputer(**SMALL).fit(data)
    assert list(dict_imputer.get_feature_names_out()) == [f"a{i}" for i in range(4)] + [f"b{i}" for i in range(3)]


def test_imputer_returns_dicts_under_pandas_output(data):
    X = np.hstack([data["a"], data["b"]])
    with sklearn.config_context(transform_output="pandas"):
        out = MultiModalImputer(**SMALL).fit_transform(data)
        assert type(out) is dict and not np.isnan(out["b"]).any()
        imputer = MultiModalImputer(**SMALL).fit(data)
        assert type(imputer.transform(ModalityDict(data))) is ModalityDict
        frame = MultiModalImputer(modalities=[4, 3], **SMALL).fit_transform(X)
        assert isinstance(frame, pd.DataFrame) and frame.shape == (80, 7)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("imputer", ["iterative", "multimodal"])
def test_imputer_is_a_drop_in_for_iterative_imputer(imputer):
    X, y = _labelled()
    step = (
        IterativeImputer(max_iter=3, random_state=0)
        if imputer == "iterative"
        else MultiModalImputer(modalities=[4, 3], **SMALL)
    )
    pipe = Pipeline([("impute", step), ("scale", StandardScaler()), ("clf", LogisticRegression())])
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and (scores > 0.6).all()


# --------------------------------------------------------------------------- model selection


def test_pipeline_scaler_vae_classifier():
    X, y = _labelled()
    pipe = make_pipeline(
        StandardScaler(), MultiModalVAE(modalities=[4, 3], **SMALL), LogisticRegression()
    )
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and ((scores >= 0) & (scores <= 1)).all()
    pipe.fit(X, y)
    assert pipe.predict(X).shape == (100,)
    # the classifier sees the latent means of the scaled data
    Z = pipe[1].transform(pipe[0].transform(X))
    np.testing.assert_array_equal(pipe[:-1].transform(X), Z)
    assert pipe[-1].coef_.shape == (1, 2)


def _check_search(search, n_candidates=8):
    results = search.cv_results_
    assert len(results["params"]) == n_candidates
    assert np.isfinite(results["mean_test_score"]).all()
    best = results["params"][int(np.argmax(results["mean_test_score"]))]
    assert search.best_params_ == best
    assert search.best_estimator_.n_components == best["n_components"]


def test_grid_search_on_a_2d_pipeline_in_parallel():
    X, y = _labelled()
    pipe = Pipeline([("scale", StandardScaler()), ("vae", MultiModalVAE(modalities=[4, 3], **SMALL)),
                     ("clf", LogisticRegression())])  # fmt: skip
    grid = {f"vae__{name}": values for name, values in GRID.items()}
    search = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.predict(X).shape == (100,)


def test_grid_search_on_modality_dicts_uses_the_log_likelihood():
    data = ModalityDict(a=pd.DataFrame(make_data(n=100)["a"]), b=make_data(n=100)["b"])
    search = GridSearchCV(MultiModalVAE(**SMALL), GRID, cv=2, n_jobs=2).fit(data)
    _check_search(search)
    # the default score is the IW log-likelihood of the held-out fold
    best = search.best_estimator_
    assert search.score(data) == pytest.approx(best.score(data))


def test_cross_val_score_on_modality_dicts():
    data = ModalityDict(make_data(n=100))
    scores = cross_val_score(MultiModalVAE(**SMALL), data, cv=3)
    assert scores.shape == (3,) and np.isfinite(scores).all()
    # the same as scoring each fold by hand
    train = np.r_[34:100]
    est = MultiModalVAE(**SMALL).fit(data[train])
    assert scores[0] == pytest.approx(est.score(data[np.r_[0:34]]))


def test_cross_modal_scorer_in_cross_validation():
    """The user guide's scorer for imputation: mean log p(b | a) of the held-out fold."""
    data = ModalityDict(make_data(n=100))

    def b_given_a(est, X, y=None):
        return est.score_samples(X, given="a").mean()

    scores = cross_val_score(MultiModalVAE(**SMALL), data, cv=3, scoring=b_given_a)
    train, test = np.r_[34:100], np.r_[0:34]
    est = MultiModalVAE(**SMALL).fit(data[train])
    assert scores[0] == pytest.approx(est.score_samples(data[test], given="a").mean())
    assert scores[0] != pytest.approx(est.score(data[test]))  # not the joint score
