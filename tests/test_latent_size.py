"""n_components="auto": the latent size chosen by validation imputation (skmmvae._latent_size)."""
import os
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from skmmvae import MultiModalImputer, MultiModalVAE, _latent_size
from skmmvae.metrics import cross_modal_imputation_error

from conftest import make_data

# Small, fast networks; the two sizes compared are patched to (1, 3) where a test needs a
# choice it can predict.
FAST = dict(hidden_layer_sizes=(16,), embedding_size=8, max_epochs=4, random_state=0)


def three_views(n=200, seed=0, latent=3):
    """Three Gaussian views of one ``latent``-dimensional latent, little noise."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, latent))
    return {name: z @ rng.normal(size=(latent, d)) + 0.05 * rng.normal(size=(n, d))
            for name, d in (("a", 5), ("b", 4), ("c", 3))}


def validation_rows(est):
    """The rows of the fit's validation split, drawn from its recorded seed as the net's
    split draws them: the first ``floor(validation_fraction * n)`` of a seeded permutation."""
    import torch

    n = est._n_fit_rows
    n_valid = int(np.floor(est.validation_fraction * n))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(est._split_seed)).numpy()
    return order[:n_valid]


@pytest.fixture
def small_sizes(monkeypatch):
    monkeypatch.setattr(_latent_size, "AUTO_SIZES", (1, 3))


def quiet_fit(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X)


@pytest.mark.parametrize("label", [False, True])
def test_auto_keeps_the_size_with_the_lower_validation_error(label):
    X = three_views()
    params = dict(FAST)
    if label:  # a categorical modality counts too (its normalised Brier score)
        X["label"] = (X["a"][:, :1] > 0).astype(float)
        params["likelihoods"] = {"label": "categorical"}
    auto = quiet_fit(MultiModalVAE(n_components="auto", **params), X)
    sizes = auto.latent_selection_["n_components"]
    assert sizes == list(_latent_size.AUTO_SIZES) == [12, 24]
    # each size fitted on its own with the same random_state: the same model, and the
    # recorded error is the package metric on the fit's validation rows
    fitted = {size: quiet_fit(MultiModalVAE(n_components=size, **params), X) for size in sizes}
    errors = []
    for size in sizes:
        rows = validation_rows(fitted[size])
        assert len(rows) == 20
        errors.append(cross_modal_imputation_error(fitted[size], {k: v[rows] for k, v in X.items()}))
    np.testing.assert_allclose(auto.latent_selection_["validation_error"], errors, rtol=1e-12)
    chosen = sizes[int(np.argmin(errors))]
    assert auto.n_components_ == chosen and auto.n_components == "auto"
    np.testing.assert_array_equal(auto.transform(X), fitted[chosen].transform(X))
    assert auto.transform(X).shape == (200, chosen)
    assert len(auto.get_feature_names_out()) == chosen


def test_auto_chooses_the_size_the_data_need(small_sizes):
    # a 3-dimensional latent: one dimension cannot carry what the views share
    X = three_views(n=300, latent=3)
    auto = quiet_fit(MultiModalVAE(n_components="auto", **{**FAST, "max_epochs": 40}), X)
    errors = auto.latent_selection_["validation_error"]
    assert auto.latent_selection_["n_components"] == [1, 3]
    assert errors[1] < 0.8 * errors[0]
    assert auto.n_components_ == 3 and auto.module_.n_latent == 3


def test_auto_candidates_share_the_split_and_seed(monkeypatch):
    seen = []
    original = _latent_size._validation_error

    def record(candidate, X, rows):
        seen.append((candidate.n_components, candidate._split_seed, tuple(rows)))
        return original(candidate, X, rows)

    monkeypatch.setattr(_latent_size, "_validation_error", record)
    X = three_views()
    for random_state in (None, np.random.RandomState(3)):
        seen.clear()
        quiet_fit(MultiModalVAE(n_components="auto", **{**FAST, "random_state": random_state}), X)
        assert [s[0] for s in seen] == [12, 24]
        assert seen[0][1:] == seen[1][1:]


@pytest.mark.parametrize("case", ["single modality", "few validation rows", "no validation",
                                  "untrained", "numeric and label"])
def test_auto_fits_the_first_size_where_there_is_nothing_to_choose_on(case):
    X = three_views()
    params = dict(FAST)
    if case == "single modality":
        X = np.hstack([X["a"], X["b"]])
    elif case == "few validation rows":
        X = {k: v[:99] for k, v in X.items()}  # 9 validation rows
    elif case == "no validation":
        params["validation_fraction"] = 0.0
    elif case == "untrained":
        params["max_epochs"] = 0
    else:
        X = {"a": X["a"], "label": np.repeat(np.arange(2), 100)}
        params["likelihoods"] = {"label": "categorical"}
    auto = quiet_fit(MultiModalVAE(n_components="auto", **params), X)
    if case == "numeric and label":
        # "a" is numeric: it is the target predicted from the label, so a choice is made
        assert auto.latent_selection_["n_components"] == [12, 24]
        return
    assert auto.n_components_ == 12 and not hasattr(auto, "latent_selection_")
    twelve = quiet_fit(MultiModalVAE(n_components=12, **params), X)
    np.testing.assert_array_equal(auto.transform(X), twelve.transform(X))


def test_auto_warns_once_at_the_caller():
    X = three_views()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MultiModalVAE(n_components="auto", **FAST).fit(X)
    convergence = [w for w in caught if w.category.__name__ == "ConvergenceWarning"]
    assert len(convergence) == 1  # the kept model's, not one per size
    assert all(os.path.samefile(w.filename, __file__) for w in caught), [w.filename for w in caught]


def test_small_data_warnings_point_at_the_caller_of_fit():
    X = make_data(n=40, missing=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MultiModalVAE(max_epochs=1, random_state=0, early_stopping=True).fit(X)
    messages = [w for w in caught if "validation rows" in str(w.message) or "weights for" in str(w.message)]
    assert len(messages) == 2
    assert all(os.path.samefile(w.filename, __file__) for w in messages), [w.filename for w in messages]


def test_every_fit_records_its_size_and_a_refit_forgets_the_choice():
    X = three_views()
    est = quiet_fit(MultiModalVAE(n_components="auto", **FAST), X)
    assert hasattr(est, "latent_selection_")
    quiet_fit(est.set_params(n_components=5), X)
    assert est.n_components_ == 5 and not hasattr(est, "latent_selection_")
    assert est.transform(X).shape[1] == 5


def test_auto_partial_fit():
    X = three_views()
    fresh = MultiModalVAE(n_components="auto", **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh.partial_fit(X, epochs=1)  # one call: no choice, the first size
    assert fresh.n_components_ == 12 and fresh.module_.n_latent == 12
    auto = quiet_fit(MultiModalVAE(n_components="auto", **FAST), X)
    size = auto.n_components_
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "architecture changed" warning
        auto.partial_fit(X, epochs=1)
        # a model fitted with an integer size, switched to "auto": trains on as fitted
        fixed = quiet_fit(MultiModalVAE(n_components=3, **FAST), X).set_params(n_components="auto")
        fixed.partial_fit(X, epochs=1)
    assert auto.module_.n_latent == size and fixed.module_.n_latent == 3


def test_auto_imputer_and_clone():
    X = three_views()
    for name in ("a", "b"):
        X[name][:30] = np.nan
    imp = quiet_fit(MultiModalImputer(n_components="auto", **FAST), X)
    out = imp.transform(X)
    assert not np.isnan(out["a"]).any() and imp.n_components_ in (12, 24)
    assert clone(imp).get_params()["n_components"] == "auto"
    assert not hasattr(clone(imp), "n_components_")


@pytest.mark.parametrize("value", ["Auto", "best", 0, 2.5])
def test_n_components_validation(value):
    with pytest.raises(InvalidParameterError, match="n_components"):
        MultiModalVAE(n_components=value).fit(make_data())


def test_auto_save_load(tmp_path):
    X = three_views()
    auto = quiet_fit(MultiModalVAE(n_components="auto", **FAST), X)
    path = tmp_path / "auto.zip"
    auto.save(path)
    loaded = MultiModalVAE.load(path)
    assert loaded.n_components == "auto" and loaded.n_components_ == auto.n_components_
    assert loaded.latent_selection_ == auto.latent_selection_
    np.testing.assert_array_equal(loaded.transform(X), auto.transform(X))


def _rewrite(path, edit):
    import json
    import zipfile

    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    metadata = json.loads(members["metadata.json"])
    edit(metadata)
    members["metadata.json"] = json.dumps(metadata).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["attributes"]["_architecture"].update(n_components="auto"), "n_components must be a positive integer"),
    (lambda m: m["attributes"].update(n_components_=0), "n_components_"),
    (lambda m: m["attributes"]["latent_selection_"].update(validation_error=[0.1]), "latent_selection_"),
    (lambda m: m["attributes"]["latent_selection_"].update(extra=1), "latent_selection_"),
    (lambda m: m["attributes"]["latent_selection_"].update(epochs=[4]), "latent_selection_"),
    (lambda m: m["attributes"]["latent_selection_"].update(epochs=[4, 0]), "latent_selection_"),
])
def test_load_refuses_a_bad_recorded_size(tmp_path, edit, message):
    auto = quiet_fit(MultiModalVAE(n_components="auto", **FAST), three_views())
    path = tmp_path / "auto.zip"
    auto.save(path)
    _rewrite(path, edit)
    with pytest.raises(ValueError, match=message):
        MultiModalVAE.load(path)


# The race (see _latent_size): every size trains the KL warm-up, the clearly worse stop there.
RACE = dict(hidden_layer_sizes=(16,), embedding_size=8, max_epochs=8, random_state=0)  # warm-up 2


@pytest.fixture
def short_race(monkeypatch):
    monkeypatch.setattr(_latent_size, "RACE_MIN_EPOCHS", 1)
    # a wide size, with which the sizes race (without one every size trains in one call)
    monkeypatch.setattr(_latent_size, "_wide_candidate", lambda estimator, fitted: 5)


def test_the_race_ends_with_the_models_of_uninterrupted_fits(short_race, monkeypatch):
    X = three_views()
    monkeypatch.setattr(_latent_size, "RACE_MARGIN", float("inf"))  # no size stops
    raced = quiet_fit(MultiModalVAE(n_components="auto", **RACE), X)
    assert _latent_size._race_epochs(raced) == 2
    with monkeypatch.context() as m:
        m.setattr(_latent_size, "_race_epochs", lambda est: None)  # each size fitted whole
        whole = quiet_fit(MultiModalVAE(n_components="auto", **RACE), X)
    assert raced.latent_selection_ == whole.latent_selection_
    assert raced.latent_selection_["epochs"] == [8, 8, 8]
    np.testing.assert_array_equal(raced.transform(X), whole.transform(X))
    np.testing.assert_array_equal(raced.history_[:, "valid_loss"], whole.history_[:, "valid_loss"])
    assert [row["lr"] for row in raced.history_] == [row["lr"] for row in whole.history_]


def _record_validation_errors(monkeypatch):
    """``{size: [(epochs trained, validation error), ...]}``, filled as ``fit_auto`` scores."""
    seen = {}
    original = _latent_size._validation_error

    def record(candidate, X, rows):
        error = original(candidate, X, rows)
        seen.setdefault(candidate.n_components, []).append((len(candidate.history_), error))
        return error

    monkeypatch.setattr(_latent_size, "_validation_error", record)
    return seen


def test_the_race_stops_the_narrow_or_the_wide_sizes_clearly_worse_after_the_warm_up(
        short_race, monkeypatch):
    X = three_views()
    monkeypatch.setattr(_latent_size, "RACE_MARGIN", 1.0)  # the worse of the two groups stops
    seen = _record_validation_errors(monkeypatch)
    auto = quiet_fit(MultiModalVAE(n_components="auto", **RACE), X)
    assert sorted(seen) == [5, 12, 24] and all(seen[size][0][0] == 2 for size in seen)
    pause = {size: seen[size][0][1] for size in seen}
    narrow_lost = min(pause[12], pause[24]) > pause[5]
    stopped = [12, 24] if narrow_lost else [5]
    selection = auto.latent_selection_
    for size, epochs, error in zip(selection["n_components"], selection["epochs"],
                                   selection["validation_error"]):
        if size in stopped:
            assert epochs == 2 and error == pause[size]
        else:
            assert epochs == 8 and error == seen[size][-1][1] and seen[size][-1][0] == 8
    # whatever trains on is scored half-way too (epoch 4 of 8) and the wide size, trained
    # last, would stop there if behind: with the narrow sizes stopped there is no check
    assert all([epochs for epochs, _ in seen[size]] == ([2] if size in stopped else [2, 4, 8])
               for size in seen)
    kept = 5 if narrow_lost else auto.n_components_
    assert auto.n_components_ == kept
    # the size kept is the model a fit of that size alone gives
    alone = quiet_fit(MultiModalVAE(n_components=kept, **RACE), X)
    np.testing.assert_array_equal(auto.transform(X), alone.transform(X))


def test_the_wide_size_behind_half_way_stops_there(short_race, monkeypatch):
    X = three_views()
    monkeypatch.setattr(_latent_size, "_race_losers", lambda errors, n_narrow: set())  # all on
    monkeypatch.setattr(_latent_size, "RACE_MARGIN", 0.0)  # half-way, any error is behind
    seen = _record_validation_errors(monkeypatch)
    auto = quiet_fit(MultiModalVAE(n_components="auto", verbose=0, **RACE), X)
    assert _latent_size._midway_epoch(auto, 2) == 4
    selection = auto.latent_selection_
    assert selection["n_components"] == [12, 24, 5] and selection["epochs"] == [8, 8, 4]
    assert [e for e, _ in seen[5]] == [2, 4]  # the pause, half-way; not trained on
    assert selection["validation_error"][2] == seen[5][1][1]
    assert [e for e, _ in seen[12]] == [2, 4, 8] and [e for e, _ in seen[24]] == [2, 4, 8]
    assert auto.n_components_ in (12, 24)
    alone = quiet_fit(MultiModalVAE(n_components=auto.n_components_, **RACE), X)
    np.testing.assert_array_equal(auto.transform(X), alone.transform(X))


def test_the_wide_size_half_way_is_judged_against_the_narrow_sizes_then(short_race, monkeypatch):
    """Half-way, the wide size stops where its error is above RACE_MARGIN times the best
    narrow one's at the same epoch, and only then."""
    X = three_views()
    monkeypatch.setattr(_latent_size, "_race_losers", lambda errors, n_narrow: set())
    halfway = {}
    original = _latent_size._Midway.on_epoch_end

    def watch(self, net, **kwargs):
        try:
            original(self, net, **kwargs)
        finally:
            if self.error is not None:
                halfway[self.candidate.n_components] = self.error

    monkeypatch.setattr(_latent_size._Midway, "on_epoch_end", watch)
    first = quiet_fit(MultiModalVAE(n_components="auto", **RACE), X)
    ratio = halfway[5] / min(halfway[12], halfway[24])
    for margin, stops in ((ratio * 0.99, True), (ratio * 1.01, False)):
        monkeypatch.setattr(_latent_size, "RACE_MARGIN", margin)
        auto = quiet_fit(MultiModalVAE(n_components="auto", **RACE), X)
        assert auto.latent_selection_["epochs"][2] == (4 if stops else 8)
    assert first.latent_selection_["epochs"] == [8, 8, 4 if ratio > 1.1 else 8]


