"""``MultiModalVAE``: the scikit-learn face of the multi-modal VAE."""
import copy
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, InvalidParameterError, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _data, _inference, _persistence
from ._inference import InferenceMixin
from ._net import TrainingDivergedError, _EarlyStopping
from ._progress import EpochProgress
from ._layout import check_2d_input, to_blocks
from ._schema import Schema, integer_gaussian_warnings, label_modalities
from ._runtime import (
    _module_device,
    _seeded,
    _TorchThreads,
    check_device,
    memory_limit,
)
from ._snapshot import VERSION, TrainingState, optimizer_state
from ._version import __version__
from .nn import AGGREGATORS, OBJECTIVES, MultiModalModule
from .nn.networks import ACTIVATIONS

_MIXTURE_DEFAULT_COMPONENTS = 5
# Fewer validation rows than this make early stopping's choice of epoch noise (a warning).
_MIN_VALIDATION_ROWS = 20
# More trainable weights than this per observed training value: a warning that the data are
# too few for the networks.
_MAX_WEIGHTS_PER_VALUE = 50
# Memory estimate that fit and the importance-sampling methods check before allocating (see
# MultiModalVAE._check_fit_memory and _check_score_memory): activations are counted as this many float32 copies of every
# built-in linear layer's input and output, per row and latent draw.
_ACTIVATION_FACTOR = 2


