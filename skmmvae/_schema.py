"""The layout learnt at fit (:class:`Schema`) and both directions of conversion.

:meth:`Schema.learn` fixes, at fit, the modality order, each modality's likelihood and options,
the column groups of a 2-D input, the classes of categorical modalities and which modalities
have missing cells. Afterwards the schema converts validated blocks to
:class:`~skmmvae._data.ModalityTensors` (:meth:`Schema.tensors`), model output back to the
user's representation (:meth:`Schema.to_user`, :meth:`Schema.join`), and answers what the
estimator asks of the layout (the likelihood modules, the categories, a conditioning mask from
modality names). The containers and the validation of one block live in :mod:`._data`, the
input's column layout in :mod:`._layout`.
"""
import inspect
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from ._data import (
    ModalityTensors,
    check_float32_range,
    has_missing_cells,
    is_label_block,
    observed_rows,
    shared_tensor,
)
from .nn import LIKELIHOODS, make_likelihood


# Fraction of the observed cells of a modality with missing cells that training hides from its
# encoder at random (see Likelihood.cell_dropout). Measured on the cell-wise quality regimes
# (benchmarks/quality/cells.py): 0.2 lowered the error by 4-11% against 0.
CELL_DROPOUT = 0.2

# Likelihoods of a location (any real shift of the data is a shift of the model): a modality
# of theirs whose features sit far from 0 relative to their spread is shifted before the
# float32 conversion, which would otherwise round its values to a coarse grid (1e9 + a signal
# of unit spread is rounded to multiples of 64: no signal left).
OFFSET_LIKELIHOODS = frozenset({"gaussian", "laplace"})
# A feature is shifted when its mean is more than this many standard deviations from 0:
# float32 then rounds it to steps of more than 1.2e-4 of a standard deviation (its relative
# spacing is 1.2e-7). Below, nothing changes (no copy of a float32 block).
OFFSET_RATIO = 1e3


