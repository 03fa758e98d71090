"""The private skorch net that trains a :class:`~skmmvae.nn.MultiModalModule`.

skorch supplies the loop, the optimiser, callbacks (early stopping, printing)
and the history. What is specific here: batches are drawn by indexing in-memory tensors
(no per-sample Dataset); the loss is the negative variational objective, computed by one
module in skorch's criterion slot (:class:`ObjectiveLoss`: the objective of the registry,
under autocast and torch.compile if asked), which the Accelerate net shares; the terms the
objective declares are recorded per batch and averaged per epoch; a non-finite loss stops
training with advice; ``partial_fit`` tells an interruption from early stopping.
Also here: the estimator's early-stopping callback (skorch's, idle in epochs without a
validation split) and the sink that silences printing when ``verbose=0``.
"""
import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, PassthroughScoring

from ._data import ModalityTensors
from .nn import make_objective


class TrainingDivergedError(FloatingPointError):
    """Raised when the training objective becomes NaN or infinite, or explodes.

    Exploding means that the mean training loss of ``EXPLOSION_EPOCHS`` consecutive epochs
    rises above ``reference + DIVERGENCE_FACTOR * (|reference| + 1)``, the reference being the
    first batch's loss of the same ``fit`` or ``partial_fit`` call: a model 10^4 times worse
    than where it started, epoch after epoch, is diverging (large learning rates can do that
    without ever producing NaN). A single spiking batch or epoch, from which training
    recovers, is not divergence.

    Examples
    --------
    It is a ``FloatingPointError``, so code that already handles those catches it too:

    >>> from skmmvae import TrainingDivergedError
    >>> issubclass(TrainingDivergedError, FloatingPointError)
    True

    A typical response is to train again with a smaller learning rate, e.g.
    ``vae.set_params(lr=vae.lr / 10).fit(X)``:

    >>> try:
    ...     raise TrainingDivergedError("the train objective became nan at epoch 3.")
    ... except TrainingDivergedError as error:
    ...     print(f"retry with a smaller lr: {error}")
    retry with a smaller lr: the train objective became nan at epoch 3.
    """


DIVERGENCE_FACTOR = 1e4
EXPLOSION_EPOCHS = 2
_ADVICE = (
    "Keep standardize=True (or standardise the inputs), lower lr, or use a likelihood that "
    "matches the data (e.g. 'bernoulli' for values in [0, 1])."
)


class ObjectiveLoss(torch.nn.Module):
    """The training objective as a module: skorch's criterion for both nets.

    ``forward(xs, mask, beta)`` gives the per-sample terms of the objective named
    ``objective`` (see :data:`skmmvae.nn.OBJECTIVES`), computed under ``torch.autocast`` when
    ``autocast_dtype`` is set and through ``torch.compile(**compile_options)`` when those are
    set. The whole objective is compiled (not ``module.forward``: the objectives call several
    methods of the module), once per net; shapes are marked dynamic so that the last, smaller
    batch of an epoch does not trigger a recompilation. A module (holding ``model``, whose
    parameters skorch's optimiser counts once), so that Accelerate can wrap it for
    data-parallel training.
    """

    def __init__(self, model, objective, autocast_dtype=None, compile_options=None):
        super().__init__()
        self.model = model
        self.objective = make_objective(objective)
        self.autocast_dtype = autocast_dtype
        self.compiled = None
        if compile_options is not None:
            self.compiled = torch.compile(self.objective, **{"dynamic": True, **compile_options})

    def forward(self, xs, mask, beta):
        with torch.autocast(
            device_type=mask.device.type,
            dtype=self.autocast_dtype or torch.bfloat16,
            enabled=self.autocast_dtype is not None,
        ):
            return (self.compiled or self.objective)(self.model, xs, mask, beta)


