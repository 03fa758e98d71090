"""From user data to tensors and back.

Users pass a dict ``{name: array}``, a :class:`ModalityDict`, or a 2-D array / DataFrame whose
column groups are named by the ``modalities`` parameter. Everything is turned into one 2-D
float block per modality (an ``(n, 1)`` object block for categorical labels that are not
numbers), validated (with errors that name the modality), and converted to a
:class:`ModalityTensors`: one float32 tensor per modality (missing rows zero-filled in every
batch; a float32 block is used in place, not copied) and a boolean ``(n, M)`` mask of observed
modalities. A modality is missing for a sample when its whole block is NaN; a NaN in a row
that has observed values is a missing cell, and stays NaN in the tensor (the per-cell mask:
the model reads it with ``torch.isnan``). Nothing the user passed is modified.
"""
import inspect
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch

from .nn import LIKELIHOODS


class ModalityDict(dict):
    """A dict of modalities that slices by rows, for cross-validation and pipelines.

    ``md["rna"]`` is a modality; ``md[idx]`` (an int array, slice or boolean mask) is a new
    ``ModalityDict`` of those rows of every modality. Values may be arrays or DataFrames (sliced
    with ``.iloc``); all must have the same number of rows. ``len(md)`` and ``md.shape[0]``
    are the number of rows, which is what scikit-learn's splitters need. Pandas blocks are
    aligned by index at construction (see :func:`align_rows`), so that row ``i`` of every
    block is the same sample.

    Parameters
    ----------
    *args, **kwargs
        As for ``dict``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae import ModalityDict
    >>> md = ModalityDict(a=np.zeros((4, 2)), b=np.ones((4, 3)))
    >>> md.shape, md[[0, 2]]["b"].shape
    ((4,), (2, 3))
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        lengths = {name: _n_rows(value) for name, value in self.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"all modalities must have the same number of rows, got {lengths}")
        dict.update(self, align_rows(dict(self)))  # a plain dict: aligned in place of ours

    def __getitem__(self, key):
        if isinstance(key, str):
            return super().__getitem__(key)
        if isinstance(key, tuple):
            # scikit-learn's ``_safe_indexing`` asks for ``X[rows, ...]``
            if any(k is not Ellipsis and k != slice(None) for k in key[1:]):
                raise IndexError("a ModalityDict can only be indexed by rows")
            key = key[0]
        if isinstance(key, (int, np.integer)):
            key = [key]  # keep every modality 2-D: one row, not a 1-D row vector
        return ModalityDict({name: _take_rows(value, key) for name, value in self.items()})

    def __len__(self):
        return self.shape[0]

    @property
    def shape(self):
        return (next(iter(_n_rows(v) for v in self.values())) if dict.__len__(self) else 0,)

    def keys(self):  # noqa: D102 - dict API
        return super().keys()

    def copy(self):
        return ModalityDict(dict.copy(self))

    def __repr__(self):
        inner = ", ".join(f"{k!r}: {getattr(v, 'shape', '?')}" for k, v in self.items())
        return f"ModalityDict({{{inner}}})"

    # pickling/copying must not go through the row-based __len__
    def __reduce__(self):
        return (ModalityDict, (dict(self.items()),))


def _n_rows(value):
    if hasattr(value, "shape"):
        return value.shape[0]
    return len(value) if hasattr(value, "__len__") else np.asarray(value).shape[0]


def _has_rows(value):
    return np.ndim(value) > 0 if hasattr(value, "shape") else hasattr(value, "__len__")


def _take_rows(value, index):
    if hasattr(value, "iloc"):
        return value.iloc[index]
    return np.asarray(value)[index]


def n_samples(X):
    """Number of rows of ``X`` in any accepted input form (the first modality's for a dict)."""
    if isinstance(X, dict) and not sp.issparse(X):
        return _n_rows(next(iter(X.values()))) if dict.__len__(X) else 0
    return _n_rows(X)


def _has_index(value):
    """Whether ``value`` is a pandas object with row labels (a DataFrame or a Series)."""
    return hasattr(value, "iloc") and hasattr(value, "index")


def align_rows(X):
    """``X`` with the rows of its pandas blocks paired by index label, not by position.

    The pandas blocks (DataFrames, Series) of a dict must have the same index labels. Where
    their indexes are equal, or there is at most one pandas block, ``X`` is returned as is.
    Where every index is unique and holds the same labels in another order, the blocks are
    reordered (new objects; the user's are untouched) to the order of the first pandas block.
    Other label sets, or duplicate labels in indexes that differ, are an error naming the two
    modalities. NumPy arrays (and other blocks without labels) pair by position with the rows
    in that order. Inputs that are not dicts, or whose blocks differ in length (reported by
    the caller), are returned as they are.
    """
    if not isinstance(X, dict) or sp.issparse(X):
        return X
    indexed = [(name, value) for name, value in X.items() if _has_index(value)]
    if len(indexed) < 2:
        return X
    first, reference = indexed[0][0], indexed[0][1].index
    others = [(name, value) for name, value in indexed[1:] if not value.index.equals(reference)]
    if not others or len({len(value) for _, value in indexed}) > 1:
        return X
    aligned = {}
    for name, value in others:
        index = value.index
        if not (reference.is_unique and index.is_unique):
            duplicated = first if not reference.is_unique else name
            raise ValueError(
                f"modalities {first!r} and {name!r}: their pandas indexes differ and the index "
                f"of {duplicated!r} has duplicate labels, so their rows cannot be paired by label. "
                "Give the blocks the same index (e.g. reset_index(drop=True) on each, if their "
                "rows are already in the same order)"
            )
        positions = index.get_indexer(reference)
        if (positions < 0).any():
            absent = reference[positions < 0][:5].tolist()
            raise ValueError(
                f"modalities {first!r} and {name!r}: their pandas indexes hold different labels "
                f"(e.g. {absent} of {first!r} are not in {name!r}); rows are paired by index "
                "label, so every block needs the same labels (a missing modality is a row of NaN)"
            )
        aligned[name] = value.iloc[positions]
    out = {name: aligned.get(name, value) for name, value in X.items()}
    return ModalityDict(out) if isinstance(X, ModalityDict) else out


def row_chunks(X, chunk_rows):
    """Yield ``(start, rows)`` pieces of ``X`` (any accepted input form) of ``chunk_rows`` rows.

    Inference runs piece by piece so that its temporary memory is bounded by the piece, not by
    the number of samples. Pieces of arrays are views. Inconsistent modality lengths are
    reported here, before anything is sliced, and the pandas blocks of a dict are aligned by
    index (:func:`align_rows`) before it is cut.
    """
    if isinstance(X, dict) and not sp.issparse(X):
        if not all(_has_rows(value) for value in X.values()):
            yield 0, X  # None, a scalar, ...: to_blocks reports it, naming the modality
            return
        lengths = {name: _n_rows(value) for name, value in X.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"modalities have different numbers of rows: {lengths}")
        X = align_rows(X)
        n = next(iter(lengths.values()), 0)
        take = (lambda sl: X[sl]) if isinstance(X, ModalityDict) else (
            lambda sl: {name: _take_rows(value, sl) for name, value in X.items()})
    else:
        n = _n_rows(X) if hasattr(X, "shape") or hasattr(X, "__len__") else 0
        take = (lambda sl: X.iloc[sl]) if hasattr(X, "iloc") else (lambda sl: X[sl])
    if n <= chunk_rows or sp.issparse(X):
        yield 0, X
        return
    for start in range(0, n, chunk_rows):
        yield start, take(slice(start, start + chunk_rows))


def reject_list_of_blocks(X):
    """A list of arrays looks like modalities without names: ask for a dict."""
    if isinstance(X, (list, tuple)) and X and all(hasattr(v, "shape") for v in X):
        raise TypeError("pass modalities as a dict {name: array}, not a list of arrays")


def _is_frame(value):
    return hasattr(value, "iloc") and hasattr(value, "columns")


def _like(original, array, any_filled):
    """``array`` (2-D) in the container (array, DataFrame, Series), shape and dtype of the
    user's ``original``.

    Float dtypes are kept (observed values round-trip exactly); other dtypes are kept when
    nothing had to be filled in, otherwise the result is float64.
    """
    if _is_frame(original):
        out = original.__class__(array, index=original.index, columns=original.columns)
        if original.columns.is_unique:
            keep = {
                col: dtype
                for col, dtype in original.dtypes.items()
                if getattr(dtype, "kind", "O") in "fiub" and dtype != out.dtypes[col]
                and (dtype.kind == "f" or not out[col].isna().any())
            }
            if keep:
                out = out.astype(keep)
        return out
    if hasattr(original, "iloc"):  # a Series: one column
        out = original.__class__(array.reshape(-1), index=original.index, name=original.name)
        dtype = original.dtype
        restore = (getattr(dtype, "kind", "O") in "fiub" and (dtype.kind == "f" or not out.isna().any())) \
            or str(dtype) in ("category", "string")
        if restore and dtype != out.dtype:
            try:
                out = out.astype(dtype)
            except (TypeError, ValueError):  # e.g. an imputed value the dtype cannot hold
                pass
        return out
    base = np.asarray(original)
    if array.dtype == object:  # string labels (with None or NaN where missing)
        return array.reshape(base.shape)
    dtype = base.dtype if base.dtype.kind == "f" or (base.dtype.kind in "iub" and not any_filled) else np.float64
    return array.reshape(base.shape).astype(dtype, copy=False)


def _reject_sparse(value, name):
    if sp.issparse(value):
        raise TypeError(
            f"{name}: sparse input is not supported; pass a dense array (e.g. X.toarray())"
        )


def _as_2d_float(value, name, labels=False):
    """A float 2-D view (or copy) of one modality block, with a clear error for junk.

    float32 and float64 blocks are kept as they are (no copy, so that a large float32 input
    is not doubled in memory); every other numeric dtype becomes float64. With ``labels`` (a
    categorical modality), values that are not numbers (strings, say) are kept as an
    ``(n, 1)`` object array of labels instead.
    """
    _reject_sparse(value, f"modality {name!r}")
    if value is None:
        raise TypeError(
            f"modality {name!r}: got None instead of an array; a missing modality is a row of "
            "NaN in its block (or, after fit, a key left out of the dict)"
        )
    if hasattr(value, "to_numpy"):
        value = _pandas_to_numpy(value)
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"modality {name!r}: cannot be converted to an array ({exc})") from exc
    if array.dtype.kind in "SU":
        if labels:
            return _label_block(array, name)
        # as scikit-learn: strings are not parsed as numbers, even when they look like them
        raise TypeError(
            f"modality {name!r}: values must be numeric, got strings (dtype {array.dtype}); "
            f"convert or encode them first (class labels need likelihoods={{{name!r}: 'categorical'}})"
        )
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == bool
    ):
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as exc:
            if labels and array.dtype == object:
                return _label_block(array, name)
            raise TypeError(
                f"modality {name!r}: values must be numeric, got dtype {array.dtype} ({exc})"
            ) from None
    if np.iscomplexobj(array):
        raise TypeError(f"modality {name!r}: complex values are not supported")
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ValueError(f"modality {name!r}: expected a 2-D array, got {array.ndim} dimensions")
    if array.shape[1] == 0:
        raise ValueError(f"modality {name!r}: has 0 features; at least one is required")
    if array.dtype in (np.float32, np.float64):
        return array
    return array.astype(np.float64)


