"""Review of ``early_stopping="auto"`` (commit 58d26dd): its boundary, its consistency with the
other users of the validation split (``n_components="auto"``, class temperatures, the
usefulness check, the small-data warning), scikit-learn's tools, ``partial_fit`` and
persistence. Tests marked ``xfail(strict=True)`` show behaviour judged a bug."""
import io
import json
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_validate

from skmmvae import MultiModalImputer, MultiModalVAE
from skmmvae._latent_size import MIN_SELECTION_ROWS
from skmmvae._net import validation_split
from skmmvae._small_data import MIN_EARLY_STOPPING_ROWS, MIN_HOLDOUT_ROWS, auto_early_stopping, auto_holds_out
from skmmvae._usefulness import usefulness_ratios

from conftest import make_data, make_labelled_data

FAST = dict(n_components=2, hidden_layer_sizes=(8,), embedding_size=8, max_epochs=3,
            batch_size=32, random_state=0)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _fit(X, cls=MultiModalVAE, **params):
    return _quiet(cls(**{**FAST, **params}).fit, X)


def _trained_rows(est):
    """Rows trained on in the last epoch."""
    return sum(est.history_[-1, "batches", :, "train_batch_size"])


def _has_valid(est):
    return "valid_loss" in est.history_[-1]


def _stops_early(est):
    return "early_stopping" in dict(est.net_.callbacks_)


def _as_2d(data):
    return np.hstack([data["a"], data["b"]])


# ----------------------------------------------------------------------------- the boundary


@pytest.mark.parametrize("n, fraction, held, stops", [
    (99, 0.1, False, False), (100, 0.1, True, False), (199, 0.1, True, False), (200, 0.1, True, True),
    (39, 0.25, False, False), (40, 0.25, True, False), (80, 0.25, True, True),
    (400, 0.0, False, False),
])
def test_the_boundary_decides_hold_out_callback_and_attribute_together(n, fraction, held, stops):
    est = _fit(make_data(n), validation_fraction=fraction)
    assert est.early_stopping_ is stops  # a Python bool, not numpy's
    assert _has_valid(est) is held
    assert _stops_early(est) is stops
    held_out = int(np.floor(fraction * n)) if held else 0
    assert _trained_rows(est) == n - held_out
    assert len(est.history_) == FAST["max_epochs"]


def test_the_rule_is_the_split_the_net_and_the_latent_selection_make():
    """auto_holds_out says True exactly where validation_split makes a split of at least
    MIN_SELECTION_ROWS validation rows, auto_early_stopping where it makes one of at least
    MIN_EARLY_STOPPING_ROWS (same floor, same float arithmetic)."""
    assert MIN_HOLDOUT_ROWS == MIN_SELECTION_ROWS and MIN_EARLY_STOPPING_ROWS == 20
    for fraction in (0.0, 0.05, 0.07, 0.1, 0.1 + 1e-12, 0.25, 1 / 3, 0.29, 0.5, 0.9, np.float32(0.1)):
        for n in range(1, 260):
            split = validation_split(n, float(fraction), 0)
            rows = 0 if split is None else len(split[1])
            assert auto_holds_out(n, float(fraction)) is (rows >= MIN_SELECTION_ROWS), (n, fraction)
            assert auto_early_stopping(n, float(fraction)) is (rows >= 20), (n, fraction)


def test_an_all_missing_row_counts_as_a_row():
    X = make_data(100, missing=False)
    X["a"][50] = np.nan
    X["b"][50] = np.nan
    est = _fit(X)
    assert est._n_fit_rows == 100 and _has_valid(est) and _trained_rows(est) == 90


# ----------------------------------------------------------------------------- n_components="auto"


@pytest.mark.parametrize("n", [99, 100])
def test_latent_selection_happens_exactly_when_auto_holds_rows_out(n):
    X = make_data(n)
    est = _fit(X, n_components="auto")
    assert est.early_stopping_ is False and _has_valid(est) is (n >= 100)
    assert ("latent_selection_" in est.__dict__) is _has_valid(est)
    if _has_valid(est):
        assert est.latent_selection_["n_components"] == [12, 24]
        assert _trained_rows(est) == n - 10  # the 10 rows it chose on were never trained on
    else:  # no row held out, none chosen on: the first size, as n_components=12 fits it
        assert est.n_components_ == 12 and _trained_rows(est) == n
        fixed = _fit(X, n_components=12)
        np.testing.assert_array_equal(est.transform(X), fixed.transform(X))


