"""``MultiModalVAE``: the scikit-learn face of the multi-modal VAE."""
import copy
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import HasMethods, InvalidParameterError, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _data, _persistence
from ._net import MultiModalNet, TrainingDivergedError, _EarlyStopping, _silent
from ._progress import EpochProgress
from ._runtime import (
    _module_device,
    _seeded,
    _to_cpu,
    _TorchThreads,
    check_device,
    memory_limit,
    release_free_memory,
)
from ._snapshot import _Snapshot
from ._version import __version__
from .nn import (
    AGGREGATORS,
    OBJECTIVES,
    MultiModalModule,
    iw_class_probabilities,
    iw_conditional_log_likelihood,
    iw_log_likelihood,
    make_likelihood,
)
from .nn.networks import ACTIVATIONS

_MIXTURE_DEFAULT_COMPONENTS = 5
# Fewer validation rows than this make early stopping's choice of epoch noise (a warning).
_MIN_VALIDATION_ROWS = 20
# More trainable weights than this per observed training value: a warning that the data are
# too few for the networks.
_MAX_WEIGHTS_PER_VALUE = 50
# Rows per inference batch (at least; ``batch_size`` if larger) and latent draws per scoring
# batch (rows x importance samples). Module constants so that tests can shrink them.
_MIN_INFERENCE_BATCH = 1024
_SCORE_BATCH_DRAWS = 2**16
# Inference batches are padded (with copies of their last row) to at least this many rows:
# torch's matrix kernels for a handful of rows round differently from those for more, which
# would make a row's result depend on the size of its batch (scikit-learn's
# check_methods_subset_invariance compares one row at a time with the whole set).
_MIN_BATCH_ROWS = 16
# Rows of user input validated and converted at a time by transform/predict/score: their
# temporary memory is bounded by this, not by the number of samples.
_INFERENCE_CHUNK_ROWS = 2**16
# Memory estimate that fit and the importance-sampling methods check before allocating (see
# MultiModalVAE._check_fit_memory and _check_score_memory): activations are counted as this many float32 copies of every
# built-in linear layer's input and output, per row and latent draw.
_ACTIVATION_FACTOR = 2