def _pandas_to_numpy(value):
    """A DataFrame's or Series' values; pandas' nullable numeric columns (``Float64``,
    ``Int64``, ``boolean``, ...) become float64 with NaN where they hold ``pd.NA``, as
    scikit-learn's validation does (plain ``to_numpy`` would give objects)."""
    dtypes = list(value.dtypes) if hasattr(value, "columns") else [value.dtype]
    nullable = [not isinstance(dt, np.dtype) and getattr(dt, "kind", "O") in "biuf" for dt in dtypes]
    if any(nullable) and all(n or (isinstance(dt, np.dtype) and dt.kind in "biuf")
                             for n, dt in zip(nullable, dtypes)):
        return value.to_numpy(dtype=np.float64, na_value=np.nan)
    return value.to_numpy()


def _label_block(array, name):
    """Class labels that are not numbers, as an ``(n, 1)`` object array (missing: None/NaN)."""
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"modality {name!r}: categorical labels must be one column, got shape {array.shape}"
        )
    return array.astype(object).reshape(-1, 1)


def is_label_block(block):
    """Whether ``block`` holds non-numeric class labels (see :func:`_label_block`)."""
    return block.dtype == object


def _missing_labels(labels):
    """Boolean mask of missing labels: None, NaN or pandas' NA."""

    def missing(value):
        if value is None:
            return True
        try:
            return bool(value != value)  # NaN
        except TypeError:  # pandas.NA refuses bool()
            return True

    return np.fromiter((missing(v) for v in labels), dtype=bool, count=len(labels))


