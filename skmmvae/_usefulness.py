"""A warning where a fitted model imputes a modality no better than its training column means.

The brief of the package: training never silently produces a useless model. A fit can end
with finite weights and a falling loss and still predict a modality from the others no better
than the column means of the training rows would (unrelated modalities, too few rows for the
networks, too short a training). After ``fit``, where the validation split holds at least
``MIN_USEFULNESS_ROWS`` rows, each modality observed in enough of them is predicted from the
others (as ``predict`` / ``predict_proba`` predict it; a model of one modality, such as a
one-block imputer: a fifth of each row's observed cells, from the rest of the row) and
compared with the training rows'
column means (class frequencies for a categorical modality), on the scale of
:func:`skmmvae.metrics.cross_modal_imputation_error`; where the model is on average no better
(the mean over the modalities of its error over the means' error is at least
``USEFUL_RATIO``, 0.95: less than 5% better; on unrelated data a model's ratio is about 1,
within a few per cent either way on 40 validation rows), a
``UserWarning`` gives the ratios and says what to try. The check reads the tensors that
training already has (only the validation rows are copied): the user's data are not
converted again.
"""
import warnings

import numpy as np
import torch

from ._calibration import tempered
from ._net import validation_split

# Validation rows (and rows where a modality is observed with another) the check needs: with
# 10, a useful model of the diabetes data with 100 rows (0.75 times the means' error on the
# 133 test rows) scored 1.03 and warned.
MIN_USEFULNESS_ROWS = 30
# A model of one modality: the share of each validation row's observed cells hidden and
# predicted from the rest of the row.
HIDDEN_CELL_FRACTION = 0.2
# The warning where the mean ratio of the model's error to the means' is at least this: less
# than 5% better than the column means (a useless model's ratio is about 1, give or take the
# noise of a few dozen validation rows: 0.97 on one model of unrelated columns).
USEFUL_RATIO = 0.95
_CHUNK_ROWS = 4096  # training rows summed at a time for the column means


def _training_moments(tensors, rows, s, n_columns):
    """Per-column mean and standard deviation of modality ``s`` over its observed cells in
    ``tensors``' rows ``rows`` (float64, NaN where a column has none), summed a chunk at a
    time."""
    total, squares, count = np.zeros(n_columns), np.zeros(n_columns), np.zeros(n_columns)
    for start in range(0, len(rows), _CHUNK_ROWS):
        batch = tensors.rows(rows[start:start + _CHUNK_ROWS])
        x = batch.xs[s][batch.mask[:, s]].double()
        x = torch.where(torch.isnan(x), torch.zeros_like(x), x), ~torch.isnan(x)
        total += x[0].sum(0).numpy()
        squares += (x[0] ** 2).sum(0).numpy()
        count += x[1].sum(0).numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        return mean, np.sqrt(np.maximum(squares / count - mean**2, 0.0))


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


def _numeric_errors(predicted, truth, moments):
    """``(model error, means' error)``: the mean over the cells where ``truth`` is not NaN of
    the squared errors of ``predicted`` and of the training column means, standardised by the
    training columns' sd (``moments``: both, from :func:`_training_moments`; an sd from the
    training rows rather than from the few evaluated cells, whose spread in a column of 5
    hidden cells made the ratio of a good one-block imputer 0.94 on one breast-cancer split,
    0.3 on the others); None where no such cell is in a column that varies."""
    mean, spread = moments
    cells = ~np.isnan(truth) & np.isfinite(mean)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # columns without a cell here
        here = np.nanstd(np.where(cells, truth, np.nan), axis=0)
    # a column constant on these rows shows nothing to predict: the means' error there
    # is their bias alone, near 0, and a ratio to it noise (a rare binary feature, all 0
    # in the validation rows, made a good model's ratio 4 to 20 and fit warn)
    cells &= (np.isfinite(here) & (here > 0))[None, :]
    if not cells.any():
        return None
    sd = np.where(np.isfinite(spread) & (spread > 0), spread, 1.0)
    return (float(np.mean((((predicted - truth) / sd) ** 2)[cells])),
            float(np.mean((((mean - truth) / sd) ** 2)[cells])))


