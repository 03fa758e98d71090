"""Bad inputs: one table of wrong data, parameters and calls, and how each must fail.

Every case must fail with a ``ValueError`` or ``TypeError`` (``NotFittedError`` is a
``ValueError``) whose message names the modality or parameter and the problem, raised by
skmmvae's own validation (or scikit-learn's validation called by skmmvae), never from deep
inside torch or numpy, before any training starts, and without modifying what the user passed
(neither the data nor a fitted estimator).
"""
import copy
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
import torch
from conftest import MIXED_LIKELIHOODS, SMALL, make_data, make_mixed_data

import skmmvae
from skmmvae import MultiModalVAE

DATA = make_data()  # "a": 4 columns, "b": 3 columns, some rows missing
MIXED = make_mixed_data()  # gauss, binary (bernoulli), counts (poisson), label (categorical 3/5/7)
ARRAY = np.hstack([DATA["a"], DATA["b"]])  # the same as one 2-D input, modalities=[4, 3]
N = ARRAY.shape[0]
SPECIES = np.array(["setosa", "versicolor", "virginica"], dtype=object)[np.arange(N) % 3]
SPECIES[40:44] = None  # missing labels
LABELLED = {**DATA, "species": SPECIES}  # a categorical modality of string labels

# Where an error may legitimately be raised: skmmvae itself, or scikit-learn's validation
# helpers that skmmvae calls (validate_data, check_is_fitted, parameter constraints).
ALLOWED_RAISERS = (
    os.path.dirname(skmmvae.__file__) + os.sep,
    os.path.join(os.path.dirname(sklearn.__file__), "utils") + os.sep,
)


@dataclass
class Call:
    """What a case does: ``action(estimators)``, and the user inputs it must leave untouched."""

    action: object
    inputs: tuple = ()


def fit(X, **params):
    """``MultiModalVAE(**SMALL, **params).fit(X)``."""
    return Call(lambda est: MultiModalVAE(**{**SMALL, **params}).fit(X), (X, params))


def on_fitted(name, method, *args, **kwargs):
    """``method(*args, **kwargs)`` of the shared fitted estimator ``name``."""
    return Call(lambda est: getattr(est[name], method)(*args, **kwargs), (args, kwargs))


def unfitted(method, *args, **kwargs):
    """``method(*args, **kwargs)`` of an estimator that was never fitted."""
    return Call(lambda est: getattr(MultiModalVAE(**SMALL), method)(*args, **kwargs),
                (args, kwargs))


def _with(data, **blocks):
    return {**data, **blocks}


def _set(block, row, col, value, dtype=None):
    out = block.astype(dtype or block.dtype)  # a copy
    out[row, col] = value
    return out


