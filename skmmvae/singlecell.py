"""Single-cell data in and out: ``anndata.AnnData`` and ``mudata.MuData`` objects.

:func:`read_anndata` and :func:`read_mudata` cut such an object into the dict of modalities
the estimators take, one pandas DataFrame per modality indexed by ``obs_names`` (so that the
estimators pair the rows of the modalities by cell); :func:`write_latent` and
:func:`write_imputed` put latent codes and imputations back where a scanpy user looks for
them (``obsm``, ``layers``). The objects are used through their attributes only: this module
imports neither anndata nor mudata (``pip install "skmmvae[singlecell]"`` installs them).

Where a modality lives is a *location*: ``"X"``, ``"layers/<key>"``, ``"obsm/<key>"`` or
``"obs/<column>"`` (one column, e.g. cell-type labels); a list of ``var`` names takes those
columns of ``X`` (as the column groups of a DataFrame), and a pair ``(location, var names)``
those columns of a layer. In a MuData object, a location starts with the name of its
modality: ``"rna"`` (its ``X``), ``"rna/layers/counts"``, ``"prot/obsm/isotypes"``.
"""
import numpy as np
import pandas as pd

__all__ = ["read_anndata", "read_mudata", "write_latent", "write_imputed"]

_KINDS = ("X", "layers", "obsm", "obs")


def _is_anndata(data):
    return not hasattr(data, "mod") and all(
        hasattr(data, a) for a in ("obs_names", "var_names", "layers", "obsm", "X"))


def _is_mudata(data):
    return hasattr(data, "mod") and hasattr(data, "obs_names") and hasattr(data, "obsm")


def _check_anndata(adata, what="adata"):
    if _is_mudata(adata):
        raise TypeError(f"{what} is a MuData object: use read_mudata")
    if not _is_anndata(adata):
        raise TypeError(f"{what} must be an anndata.AnnData object, got {type(adata).__name__}")


def _dense(matrix):
    """A dense 2-D array (or DataFrame) of a matrix that may be sparse."""
    if hasattr(matrix, "toarray"):  # scipy.sparse and anndata's backed sparse
        matrix = matrix.toarray()
    if isinstance(matrix, pd.DataFrame):
        return matrix
    return np.asarray(matrix)


def _parse(spec, name):
    """``(kind, key, var names)`` of a modality's location ``spec``."""
    var_names = None
    if isinstance(spec, (list, np.ndarray, pd.Index)):
        spec, var_names = "X", list(spec)
    elif isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[0], str):
            raise ValueError(f"modality {name!r}: a pair must be (location, var names), got {spec!r}")
        spec, var_names = spec[0], list(spec[1])
    if not isinstance(spec, str):
        raise TypeError(f"modality {name!r}: a location is a string such as 'layers/counts', got {spec!r}")
    kind, _, key = spec.partition("/")
    if kind not in _KINDS or (kind == "X") != (key == ""):
        raise ValueError(
            f"modality {name!r}: unknown location {spec!r}; use 'X', 'layers/<key>', 'obsm/<key>' "
            "or 'obs/<column>'"
        )
    if var_names is not None:
        if kind not in ("X", "layers"):
            raise ValueError(f"modality {name!r}: var names select columns of X or of a layer, not of {spec!r}")
        if not var_names:
            raise ValueError(f"modality {name!r}: the list of var names is empty")
    return kind, key, var_names


def _block(adata, spec, name):
    """The DataFrame of modality ``name`` at ``spec`` in ``adata``, indexed by ``obs_names``."""
    kind, key, var_names = _parse(spec, name)
    index = pd.Index(adata.obs_names)
    if kind == "obs":
        if key not in adata.obs.columns:
            raise ValueError(f"modality {name!r}: obs has no column {key!r}; columns: {list(adata.obs.columns)[:20]}")
        column = adata.obs[key]
        values = column.astype(object) if isinstance(column.dtype, pd.CategoricalDtype) else column
        return pd.DataFrame({key: np.asarray(values)}, index=index)
    if kind == "obsm":
        if key not in adata.obsm:
            raise ValueError(f"modality {name!r}: obsm has no key {key!r}; keys: {list(adata.obsm.keys())}")
        matrix = _dense(adata.obsm[key])
        if isinstance(matrix, pd.DataFrame):
            return pd.DataFrame(matrix.to_numpy(), index=index, columns=[str(c) for c in matrix.columns],
                                copy=True)
        matrix = matrix.reshape(len(index), -1)
        return pd.DataFrame(matrix, index=index, columns=[f"{key}{i}" for i in range(matrix.shape[1])],
                            copy=True)
    if kind == "layers":
        if key not in adata.layers:
            raise ValueError(f"modality {name!r}: layers has no key {key!r}; layers: {list(adata.layers.keys())}")
        matrix = adata.layers[key]
    else:
        matrix = adata.X
        if matrix is None:
            raise ValueError(f"modality {name!r}: X is empty (None); name a layer instead")
    columns = pd.Index([str(v) for v in adata.var_names])
    if var_names is not None:
        position = columns.get_indexer([str(v) for v in var_names])
        unknown = [v for v, p in zip(var_names, position) if p < 0]
        if unknown:
            raise ValueError(f"modality {name!r}: unknown var names {unknown[:10]}")
        matrix = matrix[:, position]
        columns = columns[position]
    return pd.DataFrame(_dense(matrix), index=index, columns=columns, copy=True)  # never a view


