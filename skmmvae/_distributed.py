"""Data-parallel training through Hugging Face Accelerate (``MultiModalVAE(accelerator=...)``).

The estimator's one contact with Accelerate is :func:`training_setup`, which also answers
for training without an accelerator. The optional ``accelerate`` package (``pip install
"skmmvae[distributed]"``) is imported only when an accelerator is used.

How a fit runs on ``W`` processes (launched by ``accelerate launch`` or ``torchrun``):

* every process holds all the data and makes the same seeded train/validation split (the
  seed is broadcast from process 0, so ``random_state=None`` works too);
* every epoch, all processes draw the same permutation of the training rows from a shared
  seed; process ``r`` takes every ``W``-th row starting at ``r`` (the permutation is padded by
  wrapping round, so that all processes run the same number of steps); each process's batch has
  ``batch_size`` rows, so an optimiser step sees ``W * batch_size`` rows;
* the module is wrapped by the accelerator (``DistributedDataParallel``), which averages the
  gradients over the processes at every step, so the weights stay identical everywhere;
* the validation rows are split among the processes and the per-batch records of all
  processes are gathered at the end of each epoch: the history, and so early stopping, is the
  same on every process and all stop at the same epoch;
* random draws of the objective (latent samples, subsets) differ between processes;
* after training the module is unwrapped: the estimator is an ordinary ``MultiModalVAE``.
"""
import os
import warnings

import torch
from skorch.hf import AccelerateMixin
from skorch.net import NeuralNet

from ._net import MultiModalNet, TrainingDivergedError, Batches, silent

INSTALL_HINT = 'pip install "skmmvae[distributed]"  (or: pip install accelerate)'


def require_accelerate():
    """Import ``accelerate``, or raise an ImportError that says how to install it."""
    try:
        import accelerate
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"accelerator=... needs the optional 'accelerate' package: {INSTALL_HINT}"
        ) from exc
    return accelerate


def make_accelerator(device):
    """The accelerator of ``accelerator="auto"``: CPU processes when ``device`` is the CPU.

    Launched by ``accelerate launch``/``torchrun`` it joins the process group they set up;
    started as a plain script it is a single process.
    """
    accelerate = require_accelerate()
    return accelerate.Accelerator(cpu=torch.device(device).type == "cpu")


class TrainingSetup:
    """How the estimator trains, with or without an ``accelerate.Accelerator``.

    ``net_class`` and ``net_options`` (keyword arguments of the net), ``device`` (the
    accelerator's, or None: the estimator's own), ``sink(verbose)`` (where progress lines go),
    ``main_process`` (whether this process prints them) and ``shared_seed(seed)`` (the seed
    of process 0, so that every process makes the same split, initial weights and batches).
    """

    def __init__(self, accelerator=None):
        self.accelerator = accelerator
        if accelerator is None:
            self.net_class, self.device, self.main_process = MultiModalNet, None, True
            self.net_options = {"callbacks__print_log": None}  # the estimator's EpochProgress prints
        else:
            # the accelerator decides the device; only its main process prints
            self.net_class, self.device = AcceleratedMultiModalNet, str(accelerator.device)
            self.main_process = accelerator.is_main_process
            # skorch's Accelerate mixin sets print_log's sink itself: keep it, silenced
            self.net_options = {"accelerator": accelerator, "callbacks__print_log__sink": silent}

    def sink(self, verbose):
        if not verbose:
            return silent
        return print if self.accelerator is None else self.accelerator.print

    def shared_seed(self, seed):
        return seed if self.accelerator is None else shared_seed(self.accelerator, seed)


def training_setup(accelerator, device):
    """The :class:`TrainingSetup` of the estimator's ``accelerator`` parameter (None, "auto" or
    an ``accelerate.Accelerator``); ``device``: the estimator's, which "auto" follows."""
    if accelerator is None:
        return TrainingSetup()
    require_accelerate()
    if isinstance(accelerator, str):  # "auto"
        accelerator = make_accelerator(device)
    return TrainingSetup(accelerator)


def shared_seed(accelerator, seed):
    """``seed`` of process 0, on every process (checks that the processes see each other)."""
    launched = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if accelerator.num_processes < 2:
        if launched > 1:
            warnings.warn(
                f"the launcher started {launched} processes, but the accelerator sees only this "
                "one: each process trains a model of its own on all the data. On CPUs, create "
                "the accelerator with Accelerator(cpu=True) (accelerator='auto' does when "
                "device resolves to the CPU).",
                UserWarning,
                stacklevel=5,  # the caller of fit (through TrainingSetup.shared_seed)
            )
        return seed
    from accelerate.utils import broadcast_object_list

    return int(broadcast_object_list([int(seed)], from_process=0)[0])