def test_latent_selection_disappears_on_a_refit_too_small_to_choose_on():
    est = MultiModalVAE(**{**FAST, "n_components": "auto"})
    _quiet(est.fit, make_data(100))
    assert _has_valid(est) and "latent_selection_" in est.__dict__
    _quiet(est.fit, make_data(99, seed=1))
    assert not _has_valid(est) and not hasattr(est, "latent_selection_")
    assert _trained_rows(est) == 99 and est.n_components_ == 12
    _quiet(est.fit, make_data(200, seed=2))
    assert est.early_stopping_ is True and "latent_selection_" in est.__dict__


def test_latent_selection_with_explicit_false_still_chooses_on_held_out_rows():
    est = _fit(make_data(100), n_components="auto", early_stopping=False)
    assert est.early_stopping_ is False and not _stops_early(est)
    assert "latent_selection_" in est.__dict__ and _trained_rows(est) == 90 and _has_valid(est)


# ----------------------------------------------------------------------------- the imputer


def test_the_imputer_with_missing_blocks_trains_every_row_as_advised():
    X = make_data(99, missing=True)
    imputer = _fit(X, cls=MultiModalImputer)
    assert imputer.early_stopping_ is False and _trained_rows(imputer) == 99 and not _has_valid(imputer)
    filled = imputer.transform(X)
    assert not np.isnan(filled["a"]).any() and not np.isnan(filled["b"]).any()
    advised = _fit(X, cls=MultiModalImputer, early_stopping=False, validation_fraction=0.0)
    for name in X:
        np.testing.assert_array_equal(filled[name], advised.transform(X)[name])
    held = _fit(make_data(100, missing=True), cls=MultiModalImputer)
    assert held.early_stopping_ is False and _trained_rows(held) == 90 and _has_valid(held)
    big = _fit(make_data(200, missing=True), cls=MultiModalImputer)
    assert big.early_stopping_ is True and _trained_rows(big) == 180


# ----------------------------------------------------------------------------- scikit-learn


def test_defaults_and_clone_keep_auto():
    for cls in (MultiModalVAE, MultiModalImputer):
        assert cls().get_params()["early_stopping"] == "auto"
    est = _fit(make_data(60))
    assert est.get_params()["early_stopping"] == "auto"  # fit does not overwrite the parameter
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "early_stopping_")
    assert clone(MultiModalVAE()).get_params() == MultiModalVAE().get_params()


@pytest.mark.parametrize("n, expected, held", [(198, False, 0), (200, False, 10), (400, True, 20)])
def test_each_cross_validation_fold_resolves_on_its_own_rows(n, expected, held):
    X = _as_2d(make_data(n, missing=False))
    est = MultiModalVAE(modalities=[4, 3], **{**FAST, "max_epochs": 2})
    result = _quiet(cross_validate, est, X, cv=2, return_estimator=True)
    for fold in result["estimator"]:
        assert fold._n_fit_rows == n // 2
        assert fold.early_stopping_ is expected
        assert _trained_rows(fold) == n // 2 - held
    assert np.isfinite(result["test_score"]).all()
    assert est.get_params()["early_stopping"] == "auto" and not hasattr(est, "early_stopping_")


def test_set_params_between_fits_and_refits_resolve_afresh():
    est = MultiModalVAE(**FAST)
    _quiet(est.fit, make_data(60))
    assert est.early_stopping_ is False and _trained_rows(est) == 60
    _quiet(est.set_params(early_stopping=True).fit, make_data(60))
    assert est.early_stopping_ is True and _trained_rows(est) == 54 and _stops_early(est)
    _quiet(est.set_params(early_stopping="auto").fit, make_data(200))
    assert est.early_stopping_ is True and _trained_rows(est) == 180
    _quiet(est.fit, make_data(60))  # a smaller refit: resolved on its own rows
    assert est.early_stopping_ is False and _trained_rows(est) == 60 and not _has_valid(est)


