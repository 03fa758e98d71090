"""Reliability, second round: rows of pandas blocks, modality names, numpy and bool
parameters, max_epochs=0, devices, sizes beyond memory, and pickles taken during training.

Every bad input must fail with a ``ValueError`` or ``TypeError`` naming the modality or the
parameter and the problem, before any training, and the user's data is never modified.
"""
import copy
import os
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SMALL, make_data
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

import skmmvae
from skmmvae import ModalityDict, MultiModalVAE
from skmmvae import _checks, _inference

N = 80
LABELS = [f"s{i}" for i in range(N)]


def frames(seed=0):
    """``make_data`` as DataFrames sharing the index ``s0 .. s79``, plus string labels."""
    data = make_data(seed=seed)
    species = np.array(["x", "y", "z"], dtype=object)[np.arange(N) % 3]
    species[40:44] = None
    return {
        "a": pd.DataFrame(data["a"], index=LABELS, columns=["a0", "a1", "a2", "a3"]),
        "b": pd.DataFrame(data["b"], index=LABELS, columns=["b0", "b1", "b2"]),
        "species": pd.Series(species, index=LABELS, name="species"),
    }


LIKELIHOODS = {"species": "categorical"}
PERMUTATION = np.random.default_rng(1).permutation(N)


def shuffled(X, *names):
    """``X`` with the rows of the blocks ``names`` permuted (labels travel with the rows)."""
    return {k: (v.iloc[PERMUTATION] if k in names else v) for k, v in X.items()}


@pytest.fixture(scope="module")
def fitted_frames():
    return MultiModalVAE(likelihoods=LIKELIHOODS, **SMALL).fit(frames())


