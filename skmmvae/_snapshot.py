"""The training state of an estimator: weights, optimiser state, history and seed.

One object captures it and puts it back, for the three places that need it: pickling
(``__getstate__``/``__setstate__``, and so ``save``/``load``, which store what pickling stores)
and the rollback of a failed ``partial_fit``. The names under which the pickled state holds
it are spelled here only. :class:`PersistenceMixin` gives the estimator those methods.
"""
import copy
import warnings

import torch
from sklearn.utils.validation import check_is_fitted

from ._runtime import module_device, seeded, to_cpu
from ._training import ARCHITECTURE_BEFORE
from ._version import __version__

# Keys of the pickled state of an estimator (and so of what save writes): a file format.
MODULE_STATE, OPTIMIZER_STATE, VERSION = "_module_state", "_optimizer_state", "_skmmvae_version"
KEYS = (MODULE_STATE, OPTIMIZER_STATE, VERSION)
# Training parameters added after the first release, as the models pickled before them
# trained (weight_decay: Adam, no decay).
TRAINING_BEFORE = {"weight_decay": 0.0}


def optimizer_state(est, take=False):
    """The optimiser state that ``est`` trains on with, or None: the one waiting in ``est``
    since unpickling or ``load`` (removed with ``take=True``: the new net gets it), else the
    one of its net. Not a copy."""
    waiting = est.__dict__.pop(OPTIMIZER_STATE, None) if take else est.__dict__.get(OPTIMIZER_STATE)
    if waiting is not None:
        return waiting
    net = est.__dict__.get("net_")
    if net is not None and getattr(net, "optimizer_", None) is not None:
        return net.optimizer_.state_dict()
    return None


def completed_epochs(history):
    """``history`` without an epoch under way (a copy then; taken during training, say)."""
    if len(history) and "train_loss" not in history[-1]:
        return type(history)(history[:-1])
    return history


class TrainingState:
    """A copy of a fitted estimator's training state (training updates the originals in place).

    Parameters
    ----------
    est : MultiModalVAE
        A fitted estimator.
    cpu : bool, default=False
        Copy the tensors to the CPU (what pickling and ``save`` write).
    """

    def __init__(self, est, cpu=False):
        self.module_state = {
            k: (v.detach().cpu() if cpu else v.detach()).clone() for k, v in est.module_.state_dict().items()
        }
        optimizer = copy.deepcopy(optimizer_state(est))
        self.optimizer_state = to_cpu(optimizer) if cpu and optimizer is not None else optimizer
        self.history = completed_epochs(est.history_)
        self.n_epochs = len(self.history)
        self.seed = est.__dict__.get("_seed")
        self.net = est.__dict__.get("net_")

    def write(self, state):
        """Put the weights, optimiser state and history into the pickled ``state`` of the estimator."""
        state[MODULE_STATE] = self.module_state
        if self.optimizer_state is not None:
            state[OPTIMIZER_STATE] = self.optimizer_state
        state["history_"], state["n_iter_"] = self.history, self.n_epochs

    @staticmethod
    def read(state):
        """``(module state or None, version)`` popped from the pickled ``state``; an optimiser
        state stays in it, to wait in the estimator for the net of its next ``partial_fit``."""
        return state.pop(MODULE_STATE, None), state.pop(VERSION, None)

    def restore(self, est):
        """Put ``est`` back in this state, its net included (the rollback of a ``partial_fit``)."""
        est.module_.load_state_dict(self.module_state)
        if self.net is not None:
            self.net.optimizer_.load_state_dict(self.optimizer_state)
        elif self.optimizer_state is not None:
            # loading it into an optimiser may share (and update) its tensors: this is a copy
            est.__dict__[OPTIMIZER_STATE] = self.optimizer_state
        est.net_ = self.net
        del est.history_[self.n_epochs:]
        est.n_iter_ = len(est.history_)
        est._seed = self.seed


class PersistenceMixin:
    """Pickling, ``save``/``load`` and the net a reloaded model trains on, around :class:`TrainingState`."""

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
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "vae.zip")  # or simply "vae.zip"
        >>> vae.save(path)
        >>> loaded = MultiModalVAE.load(path)
        >>> bool(np.array_equal(loaded.transform(X), vae.transform(X)))
        True
        """
        from . import _persistence  # it imports this module

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
        from . import _persistence  # it imports this module

        return _persistence.load(cls, path, params)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("net_", None)
        state.pop("_n_call_rows", None)  # of a partial_fit under way (taken from a callback)
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
        for name, value in {**ARCHITECTURE_BEFORE, **TRAINING_BEFORE}.items():
            state.setdefault(name, value)  # a pickle from before the parameter
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
            if "hidden_layer_sizes_" not in self.__dict__:  # fitted before they were recorded
                self.hidden_layer_sizes_, self.embedding_size_, self._expert_rank = self._fitted_sizes()
            if "_architecture" not in self.__dict__:  # likewise: its parameters are its architecture
                self._architecture = {**self._architecture_params(), **ARCHITECTURE_BEFORE}
            if "n_components_" not in self.__dict__:  # fitted before it was recorded
                self.n_components_ = int(self._fitted_architecture()["n_components"])
            if "weight_decay_" not in self.__dict__:  # likewise ("auto" came with it)
                self.weight_decay_ = float(self.weight_decay)
            if "early_stopping_" not in self.__dict__:  # likewise
                self.early_stopping_ = self._resolved_early_stopping()
            for name in ("decoder_skip", "encoder_skip", "aggregation"):  # likewise
                if name + "_" not in self.__dict__:
                    setattr(self, name + "_", self._fitted_architecture()[name])
            with seeded(0, "cpu"):  # building draws initial weights: keep the caller's RNG
                module = self._build_module(fitted=True)
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
        net = self._build_net(self.module_, str(module_device(self.module_)))
        if optimizer is not None:
            # the saved state would bring back the old lr and weight decay (its param groups
            # replace the new ones): keep the current ones, as the new net has them
            current = [{key: group[key] for key in ("weight_decay", "decoupled_weight_decay") if key in group}
                       for group in net.optimizer_.param_groups]
            net.optimizer_.load_state_dict(optimizer)
            for group, kept in zip(net.optimizer_.param_groups, current):
                group.update(kept, lr=float(self.lr))
        net.history = self.history_
        return net
