"""``early_stopping="auto"`` (the default): early stopping where the validation split holds at
least ``MIN_EARLY_STOPPING_ROWS`` (20) rows; with fewer every epoch trains, and below
``MIN_HOLDOUT_ROWS`` (10) no row is held out."""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skmmvae import MultiModalImputer, MultiModalVAE
from skmmvae._persistence import _check_attribute
from skmmvae._small_data import MIN_EARLY_STOPPING_ROWS, MIN_HOLDOUT_ROWS

from conftest import make_data

FAST = dict(n_components=2, hidden_layer_sizes=(8,), embedding_size=8, max_epochs=4,
            batch_size=32, random_state=0)


def _fit(X, cls=MultiModalVAE, **params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = cls(**{**FAST, **params}).fit(X)
    return est, [str(w.message) for w in caught]


def _trained_rows(est):
    return sum(est.history_[-1, "batches", :, "train_batch_size"])


def test_below_ten_validation_rows_auto_holds_no_row_out_and_trains_every_epoch():
    n = 10 * MIN_HOLDOUT_ROWS - 1  # 10% of 99 rows: 9 validation rows
    X = make_data(n)
    est, messages = _fit(X, n_iter_no_change=1, lr=0.5)  # a patience that would stop it
    assert est.early_stopping == "auto" and est.early_stopping_ is False
    assert "valid_loss" not in est.history_[-1]
    assert _trained_rows(est) == n
    assert len(est.history_) == FAST["max_epochs"]
    assert not any("early stopping would monitor" in m for m in messages)
    # the same model as the settings the warning used to advise
    advised, _ = _fit(X, n_iter_no_change=1, lr=0.5, early_stopping=False, validation_fraction=0.0)
    np.testing.assert_array_equal(est.transform(X), advised.transform(X))


@pytest.mark.parametrize("n", [10 * MIN_HOLDOUT_ROWS, 10 * MIN_EARLY_STOPPING_ROWS - 1])
def test_from_ten_to_nineteen_validation_rows_auto_holds_them_out_and_trains_every_epoch(n):
    X = make_data(n)
    est, messages = _fit(X, n_iter_no_change=1, lr=0.5)
    assert est.early_stopping_ is False and "early_stopping" not in dict(est.net_.callbacks_)
    assert "valid_loss" in est.history_[-1] and _trained_rows(est) == n - n // 10
    assert len(est.history_) == FAST["max_epochs"]
    assert not any("early stopping would monitor" in m for m in messages)
    explicit, _ = _fit(X, n_iter_no_change=1, lr=0.5, early_stopping=False)
    np.testing.assert_array_equal(est.transform(X), explicit.transform(X))


def test_from_twenty_validation_rows_auto_stops_early_as_true_does():
    n = 10 * MIN_EARLY_STOPPING_ROWS  # 20 validation rows
    X = make_data(n)
    est, _ = _fit(X)
    assert est.early_stopping_ is True
    assert "valid_loss" in est.history_[-1]
    assert _trained_rows(est) == n - MIN_EARLY_STOPPING_ROWS
    assert "early_stopping" in dict(est.net_.callbacks_)
    explicit, _ = _fit(X, early_stopping=True)
    np.testing.assert_array_equal(est.transform(X), explicit.transform(X))
    np.testing.assert_array_equal(est.history_[:, "valid_loss"], explicit.history_[:, "valid_loss"])


def test_auto_counts_the_validation_rows_of_the_given_fraction():
    X = make_data(80)
    assert _fit(X, validation_fraction=0.25)[0].early_stopping_ is True  # 20 rows
    held, _ = _fit(X, validation_fraction=0.125)  # 10 rows: held out, every epoch trains
    assert held.early_stopping_ is False and _trained_rows(held) == 70
    none, _ = _fit(X, validation_fraction=0.1)  # 8 rows: none held out
    assert none.early_stopping_ is False and _trained_rows(none) == 80
    assert _fit(make_data(1000), validation_fraction=0.0)[0].early_stopping_ is False


def test_explicit_values_keep_their_meaning_on_small_data():
    X = make_data(40)
    on, messages = _fit(X, early_stopping=True)
    assert on.early_stopping_ is True and "valid_loss" in on.history_[-1]
    assert any("early stopping would monitor 4 validation rows" in m for m in messages)
    off, _ = _fit(X, early_stopping=False)  # every epoch, rows still held out to report
    assert off.early_stopping_ is False and "valid_loss" in off.history_[-1]
    assert _trained_rows(off) == 36


def test_the_imputer_and_a_first_partial_fit_resolve_it_alike():
    X = make_data(60)
    imputer, _ = _fit(X, cls=MultiModalImputer)
    assert imputer.early_stopping == "auto" and imputer.early_stopping_ is False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        partial = MultiModalVAE(**FAST).partial_fit(X, epochs=2)
    assert partial.early_stopping_ is False and _trained_rows(partial) == 60
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        partial.set_params(early_stopping=True).partial_fit(X, epochs=1)
    assert partial.early_stopping_ is True


def test_the_resolved_value_survives_pickling_and_saving(tmp_path):
    est, _ = _fit(make_data(60))
    copy = pickle.loads(pickle.dumps(est))
    assert copy.early_stopping_ is False
    est.save(tmp_path / "model.skmmvae")
    loaded = MultiModalVAE.load(tmp_path / "model.skmmvae")
    assert loaded.early_stopping_ is False
    state = est.__getstate__()
    del state["early_stopping_"]  # a model saved before the attribute: resolved from its data
    old = MultiModalVAE.__new__(MultiModalVAE)
    old.__setstate__(state)
    assert old.early_stopping_ is False


@pytest.mark.parametrize("value", ["yes", 1.5, None])
def test_other_values_are_refused(value):
    with pytest.raises(InvalidParameterError, match="early_stopping"):
        MultiModalVAE(early_stopping=value).fit(make_data(40))


@pytest.mark.parametrize("value", [1, "true", None])
def test_a_file_cannot_set_a_non_boolean_attribute(value):
    with pytest.raises(ValueError, match="early_stopping_"):
        _check_attribute("early_stopping_", value)
    _check_attribute("early_stopping_", True)


def test_a_budget_ended_while_the_validation_loss_falls_warns_without_early_stopping_too():
    """With 10-19 validation rows "auto" does not stop early but still watches the validation
    loss: a fit that ends at max_epochs while it falls warns as with early stopping; with
    early_stopping=False (every epoch asked for) or no rows held out there is nothing to say."""
    from sklearn.exceptions import ConvergenceWarning

    X = make_data(150, missing=False)  # 15 validation rows
    est, _ = _fit(X)
    assert est.early_stopping_ is False and "valid_loss" in est.history_[-1]
    losses = list(est.history_[:, "valid_loss"])
    assert losses == sorted(losses, reverse=True)  # falling at every epoch: the case to warn
    with pytest.warns(ConvergenceWarning, match=r"still falling.*last improved in epoch 4 of 4"):
        MultiModalVAE(**FAST).fit(X)
    for params, data in (({"early_stopping": False}, X), ({}, make_data(60, missing=False))):
        _, messages = _fit(data, **params)
        assert not any("still falling" in m for m in messages), params
