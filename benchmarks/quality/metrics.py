"""Metrics: standardised MSE of an imputed view, accuracy and log-loss of a label view."""
import numpy as np

PROBA_FLOOR = 1e-15


def observed_rows(block):
    """Rows of a view that are observed (not a whole row of NaN)."""
    return ~np.isnan(block).all(axis=1)


def training_scale(block):
    """Per-feature mean and standard deviation over the observed (non-NaN) training values;
    sd 0 (or a feature never observed) -> 1, mean of a feature never observed -> 0."""
    block = np.asarray(block, dtype=np.float64)
    seen = ~np.isnan(block)
    count = seen.sum(axis=0)
    filled = np.where(seen, block, 0.0)
    mean = filled.sum(axis=0) / np.maximum(count, 1)
    sd = np.sqrt((np.where(seen, block - mean, 0.0) ** 2).sum(axis=0) / np.maximum(count, 1))
    return mean, np.where(sd > 0, sd, 1.0)


def standardised_mse(pred, truth, sd):
    """Mean over rows and features of ``((pred - truth) / sd) ** 2``."""
    pred, truth = np.asarray(pred, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if pred.shape != truth.shape:
        raise ValueError(f"shapes differ: {pred.shape} vs {truth.shape}")
    return float(np.mean(((pred - truth) / np.asarray(sd, dtype=np.float64)) ** 2))


def accuracy(pred, truth):
    return float(np.mean(np.ravel(pred) == np.ravel(truth)))


def log_loss(proba, classes, truth):
    """Mean ``-log p(true class)``, probabilities clipped at ``PROBA_FLOOR`` (a class that the
    model does not know gets the floor)."""
    proba, classes, truth = np.asarray(proba), np.asarray(classes), np.ravel(truth)
    pos = np.searchsorted(classes, truth).clip(0, len(classes) - 1)
    p = np.where(classes[pos] == truth, proba[np.arange(len(truth)), pos], 0.0)
    return float(-np.mean(np.log(np.clip(p, PROBA_FLOOR, 1.0))))
