"""Properties that hold for any data the estimator accepts (hypothesis).

Random numbers of modalities (1-4) and widths (1-5), feature scales from 1e-6 to 1e6,
constant features, tiny sample sizes (1, 2, fewer than a batch) and random missing patterns
(rows with no observed modality included): ``fit``, ``transform``, ``predict`` and
``score_samples`` never fail and never return NaN or inf, ``predict`` hands observed blocks
back bit for bit and fills every missing one with finite values.

The only error a draw may legitimately meet is a modality that is missing in every training
row: there is nothing to learn it from, and fit says so (the property checks it does exactly
then, with that message).

Budgets are small (tiny networks, 1-2 epochs, a few dozen draws) so the file runs in seconds;
``derandomize=True`` makes the draws the same on every run, so a failure is reproducible.
"""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from skmmvae import MultiModalVAE

TINY = dict(n_components=2, hidden_layer_sizes=(4,), embedding_size=4, n_importance_samples=8)
PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def multimodal_data(draw, max_rows=40):
    """``(X, observed)``: a dict of float64 or float32 blocks with NaN rows, and the mask."""
    n_modalities = draw(st.integers(1, 4))
    widths = draw(st.lists(st.integers(1, 5), min_size=n_modalities, max_size=n_modalities))
    n = draw(st.one_of(st.sampled_from([1, 2, 3]), st.integers(1, max_rows)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    z = rng.normal(size=(n, 2))  # a shared latent, so that modalities are related
    X = {}
    for m, width in enumerate(widths):
        scale = 10.0 ** draw(st.floats(-6, 6))
        offset = draw(st.sampled_from([0.0, 1.0, -3.0, 100.0]))
        block = z @ rng.normal(size=(2, width)) + 0.1 * rng.normal(size=(n, width))
        block = (block + offset) * scale
        constant = draw(st.lists(st.booleans(), min_size=width, max_size=width))
        block[:, constant] = offset * scale  # constant features (zero variance)
        X[f"m{m}"] = block.astype(draw(st.sampled_from([np.float64, np.float32])))

    pattern = draw(st.sampled_from(["complete", "some-missing", "some-missing-and-empty-rows"]))
    observed = np.ones((n, n_modalities), bool)
    if pattern != "complete":
        observed = rng.uniform(size=(n, n_modalities)) >= draw(st.floats(0.1, 0.9))
        empty = np.zeros(n, bool)  # rows with no observed modality
        if pattern == "some-missing-and-empty-rows":  # a quarter of the rows; n = 1: that row
            empty[rng.choice(n, size=max(1, n // 4), replace=False)] = True
        rows = np.flatnonzero(~empty)
        # every other row keeps at least one observed modality, every modality one observed row
        for row in rows[~observed[rows].any(1)]:
            observed[row, rng.integers(n_modalities)] = True
        for m in np.flatnonzero(~observed[rows].any(0)) if rows.size else ():
            observed[rng.choice(rows), m] = True
        observed[empty] = False
    for m, name in enumerate(X):
        X[name][~observed[:, m]] = np.nan
    return X, observed


@st.composite
def estimators(draw):
    """Tiny, briefly trained estimators with any aggregation, objective and batching."""
    return MultiModalVAE(
        **TINY,
        aggregation=draw(st.sampled_from(["sumpooling", "poe", "moe", "selfattention_mixture"])),
        objective=draw(st.sampled_from(["tight", "mixture", "elbo"])),
        likelihoods=draw(st.sampled_from([None, "laplace"])),
        max_epochs=draw(st.integers(1, 2)),
        batch_size=draw(st.sampled_from(["auto", 1, 2, 32])),
        validation_fraction=draw(st.sampled_from([0.0, 0.1, 0.5])),
        random_state=draw(st.integers(0, 100)),
    )


def assert_finite(array, what):
    assert np.isfinite(array).all(), f"{what} holds NaN or inf: {array}"


@PROPERTY_SETTINGS
@given(data=multimodal_data(), est=estimators())
def test_fit_transform_predict_score_are_finite_and_predict_keeps_observed_values(data, est):
    X, observed = data
    n = observed.shape[0]
    never_observed = [name for m, name in enumerate(X) if not observed[:, m].any()]
    event(f"n={'1' if n == 1 else '2-3' if n <= 3 else '4+'}")
    event("rows with no observed modality" if not observed.any(1).all() else "every row observed")
    if never_observed:
        event("a modality is never observed")
        with pytest.raises(ValueError, match=r"missing \(all NaN\) in every training row"):
            est.fit(X)
        return

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # e.g. overflow in a numpy conversion
        est.fit(X)
        Z = est.transform(X)
        imputed = est.predict(X)
        scores = est.score_samples(X)

    assert Z.shape == (n, 2)
    assert_finite(Z, "transform")
    assert scores.shape == (n,)
    assert_finite(scores, "score_samples")
    assert sorted(imputed) == sorted(X)
    for m, (name, block) in enumerate(X.items()):
        rows = observed[:, m]
        assert imputed[name].shape == block.shape
        assert np.array_equal(imputed[name][rows], block[rows]), f"{name}: observed values changed"
        assert_finite(imputed[name], f"predict[{name!r}]")
    history = est.history_[:, "train_loss"]
    assert_finite(np.array(history), "train_loss")


@PROPERTY_SETTINGS
@given(data=multimodal_data(max_rows=20), draw=st.data())
def test_transform_from_any_subset_of_modalities_is_finite(data, draw):
    X, observed = data
    if not observed.any(0).all():
        return  # covered above: fit refuses
    est = MultiModalVAE(**TINY, max_epochs=1, random_state=0).fit(X)
    subset = draw.draw(st.lists(st.sampled_from(sorted(X)), min_size=1, unique=True))
    kept = {name: X[name] for name in draw.draw(st.lists(st.sampled_from(sorted(X)), unique=True))}
    Z = est.transform(kept or X, modalities=subset)
    assert Z.shape == (observed.shape[0], 2)
    assert_finite(Z, "transform")
    assert_finite(est.score_samples(kept or X), "score_samples")
