"""Safe saving and loading: JSON metadata plus a weights-only torch file, in one zip archive.

``joblib``/``pickle`` files run code on load. The files written here do not: ``load`` parses
``metadata.json`` with :mod:`json` and ``weights.pt`` with ``torch.load(weights_only=True)``,
which only rebuilds tensors and plain containers, and rebuilds the estimator through the same
path as unpickling (``__setstate__``: the module is built from the schema and the
architecture it was fitted with, ``_architecture``, ``hidden_layer_sizes_``,
``embedding_size_`` and ``_expert_rank``, then the weights are loaded into it).

What is stored is what pickling stores (``MultiModalVAE.__getstate__``), split in two:

``metadata.json``
    format name and version, skmmvae and torch versions, the class, the parameters (encoded
    below), the schema learnt at fit, the other fitted attributes, and ``history_``.
``weights.pt``
    ``{"module": state_dict, "optimizer": Adam state_dict or None}``, CPU tensors only.

JSON has no tuples, arrays or random states, so those are written as one-key objects
(``{"__tuple__": [...]}``, ``{"__ndarray__": [...], "dtype": ..., "shape": ...}``,
``{"__random_state__": [...]}``) and turned back on load; a dict whose keys are those of a
tag (a modality named ``"__tuple__"``, say) is written as ``{"__dict__": [[key, value], ...]}``.
Parameter values that are not plain data (custom torch modules, callbacks) are not stored:
their names are, and ``load`` asks the caller for them.
"""
import dataclasses
import inspect
import io
import json
import math
import numbers
import os
import re
import uuid
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints
from skorch.history import History

from ._schema import ModalityInfo, Schema
from ._snapshot import KEYS as _TRAINING_KEYS
from ._snapshot import MODULE_STATE as _MODULE_STATE
from ._snapshot import OPTIMIZER_STATE as _OPTIMIZER_STATE
from ._snapshot import TRAINING_BEFORE
from ._snapshot import VERSION as _VERSION
from ._training import ARCHITECTURE, ARCHITECTURE_BEFORE
from ._version import __version__
from .nn import AGGREGATORS

FORMAT = "skmmvae-model"
FORMAT_VERSION = 1
METADATA = "metadata.json"
WEIGHTS = "weights.pt"

# What pickling stores apart from the parameters and the plain fitted attributes: the keys
# of the training state (weights, optimiser state, version), from skmmvae._snapshot.
_ATTRIBUTE_NAME = re.compile(r"_?[A-Za-z][A-Za-z0-9_]*\Z")
_NDARRAY_KINDS = "biufUO"
_TAGS = [{"__tuple__"}, {"__ndarray__", "dtype", "shape"}, {"__random_state__"}, {"__dict__"}]

# Limits on what load inflates, checked against the sizes the zip declares before reading.
MAX_METADATA_SIZE = 32 * 2**20  # bytes of metadata.json
MAX_WEIGHTS_SIZE = 4 * 2**30  # bytes of weights.pt
MAX_COMPRESSION_RATIO = 200  # inflated / compressed, for members over RATIO_FLOOR bytes
RATIO_FLOOR = 2**20
_MEMBER_LIMITS = {METADATA: "MAX_METADATA_SIZE", WEIGHTS: "MAX_WEIGHTS_SIZE"}

# The metadata save writes, and the JSON type of each entry: load accepts exactly these.
_METADATA_TYPES = {
    "format": str,
    "format_version": int,
    "class": str,
    "skmmvae_version": str,
    "torch_version": str,
    "params": dict,
    "unsaved_params": list,
    "attributes": dict,
    "schema": dict,
    "history": list,
}
_SCHEMA_KEYS = {"input_kind", "modalities"}
_INPUT_KINDS = ("dict", "array", "frame")
# Private fitted attributes a file may set (public ones end with "_"; none may be a name the
# class defines, such as a method or property). ``save`` refuses to write any other.
_PRIVATE_ATTRIBUTES = {"_n_fit_rows", "_seed", "_split_seed", "_n_features_out", "_expert_rank",
                       "_architecture"}