def _cases():
    a, b = DATA["a"], DATA["b"]
    strings = _set(a, 3, 0, "three", dtype=object)
    none_block = np.full((N, 4), None, dtype=object)
    labels = MIXED["label"]
    return [
        # ---- shapes
        ("fit-1d-array", fit(ARRAY[:, 0]), ValueError, r"Expected 2D array, got 1D array"),
        ("fit-3d-block", fit(_with(DATA, a=a.reshape(N, 2, 2))), ValueError,
         r"modality 'a': expected a 2-D array, got 3 dimensions"),
        ("fit-3d-array", fit(ARRAY.reshape(N, 7, 1), modalities=[4, 3]), ValueError,
         r"Found array with dim 3"),
        ("fit-rows-mismatch", fit(_with(DATA, b=b[:50])), ValueError,
         r"different numbers of rows: \{'a': 80, 'b': 50\}"),
        ("fit-zero-rows", fit({"a": a[:0], "b": b[:0]}), ValueError, r"0 samples"),
        ("fit-zero-columns", fit(_with(DATA, b=b[:, :0])), ValueError,
         r"modality 'b': has 0 features"),
        ("fit-width-disagrees-with-modalities", fit(ARRAY, modalities=[4, 4]), ValueError,
         r"modalities describe 8 columns but X has 7"),
        ("fit-float-width", fit(ARRAY, modalities={"a": 4.0, "b": 3}), TypeError,
         r"modality 'a': expected a width or a list of columns, got 4.0"),
        ("inverse_transform-zero-rows", on_fitted("dict", "inverse_transform", np.zeros((0, 2))),
         ValueError, r"Z has 0 samples"),
        ("fit-modalities-leave-columns-out", fit(ARRAY, modalities={"a": 4, "b": 2}), ValueError,
         r"modalities cover 6 of the 7 columns"),
        ("transform-1d-block", on_fitted("dict", "transform", _with(DATA, a=a[:, 0])), ValueError,
         r"modality 'a': expected 4 features, got 1"),
        ("transform-zero-rows", on_fitted("dict", "transform", {"a": a[:0], "b": b[:0]}), ValueError,
         r"0 samples"),
        ("transform-rows-mismatch", on_fitted("dict", "predict", _with(DATA, b=b[:5])), ValueError,
         r"different numbers of rows"),
        # ---- types
        ("fit-strings", fit(_with(DATA, a=strings)), TypeError,
         r"modality 'a': values must be numeric"),
        ("fit-array-strings", fit(ARRAY.astype(object).astype(str), modalities=[4, 3]), TypeError,
         r"modality 'm0': values must be numeric, got strings"),
        ("fit-words", fit(_with(DATA, b=np.full((N, 3), "x"))), TypeError,
         r"modality 'b': values must be numeric, got strings"),
        ("fit-complex", fit(_with(DATA, b=b + 1j)), TypeError, r"modality 'b': complex values"),
        ("fit-none-block", fit(_with(DATA, a=None)), TypeError,
         r"modality 'a': got None instead of an array"),
        ("transform-none-block", on_fitted("dict", "transform", _with(DATA, b=None)), TypeError,
         r"modality 'b': got None instead of an array"),
        ("fit-block-of-none", fit(_with(DATA, a=none_block)), ValueError,
         r"modalities \['a'\] are missing \(all NaN\) in every training row"),
        ("fit-X-none", fit(None), (TypeError, ValueError), r"(X|None|array)"),
        ("fit-sparse", fit(sp.csr_matrix(np.nan_to_num(ARRAY))), TypeError,
         r"X: sparse input is not supported"),
        ("fit-sparse-block", fit(_with(DATA, a=sp.csr_matrix(np.nan_to_num(a)))), TypeError,
         r"modality 'a': sparse input is not supported"),
        ("fit-list-of-blocks", fit([a, b]), TypeError, r"dict \{name: array\}, not a list"),
        ("fit-non-string-key", fit({0: a, "b": b}), TypeError,
         r"modality names must be strings, got 0"),
        # ---- NaN and inf
        ("fit-inf", fit(_with(DATA, a=_set(a, 40, 2, np.inf))), ValueError,
         r"modality 'a': rows \[40\] contain inf"),
        ("predict-minus-inf", on_fitted("dict", "predict", _with(DATA, b=_set(b, 20, 0, -np.inf))),
         ValueError, r"modality 'b': rows \[20\] contain inf or -inf"),
        # ---- support of the likelihoods
        ("fit-poisson-negative", fit(_with(MIXED, counts=_set(MIXED["counts"], 20, 0, -1.0)),
                                     likelihoods=MIXED_LIKELIHOODS), ValueError,
         r"modality 'counts': the poisson likelihood needs non-negative integer counts"),
        ("fit-poisson-non-integer", fit(_with(MIXED, counts=_set(MIXED["counts"], 20, 0, 0.5)),
                                        likelihoods=MIXED_LIKELIHOODS), ValueError,
         r"modality 'counts': the poisson likelihood needs non-negative integer counts"),
        ("fit-bernoulli-above-one", fit(_with(MIXED, binary=_set(MIXED["binary"], 20, 0, 2.0)),
                                        likelihoods=MIXED_LIKELIHOODS), ValueError,
         r"modality 'binary': the bernoulli likelihood needs values in \[0, 1\]"),
        ("transform-bernoulli-negative",
         on_fitted("mixed", "transform", _with(MIXED, binary=_set(MIXED["binary"], 30, 1, -1.0))),
         ValueError, r"modality 'binary': the bernoulli likelihood needs values in \[0, 1\]"),
        ("fit-categorical-non-integer", fit(_with(MIXED, label=_set(labels, 20, 0, 4.5)),
                                            likelihoods=MIXED_LIKELIHOODS), ValueError,
         r"modality 'label': categorical labels must be integers"),
        ("fit-categorical-bad-one-hot",
         fit(_with(DATA, c=np.tile([[1.0, 1.0, 0.0]], (N, 1))), likelihoods={"c": "categorical"}),
         ValueError, r"modality 'c': one-hot rows must hold a single 1"),
        ("transform-categorical-unseen",
         on_fitted("mixed", "transform", _with(MIXED, label=_set(labels, 20, 0, 4.0))), ValueError,
         r"modality 'label': unseen categories \[4.0\]"),
        ("predict-categorical-unseen",
         on_fitted("mixed", "predict", _with(MIXED, label=_set(labels, 20, 0, 9.0))), ValueError,
         r"modality 'label': unseen categories \[9.0\]"),
        ("fit-categorical-strings-and-numbers",
         fit(_with(DATA, c=np.array(["x", 1] * (N // 2), dtype=object)), likelihoods={"c": "categorical"}),
         TypeError, r"modality 'c': categorical labels must be all numbers or all strings, got "
                    r"strings mixed with \['int'\]"),
        ("fit-categorical-strings-two-columns",
         fit(_with(DATA, c=np.array([["x", "y"]] * N)), likelihoods={"c": "categorical"}),
         ValueError, r"modality 'c': categorical labels must be one column"),
        ("fit-categorical-one-string-class",
         fit(_with(DATA, c=np.array(["x"] * N)), likelihoods={"c": "categorical"}),
         ValueError, r"modality 'c': a categorical modality needs at least 2 classes"),
        ("transform-string-label-unseen",
         on_fitted("labels", "transform", _with(LABELLED, species=_set(SPECIES, 7, None, "rose"))),
         ValueError, r"modality 'species': unseen categories \['rose'\] \(fitted classes: \['setosa'"),
        ("transform-numbers-for-string-labels",
         on_fitted("labels", "predict", _with(LABELLED, species=np.zeros(N))), ValueError,
         r"modality 'species': got numeric labels, but the estimator was fitted with string labels"),
        ("transform-strings-for-numeric-labels",
         on_fitted("mixed", "transform", _with(MIXED, label=np.array(["3"] * N))), ValueError,
         r"modality 'label': got string labels, but the estimator was fitted with numeric labels"),
        # ---- modality names after fit
        ("transform-unknown-modality", on_fitted("dict", "transform", _with(DATA, c=a)), ValueError,
         r"unknown modalities \['c'\]; the estimator was fitted with \['a', 'b'\]"),
        ("predict-unknown-modality", on_fitted("dict", "predict", {"zz": a}), ValueError,
         r"unknown modalities \['zz'\]"),
        ("transform-unknown-subset", on_fitted("dict", "transform", DATA, modalities=["a", "zz"]),
         ValueError, r"unknown modalities \['zz'\] in modalities; known: \['a', 'b'\]"),
        ("transform-empty-subset", on_fitted("dict", "transform", DATA, modalities=[]), ValueError,
         r"modalities is empty"),
        ("transform-subset-not-names", on_fitted("dict", "transform", DATA, modalities=3), TypeError,
         r"modalities must be a modality name or a list of names, got 3"),
        ("score_samples-unknown-given", on_fitted("dict", "score_samples", DATA, given=["zz"]),
         ValueError, r"unknown modalities \['zz'\] in given; known: \['a', 'b'\]"),
        ("score_samples-empty-given", on_fitted("dict", "score_samples", DATA, given=[]), ValueError,
         r"given is empty"),
        # ---- parameters
        ("n_components=0", fit(DATA, n_components=0), ValueError,
         r"'n_components' parameter of MultiModalVAE must be an int in the range \[1, inf\) or a str among \{'auto'\}\. Got 0"),
        ("beta<0", fit(DATA, beta=-1.0), ValueError,
         r"'beta' parameter of MultiModalVAE must be a float in the range \[0.0, inf\)\. Got -1.0"),
        ("unknown-aggregation", fit(DATA, aggregation="mean"), ValueError,
         r"'aggregation' parameter of MultiModalVAE must be a str among .*'poe'.*Got 'mean'"),
        ("unknown-objective", fit(DATA, objective="iwae"), ValueError,
         r"'objective' parameter of MultiModalVAE must be a str among .*'tight'.*Got 'iwae'"),
        ("unknown-likelihood", fit(DATA, likelihoods={"a": "normal"}), ValueError,
         r"modality 'a': unknown likelihood 'normal'"),
        ("likelihood-for-unknown-modality", fit(DATA, likelihoods={"zz": "poisson"}), ValueError,
         r"likelihoods names unknown modalities \['zz'\]"),
        ("likelihood-scale=0", fit(DATA, likelihoods={"a": ("gaussian", {"scale": 0.0})}),
         ValueError, r"modality 'a': .*gaussian.* scale must be positive, got 0"),
        ("likelihood-scale<0", fit(DATA, likelihoods={"b": ("laplace", {"scale": -2})}),
         ValueError, r"modality 'b': .*laplace.* scale must be positive, got -2"),
        ("likelihood-unknown-option", fit(DATA, likelihoods={"a": ("gaussian", {"sigma": 1.0})}),
         TypeError, r"modality 'a': unknown option\(s\) \['sigma'\] for the gaussian likelihood"),
        ("likelihood-min_scale<0", fit(DATA, likelihoods={"a": ("gaussian", {"min_scale": -1})}),
         ValueError, r"modality 'a': invalid options for the gaussian likelihood: min_scale"),
        ("likelihood-spec-not-a-pair", fit(DATA, likelihoods={"a": ("gaussian",)}), TypeError,
         r"modality 'a': a likelihood is a name or a \(name, options\) pair"),
        ("likelihood-options-not-dict", fit(DATA, likelihoods={"a": ("gaussian", 1.0)}),
         TypeError, r"modality 'a': likelihood options must be a dict"),
        ("batch_size=0", fit(DATA, batch_size=0), ValueError, r"'batch_size' parameter"),
        ("lr=0", fit(DATA, lr=0.0), ValueError,
         r"'lr' parameter of MultiModalVAE must be a float in the range \(0.0, inf\)\. Got 0.0"),
        ("lr<0", fit(DATA, lr=-1e-3), ValueError, r"'lr' parameter"),
        ("validation_fraction=1.5", fit(DATA, validation_fraction=1.5), ValueError,
         r"'validation_fraction' parameter .* range \[0.0, 1.0\)\. Got 1.5"),
        ("hidden_layer_sizes-with-0", fit(DATA, hidden_layer_sizes=(8, 0)), ValueError,
         r"hidden_layer_sizes must be positive integers, got \(8, 0\)"),
        ("hidden_layer_sizes-not-int", fit(DATA, hidden_layer_sizes=(8.5,)), ValueError,
         r"hidden_layer_sizes must be positive integers"),
        ("encoders-unknown-modality", fit(DATA, encoders={"zz": torch.nn.Linear(3, 4)}),
         ValueError, r"encoders names unknown modalities \['zz'\]"),
        ("n_jobs=0", fit(DATA, n_jobs=0), ValueError, r"'n_jobs' parameter"),
        ("n_importance_samples=0", fit(DATA, n_importance_samples=0), ValueError,
         r"'n_importance_samples' parameter"),
        ("modalities-a-string", fit(ARRAY, modalities="ab"), ValueError, r"'modalities' parameter"),
        ("callbacks-item-a-string", fit(DATA, callbacks=["x"]), TypeError,
         r"'callbacks' parameter .* Callback instances or classes.* Got 'x' at position 0"),
        ("callbacks-pair-of-a-non-callback", fit(DATA, callbacks=[("n", 3)]), TypeError,
         r"'callbacks' parameter .* \(name, callback\) pairs.* Got \('n', 3\) at position 0"),
        # ---- calls before fit
        ("transform-before-fit", unfitted("transform", DATA), ValueError,
         r"This MultiModalVAE instance is not fitted yet"),
        ("predict-before-fit", unfitted("predict", DATA), ValueError, r"not fitted yet"),
        ("score-before-fit", unfitted("score", DATA), ValueError, r"not fitted yet"),
        ("sample-before-fit", unfitted("sample", 3), ValueError, r"not fitted yet"),
        ("inverse_transform-before-fit", unfitted("inverse_transform", np.zeros((3, 2))),
         ValueError, r"not fitted yet"),
        # ---- layout after fit
        ("transform-wrong-width-dict", on_fitted("dict", "predict", _with(DATA, a=a[:, :3])),
         ValueError, r"modality 'a': expected 4 features, got 3"),
        ("transform-wrong-width-array", on_fitted("array", "transform", ARRAY[:, :6]), ValueError,
         r"X has 6 features, but MultiModalVAE is expecting 7 features"),
        ("transform-array-after-dict-fit", on_fitted("dict", "transform", ARRAY), TypeError,
         r"fitted on a dict of modalities; pass a dict"),
        ("transform-other-dict-after-array-fit", on_fitted("array", "transform", DATA), ValueError,
         r"unknown modalities \['a', 'b'\]; the estimator was fitted with \['m0', 'm1'\] "
         r"\(from a 2-D input with 7 columns"),
        ("inverse_transform-wrong-width", on_fitted("dict", "inverse_transform", np.zeros((3, 5))),
         ValueError, r"Z must have shape \(n_samples, 2\), got \(3, 5\)"),
        ("sample-n_samples=0", on_fitted("dict", "sample", n_samples=0), ValueError,
         r"n_samples must be a positive integer, got 0"),
        ("partial_fit-epochs=0", on_fitted("dict", "partial_fit", DATA, epochs=0), ValueError,
         r"epochs must be a positive integer, got 0"),
    ]  # fmt: skip


CASES = _cases()


@pytest.fixture(scope="module")
def estimators(fitted, fitted_mixed):
    """The shared fitted estimators the cases call, by name."""
    return {
        "dict": fitted,
        "mixed": fitted_mixed,
        "array": MultiModalVAE(modalities=[4, 3], **SMALL).fit(ARRAY),
        "labels": MultiModalVAE(likelihoods={"species": "categorical"}, **SMALL).fit(LABELLED),
    }


def _innermost_file(traceback):
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    return os.path.abspath(traceback.tb_frame.f_code.co_filename)


def _state(estimators):
    return {name: copy.deepcopy(est.module_.state_dict()) for name, est in estimators.items()}


def assert_unchanged(before, after, where="input"):
    """``after`` equals the deep copy ``before``, recursively (NaN equal to NaN)."""
    assert type(before) is type(after), where
    if isinstance(before, dict):
        assert list(before) == list(after), where
        for key in before:
            assert_unchanged(before[key], after[key], f"{where}[{key!r}]")
    elif isinstance(before, (list, tuple)):
        assert len(before) == len(after), where
        for i, (x, y) in enumerate(zip(before, after)):
            assert_unchanged(x, y, f"{where}[{i}]")
    elif sp.issparse(before):
        assert before.shape == after.shape and (before != after).nnz == 0, where
    elif isinstance(before, pd.DataFrame):
        pd.testing.assert_frame_equal(before, after)
    elif isinstance(before, np.ndarray):
        assert before.dtype == after.dtype and before.shape == after.shape, where
        if before.dtype.kind in "fc":
            assert np.array_equal(before, after, equal_nan=True), where
        else:
            assert repr(before.tolist()) == repr(after.tolist()), where
    elif isinstance(before, torch.nn.Module):
        for (k, p), (_, q) in zip(before.state_dict().items(), after.state_dict().items()):
            assert torch.equal(p, q), f"{where}.{k}"
    else:
        assert before == after, where


@pytest.mark.parametrize("call, error, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_fails_early_with_a_clear_message(estimators, monkeypatch, call, error, match):
    def no_training(self, *args, **kwargs):
        raise AssertionError("training started before the input was validated")

    monkeypatch.setattr(MultiModalVAE, "_train", no_training)
    inputs_before = copy.deepcopy(call.inputs)
    states_before = _state(estimators)

    with pytest.raises(error, match=match) as excinfo:
        call.action(estimators)

    assert isinstance(excinfo.value, (ValueError, TypeError))
    raiser = _innermost_file(excinfo.tb)
    assert raiser.startswith(ALLOWED_RAISERS), f"raised in {raiser}, not by skmmvae's validation"
    assert_unchanged(inputs_before, call.inputs)
    for name, state in _state(estimators).items():
        for key, value in state.items():
            assert torch.equal(value, states_before[name][key]), f"fitted {name!r} changed: {key}"


def test_the_table_covers_enough_cases():
    assert len(CASES) >= 35
    assert len({c[0] for c in CASES}) == len(CASES), "case ids must be unique"
