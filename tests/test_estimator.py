"""MultiModalVAE: parameters, input forms, validation before training, methods, batching."""
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import A_MISSING, B_MISSING, MIXED_LIKELIHOODS, SMALL, make_data, make_mixed_data, same_as_in_a_batch
from sklearn.base import clone

from skmmvae import ModalityDict, MultiModalImputer, MultiModalVAE
from skmmvae import estimator as estimator_module
from skmmvae import _inference

COLUMNS = [f"a{i}" for i in range(4)] + [f"b{i}" for i in range(3)]


def _array(data):
    return np.hstack([data["a"], data["b"]])


# --------------------------------------------------------------------------- 1. parameters

PARAMETERS = {
    "modalities", "likelihoods", "n_components", "aggregation", "objective", "beta",
    "n_prior_components", "n_private_components", "hidden_layer_sizes", "embedding_size",
    "max_epochs", "batch_size", "lr", "validation_fraction", "early_stopping",
    "n_iter_no_change", "n_importance_samples", "device", "random_state", "verbose",
    "callbacks", "encoders", "decoders", "n_jobs", "accelerator", "standardize", "autocast",
    "compile", "activation", "weight_init", "kl_warmup", "aggregator_options",
    "lr_schedule", "decoder_skip", "encoder_skip", "weight_decay",
}  # fmt: skip


def test_parameters_are_exactly_the_documented_ones():
    assert set(MultiModalVAE().get_params()) == PARAMETERS


def test_init_only_stores_parameters():
    est = MultiModalVAE(aggregation="no-such-aggregator", n_components=-3)
    assert est.aggregation == "no-such-aggregator" and est.n_components == -3
    with pytest.raises(ValueError, match="aggregation"):
        est.fit(make_data())


def test_device_auto_uses_cuda_when_present(monkeypatch):
    est = MultiModalVAE(device="auto")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert est._device() == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert est._device() == "cpu"
    assert MultiModalVAE(device="cuda:1")._device() == "cuda:1"


def test_fit_trains_on_the_requested_device(fitted):
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(fitted.module_.parameters()).device.type == expected


def test_fit_is_reproducible_under_random_state(data, fitted):
    again = MultiModalVAE(**SMALL).fit(data)
    for p, q in zip(fitted.module_.parameters(), again.module_.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    other = MultiModalVAE(**{**SMALL, "random_state": 1}).fit(data)
    assert not np.allclose(other.transform(data), fitted.transform(data))


@pytest.mark.parametrize(
    "params",
    [
        dict(aggregation="poe", objective="elbo"),
        dict(aggregation="moe", objective="mixture"),
        dict(aggregation="mopoe"),
        dict(aggregation="selfattention", n_private_components=2),
        dict(aggregation="sumpooling_mixture", n_prior_components=3),
        dict(likelihoods={"a": ("gaussian", {"scale": 0.5}), "b": "laplace"}, beta=0.5),
    ],
    ids=["poe-elbo", "moe-mixture", "mopoe", "attention-private", "mixture-prior", "likelihoods"],
)
def test_parameters_reach_the_model(data, params):
    est = MultiModalVAE(**{**SMALL, "max_epochs": 1, **params}).fit(data)
    Z = est.transform(data)
    assert Z.shape == (len(data["a"]), 2) and np.isfinite(Z).all()
    assert np.isfinite(est.score(data))
    module = est.module_
    if "aggregation" in params:
        expected = {"poe": "ProductOfExperts", "moe": "MixtureOfExperts",
                    "mopoe": "MixtureOfProductsOfExperts", "selfattention": "SelfAttention",
                    "sumpooling_mixture": "SumPooling"}[params["aggregation"]]  # fmt: skip
        assert type(module.aggregator).__name__ == expected
    if params.get("n_private_components"):
        assert module.n_private == 2
    if params.get("n_prior_components"):
        assert module.prior.n_components == 3
    if "likelihoods" in params:
        assert type(module.likelihoods["b"]).__name__ == "Laplace"
        torch.testing.assert_close(module.likelihoods["a"].scale.cpu(), torch.full((4,), 0.5))


def test_custom_encoders_and_decoders_are_used(data):
    encoder = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh())
    est = MultiModalVAE(encoders={"a": encoder}, **SMALL).fit(data)
    tanh_layers = [m for m in est.module_.encoders[0].modules() if isinstance(m, torch.nn.Tanh)]
    assert tanh_layers, "the custom encoder of 'a' is not in the model"
    assert est.encoders["a"] is encoder  # the parameter itself is not trained in place
    with pytest.raises(ValueError, match=r"encoders names unknown modalities \['zz'\]"):
        MultiModalVAE(encoders={"zz": encoder}, **SMALL).fit(data)


# --------------------------------------------------------------------------- 2. input forms