def learn_offset(block):
    """The float64 per-feature shift of a training ``block`` (NaN where missing): the mean of
    a feature whose mean exceeds ``OFFSET_RATIO`` standard deviations, 0 for the others; None
    when no feature needs it. A constant feature is not shifted: the likelihoods model it
    at its own magnitude (see ``set_data_scaling``)."""
    values = np.asarray(block, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # features never observed
        mean = np.nanmean(values, 0)
        spread = np.nanstd(values, 0)
    far = np.isfinite(mean) & (spread > 0) & (np.abs(mean) > OFFSET_RATIO * spread)
    if not far.any():
        return None
    return np.where(far, mean, 0.0)


def label_modalities(likelihoods):
    """Names of the modalities that may hold non-numeric labels at fit (a set; ``ALL`` for
    all), from the ``likelihoods`` parameter (after fit: :meth:`Schema.label_modalities`)."""

    def name_of(spec):
        return spec if isinstance(spec, str) else spec[0] if isinstance(spec, (tuple, list)) and spec else None

    def labels(spec):
        name = name_of(spec)
        return isinstance(name, str) and name in LIKELIHOODS and LIKELIHOODS[name].is_label

    if likelihoods is None:
        return set()
    if isinstance(likelihoods, (str, tuple)):
        return ALL if labels(likelihoods) else set()
    if isinstance(likelihoods, dict):
        return {name for name, spec in likelihoods.items() if labels(spec)}
    return set()  # an invalid parameter: Schema.learn reports it


class _All:
    """The set of every name: ``likelihoods="categorical"`` makes every modality one of labels."""

    def __contains__(self, name):
        return True


ALL = _All()


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
    # per-feature float64 shift subtracted before the float32 conversion (see
    # ``learn_offset``), or None: the model sees ``x - offset`` and its output gets it back
    offset: np.ndarray = None

    @property
    def is_categorical(self):
        """Whether the modality holds class labels (one column of labels, or one-hot rows):
        what its likelihood class declares, the one place this is decided."""
        return LIKELIHOODS[self.likelihood].is_label

    @property
    def n_features(self):
        """Width of the model-side tensor (1 for categorical labels)."""
        return 1 if self.is_categorical else self.n_input


@dataclass
class Schema:
    """The layout learnt at fit: modality order, likelihoods, classes, column groups; and the
    conversions between the user's data and the model's tensors."""

    modalities: list
    input_kind: str  # "dict", "array" or "frame"

    @classmethod
    def learn(cls, blocks, kind, feature_names, groups, likelihoods):
        """The schema of validated training ``blocks`` (see :func:`to_blocks`): the order and
        likelihood of each modality (checked options), the classes of categorical ones (from
        their observed labels, unless ``categories`` fixes them) and which have missing
        cells."""
        specs = _likelihood_specs(likelihoods, list(blocks))
        modalities = []
        for name, block in blocks.items():
            lik, options = specs[name]
            _check_likelihood_options(name, lik, options, block.shape[1])
            info = ModalityInfo(name, block.shape[1], lik, options, None if groups is None else groups[name])
            info.feature_names = feature_names.get(name) or [f"{name}{i}" for i in range(block.shape[1])]
            info.one_hot = info.is_categorical and block.shape[1] > 1
            info.missing_cells = not info.is_categorical and has_missing_cells(block)
            if lik in OFFSET_LIKELIHOODS:
                info.offset = learn_offset(block)
            if "categories" in options:
                if info.one_hot:
                    raise ValueError(
                        f"modality {name!r}: the 'categories' option is for one column of labels; "
                        f"one-hot rows fix the classes by their {block.shape[1]} columns"
                    )
                info.classes = options["categories"]  # checked and sorted by _check_likelihood_options
            elif info.is_categorical and not info.one_hot:
                info.classes = learn_classes(block, info)
            modalities.append(info)
        return cls(modalities, kind)

    @property
    def names(self):
        return [m.name for m in self.modalities]

    @property
    def categorical(self):
        """Names of the categorical modalities."""
        return [m.name for m in self.modalities if m.is_categorical]

    def label_modalities(self):
        """Names of the categorical modalities given as labels (not one-hot rows): the ones
        that may hold non-numeric labels."""
        return {m.name for m in self.modalities if m.is_categorical and not m.one_hot}

    def categories(self):
        """``categories_``: the classes of each categorical modality (one-hot: column order)."""
        return {m.name: np.arange(m.n_input) if m.one_hot else m.classes.copy()
                for m in self.modalities if m.is_categorical}

    def likelihoods(self):
        """The likelihood modules ``{name: Likelihood}`` of the model, in modality order."""
        out = {}
        for info in self.modalities:
            opts = {k: v for k, v in info.options.items() if k not in SCHEMA_OPTIONS}
            if info.is_categorical:
                opts["n_classes"] = len(info.classes) if not info.one_hot else info.n_input
            out[info.name] = make_likelihood(info.likelihood, info.n_features, **opts)
            if info.missing_cells:  # the encoder sees the cell mask, and learns to fill cells
                out[info.name].missing_cells = True
                out[info.name].cell_dropout = CELL_DROPOUT
        return out

    def tensors(self, blocks, dtype=torch.float32):
        """Validate ``blocks`` against the schema and build :class:`ModalityTensors`
        (modalities absent from ``blocks`` are missing in every row)."""
        return to_tensors(blocks, self, dtype=dtype)

    def check_known(self, blocks, n_columns=None):
        """Refuse blocks of modalities the schema does not know."""
        unknown = sorted(set(blocks) - set(self.names))
        if unknown:
            hint = "" if self.input_kind == "dict" else (
                f" (from a 2-D input with {n_columns} columns: pass one like it, or a "
                "dict with these names)"
            )
            raise ValueError(f"unknown modalities {unknown}; the estimator was fitted with {self.names}{hint}")

    def mask(self, mask, modalities, what="modalities"):
        """``mask`` ``(B, M)`` restricted to the named ``modalities`` (None: unchanged)."""
        if modalities is None:
            return mask
        if isinstance(modalities, str):
            modalities = [modalities]
        try:
            modalities = list(modalities)
        except TypeError:
            raise TypeError(f"{what} must be a modality name or a list of names, got {modalities!r}") from None
        if not modalities:
            raise ValueError(f"{what} is empty: name at least one modality, or pass None for all")
        unknown = sorted(set(modalities) - set(self.names), key=str)
        if unknown:
            raise ValueError(f"unknown modalities {unknown} in {what}; known: {self.names}")
        keep = torch.tensor([n in modalities for n in self.names])
        return mask & keep.to(mask.device)

    @staticmethod
    def to_user(mean, info):
        """Model-space means (or draws) of a modality in the user's representation: class
        labels (or one-hot rows) for a categorical modality, the values otherwise."""
        if not info.is_categorical:
            return mean if info.offset is None else mean + info.offset
        codes = mean.argmax(-1)
        if info.one_hot:
            return np.eye(info.n_input)[codes]
        return info.classes[codes][:, None]

    @property
    def n_columns(self):
        """Columns of a 2-D input (the sum of the modalities' widths)."""
        return sum(m.n_input for m in self.modalities)

    @property
    def n_output_columns(self):
        """Columns of the data as the decoders give them back: a categorical modality counts
        its classes, whether given as one column of labels or as one-hot rows (the same
        model either way)."""
        return sum(self.output_widths())

    def output_widths(self):
        """Each modality's columns as the decoders give them back (see ``n_output_columns``)."""
        return [len(m.classes) if m.is_categorical and not m.one_hot else m.n_input
                for m in self.modalities]

    def join(self, blocks):
        """The blocks of a 2-D layout put back in their columns."""
        n = next(iter(blocks.values())).shape[0]
        out = self.empty_table(n, [b.dtype for b in blocks.values()])
        for info in self.modalities:
            out[:, info.columns] = blocks[info.name]
        return out

    def empty_table(self, n, dtypes):
        """An uninitialised 2-D array of ``n`` rows in the input's columns (object dtype when
        a block of ``dtypes`` holds string labels)."""
        return np.empty((n, self.n_columns), np.result_type(*dtypes))

    def empty_blocks(self, n, blocks):
        """Uninitialised ``{name: (n, width)}`` arrays in the dtypes of ``blocks`` (float64,
        or object for string labels, for modalities that ``blocks`` lacks)."""
        def dtype(info):
            if info.name in blocks:
                return blocks[info.name].dtype
            string_labels = info.classes is not None and info.classes.dtype == object
            return object if string_labels else np.float64

        return {info.name: np.empty((n, info.n_input), dtype(info)) for info in self.modalities}

    def feature_names_out(self):
        """The input's feature names in its column order (an imputer keeps its columns)."""
        names = [f for info in self.modalities for f in info.feature_names]
        if self.input_kind != "dict":
            order = np.argsort([c for info in self.modalities for c in info.columns])
            names = [names[i] for i in order]
        return np.asarray(names, dtype=object)


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
SCHEMA_OPTIONS = ("categories",)  # of likelihoods of class labels (is_label)


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
    schema_options = set(SCHEMA_OPTIONS) if cls.is_label else set()
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



def check_support(block, observed, info):
    """Raise if observed values fall outside the likelihood's support (which the likelihood
    class declares and checks; missing cells are not checked)."""
    needs = LIKELIHOODS[info.likelihood].check_data(torch.as_tensor(block[observed]))
    if needs is not None:
        raise ValueError(f"modality {info.name!r}: the {info.likelihood} likelihood needs {needs}")


def learn_classes(block, info):
    """The classes of a categorical modality given as one column of labels: its observed
    labels, sorted (integers as numbers, strings as strings)."""
    name = info.name
    if block.shape[1] != 1:
        raise ValueError(f"modality {name!r}: categorical labels must be one column")
    labels = block[observed_rows(block, name), 0]
    if is_label_block(block):
        _check_all_strings(labels, name)
        classes = np.array(sorted({str(v) for v in labels}), dtype=object)
    else:
        if (labels != np.round(labels)).any():
            raise ValueError(f"modality {name!r}: categorical labels must be integers")
        classes = np.unique(labels)
    if classes.size < 2:
        raise ValueError(f"modality {name!r}: a categorical modality needs at least 2 classes")
    return classes


def _check_all_strings(labels, name):
    kinds = sorted({type(v).__name__ for v in labels if not isinstance(v, str)})
    if kinds:
        raise TypeError(
            f"modality {name!r}: categorical labels must be all numbers or all strings, got "
            f"strings mixed with {kinds}"
        )


def categorical_codes(block, observed, info):
    """Class indices ``(n, 1)`` of a categorical modality given as labels or one-hot rows
    (the classes are the schema's)."""
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
    string_classes = info.classes.dtype == object
    if is_label_block(block):
        return _string_codes(labels, observed, info, string_classes)
    if string_classes and labels.size:
        raise ValueError(
            f"modality {name!r}: got numeric labels, but the estimator was fitted with string "
            f"labels {info.classes[:5].tolist()}"
        )
    if (labels != np.round(labels)).any():
        raise ValueError(f"modality {name!r}: categorical labels must be integers")
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


def _string_codes(labels, observed, info, fitted_with_strings):
    """Class indices ``(n, 1)`` of string labels (classes sorted as strings)."""
    name = info.name
    _check_all_strings(labels, name)
    if not fitted_with_strings:
        raise ValueError(
            f"modality {name!r}: got string labels, but the estimator was fitted with numeric "
            f"labels {info.classes[:5].tolist()}"
        )
    lookup = {label: code for code, label in enumerate(info.classes)}
    positions = np.fromiter((lookup.get(v, -1) for v in labels), dtype=np.int64, count=len(labels))
    unseen = positions < 0
    if unseen.any():
        raise ValueError(_unseen_message(info, sorted(set(labels[unseen]))[:5]))
    codes = np.zeros((observed.shape[0], 1))
    codes[observed, 0] = positions
    return codes


def to_tensors(blocks, schema, dtype=torch.float32):
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
        if info.is_categorical:
            values = categorical_codes(block, observed, info)
        else:
            check_support(block, observed, info)
            if info.offset is not None:
                block = np.asarray(block, dtype=np.float64) - info.offset  # a new array
            if np_dtype == np.float32 and block.dtype != np.float32:
                check_float32_range(block, info.name)
            shared = shared_tensor(block, np_dtype) if info.offset is None else None
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