_MAX_SIZE = 2**31 - 1  # widths, counts and seeds
_INT_ATTRIBUTES = {
    "n_features_in_": (0, _MAX_SIZE),
    "n_iter_": (0, _MAX_SIZE),
    "n_components_": (1, _MAX_SIZE),
    "_n_fit_rows": (0, 2**63 - 1),
    "_n_features_out": (0, _MAX_SIZE),
    "_seed": (0, 2**32 - 1),
    "_split_seed": (0, 2**32 - 1),
}


class _NotPlainData(TypeError):
    """A value that JSON (with the tags above) cannot represent."""


# ----------------------------------------------------------------------------- JSON values


def _encode(value):
    """``value`` as JSON-ready data; raises :class:`_NotPlainData` for anything else."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise _NotPlainData("a dict with keys that are not strings")
        if set(value) in _TAGS:  # e.g. {modality: ...} for a modality named "__tuple__"
            return {"__dict__": [[k, _encode(v)] for k, v in value.items()]}
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind in _NDARRAY_KINDS:
        items = value.ravel().tolist()
        if value.dtype.kind == "O" and not all(
            isinstance(v, (str, bool, int, float)) or v is None for v in items
        ):
            raise _NotPlainData("an object array holding more than strings and numbers")
        return {"__ndarray__": items, "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, np.random.RandomState):
        name, keys, pos, has_gauss, cached = value.get_state(legacy=True)
        return {"__random_state__": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]}
    raise _NotPlainData(f"a {type(value).__module__}.{type(value).__qualname__}")


def _decode(value):
    """Inverse of :func:`_encode`, for data read from an untrusted file."""
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"__tuple__"}:
        return tuple(_decode(v) for v in _as_list(value["__tuple__"]))
    if set(value) == {"__ndarray__", "dtype", "shape"}:
        dtype = np.dtype(str(value["dtype"]))
        if dtype.kind not in _NDARRAY_KINDS:
            raise ValueError(f"unsupported array dtype {dtype}")
        items = _as_list(value["__ndarray__"])
        if any(isinstance(v, (list, dict)) for v in items):
            raise ValueError("array items must be numbers or strings")
        return np.asarray(items, dtype=dtype).reshape([int(n) for n in _as_list(value["shape"])])
    if set(value) == {"__dict__"}:
        pairs = [_as_list(pair) for pair in _as_list(value["__dict__"])]
        if not all(len(pair) == 2 and isinstance(pair[0], str) for pair in pairs):
            raise ValueError("a dict must be stored as [key, value] pairs with string keys")
        return {key: _decode(item) for key, item in pairs}
    if set(value) == {"__random_state__"}:
        name, keys, pos, has_gauss, cached = _as_list(value["__random_state__"])
        random_state = np.random.RandomState()
        keys = np.asarray(keys, dtype=np.uint32)
        random_state.set_state((str(name), keys, int(pos), int(has_gauss), float(cached)))
        return random_state
    return {k: _decode(v) for k, v in value.items()}


def _as_list(value):
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _encode_history(history):
    """The history rows, without the entries JSON cannot hold (with a warning naming them)."""
    dropped = set()

    def plain(row):
        out = {}
        for key, value in row.items():
            try:
                out[key] = [plain(b) for b in value] if key == "batches" else _encode(value)
            except _NotPlainData:
                dropped.add(key)
        return out

    rows = [plain(row) for row in history]
    if dropped:
        warnings.warn(
            f"history_ entries {sorted(dropped)} are not plain data and are not saved",
            UserWarning,
            stacklevel=4,
        )
    return rows


# ----------------------------------------------------------------------------- save


def save(estimator, path):
    """Write ``estimator`` (fitted) to the zip archive ``path`` (a path or a writable binary
    file object); see the module docstring."""
    state = estimator.__getstate__()
    params = estimator.get_params(deep=False)
    saved, unsaved = {}, []
    for name, value in params.items():
        try:  # what pickling keeps of a parameter, if it keeps something else than its value
            saved[name] = _encode(state.get(name, value))
        except _NotPlainData:
            unsaved.append(name)
    schema = state.pop("_schema")
    try:
        schema = {
            "input_kind": schema.input_kind,
            "modalities": [_encode(dataclasses.asdict(info)) for info in schema.modalities],
        }
    except _NotPlainData as exc:
        raise TypeError(
            f"the likelihood options of this model hold {exc}, which cannot be saved safely; "
            "use joblib (or pickle) instead"
        ) from None
    attributes = {}
    skip = set(params) | {"history_", *_TRAINING_KEYS}
    for name, value in state.items():
        if name in skip:
            continue
        if not _allowed_attribute(type(estimator), name):
            raise TypeError(
                f"the fitted attribute {name!r} is not one that load accepts; add it to "
                "skmmvae._persistence._PRIVATE_ATTRIBUTES (private names) if it must be saved"
            )
        try:
            attributes[name] = _encode(value)
        except _NotPlainData as exc:
            raise TypeError(
                f"the fitted attribute {name!r} holds {exc}, which cannot be saved safely; "
                "use joblib (or pickle) instead"
            ) from None
    cls = type(estimator)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "skmmvae_version": __version__,
        "torch_version": torch.__version__,
        "params": saved,
        "unsaved_params": unsaved,
        "attributes": attributes,
        "schema": schema,
        "history": _encode_history(state.get("history_") or []),
    }
    assert set(metadata) == set(_METADATA_TYPES), "update _METADATA_TYPES with save"
    weights = io.BytesIO()
    torch.save({"module": state[_MODULE_STATE], "optimizer": state.get(_OPTIMIZER_STATE)}, weights)
    metadata = json.dumps(metadata, indent=1).encode("utf-8")
    if hasattr(path, "write"):  # a binary file object: written in place, as zipfile does
        _write_archive(path, metadata, weights.getvalue())
    else:
        _write_atomically(Path(path), metadata, weights.getvalue())


def _write_archive(file, metadata, weights):
    with zipfile.ZipFile(file, "w") as archive:
        archive.writestr(METADATA, metadata, compress_type=zipfile.ZIP_DEFLATED)
        # torch's file is a zip of raw float arrays already: storing it is as small
        archive.writestr(WEIGHTS, weights, compress_type=zipfile.ZIP_STORED)


def _write_atomically(path, metadata, weights):
    """Write the archive beside ``path`` and move it there: no half-written file at ``path``."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        # open(), not tempfile.mkstemp: the file gets the usual permissions, not 0600
        with open(tmp, "xb") as file:
            _write_archive(file, metadata, weights)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------- load