def _input_forms(data):
    """The same data in every supported form, with the estimator parameters each needs."""
    array = _array(data)
    frame = pd.DataFrame(array, columns=COLUMNS, index=np.arange(100, 100 + len(array)))
    return {
        "dict": ({}, data),
        "modality-dict": ({}, ModalityDict(a=pd.DataFrame(data["a"]), b=data["b"])),
        "array-widths": ({"modalities": {"a": 4, "b": 3}}, array),
        "array-indices": ({"modalities": {"a": [0, 1, 2, 3], "b": [4, 5, 6]}}, array),
        "frame-names": ({"modalities": {"a": COLUMNS[:4], "b": COLUMNS[4:]}}, frame),
        "frame-widths": ({"modalities": {"a": 4, "b": 3}}, frame),
    }


def test_all_input_forms_are_equivalent(data, fitted):
    expected_Z = fitted.transform(data)
    expected_score = fitted.score_samples(data)
    for name, (params, X) in _input_forms(data).items():
        est = MultiModalVAE(**params, **SMALL).fit(X)
        assert est.modality_names_ == ["a", "b"], name
        np.testing.assert_array_equal(est.transform(X), expected_Z, err_msg=name)
        np.testing.assert_array_equal(est.score_samples(X), expected_score, err_msg=name)


def test_list_of_widths_names_modalities_m0_m1(data):
    est = MultiModalVAE(modalities=[4, 3], **SMALL).fit(_array(data))
    assert est.modality_names_ == ["m0", "m1"]
    ref = MultiModalVAE(**SMALL).fit({"m0": data["a"], "m1": data["b"]})
    np.testing.assert_array_equal(est.transform(_array(data)), ref.transform({"m0": data["a"], "m1": data["b"]}))


def test_modalities_none_makes_one_modality(data):
    X = data["a"][20:]
    est = MultiModalVAE(**SMALL).fit(X)
    assert est.modality_names_ == ["x"]
    assert est.n_features_in_ == 4
    ref = MultiModalVAE(**SMALL).fit({"x": X})
    np.testing.assert_array_equal(est.transform(X), ref.transform({"x": X}))


def test_dataframe_input_records_feature_names(data):
    frame = pd.DataFrame(_array(data), columns=COLUMNS)
    est = MultiModalVAE(modalities={"a": 4, "b": 3}, **SMALL).fit(frame)
    np.testing.assert_array_equal(est.feature_names_in_, COLUMNS)
    assert est.n_features_in_ == 7
    with pytest.raises(ValueError, match="feature names"):
        est.transform(frame[COLUMNS[::-1]])


def test_pandas_nullable_dtypes_mean_floats_with_nan(data):
    """Float64 / Int64 columns holding pd.NA (pandas' nullable dtypes) mean what float64 with
    NaN means, in a dict of DataFrames and for labels; predict keeps the nullable dtype."""
    nullable = {"a": pd.DataFrame(data["a"]).astype("Float64"), "b": data["b"]}
    assert nullable["a"].isna().to_numpy().any()
    est = MultiModalVAE(**SMALL).fit(nullable)
    reference = MultiModalVAE(**SMALL).fit(data)
    np.testing.assert_array_equal(est.transform(nullable), reference.transform(data))
    imputed = est.predict(nullable)["a"]
    assert (imputed.dtypes == "Float64").all() and not imputed.isna().to_numpy().any()
    np.testing.assert_array_equal(imputed.to_numpy(dtype=float), reference.predict(data)["a"])

    mixed = make_mixed_data()
    as_int64 = {**mixed, "label": pd.Series(mixed["label"][:, 0]).astype("Int64")}
    est = MultiModalVAE(likelihoods=MIXED_LIKELIHOODS, **SMALL).fit(as_int64)
    reference = MultiModalVAE(likelihoods=MIXED_LIKELIHOODS, **SMALL).fit(mixed)
    np.testing.assert_array_equal(est.transform(as_int64), reference.transform(mixed))
    np.testing.assert_array_equal(est.categories_["label"], [3, 5, 7])