def label_modalities(likelihoods, schema=None):
    """Names of the modalities that may hold non-numeric labels (a set; ``ALL`` for all).

    At fit (no ``schema``), from the ``likelihoods`` parameter; afterwards, the categorical
    modalities given as labels (not one-hot rows) in the fitted schema.
    """
    if schema is not None:
        return {m.name for m in schema.modalities if m.likelihood == "categorical" and not m.one_hot}

    def name_of(spec):
        return spec if isinstance(spec, str) else spec[0] if isinstance(spec, (tuple, list)) and spec else None

    if likelihoods is None:
        return set()
    if isinstance(likelihoods, (str, tuple)):
        return ALL if name_of(likelihoods) == "categorical" else set()
    if isinstance(likelihoods, dict):
        return {name for name, spec in likelihoods.items() if name_of(spec) == "categorical"}
    return set()  # an invalid parameter: make_schema reports it


class _All:
    def __contains__(self, name):
        return True


ALL = _All()


# --------------------------------------------------------------------------- schema


@dataclass
class ModalityInfo:
    """What fit learnt about one modality."""

    name: str
    n_input: int  # columns as the user passes them
    likelihood: str
    options: dict = field(default_factory=dict)
    columns: object = None  # column names or indices of a 2-D input
    feature_names: list = None
    classes: np.ndarray = None  # categorical: the label values
    one_hot: bool = False  # categorical given as one-hot rows
    missing_cells: bool = False  # some training row had NaN cells besides observed ones

    @property
    def n_features(self):
        """Width of the model-side tensor (1 for categorical labels)."""
        return 1 if self.likelihood == "categorical" else self.n_input