def load(cls, path, params):
    """Read an estimator of class ``cls`` (or a subclass) written by :func:`save`."""
    metadata, weights = _read_archive(path)
    _check_metadata_keys(metadata, path)
    klass = _resolve_class(cls, metadata, path)
    unsaved = metadata.get("unsaved_params")
    if not isinstance(unsaved, list) or not all(isinstance(name, str) for name in unsaved):
        raise ValueError(f"{path} is not a valid skmmvae model file: bad metadata (unsaved_params)")
    missing = [name for name in unsaved if name not in params]
    if missing:
        given = ", ".join(f"{name}=..." for name in missing)
        raise TypeError(
            f"{path} was saved without the parameters {missing}: their values (torch modules, "
            "callbacks, ...) cannot be stored safely. Pass them to load, e.g. "
            f"{klass.__name__}.load(path, {given}), with the same architecture as when saved"
        )
    extra = sorted(set(params) - set(unsaved))
    if extra:
        raise TypeError(
            f"load takes only the parameters that could not be saved ({unsaved or 'none here'}), "
            f"got {extra}; change other parameters with set_params after loading"
        )
    # From here on, whatever goes wrong comes from the file's content: the file is invalid.
    try:
        state = _state(klass, metadata, params, path)
    except Exception as exc:  # noqa: BLE001 - e.g. KeyError, TypeError, OverflowError
        problem = f"missing {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
        raise ValueError(
            f"{path} is not a valid skmmvae model file: bad metadata ({problem})"
        ) from exc
    state.update(_check_weights(weights, path))
    estimator = klass.__new__(klass)
    estimator.__dict__.update({name: state[name] for name in klass._get_param_names()})
    try:
        estimator._validate_params()
    except ValueError as exc:
        raise ValueError(f"{path} is not a valid skmmvae model file: {exc}") from exc
    _check_sizes(klass, state, path)
    _check_fitted_size(state, path)
    try:
        estimator.__setstate__(state)
        if state.get(_OPTIMIZER_STATE) is not None:  # check it now, not at partial_fit
            torch.optim.Adam(estimator.module_.parameters()).load_state_dict(state[_OPTIMIZER_STATE])
    except Exception as exc:  # noqa: BLE001 - e.g. a state_dict of other shapes
        yours = f" (or the {sorted(params)} passed to load are not those it was saved with)" if params else ""
        raise ValueError(
            f"{path} is not a valid skmmvae model file: its weights and metadata do not make a "
            f"model{yours} ({exc})"
        ) from exc
    return estimator


