"""From user data to tensors: ModalityDict, column layouts, validation, the observed mask."""
import copy
import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from skmmvae import ModalityDict
from skmmvae import _data, _layout, _schema


# --------------------------------------------------------------------------- ModalityDict


def test_modality_dict_len_and_shape_count_rows():
    md = ModalityDict(a=np.zeros((5, 2)), b=np.ones((5, 3)))
    assert len(md) == 5
    assert md.shape == (5,)
    assert sorted(md.keys()) == ["a", "b"]


@pytest.mark.parametrize(
    "index",
    [np.array([4, 0, 2]), [4, 0, 2], np.array([True, False, True, False, True]), slice(1, 4)],
    ids=["int-array", "list", "bool-mask", "slice"],
)
def test_modality_dict_slices_rows_of_arrays_and_frames(index):
    a = np.arange(10.0).reshape(5, 2)
    b = pd.DataFrame(np.arange(15.0).reshape(5, 3), columns=["x", "y", "z"], index=list("pqrst"))
    md = ModalityDict(a=a, b=b)
    sub = md[index]
    assert isinstance(sub, ModalityDict)
    np.testing.assert_array_equal(sub["a"], a[index])
    pd.testing.assert_frame_equal(sub["b"], b.iloc[index])


def test_modality_dict_accepts_sklearn_style_row_index():
    # scikit-learn's _safe_indexing asks for X[rows, ...]
    b = pd.DataFrame(np.arange(10.0).reshape(5, 2))
    md = ModalityDict(a=np.arange(5.0)[:, None], b=b)
    sub = md[np.array([3, 1]), ...]
    np.testing.assert_array_equal(sub["a"], [[3.0], [1.0]])
    pd.testing.assert_frame_equal(sub["b"], b.iloc[[3, 1]])
    with pytest.raises(IndexError, match="rows"):
        md[np.array([0]), 1]


def test_modality_dict_integer_index_keeps_2d_blocks():
    md = ModalityDict(a=np.arange(10.0).reshape(5, 2))
    assert md[3]["a"].shape == (1, 2)
    assert len(md[3]) == 1


def test_modality_dict_rejects_different_lengths():
    with pytest.raises(ValueError, match="same number of rows"):
        ModalityDict(a=np.zeros((5, 2)), b=np.zeros((4, 2)))



def test_modality_dict_aligns_and_checks_blocks_added_later():
    """A block added by md[name] = ..., update or |= is aligned by index and its rows
    checked, as at construction (it was kept in its own order, so that slicing by rows
    paired other samples; |= skipped the row check)."""
    a = pd.DataFrame(np.arange(8.0).reshape(4, 2), index=[10, 11, 12, 13])
    b = pd.DataFrame(np.arange(4.0)[:, None], index=[13, 12, 11, 10])
    md = ModalityDict(a=a)
    md["b"] = b
    assert md[0]["b"].index.tolist() == [10]
    pd.testing.assert_frame_equal(md["b"], ModalityDict(a=a, b=b)["b"])
    md = ModalityDict(a=a)
    md |= {"b": b}
    assert isinstance(md, ModalityDict) and md[[1]]["b"].index.tolist() == [11]
    with pytest.raises(ValueError, match="same number of rows"):
        md |= {"c": np.zeros((7, 1))}
    with pytest.raises(ValueError, match="different labels"):
        md["c"] = pd.DataFrame(np.zeros((4, 1)), index=[0, 1, 2, 3])
    assert list(md) == ["a", "b"]  # left as it was

