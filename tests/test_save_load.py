"""``save``/``load``: a zip of JSON metadata and a weights-only torch file; loading runs no code."""
import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import MIXED_LIKELIHOODS, SMALL, make_data, make_mixed_data
from sklearn.exceptions import NotFittedError
from skorch.callbacks import Callback

import skmmvae
from skmmvae import MultiModalImputer, MultiModalVAE
from skmmvae._persistence import FORMAT_VERSION, _decode, _encode

COLUMNS = [f"a{i}" for i in range(4)] + [f"b{i}" for i in range(3)]
REPO = str(Path(skmmvae.__file__).resolve().parents[1])
TESTS = str(Path(__file__).resolve().parent)


def _frame(data):
    return pd.DataFrame(np.hstack([data["a"], data["b"]]), columns=COLUMNS)


def _one_hot_data():
    data = make_data()
    labels = (data["a"][:, 0] > 0).astype(int) + (data["a"][:, 1] > 0)  # 3 classes
    data["a"][10:16] = np.nan  # keep "a" missing where make_data has it
    data["onehot"] = np.eye(3)[labels]
    data["onehot"][20:25] = np.nan
    return data


def _count_data():
    rng = np.random.default_rng(0)
    rna = rng.negative_binomial(2, 0.1, size=(80, 5)).astype(float)
    protein = rng.poisson(5.0, size=(80, 3)).astype(float)
    rna[:10] = np.nan
    rna[10:20, 1] = np.nan  # missing cells: imputed at the observed library
    protein[20:30] = np.nan
    return {"rna": rna, "protein": protein}


# (estimator, training data, a subset of modalities to encode from)
CASES = {
    "dict": lambda: (MultiModalVAE(**SMALL), make_data(), ["a"]),
    "array with modality groups": lambda: (
        MultiModalVAE(modalities={"a": 4, "b": 3}, **SMALL),
        np.hstack([make_data()["a"], make_data()["b"]]),
        ["b"],
    ),
    "DataFrame with named columns": lambda: (
        MultiModalVAE(modalities={"a": COLUMNS[:4], "b": COLUMNS[4:]}, **SMALL),
        _frame(make_data()),
        ["a"],
    ),
    "categorical labels, bernoulli, poisson": lambda: (
        MultiModalVAE(likelihoods=MIXED_LIKELIHOODS, **SMALL),
        make_mixed_data(),
        ["label"],
    ),
    "negative binomial and zinb counts, library sizes, missing cells": lambda: (
        MultiModalVAE(likelihoods={"rna": ("negative_binomial", {"library_size": "observed"}),
                                   "protein": ("zinb", {"library_size": 1000.0})}, **SMALL),
        _count_data(),
        ["protein"],
    ),
    "one-hot categorical": lambda: (
        MultiModalVAE(likelihoods={"onehot": "categorical"}, **SMALL),
        _one_hot_data(),
        ["onehot"],
    ),
    "mixture prior and posterior": lambda: (
        MultiModalVAE(**{**SMALL, "n_prior_components": 3}, aggregation="sumpooling_mixture"),
        make_data(),
        ["b"],
    ),
    "private latents, self-attention, mixture bound": lambda: (
        MultiModalVAE(**SMALL, n_private_components=2, aggregation="selfattention", objective="mixture"),
        make_data(),
        ["a"],
    ),
    "fixed-scale likelihoods": lambda: (
        MultiModalVAE(
            likelihoods={
                "a": ("gaussian", {"scale": 0.5}),
                "b": ("laplace", {"scale": 1.0, "min_scale": 0.01}),
            },
            **SMALL,
        ),
        make_data(),
        ["a"],
    ),
    "imputer, list of widths, RandomState": lambda: (
        MultiModalImputer(modalities=[4, 3], **{**SMALL, "random_state": np.random.RandomState(3)}),
        np.hstack([make_data()["a"], make_data()["b"]]),
        ["m1"],
    ),
}


