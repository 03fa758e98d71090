"""``MultiModalVAE``: the scikit-learn face of the multi-modal VAE.

The class body holds the parameters (documented, validated the scikit-learn way), the
scikit-learn plumbing, the conversion of input data through the fitted schema, and the public
``fit``, ``partial_fit`` and ``transform``. The other concerns are mixins, one module each:
:mod:`._training` (build and train), :mod:`._checks` (memory, small data, divergence),
:mod:`._inference` (predict, sample, scores), :mod:`._snapshot` (pickling, save and load).
"""
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, InvalidParameterError, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _data
from ._checks import ChecksMixin
from ._inference import InferenceMixin, positive_count
from ._latent_size import fit_auto
from ._layout import check_2d_input, from_single_cell, to_blocks
from ._runtime import seeded, TorchThreads
from ._schema import Schema, integer_gaussian_warnings, label_modalities
from ._snapshot import PersistenceMixin, TrainingState
from ._training import TrainingMixin
from .nn import AGGREGATORS, OBJECTIVES
from .nn.networks import ACTIVATIONS


class MultiModalVAE(InferenceMixin, TrainingMixin, ChecksMixin, PersistenceMixin,
                    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
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
        For an ``anndata.AnnData`` or ``mudata.MuData`` input, ``{name: location}`` such as
        ``{"rna": "layers/counts", "protein": "obsm/protein"}`` (``None``: ``X`` as one
        modality, or one modality per ``mod`` of a MuData): the object is read as a dict of
        modalities with rows paired by ``obs_names`` (see :mod:`skmmvae.singlecell`), and
        ``predict`` returns that dict, filled in (:func:`skmmvae.singlecell.write_imputed`
        writes it back).
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
    n_components : int or "auto", default="auto"
        Size of the shared latent space (columns of ``transform``). ``"auto"`` chooses it
        from the data: a model with 12 dimensions and one with 24 are fitted (the same
        rows, validation split and seed), each predicts every modality from the others on
        the validation rows, and the one with the lower error (standardised squared error of
        numeric modalities, normalised Brier score of categorical ones:
        :func:`skmmvae.metrics.cross_modal_imputation_error`) is kept; the fitted size is
        ``n_components_`` and the errors ``latent_selection_``. This costs about two times
        one fit, or three on wide data (below), where the sizes race: each trains the KL
        warm-up's epochs (25 of 100), and the narrow sizes stop there where they are more
        than 1.1 times behind the wide size on the validation rows, or the wide size where it
        is 1.1 times behind them, and the wide size, trained on last, stops half-way (epoch
        50 of 100) where it is then 1.1 times behind the best narrow size at that epoch (the
        model kept is that of an uninterrupted fit; no race with user ``callbacks``, which
        would see a size's training in two parts, and no check half-way with an
        ``accelerator``). On wide data (at least 192 columns, a categorical modality counted
        by its classes, and a modality of more than 24 columns among as many others, so
        that its linear relation to them can have a rank above 24; with few rows or many;
        ``aggregation="auto"`` without
        ``aggregator_options``, and no custom ``decoders``) a third, wide size is tried as well:
        one dimension per 4 columns in multiples of 8, at most 128, with the diagonal
        product of experts and the encoders' linear path (``aggregation="auto"``,
        ``encoder_skip="auto"``). On the real UCI multiple-features views (649 columns,
        1,400 rows) it imputed a view from the others 16% better than the best of 12 and 24
        dimensions and 2% better than a per-view ridge regression; on the synthetic
        650-column ``mfeat_like`` views the validation rows kept 24 (see :doc:`/quality`). Where there is nothing to choose on (one modality, fewer than 10
        validation rows, ``max_epochs=0``, or a first ``partial_fit``) 12 dimensions are
        fitted alone. No single size served every data set of the quality benchmark
        (:doc:`/quality`): 24 imputed breast cancer 9% better than 12 and the nonlinear
        views with missing views 13% worse; the choice met the benchmark's goals on all six
        of its data sets. An integer fits that size once (12 for the fit ``"auto"`` gave
        before it existed, three times faster).
    aggregation : str, default="auto"
        How modality encodings are combined: ``"poe_full"`` (product of experts with full
        precision matrices), ``"poe"`` (product of diagonal experts, the paper's), ``"moe"``,
        ``"mopoe"``, or the permutation-invariant aggregators of the paper, ``"sumpooling"``,
        ``"selfattention"``, ``"sumpooling_mixture"``, ``"selfattention_mixture"``. ``"poe_full"``,
        the default up to 24 latent dimensions (``"auto"``, below), was chosen by the quality
        benchmark (:doc:`/quality`): each modality's expert adds a
        full precision matrix, the exact form of a linear-Gaussian posterior, so the views
        can correct each other along any direction of the latent space. Against ``"poe"`` with
        8 dimensions (the previous default, which beat sumpooling at half its time) it imputed
        with 2-22% less error in 10 of the benchmark's 12 data sets and regimes (2% and 5%
        more in the other two), for about 1.4 times the training time. ``"auto"`` (the
        default) is ``"poe_full"`` for up to 24 latent dimensions and ``"poe"`` beyond,
        where the full precision matrices' factorisations (cubic in the latent size) made
        training ten times slower and imputed no better (128 dimensions on the UCI
        multiple-features views: 0.26 against 0.25); the choice is ``aggregation_``. With
        ``aggregator_options`` (options of ``"poe_full"``; ``"poe"`` takes none) ``"auto"`` is
        ``"poe_full"`` at every size.
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
        number of components of ``*_mixture`` posteriors; those use 5 when this is 1). The
        products of experts (``"poe"``, ``"poe_full"``, ``"mopoe"``, so also ``"auto"``)
        multiply by a N(0, I) prior expert and do not take a mixture prior (an error); the
        permutation-invariant aggregations and ``"moe"`` do.
    n_private_components : int, default=0
        Size of the modality-specific (private) latents; 0 disables them.
    hidden_layer_sizes : tuple of int or "auto", default="auto"
        Hidden widths of the encoder MLPs (decoders use the reverse). ``"auto"``: two layers
        of 128 for up to 8 modalities; beyond, ``128 * 8 / M`` (a multiple of 8, at least
        32) for ``M`` modalities, so that the networks' total width and a training step's
        cost stay about those of 8 modalities. With ``aggregation="poe_full"`` the rank of
        the experts' precision terms follows the same rule (``n_components`` up to 8
        modalities, ``ceil(n_components * 8 / M)`` beyond; at most 12 on data of 192
        columns or more) unless ``aggregator_options`` gives it. The resolved widths are
        ``hidden_layer_sizes_``.
    embedding_size : int or "auto", default="auto"
        Width of the modality tokens for the permutation-invariant aggregators; ``"auto"``
        is the width that ``hidden_layer_sizes="auto"`` gives (``embedding_size_``).
    activation : {"relu", "leaky_relu", "gelu", "silu", "tanh"}, default="relu"
        Activation of the hidden layers of the built-in encoder and decoder MLPs.
    decoder_skip : bool or "auto", default="auto"
        Add a linear map of the latent code to each built-in decoder's output (``MLP(z) + z
        @ W``; custom ``decoders`` are left as given). A linear decoder, whose imputations
        are linear regressions as factor analysis gives them, is then one setting of the
        weights: on the nearly linear breast-cancer views it imputed 3% better with complete
        data (3 seeds) and 4% better with 30% of the cells missing (10 seeds), but not
        consistently so with views missing, few rows, 10% or 50% of the cells missing (10
        seeds: 0.998 and 1.00 times the plain decoders' error); within 2% either way on the other
        data sets of the quality benchmark (wine with views missing: 5% better). With fewer
        rows than features it hurt: on the real UCI multiple-features views with 100 and 30
        rows (649 features) the plain decoders imputed 2-3% better, and on the 40 mice of
        nutrimouse (141 features) 5% and 9.5% better (10 seeds; with the linear path the
        imputations were worse than the column means on 6 and 7 of the 10 splits). So
        ``"auto"`` adds the path when the rows given to ``fit`` outnumber the data's columns
        (``n_features_in_``, a categorical modality counted by its classes, as one-hot rows
        have them) or the latent space has more than 24 dimensions (the architecture of wide
        latent spaces, see ``encoder_skip``), and leaves it out otherwise; the choice is
        ``decoder_skip_``
        (see :doc:`/quality`). Without hidden layers (``hidden_layer_sizes=()``) the decoders
        are linear already and this changes nothing. ``False`` is the plain MLP of earlier
        releases (and of models saved by them).
    encoder_skip : bool or "auto", default="auto"
        Likewise for the built-in encoders: ``MLP(x) + x @ W``, so that each modality's
        expert can be a linear function of its data, as a factor analysis posterior is.
        ``"auto"`` adds it with a product of experts (``aggregation`` ``"poe"`` or
        ``"poe_full"``, so also ``"auto"``) and a latent space of more than 24 dimensions,
        with few rows or many, and leaves it out otherwise (it was measured with the products
        of experts only); the choice is ``encoder_skip_``. With 64 dimensions on the UCI
        multiple-features views it lowered the imputation error from 0.288 to 0.268 (a
        per-view ridge: 0.254); with 12 or 24 dimensions it did not help there and raised
        the error on other data sets of the quality benchmark by up to 8% (see
        :doc:`/quality`). ``False`` is the plain MLP of earlier releases.
    weight_init : {"lecun", "torch"}, default="lecun"
        Initial weights of the built-in linear layers: LeCun-normal with zero biases (Flax's
        default, used by the paper's code; it trains much faster than PyTorch's smaller
        default) or PyTorch's defaults. Custom ``encoders``/``decoders`` keep their weights.
    max_epochs : int, default=100
        Maximum number of training epochs (the budget that ``lr_schedule`` anneals over). ``max_epochs=0`` builds and initialises the model
        (weights drawn from ``random_state``, data scaling from ``X``) without training it:
        ``n_iter_`` is 0 and ``history_`` is empty; ``partial_fit`` can train it on.
    batch_size : int or "auto", default="auto"
        Rows per training batch. ``"auto"`` uses ``min(256, max(32, n_samples // 16))``: about 16
        optimisation steps per epoch (15 after the validation split) from 512 to 4096 rows,
        more above, and batches of 32 below 512 rows (3 steps per epoch for 100 rows; batches
        of 16 there were not better in the quality benchmark, see :doc:`/quality`). Inference uses batches of at least 1024
        rows.
    lr : float, default=3e-3
        Adam learning rate (the peak of ``lr_schedule``).
    weight_decay : float or "auto", default="auto"
        Decoupled weight decay of every network weight (the optimiser is then ``AdamW``: each
        step multiplies the weights by ``1 - lr_t * weight_decay``); 0 trains with Adam.
        ``"auto"`` (``weight_decay_``) is 1 for small data, at most 100 rows given to ``fit``
        or no more rows than the data's columns (``n_features_in_``, a categorical modality
        counted by its classes), or for a latent space wider than 24 dimensions on wide data
        (at least 192 columns) whatever the rows, and 0 otherwise: in the quality benchmark 1
        lowered the imputation error with 100 and 30 training rows on all 16 data sets and
        sizes tried, unseen and real data among them (by 0.4-19%), on wide data with 200 and
        400 rows (see :doc:`/quality`, "Wide data with few rows") and, for the wide latent
        space, on wide data with 1,400 and 2,000 rows (by 5-11%; "Weight decay for wide
        latent spaces"), but with more rows than columns no value tried helped on the unseen
        data (wine with 124 rows: 1.5% more error with 1; see :doc:`/quality`, "Weight decay
        for small data"), nor 32 dimensions on data of 16-74 columns (1-17% more error).
    validation_fraction : float, default=0.1
        Fraction of rows held out (a seeded random split) to monitor the objective
        (``valid_loss`` and its terms in ``history_``) and for early stopping. No validation
        split, and so no early stopping, is made when it would be empty.
    early_stopping : bool or "auto", default="auto"
        Stop when the validation loss has not decreased for ``n_iter_no_change`` epochs
        and restore the weights of the epoch with the lowest validation loss. ``"auto"``
        (``early_stopping_``) does so where the validation split holds at least 20 rows (200
        rows with the default split); with 10 to 19 it trains ``max_epochs`` and keeps the
        rows out (to report ``valid_loss`` and choose ``n_components="auto"`` on them), and
        with fewer it holds no row out and trains ``max_epochs`` on every row: the lowest
        validation loss of a few rows picks an epoch by chance, and in the quality benchmark
        the imputation error without early stopping was lower with 30 training rows on 6 of
        7 data sets and 0.986-1.002 times with 100 (see :doc:`/quality`, "Early stopping on
        small data"). Each training call resolves it on its own rows (a ``partial_fit`` on 50 rows
        after a fit on 200 does not stop early). ``False`` trains every epoch and still holds
        the validation rows out, to report ``valid_loss``; ``True`` stops early wherever the
        split holds a row.
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
        Extra callbacks, e.g. ``skorch.callbacks.Checkpoint``: as skorch takes them, each a
        ``Callback`` instance or class, or a ``(name, callback)`` pair. With
        ``n_components="auto"`` the training of each size runs them (the same instances,
        one training after the other), so a callback that writes files, such as
        ``Checkpoint``, ends with those of the last size trained, which need not be the
        size kept: give an integer ``n_components`` where that matters.
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
        (tens of seconds); long runs on a GPU gain from it. On a CPU it seldom pays: the
        speed benchmark (``benchmarks/speed/efficiency.py``) measured 40 to 90 seconds of
        compilation in a process's first compiled fit (about 2 in later ones), for steps 1.3
        to 1.6 times faster with the default networks and 0.9 times as fast with wider ones;
        at that rate the first compilation is repaid after about 10,000 steps, more than a
        default fit on a few thousand rows takes. Hence the default ``False``.
        The weights and every fitted attribute are those of an ordinary model.
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
    aggregator_options : dict or None, default=None
        Options of the ``aggregation`` (see :func:`skmmvae.nn.make_aggregator`): ``rank`` of
        ``"poe_full"`` (the rank of each expert's precision term, default ``n_components``,
        at most 12 on wide data; ``None`` is full rank, and like any option leaves the wide
        size of ``n_components="auto"`` out; rank 4 made fits of the quality
        benchmark about a quarter cheaper and imputed 0-5% worse), ``n_subsets`` of
        ``"mopoe"``, ``n_heads`` and ``n_blocks`` of ``"selfattention"``. An option the aggregation does not take is a ``TypeError`` that
        lists those it takes, raised before training.
    lr_schedule : {"cosine", "constant"}, default="cosine"
        Learning rate over the epochs of a training call: ``"cosine"`` anneals it from ``lr``
        towards 0 along a half cosine over the call's budget (``max_epochs`` for ``fit``,
        ``epochs`` for ``partial_fit``, so each ``partial_fit`` call is a warm restart and
        ``partial_fit(X, epochs=1)`` trains at ``lr``); ``"constant"`` keeps ``lr`` (use it
        when ``callbacks`` hold a skorch ``LRScheduler``). ``history_[:, "lr"]`` holds each
        epoch's learning rate. In the
        quality benchmark, ``lr=3e-3`` annealed over 100 epochs imputed as well as a constant
        ``lr=1e-3`` over 200 epochs (0.94-1.04 times its error) in about half the time (see
        :doc:`/quality`).

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
    n_components_ : int
        The size of the latent space (``n_components`` resolved).
    latent_selection_ : dict
        Where ``n_components="auto"`` chose the size: ``{"n_components": [12, 24],
        "validation_error": [e12, e24], "epochs": [n12, n24]}`` (and the wide size, on wide
        data), each size's cross-modal imputation error on the validation rows after the
        epochs it trained (a size the race stopped: after the warm-up, or the wide size
        half-way). Absent where nothing
        was chosen.
    hidden_layer_sizes_ : tuple of int
        The hidden widths of the built-in networks (``hidden_layer_sizes`` resolved).
    embedding_size_ : int
        The width of the modality tokens (``embedding_size`` resolved).
    decoder_skip_ : bool
        Whether the built-in decoders have the linear path (``decoder_skip`` resolved).
    encoder_skip_ : bool
        Whether the built-in encoders have the linear path (``encoder_skip`` resolved).
    aggregation_ : str
        The aggregation of the fitted model (``aggregation`` resolved).
    weight_decay_ : float
        The decoupled weight decay the model trains with (``weight_decay`` resolved).
    early_stopping_ : bool
        Whether early stopping watched validation rows in the last training call (``fit`` or
        ``partial_fit``): ``early_stopping`` resolved on that call's rows, False where none
        were held out (with ``"auto"``, where False, no row was held out).
    class_temperatures_ : dict of float
        The temperature of each categorical modality's :meth:`predict_proba`, fitted after
        training on the validation rows (the log-loss of the label predicted from the other
        modalities, minimised, with a prior that keeps it near 1); a modality without at
        least 50 validation rows where it is observed is left out (temperature 1). ``{}``
        without categorical modalities.
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
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "aggregation": [StrOptions(set(AGGREGATORS) | {"auto"})],
        "aggregator_options": [dict, None],
        "objective": [StrOptions(set(OBJECTIVES))],
        "beta": [Interval(numbers.Real, 0, None, closed="left")],
        "kl_warmup": [Interval(numbers.Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "n_prior_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_private_components": [Interval(numbers.Integral, 0, None, closed="left")],
        "hidden_layer_sizes": [tuple, list, StrOptions({"auto"})],
        "embedding_size": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
        "lr_schedule": [StrOptions({"cosine", "constant"})],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "early_stopping": ["boolean", StrOptions({"auto"})],
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
        "decoder_skip": ["boolean", StrOptions({"auto"})],
        "encoder_skip": ["boolean", StrOptions({"auto"})],
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
        n_components="auto",
        aggregation="auto",
        objective="tight",
        beta=0.5,
        kl_warmup="auto",
        n_prior_components=1,
        n_private_components=0,
        hidden_layer_sizes="auto",
        embedding_size="auto",
        activation="relu",
        weight_init="lecun",
        max_epochs=100,
        batch_size="auto",
        lr=3e-3,
        validation_fraction=0.1,
        early_stopping="auto",
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
        aggregator_options=None,
        lr_schedule="cosine",
        decoder_skip="auto",
        encoder_skip="auto",
        weight_decay="auto",
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
        self.aggregator_options = aggregator_options
        self.lr_schedule = lr_schedule
        self.decoder_skip = decoder_skip
        self.encoder_skip = encoder_skip
        self.weight_decay = weight_decay
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
        return TorchThreads(self.n_jobs)

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
    def _blocks(self, X, reset, skip=()):
        """Validate ``X`` into ``{name: 2-D float array}`` (``reset`` at fit); categorical
        modalities given as strings stay ``(n, 1)`` object arrays of labels. The columns of a
        2-D input's modalities in ``skip`` are left out unread (see ``to_blocks``)."""
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
        return to_blocks(array, self.modalities, schema, columns, labels=labels, skip=skip)

    def _tensors(self, X, reset=False, skip=()):
        blocks, kind, names, groups = self._blocks(X, reset, skip)
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

    # ------------------------------------------------------------------ model

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
        if isinstance(self.n_components, str):  # "auto": a model per size, the better kept
            return fit_auto(self, X)
        tensors = self._initialize(X)
        if self.max_epochs == 0:  # built and initialised, not trained (see max_epochs)
            self.module_, self.history_, self.n_iter_ = self.net_.module_, self.net_.history, 0
            self.class_temperatures_ = {}
            return self
        with self._threads(), seeded(self._seed, self.net_.device):
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
        epochs = positive_count("epochs", epochs)
        if not hasattr(self, "module_"):
            tensors = self._initialize(X)
            with self._threads(), seeded(self._seed, self.net_.device):
                self._train(tensors, epochs=epochs, partial=True)
                return self
        # scikit-learn validates the parameters of partial_fit on the first call only; the
        # training parameters may have been set since (set_params(lr=...)): check them again
        self._validate_params()
        self._check_callbacks()  # before _restore_net takes the optimiser state
        self._warn_architecture_changed()
        tensors, _ = self._tensors(from_single_cell(X, self.modalities))
        snapshot = TrainingState(self)
        # early_stopping="auto" resolves on this call's rows: a continuation on 50 rows must
        # not stop early on 5 validation rows because the fit had 200
        self._n_call_rows = len(tensors)
        try:
            # a new net around the trained module, so that the current parameters (lr,
            # callbacks, batch_size, verbose, ...) apply; optimiser state and history carry over
            self.net_ = self._restore_net()
            self._seed += 1  # fresh randomness for each continuation, still reproducible
            try:
                with self._threads(), seeded(self._seed, self.net_.device):
                    self._train(tensors, epochs=epochs, partial=True)
            except Exception as exc:
                snapshot.restore(self)
                if hasattr(exc, "add_note"):  # Python >= 3.11
                    exc.add_note(
                        "partial_fit failed: the estimator was restored to its state before this "
                        "call (weights, optimiser state, history_, n_iter_)."
                    )
                raise
            self.weight_decay_ = self._resolved_weight_decay()  # what it trained with now
            self.early_stopping_ = self._resolved_early_stopping()
        finally:
            self.__dict__.pop("_n_call_rows", None)
        return self

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