def test_modality_dict_union_is_a_checked_modality_dict():
    """md | {...} and {...} | md are ModalityDicts built as at construction (| gave a plain
    dict, which lost row slicing and skipped the row check)."""
    a = pd.DataFrame(np.arange(8.0).reshape(4, 2), index=[10, 11, 12, 13])
    b = pd.DataFrame(np.arange(4.0)[:, None], index=[13, 12, 11, 10])
    md = ModalityDict(a=a)
    for union, order in ((md | {"b": b}, ["a", "b"]), ({"b": b} | md, ["b", "a"])):
        assert type(union) is ModalityDict and list(union) == order
        built = ModalityDict({name: {"a": a, "b": b}[name] for name in order})
        for name in order:  # aligned to the first pandas block, as at construction
            pd.testing.assert_frame_equal(union[name], built[name])
        assert union[[1]]["a"].index.tolist() == union[[1]]["b"].index.tolist()
    assert list(md) == ["a"] and md["a"] is a  # the operands are untouched
    assert list(md | {"a": np.zeros((3, 1))}) == ["a"]  # a replaced block may change the rows
    for bad in (lambda: md | {"c": np.zeros((7, 1))}, lambda: {"c": np.zeros((7, 1))} | md):
        with pytest.raises(ValueError, match="same number of rows"):
            bad()
    with pytest.raises(TypeError):
        md | [("c", np.zeros((4, 1)))]


def test_modality_dict_pickles_and_copies():
    md = ModalityDict(a=np.arange(6.0).reshape(3, 2), b=np.ones((3, 1)))
    for clone in (pickle.loads(pickle.dumps(md)), copy.deepcopy(md), md.copy()):
        assert isinstance(clone, ModalityDict)
        assert len(clone) == 3
        np.testing.assert_array_equal(clone["a"], md["a"])


# --------------------------------------------------------------------------- 2-D layouts


def _groups(X, modalities, columns=None):
    return _layout._column_groups(X, modalities, columns)


def test_column_groups_from_widths_names_and_indices():
    X = np.zeros((2, 5))
    assert _groups(X, None) == {"x": [0, 1, 2, 3, 4]}
    assert _groups(X, [2, 3]) == {"m0": [0, 1], "m1": [2, 3, 4]}
    assert _groups(X, {"u": 2, "v": 3}) == {"u": [0, 1], "v": [2, 3, 4]}
    assert _groups(X, {"u": [4, 0], "v": [1, 2, 3]}) == {"u": [4, 0], "v": [1, 2, 3]}
    names = ["p", "q", "r", "s", "t"]
    assert _groups(X, {"u": ["t", "p"], "v": ["q", "r", "s"]}, names) == {"u": [4, 0], "v": [1, 2, 3]}


@pytest.mark.parametrize(
    "modalities, match",
    [
        ([2, 2], "cover 4 of the 5 columns"),
        ({"u": 2, "v": 2}, "cover 4 of the 5 columns"),
        ({"u": 3, "v": 3}, "describe 6 columns"),
        ([2, 4], "describe 6 columns"),
        ([5, 0], "positive"),
        ({"u": [0, 1, 2], "v": [2, 3, 4]}, "more than one modality"),
        ({"u": [0, 1, 9], "v": [2, 3, 4]}, "'u': column index 9 is out of range"),
        ({"u": ["a"], "v": [1, 2, 3, 4]}, "'u': column 'a' is a name"),
        ({"u": [], "v": [0, 1, 2, 3, 4]}, "'u': has no columns"),
        ({}, "empty"),
    ],
)
def test_column_groups_reject_bad_layouts(modalities, match):
    with pytest.raises(ValueError, match=match):
        _groups(np.zeros((2, 5)), modalities)


def test_column_groups_reject_unknown_column_name():
    with pytest.raises(ValueError, match="'v': unknown column 'nope'"):
        _groups(np.zeros((2, 2)), {"u": ["a"], "v": ["nope"]}, ["a", "b"])


@pytest.mark.parametrize("modalities", [5, "ab", [1.5, 3.5]])
def test_column_groups_reject_bad_types(modalities):
    with pytest.raises(TypeError, match="modalities"):
        _groups(np.zeros((2, 5)), modalities)


# --------------------------------------------------------------------------- blocks


def test_a_2d_input_is_checked_before_validation():
    with pytest.raises(TypeError, match="as a dict"):
        _layout.check_2d_input([np.zeros((3, 2)), np.zeros((3, 1))])
    with pytest.raises(TypeError, match="sparse input is not supported"):
        _layout.check_2d_input(sp.csr_matrix(np.eye(3)))
    fitted_on_dict = _schema.Schema([], "dict")
    with pytest.raises(TypeError, match="fitted on a dict of modalities"):
        _layout.check_2d_input(np.zeros((3, 2)), fitted_on_dict)