def _assert_same_params(loaded, est):
    got, expected = loaded.get_params(), est.get_params()
    assert set(got) == set(expected)
    for name, value in expected.items():
        if isinstance(value, np.random.RandomState):
            assert isinstance(got[name], np.random.RandomState)
            for a, b in zip(got[name].get_state(), value.get_state()):
                np.testing.assert_array_equal(a, b)
        else:
            assert got[name] == value and type(got[name]) is type(value), name


def _assert_same_results(loaded, est, X, subset):
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    encode = "encode" if isinstance(est, MultiModalImputer) else "transform"
    np.testing.assert_array_equal(
        getattr(loaded, encode)(X, modalities=subset), getattr(est, encode)(X, modalities=subset)
    )
    predicted, expected = loaded.predict(X), est.predict(X)
    if isinstance(expected, dict):
        assert list(predicted) == list(expected)
        for name in expected:
            np.testing.assert_array_equal(predicted[name], expected[name])
    elif isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(predicted, expected, check_exact=True)
    else:
        np.testing.assert_array_equal(predicted, expected)
    np.testing.assert_array_equal(loaded.score_samples(X), est.score_samples(X))
    np.testing.assert_array_equal(loaded.get_feature_names_out(), est.get_feature_names_out())
    X_gen, Z_gen = loaded.sample(5)
    np.testing.assert_array_equal(Z_gen, est.sample(5)[1])


@pytest.mark.parametrize("case", CASES)
def test_round_trip_gives_identical_results(case, tmp_path):
    est, X, subset = CASES[case]()
    est.fit(X)
    path = tmp_path / "model.zip"
    est.save(path)
    loaded = type(est).load(path)
    assert type(loaded) is type(est)
    assert loaded.net_ is None
    _assert_same_params(loaded, est)
    assert loaded.n_iter_ == est.n_iter_ == len(loaded.history_)
    assert loaded.modality_names_ == est.modality_names_
    assert loaded.n_features_in_ == est.n_features_in_
    if hasattr(est, "feature_names_in_"):
        np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)
    assert list(loaded.history_) == list(est.history_)
    for mine, theirs in zip(loaded.module_.state_dict().values(), est.module_.state_dict().values()):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)
    _assert_same_results(loaded, est, X, subset)


def test_the_file_is_json_metadata_and_cpu_tensors(tmp_path, fitted):
    path = tmp_path / "model.zip"
    fitted.save(path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["metadata.json", "weights.pt"]
        metadata = json.loads(archive.read("metadata.json"))
        weights = torch.load(io.BytesIO(archive.read("weights.pt")), weights_only=True)
    assert metadata["format_version"] == FORMAT_VERSION
    assert metadata["class"] == "skmmvae.estimator.MultiModalVAE"
    assert metadata["skmmvae_version"] == skmmvae.__version__
    assert metadata["torch_version"] == torch.__version__
    assert metadata["params"]["n_components"] == SMALL["n_components"]
    assert metadata["unsaved_params"] == []
    assert [m["name"] for m in metadata["schema"]["modalities"]] == ["a", "b"]
    assert metadata["attributes"]["n_iter_"] == fitted.n_iter_
    assert len(metadata["history"]) == fitted.n_iter_
    assert set(weights) == {"module", "optimizer"}
    assert set(weights["module"]) == set(fitted.module_.state_dict())
    tensors = list(weights["module"].values()) + [
        t for s in weights["optimizer"]["state"].values() for t in s.values()
    ]
    assert all(t.device.type == "cpu" for t in tensors)


def test_saving_changes_nothing_and_replaces_an_existing_file(tmp_path, data):
    est = MultiModalVAE(**SMALL).fit(data)
    Z, net = est.transform(data), est.net_
    path = tmp_path / "model.zip"
    path.write_bytes(b"an older file")
    est.save(path)
    assert est.net_ is net
    np.testing.assert_array_equal(est.transform(data), Z)
    np.testing.assert_array_equal(MultiModalVAE.load(path).transform(data), Z)
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]  # no temporary file left


