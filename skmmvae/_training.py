"""Building and training the model of a ``MultiModalVAE``.

:class:`TrainingMixin` turns the fitted schema and the parameters into the torch module
(``_build_module``) and the skorch net that trains it (``_build_net``), prepares a fit
(``_initialize``: validation, schema, seeds, data scaling, checks) and runs the training loop
of ``fit`` and ``partial_fit`` (``_train``). The public ``fit`` and ``partial_fit`` stay in the
estimator's class body.
"""
import copy
import numbers
import warnings

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

from . import _inference
from ._latent_size import latent_size
from ._layout import from_single_cell
from ._net import ValidationEarlyStopping
from ._progress import EpochProgress
from ._runtime import seeded, check_device
from ._calibration import fit_temperatures
from ._usefulness import usefulness_warning
from ._sizes import auto_rank, auto_width
from ._small_data import auto_early_stopping, auto_holds_out, auto_weight_decay, validation_rows
from ._wide_latent import NARROW_LATENT, auto_aggregation, auto_decoder_skip, auto_encoder_skip
from .nn import MultiModalModule

# The parameters that decide the architecture of the module: a fit records them
# (``_architecture``) so that the fitted module is rebuilt as fitted (pickle, load).
ARCHITECTURE = ("n_components", "aggregation", "n_prior_components", "n_private_components",
                "activation", "aggregator_options", "decoder_skip", "encoder_skip")
# The architecture of models fitted before a parameter of ARCHITECTURE existed: a recorded
# architecture without it (a file or pickle of an earlier release) had this value.
ARCHITECTURE_BEFORE = {"decoder_skip": False, "encoder_skip": False}

# Components of the *_mixture aggregators' posteriors when n_prior_components is 1.
_MIXTURE_DEFAULT_COMPONENTS = 5


def _mixture_components(n_prior_components):
    """Components of a ``*_mixture`` posterior: the prior's, or the default for N(0, I)."""
    return n_prior_components if n_prior_components > 1 else _MIXTURE_DEFAULT_COMPONENTS