def read_anndata(adata, modalities=None):
    """Cut an ``AnnData`` object into the modalities of the estimators.

    Parameters
    ----------
    adata : anndata.AnnData
        The cells (rows, ``obs_names``) and their measurements.
    modalities : dict or None, default=None
        ``{name: location}`` (see the module docstring): ``"X"``, ``"layers/<key>"``,
        ``"obsm/<key>"``, ``"obs/<column>"``, a list of ``var`` names (those columns of
        ``X``) or ``(location, var names)``. ``None`` reads ``X`` as one modality ``"x"``.

    Returns
    -------
    X : dict of str -> pandas.DataFrame
        One DataFrame per modality, indexed by ``obs_names``, with the ``var`` names (or the
        ``obsm`` columns) as columns: copies, so that changing them leaves ``adata`` as it
        is. Sparse matrices are made dense.

    Examples
    --------
    >>> import anndata, numpy as np                                  # doctest: +SKIP
    >>> adata = anndata.AnnData(np.ones((3, 2)))                     # doctest: +SKIP
    >>> adata.layers["counts"] = np.ones((3, 2))                     # doctest: +SKIP
    >>> adata.obsm["protein"] = np.zeros((3, 4))                     # doctest: +SKIP
    >>> X = read_anndata(adata, {"rna": "layers/counts", "protein": "obsm/protein"})  # doctest: +SKIP
    >>> {name: block.shape for name, block in X.items()}             # doctest: +SKIP
    {'rna': (3, 2), 'protein': (3, 4)}
    """
    _check_anndata(adata)
    modalities = {"x": "X"} if modalities is None else _check_modalities(modalities)
    return {name: _block(adata, spec, name) for name, spec in modalities.items()}


def _check_modalities(modalities):
    if not isinstance(modalities, dict) or not modalities:
        raise TypeError(f"modalities must be a non-empty dict {{name: location}}, got {modalities!r}")
    for name in modalities:
        if not isinstance(name, str) or not name:
            raise TypeError(f"modality names must be non-empty strings, got {name!r}")
    return modalities


def _split_mod(spec, name, mods):
    """``(mod name, location in it)`` of a MuData location."""
    location, var_names = (spec, None) if isinstance(spec, str) else (spec[0], spec[1]) \
        if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str) else (None, None)
    if location is None:
        raise TypeError(f"modality {name!r}: a MuData location is '<mod>[/<location>]' or a pair "
                        f"('<mod>/<location>', var names), got {spec!r}")
    mod, _, rest = location.partition("/")
    if mod not in mods:
        raise ValueError(f"modality {name!r}: the MuData object has no modality {mod!r}; it has {list(mods)}")
    rest = rest or "X"
    return mod, rest if var_names is None else (rest, var_names)


def read_mudata(mdata, modalities=None):
    """Cut a ``MuData`` object into the modalities of the estimators, rows by ``obs_names``.

    Every modality gets a row for each cell of ``mdata.obs_names``, in that order; a cell
    that a ``mod`` lacks is a row of NaN there (a missing modality, which the estimators
    impute).

    Parameters
    ----------
    mdata : mudata.MuData
        The cells and their modalities (``mdata.mod``).
    modalities : dict or None, default=None
        ``{name: location}`` where a location is ``"<mod>"`` (its ``X``),
        ``"<mod>/layers/<key>"``, ``"<mod>/obsm/<key>"``, ``"<mod>/obs/<column>"`` or
        ``("<mod>[/layers/<key>]", var names)``. ``None``: one modality per ``mod``, its
        ``X``, named as the ``mod``.

    Returns
    -------
    X : dict of str -> pandas.DataFrame
        One DataFrame per modality, indexed by ``mdata.obs_names``.

    Examples
    --------
    >>> X = read_mudata(mdata, {"rna": "rna/layers/counts", "protein": "prot"})  # doctest: +SKIP
    >>> vae = MultiModalVAE(likelihoods={"rna": "negative_binomial"}).fit(X)      # doctest: +SKIP
    """
    if not _is_mudata(mdata):
        raise TypeError(f"mdata must be a mudata.MuData object, got {type(mdata).__name__}")
    mods = dict(mdata.mod)
    modalities = {m: m for m in mods} if modalities is None else _check_modalities(modalities)
    index = pd.Index(mdata.obs_names)
    out = {}
    for name, spec in modalities.items():
        mod, location = _split_mod(spec, name, mods)
        block = _block(mods[mod], location, name)
        if not block.index.is_unique:
            raise ValueError(f"modality {name!r}: the obs_names of modality {mod!r} are not unique")
        unknown = block.index.difference(index)
        if len(unknown):
            raise ValueError(f"modality {name!r}: cells {list(unknown[:5])} of {mod!r} are not in mdata.obs_names")
        if block.shape[1] and block.dtypes.map(lambda d: d.kind in "biuf").all():
            block = block.astype(np.float64)  # NaN rows for the cells the mod lacks
        out[name] = block.reindex(index)
    return out