@dataclass
class Schema:
    """The layout learnt at fit: modality order and how the input was structured."""

    modalities: list
    input_kind: str  # "dict", "array" or "frame"

    @property
    def names(self):
        return [m.name for m in self.modalities]

    def __getitem__(self, name):
        return self.modalities[self.names.index(name)]


def _column_groups(X, modalities, columns=None):
    """Column positions of each named block of a 2-D array according to ``modalities``.

    Every column must belong to exactly one modality, so that ``predict`` can hand back an
    array of the input's shape.
    """
    n_cols = X.shape[1]
    if modalities is None:
        return {"x": list(range(n_cols))}
    if isinstance(modalities, dict):
        if not modalities:
            raise ValueError("modalities is an empty dict: name at least one modality")
        groups, start = {}, 0
        for name, spec in modalities.items():
            check_name(name)
            if isinstance(spec, (bool, np.bool_)):
                raise TypeError(f"modality {name!r}: expected a width or a list of columns, got {spec!r}")
            if isinstance(spec, (int, np.integer)):
                if spec < 1:
                    raise ValueError(f"modality {name!r}: width must be positive, got {spec}")
                groups[name] = list(range(start, start + int(spec)))
                start += int(spec)
            else:
                if isinstance(spec, str):
                    spec = [spec]
                groups[name] = [_column_index(c, columns, name, n_cols) for c in spec]
                if not groups[name]:
                    raise ValueError(f"modality {name!r}: has no columns")
    elif isinstance(modalities, (list, tuple)):
        if not modalities or not all(
            isinstance(w, (int, np.integer)) and not isinstance(w, (bool, np.bool_)) for w in modalities
        ):
            raise TypeError(f"modalities must be a non-empty list of integer widths, got {modalities!r}")
        if any(w < 1 for w in modalities):
            raise ValueError(f"modalities widths must be positive, got {list(modalities)}")
        starts = np.cumsum([0] + [int(w) for w in modalities])
        groups = {f"m{i}": list(range(starts[i], starts[i + 1])) for i in range(len(modalities))}
    else:
        raise TypeError(
            "modalities must be None, a dict {name: width or columns} or a list of widths, "
            f"got {type(modalities).__name__}"
        )
    used = [c for cols in groups.values() for c in cols]
    if max(used) >= n_cols:
        raise ValueError(f"modalities describe {max(used) + 1} columns but X has {n_cols}")
    if len(used) != len(set(used)):
        raise ValueError("modalities assign some columns to more than one modality")
    unassigned = sorted(set(range(n_cols)) - set(used))
    if unassigned:
        shown = [columns[c] for c in unassigned] if columns else unassigned
        raise ValueError(
            f"modalities cover {len(used)} of the {n_cols} columns of X; columns {shown[:10]} "
            "belong to no modality (drop them from X or add them to a modality)"
        )
    return groups


def check_name(name):
    """A modality name is any non-empty string."""
    if not isinstance(name, str):
        raise TypeError(f"modality names must be strings, got {name!r}")
    if not name:
        raise ValueError("modality names must be non-empty strings, got ''")


def _column_index(col, columns, name, n_cols):
    """Position of ``col``: integers are positions, anything else a DataFrame column name."""
    if isinstance(col, (int, np.integer)) and not isinstance(col, (bool, np.bool_)):
        if not -n_cols <= col < n_cols:
            raise ValueError(f"modality {name!r}: column index {col} is out of range for {n_cols} columns")
        return int(col) % n_cols
    if columns is None:
        raise ValueError(
            f"modality {name!r}: column {col!r} is a name, but X has no column names "
            "(pass a DataFrame, or give column positions)"
        )
    if str(col) not in columns:
        raise ValueError(f"modality {name!r}: unknown column {col!r}")
    return columns.index(str(col))


