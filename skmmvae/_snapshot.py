"""What a failed ``partial_fit`` restores: the estimator's training state before the call."""
import copy


class _Snapshot:
    """What ``partial_fit`` restores when its training fails: weights, optimiser state,
    history length, seed and the net (copies, since training updates them in place)."""

    def __init__(self, est):
        self.module_state = {k: v.detach().clone() for k, v in est.module_.state_dict().items()}
        net = getattr(est, "net_", None)
        self.net = net
        self.optimizer_state = copy.deepcopy(net.optimizer_.state_dict()) if net is not None else None
        # set by unpickling; loading it into an optimiser may share (and update) its tensors
        self.pending_optimizer_state = copy.deepcopy(est.__dict__.get("_optimizer_state"))
        self.n_history = len(est.history_)
        self.seed = est._seed

    def restore(self, est):
        est.module_.load_state_dict(self.module_state)
        if self.net is not None:
            self.net.optimizer_.load_state_dict(self.optimizer_state)
        elif self.pending_optimizer_state is not None:
            est._optimizer_state = self.pending_optimizer_state
        est.net_ = self.net
        del est.history_[self.n_history:]
        est.n_iter_ = len(est.history_)
        est._seed = self.seed
