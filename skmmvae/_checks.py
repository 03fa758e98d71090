"""What fit checks before training and reports after it: memory, small data, finiteness.

Every check says what to change. Memory estimates refuse, before anything is allocated, sizes
whose training step or inference batch would not fit on the device; the small-data warnings
say when the validation split or the networks are too large for the rows; after training,
weights or outputs that are not finite raise :class:`~skmmvae.TrainingDivergedError`, and a
fit that ran out of epochs while still improving warns (``ConvergenceWarning``).
"""
import numbers
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from . import _inference
from ._latent_size import latent_size
from ._net import TrainingDivergedError
from ._runtime import module_device, seeded, memory_limit
from ._sizes import FULL_WIDTH, auto_width
from ._small_data import MIN_EARLY_STOPPING_ROWS
from .nn import OBJECTIVES
from .nn.networks import StackedMLP

# More trainable weights than this per observed training value: a warning that the data are
# too few for the networks.
_MAX_WEIGHTS_PER_VALUE = 50
# Memory estimate that fit and the importance-sampling methods check before allocating (see
# ChecksMixin._check_fit_memory and _check_score_memory): activations are counted as this
# many float32 copies of every built-in linear layer's input and output, per row and latent draw.
_ACTIVATION_FACTOR = 2



class ChecksMixin:
    """The checks and reports of :class:`~skmmvae.MultiModalVAE` (see the module docstring)."""

    _SIZE_PARAMS = ("n_components", "hidden_layer_sizes", "embedding_size", "n_prior_components",
                    "n_private_components", "batch_size")

    @staticmethod
    def _sizes_of(module, extra_parameters=0):
        """``(parameters, widths)`` of ``module``: its number of parameters and buffers, and
        the summed input and output widths of its linear layers (floats per row and draw)."""
        n_params = sum(t.numel() for t in (*module.parameters(), *module.buffers())) + extra_parameters
        widths = 0
        for layer in module.modules():
            if isinstance(layer, torch.nn.Linear):
                widths += layer.in_features + layer.out_features
            elif isinstance(layer, StackedMLP):  # n networks: weights (n, in, out) per layer
                stacked = [*layer.weights, *([] if layer.skip_weight is None else [layer.skip_weight])]
                widths += sum(w.shape[0] * (w.shape[1] + w.shape[2]) for w in stacked)
        return n_params, widths

    def _check_fit_memory(self, device):
        """Refuse, before anything is allocated, sizes whose training step or inference batch
        would need more memory than ``device`` has (see the class Notes)."""
        limit = memory_limit(device)
        if limit is None:
            return
        with seeded(0, "cpu"), torch.device("meta"):  # no memory, no draws from the user's RNG
            module = self._build_module(networks=False)
        custom = [m for nets in (self.encoders, self.decoders) for m in (nets or {}).values()]
        n_params, widths = self._sizes_of(module, sum(p.numel() for m in custom for p in m.parameters()))
        rows = min(self._training_batch_size(), self._n_fit_rows)
        draws = self._n_mixture_components() if self._resolved_aggregation().endswith("_mixture") else 1
        draws *= OBJECTIVES[self.objective].branches  # encoder-decoder passes per step
        train = 4 * (4 * n_params + _ACTIVATION_FACTOR * rows * draws * widths)
        if train > limit:
            self._memory_error(train, limit, device, f"train on batches of {rows} rows ({n_params:,} "
                               "parameters with their gradients and Adam's moments, and activations)")
        rows = min(max(self._training_batch_size(), _inference.MIN_INFERENCE_BATCH),
                   _inference.INFERENCE_CHUNK_ROWS)
        infer = 4 * (n_params + _ACTIVATION_FACTOR * rows * widths) + 8 * rows * latent_size(self)
        if infer > limit:
            self._memory_error(infer, limit, device, f"transform or predict a batch of {rows} rows")

    def _memory_error(self, needed, limit, device, what, names=None):
        """The ValueError of a size check, naming ``names`` (default: the size parameters
        above their defaults)."""
        if names is None:
            defaults = type(self)().get_params()
            auto = auto_width(len(self._schema.names))  # what "auto" gives these modalities
            names = [name for name in self._SIZE_PARAMS if _larger(getattr(self, name), defaults[name], auto)]
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
        device = module_device(self.module_)
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
        n_valid = int(np.floor(self._validation_fraction() * n_rows))
        # fewer validation rows make early stopping's choice of epoch noise
        if self._resolved_early_stopping() and n_valid < MIN_EARLY_STOPPING_ROWS:
            warnings.warn(
                f"early stopping would monitor {n_valid} validation rows "
                f"(validation_fraction={self.validation_fraction} of {n_rows}): too few to choose "
                f"an epoch reliably. Set early_stopping=False and validation_fraction=0 to train "
                f"max_epochs={self.max_epochs} epochs on all rows, or raise validation_fraction.",
                UserWarning,
                stacklevel=6,  # the caller of fit (through _initialize and _prepare)
            )
        counts = mask.sum(0).tolist()
        observed = sum(c * m.n_features for c, m in zip(counts, self._schema.modalities))
        weights = sum(p.numel() for p in module.parameters() if p.requires_grad)
        if weights > _MAX_WEIGHTS_PER_VALUE * observed:
            warnings.warn(
                f"the networks have {weights} weights for {observed} observed training values "
                f"({n_rows} rows): on data this small a simple imputer (a per-view ridge "
                "regression, KNNImputer) often predicts better; compare with one "
                "(skmmvae.metrics.cross_modal_imputation_error). Narrower networks imputed worse "
                "in the package's quality benchmark; with fewer rows than columns, linear ones "
                "trained longer (hidden_layer_sizes=(), max_epochs=1000) sometimes better.",
                UserWarning,
                stacklevel=6,  # the caller of fit (through _initialize and _prepare)
            )

    def _check_finite(self, module, tensors):
        """Raise TrainingDivergedError where training left weights that are not finite, or
        finite ones whose posterior or decoder means of the first training rows overflow
        (the last optimiser step is never evaluated by the training loop itself)."""
        bad = [name for name, p in module.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            what = f"non-finite weights (in {', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''})"
        else:
            rows = tensors.subset(torch.arange(min(len(tensors), _inference.MIN_INFERENCE_BATCH)))
            batch, _ = self._padded(rows.rows(torch.arange(len(rows))).to(module_device(module)))
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
        if not len(net.history) or "valid_loss" not in net.history[-1]:
            return
        if early_stopping is None and not isinstance(self.early_stopping, str):
            return  # early_stopping=False: the user asked for every epoch
        # early_stopping="auto" without early stopping (10-19 validation rows): the validation
        # loss is still watched, and a budget ended while it falls is said as with it
        trained = len(net.history) - epochs_before
        if early_stopping is not None and early_stopping.stopped_:
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
        window = [row["valid_loss"] for row in net.history[-int(self.n_iter_no_change):]
                  if "valid_loss" in row]
        slope = falling_trend(window)
        if slope is None or not _still_learning(slope, window, net.history):
            return
        if early_stopping is not None:
            best = early_stopping.best_epoch_
        else:
            losses = [row.get("valid_loss", np.inf) for row in net.history]
            best = 1 + int(np.argmin(losses))
        warnings.warn(
            f"training stopped at max_epochs={self.max_epochs} while the validation loss was still "
            f"falling: by {-slope:.3g} per epoch over the last {len(window)} epochs (a linear trend "
            f"more than {TREND_T:g} standard errors below 0; it last improved in epoch "
            f"{best} of {len(net.history)}), so the model may be under-fitted. "
            "Raise max_epochs, or continue with partial_fit(X, epochs=...).",
            ConvergenceWarning,
            stacklevel=5,  # the caller of fit
        )


#: How many standard errors below zero the validation loss's trend must be for a fit that used
#: its whole budget to warn that it was still improving.
TREND_T = 2.0
#: The least fall of the validation loss along its trend over the last ``n_iter_no_change``
#: epochs, as a fraction of its fall over the whole fit, for which a fit that used its whole
#: budget warns (as scikit-learn's MLP does not warn for improvements below its ``tol``). On
#: the multiple-features views a default fit ended with a significant trend worth 0.4% of the
#: fit's fall over its last 20 epochs, and twice the epochs imputed 1% better at twice the
#: cost (``docs/quality.rst``, "Weight decay for wide latent spaces").
LEARNING_FRACTION = 0.01


def _still_learning(slope, window, history):
    """Whether a validation loss falling with ``slope`` per epoch over ``window`` still falls by
    at least ``LEARNING_FRACTION`` of what it fell over the whole fit (its first value less
    its lowest): the tail of an annealed schedule, falling significantly but by a sliver of
    what training gained, is not worth more epochs.

    >>> history = [{"valid_loss": v} for v in [100.0, 50.0, 20.0, 10.0, 9.9, 9.8]]
    >>> _still_learning(-0.1, [10.0, 9.9, 9.8], history)   # 0.3 of a fall of 90.2
    False
    >>> _still_learning(-5.0, [20.0, 15.0, 10.0], history)
    True
    """
    losses = np.array([row["valid_loss"] for row in history if "valid_loss" in row], dtype=np.float64)
    losses = losses[np.isfinite(losses)]
    fall = float(losses[0] - losses.min()) if len(losses) else 0.0
    return -slope * len(window) >= LEARNING_FRACTION * fall


def falling_trend(losses, t=TREND_T):
    """The least-squares slope of ``losses`` (one per epoch) where it is more than ``t``
    standard errors below 0, else None: whether a loss is still falling rather than noisy
    around a plateau. Fewer than 3 values count as falling when the last is the lowest.

    >>> falling_trend([5.0, 4.0, 3.1, 2.0]) < 0
    True
    >>> falling_trend([2.0, 2.1, 1.9, 2.05, 1.95, 1.9]) is None  # noise, lowest last
    True
    """
    y = np.asarray(losses, dtype=np.float64)
    y = y[np.isfinite(y)]
    if len(y) < 3:
        return float(y[-1] - y[0]) if len(y) == 2 and y[-1] < y[0] else None
    x = np.arange(len(y)) - (len(y) - 1) / 2
    slope = float(x @ (y - y.mean()) / (x @ x))
    residuals = y - y.mean() - slope * x
    se = float(np.sqrt(residuals @ residuals / (len(y) - 2) / (x @ x)))
    if slope < 0 and (se == 0 or slope / se < -t):
        return slope
    return None


def _larger(value, reference, auto=FULL_WIDTH):
    """Whether a size parameter exceeds its default (the largest width, for a tuple; an
    ``"auto"`` default counts as ``auto``, the width it resolves to, by default its largest)."""
    if isinstance(reference, str) and reference == "auto":
        reference = auto
    if isinstance(value, (tuple, list)):
        value = max(value, default=0)
    if isinstance(reference, (tuple, list)):
        reference = max(reference, default=0)
    if not isinstance(value, numbers.Number) or not isinstance(reference, numbers.Number):
        return False
    return value > reference
