"""``cross_modal_imputation_error`` / ``_scorer``: each modality predicted from the others,
the standardised squared error of its observed cells; a scorer for GridSearchCV."""

import numpy as np
import pandas as pd
import pytest
from conftest import NO_STOPPING
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, ShuffleSplit

from skmmvae import ModalityDict, MultiModalImputer, MultiModalVAE
from skmmvae.metrics import cross_modal_imputation_error, cross_modal_imputation_scorer

FAST = {**NO_STOPPING, "max_epochs": 20}
pytestmark = pytest.mark.usefixtures("quiet")


def _data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    return {"a": z @ rng.normal(size=(2, 4)) + 0.1 * rng.normal(size=(n, 4)),
            "b": np.tanh(z @ rng.normal(size=(2, 3))) + 0.1 * rng.normal(size=(n, 3)),
            "label": (z[:, :1] > 0).astype(float)}


def _by_hand(est, X, name):
    rows = ~np.isnan(X[name]).all(1)
    given = {k: v[rows] for k, v in X.items() if k != name}
    truth = X[name][rows]
    sd = np.nanstd(truth, axis=0)
    sd[sd == 0] = 1.0
    cells = ~np.isnan(truth)
    return np.mean((((est.predict(given)[name] - truth) / sd) ** 2)[cells])


def _brier_by_hand(est, X, name, classes):
    """Brier score of predict_proba over the rows with a label, divided by that of the
    label frequencies of those rows."""
    rows = ~np.isnan(X[name][:, 0])
    given = {k: v[rows] for k, v in X.items() if k != name}
    proba = est.predict_proba(given, modality=name)
    onehot = (X[name][rows] == np.asarray(classes)[None, :]).astype(float)
    brier = np.mean(np.sum((proba - onehot) ** 2, axis=1))
    reference = np.mean(np.sum((onehot.mean(0) - onehot) ** 2, axis=1))  # = 1 - sum f^2
    return brier / reference


def test_matches_a_computation_by_hand():
    X = _data()
    X["a"][:30] = np.nan                  # a missing modality: those rows are not scored for 'a'
    X["b"][40, 1] = np.nan                # a missing cell: not scored
    X["label"][50:60] = np.nan            # missing labels: not scored
    est = MultiModalVAE(likelihoods={"label": "categorical"}, **FAST).fit(X)
    errors = cross_modal_imputation_error(est, X, per_modality=True)
    assert sorted(errors) == ["a", "b", "label"]
    for name in ("a", "b"):
        assert np.isclose(errors[name], _by_hand(est, X, name), rtol=1e-12)
    assert np.isclose(errors["label"], _brier_by_hand(est, X, "label", [0.0, 1.0]), rtol=1e-10)
    assert 0 < errors["label"] < 1  # the label is predictable from a and b
    assert np.isclose(cross_modal_imputation_error(est, X), np.mean(list(errors.values())))
    assert np.isclose(cross_modal_imputation_scorer(est, X), -np.mean(list(errors.values())))


def test_a_trained_model_imputes_better_than_an_untrained_one():
    X = _data()
    trained = MultiModalVAE(**{**FAST, "max_epochs": 60}).fit(X)
    untrained = MultiModalVAE(**{**FAST, "max_epochs": 0}).fit(X)
    # better than the features' means (about 1), where the untrained decoders are worse
    assert cross_modal_imputation_error(trained, X) < 0.6 < 1 < cross_modal_imputation_error(untrained, X)


def test_every_container_gives_the_same_error():
    X = _data()
    blocks = {"a": X["a"], "b": X["b"]}
    table = np.hstack([X["a"], X["b"]])
    frame = pd.DataFrame(table, columns=[f"c{i}" for i in range(7)])
    layouts = [
        (MultiModalVAE(**FAST), blocks),
        (MultiModalVAE(**FAST), ModalityDict(blocks)),
        (MultiModalVAE(modalities={"a": 4, "b": 3}, **FAST), table),
        (MultiModalImputer(modalities={"a": [f"c{i}" for i in range(4)],
                                       "b": [f"c{i}" for i in range(4, 7)]}, **FAST), frame),
    ]
    values = [cross_modal_imputation_error(est.fit(data), data) for est, data in layouts]
    np.testing.assert_allclose(values, values[0], rtol=1e-6)
    before = table.copy()
    cross_modal_imputation_error(layouts[2][0], table)
    np.testing.assert_array_equal(table, before)  # the user's data is not modified


def test_grid_search_by_imputation_prefers_the_trained_model():
    """An untrained model (``max_epochs=0``) imputes worse than the features' means; the
    search must prefer the trained one, and its held-out score is the error computed
    directly on the test rows, negated."""
    X = ModalityDict({k: v for k, v in _data(n=300).items() if k != "label"})
    cv = ShuffleSplit(n_splits=1, test_size=0.25, random_state=0)
    search = GridSearchCV(MultiModalVAE(**FAST), {"max_epochs": [0, 40]},
                          scoring=cross_modal_imputation_scorer, cv=cv).fit(X)
    assert search.best_params_ == {"max_epochs": 40}
    train, test = next(cv.split(np.zeros(300)))
    trained = MultiModalVAE(**{**FAST, "max_epochs": 40}).fit(X[train])
    assert np.isclose(search.cv_results_["split0_test_score"][1],
                      -cross_modal_imputation_error(trained, X[test]))


def test_bad_requests_are_clear_errors():
    X = _data()
    est = MultiModalVAE(likelihoods={"label": "categorical"}, **{**FAST, "max_epochs": 1}).fit(X)
    with pytest.raises(ValueError, match="unknown modality 'c'"):
        cross_modal_imputation_error(est, X, modalities=["c"])
    with pytest.raises(ValueError, match="modality 'a' is not observed in any row"):
        cross_modal_imputation_error(est, {"b": X["b"]}, modalities=["a"])
    with pytest.raises(ValueError, match="no modality observed in any row"):
        cross_modal_imputation_error(est, {"label": np.full((5, 1), np.nan)})
    with pytest.raises(NotFittedError):
        cross_modal_imputation_error(MultiModalVAE(), X)


def test_string_labels_and_one_hot_rows_score_alike():
    X = _data()
    labels = np.where(X["label"][:, 0] > 0, "yes", "no").astype(object)[:, None]
    one_hot = np.hstack([1 - X["label"], X["label"]])
    errors = []
    for label in (X["label"], labels, one_hot):
        data = {**X, "label": label}
        est = MultiModalVAE(likelihoods={"label": "categorical"}, **FAST).fit(data)
        errors.append(cross_modal_imputation_error(est, data, modalities="label"))
    np.testing.assert_allclose(errors, errors[0], rtol=1e-6)
    assert errors[0] < 1


def test_a_feature_missing_in_every_row_is_skipped_without_a_warning():
    import warnings
    X = _data()
    est = MultiModalVAE(**FAST).fit(X)
    X["a"][:, 1] = np.nan  # no spread to scale by; its cells are not scored
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        errors = cross_modal_imputation_error(est, X, per_modality=True)
    rows = ~np.isnan(X["a"]).all(1)
    truth = X["a"][rows][:, [0, 2, 3]]
    predicted = est.predict({k: v[rows] for k, v in X.items() if k != "a"})["a"][:, [0, 2, 3]]
    expected = np.mean(((predicted - truth) / truth.std(0)) ** 2)
    assert np.isclose(errors["a"], expected, rtol=1e-12)