class MultiModalVAE(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Multi-modal variational autoencoder with a shared latent space.

    Learns ``p(z) prod_s p(x_s | z)`` over several modalities (views) of the same samples with
    an encoder ``q(z | x_S)`` defined for every subset ``S`` of modalities, following Hirt et
    al., *Learning multi-modal generative models with permutation-invariant encoders and tighter
    variational objectives* (TMLR 2024). Missing modalities (rows of NaN in a block) are
    handled at fit and at every later call.

    Parameters
    ----------
    modalities : dict, list of int or None, default=None
        Layout of a 2-D input: ``{name: width}``, ``{name: [columns]}`` (names or indices), or
        a list of widths (modalities ``"m0"``, ``"m1"``, ...). ``None`` makes a 2-D input one
        modality ``"x"`` (a plain VAE). Ignored for dict input, whose keys name the modalities.
    likelihoods : str, dict or None, default=None
        Observation model per modality: ``"gaussian"``, ``"laplace"``, ``"bernoulli"``,
        ``"categorical"`` or ``"poisson"``; a dict ``{name: spec}`` where a spec is a name or
        ``(name, options)``, e.g. ``("gaussian", {"scale": 1.0})`` for a fixed scale. Unnamed
        modalities are Gaussian with a learnt per-feature scale. A categorical modality is
        one column of labels (integers, or strings with None/NaN where missing; predictions
        come back as the same labels) or one-hot rows. Its option ``categories`` (a list of
        integers or of strings, as ``OneHotEncoder``'s) fixes the classes instead of learning
        them at fit, so that cross-validation folds missing a class work:
        ``{"label": ("categorical", {"categories": [0, 1, 2]})}``; labels outside it are a
        ``ValueError``. Imputed labels take the dtype of the block passed (integer labels
        given as float with NaN where missing come back as floats holding the labels). A
        modality left to the default Gaussian that holds at most 10 distinct integers gets a
        ``UserWarning`` (it may be labels or counts); name it ``"gaussian"`` to silence it.
    standardize : bool, default=True
        Let the networks work in standardised units: encoders see each feature centred and
        scaled by its mean and standard deviation over the observed training rows, and
        decoders start at the data's marginal distribution (Gaussian/Laplace: location
        ``mean + std * output`` and a learnt scale relative to ``std``; Bernoulli, Poisson,
        categorical: the data's log-odds, log-rates or class log-frequencies added to the
        output). Predictions, samples and scores stay in data units; a fixed ``scale``
        option is in data units. This makes training insensitive to the scale of the data
        (1e-6 or 1e6) and saves the first epochs spent walking to the data mean. ``False``
        gives the raw networks of the paper's code.
    n_components : int, default=8
        Size of the shared latent space (columns of ``transform``).
    aggregation : str, default="poe"
        How modality encodings are combined: ``"poe"`` (product of experts), ``"moe"``,
        ``"mopoe"``, or the permutation-invariant aggregators of the paper, ``"sumpooling"``,
        ``"selfattention"``, ``"sumpooling_mixture"``, ``"selfattention_mixture"``. The default
        was chosen by the quality benchmark (:doc:`/quality`): with the tight objective, PoE
        imputed as well as or better than sumpooling on every data set and regime, at about
        half the training time.
    objective : {"tight", "mixture", "elbo"}, default="tight"
        Training objective: the paper's tighter objective, the mixture-based bound, or the ELBO
        with all observed modalities.
    beta : float, default=0.5
        Weight of the KL terms during training (scores always use ``beta=1``). ``beta=1``
        trains on the variational bound itself; the default 0.5, chosen by the quality
        benchmark (:doc:`/quality`), keeps more of the data in the latent space: on the
        digits and breast-cancer data it lowered imputation errors by up to 11% and the
        label log-loss by 3-33% against ``beta=1``; on the synthetic nonlinear views the
        errors were 1-4% higher.
    kl_warmup : int or "auto", default="auto"
        KL warm-up: the weight of the KL terms rises linearly from 0 to ``beta``, step by
        step, over the first ``kl_warmup`` training epochs (counted over ``fit`` and later
        ``partial_fit`` calls); ``"auto"`` is a quarter of ``max_epochs``, 0 turns it off.
        It keeps the decoder from settling early on explaining the data as noise with an
        unused latent (posterior collapse): with the other defaults it lowered imputation
        errors in every case of the quality benchmark (see :doc:`/quality`). The validation loss, and so early stopping,
        always uses ``beta``; early stopping does not end training during the warm-up.
    n_prior_components : int, default=1
        1 for a standard normal prior, more for a learnable Gaussian mixture prior (also the
        number of components of ``*_mixture`` posteriors; those use 5 when this is 1).
    n_private_components : int, default=0
        Size of the modality-specific (private) latents; 0 disables them.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Hidden widths of the encoder MLPs (decoders use the reverse).
    embedding_size : int, default=128
        Width of the modality tokens for the permutation-invariant aggregators.
    activation : {"relu", "leaky_relu", "gelu", "silu", "tanh"}, default="relu"
        Activation of the hidden layers of the built-in encoder and decoder MLPs.
    weight_init : {"lecun", "torch"}, default="lecun"
        Initial weights of the built-in linear layers: LeCun-normal with zero biases (Flax's
        default, used by the paper's code; it trains much faster than PyTorch's smaller
        default) or PyTorch's defaults. Custom ``encoders``/``decoders`` keep their weights.
    max_epochs : int, default=200
        Maximum number of training epochs. ``max_epochs=0`` builds and initialises the model
        (weights drawn from ``random_state``, data scaling from ``X``) without training it:
        ``n_iter_`` is 0 and ``history_`` is empty; ``partial_fit`` can train it on.
    batch_size : int or "auto", default="auto"
        Rows per training batch. ``"auto"`` uses ``min(256, max(32, n_samples // 16))``: about 16
        optimisation steps per epoch (15 after the validation split) from 512 to 4096 rows,
        more above, and batches of 32 below 512 rows (3 steps per epoch for 100 rows; batches
        of 16 there were not better in the quality benchmark, see :doc:`/quality`). Inference uses batches of at least 1024
        rows.
    lr : float, default=1e-3
        Adam learning rate.
    validation_fraction : float, default=0.1
        Fraction of rows held out (a seeded random split) to monitor the objective
        (``valid_loss`` and its terms in ``history_``) and for early stopping. No validation
        split, and so no early stopping, is made when it would be empty.
    early_stopping : bool, default=True
        Stop when the validation loss has not decreased for ``n_iter_no_change`` epochs
        and restore the weights of the epoch with the lowest validation loss.
    n_iter_no_change : int, default=20
        Patience of early stopping, in epochs.
    n_importance_samples : int, default=64
        Importance samples per row in ``score_samples``.
    device : str, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU; or a torch device string
        (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``). ``fit`` checks it first: a string
        that is not a device, or a device this machine lacks, is a ``ValueError``.
    random_state : int, RandomState instance or None, default=None
        Seeds parameter initialisation, batch order, subset draws, the validation split and the
        importance samples of ``score``.
    verbose : int, default=0
        1 prints one line per epoch (at most 100 characters): the epoch out of the budget,
        the training and validation losses (a star at the best so far), seconds per epoch and
        the time left at most. The terms of the objective are in ``history_``.
    callbacks : list of skorch callbacks or None, default=None
        Extra callbacks, e.g. ``skorch.callbacks.Checkpoint``.
    encoders, decoders : dict of str -> torch.nn.Module or None, default=None
        Custom networks for some modalities (see :class:`skmmvae.nn.MultiModalModule`).
        Each fit trains a copy, starting from the weights the module has (pre-trained
        weights are kept, not re-drawn from ``random_state``): create the modules after
        ``torch.manual_seed`` for runs that repeat across processes.
    n_jobs : int or None, default=None
        Torch intra-op threads used during fit/transform; ``None`` uses 1 thread where the
        process may use at most 4 cores (faster and robust under load for small networks;
        cores are counted by ``joblib.cpu_count``, which honours CPU affinity and container
        quotas) and torch's default otherwise; ``-1`` uses all cores, ``-2`` all but one (joblib's convention).
        Inside a Dask worker, ``None`` uses at most the worker's number of threads. Results
        are bit-identical for the same ``random_state`` and thread count; another thread
        count can change their last bits (parallel reductions), so fix ``n_jobs`` too where
        bit-identical results matter.
    autocast : {None, "bfloat16"}, default=None
        Mixed precision for training: the forward passes of training steps run under
        ``torch.autocast`` in bfloat16 (weights, optimiser and inference stay float32). Meant
        for GPUs with bfloat16 units; on a CPU without them it is slower. ``None`` trains in
        float32.
    compile : bool or dict, default=False
        Compile the training objective with ``torch.compile`` (a dict gives its keyword
        arguments, e.g. ``{"mode": "max-autotune"}``). The first steps pay the compilation
        (tens of seconds); long runs on a GPU gain from it. The weights and every fitted
        attribute are those of an ordinary model.
    accelerator : accelerate.Accelerator, "auto" or None, default=None
        Train data-parallel with Hugging Face Accelerate (the optional ``accelerate`` package:
        ``pip install "skmmvae[distributed]"``) in a script started by ``accelerate launch`` or
        ``torchrun``: each process trains on its share of every epoch's rows, with
        ``batch_size`` rows per process and step, and the gradients are averaged over the
        processes. ``"auto"`` creates an ``Accelerator`` (CPU processes when ``device``
        resolves to the CPU); an ``Accelerator`` instance is used as is (its device replaces
        ``device``). Started as a plain script, there is one process. The fitted estimator is
        an ordinary one (the same weights on every process); an ``Accelerator`` instance is
        shared by clones and not pickled (an unpickled estimator has ``accelerator=None``).
        See :doc:`/scaling`.

    Attributes
    ----------
    module_ : skmmvae.nn.MultiModalModule
        The trained PyTorch module.
    net_ : skmmvae._net.MultiModalNet
        The skorch net that trained it (``None`` after unpickling, rebuilt on demand).
    history_ : skorch.History
        Per epoch: the loss (the negative objective) and the objective's terms, for the
        training and the validation rows (``train_loss``, ``valid_loss``,
        ``train_reconstruction``, ``train_kl``, and for ``objective="tight"`` also
        ``train_cross_reconstruction`` and ``train_cross_kl``; ``valid_*`` alike).
    modality_names_ : list of str
        Modalities in model order.
    categories_ : dict of ndarray
        The classes of each categorical modality, in code order: the sorted labels (numbers,
        or strings as an object array), or ``0 .. k-1`` for one-hot rows.
    n_features_in_ : int
        Number of input columns (all modalities together).
    feature_names_in_ : ndarray of str
        Column names of a DataFrame input.
    n_iter_ : int
        Epochs run (all ``fit`` and ``partial_fit`` calls together).

    Notes
    -----
    Rows of a dict's blocks are paired by pandas index where the blocks are pandas objects:
    DataFrames and Series whose indexes hold the same (unique) labels in different orders are
    aligned to the order of the first of them (at fit and at every later call; the rows of
    ``transform``, ``predict``, ... come in that order), and indexes with different labels,
    or that differ and have duplicate labels, are a ``ValueError`` naming the modalities.
    NumPy arrays have no labels: their rows pair by position with the rows in that order.
    A modality name is any non-empty string.

    Sizes are checked against memory before anything is allocated: ``fit`` estimates the
    memory of a training step (4 bytes for each parameter, its gradient and Adam's two
    moments, plus activations: ``2 x 4`` bytes for the input and the output of each built-in
    linear layer, per row of a batch and per latent draw) and of a ``transform`` or
    ``predict`` batch of ``max(batch_size, 1024)`` rows, and the importance-sampling methods
    that of a batch of draws; an estimate above the memory of the device (a GPU's memory,
    else the machine's RAM or container limit) is a ``ValueError`` naming the sizes.

    NaN marks a missing modality only as a whole block row; a NaN inside an otherwise
    observed block is an error (impute such values first). The scikit-learn tag
    ``allow_nan`` is therefore False. Training that produces a NaN or infinite loss, or a
    loss that explodes (two epochs in a row 10^4 times above where the training call
    started), stops with
    :class:`skmmvae.TrainingDivergedError`; a failed ``partial_fit`` restores the estimator to
    its state before the call.

    Training interrupted by ``KeyboardInterrupt`` (Ctrl-C, or a callback) returns with a
    ``UserWarning``: the estimator keeps the weights at the interruption (with early
    stopping, those of the best epoch so far), ``history_`` and ``n_iter_`` count the
    completed epochs, and ``partial_fit`` continues from there. See :doc:`/reliability`,
    which also covers :meth:`save` and :meth:`load`, the safe alternative to pickle.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae import MultiModalVAE
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(200, 2))
    >>> X = {"a": z @ rng.normal(size=(2, 5)), "b": z @ rng.normal(size=(2, 3))}
    >>> X["b"][:50] = np.nan                      # modality b missing for 50 samples
    >>> vae = MultiModalVAE(n_components=2, max_epochs=5, random_state=0).fit(X)
    >>> vae.transform(X).shape
    (200, 2)
    >>> np.isnan(vae.predict(X)["b"]).any()       # missing blocks imputed
    np.False_
    """

    _parameter_constraints = {
        "modalities": [dict, list, tuple, None],
        "likelihoods": [str, dict, tuple, None],
        "standardize": ["boolean"],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "aggregation": [StrOptions(set(AGGREGATORS))],
        "objective": [StrOptions(set(OBJECTIVES))],
        "beta": [Interval(numbers.Real, 0, None, closed="left")],
        "kl_warmup": [Interval(numbers.Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "n_prior_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_private_components": [Interval(numbers.Integral, 0, None, closed="left")],
        "hidden_layer_sizes": [tuple, list],
        "embedding_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_importance_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
        "encoders": [dict, None],
        "decoders": [dict, None],
        "n_jobs": [Interval(numbers.Integral, None, -1, closed="right"),
                   Interval(numbers.Integral, 1, None, closed="left"), None],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "weight_init": [StrOptions({"lecun", "torch"})],
        "autocast": [None, StrOptions({"bfloat16"})],
        "compile": ["boolean", dict],
        "accelerator": [None, StrOptions({"auto"}), HasMethods(["prepare", "unwrap_model"])],
    }

    def __init__(
        self,
        modalities=None,
        likelihoods=None,
        standardize=True,
        n_components=8,
        aggregation="poe",
        objective="tight",
        beta=0.5,
        kl_warmup="auto",
        n_prior_components=1,
        n_private_components=0,
        hidden_layer_sizes=(128, 128),
        embedding_size=128,
        activation="relu",
        weight_init="lecun",
        max_epochs=200,
        batch_size="auto",
        lr=1e-3,
        validation_fraction=0.1,
        early_stopping=True,
        n_iter_no_change=20,
        n_importance_samples=64,
        device="auto",
        random_state=None,
        verbose=0,
        callbacks=None,
        encoders=None,
        decoders=None,
        n_jobs=None,
        autocast=None,
        compile=False,
        accelerator=None,
    ):
        self.modalities = modalities
        self.likelihoods = likelihoods
        self.standardize = standardize
        self.n_components = n_components
        self.aggregation = aggregation
        self.objective = objective
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.n_prior_components = n_prior_components
        self.n_private_components = n_private_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.embedding_size = embedding_size
        self.activation = activation
        self.weight_init = weight_init
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.n_importance_samples = n_importance_samples
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.encoders = encoders
        self.decoders = decoders
        self.n_jobs = n_jobs
        self.accelerator = accelerator
        self.autocast = autocast
        self.compile = compile

    # ------------------------------------------------------------------ sklearn plumbing
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN is accepted only as a whole missing modality block (a row of NaN in a block);
        # a NaN anywhere else is an error. scikit-learn's ``allow_nan`` means "NaN anywhere",
        # so the honest answer to it is False (the checks then verify that scattered NaN is
        # rejected in fit, transform and predict).
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags

    def __sklearn_is_fitted__(self):
        return hasattr(self, "module_")

    def _validate_params(self):
        # scikit-learn's Interval(numbers.Integral/Real) accepts True and False (bool is an
        # int); here they are not numbers
        for name, constraints in self._parameter_constraints.items():
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) and any(isinstance(c, Interval) for c in constraints):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} must be a number, not a "
                    f"bool. Got {value!r} instead."
                )
        super()._validate_params()

    def _device(self):
        """The torch device to train on: ``"auto"`` means CUDA when available."""
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def _threads(self):
        """Context manager setting torch intra-op threads per ``n_jobs``."""
        return _TorchThreads(self.n_jobs)

    def _accelerator(self):
        """The ``accelerate.Accelerator`` to train with, or None (see ``accelerator``)."""
        if self.accelerator is None:
            return None
        from . import _distributed

        _distributed.require_accelerate()
        if isinstance(self.accelerator, str):  # "auto"
            return _distributed.make_accelerator(self._device())
        return self.accelerator

    def __sklearn_clone__(self):
        # An Accelerator is a handle on this process's distributed set-up: clones share it
        # (scikit-learn would deep-copy it).
        accelerator = self.accelerator
        if accelerator is None or isinstance(accelerator, str):
            return super().__sklearn_clone__()
        self.accelerator = None
        try:
            new = super().__sklearn_clone__()
        finally:
            self.accelerator = accelerator
        new.accelerator = accelerator
        return new

    # ------------------------------------------------------------------ data
    def _blocks(self, X, reset):
        """Validate ``X`` into ``{name: 2-D float array}`` (``reset`` at fit); categorical
        modalities given as strings stay ``(n, 1)`` object arrays of labels."""
        schema = None if reset else self._schema
        labels = _data.label_modalities(self.likelihoods, schema)  # may hold non-numeric labels
        if isinstance(X, dict) and not _data.sp.issparse(X):
            if reset:
                for attr in ("n_features_in_", "feature_names_in_"):
                    self.__dict__.pop(attr, None)
            blocks, kind, names, groups = _data.to_blocks(X, None, schema, labels=labels)
            if reset:
                self.n_features_in_ = sum(b.shape[1] for b in blocks.values())
            return blocks, kind, names, groups
        _data._reject_sparse(X, "X")
        _data.reject_list_of_blocks(X)
        if not reset and self._schema.input_kind == "dict":
            raise TypeError("the estimator was fitted on a dict of modalities; pass a dict")
        columns = [str(c) for c in X.columns] if _data._is_frame(X) else None
        # dtype=None and no finiteness check here: each modality block is converted and
        # checked in _data, so that errors name the modality.
        array = validate_data(self, X, reset=reset, ensure_all_finite=False, dtype=None)
        return _data.to_blocks(array, self.modalities, schema, columns, labels=labels)

    def _tensors(self, X, reset=False):
        blocks, kind, names, groups = self._blocks(X, reset)
        if reset:
            self._schema = _data.make_schema(blocks, kind, names, groups, self.likelihoods)
            for message in _data.integer_gaussian_warnings(blocks, self._schema, self.likelihoods):
                warnings.warn(message, UserWarning, stacklevel=6)  # the caller of fit
            self._check_networks()
            tensors = _data.to_tensors(blocks, self._schema, fitting=True)
            never = [n for n, seen in zip(self._schema.names, tensors.mask.any(0).tolist()) if not seen]
            if never:
                raise ValueError(
                    f"modalities {never} are missing (all NaN) in every training row; "
                    "drop them or provide some observed rows"
                )
            return tensors, blocks
        unknown = sorted(set(blocks) - set(self._schema.names))
        if unknown:
            hint = "" if self._schema.input_kind == "dict" else (
                f" (from a 2-D input with {self.n_features_in_} columns: pass one like it, or a "
                "dict with these names)"
            )
            raise ValueError(
                f"unknown modalities {unknown}; the estimator was fitted with {self._schema.names}{hint}"
            )
        return _data.to_tensors(blocks, self._schema), blocks

    def _check_hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        if not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {sizes!r}")

    def _check_networks(self):
        for param in ("encoders", "decoders"):
            unknown = sorted(set(getattr(self, param) or {}) - set(self._schema.names))
            if unknown:
                raise ValueError(
                    f"{param} names unknown modalities {unknown}; modalities are {self._schema.names}"
                )

    # ------------------------------------------------------------------ model
    def _build_module(self, networks=True):
        """The module for the fitted schema (``networks=False``: the built-in networks in
        place of custom ``encoders``/``decoders``, for a size estimate on the meta device)."""
        liks = {}
        for info in self._schema.modalities:
            opts = {k: v for k, v in info.options.items() if k not in _data.SCHEMA_OPTIONS}
            if info.likelihood == "categorical":
                opts["n_classes"] = len(info.classes) if not info.one_hot else info.n_input
            liks[info.name] = make_likelihood(info.likelihood, info.n_features, **opts)
        # plain ints: numpy integers (GridSearchCV over np.arange) are not ints to torch
        n_mixture = self._n_mixture_components()
        return MultiModalModule(
            liks,
            int(self.n_components),
            aggregation=self.aggregation,
            n_prior_components=int(self.n_prior_components),
            n_private=int(self.n_private_components),
            hidden_sizes=tuple(int(h) for h in self.hidden_layer_sizes),
            embedding_size=int(self.embedding_size),
            activation=self.activation,
            init=self.weight_init,
            encoders=copy.deepcopy(self.encoders) if networks else None,
            decoders=copy.deepcopy(self.decoders) if networks else None,
            n_mixture_components=n_mixture,
        )

    def _n_mixture_components(self):
        n = int(self.n_prior_components)
        return n if n > 1 else _MIXTURE_DEFAULT_COMPONENTS

    def _build_net(self, module, device):
        callbacks = list(self.callbacks or [])
        accelerator = self._accelerator()
        sink = (print if accelerator is None else accelerator.print) if self.verbose else _silent
        net_class, accelerate_kwargs = MultiModalNet, {}
        if accelerator is not None:
            from ._distributed import AcceleratedMultiModalNet

            # the accelerator decides the device; only its main process prints
            net_class = AcceleratedMultiModalNet
            # skorch's Accelerate mixin sets print_log's sink itself: keep it, silenced
            accelerate_kwargs = {"accelerator": accelerator, "callbacks__print_log__sink": _silent}
            device = str(accelerator.device)
        if self.early_stopping:
            callbacks.append(
                (
                    "early_stopping",
                    _EarlyStopping(
                        monitor="valid_loss",
                        patience=self.n_iter_no_change,
                        threshold=0.0,
                        threshold_mode="abs",  # any decrease counts; the loss can be negative
                        load_best=True,
                        sink=sink,
                    ),
                )
            )
        if self.verbose and (accelerator is None or accelerator.is_main_process):
            # one line per epoch that fits a terminal (skorch's table has a column per term)
            callbacks.append(("progress", EpochProgress(total=int(self.max_epochs), sink=sink)))
        net = net_class(
            module,
            objective=self.objective,
            beta=self.beta,
            kl_warmup=self._kl_warmup(),
            valid_fraction=self.validation_fraction,
            split_seed=self._split_seed,
            optimizer=torch.optim.Adam,
            lr=float(self.lr),
            max_epochs=int(self.max_epochs),
            batch_size=self._training_batch_size(),
            device=device,
            callbacks=callbacks,
            verbose=self.verbose,
            **({} if accelerator is not None else {"callbacks__print_log": None}),  # EpochProgress prints
            autocast_dtype=None if self.autocast is None else getattr(torch, self.autocast),
            compile_options=None if self.compile is False else ({} if self.compile is True else dict(self.compile)),
            **accelerate_kwargs,
        )
        return net.initialize()

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the model from all samples of ``X``.

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame
            Modalities as a dict ``{name: (n_samples, d_name)}``, or a 2-D input with the
            column groups given by ``modalities``. Rows of NaN mark missing modalities.
        y : None
            Ignored.

        Returns
        -------
        self : MultiModalVAE
            The fitted estimator.
        """
        tensors = self._initialize(X)
        if self.max_epochs == 0:  # built and initialised, not trained (see max_epochs)
            self.module_, self.history_, self.n_iter_ = self.net_.module_, self.net_.history, 0
            return self
        with self._threads(), _seeded(self._seed, self.net_.device):
            self._train(tensors, epochs=self.max_epochs)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, epochs=1):
        """Continue training for ``epochs`` epochs (fit from scratch if not fitted yet).

        The optimiser state and the history carry over, also after unpickling. Training
        parameters (``lr``, ``batch_size``, ``beta``, ``objective``, ``callbacks``, ...) take
        their current values; the architecture stays as built by the first fit.

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame
            Data in the layout seen at the first fit.
        y : None
            Ignored.
        epochs : int, default=1
            Number of epochs to train.

        Returns
        -------
        self : MultiModalVAE
            The estimator, trained further.
        """
        if not isinstance(epochs, numbers.Integral) or isinstance(epochs, (bool, np.bool_)) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        epochs = int(epochs)
        if not hasattr(self, "module_"):
            tensors = self._initialize(X)
            with self._threads(), _seeded(self._seed, self.net_.device):
                self._train(tensors, epochs=epochs, partial=True)
            return self
        tensors, _ = self._tensors(X)
        snapshot = _Snapshot(self)
        # a new net around the trained module, so that the current parameters (lr,
        # callbacks, batch_size, verbose, ...) apply; optimiser state and history carry over
        self.net_ = self._restore_net()
        self._seed += 1  # fresh randomness for each continuation, still reproducible
        try:
            with self._threads(), _seeded(self._seed, self.net_.device):
                self._train(tensors, epochs=epochs, partial=True)
        except Exception as exc:
            snapshot.restore(self)
            if hasattr(exc, "add_note"):  # Python >= 3.11
                exc.add_note(
                    "partial_fit failed: the estimator was restored to its state before this call "
                    "(weights, optimiser state, history_, n_iter_)."
                )
            raise
        return self

    def _kl_warmup(self):
        """``kl_warmup`` in epochs, with ``"auto"`` resolved to a quarter of ``max_epochs``."""
        return self.max_epochs // 4 if self.kl_warmup == "auto" else self.kl_warmup

    def _training_batch_size(self):
        """``batch_size``, with ``"auto"`` resolved from the number of training rows."""
        if self.batch_size != "auto":
            return int(self.batch_size)
        return min(256, max(32, getattr(self, "_n_fit_rows", 256) // 16))

    def _initialize(self, X):
        """Validate the training data, fix the schema and seeds, build module and net."""
        self._check_hidden_layer_sizes()
        if not hasattr(self.accelerator, "prepare"):  # an Accelerator instance has its device
            check_device(self._device())
        tensors, _ = self._tensors(X, reset=True)
        self._n_fit_rows = len(tensors)
        random_state = check_random_state(self.random_state)
        self._seed = int(random_state.randint(np.iinfo(np.int32).max))
        device = self._device()
        accelerator = self._accelerator()
        if accelerator is not None:
            from ._distributed import shared_seed

            # the same seed on every process: same split, same initial weights, same batches
            self._seed = shared_seed(accelerator, self._seed)
            device = str(accelerator.device)
        self._split_seed = self._seed  # kept fixed across partial_fit calls
        self._check_fit_memory(device)
        self.modality_names_ = self._schema.names
        self.categories_ = {
            m.name: np.arange(m.n_input) if m.one_hot else m.classes.copy()
            for m in self._schema.modalities if m.likelihood == "categorical"
        }
        self._n_features_out = self.n_components
        with self._threads(), _seeded(self._seed, device):
            module = self._build_module()
            if self.standardize:
                module.set_data_scaling(
                    (b.xs, b.mask) for b in self._batches(tensors, _INFERENCE_CHUNK_ROWS, "cpu")
                )
            self.net_ = self._build_net(module, device)
        self._warn_small_data(tensors.mask, module)
        for attr in ("module_", "history_", "n_iter_"):  # a failed fit leaves it unfitted
            self.__dict__.pop(attr, None)
        return tensors

    # ------------------------------------------------------------------ memory
    _SIZE_PARAMS = ("n_components", "hidden_layer_sizes", "embedding_size", "n_prior_components",
                    "n_private_components", "batch_size")

    @staticmethod
    def _sizes_of(module, extra_parameters=0):
        """``(parameters, widths)`` of ``module``: its number of parameters and buffers, and
        the summed input and output widths of its linear layers (floats per row and draw)."""
        n_params = sum(t.numel() for t in (*module.parameters(), *module.buffers())) + extra_parameters
        widths = sum(layer.in_features + layer.out_features for layer in module.modules()
                     if isinstance(layer, torch.nn.Linear))
        return n_params, widths

    def _check_fit_memory(self, device):
        """Refuse, before anything is allocated, sizes whose training step or inference batch
        would need more memory than ``device`` has (see the class Notes)."""
        limit = memory_limit(device)
        if limit is None:
            return
        with _seeded(0, "cpu"), torch.device("meta"):  # no memory, no draws from the user's RNG
            module = self._build_module(networks=False)
        custom = [m for nets in (self.encoders, self.decoders) for m in (nets or {}).values()]
        n_params, widths = self._sizes_of(module, sum(p.numel() for m in custom for p in m.parameters()))
        rows = min(self._training_batch_size(), self._n_fit_rows)
        draws = self._n_mixture_components() if self.aggregation.endswith("_mixture") else 1
        draws *= 2 if self.objective == "tight" else 1  # two encoder-decoder branches
        train = 4 * (4 * n_params + _ACTIVATION_FACTOR * rows * draws * widths)
        if train > limit:
            self._memory_error(train, limit, device, f"train on batches of {rows} rows ({n_params:,} "
                               "parameters with their gradients and Adam's moments, and activations)")
        rows = min(max(self._training_batch_size(), _MIN_INFERENCE_BATCH), _INFERENCE_CHUNK_ROWS)
        infer = 4 * (n_params + _ACTIVATION_FACTOR * rows * widths) + 8 * rows * int(self.n_components)
        if infer > limit:
            self._memory_error(infer, limit, device, f"transform or predict a batch of {rows} rows")

    def _memory_error(self, needed, limit, device, what, names=None):
        """The ValueError of a size check, naming ``names`` (default: the size parameters
        above their defaults)."""
        if names is None:
            defaults = type(self)().get_params()
            names = [name for name in self._SIZE_PARAMS if _larger(getattr(self, name), defaults[name])]
            names = names or list(self._SIZE_PARAMS)
        sizes = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        columns = sum(m.n_input for m in self._schema.modalities)
        raise ValueError(
            f"{sizes}: the model of the data's {columns} columns would need about "
            f"{needed / 2**30:.3g} GiB of memory to {what}, more than the {limit / 2**30:.3g} GiB "
            f"of device {str(device)!r}; use a smaller {' or '.join(names)}"
        )

    def _check_score_memory(self, rows):
        """Refuse an importance-sampling batch of ``rows`` whose draws could not fit in memory."""
        device = _module_device(self.module_)
        limit = memory_limit(device)
        if limit is None:
            return
        n_params, widths = self._sizes_of(self.module_)
        needed = 4 * (n_params + _ACTIVATION_FACTOR * rows * int(self.n_importance_samples) * widths)
        if needed > limit:
            self._memory_error(needed, limit, device, f"score a batch of {rows} rows with "
                               f"{self.n_importance_samples} importance samples each",
                               names=["n_importance_samples"])

    def _warn_small_data(self, mask, module):
        """Warn, before training, where the data are too few for the validation split or
        for the size of the networks, and say what to change."""
        n_rows = len(mask)
        n_valid = int(np.floor(self.validation_fraction * n_rows))
        if self.early_stopping and n_valid < _MIN_VALIDATION_ROWS:
            warnings.warn(
                f"early stopping would monitor {n_valid} validation rows "
                f"(validation_fraction={self.validation_fraction} of {n_rows}): too few to choose "
                f"an epoch reliably. Set early_stopping=False to train max_epochs={self.max_epochs} "
                "epochs on all rows, or raise validation_fraction.",
                UserWarning,
                stacklevel=5,  # the caller of fit
            )
        counts = mask.sum(0).tolist()
        observed = sum(c * m.n_features for c, m in zip(counts, self._schema.modalities))
        weights = sum(p.numel() for p in module.parameters() if p.requires_grad)
        if weights > _MAX_WEIGHTS_PER_VALUE * observed:
            warnings.warn(
                f"the networks have {weights} weights for {observed} observed training values "
                f"({n_rows} rows): they may overfit or learn nothing useful. Use smaller networks "
                "(e.g. hidden_layer_sizes=(32,), embedding_size=32) or more rows, and compare "
                "with a simple imputer.",
                UserWarning,
                stacklevel=5,  # the caller of fit
            )

    def _train(self, tensors, epochs, partial=False):
        net = self.net_
        epochs_before = len(net.history)
        progress = dict(net.callbacks_).get("progress")
        if progress is not None:
            progress.total = epochs  # the budget of this call
        net.notify("on_train_begin", X=tensors, y=None)
        interrupted = False
        try:
            net.fit_loop(tensors.to(net.device), epochs=epochs)
        except KeyboardInterrupt:
            # skorch stops training with KeyboardInterrupt: early stopping raises it at the end
            # of an epoch; anything else (Ctrl-C, a callback) is an interruption. Either way the
            # module is kept (on_train_end below restores early stopping's best epoch, if any).
            early_stopping = dict(net.callbacks_).get("early_stopping")
            interrupted = not getattr(early_stopping, "stopped_", False)
        finally:
            net.notify("on_train_end", X=tensors, y=None)
        self._check_finite(net.module_, tensors)
        if interrupted:
            self._report_interruption(net)
        else:
            self._report_stop(net, epochs, epochs_before, partial)
        self.module_ = net.module_
        self.history_ = net.history
        self.n_iter_ = len(net.history)

    def _check_finite(self, module, tensors):
        """Raise TrainingDivergedError where training left weights that are not finite, or
        finite ones whose posterior or decoder means of the first training rows overflow
        (the last optimiser step is never evaluated by the training loop itself)."""
        bad = [name for name, p in module.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            what = f"non-finite weights (in {', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''})"
        else:
            rows = tensors.subset(torch.arange(min(len(tensors), _MIN_INFERENCE_BATCH)))
            batch, _ = self._padded(rows.rows(torch.arange(len(rows))).to(_module_device(module)))
            with self._threads(), torch.no_grad():
                module.eval()
                z = module.encode(batch.xs, batch.mask).mean
                outputs = [z, *module.decode_means(z)]
            if all(bool(torch.isfinite(t).all()) for t in outputs):
                return
            what = ("weights whose outputs are not finite (NaN or inf in the latent codes or "
                    "decoder means of the training rows)")
        raise TrainingDivergedError(
            f"training ended with {what}: the optimisation diverged. Lower lr (now {self.lr:g}; "
            f"try e.g. lr={self.lr / 10:g}), keep standardize=True, or use a likelihood that "
            "matches the data."
        )

    def _report_stop(self, net, epochs, epochs_before, partial):
        """Say why training ended where it was not the expected end: a ``fit`` that used its
        whole budget while the validation loss still improved (``ConvergenceWarning``, as
        scikit-learn's MLP), or a ``partial_fit`` that early stopping ended before ``epochs``."""
        early_stopping = dict(net.callbacks_).get("early_stopping")
        if early_stopping is None or not len(net.history) or "valid_loss" not in net.history[-1]:
            return
        trained = len(net.history) - epochs_before
        if early_stopping.stopped_:
            if partial and trained < epochs:
                warnings.warn(
                    f"partial_fit trained {trained} of {epochs} epochs: early stopping ended it, the "
                    f"validation loss having not improved for n_iter_no_change={self.n_iter_no_change} "
                    f"epochs (the weights of epoch {early_stopping.best_epoch_}, the best, are kept). "
                    "Set early_stopping=False to train every epoch.",
                    UserWarning,
                    stacklevel=5,
                )
            return
        if partial or trained < epochs:
            return
        warnings.warn(
            f"training stopped at max_epochs={self.max_epochs} before early stopping settled: the "
            f"validation loss last improved in epoch {early_stopping.best_epoch_} of "
            f"{len(net.history)}, less than n_iter_no_change={self.n_iter_no_change} epochs before "
            "the end, so the model may be under-fitted. Raise max_epochs, or continue with "
            "partial_fit(X, epochs=...).",
            ConvergenceWarning,
            stacklevel=5,  # the caller of fit
        )

    @staticmethod
    def _report_interruption(net):
        """Drop the epoch cut short from the history, and warn about what was kept."""
        history = net.history
        epoch = history[-1, "epoch"] if len(history) else 0
        if len(history) and "train_loss" not in history[-1]:  # the epoch did not finish
            del history[-1]
        early_stopping = dict(net.callbacks_).get("early_stopping")
        best = getattr(early_stopping, "best_epoch_", 0)
        if getattr(early_stopping, "best_model_weights_", None) is not None and best != epoch:
            kept = f"the weights of epoch {best}, the best so far by validation loss"
        else:
            kept = "the weights at the interruption"
        warnings.warn(
            f"training was interrupted (KeyboardInterrupt) in epoch {epoch}; the estimator keeps "
            f"{kept}, and history_ and n_iter_ count the {len(history)} completed epochs. "
            "Call partial_fit to train on.",
            UserWarning,
            stacklevel=5  # the caller of fit or partial_fit,
        )

    # ------------------------------------------------------------------ inference helpers
    def _batches(self, tensors, batch_size=None, device=None):
        """Rows of ``tensors`` in order, in batches, on ``device`` (default: the module's)."""
        batch_size = batch_size or max(self._training_batch_size(), _MIN_INFERENCE_BATCH)
        device = device or _module_device(self.module_)
        for start in range(0, len(tensors), batch_size):
            idx = torch.arange(start, min(start + batch_size, len(tensors)))
            yield tensors.rows(idx).to(device)

    @staticmethod
    def _padded(batch):
        """``batch`` (ModalityTensors or a tensor of rows) padded to at least
        ``_MIN_BATCH_ROWS`` rows with copies of its last row, and its number of real rows."""
        n = len(batch)
        if n >= _MIN_BATCH_ROWS:
            return batch, n
        rows = torch.cat([torch.arange(n), torch.full((_MIN_BATCH_ROWS - n,), n - 1, dtype=torch.long)])
        if isinstance(batch, torch.Tensor):
            return batch[rows.to(batch.device)], n
        return batch.rows(rows.to(batch.mask.device)), n

    def _inference_batches(self, X, batch_size=None):
        """Batches of ``X`` validated and converted one input chunk at a time."""
        for _, chunk in _data.row_chunks(X, _INFERENCE_CHUNK_ROWS):
            release_free_memory()  # memory bounded by a chunk, not by the rows
            tensors, _ = self._tensors(chunk)
            yield from self._batches(tensors, batch_size)

    def _subset_mask(self, mask, modalities, what="modalities"):
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
        unknown = sorted(set(modalities) - set(self._schema.names), key=str)
        if unknown:
            raise ValueError(f"unknown modalities {unknown} in {what}; known: {self._schema.names}")
        keep = torch.tensor([n in modalities for n in self._schema.names])
        return mask & keep.to(mask.device)

    def transform(self, X, modalities=None):
        """Latent means of ``q(z | x_S)``, ``S`` = observed modalities (within ``modalities``).

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame
            A dict may leave out modalities: they count as missing.
        modalities : str, list of str or None, default=None
            Encode from these modalities only (where observed).

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            Posterior means.
        """
        check_is_fitted(self, "module_")
        return self._encode(X, modalities, lambda q: q.mean[None], 1)[0]

    def sample_posterior(self, X, n_samples=1, modalities=None, random_state=None):
        """Draws ``z ~ q(z | x_S)``, ``S`` = observed modalities (within ``modalities``).

        Where :meth:`transform` gives the posterior mean, this gives samples of the
        posterior, e.g. to propagate its uncertainty, or for the single-draw MCC of the
        paper.

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame
            A dict may leave out modalities: they count as missing.
        n_samples : int, default=1
            Draws per row.
        modalities : str, list of str or None, default=None
            Condition on these modalities only (where observed).
        random_state : int, RandomState instance or None, default=None
            Seed of the draws; ``None`` uses a seed fixed at fit (so repeated calls agree).

        Returns
        -------
        Z : ndarray of shape (n_samples, n_rows, n_components)
            The draws.

        Examples
        --------
        >>> import numpy as np
        >>> from skmmvae import MultiModalVAE
        >>> rng = np.random.default_rng(0)
        >>> X = {"a": rng.normal(size=(50, 3)), "b": rng.normal(size=(50, 2))}
        >>> vae = MultiModalVAE(n_components=2, max_epochs=2, random_state=0).fit(X)
        >>> vae.sample_posterior(X, n_samples=10, modalities=["a"]).shape
        (10, 50, 2)
        """
        check_is_fitted(self, "module_")
        if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, (bool, np.bool_)) \
                or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        n_samples = int(n_samples)
        seed = self._seed if random_state is None else int(
            check_random_state(random_state).randint(np.iinfo(np.int32).max))
        with _seeded(seed, _module_device(self.module_)):
            return self._encode(X, modalities, lambda q: q.sample(n_samples), n_samples)

    def _encode(self, X, modalities, statistic, n_out):
        """``statistic(q)`` ``(n_out, B, d)`` for every batch of ``X``, as one float64 array."""
        out = None  # allocated once: memory beyond the output is bounded by a chunk
        for start, chunk in _data.row_chunks(X, _INFERENCE_CHUNK_ROWS):
            release_free_memory()  # memory bounded by a chunk, not by the rows
            tensors, _ = self._tensors(chunk)
            self._subset_mask(tensors.mask, modalities)  # validate names before any work
            if out is None:
                out = np.empty((n_out, _data.n_samples(X), self.n_components))
            with self._threads(), torch.no_grad():
                self.module_.eval()
                for batch in self._batches(tensors):
                    batch, n = self._padded(batch)
                    q = self.module_.encode(batch.xs, self._subset_mask(batch.mask, modalities))
                    values = statistic(q)[:, :n].cpu().numpy()
                    out[:, start : start + values.shape[1]] = values
                    start += values.shape[1]
        return out

    def predict(self, X):
        """Impute the missing modalities from the observed ones.

        Observed values are returned unchanged (bit-identical); each missing block is filled
        with the decoder mean at the posterior mean of ``q(z | x_observed)`` (the most probable
        class for categorical modalities).

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame
            Data with missing modalities (rows of NaN in a block, or absent dict keys).

        Returns
        -------
        X_imputed : same container type as ``X``
            A copy of ``X`` with the missing blocks filled in (a DataFrame keeps its index,
            columns and float dtypes; a Series in a dict its index, name and dtype). A dict
            also gets the modalities its keys left out. The pandas blocks of a dict are
            aligned by index (see the class Notes): every block returned has its rows, and a
            pandas block its index, in the order of the first pandas block of ``X``.
        """
        check_is_fitted(self, "module_")
        is_dict = isinstance(X, dict) and not _data.sp.issparse(X)
        X = _data.align_rows(X)  # the blocks returned keep their rows and labels together
        # The output is allocated once, in the validated blocks' float dtype (float32 input
        # stays float32), and filled chunk by chunk: memory beyond it is bounded by a chunk.
        out = None
        any_filled = dict.fromkeys(self._schema.names, False)
        for start, chunk in _data.row_chunks(X, _INFERENCE_CHUNK_ROWS):
            release_free_memory()  # memory bounded by a chunk, not by the rows
            tensors, blocks = self._tensors(chunk)
            if out is None:
                out = self._predict_buffers(X, blocks, is_dict)
            means = self._decoded(tensors, latent=None)
            rows = slice(start, start + len(tensors))
            for s, info in enumerate(self._schema.modalities):
                block = blocks.get(info.name)
                target = out[info.name][rows] if is_dict else out[rows, info.columns]
                target[...] = np.nan if block is None else block
                missing = ~tensors.mask[:, s].numpy()
                target[missing] = self._to_user(means[s][missing], info)
                if not is_dict:
                    out[rows, info.columns] = target  # fancy indexing made a copy
                any_filled[info.name] |= bool(missing.any())
        if is_dict:
            out = {name: _data._like(X[name], block, any_filled[name]) if name in X else block
                   for name, block in out.items()}
            return _data.ModalityDict(out) if isinstance(X, _data.ModalityDict) else out
        return _data._like(X, out, any(any_filled.values()))

    def _predict_buffers(self, X, blocks, is_dict):
        """Uninitialised output arrays of ``predict`` for all rows of ``X``."""
        n = _data.n_samples(X)
        if is_dict:
            def dtype(info):
                if info.name in blocks:
                    return blocks[info.name].dtype
                string_labels = info.classes is not None and info.classes.dtype == object
                return object if string_labels else np.float64

            return {info.name: np.empty((n, info.n_input), dtype(info)) for info in self._schema.modalities}
        dtype = np.result_type(*[b.dtype for b in blocks.values()])  # object with string labels
        return np.empty((n, sum(len(m.columns) for m in self._schema.modalities)), dtype)

    def inverse_transform(self, Z):
        """Decode latent codes to data space (decoder means).

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)
            Latent codes.

        Returns
        -------
        X : dict of ndarray, or a 2-D ndarray if fitted on 2-D input
            Decoder means (class labels, or one-hot rows, for categorical modalities).
        """
        check_is_fitted(self, "module_")
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self.n_components:
            raise ValueError(f"Z must have shape (n_samples, {self.n_components}), got {Z.shape}")
        if not np.isfinite(Z).all():
            raise ValueError("Z contains NaN or inf")
        means = self._decoded(None, latent=torch.as_tensor(Z, dtype=torch.float32))
        blocks = {info.name: self._to_user(means[s], info) for s, info in enumerate(self._schema.modalities)}
        return blocks if self._schema.input_kind == "dict" else self._join(blocks)

    def sample(self, n_samples=1):
        """Generate samples: ``z`` from the prior, decoded to data space (decoder means).

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.

        Returns
        -------
        X : dict of ndarray, or a 2-D ndarray if fitted on 2-D input
            Decoded samples.
        Z : ndarray of shape (n_samples, n_components)
            Their latent codes.
        """
        check_is_fitted(self, "module_")
        if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, (bool, np.bool_)) \
                or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        n_samples = int(n_samples)
        with _seeded(self._seed, _module_device(self.module_)), torch.no_grad():
            z = self.module_.prior.sample(n_samples).float().cpu().numpy().astype(np.float64)
        return self.inverse_transform(z), z

    def _decoded(self, tensors, latent):
        """Decoder means per modality (numpy, model space) for encoded ``tensors`` or ``latent``."""
        outs = [[] for _ in self._schema.modalities]
        device = _module_device(self.module_)
        with self._threads(), torch.no_grad():
            self.module_.eval()
            if latent is not None:
                chunks = latent.split(max(self._training_batch_size(), _MIN_INFERENCE_BATCH))
            else:
                chunks = (self._encoded_means(b) for b in self._batches(tensors))
            for z in chunks:
                z, n = self._padded(z)
                for s, mean in enumerate(self.module_.decode_means(z.to(device))):
                    outs[s].append(mean[:n].float().cpu())
        return [torch.cat(o).numpy().astype(np.float64) for o in outs]

    def _encoded_means(self, batch):
        """Posterior means of the rows of ``batch`` (computed in a padded batch)."""
        padded, n = self._padded(batch)
        return self.module_.encode(padded.xs, padded.mask).mean[:n]

    @staticmethod
    def _to_user(mean, info):
        """Model-space means to the user's representation of a modality."""
        if info.likelihood != "categorical":
            return mean
        codes = mean.argmax(-1)
        if info.one_hot:
            return np.eye(info.n_input)[codes]
        return info.classes[codes][:, None]

    def _join(self, blocks):
        """The blocks of a 2-D layout put back in their columns."""
        n = next(iter(blocks.values())).shape[0]
        dtype = np.result_type(*[b.dtype for b in blocks.values()])  # object with string labels
        out = np.empty((n, sum(len(m.columns) for m in self._schema.modalities)), dtype)
        for info in self._schema.modalities:
            out[:, info.columns] = blocks[info.name]
        return out

    # ------------------------------------------------------------------ scores
    def score_samples(self, X, given=None):
        """Importance-weighted estimate of ``log p(x_observed)`` per sample (``beta=1``).

        Uses ``n_importance_samples`` draws from ``q(z | x_observed)``; the draws are seeded by
        ``random_state`` and shared by all rows, so the result does not depend on batching.
        With ``given``, the cross-modal log-likelihood ``log p(x_T | x_S)`` instead: ``S`` the
        observed modalities among ``given``, ``T`` the other observed ones (self-normalised
        importance sampling with draws from ``q(z | x_S)``; consistent as
        ``n_importance_samples`` grows). It measures how well the model predicts the
        targets from ``S``: the quantity ``predict`` imputes from.

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame
            Data; only the observed modalities of each sample are scored.
        given : str, list of str or None, default=None
            Condition on these modalities; ``None`` scores the joint log-likelihood. Rows
            with no observed target score 0.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            Log-likelihood estimates (nats).

        Examples
        --------
        >>> import numpy as np
        >>> from skmmvae import MultiModalVAE
        >>> rng = np.random.default_rng(0)
        >>> z = rng.normal(size=(200, 2))
        >>> X = {"a": z @ rng.normal(size=(2, 5)), "b": z @ rng.normal(size=(2, 3))}
        >>> vae = MultiModalVAE(n_components=2, max_epochs=5, random_state=0).fit(X)
        >>> joint = vae.score_samples(X)                  # log p(a, b)
        >>> b_given_a = vae.score_samples(X, given="a")   # log p(b | a)
        >>> joint.shape, b_given_a.shape
        ((200,), (200,))
        """
        check_is_fitted(self, "module_")
        given_mask = None if given is None else self._subset_mask(
            torch.ones(1, len(self._schema.names), dtype=torch.bool), given, "given")[0]
        if given_mask is None:
            def estimate(batch):
                return iw_log_likelihood(self.module_, batch.xs, batch.mask,
                                         self.n_importance_samples, common_noise=True)
        else:
            def estimate(batch):
                return iw_conditional_log_likelihood(self.module_, batch.xs, batch.mask, given_mask,
                                                     self.n_importance_samples, common_noise=True)
        return self._importance_estimates(X, estimate)

    def _importance_estimates(self, X, estimate):
        """``estimate(batch)`` over batches of ``X`` sized for ``n_importance_samples`` draws,
        as one float64 array. The same seed for every batch: each row sees the same random
        numbers, whatever its batch."""
        out = []
        batch_size = max(1, _SCORE_BATCH_DRAWS // int(self.n_importance_samples))
        with self._threads(), torch.no_grad():
            self.module_.eval()
            for batch in self._inference_batches(X, batch_size):
                batch, n = self._padded(batch)
                if not out:  # the first batch is the largest: check it before any draw
                    self._check_score_memory(len(batch))
                with _seeded(self._seed, batch.mask.device):
                    out.append(estimate(batch)[:n].double().cpu())
        return torch.cat(out).numpy()

    def _has_labels(self):
        """``predict_proba`` exists unfitted (it raises NotFittedError) and, once fitted, when
        some modality is categorical."""
        return not hasattr(self, "_schema") or any(
            m.likelihood == "categorical" for m in self._schema.modalities)

    @available_if(_has_labels)
    def predict_proba(self, X, modality=None):
        """Class probabilities of a categorical modality given the other observed modalities.

        ``p(y = c | x_S)``, ``S`` the observed modalities of each row other than ``modality``
        (its values in ``X``, if any, are ignored), estimated with ``n_importance_samples``
        draws from ``q(z | x_S)`` (self-normalised importance weights; seeded like
        :meth:`score_samples`, whose ``given`` estimate is the log of these probabilities at
        the observed class). This is the model used as a classifier of one modality from the
        others, including rows where some of the others are missing. :meth:`predict` imputes
        the class of the decoder at the posterior mean instead, which can differ when the
        posterior is wide.

        Only available when some modality is categorical.

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame
            Data; ``modality`` may be missing or left out.
        modality : str or None, default=None
            The categorical modality; ``None`` for the only one.

        Returns
        -------
        probabilities : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``categories_[modality]``; rows sum to 1.

        Examples
        --------
        >>> import numpy as np
        >>> from skmmvae import MultiModalVAE
        >>> rng = np.random.default_rng(0)
        >>> z = rng.normal(size=(200, 2))
        >>> X = {"x": z @ rng.normal(size=(2, 5)), "label": np.where(z[:, 0] > 0, "pos", "neg")}
        >>> vae = MultiModalVAE(likelihoods={"label": "categorical"}, n_components=2,
        ...                     max_epochs=5, random_state=0).fit(X)
        >>> proba = vae.predict_proba({"x": X["x"]})
        >>> proba.shape, vae.categories_["label"].tolist()
        ((200, 2), ['neg', 'pos'])
        """
        check_is_fitted(self, "module_")
        labels = [m.name for m in self._schema.modalities if m.likelihood == "categorical"]
        if modality is None:
            if len(labels) != 1:
                raise ValueError(f"the categorical modalities are {labels}: name one with modality=")
            modality = labels[0]
        if modality not in labels:
            raise ValueError(
                f"modality={modality!r} is not a categorical modality; categorical: {labels}"
            )
        target = self._schema.names.index(modality)
        X = _data.align_rows(X)  # rows in the order of X's first pandas block, even the target's
        proba = self._importance_estimates(_without(X, modality), lambda batch: iw_class_probabilities(
            self.module_, batch.xs, batch.mask, target, self.n_importance_samples, common_noise=True))
        return proba / proba.sum(1, keepdims=True)  # exact in float64 for scikit-learn's metrics

    def score(self, X, y=None):
        """Mean importance-weighted log-likelihood of the observed modalities.

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame
            Data.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Mean of :meth:`score_samples`.
        """
        return float(np.mean(self.score_samples(X)))

    # ------------------------------------------------------------------ persistence
    def save(self, path):
        """Save the fitted model to a file that can be loaded without running its code.

        The file is a zip archive of ``metadata.json`` (format version, skmmvae and torch
        versions, the parameters, the data layout learnt at fit, the fitted attributes and
        ``history_``, as JSON) and ``weights.pt`` (the network weights and the optimiser
        state as CPU tensors, written with :func:`torch.save`). :meth:`load` reads it with
        :mod:`json` and ``torch.load(..., weights_only=True)``: unlike a joblib or pickle
        file, a file from an untrusted source cannot run code when loaded. Parameters whose
        values are not plain data (custom ``encoders``/``decoders`` modules, ``callbacks``)
        are not stored; :meth:`load` asks for them.

        Parameters
        ----------
        path : str, path-like or writable binary file object
            File to write; an existing file is replaced (only once the new one is complete).
            A file object is written in place.

        Returns
        -------
        None

        See Also
        --------
        load : Read the file back.

        Examples
        --------
        >>> import numpy as np
        >>> from skmmvae import MultiModalVAE
        >>> rng = np.random.default_rng(0)
        >>> X = {"a": rng.normal(size=(100, 3)), "b": rng.normal(size=(100, 2))}
        >>> vae = MultiModalVAE(n_components=2, max_epochs=2, random_state=0).fit(X)
        >>> vae.save("vae.zip")
        >>> loaded = MultiModalVAE.load("vae.zip")
        >>> bool(np.array_equal(loaded.transform(X), vae.transform(X)))
        True
        """
        check_is_fitted(self, "module_")
        _persistence.save(self, path)

    @classmethod
    def load(cls, path, **params):
        """Load a model written by :meth:`save`, without running code from the file.

        Only JSON and tensors are read. The model is rebuilt from its parameters and data
        layout, and its weights are loaded into it: ``transform``, ``predict`` and
        ``score_samples`` give exactly the results of the saved model (on the CPU), and
        ``partial_fit`` continues training with the saved optimiser state and history.

        Parameters
        ----------
        path : str, path-like or readable binary file object
            A file written by :meth:`save`.
        **params
            Values of the parameters that could not be saved (custom ``encoders`` or
            ``decoders`` modules, ``callbacks``), required exactly when the model had such
            values. Modules must have the architecture they had when saved: their weights
            come from the file.

        Returns
        -------
        estimator : MultiModalVAE
            The loaded model, of the class that saved it (this class or a subclass).

        Raises
        ------
        ValueError
            If the file was not written by :meth:`save`, is damaged or truncated, holds
            anything but tensors in its weights, was written in another format version, or
            holds another class; also, before anything is inflated or any network built, if
            the archive holds other or repeated entries, declares sizes or compression
            ratios past the limits, or its metadata has unknown entries, wrong types,
            attribute names the class defines, or network sizes that do not fit the weights.
        TypeError
            If ``params`` misses a parameter that could not be saved, or names another one.

        Examples
        --------
        >>> from skmmvae import MultiModalVAE
        >>> vae = MultiModalVAE.load("vae.zip")          # doctest: +SKIP
        >>> vae = MultiModalVAE.load("custom.zip", encoders={"image": ConvEncoder()})  # doctest: +SKIP
        """
        return _persistence.load(cls, path, params)

    def __getstate__(self):
        state = self.__dict__.copy()
        net = state.pop("net_", None)
        module = state.pop("module_", None)
        if module is not None:
            state["_module_state"] = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
            if net is not None and getattr(net, "optimizer_", None) is not None:
                state["_optimizer_state"] = _to_cpu(copy.deepcopy(net.optimizer_.state_dict()))
        history = state.get("history_")
        if history is not None and "n_iter_" in state:
            # taken during training (from a callback, say): the epochs completed so far, not an
            # epoch under way, and n_iter_ counting them
            if len(history) and "train_loss" not in history[-1]:
                history = type(history)(history[:-1])
            state["history_"], state["n_iter_"] = history, len(history)
        if not (state.get("accelerator") is None or isinstance(state["accelerator"], str)):
            state["accelerator"] = None  # a handle on this process's distributed set-up
        state["_skmmvae_version"] = __version__
        return state

    def __setstate__(self, state):
        state = dict(state)
        module_state = state.pop("_module_state", None)
        version = state.pop("_skmmvae_version", None)
        if version != __version__:
            warnings.warn(
                f"this {type(self).__name__} was saved with skmmvae {version} and is loaded with "
                f"{__version__}; results may differ",
                UserWarning,
                stacklevel=2,
            )
        self.__dict__.update(state)
        if module_state is not None:
            with _seeded(0, "cpu"):  # building draws initial weights: keep the caller's RNG
                module = self._build_module()
            module.load_state_dict(module_state)
            self.module_ = module.to(self._load_device()).eval()
            self.net_ = None

    def _load_device(self):
        """Device to load onto: the fitted one, or the CPU when that one is not available."""
        device = self._device()
        if torch.device(device).type == "cuda" and not torch.cuda.is_available():
            warnings.warn(
                f"the model was set to run on {device!r}, which is not available here; "
                "loading it on the CPU (set_params(device='cpu') to silence this warning)",
                UserWarning,
                stacklevel=3,
            )
            return "cpu"
        return device

    def _restore_net(self):
        """A skorch net around the trained (or loaded) module, to train it further."""
        optimizer_state = self.__dict__.pop("_optimizer_state", None)  # set by unpickling
        if optimizer_state is None and getattr(self, "net_", None) is not None:
            optimizer_state = self.net_.optimizer_.state_dict()
        net = self._build_net(self.module_, str(_module_device(self.module_)))
        if optimizer_state is not None:
            net.optimizer_.load_state_dict(optimizer_state)
            for group in net.optimizer_.param_groups:
                group["lr"] = float(self.lr)  # the saved state would bring back the old lr
        net.history = self.history_
        return net


def _larger(value, reference):
    """Whether a size parameter exceeds its default (the largest width, for a tuple)."""
    if isinstance(value, (tuple, list)):
        value, reference = max(value, default=0), max(reference, default=0)
    if not isinstance(value, numbers.Number) or not isinstance(reference, numbers.Number):
        return False
    return value > reference


def _without(X, name):
    """``X`` without the values of modality ``name``: a dict leaves the key out; a 2-D input
    is passed as is (the caller ignores that modality)."""
    if isinstance(X, dict) and not _data.sp.issparse(X) and name in X:
        kept = {k: v for k, v in X.items() if k != name}
        if not kept:
            raise ValueError(f"X holds only the modality {name!r}: nothing to predict it from")
        return _data.ModalityDict(kept) if isinstance(X, _data.ModalityDict) else kept
    return X