def to_blocks(X, modalities, schema=None, columns=None, labels=()):
    """Return ``(blocks, input_kind, feature names, column groups)``.

    ``blocks`` maps each modality name to a float32 or float64 2-D array (float32 input is
    kept as it is); ``column groups`` (2-D input
    only, else None) maps it to its column positions.

    With a ``schema`` (after fit) absent dict keys are allowed (missing modality) and the
    layout of a 2-D input must match the one seen in fit. Modalities named in ``labels`` may
    hold non-numeric class labels (see :func:`label_modalities`).
    """
    _reject_sparse(X, "X")
    if isinstance(X, dict):
        if dict.__len__(X) == 0:
            raise ValueError("X is an empty dict: pass at least one modality")
        for name in X:
            check_name(name)
        X = align_rows(X)
        blocks, names = {}, {}
        for name, value in X.items():
            blocks[name] = _as_2d_float(value, name, name in labels)
            names[name] = [str(c) for c in value.columns] if _is_frame(value) else None
        lengths = {name: b.shape[0] for name, b in blocks.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"modalities have different numbers of rows: {lengths}")
        return blocks, "dict", names, None
    reject_list_of_blocks(X)
    # 2-D input: X is an array already checked by scikit-learn's validate_data (2-D, not
    # empty, dtype kept so that each block is converted, and its errors named, below);
    # ``columns`` are the DataFrame's column names, if it was one.
    kind = "array" if columns is None else "frame"
    if schema is not None and schema.input_kind == "dict":
        raise TypeError("the estimator was fitted on a dict of modalities; pass a dict")
    if schema is not None:
        groups = {m.name: m.columns for m in schema.modalities}
        n_expected = sum(len(c) for c in groups.values())
        if X.shape[1] != n_expected:
            raise ValueError(f"X has {X.shape[1]} columns, but the estimator was fitted with {n_expected}")
    else:
        groups = _column_groups(X, modalities, columns)
    array = np.asarray(X)
    blocks = {name: _as_2d_float(array[:, cols], name, name in labels) for name, cols in groups.items()}
    names = {name: ([columns[c] for c in idx] if columns else None) for name, idx in groups.items()}
    return blocks, kind, names, groups


def make_schema(blocks, kind, feature_names, groups, likelihoods):
    """Fix the modality order, likelihoods and categorical layout at fit time."""
    specs = _likelihood_specs(likelihoods, list(blocks))
    modalities = []
    for name, block in blocks.items():
        lik, options = specs[name]
        _check_likelihood_options(name, lik, options, block.shape[1])
        info = ModalityInfo(name, block.shape[1], lik, options, None if groups is None else groups[name])
        info.feature_names = feature_names.get(name) or [f"{name}{i}" for i in range(block.shape[1])]
        info.one_hot = lik == "categorical" and block.shape[1] > 1
        info.missing_cells = lik != "categorical" and has_missing_cells(block)
        if "categories" in options:
            if info.one_hot:
                raise ValueError(
                    f"modality {name!r}: the 'categories' option is for one column of labels; "
                    f"one-hot rows fix the classes by their {block.shape[1]} columns"
                )
            info.classes = options["categories"]  # checked and sorted by _check_likelihood_options
        modalities.append(info)
    return Schema(modalities, kind)


_FEW_INTEGERS = 10  # at most this many distinct integers: probably labels or counts


def integer_gaussian_warnings(blocks, schema, likelihoods, chunk_rows=2**16):
    """Messages for the modalities that are Gaussian by default (not named in
    ``likelihoods``) although they hold only a few distinct integer values."""
    if likelihoods is not None and not isinstance(likelihoods, dict):
        return []  # one likelihood chosen for all modalities
    messages = []
    for info in schema.modalities:
        if info.likelihood != "gaussian" or (likelihoods and info.name in likelihoods):
            continue
        block = blocks[info.name]
        distinct = set()
        for start in range(0, block.shape[0], chunk_rows):  # stop at the first sign of more
            values = block[start:start + chunk_rows]
            values = values[~np.isnan(values)]
            if (values != np.round(values)).any():
                break
            distinct.update(np.unique(values).tolist())
            if len(distinct) > _FEW_INTEGERS:
                break
        else:
            if distinct:
                shown = sorted(distinct)
                messages.append(
                    f"modality {info.name!r} holds only {len(shown)} distinct integer values "
                    f"({shown}) and is modelled as Gaussian by default; if they are class labels "
                    f"or counts, pass likelihoods={{{info.name!r}: 'categorical'}} (or "
                    f"'poisson', or 'bernoulli' for 0/1 values); to keep the Gaussian and silence "
                    f"this warning, name it: likelihoods={{{info.name!r}: 'gaussian'}}"
                )
    return messages