def test_to_blocks_dict_converts_each_modality():
    X = {"a": [[1, 2], [3, 4]], "b": pd.DataFrame({"p": [1.0, 2.0]}), "c": np.array([0, 1])}
    blocks, kind, names, groups = _layout.to_blocks(X, None)
    assert kind == "dict" and groups is None
    assert blocks["a"].dtype == np.float64 and blocks["a"].shape == (2, 2)
    assert blocks["c"].shape == (2, 1)  # 1-D becomes one column
    assert names == {"a": None, "b": ["p"], "c": None}


@pytest.mark.parametrize(
    "X, error, match",
    [
        ({}, ValueError, "empty dict"),
        ({"a": np.zeros((3, 2)), "b": np.zeros((4, 2))}, ValueError, "different numbers of rows"),
        ({"a": np.array([["x", "y"], ["z", "w"]])}, TypeError, "'a': values must be numeric"),
        ({"a": np.zeros((3, 2)), "b": np.zeros((3, 0))}, ValueError, "'b': has 0 features"),
        ({"a": np.zeros((3, 2, 2))}, ValueError, "'a': expected a 2-D array"),
        ({"a": np.zeros((3, 2), dtype=complex)}, TypeError, "'a': complex"),
        ({1: np.zeros((3, 2))}, TypeError, "names must be strings"),
    ],
)
def test_to_blocks_errors_name_the_problem(X, error, match):
    with pytest.raises(error, match=match):
        _layout.to_blocks(X, None)


def test_to_blocks_rejects_sparse_blocks():
    with pytest.raises(TypeError, match="'a': sparse"):
        _layout.to_blocks({"a": sp.csr_matrix(np.eye(3))}, None)


# --------------------------------------------------------------------------- validation


def test_observed_rows_marks_whole_nan_rows_missing():
    block = np.array([[1.0, 2.0], [np.nan, np.nan], [0.0, -1.0]])
    np.testing.assert_array_equal(_data.observed_rows(block, "a"), [True, False, True])


def test_observed_rows_are_rows_with_any_value_and_inf_is_rejected():
    block = np.array([[1.0, 2.0], [np.nan, 1.0], [np.nan, np.nan]])
    assert _data.observed_rows(block, "a").tolist() == [True, True, False]
    assert _data.has_missing_cells(block) and not _data.has_missing_cells(block[[0, 2]])
    with pytest.raises(ValueError, match=r"'a': rows \[0\] contain inf"):
        _data.observed_rows(np.array([[np.inf, 2.0], [1.0, 1.0]]), "a")


def _info(likelihood, n_input=2, one_hot=False, classes=None):
    return _schema.ModalityInfo("m", n_input, likelihood, one_hot=one_hot, classes=classes)


@pytest.mark.parametrize(
    "likelihood, values, match",
    [
        ("bernoulli", [[0.0, 1.5]], "bernoulli likelihood needs values in \\[0, 1\\]"),
        ("bernoulli", [[-0.1, 0.5]], "bernoulli"),
        ("poisson", [[-1.0, 2.0]], "poisson likelihood needs non-negative integer"),
        ("poisson", [[0.5, 2.0]], "poisson"),
    ],
)
def test_check_support_rejects_values_outside_the_likelihood(likelihood, values, match):
    block = np.array(values)
    with pytest.raises(ValueError, match="'m': the " + match):
        _schema.check_support(block, np.ones(len(block), bool), _info(likelihood))


def test_check_support_ignores_missing_rows():
    block = np.array([[0.0, 1.0], [5.0, 5.0]])  # row 1 is not observed: not checked
    _schema.check_support(block, np.array([True, False]), _info("bernoulli"))