def test_partial_fit_after_load_continues_like_the_original(tmp_path, data):
    est = MultiModalVAE(**{**SMALL, "early_stopping": False}).fit(data)
    est.save(tmp_path / "model.zip")
    loaded = MultiModalVAE.load(tmp_path / "model.zip")
    # the same seeds, optimiser state and history: both train on identically
    est.partial_fit(data, epochs=2)
    loaded.partial_fit(data, epochs=2)
    assert loaded.n_iter_ == len(loaded.history_) == SMALL["max_epochs"] + 2
    assert loaded.history_[:, "train_loss"] == est.history_[:, "train_loss"]
    for p, q in zip(est.module_.parameters(), loaded.module_.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    n_batches = est.history_[-1, "train_batch_count"]
    adam_steps = {s["step"].item() for s in loaded.net_.optimizer_.state.values()}
    assert adam_steps == {float(n_batches * (SMALL["max_epochs"] + 2))}


def test_an_unpickled_model_saves_its_optimiser_state_too(tmp_path, data):
    est = MultiModalVAE(**{**SMALL, "early_stopping": False}).fit(data)
    unpickled = pickle.loads(pickle.dumps(est))  # net_ is None until partial_fit
    unpickled.save(tmp_path / "model.zip")
    loaded = MultiModalVAE.load(tmp_path / "model.zip")
    est.partial_fit(data)
    loaded.partial_fit(data)
    for p, q in zip(est.module_.parameters(), loaded.module_.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


FIT_AND_SAVE = textwrap.dedent(
    """
    import sys
    from conftest import SMALL, make_data
    from skmmvae import MultiModalVAE
    MultiModalVAE(**SMALL).fit(make_data()).save(sys.argv[1])
    """
)


def test_a_fit_in_another_process_is_reproduced_exactly_and_loads_here(tmp_path, fitted, data):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, TESTS, os.environ.get("PYTHONPATH", "")])}
    subprocess.run(
        [sys.executable, "-c", FIT_AND_SAVE, str(tmp_path / "model.zip")],
        check=True, env=env, cwd=tmp_path, capture_output=True, timeout=300,
    )  # fmt: skip
    loaded = MultiModalVAE.load(tmp_path / "model.zip")
    # ``fitted`` is the same fit (SMALL, random_state=0) made in this process
    for mine, theirs in zip(loaded.module_.state_dict().values(), fitted.module_.state_dict().values()):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)
    assert loaded.history_[:, "train_loss"] == fitted.history_[:, "train_loss"]
    _assert_same_results(loaded, fitted, data, ["a"])


def test_loading_leaves_the_global_torch_rng_alone(saved):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    MultiModalVAE.load(saved[0])
    torch.testing.assert_close(torch.rand(3), expected)


GPU_LOAD = textwrap.dedent(
    """
    import sys, warnings, numpy as np
    from skmmvae import MultiModalVAE
    from conftest import make_data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = MultiModalVAE.load(sys.argv[1])
    assert any("loading it on the CPU" in str(w.message) for w in caught)
    assert next(est.module_.parameters()).device.type == "cpu"
    np.save(sys.argv[2], est.transform(make_data()))
    """
)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_gpu_trained_model_saves_cpu_tensors_and_loads_on_a_cpu_only_machine(tmp_path, data):
    est = MultiModalVAE(**{**SMALL, "device": "cuda"}).fit(data)
    assert next(est.module_.parameters()).device.type == "cuda"
    est.save(tmp_path / "gpu.zip")
    with zipfile.ZipFile(tmp_path / "gpu.zip") as archive:
        weights = torch.load(io.BytesIO(archive.read("weights.pt")), weights_only=True)
    assert all(t.device.type == "cpu" for t in weights["module"].values())
    here = MultiModalVAE.load(tmp_path / "gpu.zip")
    np.testing.assert_array_equal(here.transform(data), est.transform(data))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": os.pathsep.join([REPO, TESTS, os.environ.get("PYTHONPATH", "")])}
    subprocess.run(
        [sys.executable, "-c", GPU_LOAD, str(tmp_path / "gpu.zip"), str(tmp_path / "Z.npy")],
        check=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    np.testing.assert_allclose(np.load(tmp_path / "Z.npy"), est.transform(data), rtol=1e-4, atol=1e-5)


def test_saving_an_unfitted_estimator_fails(tmp_path):
    with pytest.raises(NotFittedError):
        MultiModalVAE().save(tmp_path / "model.zip")
    assert not (tmp_path / "model.zip").exists()


# ----------------------------------------------------------------------------- subclasses


def test_the_class_in_the_file_is_respected(tmp_path, data):
    MultiModalImputer(**SMALL).fit(data).save(tmp_path / "imputer.zip")
    assert type(MultiModalVAE.load(tmp_path / "imputer.zip")) is MultiModalImputer
    MultiModalVAE(**SMALL).fit(data).save(tmp_path / "vae.zip")
    with pytest.raises(ValueError, match="MultiModalVAE'.*not MultiModalImputer"):
        MultiModalImputer.load(tmp_path / "vae.zip")


# ----------------------------------------------------------------------------- custom modules


def _encoders():
    torch.manual_seed(0)
    return {"a": torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh())}