def _likelihood_specs(likelihoods, names):
    """Normalise the ``likelihoods`` parameter to ``{name: (registry name, options)}``."""
    if likelihoods is None or isinstance(likelihoods, (str, tuple)):
        likelihoods = {name: likelihoods or "gaussian" for name in names}
    if not isinstance(likelihoods, dict):
        raise TypeError(f"likelihoods must be None, a str or a dict, got {type(likelihoods).__name__}")
    unknown = set(likelihoods) - set(names)
    if unknown:
        raise ValueError(f"likelihoods names unknown modalities {sorted(unknown)}; modalities are {names}")
    specs = {}
    for name in names:
        spec = likelihoods.get(name, "gaussian")
        if not (isinstance(spec, str) or (isinstance(spec, (tuple, list)) and len(spec) == 2)):
            raise TypeError(
                f"modality {name!r}: a likelihood is a name or a (name, options) pair, got {spec!r}"
            )
        lik, options = (spec, {}) if isinstance(spec, str) else spec
        if not isinstance(lik, str) or lik not in LIKELIHOODS:
            raise ValueError(
                f"modality {name!r}: unknown likelihood {lik!r}; choose from {sorted(LIKELIHOODS)}"
            )
        if not isinstance(options, dict):
            raise TypeError(f"modality {name!r}: likelihood options must be a dict, got {options!r}")
        specs[name] = (lik, dict(options))
    return specs


# set by the estimator from the data, never by the user
_DATA_OPTIONS = {"self", "n_features", "n_classes"}
# options of the data layout, kept in the schema and not passed to the likelihood
SCHEMA_OPTIONS = {"categories": "categorical"}


def _check_categories(name, categories):
    """The ``categories`` option as a sorted array (float64 numbers or object strings)."""
    if isinstance(categories, (str, bytes, dict)) or not hasattr(categories, "__len__"):
        raise TypeError(f"modality {name!r}: categories must be a list of labels, got {categories!r}")
    values = list(np.asarray(categories, dtype=object).ravel()) if np.ndim(categories) else []
    if len(values) < 2 or np.ndim(categories) != 1:
        raise ValueError(
            f"modality {name!r}: categories must be a flat list of at least 2 labels, got {categories!r}"
        )
    if all(isinstance(v, str) for v in values):
        classes = np.array(sorted(values), dtype=object)
    elif all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values):
        classes = np.sort(np.asarray(values, dtype=np.float64))
        if not np.isfinite(classes).all() or (classes != np.round(classes)).any():
            raise ValueError(f"modality {name!r}: numeric categories must be integers, got {categories!r}")
    else:
        raise TypeError(
            f"modality {name!r}: categories must be all integers or all strings, got {categories!r}"
        )
    if len(set(classes.tolist())) != len(classes):
        raise ValueError(f"modality {name!r}: categories hold duplicates: {categories!r}")
    return classes


def _check_likelihood_options(name, lik, options, n_features):
    """Build the likelihood once to check its options, so that bad ones fail before training;
    the schema's options (``categories``) are checked and normalised in ``options``."""
    cls = LIKELIHOODS[lik]
    schema_options = {k for k, owner in SCHEMA_OPTIONS.items() if owner == lik}
    valid = set(inspect.signature(cls.__init__).parameters) - _DATA_OPTIONS | schema_options
    unknown = sorted(set(options) - valid)
    if unknown:
        raise TypeError(
            f"modality {name!r}: unknown option(s) {unknown} for the {lik} likelihood; "
            f"valid options: {sorted(valid)}"
        )
    if "categories" in options:
        options["categories"] = _check_categories(name, options["categories"])
    try:
        cls(n_features, **{k: v for k, v in options.items() if k not in schema_options})
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"modality {name!r}: invalid options for the {lik} likelihood: {exc}") from None


# --------------------------------------------------------------------------- validation


def observed_rows(block, name):
    """Boolean (n,) mask of the rows with at least one observed (not NaN) value; inf is an
    error. A row of NaN is a missing modality; NaN among observed values are missing cells.

    For a block of labels (object array), rows holding None, NaN or pandas' NA are missing.
    """
    if is_label_block(block):
        return ~_missing_labels(block[:, 0])
    if np.isinf(block).any():
        rows = np.flatnonzero(np.isinf(block).any(1))[:5].tolist()
        raise ValueError(
            f"modality {name!r}: rows {rows} contain inf or -inf; a missing value is NaN"
        )
    return ~np.isnan(block).all(1)


def has_missing_cells(block, chunk_rows=2**16):
    """Whether some row of ``block`` holds NaN besides observed values (a missing cell, as
    opposed to a missing modality, a row of NaN). Temporary memory bounded by a chunk."""
    if is_label_block(block) or block.shape[1] == 1:
        return False
    for start in range(0, block.shape[0], chunk_rows):
        nan = np.isnan(block[start:start + chunk_rows])
        if (nan.any(1) & ~nan.all(1)).any():
            return True
    return False