def validation_split(n_rows, fraction, seed):
    """``(training rows, validation rows)`` (index tensors) of a fit's hold-out: a seeded
    random ``floor(fraction * n_rows)`` of the rows; None where that leaves no row on either
    side. The net's split and ``n_components="auto"``'s selection both use it."""
    n_valid = int(np.floor(fraction * n_rows))
    if n_valid < 1 or n_rows - n_valid < 1:
        return None
    order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(seed))
    return order[n_valid:], order[:n_valid]


class MultiModalNet(NeuralNet):
    """skorch ``NeuralNet`` for multi-modal VAEs; ``X`` is a :class:`ModalityTensors`."""

    def __init__(self, module, *args, objective="tight", beta=1.0, kl_warmup=0, valid_fraction=0.0,
                 split_seed=0, autocast_dtype=None, compile_options=None, lr_schedule="constant",
                 **kwargs):
        super().__init__(module, *args, criterion=ObjectiveLoss, train_split=self._split, **kwargs)
        self.objective = objective
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.valid_fraction = valid_fraction
        self.split_seed = split_seed
        self.autocast_dtype = autocast_dtype
        self.compile_options = compile_options
        self.lr_schedule = lr_schedule
        self._call_start = 0  # epochs in the history before this training call
        self._call_epochs = 1  # the epoch budget of this training call (lr_schedule's horizon)
        self._objective_fn = None  # the compiled objective (see ObjectiveLoss), if any
        self._loss_reference = None  # first training batch's loss (see TrainingDivergedError)
        self._epoch_losses = []  # this epoch's training batch losses
        self._exploded_epochs = 0  # consecutive epochs above the explosion threshold
        self._train_batches = 1  # training batches per epoch (set by get_iterator)
        self._batch_in_epoch = 0  # training batches begun in this epoch (a counter: reading
        # it from the history on every step costs more than a small network's step)

    @property
    def _default_callbacks(self):
        callbacks = super()._default_callbacks
        extra = []
        for prefix in ("train", "valid"):
            for term in make_objective(self.objective).terms:
                name = f"{prefix}_{term}"
                # lower_is_better=None: report the term, without a "best" flag that would
                # mean nothing for a single term of the objective
                extra.append(
                    (name, PassthroughScoring(name=name, lower_is_better=None, on_train=prefix == "train"))
                )
        return callbacks[:-1] + extra + callbacks[-1:]

    # ---------------------------------------------------------------- data
    def get_dataset(self, X, y=None):
        if not isinstance(X, ModalityTensors):
            raise TypeError("MultiModalNet expects ModalityTensors")
        return X

    def _split(self, dataset, y=None, **kwargs):
        """Seeded random hold-out of ``valid_fraction`` of the rows (views, no copies)."""
        split = validation_split(len(dataset), self.valid_fraction, self.split_seed)
        if split is None:
            return dataset, None
        train, valid = split
        return dataset.subset(train), dataset.subset(valid)

    def get_iterator(self, dataset, training=False):
        batch_size = self.batch_size if self.batch_size > 0 else len(dataset)
        batches = Batches(dataset, batch_size, shuffle=training, device=self.device)
        if training:
            self._train_batches = len(batches)
        return batches

    def training_beta(self):
        """``beta`` of the current training step: ramped linearly from 0 over the first
        ``kl_warmup`` epochs (counted over all training calls), step by step."""
        if not self.kl_warmup:
            return self.beta
        epoch = max(len(self.history) - 1, 0)  # epochs completed before this one
        batch = max(self._batch_in_epoch - 1, 0)  # training batches before this one
        progress = (epoch + batch / self._train_batches) / self.kl_warmup
        return self.beta * min(1.0, progress)

    # ---------------------------------------------------------------- training
    def partial_fit(self, X, y=None, classes=None, epochs=None, horizon=None, **fit_params):
        """skorch's ``partial_fit`` on ``X`` (ModalityTensors) for ``epochs`` epochs, telling an
        interruption from early stopping in ``interruption_``.

        skorch stops training with KeyboardInterrupt: early stopping raises it at the end of
        an epoch; anything else (Ctrl-C, a callback) is an interruption. Either way the module
        is kept (``on_train_end`` restores early stopping's best epoch, if any). After an
        interruption the epoch cut short is dropped from the history and ``interruption_`` is
        the warning that says what was kept; otherwise it is None.

        ``horizon``: ``(first epoch, epochs)`` of ``lr_schedule`` where it spans more than this
        call (by default this call's epochs, from the history's end).
        """
        if not self.initialized_:
            self.initialize()
        self.interruption_ = None
        if horizon is None:
            horizon = (len(self.history), epochs if epochs is not None else self.max_epochs)
        self._call_start, self._call_epochs = int(horizon[0]), max(int(horizon[1]), 1)
        self.notify("on_train_begin", X=X, y=y)
        interrupted = False
        try:
            self.fit_loop(X.to(self.device), y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            interrupted = not getattr(self._early_stopping(), "stopped_", False)
        finally:
            self.notify("on_train_end", X=X, y=y)
        if interrupted:
            self.interruption_ = self._interruption()
        return self

    def _early_stopping(self):
        """The estimator's early-stopping callback, or None."""
        return dict(self.callbacks_).get("early_stopping")

    def _interruption(self):
        """Drop the epoch cut short from the history; the warning about what was kept."""
        history = self.history
        epoch = history[-1, "epoch"] if len(history) else 0
        if len(history) and "train_loss" not in history[-1]:  # the epoch did not finish
            del history[-1]
        early_stopping = self._early_stopping()
        best = getattr(early_stopping, "best_epoch_", 0)
        if getattr(early_stopping, "best_model_weights_", None) is not None and best != epoch:
            kept = f"the weights of epoch {best}, the best so far by validation loss"
        else:
            kept = "the weights at the interruption"
        return (
            f"training was interrupted (KeyboardInterrupt) in epoch {epoch}; the estimator keeps "
            f"{kept}, and history_ and n_iter_ count the {len(history)} completed epochs. "
            "Call partial_fit to train on."
        )

    def _set_training(self, training=True):
        """skorch's: every module and criterion in ``training`` mode (before each batch), but
        ``train`` is called only where some submodule is in the other mode. ``train`` walks
        every submodule and sets an attribute on each: 0.3 ms for a default model of six
        modalities, twice a step (the criterion holds the module), against tens of
        microseconds for reading the flags of a list of the submodules made once per module
        object."""
        cache = self.__dict__.setdefault("_mode_modules", {})
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_", None)
            if not isinstance(module, torch.nn.Module):
                continue
            owner, submodules = cache.get(name, (None, ()))
            if owner is not module:
                submodules = tuple(module.modules())
                cache[name] = (module, submodules)
            if any(m.training != training for m in submodules):
                module.train(training)

    # ---------------------------------------------------------------- steps
    def initialize_criterion(self):
        loss = ObjectiveLoss(self.module_, self.objective, self.autocast_dtype, self.compile_options)
        self.criterion_ = loss
        self._term_names = loss.objective.terms  # what _record keeps (the history's columns)
        self._objective_fn = loss.compiled
        return self

    def infer(self, x, **fit_params):
        """The objective's per-sample terms for the batch ``x`` (ModalityTensors). In training
        mode ``beta`` follows the KL warm-up; the validation loss (early stopping's monitor)
        always uses the full beta."""
        beta = self.training_beta() if self.criterion_.training else self.beta
        return self.criterion_(x.xs, x.mask, beta)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Minus the batch mean of the objective; records its terms (see ``_record``)."""
        loss = -y_pred["objective"].mean()
        self._record("train" if training else "valid", loss, y_pred)
        return loss

    def _record(self, prefix, loss, terms):
        names = [t for t in self._term_names if t in terms]
        values = torch.stack([loss.detach()] + [terms[t].detach().mean() for t in names]).float()
        values = values.tolist()  # one device sync per batch
        if not np.isfinite(values[0]):
            raise TrainingDivergedError(
                f"the {prefix} objective became {values[0]} at epoch {len(self.history)}. {_ADVICE}"
            )
        if prefix == "train":
            if self._loss_reference is None:
                self._loss_reference = values[0]
            self._epoch_losses.append(values[0])
        for term, value in zip(names, values[1:]):
            self.history.record_batch(f"{prefix}_{term}", value)

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        self._batch_in_epoch = 0
        if self.lr_schedule == "cosine":
            lr = self.cosine_lr()
            for group in self.optimizer_.param_groups:
                group["lr"] = lr

    def cosine_lr(self):
        """The learning rate of the epoch under way (the history's last row) with
        ``lr_schedule="cosine"``: ``lr * (1 + cos(pi * k / E)) / 2`` for the ``k``-th epoch
        (from 0) of a training call of ``E`` epochs. ``"constant"`` leaves the optimiser's
        rate alone (``lr``, or what a scheduler among the callbacks sets)."""
        k = min(max(len(self.history) - 1 - self._call_start, 0), self._call_epochs - 1)
        return float(self.lr) * 0.5 * (1.0 + math.cos(math.pi * k / self._call_epochs))

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        super().on_batch_begin(net, batch=batch, training=training, **kwargs)
        if training:
            self._batch_in_epoch += 1

    def on_epoch_end(self, net, **kwargs):
        # the rate this epoch trained at (the last batch's, where a scheduler steps per batch)
        self.history.record("lr", self.optimizer_.param_groups[0]["lr"])
        super().on_epoch_end(net, **kwargs)
        message = self._explosion()
        if message is not None:
            self._diverged(message)

    def _diverged(self, message):
        raise TrainingDivergedError(message)

    def _explosion(self):
        """The error message if training has exploded (see TrainingDivergedError), else None."""
        losses, self._epoch_losses = self._epoch_losses, []
        reference = self._loss_reference
        if not losses or reference is None:
            return None
        mean = float(np.mean(losses))
        if mean > reference + DIVERGENCE_FACTOR * (abs(reference) + 1.0):
            self._exploded_epochs += 1
        else:
            self._exploded_epochs = 0
        if self._exploded_epochs < EXPLOSION_EPOCHS:
            return None
        return (
            f"the training loss exploded: its mean was {mean:.4g} in epoch {len(self.history)} "
            f"and above {DIVERGENCE_FACTOR:.0e} times the start ({reference:.4g}, the first batch "
            f"of this training call) for {self._exploded_epochs} epochs in a row: the "
            f"optimisation is diverging. {_ADVICE}"
        )


class Batches:
    """Iterate over a :class:`ModalityTensors` in (shuffled) batches, moved to ``device``."""

    def __init__(self, dataset, batch_size, shuffle, device):
        self.dataset, self.batch_size, self.shuffle, self.device = dataset, batch_size, shuffle, device

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def _indices(self):
        """The rows to iterate over, in order (a hook for the sharded batches of Accelerate)."""
        n = len(self.dataset)
        return torch.randperm(n) if self.shuffle else torch.arange(n)

    def __iter__(self):
        indices = self._indices()
        for start in range(0, len(indices), self.batch_size):
            batch = self.dataset.rows(indices[start : start + self.batch_size])
            yield batch.to(self.device), None


class ValidationEarlyStopping(EarlyStopping):
    """skorch's early stopping, idle in epochs without a validation split (too few rows)
    and during the net's KL warm-up (whose epochs are not comparable with later ones: the
    best epoch and the patience count start after it).

    ``stopped_`` tells its own stop (a KeyboardInterrupt) from an interruption.
    """

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self.stopped_ = False

    def on_epoch_end(self, net, **kwargs):
        if self.monitor not in net.history[-1]:
            return
        if len(net.history) <= getattr(net, "kl_warmup", 0):
            return
        try:
            super().on_epoch_end(net, **kwargs)
        except KeyboardInterrupt:
            self.stopped_ = True
            raise


def silent(*args, **kwargs):
    pass
