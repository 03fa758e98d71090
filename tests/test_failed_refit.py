"""A fit refused before training leaves a fitted model as it was (its schema and module
together), and numpy integers are sizes like ints."""
import numpy as np
import pytest

from skmmvae import MultiModalVAE

SMALL = dict(n_components=2, hidden_layer_sizes=(8,), embedding_size=8, max_epochs=2, random_state=0)


def _data(seed=0, widths=(3, 2)):
    rng = np.random.default_rng(seed)
    return {name: rng.normal(size=(60, w)) for name, w in zip("abc", widths)}


@pytest.mark.parametrize("bad", [
    {**_data(1), "c": np.full((60, 4), np.nan)},  # a modality never observed
    {"a": _data(1)["a"], "b": np.full((60, 2), np.nan)},  # the same names, one never observed
    {"a": np.full((60, 3), np.inf), "b": _data(1)["b"]},  # inf is an error
])
def test_a_refused_refit_keeps_the_fitted_model(bad):
    X = _data()
    est = MultiModalVAE(**SMALL).fit(X)
    Z, ll, names = est.transform(X), est.score_samples(X), est.modality_names_
    with pytest.raises(ValueError):
        est.fit(bad)
    assert est.modality_names_ == names and est._schema.names == names
    np.testing.assert_array_equal(est.transform(X), Z)
    np.testing.assert_array_equal(est.score_samples(X), ll)


def test_a_refused_refit_with_same_shaped_data_does_not_realign_silently():
    """The new data's columns fit the old module's shapes: before, the estimator kept the
    old module with the refused data's schema (its scaling, offsets) and transformed with it."""
    X = _data()
    est = MultiModalVAE(**SMALL).fit(X)
    Z = est.transform(X)
    shifted = {"a": X["a"] * 1e3 + 5e6, "b": np.full((60, 2), np.nan)}
    with pytest.raises(ValueError):
        est.fit(shifted)
    np.testing.assert_array_equal(est.transform(X), Z)


def test_a_refused_first_fit_leaves_the_estimator_unfitted():
    from sklearn.exceptions import NotFittedError

    est = MultiModalVAE(**SMALL)
    with pytest.raises(ValueError):
        est.fit({"a": np.full((60, 3), np.nan), "b": np.full((60, 2), np.nan)})
    with pytest.raises(NotFittedError):
        est.transform(_data())


def test_a_numpy_integer_rank_is_a_rank():
    est = MultiModalVAE(**{**SMALL, "n_components": 3}, aggregator_options={"rank": np.int64(2)})
    est.fit(_data())
    assert est.module_.aggregator.rank == 2 and type(est.module_.aggregator.rank) is int