def check_support(block, observed, info):
    """Raise if observed values fall outside the likelihood's support."""
    values = block[observed]
    values = values[~np.isnan(values)]  # missing cells
    name, lik = info.name, info.likelihood
    support = LIKELIHOODS[lik].support
    if support == "unit_interval" and ((values < 0) | (values > 1)).any():
        raise ValueError(f"modality {name!r}: the bernoulli likelihood needs values in [0, 1]")
    if support == "count" and ((values < 0) | (values != np.round(values))).any():
        raise ValueError(
            f"modality {name!r}: the poisson likelihood needs non-negative integer counts"
        )


def categorical_codes(block, observed, info, fitting):
    """Class indices ``(n, 1)`` of a categorical modality given as labels or one-hot rows."""
    name = info.name
    values = block[observed]
    codes = np.zeros((block.shape[0], 1))
    if info.one_hot:
        if np.isnan(values).any():
            rows = np.flatnonzero(observed)[np.isnan(values).any(1)][:5].tolist()
            raise ValueError(
                f"modality {name!r}: one-hot rows {rows} are partly NaN; a missing label is a "
                "whole row of NaN"
            )
        if ((values != 0) & (values != 1)).any() or (values.sum(1) != 1).any():
            raise ValueError(f"modality {name!r}: one-hot rows must hold a single 1 and zeros")
        codes[observed, 0] = values.argmax(1)
        return codes
    if values.shape[1] != 1:
        raise ValueError(f"modality {name!r}: categorical labels must be one column")
    labels = values[:, 0]
    string_classes = info.classes is not None and info.classes.dtype == object
    fitting = fitting and "categories" not in info.options  # fixed classes are not learnt
    if is_label_block(block):
        return _string_codes(labels, observed, info, fitting or string_classes, fitting)
    if string_classes and not fitting and labels.size:
        raise ValueError(
            f"modality {name!r}: got numeric labels, but the estimator was fitted with string "
            f"labels {info.classes[:5].tolist()}"
        )
    if (labels != np.round(labels)).any():
        raise ValueError(f"modality {name!r}: categorical labels must be integers")
    if fitting:
        info.classes = np.unique(labels)
        if info.classes.size < 2:
            raise ValueError(f"modality {name!r}: a categorical modality needs at least 2 classes")
    position = np.searchsorted(info.classes, labels).clip(0, info.classes.size - 1)
    unseen = info.classes[position] != labels
    if unseen.any():
        raise ValueError(_unseen_message(info, np.unique(labels[unseen])[:5].tolist()))
    codes[observed, 0] = position
    return codes


def _unseen_message(info, unseen):
    name, classes = info.name, info.classes.tolist()
    if "categories" in info.options:
        return f"modality {name!r}: labels {unseen} are not among its categories {classes}"
    return (
        f"modality {name!r}: unseen categories {unseen} (fitted classes: {classes}); to fix the "
        f"classes beforehand (e.g. for cross-validation folds that miss some), pass "
        f"likelihoods={{{name!r}: ('categorical', {{'categories': [...]}})}}"
    )


def _string_codes(labels, observed, info, fitted_with_strings, fitting):
    """Class indices ``(n, 1)`` of string labels (classes sorted as strings)."""
    name = info.name
    kinds = sorted({type(v).__name__ for v in labels if not isinstance(v, str)})
    if kinds:
        raise TypeError(
            f"modality {name!r}: categorical labels must be all numbers or all strings, got "
            f"strings mixed with {kinds}"
        )
    if not fitted_with_strings:
        raise ValueError(
            f"modality {name!r}: got string labels, but the estimator was fitted with numeric "
            f"labels {info.classes[:5].tolist()}"
        )
    if fitting:
        info.classes = np.array(sorted({str(v) for v in labels}), dtype=object)
        if info.classes.size < 2:
            raise ValueError(f"modality {name!r}: a categorical modality needs at least 2 classes")
    lookup = {label: code for code, label in enumerate(info.classes)}
    positions = np.fromiter((lookup.get(v, -1) for v in labels), dtype=np.int64, count=len(labels))
    unseen = positions < 0
    if unseen.any():
        raise ValueError(_unseen_message(info, sorted(set(labels[unseen]))[:5]))
    codes = np.zeros((observed.shape[0], 1))
    codes[observed, 0] = positions
    return codes


# --------------------------------------------------------------------------- tensors