def test_no_check_half_way_without_a_race_or_with_an_accelerator():
    assert _latent_size._midway_epoch(MultiModalVAE(), 25) == 50
    assert _latent_size._midway_epoch(MultiModalVAE(), None) is None
    assert _latent_size._midway_epoch(MultiModalVAE(max_epochs=40), 25) is None  # 20 < 25
    assert _latent_size._midway_epoch(MultiModalVAE(accelerator="auto"), 25) is None


def test_without_a_wide_size_every_size_trains_in_one_call(monkeypatch):
    monkeypatch.setattr(_latent_size, "RACE_MIN_EPOCHS", 1)
    monkeypatch.setattr(_latent_size, "RACE_MARGIN", 1.0)
    calls = []
    original = MultiModalVAE._train

    def train(self, tensors, epochs, **kwargs):
        calls.append(epochs)
        return original(self, tensors, epochs, **kwargs)

    monkeypatch.setattr(MultiModalVAE, "_train", train)
    auto = quiet_fit(MultiModalVAE(n_components="auto", **RACE), three_views())
    assert auto.latent_selection_["epochs"] == [8, 8] and calls == [8, 8]


@pytest.mark.parametrize("params", [dict(kl_warmup=0), dict(max_epochs=60)])
def test_no_race_without_a_warm_up_of_at_least_race_min_epochs(params):
    est = MultiModalVAE(n_components="auto", **{**RACE, **params})
    assert _latent_size._race_epochs(est) is None
    assert _latent_size._race_epochs(MultiModalVAE()) == 25  # the default: 100 epochs


