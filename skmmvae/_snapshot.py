"""The training state of an estimator: weights, optimiser state, history and seed.

One object captures it and puts it back, for the three places that need it: pickling
(``__getstate__``/``__setstate__``, and so ``save``/``load``, which store what pickling stores)
and the rollback of a failed ``partial_fit``. The names under which the pickled state holds
it are spelled here only.
"""
import copy

from ._runtime import _to_cpu

# Keys of the pickled state of an estimator (and so of what save writes): a file format.
MODULE_STATE, OPTIMIZER_STATE, VERSION = "_module_state", "_optimizer_state", "_skmmvae_version"
KEYS = (MODULE_STATE, OPTIMIZER_STATE, VERSION)


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
        self.optimizer_state = _to_cpu(optimizer) if cpu and optimizer is not None else optimizer
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