def test_refitting_is_idempotent_on_small_data():
    X = make_data(60)
    est = MultiModalVAE(**FAST)
    first = _quiet(est.fit, X).transform(X)
    second = _quiet(est.fit, X).transform(X)
    np.testing.assert_array_equal(first, second)
    assert est.early_stopping_ is False


def test_numpy_values_resolve_to_python_bools_and_save(tmp_path):
    est = _fit(make_data(60), early_stopping=np.True_, validation_fraction=np.float64(0.1))
    assert est.early_stopping_ is True
    est.save(tmp_path / "m.zip")
    assert MultiModalVAE.load(tmp_path / "m.zip").early_stopping_ is True


# ----------------------------------------------------------------------------- partial_fit


def test_each_partial_fit_resolves_auto_on_its_own_rows():
    est = _quiet(MultiModalVAE(**FAST).partial_fit, make_data(60), epochs=2)
    assert est.early_stopping_ is False and _trained_rows(est) == 60
    _quiet(est.partial_fit, make_data(300, seed=1), epochs=1)  # 30 validation rows this call
    assert est.early_stopping_ is True and _has_valid(est) and _stops_early(est)
    assert _trained_rows(est) == 270
    _quiet(est.set_params(early_stopping=True).partial_fit, make_data(300, seed=1), epochs=1)
    assert est.early_stopping_ is True and _has_valid(est) and _trained_rows(est) == 270
    _quiet(est.set_params(early_stopping="auto").partial_fit, make_data(60, seed=2), epochs=1)
    assert est.early_stopping_ is False and not _has_valid(est) and _trained_rows(est) == 60
    assert "_n_call_rows" not in est.__dict__  # the call's row count does not outlive it


def test_auto_never_stops_early_on_fewer_than_ten_validation_rows_in_a_continuation():
    """Found by review: "auto" was resolved on the first fit's rows, so a continuation on 50
    rows after a 200-row fit stopped early on 5 validation rows."""
    est = _fit(make_data(200))
    assert est.early_stopping_ is True
    _quiet(est.partial_fit, make_data(50, seed=1), epochs=1)
    n_valid = 50 - _trained_rows(est)
    assert not est.early_stopping_ or n_valid >= MIN_EARLY_STOPPING_ROWS, (est.early_stopping_, n_valid)
    assert est.early_stopping_ is False and n_valid == 0 and not _stops_early(est)


def test_early_stopping_attribute_is_false_where_no_row_was_held_out():
    """Found by review: early_stopping=True resolved to True where no split exists."""
    est = _fit(make_data(60), early_stopping=True, validation_fraction=0.0)
    assert not _has_valid(est) and _trained_rows(est) == 60
    assert est.early_stopping_ is False
    est = _fit(make_data(8, missing=False), early_stopping=True)  # 10% of 8 rows: none
    assert not _has_valid(est) and est.early_stopping_ is False
    assert _fit(make_data(20, missing=False), early_stopping=True).early_stopping_ is True  # 2 rows


# ----------------------------------------------------------------------------- persistence


@pytest.mark.parametrize("n, expected", [(60, False), (200, True)])
def test_pickle_joblib_and_save_keep_the_resolution_and_the_model(tmp_path, n, expected):
    X = make_data(n)
    est = _fit(X)
    Z = est.transform(X)
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    est.save(tmp_path / "m.zip")
    with zipfile.ZipFile(tmp_path / "m.zip") as archive:
        metadata = json.loads(archive.read("metadata.json"))
    assert metadata["attributes"]["early_stopping_"] is expected
    assert metadata["params"]["early_stopping"] == "auto"
    for copy in (pickle.loads(pickle.dumps(est)), joblib.load(buffer), MultiModalVAE.load(tmp_path / "m.zip")):
        assert copy.early_stopping_ is expected and copy.early_stopping == "auto"
        np.testing.assert_array_equal(copy.transform(X), Z)


def test_a_loaded_small_model_continues_on_every_row_like_the_original(tmp_path):
    X = make_data(60)
    est = _fit(X)
    est.save(tmp_path / "m.zip")
    loaded = MultiModalVAE.load(tmp_path / "m.zip")
    _quiet(est.partial_fit, X, epochs=2)
    _quiet(loaded.partial_fit, X, epochs=2)
    assert loaded.early_stopping_ is False and _trained_rows(loaded) == 60 and not _has_valid(loaded)
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    _quiet(loaded.set_params(early_stopping=True).partial_fit, X, epochs=1)
    assert loaded.early_stopping_ is True and _trained_rows(loaded) == 54


