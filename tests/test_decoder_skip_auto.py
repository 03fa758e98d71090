"""``decoder_skip="auto"`` (the default): the decoders' linear path where the rows of the fit
outnumber the data's columns, plain MLP decoders otherwise; the choice is ``decoder_skip_``
and persists with the model."""
import json
import pickle
import warnings
import zipfile

import numpy as np
import pytest

from skmmvae import MultiModalImputer, MultiModalVAE
from skmmvae._persistence import METADATA, WEIGHTS

SMALL = dict(n_components=2, hidden_layer_sizes=(8,), embedding_size=8, max_epochs=2,
             early_stopping=False, validation_fraction=0.0, random_state=0)


def _views(n, widths=(6, 5), seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    return {f"v{k}": z @ rng.normal(size=(2, d)) + 0.1 * rng.normal(size=(n, d))
            for k, d in enumerate(widths)}


def _has_linear_path(est):
    return any("skip" in key for key in est.module_.state_dict())


@pytest.mark.parametrize("n_rows, expected", [(10, False), (11, False), (12, True), (40, True)])
def test_auto_adds_the_linear_path_when_the_rows_outnumber_the_columns(n_rows, expected):
    X = _views(n_rows)  # 11 columns
    est = MultiModalVAE(**SMALL).fit(X)
    assert est.decoder_skip == "auto"  # the parameter is left as given
    assert est.decoder_skip_ is expected
    assert _has_linear_path(est) is expected
    assert est._fitted_architecture()["decoder_skip"] is expected


@pytest.mark.parametrize("n_rows", [10, 40])
def test_auto_fits_the_model_the_explicit_choice_fits(n_rows):
    X = _views(n_rows)
    auto = MultiModalVAE(**SMALL).fit(X)
    explicit = MultiModalVAE(**SMALL, decoder_skip=n_rows > 11).fit(X)
    given = {"v0": X["v0"]}
    np.testing.assert_array_equal(auto.predict(given)["v1"], explicit.predict(given)["v1"])


@pytest.mark.parametrize("value", [True, False])
def test_an_explicit_value_is_kept_whatever_the_shape_of_the_data(value):
    for n_rows in (10, 40):
        est = MultiModalVAE(**SMALL, decoder_skip=value).fit(_views(n_rows))
        assert est.decoder_skip_ is value and _has_linear_path(est) is value


def test_the_imputer_resolves_it_alike_on_a_matrix():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 12))  # one block, more columns than rows
    X[0, 3] = np.nan
    imp = MultiModalImputer(**SMALL).fit(X)
    assert imp.decoder_skip_ is False
    X = rng.normal(size=(30, 12))
    X[0, 3] = np.nan
    assert MultiModalImputer(**SMALL).fit(X).decoder_skip_ is True


def test_a_first_partial_fit_decides_it_and_later_calls_keep_it_without_a_warning():
    X = _views(10)
    est = MultiModalVAE(**SMALL).partial_fit(X, epochs=1)
    assert est.decoder_skip_ is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "decoder_skip changed since the fit"
        est.partial_fit(_views(40), epochs=1)
    assert est.decoder_skip_ is False and not _has_linear_path(est)


def test_a_refit_on_other_data_decides_again():
    est = MultiModalVAE(**SMALL).fit(_views(10))
    assert est.decoder_skip_ is False
    assert est.fit(_views(40)).decoder_skip_ is True and _has_linear_path(est)


def test_the_choice_survives_pickle_save_and_load(tmp_path):
    X = _views(10)
    est = MultiModalVAE(**SMALL).fit(X)
    expected = est.predict({"v0": X["v0"]})["v1"]
    for copy in (pickle.loads(pickle.dumps(est)), _saved_and_loaded(est, tmp_path)):
        assert copy.decoder_skip_ is False and copy.decoder_skip == "auto"
        np.testing.assert_array_equal(copy.predict({"v0": X["v0"]})["v1"], expected)


def _saved_and_loaded(est, tmp_path):
    path = tmp_path / "m.zip"
    est.save(path)
    return MultiModalVAE.load(path)


def _edit(path, edit):
    with zipfile.ZipFile(path) as archive:
        metadata, weights = json.loads(archive.read(METADATA)), archive.read(WEIGHTS)
    edit(metadata)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(METADATA, json.dumps(metadata))
        archive.writestr(WEIGHTS, weights)


def test_a_file_whose_decoder_skip_disagrees_with_its_architecture_is_refused(tmp_path):
    est = MultiModalVAE(**SMALL).fit(_views(10))
    path = tmp_path / "m.zip"
    est.save(path)
    _edit(path, lambda m: m["attributes"].__setitem__("decoder_skip_", True))
    with pytest.raises(ValueError, match="decoder_skip_ True differs from the recorded architecture"):
        MultiModalVAE.load(path)
    est.save(path)
    _edit(path, lambda m: m["attributes"].__setitem__("decoder_skip_", "no"))
    with pytest.raises(ValueError, match="decoder_skip_ must be a boolean"):
        MultiModalVAE.load(path)
    est.save(path)
    _edit(path, lambda m: m["attributes"]["_architecture"].__setitem__("decoder_skip", "auto"))
    with pytest.raises(ValueError, match="decoder_skip must be a boolean"):
        MultiModalVAE.load(path)


def test_a_pickle_from_before_decoder_skip_was_resolved_gets_the_attribute():
    """A model of the previous release has ``_architecture["decoder_skip"]`` but no
    ``decoder_skip_``: unpickled, it reports what its decoders are."""
    est = MultiModalVAE(**SMALL).fit(_views(40))
    state = est.__getstate__()
    del state["decoder_skip_"]
    old = MultiModalVAE.__new__(MultiModalVAE)
    old.__setstate__(state)
    assert old.decoder_skip_ is True