def test_nullable_int_and_boolean_columns_with_na_are_imputed_as_floats(data):
    """A DataFrame's Int64 / boolean column holding pd.NA gets imputed values that those
    dtypes cannot hold: the column comes back float64 (as an int column with filled values
    does), not a pandas TypeError after training; one without NA, or whose imputed values
    it can hold (labels), keeps its dtype."""
    frame = pd.DataFrame(np.nan_to_num(data["a"]), columns=list("pqrs"))
    frame["n"] = pd.array(np.arange(len(frame)) % 5, dtype="Int64")
    frame["f"] = pd.array(np.arange(len(frame)) % 2 == 0, dtype="boolean")
    frame["k"] = pd.array(np.arange(len(frame)) % 3, dtype="Int64")  # no NA: kept
    frame.loc[1, "n"] = pd.NA
    frame.loc[2, "f"] = pd.NA
    for X in (frame, {"x": frame}):
        filled = MultiModalImputer(**SMALL).fit(X).transform(X)
        filled = filled if isinstance(X, pd.DataFrame) else filled["x"]
        assert filled["n"].dtype == np.float64 and filled["f"].dtype == np.float64
        assert filled["k"].dtype == "Int64"
        assert not filled.isna().to_numpy().any()
        observed = frame.notna().to_numpy()
        np.testing.assert_array_equal(filled.to_numpy(dtype=float)[observed],
                                      frame.to_numpy(dtype=float, na_value=np.nan)[observed])
    # integer labels imputed in an Int64 column fit it: the column stays Int64
    labelled = pd.DataFrame({"x": frame["p"], "label": frame["k"].mask(frame.index < 3)})
    filled = MultiModalImputer(modalities={"x": ["x"], "label": ["label"]},
                               likelihoods={"label": "categorical"}, **SMALL).fit_transform(labelled)
    assert filled["label"].dtype == "Int64" and not filled["label"].isna().any()

def test_categorical_labels_and_one_hot_rows_are_equivalent():
    data = make_mixed_data()
    labels = data["label"][:, 0]
    one_hot = np.full((len(labels), 3), np.nan)
    seen = ~np.isnan(labels)
    one_hot[seen] = np.eye(3)[np.searchsorted([3, 5, 7], labels[seen])]
    as_labels = {"gauss": data["gauss"], "label": labels}  # 1-D labels are one column
    as_one_hot = {"gauss": data["gauss"], "label": one_hot}
    params = dict(likelihoods={"label": "categorical"}, **SMALL)
    est_labels = MultiModalVAE(**params).fit(as_labels)
    est_one_hot = MultiModalVAE(**params).fit(as_one_hot)
    np.testing.assert_array_equal(est_labels.transform(as_labels), est_one_hot.transform(as_one_hot))
    np.testing.assert_array_equal(est_labels.score_samples(as_labels), est_one_hot.score_samples(as_one_hot))
    np.testing.assert_array_equal(est_labels.categories_["label"], [3, 5, 7])
    np.testing.assert_array_equal(est_one_hot.categories_["label"], [0, 1, 2])
    assert list(est_labels.categories_) == ["label"]  # Gaussian modalities have none


def test_absent_key_and_nan_block_both_mean_missing(fitted, data):
    nan_b = {"a": data["a"], "b": np.full_like(data["b"], np.nan)}
    only_a = {"a": data["a"]}
    np.testing.assert_array_equal(fitted.transform(only_a), fitted.transform(nan_b))
    np.testing.assert_array_equal(fitted.score_samples(only_a), fitted.score_samples(nan_b))
    np.testing.assert_array_equal(fitted.predict(only_a)["b"], fitted.predict(nan_b)["b"])