def _read_archive(path):
    """``(metadata dict, weights dict)`` of the archive, or a ValueError saying what is wrong."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            if METADATA not in names or WEIGHTS not in names:
                raise ValueError(
                    f"{path} is not a skmmvae model file (a zip archive holding {METADATA} and "
                    f"{WEIGHTS}); files written by joblib or pickle load with joblib.load"
                )
            _check_members(infos, path)
            metadata = _read_member(archive, infos[names.index(METADATA)], path)
            weights = _read_member(archive, infos[names.index(WEIGHTS)], path)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ValueError(
            f"{path} is not a skmmvae model file, or it is damaged or truncated ({exc})"
        ) from exc
    try:
        metadata = json.loads(metadata.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, or absurdly nested JSON
        raise ValueError(f"{path} is damaged: {METADATA} is not valid JSON ({exc})") from exc
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"{path} is not a skmmvae model file ({METADATA} does not say {FORMAT!r})")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        hint = " (upgrade skmmvae to read it)" if newer else ""
        raise ValueError(
            f"{path} is in skmmvae model format version {version!r}; skmmvae {__version__} reads "
            f"format version {FORMAT_VERSION}{hint}"
        )
    try:
        weights = torch.load(io.BytesIO(weights), weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - whatever the cause, the file is unusable
        raise ValueError(
            f"{path} is damaged or unsafe: {WEIGHTS} is not a weights-only torch file "
            f"(tensors and plain containers), so it was not loaded ({type(exc).__name__}: {exc})"
        ) from exc
    return metadata, weights


def _check_members(infos, path):
    """Refuse other or repeated members, and sizes or compression ratios past the limits,
    from the sizes the archive declares: before anything is inflated."""
    names = [info.filename for info in infos]
    unknown = sorted(set(names) - set(_MEMBER_LIMITS))
    if unknown:
        raise ValueError(
            f"{path} is not a valid skmmvae model file: unexpected entries {unknown} "
            f"(only {METADATA} and {WEIGHTS})"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{path} is not a valid skmmvae model file: repeated entries {repeated}")
    for info in infos:
        limit = globals()[_MEMBER_LIMITS[info.filename]]
        if info.file_size > limit:
            raise ValueError(
                f"{path} is not a valid skmmvae model file: {info.filename} declares "
                f"{info.file_size} bytes, more than the limit of {limit} bytes"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > MAX_COMPRESSION_RATIO:
            raise ValueError(
                f"{path} is not a valid skmmvae model file: {info.filename} declares a "
                f"compression ratio of {ratio:.0f} (limit {MAX_COMPRESSION_RATIO}), as a zip "
                "bomb does"
            )


def _read_member(archive, info, path):
    """The member's bytes: at most its declared size, and exactly that many."""
    chunks, left = [], info.file_size
    with archive.open(info) as member:
        while left > 0:
            chunk = member.read(min(left, 2**24))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        more = member.read(1) if left == 0 else b""
    if left or more:
        raise ValueError(
            f"{path} is damaged: {info.filename} does not hold the {info.file_size} bytes "
            "its header declares"
        )
    return b"".join(chunks)


