"""What ``verbose=1`` prints: one line per epoch, at most 100 characters wide.

skorch's own table has a column per term of the objective (ten with the tight objective), too
wide for a terminal, and its progress bar counts batches within an epoch. This callback prints
the epoch out of the budget, the training and validation losses (a star where the validation
loss is the best so far), the time per epoch and an estimate of the time left.
"""
import time

from skorch.callbacks import Callback

LINE_WIDTH = 100


def _duration(seconds):
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class EpochProgress(Callback):
    """Print one line per training epoch: ``epoch 12/200  train 1.234  valid 1.301*  ...``.

    Parameters
    ----------
    total : int
        Epochs this training call may run (its budget).
    sink : callable, default=print
        Where the lines go.
    """

    def __init__(self, total, sink=print):
        self.total = total
        self.sink = sink

    def initialize(self):
        self.done_ = 0
        self.best_ = float("inf")
        self.started_ = None
        return self

    def on_train_begin(self, net, **kwargs):
        self.initialize()
        self.started_ = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        self.done_ += 1
        row = net.history[-1]
        elapsed = time.perf_counter() - self.started_
        per_epoch = elapsed / self.done_
        parts = [f"epoch {row['epoch']:>4}/{len(net.history) - self.done_ + self.total}"]
        parts.append(f"train {row.get('train_loss', float('nan')):10.4g}")
        if "valid_loss" in row:
            valid = row["valid_loss"]
            star = "*" if valid < self.best_ else " "
            self.best_ = min(self.best_, valid)
            parts.append(f"valid {valid:10.4g}{star}")
        parts.append(f"{per_epoch:6.2f} s/epoch")
        parts.append(f"at most {_duration(per_epoch * (self.total - self.done_))} left")
        self.sink("  ".join(parts)[:LINE_WIDTH])