class _ShardedBatches(Batches):
    """This process's share of the (shuffled) rows, in batches.

    Training: the permutation comes from ``generator`` (the same on every process), is padded
    by wrapping round to a multiple of ``world_size`` and process ``rank`` takes the rows
    ``rank, rank + world_size, ...`` of it: every process gets ``ceil(n / world_size)`` rows.
    Validation: the rows in order, strided the same way without padding (each row is scored
    exactly once over all processes).
    """

    def __init__(self, dataset, batch_size, shuffle, device, rank, world_size, generator=None):
        super().__init__(dataset, batch_size, shuffle, device)
        self.rank, self.world_size, self.generator = rank, world_size, generator

    def _indices(self):
        n = len(self.dataset)
        if not self.shuffle:
            return torch.arange(n)[self.rank :: self.world_size]
        order = torch.randperm(n, generator=self.generator)
        per_rank = -(-n // self.world_size)
        total = per_rank * self.world_size
        if total > n:
            order = order.repeat(-(-total // n))[:total]
        return order[self.rank : total : self.world_size]

    def __len__(self):
        n = len(self.dataset)
        rows = -(-n // self.world_size) if self.shuffle else len(range(self.rank, n, self.world_size))
        return -(-rows // self.batch_size)


class AcceleratedMultiModalNet(AccelerateMixin, MultiModalNet):
    """:class:`~skmmvae._net.MultiModalNet` trained data-parallel by an ``accelerate.Accelerator``.

    Differences to skorch's ``AccelerateMixin`` (whose training step, autocast, gradient
    accumulation, optimizer stepping and unwrapping at the end of training are used):

    * ``module_`` stays the plain :class:`~skmmvae.nn.MultiModalModule` (its methods are used
      everywhere); the accelerator prepares only the criterion, the net's
      :class:`~skmmvae._net.ObjectiveLoss` (whose ``forward`` computes the objective and which
      shares the module's parameters), through which the training step goes;
    * ``device`` is the accelerator's device (the data are moved by this net's own iterator,
      which shards the rows over the processes);
    * the epoch records of all processes are gathered (see the module docstring).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shuffle_generator = None
        self._divergence = None

    @property
    def _world(self):
        return self.accelerator.process_index, self.accelerator.num_processes

    def _validate_params(self):
        # AccelerateMixin asks for device=None when the accelerator places the model; here the
        # device *is* the accelerator's (set by the estimator), which the iterator needs.
        NeuralNet._validate_params(self)

    # ------------------------------------------------------------- wrapping
    def _initialize_accelerator(self):
        if self._wrapped_with_accelerator:
            return self
        with self._current_init_context("criterion"):
            self.criterion_ = self.accelerator.prepare(self.criterion_)
        from accelerate.optimizer import AcceleratedOptimizer

        with self._current_init_context("optimizer"):
            for name in self._optimizers:
                optimizer = getattr(self, name + "_")
                if isinstance(optimizer, torch.optim.Optimizer) and not isinstance(optimizer, AcceleratedOptimizer):
                    setattr(self, name + "_", self.accelerator.prepare(optimizer))
        self._wrapped_with_accelerator = True
        return self

    def _unwrap_accelerator(self):
        if not self._wrapped_with_accelerator:
            return
        wrapped = self.criterion_
        # forget the prepared loss in the accelerator too, so that repeated fits with one
        # accelerator do not keep old models alive (a private list; skipped if it changes)
        models = getattr(self.accelerator, "_models", None)
        if isinstance(models, list):
            models[:] = [m for m in models if m is not wrapped]
        self.criterion_ = self.accelerator.unwrap_model(wrapped, keep_fp32_wrapper=False)
        self._wrapped_with_accelerator = False

    # ------------------------------------------------------------- data
    def get_iterator(self, dataset, training=False):
        rank, world_size = self._world
        if self.batch_size > 0:
            batch_size = self.batch_size
        else:
            batch_size = max(1, -(-len(dataset) // world_size))
        generator = self._shuffle_generator if training else None
        return _ShardedBatches(dataset, batch_size, training, self.device, rank, world_size, generator)

    # ------------------------------------------------------------- steps
    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self._divergence = None
        if self._call_start < len(self.history) and self._shuffle_generator is not None:
            # a fit trained in parts (see skmmvae._latent_size: a horizon that began before
            # this call): the caller restored the RNG state of the pause; the row permutations
            # and each process's stream go on as in one uninterrupted call
            return
        # The caller seeded torch with the same seed on every process: draw a shared seed for
        # the row permutations, then give each process its own stream for the objective's
        # random draws (latent samples, subsets).
        seed = int(torch.randint(2**62, ()).item())
        self._shuffle_generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed + 1 + self.accelerator.process_index)

    def train_step(self, batch, **fit_params):
        with self.accelerator.accumulate(self.criterion_):
            return NeuralNet.train_step(self, batch, **fit_params)

    def _record(self, prefix, loss, terms):
        try:
            super()._record(prefix, loss, terms)
        except TrainingDivergedError as exc:
            if self.accelerator.num_processes < 2:
                raise
            # Raising on this process alone would leave the others waiting for it in the
            # gradient all-reduce: carry on (the non-finite gradients reach every process)
            # and raise on all processes together at the end of the epoch.
            if self._divergence is None:
                self._divergence = str(exc)

    def _diverged(self, message):
        if self.accelerator.num_processes < 2:
            raise TrainingDivergedError(message)
        # raised below, on every process together (one alone would leave the others waiting)
        if self._divergence is None:
            self._divergence = message

    def on_epoch_end(self, net, **kwargs):
        super().on_epoch_end(net, **kwargs)
        if self.accelerator.num_processes < 2:
            return
        from accelerate.utils import gather_object

        epoch = self.history[-1]
        gathered = gather_object([(epoch["batches"], self._divergence)])
        epoch["batches"] = [batch for batches, _ in gathered for batch in batches]
        messages = [message for _, message in gathered if message is not None]
        if messages:
            raise TrainingDivergedError(messages[0])