def _resolve_class(cls, metadata, path):
    """The class named in the file among ``cls`` and its subclasses already imported."""
    name = metadata.get("class")
    candidates = [cls]
    for klass in candidates:
        candidates.extend(k for k in klass.__subclasses__() if k not in candidates)
    for klass in candidates:
        if f"{klass.__module__}.{klass.__qualname__}" == name:
            return klass
    raise ValueError(f"{path} holds a {name!r}, which is not {cls.__name__} or a subclass of it")


def _state(klass, metadata, params, path):
    """What ``__setstate__`` expects, from the metadata and the parameters given to load."""
    names = klass._get_param_names()
    saved = {name: _decode(value) for name, value in metadata["params"].items()}
    unknown = sorted(set(saved) - set(names))
    if unknown:
        raise ValueError(f"parameters {unknown} are unknown to {klass.__name__} in skmmvae {__version__}")
    # parameters newer than the file: the value that its model was built with or trained
    # with where that is recorded (ARCHITECTURE_BEFORE, TRAINING_BEFORE), else the default
    defaults = {name: p.default for name, p in inspect.signature(klass.__init__).parameters.items()}
    defaults.update(ARCHITECTURE_BEFORE)
    defaults.update(TRAINING_BEFORE)
    state = {name: params.get(name, saved.get(name, defaults[name])) for name in names}
    for name, value in metadata["attributes"].items():
        if not _allowed_attribute(klass, name):
            raise ValueError(f"unexpected attribute name {name!r}")
        state[name] = _decode(value)
        _check_attribute(name, state[name])
    schema = metadata["schema"]
    if set(schema) != _SCHEMA_KEYS:
        raise ValueError(f"the schema has entries {sorted(schema)}, expected {sorted(_SCHEMA_KEYS)}")
    if schema["input_kind"] not in _INPUT_KINDS:
        raise ValueError(f"input_kind must be one of {_INPUT_KINDS}, got {schema['input_kind']!r}")
    fields = {f.name for f in dataclasses.fields(ModalityInfo)}
    required = fields - _OPTIONAL_MODALITY_FIELDS
    modalities = []
    for info in _as_list(schema["modalities"]):
        if not isinstance(info, dict) or not required <= set(info) <= fields:
            raise ValueError(f"a modality is described by {sorted(info)}, expected {sorted(fields)}")
        info = {k: _decode(v) for k, v in info.items()}
        _check_modality(info)
        modalities.append(ModalityInfo(**info))
    names_ = [info.name for info in modalities]
    if not names_ or len(set(names_)) != len(names_):
        raise ValueError(f"modality names must be unique and not none, got {names_}")
    if "modality_names_" in state and state["modality_names_"] != names_:
        raise ValueError(f"modality_names_ {state['modality_names_']} differ from the schema's {names_}")
    state["_schema"] = Schema(modalities, schema["input_kind"])
    unknown = sorted(set(state.get("class_temperatures_") or {}) - set(state["_schema"].categorical))
    if unknown:
        raise ValueError(f"class_temperatures_ names {unknown}, which are not categorical "
                         f"modalities of the schema {state['_schema'].categorical}")
    rows = _decode(_as_list(metadata["history"]))
    if not all(isinstance(row, dict) for row in rows):
        raise ValueError("history rows must be objects")
    state["history_"] = History(rows)
    state[_VERSION] = metadata.get("skmmvae_version")
    return state