def test_categorical_codes_from_labels_and_one_hot():
    info = _info("categorical", n_input=1)
    labels = np.array([[7.0], [3.0], [np.nan], [7.0]])
    observed = np.array([True, True, False, True])
    info.classes = _schema.learn_classes(labels, info)  # fixed at fit, not by the conversion
    np.testing.assert_array_equal(info.classes, [3.0, 7.0])
    codes = _schema.categorical_codes(labels, observed, info)
    np.testing.assert_array_equal(codes[:, 0], [1, 0, 0, 1])
    with pytest.raises(ValueError, match=r"'m': unseen categories \[5.0\]"):
        _schema.categorical_codes(np.array([[5.0]]), np.array([True]), info)
    with pytest.raises(ValueError, match="'m': categorical labels must be integers"):
        _schema.categorical_codes(np.array([[1.5]]), np.array([True]), info)

    one_hot = _info("categorical", n_input=3, one_hot=True)
    rows = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    codes = _schema.categorical_codes(rows, np.array([True, True]), one_hot)
    np.testing.assert_array_equal(codes[:, 0], [2, 0])
    with pytest.raises(ValueError, match="'m': one-hot rows"):
        _schema.categorical_codes(np.array([[1.0, 1.0, 0.0]]), np.array([True]), one_hot)


def test_categorical_needs_two_classes_and_integer_labels():
    with pytest.raises(ValueError, match="'m': .*at least 2 classes"):
        _schema.learn_classes(np.ones((3, 1)), _info("categorical", 1))
    with pytest.raises(ValueError, match="'m': categorical labels must be integers"):
        _schema.learn_classes(np.array([[0.5], [1.0]]), _info("categorical", 1))


def test_the_conversion_to_tensors_does_not_change_the_schema():
    blocks, kind, names, groups = _layout.to_blocks({"y": np.array([[2.0], [5.0], [2.0]])}, None)
    schema = _schema.Schema.learn(blocks, kind, names, groups, {"y": "categorical"})
    before = schema.modalities[0].classes.copy()
    schema.tensors({"y": np.array([[5.0], [5.0], [np.nan]])})
    np.testing.assert_array_equal(schema.modalities[0].classes, before)


# --------------------------------------------------------------------------- tensors


def test_to_tensors_zero_fills_missing_rows_and_builds_mask():
    a = np.array([[1.0, 2.0], [np.nan, np.nan], [3.0, 4.0]])
    a_before = a.copy()
    blocks, kind, names, groups = _layout.to_blocks({"a": a, "b": np.ones((3, 1))}, None)
    schema = _schema.Schema.learn(blocks, kind, names, groups, None)
    tensors = _schema.to_tensors({"a": blocks["a"]}, schema)  # "b" absent: missing everywhere
    assert tensors.xs[0].dtype == torch.float32
    np.testing.assert_array_equal(tensors.xs[0].numpy(), [[1, 2], [0, 0], [3, 4]])
    np.testing.assert_array_equal(tensors.mask.numpy(), [[True, False], [False, False], [True, False]])
    assert np.array_equal(a, a_before, equal_nan=True)  # the user's array is untouched


def test_to_tensors_checks_widths_and_empty_input():
    blocks, kind, names, groups = _layout.to_blocks({"a": np.ones((3, 2))}, None)
    schema = _schema.Schema.learn(blocks, kind, names, groups, None)
    with pytest.raises(ValueError, match="'a': expected 2 features, got 3"):
        _schema.to_tensors({"a": np.ones((3, 3))}, schema)
    with pytest.raises(ValueError, match="0 samples"):
        _schema.to_tensors({"a": np.ones((0, 2))}, schema)


def test_make_schema_rejects_unknown_likelihoods():
    blocks = {"a": np.ones((3, 2))}
    with pytest.raises(ValueError, match="'a': unknown likelihood 'normal'"):
        _schema.Schema.learn(blocks, "dict", {"a": None}, None, {"a": "normal"})
    with pytest.raises(ValueError, match=r"unknown modalities \['zz'\]"):
        _schema.Schema.learn(blocks, "dict", {"a": None}, None, {"zz": "gaussian"})