def test_custom_modules_are_asked_for_at_load(tmp_path, data):
    est = MultiModalVAE(**SMALL, encoders=_encoders(), callbacks=[Callback()]).fit(data)
    path = tmp_path / "model.zip"
    est.save(path)
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("metadata.json"))["unsaved_params"] == ["callbacks", "encoders"]
    with pytest.raises(TypeError, match=r"without the parameters \['callbacks', 'encoders'\].*load\(path"):
        MultiModalVAE.load(path)
    with pytest.raises(TypeError, match="without the parameters \\['encoders'\\]"):
        MultiModalVAE.load(path, callbacks=None)
    with pytest.raises(TypeError, match="only the parameters that could not be saved.*'lr'"):
        MultiModalVAE.load(path, callbacks=None, encoders=_encoders(), lr=0.1)
    # freshly built modules of the same architecture: the weights come from the file
    fresh = {"a": torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh())}
    before = {k: v.clone() for k, v in fresh["a"].state_dict().items()}
    loaded = MultiModalVAE.load(path, callbacks=None, encoders=fresh)
    assert loaded.encoders is fresh and loaded.callbacks is None
    np.testing.assert_array_equal(loaded.transform(data), est.transform(data))
    np.testing.assert_array_equal(loaded.score_samples(data), est.score_samples(data))
    for name, value in fresh["a"].state_dict().items():  # the module passed in is not modified
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)


def test_custom_modules_of_another_architecture_are_rejected(tmp_path, data):
    est = MultiModalVAE(**SMALL, encoders=_encoders()).fit(data)
    est.save(tmp_path / "model.zip")
    wrong = {"a": torch.nn.Sequential(torch.nn.Linear(4, 9), torch.nn.Tanh())}
    with pytest.raises(ValueError, match=r"do not make a model \(or the \['encoders'\] passed to load"):
        MultiModalVAE.load(tmp_path / "model.zip", encoders=wrong)


def test_likelihood_options_that_are_not_plain_data_cannot_be_saved(tmp_path, data):
    est = MultiModalVAE(likelihoods={"a": ("gaussian", {"scale": torch.tensor(0.5)})}, **SMALL).fit(data)
    path = tmp_path / "model.zip"
    path.write_bytes(b"keep me")
    with pytest.raises(TypeError, match="likelihood options.*torch.Tensor.*joblib"):
        est.save(path)
    assert path.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]


class _RecordsAnObject(Callback):
    def on_epoch_end(self, net, **kwargs):
        net.history.record("an_object", object())


def test_history_entries_that_are_not_plain_data_are_dropped_with_a_warning(tmp_path, data):
    est = MultiModalVAE(**SMALL, callbacks=[_RecordsAnObject()]).fit(data)
    with pytest.warns(UserWarning, match=r"history_ entries \['an_object'\] are not plain data"):
        est.save(tmp_path / "model.zip")
    loaded = MultiModalVAE.load(tmp_path / "model.zip", callbacks=None)
    assert "an_object" not in loaded.history_[-1]
    assert loaded.history_[:, "train_loss"] == est.history_[:, "train_loss"]