def _check_fitted_size(state, path):
    """``n_components_`` is the latent size of the recorded architecture (the weights' size,
    which ``_check_sizes`` checked), and ``decoder_skip_`` its decoders' path: where it is not
    recorded, the model has the architecture of models fitted before it was
    (``ARCHITECTURE_BEFORE``), as ``__setstate__`` builds it."""
    architecture = {**ARCHITECTURE_BEFORE, **(state.get("_architecture") or {})}
    for name in ("n_components", "decoder_skip", "encoder_skip", "aggregation"):
        recorded, fitted = architecture.get(name), name + "_"
        if fitted in state and recorded is not None and state[fitted] != recorded:
            raise ValueError(f"{path} is not a valid skmmvae model file: {fitted} "
                             f"{state[fitted]} differs from the recorded architecture's {recorded}")


def _check_metadata_keys(metadata, path):
    """Exactly the entries ``save`` writes, each of its JSON type."""
    missing = [key for key in _METADATA_TYPES if key not in metadata]
    if missing:
        raise ValueError(
            f"{path} is not a valid skmmvae model file: bad metadata (missing {missing[0]!r})"
        )
    unknown = sorted(set(metadata) - set(_METADATA_TYPES))
    if unknown:
        raise ValueError(
            f"{path} is not a valid skmmvae model file: bad metadata (unknown entries {unknown})"
        )
    for key, kind in _METADATA_TYPES.items():
        value = metadata[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(
                f"{path} is not a valid skmmvae model file: bad metadata ({key} is a "
                f"{type(value).__name__}, expected a {kind.__name__})"
            )


def _allowed_attribute(klass, name):
    """Whether a file may set the fitted attribute ``name`` of a ``klass``."""
    if not _ATTRIBUTE_NAME.match(name) or name in klass._get_param_names():
        return False
    if name.startswith("_"):
        return name in _PRIVATE_ATTRIBUTES
    # public fitted attributes end with "_"; none may shadow what the class defines
    return name.endswith("_") and not hasattr(klass, name) and name not in ("module_", "net_")


def _check_attribute(name, value):
    if name in _INT_ATTRIBUTES:
        low, high = _INT_ATTRIBUTES[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"attribute {name} must be an integer in [{low}, {high}], got {value!r}")
    elif name == "hidden_layer_sizes_":
        if not isinstance(value, tuple) or not all(_is_size(h) for h in value):
            raise ValueError(f"attribute hidden_layer_sizes_ must be a tuple of positive integers, got {value!r}")
    elif name == "embedding_size_":
        if not _is_size(value):
            raise ValueError(f"attribute embedding_size_ must be a positive integer, got {value!r}")
    elif name in ("decoder_skip_", "encoder_skip_", "early_stopping_"):
        if not isinstance(value, bool):
            raise ValueError(f"attribute {name} must be a boolean, got {value!r}")
    elif name == "aggregation_":
        if not isinstance(value, str) or value not in AGGREGATORS:  # a list is unhashable
            raise ValueError(f"attribute aggregation_ must be one of {sorted(AGGREGATORS)}, got {value!r}")
    elif name == "weight_decay_":
        if isinstance(value, bool) or not isinstance(value, float) or not (math.isfinite(value) and value >= 0):
            raise ValueError(f"attribute weight_decay_ must be a non-negative finite number, got {value!r}")
    elif name == "class_temperatures_":
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, float) and math.isfinite(v) and v > 0
            for k, v in value.items()
        ):
            raise ValueError("attribute class_temperatures_ must be an object of positive finite "
                             f"numbers, got {value!r}")
    elif name == "_architecture":
        # the parameters that decide the fitted module (the rebuild checks their values)
        if not isinstance(value, dict) or not set(value) <= set(ARCHITECTURE):
            raise ValueError(f"attribute _architecture must be an object with keys among {list(ARCHITECTURE)}")
        # the rebuild takes the values as they are (bool("false") is True, int("3") is 3):
        # they must satisfy the estimator's own constraints on these parameters
        from .estimator import MultiModalVAE

        constraints = MultiModalVAE._parameter_constraints
        try:
            validate_parameter_constraints({key: constraints[key] for key in value}, value,
                                           caller_name="the recorded architecture")
        except InvalidParameterError as exc:
            raise ValueError(f"attribute _architecture: {exc}") from None
        if "n_components" in value and not _is_size(value["n_components"]):  # not "auto"
            raise ValueError("attribute _architecture: n_components must be a positive integer, "
                             f"got {value['n_components']!r}")
        for key in ("decoder_skip", "encoder_skip"):
            if key in value and not isinstance(value[key], bool):  # not "auto"
                raise ValueError(f"attribute _architecture: {key} must be a boolean, "
                                 f"got {value[key]!r}")
        if value.get("aggregation") == "auto":
            raise ValueError("attribute _architecture: aggregation must be a fitted aggregation, "
                             "not 'auto'")
    elif name == "latent_selection_":
        sizes, errors, epochs = (value.get(key) if isinstance(value, dict) else None
                                 for key in ("n_components", "validation_error", "epochs"))
        keys = {"n_components", "validation_error"}  # and "epochs" since the race
        if (not isinstance(value, dict) or set(value) not in (keys, keys | {"epochs"})
                or not isinstance(sizes, list) or not all(_is_size(s) for s in sizes)
                or not isinstance(errors, list) or len(errors) != len(sizes)
                or not all(isinstance(e, float) for e in errors)
                or ("epochs" in value and not (isinstance(epochs, list) and len(epochs) == len(sizes)
                                               and all(_is_size(e) for e in epochs)))):
            raise ValueError("attribute latent_selection_ must be an object of lists n_components "
                             "(positive integers), validation_error (numbers) and, optionally, "
                             f"epochs (positive integers), got {value!r}")
    elif name == "_expert_rank":
        if value is not None and not _is_size(value):
            raise ValueError(f"attribute _expert_rank must be a positive integer or null, got {value!r}")
    elif name == "modality_names_":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("attribute modality_names_ must be a list of strings")
    elif name == "categories_":
        if not isinstance(value, dict):
            raise ValueError("attribute categories_ must be an object")
    elif name == "feature_names_in_":
        if not isinstance(value, np.ndarray) or value.ndim != 1:
            raise ValueError("attribute feature_names_in_ must be a 1-D array")