class MultiModalVAE(InferenceMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
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
        ``"categorical"``, ``"poisson"``, ``"negative_binomial"`` or ``"zinb"``; a dict
        ``{name: spec}`` where a spec is a name or ``(name, options)``, e.g.
        ``("gaussian", {"scale": 1.0})`` for a fixed scale. The negative binomial and
        zero-inflated negative binomial (``"zinb"``) learn a dispersion per feature and take
        each row's total count as its library size; their option ``library_size`` sets the
        library of imputed counts: ``"median"`` (default: the median training total),
        ``"observed"`` (a row's observed total, for its missing cells) or a number, e.g.
        ``("negative_binomial", {"library_size": 1e4})`` (see :doc:`/single_cell`). Unnamed
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
        Rows per training batch. ``"auto"`` uses ``min(256, max(32, n_samples // 16))``, so
        that small data sets still get at least 16 optimisation steps per epoch (too few steps
        leave a VAE stuck at the data mean). Inference uses batches of at least 1024 rows.
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

    NaN is missing data anywhere: a whole block row of NaN is a missing modality, a NaN
    inside an otherwise observed block a missing cell (the model conditions on, and scores,
    the observed cells only); ``inf`` is an error. Training that produces a NaN or infinite loss, or a
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
        # NaN anywhere is missing data: a row of NaN in a block is a missing modality, any
        # other NaN a missing cell (inf is an error).
        tags.input_tags.allow_nan = True
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

    def _training_setup(self):
        """Net class and options, device, printing and seed for the ``accelerator`` parameter:
        the estimator's one contact with Accelerate (see ``_distributed.training_setup``)."""
        from ._distributed import training_setup

        return training_setup(self.accelerator, self._device())

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
        # the modalities that may hold non-numeric labels
        labels = label_modalities(self.likelihoods) if reset else schema.label_modalities()
        if _data.is_modality_dict(X):
            if reset:
                for attr in ("n_features_in_", "feature_names_in_"):
                    self.__dict__.pop(attr, None)
            blocks, kind, names, groups = to_blocks(X, None, schema, labels=labels)
            if reset:
                self.n_features_in_ = sum(b.shape[1] for b in blocks.values())
            return blocks, kind, names, groups
        check_2d_input(X, schema)
        columns = [str(c) for c in X.columns] if _data.is_frame(X) else None
        # dtype=None and no finiteness check here: each modality block is converted and
        # checked in _data, so that errors name the modality.
        array = validate_data(self, X, reset=reset, ensure_all_finite=False, dtype=None)
        return to_blocks(array, self.modalities, schema, columns, labels=labels)

    def _tensors(self, X, reset=False):
        blocks, kind, names, groups = self._blocks(X, reset)
        if reset:
            self._schema = Schema.learn(blocks, kind, names, groups, self.likelihoods)
            for message in integer_gaussian_warnings(blocks, self._schema, self.likelihoods):
                warnings.warn(message, UserWarning, stacklevel=6)  # the caller of fit
            self._check_networks()
            tensors = self._schema.tensors(blocks)
            never = [n for n, seen in zip(self._schema.names, tensors.mask.any(0).tolist()) if not seen]
            if never:
                raise ValueError(
                    f"modalities {never} are missing (all NaN) in every training row; "
                    "drop them or provide some observed rows"
                )
            return tensors, blocks
        self._schema.check_known(blocks, getattr(self, "n_features_in_", None))
        return self._schema.tensors(blocks), blocks

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
        liks = self._schema.likelihoods()
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
        setup = self._training_setup()
        sink = setup.sink(self.verbose)
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
        if self.verbose and setup.main_process:
            # one line per epoch that fits a terminal (skorch's table has a column per term)
            callbacks.append(("progress", EpochProgress(total=int(self.max_epochs), sink=sink)))
        net = setup.net_class(
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
            device=setup.device or device,
            callbacks=callbacks,
            verbose=self.verbose,
            autocast_dtype=None if self.autocast is None else getattr(torch, self.autocast),
            compile_options=None if self.compile is False else ({} if self.compile is True else dict(self.compile)),
            **setup.net_options,
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
        snapshot = TrainingState(self)
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
        setup = self._training_setup()
        # with an accelerator, the seed of process 0 everywhere: the same split, initial
        # weights and batches on every process
        self._seed = setup.shared_seed(self._seed)
        device = setup.device or self._device()
        self._split_seed = self._seed  # kept fixed across partial_fit calls
        self._check_fit_memory(device)
        self.modality_names_ = self._schema.names
        self.categories_ = self._schema.categories()
        self._n_features_out = self.n_components
        with self._threads(), _seeded(self._seed, device):
            module = self._build_module()
            # the moments (with standardize) and the count likelihoods' library sizes
            module.set_data_scaling(
                ((b.xs, b.mask) for b in self._batches(tensors, _inference._INFERENCE_CHUNK_ROWS, "cpu")),
                standardize=self.standardize,
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
        draws *= OBJECTIVES[self.objective].branches  # encoder-decoder passes per step
        train = 4 * (4 * n_params + _ACTIVATION_FACTOR * rows * draws * widths)
        if train > limit:
            self._memory_error(train, limit, device, f"train on batches of {rows} rows ({n_params:,} "
                               "parameters with their gradients and Adam's moments, and activations)")
        rows = min(max(self._training_batch_size(), _inference._MIN_INFERENCE_BATCH), _inference._INFERENCE_CHUNK_ROWS)
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
        net.partial_fit(tensors, epochs=epochs)
        self._check_finite(net.module_, tensors)
        if net.interruption_ is not None:
            warnings.warn(net.interruption_, UserWarning, stacklevel=4)  # the caller of fit or partial_fit
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
            rows = tensors.subset(torch.arange(min(len(tensors), _inference._MIN_INFERENCE_BATCH)))
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
        state.pop("net_", None)
        if state.pop("module_", None) is not None:
            # CPU copies of weights and optimiser state; taken during training (from a callback,
            # say), the epochs completed so far, not an epoch under way, and n_iter_ counting them
            TrainingState(self, cpu=True).write(state)
        if not (state.get("accelerator") is None or isinstance(state["accelerator"], str)):
            state["accelerator"] = None  # a handle on this process's distributed set-up
        state[VERSION] = __version__
        return state

    def __setstate__(self, state):
        state = dict(state)
        module_state, version = TrainingState.read(state)
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
        optimizer = optimizer_state(self, take=True)
        net = self._build_net(self.module_, str(_module_device(self.module_)))
        if optimizer is not None:
            net.optimizer_.load_state_dict(optimizer)
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

