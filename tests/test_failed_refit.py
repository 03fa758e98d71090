"""A fit refused before training leaves a fitted model as it was (its schema and module
together), and numpy integers are sizes like ints."""
import warnings

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


@pytest.mark.parametrize("change", [
    {"n_components": 5}, {"aggregation": "sumpooling"}, {"n_private_components": 2},
    {"activation": "tanh"}, {"n_prior_components": 3, "aggregation": "sumpooling"},
    {"aggregator_options": {"rank": 1}},
    {"hidden_layer_sizes": (4, 4), "embedding_size": 6},
])
def test_parameters_set_after_a_fit_do_not_change_the_fitted_model(change, tmp_path):
    """``set_params`` changes the next fit, not the fitted model: pickling and loading rebuild
    the module as it was fitted (a changed activation rebuilt a tanh network around ReLU
    weights, silently; other changes failed to load), and transform keeps its width."""
    import pickle

    X = _data()
    est = MultiModalVAE(**SMALL).fit(X)
    Z = est.transform(X)
    est.set_params(**change)
    np.testing.assert_array_equal(est.transform(X), Z)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(X), Z)
    est.save(tmp_path / "m.zip")
    loaded = MultiModalVAE.load(tmp_path / "m.zip")
    np.testing.assert_array_equal(loaded.transform(X), Z)
    assert loaded.get_params()[next(iter(change))] == change[next(iter(change))]  # the new parameters
    refit = loaded.fit(X)  # and the next fit uses them
    assert refit.transform(X).shape[1] == change.get("n_components", SMALL["n_components"])


def test_a_file_with_an_unknown_architecture_entry_is_refused(tmp_path):
    import json
    import zipfile

    from skmmvae._persistence import METADATA, WEIGHTS

    est = MultiModalVAE(**SMALL).fit(_data())
    est.save(tmp_path / "m.zip")
    with zipfile.ZipFile(tmp_path / "m.zip") as archive:
        metadata, weights = json.loads(archive.read(METADATA)), archive.read(WEIGHTS)
    metadata["attributes"]["_architecture"]["__class__"] = "os.system"
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        archive.writestr(METADATA, json.dumps(metadata))
        archive.writestr(WEIGHTS, weights)
    with pytest.raises(ValueError, match="_architecture"):
        MultiModalVAE.load(tmp_path / "bad.zip")


def test_partial_fit_says_that_architecture_changes_wait_for_fit():
    X = _data()
    est = MultiModalVAE(**SMALL).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        est.set_params(lr=1e-4, max_epochs=3).partial_fit(X)  # training parameters: no warning
    est.set_params(activation="tanh", hidden_layer_sizes=(4,))
    with pytest.warns(UserWarning, match=r"activation, hidden_layer_sizes/embedding_size changed since the fit"):
        est.partial_fit(X)
    assert est.module_.encoders[0] is not None and est._fitted_architecture()["activation"] == "relu"