# ----------------------------------------------------------------------------- bad files


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A valid model file, its metadata and its weights file (bytes)."""
    path = tmp_path_factory.mktemp("saved") / "model.zip"
    MultiModalVAE(**SMALL).fit(make_data()).save(path)
    with zipfile.ZipFile(path) as archive:
        return path, json.loads(archive.read("metadata.json")), archive.read("weights.pt")


def _archive(path, metadata, weights):
    with zipfile.ZipFile(path, "w") as archive:
        text = metadata if isinstance(metadata, (str, bytes)) else json.dumps(metadata)
        archive.writestr("metadata.json", text)
        archive.writestr("weights.pt", weights)
    return path


def _tampered(tmp_path, saved, change):
    _, metadata, weights = saved
    metadata = json.loads(json.dumps(metadata))
    change(metadata)
    return _archive(tmp_path / "tampered.zip", metadata, weights)


def test_a_truncated_file_is_a_clear_error(tmp_path, saved):
    blob = saved[0].read_bytes()
    for size in (len(blob) // 2, len(blob) - 10, 100):
        (tmp_path / "cut.zip").write_bytes(blob[:size])
        with pytest.raises(ValueError, match="not a skmmvae model file, or it is damaged or truncated"):
            MultiModalVAE.load(tmp_path / "cut.zip")


def test_a_corrupted_weights_entry_is_a_clear_error(tmp_path, saved):
    blob = bytearray(saved[0].read_bytes())
    start = blob.find(b"PK", 200)  # inside the stored weights.pt, past the metadata entry
    blob[start + 5000 : start + 5100] = b"\x00" * 100
    (tmp_path / "bad.zip").write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="damaged"):
        MultiModalVAE.load(tmp_path / "bad.zip")


def test_random_bytes_and_other_files_are_clear_errors(tmp_path, fitted):
    (tmp_path / "random.zip").write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ValueError, match="not a skmmvae model file"):
        MultiModalVAE.load(tmp_path / "random.zip")
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(fitted))
    with pytest.raises(ValueError, match="not a skmmvae model file"):
        MultiModalVAE.load(tmp_path / "model.pkl")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="holding metadata.json and weights.pt"):
        MultiModalVAE.load(tmp_path / "other.zip")
    with pytest.raises(FileNotFoundError):
        MultiModalVAE.load(tmp_path / "absent.zip")


def test_metadata_that_is_not_ours_is_a_clear_error(tmp_path, saved):
    weights = saved[2]
    for metadata, message in [
        (b"\xff\xfe not json", "not valid JSON"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "does not say 'skmmvae-model'"),
        (json.dumps({**saved[1], "format": "something-else"}), "does not say 'skmmvae-model'"),
    ]:
        with pytest.raises(ValueError, match=message):
            MultiModalVAE.load(_archive(tmp_path / "m.zip", metadata, weights))


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, 0, "1"])
def test_another_format_version_names_both_versions(tmp_path, saved, version):
    path = _tampered(tmp_path, saved, lambda m: m.update(format_version=version))
    expected = rf"format version {version!r}; skmmvae .* reads format version {FORMAT_VERSION}"
    with pytest.raises(ValueError, match=expected):
        MultiModalVAE.load(path)


def test_an_unknown_class_is_an_error(tmp_path, saved):
    path = _tampered(tmp_path, saved, lambda m: m.update({"class": "os.system"}))
    with pytest.raises(ValueError, match="holds a 'os.system', which is not MultiModalVAE or a subclass"):
        MultiModalVAE.load(path)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m["attributes"]["_architecture"].update(n_components=5), "weights and metadata do not make a model"),
        (lambda m: m["params"].update(n_components=-1), "'n_components' parameter"),
        (lambda m: m["params"].update(no_such_parameter=1), "unknown to MultiModalVAE"),
        (lambda m: m["attributes"].update(__class__="x"), "unexpected attribute name"),
        (lambda m: m["schema"]["modalities"][0].update(colour="red"), "a modality is described by"),
        (lambda m: m.pop("schema"), r"bad metadata \(missing 'schema'\)"),
        (lambda m: m.update(history={"epoch": 1}), "bad metadata"),
        (lambda m: m.update(unsaved_params="encoders"), "bad metadata"),
        (lambda m: m["params"].update(random_state={"__random_state__": ["MT", [-1], 0, 0, 0]}), "metadata"),
        (lambda m: m["schema"]["modalities"][0].update(n_input="four"), "do not make a model"),
        (lambda m: m["attributes"].update(_seed={"__ndarray__": [1], "dtype": "V8", "shape": [1]}), "dtype"),
    ],
)
def test_inconsistent_metadata_is_a_clear_error(tmp_path, saved, change, message):
    with pytest.raises(ValueError, match=message):
        MultiModalVAE.load(_tampered(tmp_path, saved, change))


def test_a_parameter_missing_from_the_file_gets_its_default(tmp_path, saved, data):
    path = _tampered(tmp_path, saved, lambda m: m["params"].pop("n_importance_samples"))
    loaded = MultiModalVAE.load(path)
    assert loaded.n_importance_samples == MultiModalVAE().n_importance_samples
    np.testing.assert_array_equal(loaded.transform(data), MultiModalVAE.load(saved[0]).transform(data))


def test_weights_that_are_not_a_state_dict_are_a_clear_error(tmp_path, saved):
    for content in [{"module": [1, 2]}, [torch.zeros(2)], {"module": {"x": 1}}]:
        buffer = io.BytesIO()
        torch.save(content, buffer)
        path = _archive(tmp_path / "w.zip", saved[1], buffer.getvalue())
        with pytest.raises(ValueError, match="does not hold a module state_dict"):
            MultiModalVAE.load(path)
    path = _archive(tmp_path / "w.zip", saved[1], b"not a torch file")
    with pytest.raises(ValueError, match="not a weights-only torch file"):
        MultiModalVAE.load(path)


MARKER = "code_ran.txt"


def _make_marker(path):
    with open(path, "w") as file:
        file.write("the pickle ran code")
    return torch.zeros(1)


class _Payload:
    """Unpickling this calls ``_make_marker``: what an attacker's file would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (_make_marker, (self.marker,))