class ModalityTensors:
    """In-memory tensors of all modalities plus the observed mask, sliceable by rows.

    ``index`` (optional) restricts the rows without copying the data, which is how the
    train/validation split is made. ``holes`` (optional, one bool per modality) marks the
    tensors whose unobserved rows may still hold NaN: they share memory with the user's
    array instead of being copied, and :meth:`rows` zero-fills those rows in each batch it
    materialises. Batches from :meth:`rows` therefore always hold zeros where missing.
    """

    def __init__(self, xs, mask, index=None, holes=None):
        self.xs, self.mask, self.index = xs, mask, index
        self.holes = holes

    def __len__(self):
        return self.mask.shape[0] if self.index is None else self.index.shape[0]

    def rows(self, positions):
        """Materialise rows ``positions`` (relative to this view) as a new dense batch."""
        if self.index is not None:
            positions = self.index[positions]
        xs = [x[positions] for x in self.xs]
        mask = self.mask[positions]
        for s, hole in enumerate(self.holes or ()):
            if hole:
                xs[s] = xs[s].masked_fill(~mask[:, s, None], 0.0)
        return ModalityTensors(xs, mask)

    def subset(self, positions):
        """A view on rows ``positions`` sharing the underlying tensors."""
        index = positions if self.index is None else self.index[positions]
        return ModalityTensors(self.xs, self.mask, index, self.holes)

    def to(self, device):
        return ModalityTensors(
            [x.to(device) for x in self.xs],
            self.mask.to(device),
            None if self.index is None else self.index.to(device),
            self.holes,
        )


def to_tensors(blocks, schema, fitting=False, dtype=torch.float32):
    """Validate the blocks against ``schema`` and build :class:`ModalityTensors`."""
    n = next(iter(blocks.values())).shape[0]
    if n == 0:
        raise ValueError("X has 0 samples; at least one is required")
    xs, masks, holes = [], [], []
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    for info in schema.modalities:
        holes.append(False)
        if info.name not in blocks:
            xs.append(torch.zeros(n, info.n_features, dtype=dtype))
            masks.append(np.zeros(n, dtype=bool))
            continue
        block = blocks[info.name]
        if block.shape[1] != info.n_input:
            raise ValueError(
                f"modality {info.name!r}: expected {info.n_input} features, got {block.shape[1]}"
            )
        observed = observed_rows(block, info.name)
        if info.likelihood == "categorical":
            values = categorical_codes(block, observed, info, fitting)
        else:
            check_support(block, observed, info)
            if np_dtype == np.float32 and block.dtype != np.float32:
                check_float32_range(block, info.name)
            shared = _shared_tensor(block, np_dtype)
            if shared is not None:
                # No copy: the tensor reads the user's memory (never written to); the NaN
                # of missing rows stay there and ModalityTensors.rows zero-fills each batch.
                xs.append(shared)
                masks.append(observed)
                holes[-1] = not observed.all()
                continue
            values = block.astype(np_dtype)
            values[~observed] = 0.0  # a private copy: the user's array is untouched
        xs.append(torch.as_tensor(values, dtype=dtype))
        masks.append(observed)
    mask = torch.as_tensor(np.stack(masks, 1))
    return ModalityTensors(xs, mask, holes=holes)


def check_float32_range(block, name, chunk_rows=2**16):
    """Raise if ``block`` holds magnitudes float32 (the model's dtype) cannot carry: above its
    largest value (they would become inf) or nonzero below its smallest normal one (they
    would flush to zero or lose their precision). NaN (missing rows) are ignored."""
    info = np.finfo(np.float32)
    high, low = 0.0, np.inf
    for start in range(0, block.shape[0], chunk_rows):  # temporary memory bounded by a chunk
        magnitude = np.abs(block[start:start + chunk_rows])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN chunks
            high = max(high, float(np.nanmax(magnitude, initial=0.0)))
            low = min(low, float(np.min(magnitude, where=magnitude > 0, initial=np.inf)))
    if high > float(info.max):
        raise ValueError(
            f"modality {name!r}: values up to {high:.3g} in absolute value exceed float32's "
            f"largest ({info.max:.3g}), the precision the model computes in; rescale the "
            "modality (e.g. divide it by a power of ten) or transform it (e.g. log)"
        )
    if low < float(info.tiny):
        raise ValueError(
            f"modality {name!r}: nonzero values as small as {low:.3g} in absolute value are below "
            f"float32's smallest normal number ({info.tiny:.3g}), the precision the model "
            "computes in, and would be flushed to zero; rescale the modality (e.g. multiply it "
            "by a power of ten) or set such values to 0"
        )


def _shared_tensor(block, np_dtype):
    """A tensor sharing ``block``'s memory, or None when its dtype or layout needs a copy."""
    if block.dtype != np_dtype or not block.dtype.isnative or any(s < 0 for s in block.strides):
        return None
    with warnings.catch_warnings():
        # a read-only array is fine: the tensor is only ever read
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(block)
