"""predict_proba: class probabilities of a categorical modality given the other modalities.

The reference is the cross-modal log-likelihood ``score_samples(X, given=...)``, tested
against exact conditionals in ``tests/nn/test_objectives.py``: with the same draws, the log of
the probability of each row's observed class must be that estimate.
"""
import numpy as np
import pytest
from conftest import MIXED_LIKELIHOODS, SMALL, make_mixed_data
from sklearn.metrics import log_loss

from skmmvae import ModalityDict, MultiModalVAE


@pytest.fixture(scope="module")
def fitted():
    data = make_mixed_data()
    return MultiModalVAE(likelihoods=MIXED_LIKELIHOODS, **SMALL).fit(data), data


def _codes(est, labels):
    return np.searchsorted(est.categories_["label"], labels)


def test_probabilities_are_normalised_and_ordered_like_categories(fitted):
    est, data = fitted
    proba = est.predict_proba(data)
    assert proba.shape == (80, 3) and proba.dtype == np.float64
    assert (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(est.predict_proba(data, modality="label"), proba)


def test_log_probability_of_the_observed_class_is_the_cross_modal_log_likelihood(fitted):
    est, data = fitted
    proba = est.predict_proba(data)
    others = [name for name in est.modality_names_ if name != "label"]
    conditional = est.score_samples(data, given=others)  # log p(label | others)
    observed = ~np.isnan(data["label"][:, 0])
    rows = np.flatnonzero(observed)
    codes = _codes(est, data["label"][rows, 0])
    np.testing.assert_allclose(np.log(proba[rows, codes]), conditional[rows], rtol=1e-5, atol=1e-6)


def test_the_label_values_are_ignored(fitted):
    est, data = fitted
    proba = est.predict_proba(data)
    without = {k: v for k, v in data.items() if k != "label"}
    np.testing.assert_array_equal(est.predict_proba(without), proba)
    np.testing.assert_array_equal(est.predict_proba(ModalityDict(without)), proba)
    hidden = {**data, "label": np.full_like(data["label"], np.nan)}
    np.testing.assert_allclose(est.predict_proba(hidden), proba, rtol=1e-6)
    # rows are independent of their batch
    rows = np.array([40, 2, 77])
    np.testing.assert_allclose(est.predict_proba({k: v[rows] for k, v in data.items()}), proba[rows],
                               rtol=1e-5)


def test_the_label_values_of_a_2d_input_are_ignored_as_those_of_a_dict():
    # a 2-D input (column groups) gives the target's columns as a dict does: unread, so that
    # a placeholder or an unseen label is no error (it raised "unseen categories")
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    frame = pd.DataFrame(x, columns=["x1", "x2", "x3"])
    frame["label"] = np.where(x[:, 0] > 0, "pos", "neg").astype(object)
    params = {**SMALL, "early_stopping": False}
    est = MultiModalVAE(modalities={"a": ["x1", "x2", "x3"], "y": ["label"]},
                        likelihoods={"y": "categorical"}, **params).fit(frame)
    proba = est.predict_proba({"a": x})
    np.testing.assert_allclose(est.predict_proba(frame), proba, rtol=1e-6)
    for placeholder in ("unknown", None, 3.5):
        new = frame.copy()
        new["label"] = placeholder
        before = new.copy()
        np.testing.assert_allclose(est.predict_proba(new), proba, rtol=1e-6)
        pd.testing.assert_frame_equal(new, before)
    with pytest.raises(ValueError, match="unseen categories"):  # predict still checks them
        est.predict(new.assign(label="unknown"))
    # an array with numeric labels in its last column
    array = np.column_stack([x, (x[:, 0] > 0).astype(float)])
    est = MultiModalVAE(modalities=[3, 1], likelihoods={"m1": "categorical"}, **params).fit(array)
    proba = est.predict_proba({"m0": x})
    array[:, 3] = 7.0  # never seen at fit
    np.testing.assert_allclose(est.predict_proba(array), proba, rtol=1e-6)
    np.testing.assert_allclose(est.predict_proba(array.astype(object)), proba, rtol=1e-6)


def test_a_trained_model_classifies_better_than_the_class_frequencies():
    data = make_mixed_data(n=300, seed=1)
    params = {**SMALL, "max_epochs": 60, "hidden_layer_sizes": (32,), "embedding_size": 16,
              "n_components": 2, "lr": 3e-3}
    est = MultiModalVAE(likelihoods=MIXED_LIKELIHOODS, **params).fit(data)
    observed = ~np.isnan(data["label"][:, 0])
    y = data["label"][observed, 0]
    proba = est.predict_proba({k: v[observed] for k, v in data.items() if k != "label"})
    frequencies = np.bincount(_codes(est, y), minlength=3) / len(y)
    baseline = log_loss(y, np.tile(frequencies, (len(y), 1)), labels=est.categories_["label"])
    model = log_loss(y, proba, labels=est.categories_["label"])
    print(f"log loss: model {model:.3f}, class frequencies {baseline:.3f}")
    assert model < 0.8 * baseline


def test_string_labels_and_the_choice_of_modality():
    data = make_mixed_data()
    names = np.array(["a", "b", "c"], dtype=object)
    labels = names[np.searchsorted([3, 5, 7], np.nan_to_num(data["label"][:, 0], nan=3))].astype(object)
    labels[np.isnan(data["label"][:, 0])] = None
    two = {**data, "label": labels, "other": np.where(data["gauss"][:, :1] > 0, 1.0, 0.0)}
    est = MultiModalVAE(likelihoods={**MIXED_LIKELIHOODS, "other": "categorical"}, **SMALL).fit(two)
    assert est.predict_proba(two, modality="label").shape == (80, 3)
    assert est.predict_proba(two, modality="other").shape == (80, 2)
    with pytest.raises(ValueError, match=r"the categorical modalities are \['label', 'other'\]"):
        est.predict_proba(two)
    with pytest.raises(ValueError, match="modality='gauss' is not a categorical modality"):
        est.predict_proba(two, modality="gauss")


def test_only_models_with_a_categorical_modality_have_predict_proba():
    data = make_mixed_data()
    gaussian = MultiModalVAE(**SMALL)
    assert hasattr(gaussian, "predict_proba")  # unfitted: it may still get labels
    gaussian.fit({"gauss": data["gauss"], "counts": data["counts"]})
    assert not hasattr(gaussian, "predict_proba")