def test_a_weights_file_holding_a_pickled_object_is_refused_without_running_it(tmp_path, saved):
    marker = tmp_path / MARKER
    _, metadata, weights = saved
    good = torch.load(io.BytesIO(weights), weights_only=True)
    buffer = io.BytesIO()
    torch.save({"module": {**good["module"], "extra": _Payload(marker)}, "optimizer": None}, buffer)
    evil = buffer.getvalue()
    # the payload is live: a plain (not weights-only) load would run it
    torch.load(io.BytesIO(evil), weights_only=False)
    assert marker.exists()
    marker.unlink()
    path = _archive(tmp_path / "evil.zip", metadata, evil)
    with pytest.raises(ValueError, match="not a weights-only torch file"):
        MultiModalVAE.load(path)
    assert not marker.exists()
    assert not (tmp_path.parent / MARKER).exists() and not os.path.exists(MARKER)


# ----------------------------------------------------------------------------- encoding


@pytest.mark.parametrize(
    "value",
    [
        None, True, 3, -2.5, float("inf"), "text", [1, (2, 3)], (8,), (), {"a": ("gaussian", {"scale": 1.0})},
        {"a": [0, 1], "b": ["x", "y"]}, np.array(["a", "b"], dtype=object), np.arange(6.0).reshape(2, 3),
        np.array([3, 5, 7]), np.array(["u", "v"]), np.array([True, False]),
    ],
)
def test_plain_values_round_trip_through_json(value):
    back = _decode(json.loads(json.dumps(_encode(value))))
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype
        np.testing.assert_array_equal(back, value)
    else:
        assert back == value and type(back) is type(value)


def test_numpy_scalars_become_python_numbers():
    assert _encode(np.int64(3)) == 3 and type(_encode(np.int64(3))) is int
    assert type(_encode(np.float32(0.5))) is float and type(_encode(np.bool_(True))) is bool