def no_training(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise AssertionError("training started before the input was validated")

    monkeypatch.setattr(MultiModalVAE, "_train", refuse)


def raised_by_skmmvae(excinfo):
    """The error comes from skmmvae's own checks, not from deep inside torch."""
    tb = excinfo.tb
    while tb.tb_next is not None:
        tb = tb.tb_next
    return os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(
        os.path.dirname(skmmvae.__file__) + os.sep)


# ----------------------------------------------------------------------------- 1. rows


def test_reordered_blocks_are_aligned_at_fit():
    X = frames()
    reference = MultiModalVAE(likelihoods=LIKELIHOODS, **SMALL).fit(X)
    before = copy.deepcopy(shuffled(X, "b", "species"))
    vae = MultiModalVAE(likelihoods=LIKELIHOODS, **SMALL).fit(shuffled(X, "b", "species"))
    for key, value in reference.module_.state_dict().items():
        assert torch.equal(value, vae.module_.state_dict()[key]), key
    after = shuffled(X, "b", "species")
    for name in X:  # the user's data is untouched
        pd.testing.assert_index_equal(before[name].index, after[name].index)


@pytest.mark.parametrize("moved", [("b",), ("species",), ("b", "species")])
def test_reordered_blocks_are_aligned_at_every_call(fitted_frames, moved):
    X = frames()
    Y = shuffled(X, *moved)
    np.testing.assert_array_equal(fitted_frames.transform(Y), fitted_frames.transform(X))
    np.testing.assert_array_equal(fitted_frames.score_samples(Y), fitted_frames.score_samples(X))
    np.testing.assert_array_equal(fitted_frames.score_samples(Y, given="a"),
                                  fitted_frames.score_samples(X, given="a"))
    np.testing.assert_array_equal(fitted_frames.predict_proba(Y), fitted_frames.predict_proba(X))
    np.testing.assert_array_equal(fitted_frames.sample_posterior(Y, n_samples=2),
                                  fitted_frames.sample_posterior(X, n_samples=2))


def test_predict_proba_rows_follow_the_first_block_even_if_it_is_the_target(fitted_frames):
    X = frames()
    Y = {"species": X["species"].iloc[PERMUTATION], "a": X["a"], "b": X["b"]}
    np.testing.assert_allclose(fitted_frames.predict_proba(Y),
                               fitted_frames.predict_proba(X)[PERMUTATION], rtol=1e-6, atol=1e-7)


def test_aligned_in_every_chunk(fitted_frames, monkeypatch):
    monkeypatch.setattr(_inference, "INFERENCE_CHUNK_ROWS", 7)
    X = frames()
    Y = shuffled(X, "a")  # the first modality: rows come back in its order
    # (rows at other places in a batch: equal up to the last bits of torch's kernels)
    np.testing.assert_allclose(fitted_frames.transform(Y), fitted_frames.transform(X)[PERMUTATION],
                               rtol=1e-6, atol=1e-7)
    out = fitted_frames.predict(Y)
    expected = fitted_frames.predict(X)
    for name in X:
        pd.testing.assert_index_equal(out[name].index, Y["a"].index)
        if name == "species":
            pd.testing.assert_series_equal(out[name], expected[name].loc[Y["a"].index])
        else:
            pd.testing.assert_frame_equal(out[name], expected[name].loc[Y["a"].index],
                                          check_exact=False, rtol=1e-6, atol=1e-7)


def test_predict_keeps_each_blocks_rows_and_labels_together(fitted_frames):
    X = frames()
    Y = shuffled(X, "b")
    out = fitted_frames.predict(Y)
    expected = fitted_frames.predict(X)
    for name in X:  # rows returned in the order of the first modality, each block's index too
        pd.testing.assert_index_equal(out[name].index, X["a"].index)
        assert out[name].equals(expected[name])
    observed = ~Y["b"].isna().all(axis=1)
    pd.testing.assert_frame_equal(out["b"].loc[Y["b"].index[observed]], Y["b"][observed])


def test_dict_with_a_leading_array_is_positional_for_the_array(fitted_frames):
    X = frames()
    mixed = {"a": X["a"].to_numpy(), "b": X["b"].iloc[PERMUTATION], "species": X["species"]}
    # the pandas blocks are aligned to the first of them (b); the array pairs by position
    aligned = {"a": X["a"].to_numpy(), "b": X["b"].iloc[PERMUTATION],
               "species": X["species"].iloc[PERMUTATION]}
    np.testing.assert_array_equal(fitted_frames.transform(mixed), fitted_frames.transform(aligned))


@pytest.mark.parametrize("method", ["fit", "transform", "predict", "score_samples", "predict_proba",
                                    "partial_fit"])
def test_different_labels_are_an_error(fitted_frames, monkeypatch, method):
    no_training(monkeypatch)
    X = frames()
    Y = dict(X, b=X["b"].set_axis([f"t{i}" for i in range(N)]))
    before = copy.deepcopy(Y)
    est = MultiModalVAE(likelihoods=LIKELIHOODS, **SMALL) if method == "fit" else fitted_frames
    with pytest.raises(ValueError, match=r"'a'.*'b'.*index"):
        getattr(est, method)(Y)
    for name in Y:
        pd.testing.assert_index_equal(before[name].index, Y[name].index)


def test_duplicated_labels_in_different_orders_are_an_error(fitted_frames):
    X = frames()
    dup = [f"s{i // 2}" for i in range(N)]
    Y = {"a": X["a"].set_axis(dup), "b": X["b"].set_axis(dup[::-1])}
    with pytest.raises(ValueError, match=r"'a'.*'b'.*duplicate"):
        fitted_frames.transform(Y)
    with pytest.raises(ValueError, match=r"'a'.*'b'"):
        MultiModalVAE(**SMALL).fit(Y)
    same = {"a": X["a"].set_axis(dup), "b": X["b"].set_axis(dup)}  # identical: positional
    np.testing.assert_array_equal(fitted_frames.transform(same),
                                  fitted_frames.transform({"a": X["a"], "b": X["b"]}))


def test_modality_dict_rows_are_aligned(fitted_frames):
    X = frames()
    md = ModalityDict(shuffled(X, "b"))
    pd.testing.assert_frame_equal(md["b"], X["b"])  # aligned at construction: rows slice alike
    pd.testing.assert_frame_equal(md[[3, 1]]["b"], X["b"].iloc[[3, 1]])
    with pytest.raises(ValueError, match=r"'a' and 'b'"):
        ModalityDict(a=X["a"], b=X["b"].set_axis(range(N)))
    np.testing.assert_array_equal(fitted_frames.transform(md), fitted_frames.transform(X))
    assert isinstance(fitted_frames.predict(md), ModalityDict)


# ----------------------------------------------------------------------------- 2. names

ODD_NAMES = ["rna.counts", "training", "forward", "a.b%2E", "%", "0", "über cells", "_modules",
             "__dict__", "0.5", "..", "a__b", "line\nbreak"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_any_non_empty_string_is_a_modality_name(name, tmp_path):
    data = make_data()
    X = {name: data["a"], "b": data["b"]}
    vae = MultiModalVAE(likelihoods={name: "gaussian"}, **SMALL).fit(X)
    assert vae.modality_names_ == [name, "b"]
    out = vae.predict({"b": data["b"]})
    assert set(out) == {name, "b"} and not np.isnan(out[name]).any()
    z = vae.transform(X, modalities=[name])
    vae.save(tmp_path / "m.zip")
    loaded = MultiModalVAE.load(tmp_path / "m.zip")
    np.testing.assert_array_equal(loaded.transform(X, modalities=[name]), z)
    unpickled = pickle.loads(pickle.dumps(vae))
    np.testing.assert_array_equal(unpickled.transform(X, modalities=[name]), z)
    unpickled.partial_fit(X)


def test_names_that_escape_alike_stay_apart():
    data = make_data()
    X = {"a.b": data["a"], "a%2Eb": data["b"], "%a%2Eb": data["b"][:, :1]}
    vae = MultiModalVAE(**SMALL).fit(X)
    assert vae.modality_names_ == list(X)
    assert [p.shape[0] for p in vae.predict({"a.b": data["a"]}).values()] == [N, N, N]


def test_ordinary_names_keep_their_state_dict_keys(fitted):
    keys = list(fitted.module_.state_dict())
    assert "likelihoods.a.raw_scale" in keys and "likelihoods.b.raw_scale" in keys


def test_a_categorical_modality_may_be_named_like_a_json_tag(tmp_path):
    data = make_data()
    X = {"__tuple__": (np.arange(N) % 2).astype(float), "b": data["b"]}
    vae = MultiModalVAE(likelihoods={"__tuple__": "categorical"}, **SMALL).fit(X)
    vae.save(tmp_path / "m.zip")
    loaded = MultiModalVAE.load(tmp_path / "m.zip")
    np.testing.assert_array_equal(loaded.categories_["__tuple__"], [0.0, 1.0])
    assert loaded.likelihoods == {"__tuple__": "categorical"}


@pytest.mark.parametrize("where", ["fit", "modalities"])
def test_empty_name_is_an_error(where, monkeypatch):
    no_training(monkeypatch)
    data = make_data()
    if where == "fit":
        call = lambda: MultiModalVAE(**SMALL).fit({"": data["a"], "b": data["b"]})  # noqa: E731
    else:
        array = np.hstack([data["a"], data["b"]])
        call = lambda: MultiModalVAE(modalities={"": 4, "b": 3}, **SMALL).fit(array)  # noqa: E731
    with pytest.raises(ValueError, match=r"modality names must be non-empty strings"):
        call()


def test_empty_name_after_fit_is_an_error(fitted):
    data = make_data()
    with pytest.raises(ValueError, match=r"modality names must be non-empty strings"):
        fitted.transform({"": data["a"], "b": data["b"]})


@pytest.mark.parametrize("key", [0, 1.5, None, ("a",), b"a"])
def test_non_string_name_is_a_type_error(key, monkeypatch):
    no_training(monkeypatch)
    data = make_data()
    with pytest.raises(TypeError, match=r"modality names must be strings"):
        MultiModalVAE(**SMALL).fit({key: data["a"], "b": data["b"]})


# ----------------------------------------------------------------------------- 3. parameters

NUMPY_PARAMS = dict(
    aggregation="sumpooling",  # uses embedding_size and allows a mixture prior
    n_components=np.int64(3),
    hidden_layer_sizes=(np.int64(8), np.int32(6)),
    embedding_size=np.int32(8),
    lr=np.float32(1e-3),
    beta=np.float64(1.0),
    kl_warmup=np.int64(1),
    n_prior_components=np.int64(2),
    n_private_components=np.int16(1),
    max_epochs=np.int64(2),
    batch_size=np.int64(32),
    validation_fraction=np.float32(0.25),
    n_iter_no_change=np.int64(2),
    n_importance_samples=np.int64(4),
    n_jobs=np.int64(1),
)


def test_numpy_scalars_work_like_python_numbers(tmp_path):
    data = make_data()
    params = {**SMALL, **NUMPY_PARAMS}
    vae = MultiModalVAE(**params).fit(data)
    python = MultiModalVAE(**{k: (tuple(int(h) for h in v) if isinstance(v, tuple) else v.item())
                              if isinstance(v, (tuple, np.generic)) else v
                              for k, v in params.items()}).fit(data)
    np.testing.assert_allclose(vae.transform(data), python.transform(data), rtol=1e-5, atol=1e-6)
    assert vae.transform(data).shape == (N, 3)
    vae.score_samples(data)
    vae.partial_fit(data, epochs=np.int64(1))
    vae.sample(np.int64(2))
    vae.sample_posterior(data, n_samples=np.int64(2))
    vae.save(tmp_path / "m.zip")
    MultiModalVAE.load(tmp_path / "m.zip").transform(data)
    pickle.loads(pickle.dumps(vae)).transform(data)


@pytest.mark.parametrize("name, value", [(k, v) for k, v in NUMPY_PARAMS.items() if k != "aggregation"])
def test_each_numpy_scalar_parameter(name, value):
    params = {**SMALL, "aggregation": "sumpooling", "max_epochs": 1, name: value}
    vae = MultiModalVAE(**params).fit(make_data())
    assert vae.transform(make_data()).shape[0] == N


def test_grid_search_over_numpy_range():
    data = ModalityDict(make_data(missing=False))
    search = GridSearchCV(MultiModalVAE(**SMALL), {"n_components": np.arange(2, 4)}, cv=2)
    search.fit(data)
    assert search.best_estimator_.transform(data).shape[1] == search.best_params_["n_components"]


@pytest.mark.parametrize("name, value", [
    ("n_components", True), ("embedding_size", True), ("max_epochs", False), ("max_epochs", True),
    ("batch_size", True), ("n_prior_components", True), ("n_private_components", False),
    ("kl_warmup", True), ("n_iter_no_change", True), ("n_importance_samples", True),
    ("n_jobs", True), ("lr", True), ("beta", False), ("validation_fraction", False),
    ("n_components", np.True_), ("hidden_layer_sizes", (True,)),
])
def test_bools_are_not_numbers(name, value, monkeypatch):
    no_training(monkeypatch)
    with pytest.raises((ValueError, TypeError), match=rf"{name}.*(bool|True|False)"):
        MultiModalVAE(**{**SMALL, name: value}).fit(make_data())


@pytest.mark.parametrize("method, kwargs, name", [
    ("partial_fit", {"X": make_data(), "epochs": True}, "epochs"),
    ("sample", {"n_samples": True}, "n_samples"),
    ("sample_posterior", {"X": make_data(), "n_samples": True}, "n_samples"),
])
def test_bools_are_not_counts_in_methods(fitted, monkeypatch, method, kwargs, name):
    no_training(monkeypatch)
    est = copy.deepcopy(fitted)
    with pytest.raises(ValueError, match=rf"{name} must be a positive integer, got True"):
        getattr(est, method)(**kwargs)


def test_max_epochs_0_initialises_without_training():
    data = make_data()
    vae = MultiModalVAE(**{**SMALL, "max_epochs": 0}).fit(data)
    assert vae.n_iter_ == 0 and len(vae.history_) == 0
    assert vae.transform(data).shape == (N, 2)
    assert np.isfinite(vae.score_samples(data)).all()
    again = MultiModalVAE(**{**SMALL, "max_epochs": 0}).fit(data)
    np.testing.assert_array_equal(again.transform(data), vae.transform(data))
    vae.partial_fit(data, epochs=2)
    assert vae.n_iter_ == 2 == len(vae.history_)
    assert "max_epochs=0" in MultiModalVAE.__doc__ or "``max_epochs=0``" in MultiModalVAE.__doc__


@pytest.mark.parametrize("device, match", [
    ("tpu0", r"device='tpu0' is not a torch device"),
    ("gpu", r"device.*'gpu'"),
    ("cuda:x", r"device.*'cuda:x'"),
    ("meta", r"device.*'meta'"),
])
def test_bad_device_strings(device, match, monkeypatch):
    no_training(monkeypatch)
    with pytest.raises(ValueError, match=match) as excinfo:
        MultiModalVAE(**{**SMALL, "device": device}).fit(make_data())
    assert raised_by_skmmvae(excinfo)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_without_cuda_is_a_clear_error(device, monkeypatch):
    no_training(monkeypatch)
    with pytest.raises(ValueError, match=rf"device={device!r}.*CUDA is not available") as excinfo:
        MultiModalVAE(**{**SMALL, "device": device}).fit(make_data())
    assert raised_by_skmmvae(excinfo)


def test_cuda_index_beyond_the_devices(monkeypatch):
    no_training(monkeypatch)
    device = f"cuda:{torch.cuda.device_count() + 3}"
    with pytest.raises(ValueError, match=r"device="):
        MultiModalVAE(**{**SMALL, "device": device}).fit(make_data())


@pytest.mark.parametrize("params, name", [
    ({"n_components": 10**6}, "n_components"),
    ({"n_components": 10**6, "aggregation": "sumpooling"}, "n_components"),
    ({"embedding_size": 10**8, "aggregation": "sumpooling"}, "embedding_size"),
    ({"embedding_size": 10**8, "aggregation": "selfattention"}, "embedding_size"),
    ({"hidden_layer_sizes": (10**6, 10**6)}, "hidden_layer_sizes"),
    ({"n_prior_components": 10**9, "aggregation": "sumpooling"}, "n_prior_components"),
    ({"n_private_components": 10**9}, "n_private_components"),
    ({"n_components": 10**6, "hidden_layer_sizes": (128, 128), "embedding_size": 128}, "n_components"),
])
def test_sizes_beyond_memory_are_refused_before_allocating(params, name, monkeypatch):
    no_training(monkeypatch)
    # a 16 GiB machine, whatever this one has (the estimates here are 38 GiB and more)
    monkeypatch.setattr(_checks, "memory_limit", lambda device: 16 * 2**30)
    with pytest.raises(ValueError, match=rf"{name}=.* GiB of memory.*use a smaller {name}") as excinfo:
        MultiModalVAE(**{**SMALL, **params}).fit(make_data())
    assert raised_by_skmmvae(excinfo)


def test_absurd_sizes_are_refused_on_this_machine(monkeypatch):
    no_training(monkeypatch)
    with pytest.raises(ValueError, match=r"hidden_layer_sizes=.* GiB of memory") as excinfo:
        MultiModalVAE(**{**SMALL, "hidden_layer_sizes": (10**7, 10**7)}).fit(make_data())
    assert raised_by_skmmvae(excinfo)


@pytest.mark.parametrize("method", ["score_samples", "score", "predict_proba"])
def test_scoring_bad_data_still_names_the_data(fitted_frames, method):
    with pytest.raises(TypeError, match=r"modality 'b': got None"):
        getattr(fitted_frames, method)({"a": frames()["a"], "b": None})


@pytest.mark.parametrize("method", ["score_samples", "score", "predict_proba"])
def test_importance_samples_beyond_memory_are_refused(fitted_frames, method):
    est = copy.deepcopy(fitted_frames).set_params(n_importance_samples=10**9)
    with pytest.raises(ValueError, match=r"n_importance_samples=1000000000.*memory") as excinfo:
        getattr(est, method)(frames())
    assert raised_by_skmmvae(excinfo)


def test_ordinary_sizes_are_not_refused():
    data = make_data()
    MultiModalVAE(**{**SMALL, "n_components": 64, "hidden_layer_sizes": (512, 512),
                     "embedding_size": 256, "max_epochs": 1}).fit(data).score(data)


# ----------------------------------------------------------------------------- 4. pickles


class PickleEveryEpoch(Callback):
    """Pickles the estimator it is given at the end of every epoch and batch."""

    def __init__(self, owner=None):
        self.owner = owner
        self.pickles = []

    def on_batch_end(self, net, **kwargs):
        if self.owner is not None:
            self.pickles.append(pickle.dumps(self.owner))

    def on_epoch_end(self, net, **kwargs):
        if self.owner is not None:
            self.pickles.append(pickle.dumps(self.owner))

    def __getstate__(self):  # not the estimator, nor the earlier pickles
        return {"owner": None, "pickles": []}


@pytest.mark.parametrize("first", ["fit", "partial_fit"])
def test_pickles_taken_during_partial_fit_are_consistent(first):
    data = make_data()
    callback = PickleEveryEpoch()
    vae = MultiModalVAE(**{**SMALL, "callbacks": [callback]})
    callback.owner = vae
    getattr(vae, first)(data)
    vae.partial_fit(data, epochs=3)
    assert callback.pickles
    for blob in callback.pickles:
        est = pickle.loads(blob)
        if hasattr(est, "n_iter_"):
            assert est.n_iter_ == len(est.history_)
            assert all("train_loss" in row for row in est.history_)
            est.callbacks = None
            est.partial_fit(data)
            assert est.n_iter_ == len(est.history_)
    assert vae.n_iter_ == len(vae.history_)