class TrainingMixin:
    """Building, initialising and training the model of :class:`~skmmvae.MultiModalVAE`."""

    def _check_hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, str):  # "auto" (validated with the other parameters)
            return
        if not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {sizes!r}")

    def _check_callbacks(self):
        """Each item of ``callbacks`` as skorch takes it: a ``Callback`` instance or class, or a
        ``(name, callback)`` pair (callback ``None``: left out). skorch itself fails at fit
        with "'str' object has no attribute 'set_params'"."""
        def callback(cb):
            return isinstance(cb, Callback) or (isinstance(cb, type) and issubclass(cb, Callback))

        for i, item in enumerate(self.callbacks or []):
            pair = isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)
            if not ((callback(item[1]) or item[1] is None) if pair else callback(item)):
                raise InvalidParameterError(  # a ValueError and a TypeError
                    f"The 'callbacks' parameter of {type(self).__name__} must be a list of skorch "
                    "callbacks: Callback instances or classes, or (name, callback) pairs with a "
                    f"string name (callback None to leave it out). Got {item!r} at position {i}."
                )

    def _check_auto_aggregation(self):
        """``aggregation="auto"`` is a product of experts at every size, whose N(0, I) prior
        expert cannot agree with a mixture prior: say so in terms of the parameters the user
        set (the module's own error names the resolved aggregation, which they never set)."""
        if self.aggregation == "auto" and int(self.n_prior_components) > 1:
            raise ValueError(
                f"aggregation='auto' (the default) is a product of experts ('poe_full' up to "
                f"{NARROW_LATENT} latent dimensions, 'poe' beyond), which multiplies the experts "
                "with a N(0, I) prior expert that cannot agree with a mixture prior "
                f"(n_prior_components={self.n_prior_components}); use n_prior_components=1, or set "
                "aggregation to one that takes the mixture prior: a permutation-invariant one such "
                "as 'sumpooling' or 'selfattention', or 'moe'"
            )

    def _check_networks(self):
        for param in ("encoders", "decoders"):
            unknown = sorted(set(getattr(self, param) or {}) - set(self._schema.names))
            if unknown:
                raise ValueError(
                    f"{param} names unknown modalities {unknown}; modalities are {self._schema.names}"
                )

    def _build_module(self, networks=True, fitted=False):
        """The module for the schema (``networks=False``: the built-in networks in place of
        custom ``encoders``/``decoders``, for a size estimate on the meta device). With
        ``fitted``, the module of the fitted model: its architecture and sizes as fitted
        (:meth:`_fitted_architecture`, :meth:`_fitted_sizes`), whatever ``set_params`` changed
        since; else the one the parameters give (a new fit)."""
        arch = self._fitted_architecture() if fitted else self._architecture_params()
        hidden_sizes, embedding_size, rank = self._fitted_sizes() if fitted else self._resolved_sizes()
        options = dict(arch["aggregator_options"] or {})
        if rank is not None:
            options["rank"] = rank
        liks = self._schema.likelihoods()
        n_prior = int(arch["n_prior_components"])
        return MultiModalModule(
            liks,
            int(arch["n_components"]),
            aggregation=arch["aggregation"],
            n_prior_components=n_prior,
            n_private=int(arch["n_private_components"]),
            hidden_sizes=hidden_sizes,
            embedding_size=embedding_size,
            activation=arch["activation"],
            init=self.weight_init,
            encoders=copy.deepcopy(self.encoders) if networks else None,
            decoders=copy.deepcopy(self.decoders) if networks else None,
            n_mixture_components=_mixture_components(n_prior),
            aggregator_options=options,
            decoder_skip=arch["decoder_skip"],
            encoder_skip=arch["encoder_skip"],
        )

    def _architecture_params(self):
        """The parameters that decide the module's architecture (``ARCHITECTURE``), as plain
        data: numpy integers (GridSearchCV over np.arange) are not ints to torch."""
        arch = {name: getattr(self, name) for name in ARCHITECTURE}
        arch["n_components"] = latent_size(self)
        for name in ("n_prior_components", "n_private_components"):
            arch[name] = int(arch[name])
        arch["aggregator_options"] = dict(arch["aggregator_options"]) if arch["aggregator_options"] else None
        arch["decoder_skip"] = self._resolved_decoder_skip()
        arch["aggregation"] = self._resolved_aggregation()
        arch["encoder_skip"] = self._resolved_encoder_skip()
        return arch

    def _resolved_weight_decay(self):
        """``weight_decay`` as a number: ``"auto"`` decays where the fit's rows are few (see
        :mod:`skmmvae._small_data`) and for a wide latent space on wide data (see
        :mod:`skmmvae._wide_latent`), and not before a fit, which has neither."""
        if isinstance(self.weight_decay, str):
            schema = self.__dict__.get("_schema")
            return auto_weight_decay(self.__dict__.get("_n_fit_rows"),
                                     0 if schema is None else schema.n_output_columns,
                                     latent_size(self))
        return float(self.weight_decay)

    def _resolved_early_stopping(self):
        """``early_stopping`` as a boolean, for the training call under way (a ``partial_fit``
        continuation's own rows, ``_n_call_rows``, else the fit's): ``"auto"`` stops early where
        its validation split is large enough to choose an epoch on (see
        :mod:`skmmvae._small_data`), and before a fit; ``True`` where the split holds a row on
        either side (else there is nothing to stop on)."""
        n_rows, fraction = self._call_rows(), float(self.validation_fraction)
        if isinstance(self.early_stopping, str):
            return auto_early_stopping(n_rows, fraction)
        if not self.early_stopping or n_rows is None:
            return bool(self.early_stopping)
        return 1 <= validation_rows(n_rows, fraction) < n_rows

    def _validation_fraction(self):
        """The fraction of the training call's rows held out: ``validation_fraction``, or 0
        where ``early_stopping="auto"`` holds none out (too few for anything; every row
        trains)."""
        if isinstance(self.early_stopping, str) and not auto_holds_out(
                self._call_rows(), float(self.validation_fraction)):
            return 0.0
        return float(self.validation_fraction)

    def _call_rows(self):
        """The rows of the training call under way: a ``partial_fit`` continuation's own
        (``_n_call_rows``, set for its duration), else the fit's; None before a fit."""
        return self.__dict__.get("_n_call_rows", self.__dict__.get("_n_fit_rows"))

    def _resolved_aggregation(self):
        """``aggregation``, with ``"auto"`` resolved from the latent size (see
        :mod:`skmmvae._wide_latent`), or ``"poe_full"`` at any size where ``aggregator_options``
        are given: they are its options (``"poe"`` takes none; before ``"auto"``, the default
        ``"poe_full"`` took them at every size)."""
        if self.aggregation != "auto":
            return self.aggregation
        if self.aggregator_options:
            return "poe_full"
        return auto_aggregation(latent_size(self))

    def _resolved_encoder_skip(self):
        """``encoder_skip`` as a boolean: ``"auto"`` follows the aggregation, the latent size
        and, like ``decoder_skip``, the fit's rows against the data's columns (see
        :mod:`skmmvae._wide_latent`)."""
        if not isinstance(self.encoder_skip, str):
            return bool(self.encoder_skip)
        return auto_encoder_skip(latent_size(self), self._resolved_aggregation())

    def _resolved_decoder_skip(self):
        """``decoder_skip`` as a boolean: ``"auto"`` is True when the rows of the fit outnumber
        the data's columns, a categorical modality counted by its classes (labels and one-hot
        rows alike), and before a fit, which has neither, or when the latent space is wide
        (see :mod:`skmmvae._wide_latent`); False otherwise."""
        if not isinstance(self.decoder_skip, str):
            return bool(self.decoder_skip)
        return auto_decoder_skip(latent_size(self), self._rows_outnumber_columns())

    def _rows_outnumber_columns(self):
        """Whether the rows of the fit outnumber the data's columns (a categorical modality
        counted by its classes); True before a fit, which has neither."""
        rows, schema = self.__dict__.get("_n_fit_rows"), self.__dict__.get("_schema")
        return rows is None or schema is None or rows > schema.n_output_columns

    def _warn_architecture_changed(self):
        """Warn where ``set_params`` changed the architecture since the fit: ``partial_fit``
        trains the fitted module on, and only a new ``fit`` uses the new values."""
        fitted, now = self._fitted_architecture(), self._architecture_params()
        changed = [name for name in ARCHITECTURE if now[name] != fitted[name]]
        for name in ("decoder_skip", "encoder_skip"):
            if not self._fitted_sizes()[0] and name in changed:
                changed.remove(name)  # networks without hidden layers are linear either way
        if self._resolved_sizes()[:2] != self._fitted_sizes()[:2]:
            changed += ["hidden_layer_sizes/embedding_size"]
        if changed:
            warnings.warn(
                f"{', '.join(changed)} changed since the fit: partial_fit trains the fitted model "
                "on, whose architecture stays as fitted; call fit to train a model with the new "
                "values",
                UserWarning,
                stacklevel=4,  # the caller of partial_fit
            )

    def _fitted_architecture(self):
        """The architecture parameters of the fitted module: as recorded by its fit
        (``_architecture``), not as ``set_params`` may have changed them since (``partial_fit``
        keeps training the fitted module; pickling and loading rebuild it). A model fitted
        before they were recorded has them in its parameters."""
        recorded = self.__dict__.get("_architecture")
        if recorded is None:
            return self._architecture_params()
        return {**self._architecture_params(), **ARCHITECTURE_BEFORE, **recorded}

    def _resolved_sizes(self):
        """``(hidden_sizes, embedding_size, expert_rank)`` from the parameters, ``"auto"``
        resolved from the number of modalities (see :mod:`skmmvae._sizes`): the hidden widths,
        the token width, and the rank of ``poe_full``'s experts (None for the other
        aggregations)."""
        width = auto_width(len(self._schema.names))
        hidden = self.hidden_layer_sizes
        hidden = (width, width) if isinstance(hidden, str) else tuple(int(h) for h in hidden)
        embedding = width if isinstance(self.embedding_size, str) else int(self.embedding_size)
        rank = None
        if self._resolved_aggregation() == "poe_full":
            d = latent_size(self)
            auto = auto_rank(len(self._schema.names), d, self._schema.n_output_columns)
            rank = (self.aggregator_options or {}).get("rank", auto)
            rank = d if rank is None else rank
        return hidden, embedding, rank

    def _fitted_sizes(self):
        """``(hidden_sizes, embedding_size, expert_rank)`` of the fitted module: its fitted
        attributes ``hidden_layer_sizes_``, ``embedding_size_`` and ``_expert_rank``, which
        parameters set since (``partial_fit`` keeps the architecture) do not change. A model
        fitted before they were recorded (before ``"auto"`` sizes) has its sizes in its
        parameters and experts of the rank ``aggregator_options`` gives (full by default)."""
        state = self.__dict__
        if "hidden_layer_sizes_" not in state:
            hidden, embedding, _ = self._resolved_sizes()
            return hidden, embedding, None
        rank = state["_expert_rank"] if "_expert_rank" in state else self._resolved_sizes()[2]
        return tuple(int(h) for h in state["hidden_layer_sizes_"]), int(state["embedding_size_"]), rank

    def _n_mixture_components(self):  # of a new fit
        return _mixture_components(int(self.n_prior_components))

    def _build_net(self, module, device):
        callbacks = list(self.callbacks or [])
        weight_decay = self._resolved_weight_decay()
        setup = self._training_setup()
        sink = setup.sink(self.verbose)
        if self._resolved_early_stopping():
            callbacks.append(
                (
                    "early_stopping",
                    ValidationEarlyStopping(
                        monitor="valid_loss",
                        patience=self.n_iter_no_change,
                        threshold=0.0,
                        threshold_mode="abs",  # any decrease counts; the loss can be negative
                        load_best=True,
                        sink=sink,
                    ),
                )
            )
        if self.verbose and setup.main_process:
            # one line per epoch that fits a terminal (skorch's table has a column per term)
            callbacks.append(("progress", EpochProgress(total=int(self.max_epochs), sink=sink)))
        net = setup.net_class(
            module,
            objective=self.objective,
            beta=self.beta,
            kl_warmup=self._kl_warmup(),
            valid_fraction=self._validation_fraction(),
            split_seed=self._split_seed,
            # decoupled weight decay where asked for (or small data); else Adam as it always was
            optimizer=torch.optim.AdamW if weight_decay > 0 else torch.optim.Adam,
            **({"optimizer__weight_decay": weight_decay} if weight_decay > 0 else {}),
            # one fused kernel for all parameters instead of a loop over them (steps 1.03-1.19x
            # faster on the CPU, most with small batches; see docs/benchmarks.rst)
            optimizer__fused=torch.device(setup.device or device).type in ("cpu", "cuda"),
            lr=float(self.lr),
            lr_schedule=self.lr_schedule,
            max_epochs=int(self.max_epochs),
            batch_size=self._training_batch_size(),
            device=setup.device or device,
            callbacks=callbacks,
            verbose=self.verbose,
            autocast_dtype=None if self.autocast is None else getattr(torch, self.autocast),
            compile_options=None if self.compile is False else ({} if self.compile is True else dict(self.compile)),
            **setup.net_options,
        )
        return net.initialize()

    def _kl_warmup(self):
        """``kl_warmup`` in epochs, with ``"auto"`` resolved to a quarter of ``max_epochs``."""
        return self.max_epochs // 4 if self.kl_warmup == "auto" else self.kl_warmup

    def _training_batch_size(self):
        """``batch_size``, with ``"auto"`` resolved from the number of training rows."""
        if self.batch_size != "auto":
            return int(self.batch_size)
        return min(256, max(32, getattr(self, "_n_fit_rows", 256) // 16))

    def _initialize(self, X):
        """Validate the training data, fix the schema and seeds, build module and net. A
        failure here (bad data, sizes beyond memory) leaves the estimator as it was: a model
        fitted before keeps its schema and module, which must never be paired with the
        schema of data it refused (that transformed rows with the wrong columns)."""
        before = dict(self.__dict__)
        try:
            return self._prepare(X)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    def _forget_earlier_fit(self):
        """Drop what an earlier fit left that a new fit may not set again: its size (one that
        failed in training keeps it; ``"auto"`` in a first ``partial_fit`` is the first size
        it chooses among) and the optimiser state an unpickled or loaded model waits with for
        its next ``partial_fit`` (a new fit's optimiser starts afresh; those moments, of
        another model, would train it on)."""
        from ._snapshot import OPTIMIZER_STATE  # it imports this module

        for name in ("n_components_", OPTIMIZER_STATE):
            self.__dict__.pop(name, None)

    def _prepare(self, X):
        X = from_single_cell(X, self.modalities)
        self._forget_earlier_fit()
        self._check_hidden_layer_sizes()
        self._check_callbacks()
        self._check_auto_aggregation()
        if not hasattr(self.accelerator, "prepare"):  # an Accelerator instance has its device
            check_device(self._device())
        tensors, _ = self._tensors(X, reset=True)
        self._n_fit_rows = len(tensors)
        random_state = check_random_state(self.random_state)
        self._seed = int(random_state.randint(np.iinfo(np.int32).max))
        setup = self._training_setup()
        # with an accelerator, the seed of process 0 everywhere: the same split, initial
        # weights and batches on every process
        self._seed = setup.shared_seed(self._seed)
        device = setup.device or self._device()
        self._split_seed = self._seed  # kept fixed across partial_fit calls
        self._check_fit_memory(device)
        self.modality_names_ = self._schema.names
        self.categories_ = self._schema.categories()
        self.hidden_layer_sizes_, self.embedding_size_, self._expert_rank = self._resolved_sizes()
        self._architecture = self._architecture_params()
        self.decoder_skip_ = self._architecture["decoder_skip"]
        self.encoder_skip_ = self._architecture["encoder_skip"]
        self.aggregation_ = self._architecture["aggregation"]
        self.weight_decay_ = self._resolved_weight_decay()
        self.early_stopping_ = self._resolved_early_stopping()
        self.n_components_ = self._n_features_out = self._architecture["n_components"]
        self.__dict__.pop("latent_selection_", None)  # set by an n_components="auto" fit
        with self._threads(), seeded(self._seed, device):
            module = self._build_module(fitted=True)
            # the moments (with standardize) and the count likelihoods' library sizes
            module.set_data_scaling(
                ((b.xs, b.mask) for b in self._batches(tensors, _inference.INFERENCE_CHUNK_ROWS, "cpu")),
                standardize=self.standardize,
            )
            self.net_ = self._build_net(module, device)
        self._warn_small_data(tensors.mask, module)
        # a failed fit leaves it unfitted
        for attr in ("module_", "history_", "n_iter_", "class_temperatures_"):
            self.__dict__.pop(attr, None)
        return tensors

    def _train(self, tensors, epochs, partial=False, horizon=None):
        """Train ``epochs`` epochs; ``horizon``: ``(first epoch, epochs)`` of the learning-rate
        schedule where it spans more than this call (a fit trained in parts, see
        :mod:`skmmvae._latent_size`)."""
        net = self.net_
        epochs_before = len(net.history)
        progress = dict(net.callbacks_).get("progress")
        if progress is not None:  # the budget of this call, or of the fit it is a part of
            progress.total = epochs if horizon is None else int(sum(horizon)) - epochs_before
        net.partial_fit(tensors, epochs=epochs, horizon=horizon)
        self._check_finite(net.module_, tensors)
        if net.interruption_ is not None:
            warnings.warn(net.interruption_, UserWarning, stacklevel=4)  # the caller of fit or partial_fit
        else:
            self._report_stop(net, epochs, epochs_before, partial)
        self.module_ = net.module_
        self.history_ = net.history
        self.n_iter_ = len(net.history)
        # predict_proba's temperatures for these weights (a failing partial_fit restores the
        # earlier weights and keeps their temperatures: they are set last)
        self.class_temperatures_ = fit_temperatures(self, tensors)
        if not partial and net.interruption_ is None:  # the end of a fit: is the model of use?
            message = usefulness_warning(self, tensors)
            if message is not None:
                try:
                    warnings.warn(message, UserWarning, stacklevel=4)  # the caller of fit
                except Warning:  # a filter made it an error: the fit failed, and leaves the
                    # estimator unfitted as the ConvergenceWarning above does
                    for attr in ("module_", "history_", "n_iter_", "class_temperatures_"):
                        self.__dict__.pop(attr, None)
                    raise