def _rewrite(path, edit):
    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read("metadata.json"))
        weights = archive.read("weights.pt")
    edit(metadata)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("weights.pt", weights)


@pytest.mark.parametrize("param, expected", [("auto", False), (True, True), (False, False)])
def test_a_file_saved_before_the_attribute_gets_it_resolved(tmp_path, param, expected):
    est = _fit(make_data(60))
    est.save(tmp_path / "m.zip")

    def edit(metadata):
        del metadata["attributes"]["early_stopping_"]
        metadata["params"]["early_stopping"] = param  # True: the default of files of then

    _rewrite(tmp_path / "m.zip", edit)
    loaded = MultiModalVAE.load(tmp_path / "m.zip")
    assert loaded.early_stopping_ is expected


@pytest.mark.parametrize("value", [0, "False", None, [True]])
def test_a_file_with_a_non_boolean_attribute_is_refused(tmp_path, value):
    est = _fit(make_data(60))
    est.save(tmp_path / "m.zip")
    _rewrite(tmp_path / "m.zip", lambda metadata: metadata["attributes"].__setitem__("early_stopping_", value))
    with pytest.raises(ValueError, match="early_stopping_"):
        MultiModalVAE.load(tmp_path / "m.zip")


# ----------------------------------------------------------------------------- the warning


@pytest.mark.parametrize("n", [99, 100, 150, 199, 200])
def test_the_small_data_warning_names_the_rows_really_held_out(n):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = MultiModalVAE(**FAST).fit(make_data(n))
    messages = [str(w.message) for w in caught if "early stopping would monitor" in str(w.message)]
    held_out = n - _trained_rows(est)
    assert messages == []  # "auto" stops early only on 20 validation rows or more
    assert held_out == (0 if n < 100 else n // 10)
    assert est.early_stopping_ is (n >= 200)
    if 10 <= held_out < 20:  # with True, the warning names the rows held out
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            MultiModalVAE(**FAST, early_stopping=True).fit(make_data(n))
        messages = [str(w.message) for w in caught if "early stopping would monitor" in str(w.message)]
        assert len(messages) == 1
        assert messages[0].startswith(f"early stopping would monitor {held_out} validation rows "
                                      f"(validation_fraction=0.1 of {n})")


def test_verbose_output_has_no_valid_column_where_nothing_is_held_out(capsys):
    _fit(make_data(60), verbose=1)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")]
    assert len(lines) == FAST["max_epochs"] and not any("valid" in line for line in lines)


# ----------------------------------------------------------------------------- calibration, usefulness


def _labelled(n, seed=0):
    return make_labelled_data(n, seed)


def test_no_temperatures_and_no_usefulness_rows_where_nothing_was_held_out():
    """A first partial_fit on 800 rows holds 80 out and fits the temperatures on them; a
    continuation on 60 rows holds none out, so no row of it is scored as if held out."""
    likelihoods = {"y": "categorical"}
    params = {**FAST, "batch_size": 64, "likelihoods": likelihoods}
    big = _labelled(800)
    est = _quiet(MultiModalVAE(**params).partial_fit, big, epochs=2)
    assert est.early_stopping_ is True and _trained_rows(est) == 720
    assert set(est.class_temperatures_) == {"y"}
    assert set(usefulness_ratios(est, est._tensors(big)[0])) == {"a", "b", "y"}
    small = _labelled(60, seed=1)
    _quiet(est.partial_fit, small, epochs=1)
    assert _trained_rows(est) == 60 and est.early_stopping_ is False
    assert est.class_temperatures_ == {}
    assert usefulness_ratios(est, est._tensors(small)[0]) == {}
    # the same small data with rows held out (explicit False): 6 rows, too few to score
    held = _quiet(MultiModalVAE(**params, early_stopping=False).fit, small)
    assert _trained_rows(held) == 54


def test_a_small_categorical_fit_has_no_temperatures():
    est = _fit(_labelled(99), likelihoods={"y": "categorical"})
    assert est.early_stopping_ is False and est.class_temperatures_ == {}
    proba = est.predict_proba({"a": _labelled(99)["a"]}, modality="y")
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