def test_modality_tensors_views_and_rows():
    xs = [torch.arange(10.0).reshape(5, 2)]
    mask = torch.tensor([[True], [False], [True], [True], [False]])
    tensors = _data.ModalityTensors(xs, mask)
    view = tensors.subset(torch.tensor([4, 2, 0]))
    assert len(view) == 3
    assert view.xs[0] is xs[0]  # a view shares the data
    batch = view.rows(torch.tensor([1, 2]))  # rows 2 and 0 of the original
    np.testing.assert_array_equal(batch.xs[0].numpy(), [[4, 5], [0, 1]])
    np.testing.assert_array_equal(batch.mask[:, 0].numpy(), [True, True])


def test_float32_blocks_are_shared_not_copied_and_batches_are_zero_filled():
    a = np.array([[1.0, 2.0], [np.nan, np.nan], [3.0, 4.0]], dtype=np.float32)
    a.setflags(write=False)  # read-only input is fine: the tensor is only read
    a_before = a.copy()
    blocks, kind, names, groups = _layout.to_blocks({"a": a}, None)
    assert blocks["a"] is a  # float32 kept as it is, no float64 detour
    schema = _schema.Schema.learn(blocks, kind, names, groups, None)
    tensors = _schema.to_tensors(blocks, schema)
    assert np.shares_memory(tensors.xs[0].numpy(), a)
    assert tensors.holes == [True]
    batch = tensors.subset(torch.tensor([2, 1, 0])).rows(torch.arange(3))
    np.testing.assert_array_equal(batch.xs[0].numpy(), [[3, 4], [0, 0], [1, 2]])
    np.testing.assert_array_equal(batch.mask[:, 0].numpy(), [True, False, True])
    assert np.array_equal(a, a_before, equal_nan=True)


def test_float32_and_float64_inputs_train_identically():
    from conftest import SMALL, make_data

    from skmmvae import MultiModalVAE

    X64 = {k: v.astype(np.float32).astype(np.float64) for k, v in make_data().items()}
    X32 = {k: v.astype(np.float32) for k, v in X64.items()}
    Z64 = MultiModalVAE(**SMALL).fit(X64).transform(X64)
    Z32 = MultiModalVAE(**SMALL).fit(X32).transform(X32)
    assert np.isfinite(Z32).all()
    np.testing.assert_array_equal(Z32, Z64)


def test_modality_dict_keeps_its_rows_in_step():
    md = ModalityDict(a=np.zeros((4, 2)), b=np.ones((4, 3)))
    with pytest.raises(ValueError, match="modality 'c' has 7 rows, the others 4"):
        md["c"] = np.zeros((7, 1))
    with pytest.raises(ValueError, match="modality 'b' has 2 rows"):
        md.update(b=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="modality 'd' has 3 rows"):
        md.setdefault("d", np.zeros((3, 1)))
    md["c"] = np.zeros((4, 1))
    md.update({"b": np.zeros((4, 5))})
    assert len(md) == 4 and md["b"].shape == (4, 5) and list(md) == ["a", "b", "c"]
    single = ModalityDict(a=np.zeros((4, 2)))
    single["a"] = np.zeros((6, 2))  # replacing the only block sets the rows anew
    assert len(single) == 6


def test_modality_tensors_carry_the_per_cell_mask():
    a = np.array([[1.0, np.nan], [np.nan, np.nan], [3.0, 4.0]])
    blocks, kind, names, groups = _layout.to_blocks({"a": a, "b": np.ones((3, 1))}, None)
    schema = _schema.Schema.learn(blocks, kind, names, groups, None)
    tensors = schema.tensors(blocks)
    expected = [[True, False], [False, False], [True, True]]
    assert tensors.observed_cells(0).tolist() == expected
    assert tensors.subset(torch.tensor([2, 0])).observed_cells(0).tolist() == [expected[2], expected[0]]
    batch = tensors.rows(torch.arange(3))
    assert batch.observed_cells(0).tolist() == expected  # a missing row is zero-filled, not observed