def test_the_validation_rows_are_cut_from_the_data_once_and_score_as_the_data_do(monkeypatch):
    """fit_auto scores every candidate on blocks cut from X once (every candidate learns the
    same schema from the same X), not on a conversion of the whole of X per score; each score
    equals the one computed from X itself."""
    X = {**three_views(), "y": np.repeat(np.array(["p", "q"]), 100)[:, None]}
    models = [quiet_fit(MultiModalVAE(n_components=size, likelihoods={"y": "categorical"}, **FAST), X)
              for size in (2, 3)]
    rows = validation_rows(models[0])
    expected = [_latent_size._validation_error(model, X, rows) for model in models]
    conversions = []
    original = MultiModalVAE._tensors

    def counting(self, data, *args, **kwargs):
        conversions.append(len(next(iter(data.values()))))
        return original(self, data, *args, **kwargs)

    monkeypatch.setattr(MultiModalVAE, "_tensors", counting)
    cut = _latent_size._ValidationRows(X, rows)
    got = [_latent_size._validation_error(model, cut, rows) for model in models + models]
    assert got == expected + expected
    assert conversions.count(200) == 1  # the whole of X once, by the first score (predict
    # converts the 20 validation rows it is given)
    assert cut.X is None and all(len(block) == len(rows) for block in cut.blocks.values())
