"""The layout of the user's input: one validated 2-D float block per modality.

A dict's values are its blocks (aligned by pandas index); a 2-D array or DataFrame is cut
into the column groups that ``modalities`` names. Each block is converted and checked by
:func:`skmmvae._data.as_2d_float`, so that errors name the modality.
"""
import numpy as np

from ._data import align_rows, as_2d_float, is_frame, is_modality_dict, reject_list_of_blocks, reject_sparse


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
            if isinstance(spec, (bool, np.bool_, float, np.floating)):
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


def check_2d_input(X, schema=None):
    """What a 2-D input must be before scikit-learn validates it: not sparse, not a list of
    blocks, and not given to an estimator fitted on a dict."""
    reject_sparse(X, "X")
    reject_list_of_blocks(X)
    if schema is not None and schema.input_kind == "dict":
        raise TypeError("the estimator was fitted on a dict of modalities; pass a dict")


def to_blocks(X, modalities, schema=None, columns=None, labels=(), skip=()):
    """Return ``(blocks, input_kind, feature names, column groups)``.

    ``blocks`` maps each modality name to a float32 or float64 2-D array (float32 input is
    kept as it is); ``column groups`` (2-D input
    only, else None) maps it to its column positions.

    With a ``schema`` (after fit) absent dict keys are allowed (missing modality) and the
    layout of a 2-D input must match the one seen in fit. Modalities named in ``labels`` may
    hold non-numeric class labels (see :func:`label_modalities`). The columns of a 2-D
    input's modalities named in ``skip`` are left out, unread (as keys left out of a dict).
    """
    if is_modality_dict(X):
        if dict.__len__(X) == 0:
            raise ValueError("X is an empty dict: pass at least one modality")
        for name in X:
            check_name(name)
        X = align_rows(X)
        blocks, names = {}, {}
        for name, value in X.items():
            blocks[name] = as_2d_float(value, name, name in labels)
            names[name] = [str(c) for c in value.columns] if is_frame(value) else None
        lengths = {name: b.shape[0] for name, b in blocks.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"modalities have different numbers of rows: {lengths}")
        return blocks, "dict", names, None
    # 2-D input: X is an array already checked by check_2d_input and scikit-learn's
    # validate_data (2-D, not empty, dtype kept so that each block is converted, and its
    # errors named, below); ``columns`` are the DataFrame's column names, if it was one.
    kind = "array" if columns is None else "frame"
    if schema is not None:
        groups = {m.name: m.columns for m in schema.modalities}
        n_expected = sum(len(c) for c in groups.values())
        if X.shape[1] != n_expected:
            raise ValueError(f"X has {X.shape[1]} columns, but the estimator was fitted with {n_expected}")
    else:
        groups = _column_groups(X, modalities, columns)
    array = np.asarray(X)
    blocks = {name: as_2d_float(array[:, cols], name, name in labels)
              for name, cols in groups.items() if name not in skip}
    names = {name: ([columns[c] for c in idx] if columns else None) for name, idx in groups.items()}
    return blocks, kind, names, groups


def is_single_cell(X):
    """Whether ``X`` is an ``anndata.AnnData`` or ``mudata.MuData`` object (by its attributes:
    neither library is imported)."""
    return hasattr(X, "obs_names") and hasattr(X, "obsm") and (hasattr(X, "mod") or hasattr(X, "layers"))


def from_single_cell(X, modalities):
    """``X`` as a dict of modalities when it is an AnnData or MuData object (``modalities``
    then says where each modality lives, see :mod:`skmmvae.singlecell`), else ``X`` as is."""
    if not is_single_cell(X):
        return X
    from . import singlecell

    if hasattr(X, "mod"):
        return singlecell.read_mudata(X, modalities)
    return singlecell.read_anndata(X, modalities)