# --------------------------------------------------------------------------- 3. validation


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if a model gets built: validation errors must come first."""

    def fail(self):
        raise AssertionError("a model was built before the input was validated")

    monkeypatch.setattr(MultiModalVAE, "_build_module", fail)


def _with(data, **blocks):
    return {**data, **blocks}


def _bad_fit_inputs():
    data = make_data()
    inf = data["a"].copy()
    inf[40, 2] = np.inf
    words = data["a"].astype(object)
    words[3, 0] = "three"
    mixed = make_mixed_data()
    bern = mixed["binary"].copy()
    bern[20, 0] = 2.0
    neg = mixed["counts"].copy()
    neg[20, 0] = -1.0
    frac = mixed["counts"].copy()
    frac[20, 0] = 0.5
    cat = mixed["label"].copy()
    cat[20, 0] = 4.5
    array = _array(data)
    array_words = array.astype(object)
    array_words[3, 5] = "x"
    return [
        ("inf", {}, _with(data, a=inf), ValueError, r"'a': rows \[40\] contain inf"),
        ("lengths", {}, _with(data, b=data["b"][:50]), ValueError, "different numbers of rows"),
        ("unknown-likelihood-name", {"likelihoods": {"c": "bernoulli"}}, data, ValueError,
         r"likelihoods names unknown modalities \['c'\]"),
        ("empty-dict", {}, {}, ValueError, "empty dict"),
        ("no-rows", {}, {"a": np.ones((0, 2))}, ValueError, "0 samples"),
        ("always-missing", {}, _with(data, b=np.full((80, 3), np.nan)), ValueError,
         r"\['b'\] are missing \(all NaN\) in every training row"),
        ("non-numeric", {}, _with(data, a=words), TypeError, "'a': values must be numeric"),
        ("bernoulli", {"likelihoods": MIXED_LIKELIHOODS}, _with(mixed, binary=bern), ValueError,
         r"'binary': the bernoulli likelihood needs values in \[0, 1\]"),
        ("poisson-negative", {"likelihoods": MIXED_LIKELIHOODS}, _with(mixed, counts=neg), ValueError,
         "'counts': the poisson likelihood needs non-negative integer"),
        ("poisson-fraction", {"likelihoods": MIXED_LIKELIHOODS}, _with(mixed, counts=frac), ValueError,
         "'counts': the poisson likelihood needs non-negative integer"),
        ("categorical-fraction", {"likelihoods": MIXED_LIKELIHOODS}, _with(mixed, label=cat), ValueError,
         "'label': categorical labels must be integers"),
        ("array-wrong-widths", {"modalities": {"a": 4, "b": 4}}, array, ValueError, "describe 8 columns but X has 7"),
        ("array-uncovered", {"modalities": [4, 2]}, array, ValueError, "cover 6 of the 7 columns"),
        ("array-unknown-column", {"modalities": {"a": ["a0"], "b": ["zz"]}},
         pd.DataFrame(array[:, :2], columns=["a0", "b0"]), ValueError, "'b': unknown column 'zz'"),
        ("array-non-numeric", {"modalities": {"a": 4, "b": 3}}, array_words, TypeError,
         "'b': values must be numeric"),
        ("array-empty", {}, np.ones((0, 3)), ValueError, "0 sample"),
    ]  # fmt: skip


BAD_FIT = _bad_fit_inputs()


@pytest.mark.parametrize("params, X, error, match", [b[1:] for b in BAD_FIT], ids=[b[0] for b in BAD_FIT])
def test_bad_training_input_fails_before_training(no_training, params, X, error, match):
    with pytest.raises(error, match=match):
        MultiModalVAE(**params, **SMALL).fit(X)


def test_sparse_input_is_rejected(no_training):
    import scipy.sparse as sp

    with pytest.raises(TypeError, match="sparse"):
        MultiModalVAE(**SMALL).fit(sp.random(20, 3, density=0.5, format="csr", random_state=0))
    with pytest.raises(TypeError, match="sparse"):
        MultiModalVAE(**SMALL).fit(sp.random(20, 3, density=0.5, format="dok", random_state=0))


def test_bad_input_at_transform_names_the_modality(fitted, data):
    with pytest.raises(ValueError, match=r"unknown modalities \['c'\]"):
        fitted.transform(_with(data, c=data["a"]))
    with pytest.raises(ValueError, match="'a': expected 4 features, got 3"):
        fitted.predict(_with(data, a=data["a"][:, :3]))
    with pytest.raises(ValueError, match="'b': rows .* contain inf"):
        fitted.transform(_with(data, b=np.full((80, 3), np.inf)))
    with pytest.raises(ValueError, match="different numbers of rows"):
        fitted.transform(_with(data, b=data["b"][:5]))
    with pytest.raises(TypeError, match="fitted on a dict"):
        fitted.transform(_array(data))


@pytest.mark.parametrize("modalities", [["c"], ["a", "zz"], "c"])
def test_transform_rejects_unknown_modality_subsets(fitted, data, modalities):
    with pytest.raises(ValueError, match="unknown modalities"):
        fitted.transform(data, modalities=modalities)


def test_transform_rejects_an_empty_modality_subset(fitted, data):
    with pytest.raises(ValueError, match="modalities is empty"):
        fitted.transform(data, modalities=[])


def test_support_is_checked_at_transform(fitted_mixed):
    data = make_mixed_data()
    unseen = data["label"].copy()
    unseen[20, 0] = 4.0
    with pytest.raises(ValueError, match=r"'label': unseen categories \[4.0\]"):
        fitted_mixed.transform(_with(data, label=unseen))
    bern = data["binary"].copy()
    bern[30, 1] = -1.0
    with pytest.raises(ValueError, match="'binary': the bernoulli"):
        fitted_mixed.predict(_with(data, binary=bern))


def test_array_with_wrong_width_at_transform(data):
    est = MultiModalVAE(modalities=[4, 3], **SMALL).fit(_array(data))
    with pytest.raises(ValueError, match="7 features"):
        est.transform(_array(data)[:, :6])


def test_user_arrays_are_never_modified(data):
    originals = {name: block.copy() for name, block in data.items()}
    array = _array(data)
    array_before = array.copy()
    frame = pd.DataFrame(array.copy(), columns=COLUMNS)
    frame_before = frame.copy()

    est = MultiModalVAE(**SMALL).fit(data)
    est.partial_fit(data)
    est.transform(data)
    est.predict(data)
    est.score_samples(data)
    for name, block in data.items():
        assert np.array_equal(block, originals[name], equal_nan=True), name

    est2 = MultiModalVAE(modalities=[4, 3], **SMALL).fit(array)
    est2.transform(array)
    est2.predict(array)
    est2.score(array)
    assert np.array_equal(array, array_before, equal_nan=True)

    est3 = MultiModalVAE(modalities=[4, 3], **SMALL).fit(frame)
    est3.predict(frame)
    pd.testing.assert_frame_equal(frame, frame_before)


# --------------------------------------------------------------------------- 4. methods


def test_partial_fit_continues_training(data):
    est = MultiModalVAE(**{**SMALL, "early_stopping": False}).fit(data)
    before = [p.detach().clone() for p in est.module_.parameters()]
    module = est.module_
    est.partial_fit(data, epochs=2)
    assert est.n_iter_ == SMALL["max_epochs"] + 2
    assert len(est.history_) == SMALL["max_epochs"] + 2
    assert est.module_ is module  # the same model, trained further
    assert any(not torch.equal(p, q) for p, q in zip(before, est.module_.parameters()))


def test_partial_fit_on_an_unfitted_estimator_starts_training(data):
    est = MultiModalVAE(**SMALL).partial_fit(data, epochs=2)
    assert est.n_iter_ == 2
    assert est.transform(data).shape == (80, 2)
    with pytest.raises(ValueError, match="epochs"):
        est.partial_fit(data, epochs=0)


def test_transform_from_a_subset_of_modalities(fitted, data):
    Z_a = fitted.transform(data, modalities=["a"])
    np.testing.assert_array_equal(Z_a, fitted.transform({"a": data["a"]}))
    np.testing.assert_array_equal(fitted.transform(data, modalities="a"), Z_a)
    Z = fitted.transform(data)
    both = np.ones(80, bool)
    both[A_MISSING] = both[B_MISSING] = False
    assert not np.allclose(Z[both], Z_a[both])  # b changes the posterior where observed
    only_a = np.zeros(80, bool)
    only_a[B_MISSING] = True
    np.testing.assert_array_equal(Z[only_a], Z_a[only_a])  # b missing there anyway


def test_transform_of_a_sample_without_observed_modality_is_finite(fitted, data):
    Z = fitted.transform({"a": data["a"][A_MISSING]})  # a missing, b absent: nothing observed
    assert Z.shape == (6, 2) and np.isfinite(Z).all()


def _filled_ok(result, original):
    """Observed entries bit-identical, no NaN left."""
    observed = ~np.isnan(original)
    assert not np.isnan(result).any()
    np.testing.assert_array_equal(result[observed], original[observed])


def test_predict_dict_fills_only_missing_blocks(fitted, data):
    out = fitted.predict(data)
    assert type(out) is dict and list(out) == ["a", "b"]
    for name in data:
        _filled_ok(out[name], data[name])
        assert out[name] is not data[name]
    # the fill is the decoder mean at the posterior mean of the observed modalities
    decoded = fitted.inverse_transform(fitted.transform(data))
    np.testing.assert_allclose(out["b"][B_MISSING], decoded["b"][B_MISSING], rtol=1e-6)
    np.testing.assert_allclose(out["a"][A_MISSING], decoded["a"][A_MISSING], rtol=1e-6)


def test_predict_adds_absent_modalities(fitted, data):
    out = fitted.predict({"a": data["a"]})
    assert set(out) == {"a", "b"}
    assert out["b"].shape == (80, 3) and not np.isnan(out["b"][20:]).any()


def test_predict_modality_dict_returns_modality_dict(fitted, data):
    md = ModalityDict(a=pd.DataFrame(data["a"], index=np.arange(80) + 5), b=data["b"].astype(np.float32))
    out = fitted.predict(md)
    assert type(out) is ModalityDict
    assert isinstance(out["a"], pd.DataFrame)
    pd.testing.assert_index_equal(out["a"].index, md["a"].index)
    _filled_ok(out["a"].to_numpy(), data["a"])
    assert out["b"].dtype == np.float32  # float dtypes are kept
    _filled_ok(out["b"], data["b"].astype(np.float32))


def test_predict_array_and_frame_keep_their_container(data):
    array = _array(data)
    est = MultiModalVAE(modalities={"a": 4, "b": 3}, **SMALL).fit(array)
    out = est.predict(array)
    assert type(out) is np.ndarray and out.shape == array.shape
    _filled_ok(out, array)

    frame = pd.DataFrame(array, columns=COLUMNS, index=[f"r{i}" for i in range(80)])
    frame["a0"] = frame["a0"].astype(np.float32)
    est_frame = MultiModalVAE(modalities={"a": 4, "b": 3}, **SMALL).fit(frame)
    out = est_frame.predict(frame)
    assert type(out) is pd.DataFrame
    pd.testing.assert_index_equal(out.index, frame.index)
    pd.testing.assert_index_equal(out.columns, frame.columns)
    assert out["a0"].dtype == np.float32
    _filled_ok(out.to_numpy(np.float64), frame.to_numpy(np.float64))


def test_predict_categorical_gives_known_labels(fitted_mixed):
    data = make_mixed_data()
    out = fitted_mixed.predict(data)
    assert set(np.unique(out["label"])) <= {3.0, 5.0, 7.0}
    _filled_ok(out["label"], data["label"])
    _filled_ok(out["binary"], data["binary"])
    assert ((out["binary"] >= 0) & (out["binary"] <= 1)).all()


def test_inverse_transform_and_sample(fitted, data):
    Z = fitted.transform(data)
    X = fitted.inverse_transform(Z)
    assert set(X) == {"a", "b"} and X["a"].shape == (80, 4) and X["b"].shape == (80, 3)
    with pytest.raises(ValueError, match="shape"):
        fitted.inverse_transform(Z[:, :1])
    samples, z = fitted.sample(5)
    assert z.shape == (5, 2) and samples["a"].shape == (5, 4)
    np.testing.assert_array_equal(fitted.sample(5)[1], z)  # reproducible
    np.testing.assert_allclose(fitted.inverse_transform(z)["b"], samples["b"])
    with pytest.raises(ValueError, match="n_samples"):
        fitted.sample(0)


def test_inverse_transform_of_2d_model_is_an_array(data):
    est = MultiModalVAE(modalities=[4, 3], **SMALL).fit(_array(data))
    X = est.inverse_transform(np.zeros((3, 2)))
    assert isinstance(X, np.ndarray) and X.shape == (3, 7)


def test_score_is_a_reproducible_iw_log_likelihood(fitted, data):
    ll = fitted.score_samples(data)
    assert ll.shape == (80,) and np.isfinite(ll).all()
    np.testing.assert_array_equal(fitted.score_samples(data), ll)
    assert fitted.score(data) == pytest.approx(ll.mean())
    # only the observed modalities are scored: a missing block counts like an absent key
    np.testing.assert_array_equal(fitted.score_samples({"a": data["a"]})[B_MISSING], ll[B_MISSING])
    # beta only weights the training loss; the score always uses beta = 1
    est = clone(fitted).set_params(beta=4.0).fit(data)
    score = est.score(data)
    est.set_params(beta=1.0)
    assert est.score(data) == score


def test_score_does_not_depend_on_batch_composition(fitted, data):
    ll = fitted.score_samples(data)
    rows = np.array([70, 3, 41, 12])
    subset = {name: block[rows] for name, block in data.items()}
    np.testing.assert_allclose(fitted.score_samples(subset), ll[rows], rtol=1e-6)


def test_conditional_score_follows_the_chain_rule(fitted, data):
    """log p(a, b) = log p(a) + log p(b | a): with many importance samples the conditional
    score matches the difference of two joint scores (different proposals, same model).
    Sumpooling: PoE's subset posteriors q(z | x_a) are narrower proposals, with which the
    self-normalised estimate converges more slowly (0.2-0.5 nats low at K=4096 here). The
    estimate's error depends on the proposals, so the training the tolerance was set with is
    pinned (a constant lr of 1e-3, plain MLP decoders: trained with decoder_skip, 8 of 64 rows
    were up to 0.27 nats off at K=4096)."""
    est = clone(fitted).set_params(aggregation="sumpooling", lr=1e-3, lr_schedule="constant", decoder_skip=False,
                                   device="cpu").fit(data)  # the training of the tolerance (a GPU's differs)
    est.set_params(n_importance_samples=4096)
    joint = est.score_samples(data)
    marginal_a = est.score_samples({"a": data["a"]})
    b_given_a = est.score_samples(data, given="a")
    both = ~np.isnan(data["a"][:, 0]) & ~np.isnan(data["b"][:, 0])
    np.testing.assert_allclose(b_given_a[both], (joint - marginal_a)[both], atol=0.05)
    # rows whose b is missing have no target: log 1 = 0
    np.testing.assert_array_equal(b_given_a[B_MISSING], 0.0)
    np.testing.assert_array_equal(est.score_samples(data, given=["a", "b"]), 0.0)
    # reproducible and independent of batching, like the joint score
    rows = np.array([70, 3, 41, 12])
    subset = {name: block[rows] for name, block in data.items()}
    np.testing.assert_allclose(est.score_samples(subset, given="a"), b_given_a[rows], rtol=1e-6)


def test_more_importance_samples_change_the_estimate(fitted, data):
    est = clone(fitted).fit(data)
    ll64 = est.score_samples(data)
    est.set_params(n_importance_samples=1)
    ll1 = est.score_samples(data)
    assert not np.allclose(ll1, ll64)
    # more samples, less error: against a K = 4096 reference, per row
    est.set_params(n_importance_samples=4096)
    reference = est.score_samples(data)
    assert np.abs(ll64 - reference).mean() < np.abs(ll1 - reference).mean()


def test_feature_names_out_and_pandas_output(data):
    frame = pd.DataFrame(_array(data), columns=COLUMNS, index=np.arange(80) * 2)
    est = MultiModalVAE(modalities={"a": 4, "b": 3}, **SMALL).fit(frame)
    np.testing.assert_array_equal(est.get_feature_names_out(), ["multimodalvae0", "multimodalvae1"])
    expected = est.transform(frame)
    est.set_output(transform="pandas")
    out = est.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["multimodalvae0", "multimodalvae1"]
    pd.testing.assert_index_equal(out.index, frame.index)
    np.testing.assert_array_equal(out.to_numpy(), expected)


def test_unfitted_estimator_raises_not_fitted(data):
    from sklearn.exceptions import NotFittedError

    for method in ("transform", "predict", "score", "score_samples"):
        with pytest.raises(NotFittedError):
            getattr(MultiModalVAE(), method)(data)


# --------------------------------------------------------------------------- 9. batching


def test_inference_runs_in_batches_and_results_do_not_depend_on_them(data, monkeypatch):
    est = MultiModalVAE(**{**SMALL, "batch_size": 7}).fit(data)
    Z, X_hat, ll = est.transform(data), est.predict(data), est.score_samples(data)

    monkeypatch.setattr(_inference, "MIN_INFERENCE_BATCH", 1)
    monkeypatch.setattr(_inference, "SCORE_BATCH_DRAWS", 13 * est.n_importance_samples)
    calls = []
    encode = est.module_.encode
    monkeypatch.setattr(est.module_, "encode", lambda *a: calls.append(len(a[1])) or encode(*a))
    Z_small = est.transform(data)
    # 80 rows in batches of batch_size=7, each padded to MIN_BATCH_ROWS rows
    padded = max(7, _inference.MIN_BATCH_ROWS)
    assert calls == [padded] * 12
    np.testing.assert_allclose(Z_small, Z, rtol=1e-5, atol=1e-6)
    X_small = est.predict(data)
    for name in X_hat:
        np.testing.assert_allclose(X_small[name], X_hat[name], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(est.score_samples(data), ll, rtol=1e-5)


def test_a_row_alone_gives_exactly_what_it_gives_in_the_whole_set(fitted, data):
    # torch's kernels for a handful of rows round differently: inference pads small batches
    same = same_as_in_a_batch(fitted)
    Z, X_hat, ll = fitted.transform(data), fitted.predict(data), fitted.score_samples(data)
    for row in (0, 11, 79):
        one = {name: block[row : row + 1] for name, block in data.items()}
        same(fitted.transform(one), Z[row : row + 1])
        same(fitted.predict(one)["a"], X_hat["a"][row : row + 1])
        same(fitted.score_samples(one), ll[row : row + 1])


def test_every_row_alone_scores_exactly_as_in_the_whole_set(fitted, data, fitted_mixed):
    """The importance-weighted estimates reduce over the draws row by row: a reduction over
    the leading (draws) axis is vectorised across the rows and rounds differently with the
    number of rows, which changed about one row in ten in its last bits."""
    same = same_as_in_a_batch(fitted)
    ll = fitted.score_samples(data)
    given = fitted.score_samples(data, given=["a"])
    for row in range(len(ll)):
        one = {name: block[row : row + 1] for name, block in data.items()}
        same(fitted.score_samples(one)[0], ll[row], row)
        same(fitted.score_samples(one, given=["a"])[0], given[row], row)
    mixed = make_mixed_data()
    proba = fitted_mixed.predict_proba(mixed, modality="label")
    for row in range(0, len(proba), 3):
        one = {name: block[row : row + 1] for name, block in mixed.items()}
        same(fitted_mixed.predict_proba(one, modality="label")[0], proba[row], row)


def test_transform_of_row_subsets_matches_the_full_set(fitted, data):
    Z = fitted.transform(data)
    X_hat = fitted.predict(data)
    for rows in (slice(0, 13), slice(13, 80), np.array([79, 0, 15, 42])):
        part = {name: block[rows] for name, block in data.items()}
        np.testing.assert_allclose(fitted.transform(part), Z[rows], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(fitted.predict(part)["b"], X_hat["b"][rows], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("as_array", [False, True])
def test_inference_converts_large_inputs_in_chunks_with_identical_results(data, monkeypatch, as_array):
    # transform/predict/score validate and convert the user's input chunk by chunk so that
    # their temporary memory is bounded by the chunk; the chunking must not change results.
    if as_array:
        X = np.hstack([data[name] for name in data])
        est = MultiModalVAE(**{**SMALL, "modalities": {n: b.shape[1] for n, b in data.items()}})
    else:
        X = data
        est = MultiModalVAE(**SMALL)
    est.fit(X)
    Z, X_hat, ll = est.transform(X), est.predict(X), est.score_samples(X)
    converted = []
    to_tensors = estimator_module.Schema.tensors
    monkeypatch.setattr(_inference, "INFERENCE_CHUNK_ROWS", 30)
    monkeypatch.setattr(
        estimator_module.Schema, "tensors",
        lambda self, blocks, *a, **k: converted.append(len(next(iter(blocks.values())))) or to_tensors(self, blocks, *a, **k),
    )
    np.testing.assert_allclose(est.transform(X), Z, rtol=1e-5, atol=1e-6)
    assert converted == [30, 30, 20]
    X_chunked = est.predict(X)
    if as_array:
        np.testing.assert_allclose(X_chunked, X_hat, rtol=1e-5, atol=1e-6)
        observed = ~np.isnan(X)
        assert np.array_equal(X_chunked[observed], X[observed])
    else:
        for name in X_hat:
            np.testing.assert_allclose(X_chunked[name], X_hat[name], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(est.score_samples(X), ll, rtol=1e-5)


@pytest.mark.parametrize("n_rows, expected_batches", [(80, 3), (1600, 16), (8000, 32)])
def test_auto_batch_size_gives_small_data_enough_steps(n_rows, expected_batches):
    # "auto" = min(256, max(32, n // 16)): 80 rows -> 32 per batch (3 steps), 1600 -> 100
    # (16 steps), 8000 -> 256 (32 steps).
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(n_rows, 2)), "b": rng.normal(size=(n_rows, 2))}
    est = MultiModalVAE(**{**SMALL, "batch_size": "auto", "max_epochs": 1,
                           "validation_fraction": 0.0, "early_stopping": False}).fit(X)
    assert est.history_[-1]["train_batch_count"] == expected_batches


@pytest.mark.parametrize("aggregation", ["sumpooling", "moe"])
def test_sample_posterior_draws_from_the_encoder(data, aggregation):
    est = MultiModalVAE(**dict(SMALL, aggregation=aggregation)).fit(data)
    draws = est.sample_posterior(data, n_samples=4000, modalities=["a"])
    assert draws.shape == (4000, len(data["a"]), SMALL["n_components"])
    # the Monte Carlo mean is the posterior mean of transform, within 5 standard errors
    mean, sem = draws.mean(0), draws.std(0) / np.sqrt(len(draws))
    observed = ~np.isnan(data["a"][:, 0])
    assert (np.abs(mean - est.transform(data, modalities=["a"]))[observed] < 5 * sem[observed] + 1e-6).all()
    # rows with no conditioning modality sample the prior (aggregator's empty-set posterior)
    assert np.isfinite(draws).all()
    again = est.sample_posterior(data, n_samples=3)
    np.testing.assert_array_equal(again, est.sample_posterior(data, n_samples=3))
    assert not np.array_equal(again, est.sample_posterior(data, n_samples=3, random_state=1))
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        est.sample_posterior(data, n_samples=0)
    with pytest.raises(ValueError, match="unknown modalities"):
        est.sample_posterior(data, modalities=["zz"])


def test_activation_and_weight_init_reach_the_networks(data):
    est = MultiModalVAE(**dict(SMALL, activation="tanh", max_epochs=1)).fit(data)
    kinds = {type(m).__name__ for m in est.module_.encoders.modules()}
    assert "Tanh" in kinds and "ReLU" not in kinds
    biases = lambda e: torch.cat([m.bias for m in e.net_.module_.modules()
                                  if isinstance(m, torch.nn.Linear) and m.bias is not None])
    est_lecun = MultiModalVAE(**SMALL)
    est_lecun._initialize(data)
    est_torch = MultiModalVAE(**dict(SMALL, weight_init="torch"))
    est_torch._initialize(data)
    assert torch.count_nonzero(biases(est_lecun)) == 0  # LeCun init: zero biases
    assert torch.count_nonzero(biases(est_torch)) > 0  # PyTorch's default: uniform biases


def test_predict_returns_series_for_series_modalities(data):
    """A modality given as a pandas Series comes back as a Series with its index, name and
    dtype (a categorical Series of labels stays categorical)."""
    index = np.arange(100, 180)
    labels = pd.Series(pd.Categorical(["x", "y", None, "z"] * 20), index=index, name="lab")
    b0 = pd.Series(data["b"][:, 0], index=index, name="b0")
    X = {"a": data["a"], "b0": b0, "lab": labels}
    est = MultiModalVAE(likelihoods={"lab": "categorical"}, **SMALL).fit(X)
    imputed = est.predict(X)
    for name, original in (("b0", b0), ("lab", labels)):
        out = imputed[name]
        assert isinstance(out, pd.Series) and out.name == name and out.dtype == original.dtype
        pd.testing.assert_index_equal(out.index, original.index)
        assert not out.isna().any()
        observed = original.notna()
        pd.testing.assert_series_equal(out[observed], original[observed])
    assert labels.isna().sum() == 20  # the input is untouched
