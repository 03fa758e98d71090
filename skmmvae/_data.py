"""The user's containers, the validation of one modality block, and the model's tensors.

Users pass a dict ``{name: array}``, a :class:`ModalityDict`, or a 2-D array / DataFrame whose
column groups are named by the ``modalities`` parameter (cut by :mod:`._layout`). Each block
becomes a 2-D float array (an ``(n, 1)`` object block for categorical labels that are not
numbers), validated here with errors that name the modality, and the fitted
:class:`~skmmvae._schema.Schema` converts the blocks to a :class:`ModalityTensors`: one float32 tensor per modality (missing rows zero-filled in every
batch; a float32 block is used in place, not copied) and a boolean ``(n, M)`` mask of observed
modalities. A modality is missing for a sample when its whole block is NaN; a NaN in a row
that has observed values is a missing cell, and stays NaN in the tensor (the per-cell mask:
the model reads it with ``torch.isnan``). Nothing the user passed is modified.
"""
import warnings

import numpy as np
import scipy.sparse as sp
import torch



class ModalityDict(dict):
    """A dict of modalities that slices by rows, for cross-validation and pipelines.

    ``md["rna"]`` is a modality; ``md[idx]`` (an int array, slice or boolean mask) is a new
    ``ModalityDict`` of those rows of every modality. Values may be arrays or DataFrames (sliced
    with ``.iloc``); all must have the same number of rows. ``len(md)`` and ``md.shape[0]``
    are the number of rows, which is what scikit-learn's splitters need. Pandas blocks are
    aligned by index at construction (see :func:`align_rows`), so that row ``i`` of every
    block is the same sample; blocks added later (``md[name] = ...``, ``update``, ``|=``) and
    unions (``md | other``, ``other | md``: a new ``ModalityDict``) are checked and aligned
    likewise.

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

    def __setitem__(self, name, value):
        """Add or replace a modality; its rows must match the others', and a pandas block is
        aligned with the others by index (as at construction)."""
        n = self.shape[0] if dict.__len__(self) and not (dict.__len__(self) == 1 and name in self) else None
        if n is not None and _n_rows(value) != n:
            raise ValueError(
                f"modality {name!r} has {_n_rows(value)} rows, the others {n}: all modalities "
                "must have the same number of rows"
            )
        # pandas blocks paired by index, as at construction; align_rows raises before anything
        # is written, so an error leaves the dict as it was
        dict.update(self, align_rows({**dict(self), name: value}))

    def __ior__(self, other):
        self.update(other)
        return self

    def __or__(self, other):
        """``md | other``: a new ModalityDict, checked and aligned as at construction."""
        if not isinstance(other, dict):
            return NotImplemented  # as dict: only a dict joins a dict
        return ModalityDict({**dict(self), **other})

    def __ror__(self, other):
        """``other | md`` (``other`` a plain dict): a ModalityDict too."""
        if not isinstance(other, dict):
            return NotImplemented
        return ModalityDict({**other, **dict(self)})

    def update(self, *args, **kwargs):
        """``dict.update`` through :meth:`__setitem__`: every block keeps the rows in step."""
        for name, value in dict(*args, **kwargs).items():
            self[name] = value

    def setdefault(self, name, value=None):
        if name not in self:
            self[name] = value
        return self[name]

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


def is_modality_dict(X):
    """Whether ``X`` is a dict of modalities. scipy's ``dok_matrix`` subclasses ``dict``: a
    sparse matrix is not one (it is refused with its own message)."""
    return isinstance(X, dict) and not sp.issparse(X)


def n_samples(X):
    """Number of rows of ``X`` in any accepted input form (the first modality's for a dict)."""
    if is_modality_dict(X):
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
    if not is_modality_dict(X):
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
    if is_modality_dict(X):
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


def is_frame(value):
    return hasattr(value, "iloc") and hasattr(value, "columns")


def restore_container(original, array, any_filled):
    """``array`` (2-D) in the container (array, DataFrame, Series), shape and dtype of the
    user's ``original``.

    Float dtypes are kept (observed values round-trip exactly); other dtypes are kept when
    nothing had to be filled in, otherwise the result is float64.
    """
    if is_frame(original):
        out = original.__class__(array, index=original.index, columns=original.columns)
        if original.columns.is_unique:
            keep = {
                col: dtype
                for col, dtype in original.dtypes.items()
                if getattr(dtype, "kind", "O") in "fiub" and dtype != out.dtypes[col]
                and (dtype.kind == "f" or not out[col].isna().any())
            }
            if keep:
                try:
                    out = out.astype(keep)
                except (TypeError, ValueError):  # e.g. an imputed 0.37 in an Int64 column:
                    out = out.astype({col: dtype for col, dtype in keep.items()  # it stays float64
                                      if _casts(out[col], dtype)})
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


def _casts(series, dtype):
    """Whether ``series`` can be cast to ``dtype`` (pandas refuses, say, 0.37 as Int64)."""
    try:
        series.astype(dtype)
    except (TypeError, ValueError):
        return False
    return True


def reject_sparse(value, name):
    if sp.issparse(value):
        raise TypeError(
            f"{name}: sparse input is not supported; pass a dense array (e.g. X.toarray())"
        )


def as_2d_float(value, name, labels=False):
    """A float 2-D view (or copy) of one modality block, with a clear error for junk.

    float32 and float64 blocks are kept as they are (no copy, so that a large float32 input
    is not doubled in memory); every other numeric dtype becomes float64. With ``labels`` (a
    categorical modality), values that are not numbers (strings, say) are kept as an
    ``(n, 1)`` object array of labels instead.
    """
    reject_sparse(value, f"modality {name!r}")
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
    if labels and array.dtype == object and any(isinstance(v, str) for v in array.ravel()):
        # string labels stay strings, also where they look like numbers ("1", "2"): as a
        # numpy str array does, so that the classes do not depend on the container
        return _label_block(array, name)
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


# --------------------------------------------------------------------------- tensors


class ModalityTensors:
    """In-memory tensors of all modalities plus the observed mask, sliceable by rows.

    ``index`` (optional) restricts the rows without copying the data, which is how the
    train/validation split is made. ``holes`` (optional, one bool per modality) marks the
    tensors whose unobserved rows may still hold NaN: they share memory with the user's
    array instead of being copied, and :meth:`rows` zero-fills those rows in each batch it
    materialises. Batches from :meth:`rows` therefore hold zeros in missing rows. Missing
    cells of observed rows stay NaN: that is the per-cell mask (:meth:`observed_cells`),
    which the model reads from the data itself.
    """

    def __init__(self, xs, mask, index=None, holes=None):
        self.xs, self.mask, self.index = xs, mask, index
        self.holes = holes

    def observed_cells(self, s):
        """Boolean ``(n, width)`` mask of the observed cells of modality ``s``: in an observed
        row, the values that are not NaN (a row of a missing modality has none)."""
        x = self.xs[s] if self.index is None else self.xs[s][self.index]
        mask = self.mask if self.index is None else self.mask[self.index]
        return ~torch.isnan(x) & mask[:, s, None]

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


def shared_tensor(block, np_dtype):
    """A tensor sharing ``block``'s memory, or None when its dtype or layout needs a copy."""
    if block.dtype != np_dtype or not block.dtype.isnative or any(s < 0 for s in block.strides):
        return None
    with warnings.catch_warnings():
        # a read-only array is fine: the tensor is only ever read
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(block)
