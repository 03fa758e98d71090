"""A warning where a fitted model imputes a modality no better than its training column means.

The brief of the package: training never silently produces a useless model. A fit can end
with finite weights and a falling loss and still predict a modality from the others no better
than the column means of the training rows would (unrelated modalities, too few rows for the
networks, too short a training). After ``fit``, where the validation split holds at least
``MIN_USEFULNESS_ROWS`` rows, each modality observed in enough of them is predicted from the
others (as ``predict`` / ``predict_proba`` predict it) and compared with the training rows'
column means (class frequencies for a categorical modality), on the scale of
:func:`skmmvae.metrics.cross_modal_imputation_error`; where the model is on average no better
(the mean over the modalities of its error over the means' error is at least 1), a
``UserWarning`` gives the ratios and says what to try. The check reads the tensors that
training already has (only the validation rows are copied): the user's data are not
converted again.
"""
import warnings

import numpy as np
import torch

from ._calibration import tempered
from ._net import validation_split

MIN_USEFULNESS_ROWS = 10
_CHUNK_ROWS = 4096  # training rows summed at a time for the column means


def _training_means(tensors, rows, s, n_columns):
    """Per-column mean of modality ``s`` over its observed cells in ``tensors``' rows ``rows``
    (float64, NaN where a column has none), summed a chunk at a time."""
    total = np.zeros(n_columns)
    count = np.zeros(n_columns)
    for start in range(0, len(rows), _CHUNK_ROWS):
        batch = tensors.rows(rows[start:start + _CHUNK_ROWS])
        x = batch.xs[s][batch.mask[:, s]].double()
        cells = ~torch.isnan(x)
        total += torch.where(cells, x, torch.zeros_like(x)).sum(0).numpy()
        count += cells.sum(0).numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def _class_frequencies(tensors, rows, s, n_classes):
    """Class frequencies of categorical modality ``s`` in ``tensors``' rows ``rows``."""
    counts = np.zeros(n_classes)
    for start in range(0, len(rows), _CHUNK_ROWS):
        batch = tensors.rows(rows[start:start + _CHUNK_ROWS])
        codes = batch.xs[s][batch.mask[:, s], 0].long()
        counts += np.bincount(codes.numpy(), minlength=n_classes)[:n_classes]
    return counts / max(counts.sum(), 1.0)


def _at_training_depth(estimator, s, predicted):
    """``predicted`` (means of modality ``s``) at the training rows' median library size where
    its count likelihood imputes at a library size given as a number (``library_size=1e4``:
    counts per 10,000, another scale than the data's and the column means'), as
    ``library_size="median"`` imputes them; unchanged otherwise. The means are proportional
    to the library size, and the model the same whatever number is given."""
    likelihood = list(estimator.module_.likelihoods.values())[s]
    library = getattr(likelihood, "library_size", None)
    if not isinstance(library, float):
        return predicted
    return predicted * (float(likelihood.default_library) / library)


def _hidden(valid, s):
    """Rows of ``valid`` where modality ``s`` and some other modality are observed, with ``s``
    hidden (a new batch), and the observed values of ``s`` in them."""
    others = valid.mask.clone()
    others[:, s] = False
    rows = torch.nonzero(valid.mask[:, s] & others.any(1)).squeeze(1)
    given = valid.rows(rows)
    truth = given.xs[s].clone()
    given.xs[s] = torch.zeros_like(given.xs[s])
    given.mask[:, s] = False
    return given, truth


def usefulness_ratios(estimator, tensors):
    """``{modality: model error / baseline error}`` of ``estimator``, just trained on
    ``tensors`` (the ModalityTensors of its fit), on the validation rows it held out: each
    modality predicted from the others against the training rows' column means (a numeric
    modality: squared error standardised by the validation values' per-column sd, counts
    imputed at a fixed library size taken at the training rows' median one; a categorical
    one: Brier score against the training class frequencies). ``{}`` with one
    modality or fewer than ``MIN_USEFULNESS_ROWS`` validation rows; a modality observed with
    another in fewer of them, or numeric and constant in each column on them, is left out
    (as are the constant columns of the others)."""
    schema = estimator._schema
    if len(schema.names) < 2:
        return {}
    split = validation_split(len(tensors), estimator.validation_fraction, estimator._split_seed)
    if split is None or len(split[1]) < MIN_USEFULNESS_ROWS:
        return {}
    train_rows, valid_rows = split
    valid = tensors.rows(valid_rows)
    ratios = {}
    widths = schema.output_widths()  # a categorical modality: its classes (labels or one-hot)
    for s, info in enumerate(schema.modalities):
        given, truth = _hidden(valid, s)
        if len(given) < MIN_USEFULNESS_ROWS:
            continue
        if info.is_categorical:
            n_classes = widths[s]
            codes = truth[:, 0].long().numpy()
            onehot = np.eye(n_classes)[codes]
            proba = tempered(estimator._class_probabilities(None, info.name, converted=given),
                             estimator.class_temperatures_.get(info.name, 1.0))
            baseline = _class_frequencies(tensors, train_rows, s, n_classes)
            model_error = np.mean(np.sum((proba - onehot) ** 2, axis=1))
            base_error = np.mean(np.sum((baseline - onehot) ** 2, axis=1))
        else:
            truth = truth.double().numpy()
            predicted = _at_training_depth(estimator, s, estimator._decoded(given, latent=None)[s])
            baseline = _training_means(tensors, train_rows, s, truth.shape[1])
            cells = ~np.isnan(truth) & ~np.isnan(baseline)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # columns without a cell here
                sd = np.nanstd(np.where(cells, truth, np.nan), axis=0)
            # a column constant on these rows shows nothing to predict: the means' error there
            # is their bias alone, near 0, and a ratio to it noise (a rare binary feature, all 0
            # in the validation rows, made a good model's ratio 4 to 20 and fit warn)
            varies = np.isfinite(sd) & (sd > 0)
            cells &= varies
            if not cells.any():
                continue
            sd = np.where(varies, sd, 1.0)
            model_error = np.mean((((predicted - truth) / sd) ** 2)[cells])
            base_error = np.mean((((baseline - truth) / sd) ** 2)[cells])
        if base_error > 0:
            ratios[info.name] = float(model_error / base_error)
    return ratios


def usefulness_warning(estimator, tensors):
    """The message of the warning for ``estimator`` just fitted on ``tensors``, or None: a
    warning where the modalities it could check are on average (the mean of their
    :func:`usefulness_ratios`) predicted no better than by the training rows' means. One
    modality that the others do not predict is a property of the data (on the diabetes data
    with views missing, age and sex: 1.08 times the means' error on the 30 validation rows of
    seed 0, 0.93 on the test rows), not a useless model."""
    ratios = usefulness_ratios(estimator, tensors)
    if not ratios or np.mean(list(ratios.values())) < 1.0:
        return None
    listed = ", ".join(f"{name!r} {r:.2f}" for name, r in ratios.items())
    return (
        "predicted from the other modalities on the validation rows, the modalities are on "
        "average no better than the training rows' column means (class frequencies for a "
        f"categorical modality; error / the means' error: {listed}). The modalities may "
        "carry no information about each other, or the model did not learn it: compare with "
        "sklearn.impute.SimpleImputer, and try smaller networks (hidden_layer_sizes=(32,)), "
        "more epochs (max_epochs) or more rows."
    )