def _is_size(value):
    """Whether ``value`` is a width or rank (an integer in [1, _MAX_SIZE])."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= _MAX_SIZE


# Fields added to ModalityInfo since format version 1: files written before lack them (their
# dataclass defaults apply).
_OPTIONAL_MODALITY_FIELDS = {"missing_cells", "offset"}


def _check_modality(info):
    """Types and ranges of one decoded modality description."""
    if not isinstance(info["name"], str):
        raise ValueError("a modality name must be a string")
    if not isinstance(info["likelihood"], str):
        raise ValueError(f"modality {info['name']!r}: likelihood must be a string")
    if not isinstance(info["options"], dict):
        raise ValueError(f"modality {info['name']!r}: options must be an object")
    if not isinstance(info["one_hot"], bool):
        raise ValueError(f"modality {info['name']!r}: one_hot must be true or false")
    if not isinstance(info.get("missing_cells", False), bool):
        raise ValueError(f"modality {info['name']!r}: missing_cells must be true or false")
    if info["feature_names"] is not None and not isinstance(info["feature_names"], list):
        raise ValueError(f"modality {info['name']!r}: feature_names must be a list")
    if info["classes"] is not None and not isinstance(info["classes"], np.ndarray):
        raise ValueError(f"modality {info['name']!r}: classes must be an array")
    offset = info.get("offset")
    if offset is not None and not (isinstance(offset, np.ndarray) and offset.dtype == np.float64
                                   and offset.shape == (info["n_input"],) and np.isfinite(offset).all()):
        raise ValueError(f"modality {info['name']!r}: offset must be a finite float64 array of "
                         f"one value per feature")


# the parameters of the built-in decoders' linear paths (decoder_skip=True), and the names
# the built-in encoders' parameters have with and without theirs (encoder_skip=True)
_LINEAR_PATH_KEY = re.compile(r"decoders\.\d+\.module\.skip\.|decoder_stacks\.\d+\.skip_weight$")
_ENCODER_PATH_KEY = re.compile(r"encoders\.\d+\.(skip|body)\.|encoder_stacks\.\d+\.skip_weight$")


def _check_sizes(klass, state, path):
    """The network the metadata describes, built on the meta device (no memory), must have
    the weights' names and shapes: checked before the real network is built."""
    module_state = state[_MODULE_STATE]
    # custom encoders/decoders (given to load) are checked when the weights are loaded into them
    custom = state.get("encoders") is not None or state.get("decoders") is not None
    probe = klass.__new__(klass)
    probe.__dict__.update(
        {k: v for k, v in state.items() if k not in _TRAINING_KEYS}
    )
    for param in ("encoders", "decoders"):
        # parameter-free stand-ins (their weights are left out below): the built-in network in
        # place of a custom one would join the stack of the other modalities of its width
        networks = probe.__dict__.get(param)
        if networks is not None:
            probe.__dict__[param] = {name: None if net is None else torch.nn.Identity()
                                     for name, net in networks.items()}
    try:
        with torch.device("meta"):
            expected = probe._build_module(fitted=True).state_dict()
    except Exception as exc:  # noqa: BLE001 - sizes or options the network refuses
        raise ValueError(
            f"{path} is not a valid skmmvae model file: its weights and metadata do not make a "
            f"model (the network its metadata describes cannot be built: "
            f"{type(exc).__name__}: {exc})"
        ) from exc
    if custom:
        expected = {
            k: v for k, v in expected.items() if not k.startswith(("encoders.", "decoders."))
        }
        module_state = {k: v for k, v in module_state.items() if k in expected}
    stacked = any(k.startswith(("encoder_stacks.", "decoder_stacks.")) for k in expected)
    if stacked and not any(k.startswith(("encoder_stacks.", "decoder_stacks.")) for k in module_state):
        raise ValueError(
            f"{path} was saved by an skmmvae build from before the networks of modalities of one "
            "shape were stacked (one parameter per layer for all of them): its weights are in "
            "the earlier layout, which this version does not read. Fit the model again with this "
            "version and save it."
        )
    unmatched = sorted(set(expected) ^ set(module_state))
    problems = list(unmatched)
    problems += [
        f"{key}: {tuple(module_state[key].shape)} in the file, {tuple(tensor.shape)} "
        "from the metadata"
        for key, tensor in expected.items()
        if key in module_state and module_state[key].shape != tensor.shape
    ]
    if problems:
        # decoder_skip decides whether the built-in decoders' linear paths exist: it is the
        # cause when such a parameter is in one of file and metadata only (matched by the
        # key's structure: a modality's name, such as "skipgram", may hold "skip" too)
        skip = any(_LINEAR_PATH_KEY.match(key) for key in unmatched)
        encoder_skip = any(_ENCODER_PATH_KEY.match(key) for key in unmatched)
        raise ValueError(
            f"{path} is not a valid skmmvae model file: its weights and metadata do not make a "
            f"model: the weights do not fit the network the metadata describes (n_components, "
            f"hidden_layer_sizes, embedding_size, modality widths"
            + (", decoder_skip: the decoders' linear paths" if skip else "")
            + (", encoder_skip: the encoders' linear paths" if encoder_skip else "")
            + f"): {problems[:5]}"
        )


def _check_weights(weights, path):
    """``{_module_state: ..., _optimizer_state: ...}`` after checking their structure."""
    module = weights.get("module") if isinstance(weights, dict) else None
    optimizer = weights.get("optimizer") if isinstance(weights, dict) else None
    if not isinstance(module, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in module.items()
    ):
        raise ValueError(f"{path} is damaged: {WEIGHTS} does not hold a module state_dict")
    if optimizer is not None and not isinstance(optimizer, dict):
        raise ValueError(f"{path} is damaged: {WEIGHTS} holds no usable optimiser state")
    state = {_MODULE_STATE: module}
    if optimizer is not None:
        state[_OPTIMIZER_STATE] = optimizer
    return state