def _n_obs(data):
    return len(data.obs_names)


def write_latent(data, Z, key="X_skmmvae"):
    """Store latent codes in ``data.obsm[key]``, where scanpy looks for an embedding.

    Parameters
    ----------
    data : anndata.AnnData or mudata.MuData
        The object the codes were computed from (same cells, same order).
    Z : array-like of shape (n_obs, n_components)
        Latent codes, e.g. ``vae.transform(read_anndata(adata, ...))``.
    key : str, default="X_skmmvae"
        Key in ``obsm`` (``sc.pp.neighbors(adata, use_rep="X_skmmvae")`` uses it).

    Returns
    -------
    None

    Examples
    --------
    >>> write_latent(adata, vae.transform(X))          # doctest: +SKIP
    >>> sc.pp.neighbors(adata, use_rep="X_skmmvae")    # doctest: +SKIP
    """
    if not (_is_anndata(data) or _is_mudata(data)):
        raise TypeError(f"data must be an AnnData or MuData object, got {type(data).__name__}")
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] != _n_obs(data):
        raise ValueError(f"Z must have shape ({_n_obs(data)}, n_components) for the cells of data, got {Z.shape}")
    data.obsm[key] = Z


def write_imputed(data, imputed, modalities=None, suffix="_imputed"):
    """Store imputed modalities in ``data``, next to where they were read from.

    A modality read from ``X`` or a layer of an AnnData object, with all its ``var``, goes
    to the layer ``<name><suffix>``; any other (an ``obsm`` entry, some ``var`` only, or a
    modality of a MuData object, whose ``mod`` may lack some cells) to ``obsm`` as a
    DataFrame ``<name><suffix>`` with the modality's columns, indexed by ``obs_names``.
    ``obs`` columns (labels) go to ``obs["<name><suffix>"]``.

    Parameters
    ----------
    data : anndata.AnnData or mudata.MuData
        The object the modalities were read from.
    imputed : dict of str -> array-like
        ``predict``'s output for the dict of :func:`read_anndata` or :func:`read_mudata`
        (DataFrames, or arrays in the rows of ``data``).
    modalities : dict or None, default=None
        The ``modalities`` given to the reader.
    suffix : str, default="_imputed"
        Appended to the modality name to make the key.

    Returns
    -------
    keys : dict of str -> str
        Where each modality went, e.g. ``{"rna": "layers/rna_imputed"}``.

    Examples
    --------
    >>> X = read_anndata(adata, {"rna": "layers/counts", "protein": "obsm/protein"})  # doctest: +SKIP
    >>> write_imputed(adata, vae.predict(X), {"rna": "layers/counts", "protein": "obsm/protein"})  # doctest: +SKIP
    {'rna': 'layers/rna_imputed', 'protein': 'obsm/protein_imputed'}
    """
    mudata = _is_mudata(data)
    if not mudata:
        _check_anndata(data, "data")
    if modalities is None:
        modalities = {m: m for m in data.mod} if mudata else {"x": "X"}
    index = pd.Index(data.obs_names)
    keys = {}
    for name, block in imputed.items():
        if name not in modalities:
            raise ValueError(f"imputed modality {name!r} is not among the modalities {list(modalities)}")
        if isinstance(block, (pd.DataFrame, pd.Series)):
            block = pd.DataFrame(block)
            if not block.index.equals(index):
                block = block.reindex(index)
            columns, values = [str(c) for c in block.columns], block.to_numpy()
        else:
            values = np.asarray(block)
            values = values.reshape(len(values), -1)
            columns = [f"{name}{i}" for i in range(values.shape[1])]
        if values.shape[0] != len(index):
            raise ValueError(f"imputed modality {name!r} has {values.shape[0]} rows, data has {len(index)} cells")
        key = f"{name}{suffix}"
        kind = "obsm"
        if not mudata:
            spec_kind, _, var_names = _parse(modalities[name], name)
            if spec_kind in ("X", "layers") and var_names is None and values.shape[1] == data.n_vars:
                kind = "layers"
            elif spec_kind == "obs":
                kind = "obs"
        if kind == "layers":
            data.layers[key] = values
        elif kind == "obs":
            data.obs[key] = values[:, 0]
        else:
            data.obsm[key] = pd.DataFrame(values, index=index, columns=columns)
        keys[name] = f"{kind}/{key}"
    return keys
