"""predict_proba: class probabilities of a categorical modality given the other modalities.

The reference is an independent Monte Carlo average of the decoder's class probabilities over
draws from ``q(z | x_S)`` taken with ``sample_posterior`` (the encoder's predictive), and the
importance-weighted estimate ``skmmvae.nn.iw_class_probabilities`` stays the exponential of
``score_samples(X, given=...)``, tested against exact conditionals in
``tests/nn/test_objectives.py``.
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


def test_probabilities_are_the_mean_over_the_encoders_draws(fitted):
    """An independent average over many draws of q(z | x_S) from sample_posterior, each
    decoded to the model's p(y | z), agrees with predict_proba up to Monte Carlo error."""
    import torch

    est, data = fitted
    big = MultiModalVAE(likelihoods=MIXED_LIKELIHOODS, **{**SMALL, "n_importance_samples": 2000})
    big.__dict__.update({k: v for k, v in est.__dict__.items() if k.endswith("_") or k.startswith("_")})
    proba = big.predict_proba(data)
    others = [name for name in est.modality_names_ if name != "label"]
    z = est.sample_posterior(data, n_samples=2000, modalities=others, random_state=1)  # (K, n, d)
    target = est.modality_names_.index("label")
    likelihood = list(est.module_.likelihoods.values())[target]  # p(y | z), the model's
    with torch.no_grad():
        output = est.module_.decode(torch.as_tensor(z, dtype=torch.float32), target)
        reference = likelihood.mean(output).mean(0).numpy()
    np.testing.assert_allclose(proba, reference, atol=0.02)
    assert np.abs(proba - reference).max() > 0  # two different sets of draws


def test_the_importance_weighted_estimate_is_the_cross_modal_log_likelihood(fitted):
    """iw_class_probabilities (not predict_proba's estimator) keeps the property: the log of
    the probability of the observed class is score_samples(X, given=...), with the same
    draws."""
    import torch

    from skmmvae.nn import iw_class_probabilities

    est, data = fitted
    others = [name for name in est.modality_names_ if name != "label"]
    conditional = est.score_samples(data, given=others)  # log p(label | others)
    target = est.modality_names_.index("label")
    proba = est._importance_estimates(
        {k: v for k, v in data.items() if k != "label"},
        lambda batch: iw_class_probabilities(est.module_, batch.xs, batch.mask, target,
                                             est.n_importance_samples, common_noise=True),
        skip=("label",))
    proba = proba / proba.sum(1, keepdims=True)
    rows = np.flatnonzero(~np.isnan(data["label"][:, 0]))
    codes = _codes(est, data["label"][rows, 0])
    np.testing.assert_allclose(np.log(proba[rows, codes]), conditional[rows], rtol=1e-5, atol=1e-6)
    del torch


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