def _hidden_cells(valid, s, seed):
    """Rows of ``valid`` where modality ``s`` has at least two observed cells, with
    ``HIDDEN_CELL_FRACTION`` of those cells (at least one, never all) hidden as NaN (a new
    batch), and the hidden cells' values (NaN elsewhere). Seeded: the same cells each time."""
    observed = valid.observed_cells(s)
    rows = torch.nonzero(observed.sum(1) >= 2).squeeze(1)
    given = valid.rows(rows)
    observed = observed[rows]
    scores = torch.rand(observed.shape, generator=torch.Generator().manual_seed(seed))
    scores = scores.masked_fill(~observed, 2.0)  # unobserved cells last
    n_hide = (observed.sum(1) * HIDDEN_CELL_FRACTION).ceil().clamp(min=1)
    n_hide = torch.minimum(n_hide, observed.sum(1) - 1).long()
    rank = scores.argsort(1).argsort(1)
    hide = rank < n_hide[:, None]
    truth = torch.full_like(given.xs[s], float("nan"))
    truth[hide] = given.xs[s][hide]
    given.xs[s] = given.xs[s].masked_fill(hide, float("nan"))
    return given, truth


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


def _cell_ratio(estimator, tensors, train_rows, valid):
    """:func:`usefulness_ratios` of a model of one numeric modality (a one-block imputer):
    cells hidden in the validation rows (:func:`_hidden_cells`) predicted from the rest of
    their row, against the training rows' column means."""
    info = estimator._schema.modalities[0]
    if info.is_categorical:
        return {}
    given, truth = _hidden_cells(valid, 0, estimator._split_seed)
    if len(given) < MIN_USEFULNESS_ROWS:
        return {}
    predicted = _at_training_depth(estimator, 0, estimator._decoded(given, latent=None)[0])
    errors = _numeric_errors(predicted, truth.double().numpy(),
                             _training_moments(tensors, train_rows, 0, truth.shape[1]))
    if errors is None or errors[1] <= 0:
        return {}
    return {info.name: errors[0] / errors[1]}


def usefulness_ratios(estimator, tensors):
    """``{modality: model error / baseline error}`` of ``estimator``, just trained on
    ``tensors`` (the ModalityTensors of its fit), on the validation rows it held out: each
    modality predicted from the others against the training rows' column means (a numeric
    modality: squared error standardised by the training rows' per-column sd, counts
    imputed at a fixed library size taken at the training rows' median one; a categorical
    one: Brier score against the training class frequencies). With one modality, cells hidden
    in the validation rows predicted from the rest of their row (:func:`_cell_ratio`). ``{}``
    with fewer than ``MIN_USEFULNESS_ROWS`` validation rows; a modality observed with another
    in fewer of them, or numeric and constant in each column on them, is left out (as are
    the constant columns of the others)."""
    schema = estimator._schema
    split = validation_split(len(tensors), estimator._validation_fraction(), estimator._split_seed)
    if split is None or len(split[1]) < MIN_USEFULNESS_ROWS:
        return {}
    train_rows, valid_rows = split
    valid = tensors.rows(valid_rows)
    if len(schema.names) == 1:
        return _cell_ratio(estimator, tensors, train_rows, valid)
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
            predicted = _at_training_depth(estimator, s, estimator._decoded(given, latent=None)[s])
            errors = _numeric_errors(predicted, truth.double().numpy(),
                                     _training_moments(tensors, train_rows, s, truth.shape[1]))
            if errors is None:
                continue
            model_error, base_error = errors
        if base_error > 0:
            ratios[info.name] = float(model_error / base_error)
    return ratios


def usefulness_warning(estimator, tensors):
    """The message of the warning for ``estimator`` just fitted on ``tensors``, or None: a
    warning where the modalities it could check are on average (the mean of their
    :func:`usefulness_ratios`) predicted less than 5% better (``USEFUL_RATIO``) than by the
    training rows' means. One
    modality that the others do not predict is a property of the data (on the diabetes data
    with views missing, age and sex: 1.08 times the means' error on the 30 validation rows of
    seed 0, 0.93 on the test rows), not a useless model."""
    ratios = usefulness_ratios(estimator, tensors)
    if not ratios or np.mean(list(ratios.values())) < USEFUL_RATIO:
        return None
    advice = ("compare with sklearn.impute.SimpleImputer, and try more epochs (max_epochs) or "
              "more rows.")
    if len(estimator._schema.names) == 1:
        (name, ratio), = ratios.items()
        return (
            f"cells of {name!r} hidden in the validation rows and predicted from the rest of "
            f"their row are less than 5% better than the training rows' column means (error / the "
            f"means' error: {ratio:.2f}). The columns may carry no information about each "
            f"other, or the model did not learn it: {advice}"
        )
    listed = ", ".join(f"{name!r} {r:.2f}" for name, r in ratios.items())
    return (
        "predicted from the other modalities on the validation rows, the modalities are on "
        "average less than 5% better than the training rows' column means (class frequencies for a "
        f"categorical modality; error / the means' error: {listed}). The modalities may "
        f"carry no information about each other, or the model did not learn it: {advice}"
    )
