"""``weight_decay``: decoupled weight decay (``AdamW``) of the networks' weights; 0 trains
with Adam exactly as before; ``"auto"`` (the default) decays with small data only."""
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

from skmmvae import MultiModalImputer, MultiModalVAE
from skmmvae._small_data import SMALL_DATA_ROWS, SMALL_DATA_WEIGHT_DECAY

from conftest import make_data

FAST = dict(n_components=2, hidden_layer_sizes=(8,), embedding_size=8, max_epochs=3,
            random_state=0, early_stopping=False, validation_fraction=0.0)


def _fit(**params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MultiModalVAE(**FAST, **params).fit(make_data())


def _fit_rows(n, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MultiModalVAE(**{**FAST, **params}).fit(make_data(n))


@pytest.mark.parametrize("n_rows, decay", [(SMALL_DATA_ROWS + 1, 0.0), (SMALL_DATA_ROWS, SMALL_DATA_WEIGHT_DECAY)])
def test_auto_decays_up_to_the_small_data_rows_and_is_the_number_it_resolves_to(n_rows, decay):
    est = _fit_rows(n_rows)  # the default: "auto"
    assert est.weight_decay == "auto" and est.weight_decay_ == decay
    optimizer = est.net_.optimizer_
    assert type(optimizer) is (torch.optim.AdamW if decay else torch.optim.Adam)
    assert all(group["weight_decay"] == decay for group in optimizer.param_groups)
    same = _fit_rows(n_rows, weight_decay=decay)
    assert same.weight_decay_ == decay
    given = {"a": make_data(n_rows)["a"]}
    np.testing.assert_array_equal(est.predict(given)["b"], same.predict(given)["b"])


def test_zero_trains_with_adam_as_before_whatever_the_rows():
    est = _fit(weight_decay=0.0)  # 80 rows: "auto" would decay
    assert type(est.net_.optimizer_) is torch.optim.Adam and est.weight_decay_ == 0.0


def test_weight_decay_trains_with_adamw_and_shrinks_the_weights():
    decayed = _fit(weight_decay=50.0)
    optimizer = decayed.net_.optimizer_
    assert type(optimizer) is torch.optim.AdamW
    assert all(group["weight_decay"] == 50.0 for group in optimizer.param_groups)
    plain = _fit(weight_decay=0.0)

    def norm(est):  # the networks' weight matrices (the decay acts on every parameter)
        return sum(float(p.detach().norm()) for name, p in est.module_.named_parameters()
                   if name.endswith("weight"))
    assert norm(decayed) < 0.9 * norm(plain)


def test_the_imputer_takes_it():
    X = np.hstack([make_data()["a"], make_data()["b"]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imp = MultiModalImputer(modalities=[make_data()["a"].shape[1], make_data()["b"].shape[1]],
                                weight_decay=0.5, **FAST).fit(X)
    assert type(imp.net_.optimizer_) is torch.optim.AdamW


@pytest.mark.parametrize("value", [-1.0, "small", None])
def test_bad_values_are_refused_before_training(value):
    with pytest.raises(InvalidParameterError, match="weight_decay"):
        MultiModalVAE(**FAST, weight_decay=value).fit(make_data())


def test_the_resolved_decay_survives_pickling_save_and_load_and_partial_fit(tmp_path):
    est = _fit_rows(60)
    path = tmp_path / "model.skmmvae"
    est.save(path)
    for copy in (pickle.loads(pickle.dumps(est)), MultiModalVAE.load(path)):
        assert copy.weight_decay == "auto" and copy.weight_decay_ == SMALL_DATA_WEIGHT_DECAY
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            copy.partial_fit(make_data(60), epochs=1)  # rebuilt: the same rule on the same rows
        assert all(group["weight_decay"] == SMALL_DATA_WEIGHT_DECAY
                   for group in copy.net_.optimizer_.param_groups)


def test_a_pickle_from_before_the_parameter_trained_with_adam():
    est = _fit_rows(60, weight_decay=0.0)
    state = est.__getstate__()
    del state["weight_decay"], state["weight_decay_"]  # as models pickled before both
    old = MultiModalVAE.__new__(MultiModalVAE)
    old.__setstate__(state)
    assert old.weight_decay == 0.0 and old.weight_decay_ == 0.0


@pytest.mark.parametrize("value", [-1.0, "3", True, float("nan")])
def test_a_file_with_a_bad_fitted_decay_is_refused(value):
    from skmmvae._persistence import _check_attribute

    with pytest.raises(ValueError, match="weight_decay_"):
        _check_attribute("weight_decay_", value)
    _check_attribute("weight_decay_", 3.0)


@pytest.mark.parametrize("before, after", [("auto", 0.0), (0.0, 2.0), ("auto", 3.0)])
def test_a_weight_decay_set_after_the_fit_is_the_one_partial_fit_trains_with(before, after):
    # partial_fit takes the training parameters' current values: the optimiser state it
    # carries over must not bring back the decay of the fit (its param groups replace the
    # new optimiser's), and weight_decay_ says what it trained with
    est = _fit_rows(60, weight_decay=before)
    est.set_params(weight_decay=after)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.partial_fit(make_data(60), epochs=1)
    optimizer = est.net_.optimizer_
    assert type(optimizer) is (torch.optim.AdamW if after else torch.optim.Adam)
    assert all(group["weight_decay"] == after for group in optimizer.param_groups)
    if after:
        assert all(group.get("decoupled_weight_decay", True) for group in optimizer.param_groups)
    assert est.weight_decay_ == after


def test_a_file_from_before_the_parameter_loads_and_trains_with_adam(tmp_path):
    import json
    import zipfile

    est = _fit_rows(60, weight_decay=0.0)
    path, old = tmp_path / "model.skmmvae", tmp_path / "old.skmmvae"
    est.save(path)
    with zipfile.ZipFile(path) as archive, zipfile.ZipFile(old, "w") as out:
        for item in archive.infolist():
            data = archive.read(item.filename)
            if item.filename == "metadata.json":  # as files saved before both
                metadata = json.loads(data)
                del metadata["params"]["weight_decay"], metadata["attributes"]["weight_decay_"]
                data = json.dumps(metadata).encode()
            out.writestr(item, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = MultiModalVAE.load(old)
        assert loaded.weight_decay == 0.0 and loaded.weight_decay_ == 0.0
        loaded.partial_fit(make_data(60), epochs=1)
    assert type(loaded.net_.optimizer_) is torch.optim.Adam


@pytest.mark.parametrize("n_rows, decay", [(150, SMALL_DATA_WEIGHT_DECAY), (151, 0.0)])
def test_auto_decays_where_the_rows_are_no_more_than_the_columns(n_rows, decay):
    """Beyond the small-data rows too: 150 columns (a modality of 140 and a categorical one
    of 10 classes, counted by its classes) decay with up to 150 rows."""
    rng = np.random.default_rng(0)
    X = {"wide": rng.normal(size=(n_rows, 140)), "label": np.arange(n_rows)[:, None] % 10}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MultiModalVAE(**{**FAST, "max_epochs": 1}, likelihoods={"label": "categorical"}).fit(X)
    assert n_rows > SMALL_DATA_ROWS and est.weight_decay_ == decay
    assert type(est.net_.optimizer_) is (torch.optim.AdamW if decay else torch.optim.Adam)
