"""``n_components="auto"``: the size of the latent space chosen from the data.

A fit with ``n_components="auto"`` fits one model for each size of ``AUTO_SIZES`` on the same
rows, with the same validation split and seed, scores each on the validation rows by the
cross-modal imputation error (every modality predicted from the others, as
:func:`skmmvae.metrics.cross_modal_imputation_error` does: the standardised squared error
of a numeric one, the normalised Brier score of a categorical one) and keeps the better one
(the smaller on a tie). The quality benchmark found no single size that imputes well on every
data set: 24 dimensions imputed 9% better than 12 on breast cancer, where a per-view ridge
is strong, and 13% worse on the nonlinear views with views missing in training; choosing by
held-out imputation picked the size with the lower test error on every split where the two
differed by more than a few percent (``docs/quality.rst``). On wide data (at least 192
columns, a modality wider than 24 columns among as many others) a third, wide size is tried as well, with the architecture
that wide latent spaces need (:mod:`skmmvae._wide_latent`): 128 dimensions for the 649
columns of the UCI multiple-features views, where it imputed 15% better than 24.

On wide data the sizes race: each trains the epochs of the KL warm-up (a quarter of
``max_epochs``, 25 of the default 100; early stopping waits through them); the narrow sizes
(``AUTO_SIZES``) stop there where the best of them has more than ``RACE_MARGIN`` (1.1) times
the wide size's validation error, and the wide size where its error is more than 1.1 times
the best narrow one's; the others train to the end, each with the random state it paused
with and the learning-rate schedule of the whole fit, so that the size kept is the model an
uninterrupted fit of that size gives. On 21 default fits of the quality benchmark
(``benchmarks/quality/latent_race.py``) the size best after 25 epochs was the one kept at the
end on 18; on the UCI multiple-features views 12 and 24 were 1.12-1.21 times behind the wide
size then and stop, and a default fit takes 0.6 times the CPU. 12 and 24 do not race each
other: on the unseen wine data 24 was 1.1 times behind 12 after 25 epochs and ahead at the
end. The sizes that train on finish one after the other, the narrow ones first, each scored
on the validation rows half-way through its fit (epoch 50 of 100); the wide size, last,
stops there where its error is above ``RACE_MARGIN`` times the best narrow one's at the same
epoch (on the synthetic ``mfeat_like`` views, 650 columns, it was 1.20 times behind then and
1.29-1.32 at the end; on 24 default fits of the benchmark no size kept at the end was more
than 1.03 times the best at epoch 50). Without a wide size, a warm-up of at least
``RACE_MIN_EPOCHS`` epochs or with user ``callbacks`` (which would see a size's training in
two parts) every size trains in one call; with an accelerator there is no check half-way.

Where there is nothing to choose on, the first size is fitted alone: no validation rows
(``validation_fraction`` too small for the data), fewer than ``MIN_SELECTION_ROWS`` of them, a
single modality, or ``max_epochs=0``.
"""
import copy
import gc
import warnings

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils import check_random_state
from skorch.callbacks import Callback

from ._layout import from_single_cell
from ._net import validation_split
from ._runtime import seeded
from ._small_data import MIN_HOLDOUT_ROWS
from ._calibration import fit_temperatures
from ._wide_latent import wide_size
from .nn.networks import infer_output_width

AUTO_SIZES = (12, 24)
# Every size trains the KL warm-up's epochs (a quarter of the fit by default); on wide data
# the narrow sizes (AUTO_SIZES) stop there where the best of them has a validation imputation
# error above RACE_MARGIN times the wide size's, and the wide size where its error is above
# RACE_MARGIN times the best narrow one's (see _race_losers).
RACE_MARGIN = 1.1
RACE_MIN_EPOCHS = 20
MIN_SELECTION_ROWS = MIN_HOLDOUT_ROWS  # 10: early_stopping="auto" holds none out below it
# Parameters the candidates share with the estimator, not copies: the user's callbacks (each
# candidate's training runs them, as a fit with an integer size does; scikit-learn's clone
# would rebuild each from skorch's get_params, which also reports the callback's own state
# and so fails for most callbacks that keep some) and custom networks (every fit trains a copy).
SHARED = ("callbacks", "encoders", "decoders")


def latent_size(estimator):
    """``n_components`` as an integer: ``"auto"`` is the fitted size, or before a fit (a first
    ``partial_fit``, a size estimate) the first of ``AUTO_SIZES``."""
    if isinstance(estimator.n_components, str):
        return int(estimator.__dict__.get("n_components_", AUTO_SIZES[0]))
    return int(estimator.n_components)


def fit_auto(estimator, X):
    """Fit ``estimator`` (``n_components="auto"``) by choosing among ``AUTO_SIZES`` (and the
    wide size, for wide data); returns
    it with the chosen model's fitted state and ``latent_selection_``.

    As a fit with an integer size: data refused before training leave the estimator as it
    was; a failure in training leaves it unfitted; Ctrl-C keeps the model trained so far (no
    further size is trained).
    """
    X = from_single_cell(X, estimator.modalities)
    _check_decoders(estimator)
    random_state = estimator.random_state
    if not isinstance(random_state, (int, np.integer)):
        # one seed for every candidate (the same split and initial draws); an integer
        # random_state is passed on as it is, so that the model of a size is the one
        # n_components=size gives
        random_state = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    say = _sink(estimator)
    race = _race_epochs(estimator)
    fits, sizes, validation = [], list(AUTO_SIZES), None
    for size in sizes:  # grows by the wide size, once the first fit has seen the data
        say(f"n_components='auto': fitting {size} latent dimensions ({len(fits) + 1} of {len(sizes)})")
        candidate, caught, failure, rows = _fit_candidate(estimator, size, random_state, X, race)
        if failure is not None:  # refused before training: warnings only; else left unfitted
            _adopt(estimator, candidate if "net_" in candidate.__dict__ else None, caught)
            raise failure
        interrupted = getattr(candidate.net_, "interruption_", None) is not None
        paused = "_race_state" in candidate.__dict__  # racing: trained the warm-up only
        error = None
        if rows is not None and validation is None:
            validation = _ValidationRows(X, rows)
        if rows is not None and not interrupted and not paused:
            error = _validation_error(candidate, validation, rows)
        if rows is None or interrupted or (not paused and error is None):
            # nothing to choose on, or Ctrl-C: this one
            say(f"n_components='auto': keeping {size}")
            _adopt(estimator, candidate, caught)
            return estimator
        fits.append([candidate, caught, error])  # racing: the error once trained on (below)
        if len(fits) == 1:
            wide = _wide_candidate(estimator, candidate)
            if wide is not None:  # the count of the first line did not know of it
                say(f"n_components='auto': wide data ({candidate._schema.n_output_columns} columns, "
                    f"{candidate._n_fit_rows} rows): trying {wide} latent dimensions as well")
                sizes.append(wide)
    dropped = set()
    if "_race_state" in fits[0][0].__dict__:  # every size trained the warm-up: the wide size
        # races the narrow ones (the first size paused only where there is a wide one)
        pause = [_validation_error(fit[0], validation, rows) for fit in fits]
        if None not in pause:
            dropped = _race_losers(pause, len(AUTO_SIZES))
            for i in dropped:
                fits[i][2] = pause[i]
            say(f"n_components='auto': validation imputation error after {race} epochs "
                + ", ".join(f"{e:.4g} ({s})" for s, e in zip(sizes, pause))
                + (f"; {', '.join(str(sizes[i]) for i in sorted(dropped))} more than "
                   f"{RACE_MARGIN:g} times the best and stop" if dropped else ""))
        midway, narrow_midway = _midway_epoch(estimator, race), []
        for i, (size, fit) in enumerate(zip(sizes, fits)):
            if i in dropped:
                continue
            wide = i >= len(AUTO_SIZES)
            probe = None
            if midway is not None and (narrow_midway or not wide):
                probe = _Midway(fit[0], validation, rows, midway,
                                limit=RACE_MARGIN * min(narrow_midway) if wide else None)
            say(f"n_components='auto': training {size} latent dimensions on")
            candidate, caught, failure = _finish_candidate(fit[0], fit[1], race, X, probe)
            if probe is not None and probe.stopped:  # the wide size behind half-way: it stops
                fit[1], fit[2] = caught, probe.error
                dropped.add(i)
                say(f"n_components='auto': validation imputation error of {size} after {midway} "
                    f"epochs {probe.error:.4g}, more than {RACE_MARGIN:g} times the best narrow "
                    f"size's then ({min(narrow_midway):.4g}): it stops")
                continue
            if failure is not None:  # as a failure of a fit with an integer size
                _adopt(estimator, candidate, caught)
                raise failure
            interrupted = getattr(candidate.net_, "interruption_", None) is not None
            error = None if interrupted else _validation_error(candidate, validation, rows)
            if error is None:  # Ctrl-C, or nothing to choose on (the first size): this one
                say(f"n_components='auto': keeping {size}")
                _adopt(estimator, candidate, caught)
                return estimator
            fit[1], fit[2] = caught, error
            if probe is not None and not wide:  # stopped early before half-way: as it ended
                narrow_midway.append(error if probe.error is None else probe.error)
    errors = [error for _, _, error in fits]
    epochs = [len(fit[0].history_) for fit in fits]
    trained = [i for i in range(len(fits)) if i not in dropped]
    best = min(trained, key=lambda i: (not np.isfinite(errors[i]), errors[i]))
    say("n_components='auto': validation imputation error "
        + ", ".join(f"{e:.4g} ({s}{f', after {epochs[i]} epochs' if i in dropped else ''})"
                    for i, (s, e) in enumerate(zip(sizes, errors)))
        + f"; keeping {sizes[best]}")
    _adopt(estimator, fits[best][0], fits[best][1],
           latent_selection_={"n_components": sizes, "validation_error": errors, "epochs": epochs})
    fits.clear()
    del candidate
    gc.collect()  # the other size's model now: skorch's nets hold reference cycles
    return estimator


def _fit_candidate(estimator, size, random_state, X, race=None):
    """``(candidate, warnings, exception, rows)``: the candidate of ``size`` fitted on ``X``
    (its ``_fitted_names`` the attributes its fit set), the warnings its fit gave, the
    exception that ended it, if any, and the validation rows to choose on (None: none).

    With ``race`` (epochs), rows to choose on and a wide size to race (on wide data), the
    candidate trains the first ``race`` epochs of its fit only (the learning-rate schedule that of the whole fit) and keeps the
    state of the random number generator with which :func:`_finish_candidate` trains on: the
    model it then ends with is the one an uninterrupted fit gives."""
    candidate = _candidate(estimator, size, random_state)
    unfitted = set(candidate.__dict__)
    failure, rows = None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if race is None:
                candidate.fit(X)
                rows = _selection_rows(candidate)
            else:
                tensors = candidate._initialize(X)
                rows = _selection_rows(candidate)
                device = candidate.net_.device
                with candidate._threads(), seeded(candidate._seed, device):
                    if rows is None or _wide_candidate(estimator, candidate) is None:
                        # nothing to choose on, or no wide size to race: the whole fit
                        candidate._train(tensors, epochs=candidate.max_epochs)
                    else:
                        candidate._train(tensors, epochs=race, partial=True,
                                         horizon=(0, candidate.max_epochs))
                        candidate._race_state = _rng_state(device)
        except BaseException as exc:  # noqa: B036 (KeyboardInterrupt too: fit_auto raises it)
            failure = exc
    candidate._fitted_names = set(candidate.__dict__) - unfitted - {"_race_state"}
    return candidate, caught, failure, rows


def _finish_candidate(candidate, caught, race, X, probe=None):
    """``(candidate, warnings, exception)``: ``candidate``, which trained the first ``race``
    epochs on ``X`` in :func:`_fit_candidate`, trained to the end of its fit, with the
    warnings of both parts; ``probe``: a :class:`_Midway` that watches this training."""
    rng = candidate.__dict__.pop("_race_state")
    tensors, _ = candidate._tensors(X)  # made again rather than kept: one copy at a time
    failure, before = None, set(candidate.__dict__)
    net = candidate.net_
    if probe is not None:
        probe.tensors = tensors
        net.callbacks_.append(("latent_size_midway", probe))
    with warnings.catch_warnings(record=True) as more:
        warnings.simplefilter("always")
        try:
            device = net.device
            with candidate._threads(), seeded(candidate._seed, device):
                _set_rng_state(rng, device)
                candidate._train(tensors, epochs=candidate.max_epochs - race,
                                 horizon=(0, candidate.max_epochs))
        except BaseException as exc:  # noqa: B036 (KeyboardInterrupt too: fit_auto raises it)
            failure = exc
        finally:
            if probe is not None:
                net.callbacks_.remove(("latent_size_midway", probe))
                probe.tensors = None
    candidate._fitted_names |= set(candidate.__dict__) - before
    if failure is not None:  # unfitted, as a fit with an integer size that fails in training:
        # not the model of the first part (nor the weights the failure left)
        for name in ("module_", "history_", "n_iter_", "class_temperatures_"):
            candidate.__dict__.pop(name, None)
            candidate._fitted_names.discard(name)
    return candidate, [*caught, *more], failure


def _race_losers(errors, n_narrow):
    """The indices of the sizes that stop after the race's epochs, given their validation
    ``errors`` then (the first ``n_narrow`` those of ``AUTO_SIZES``, then the wide size): the
    narrow ones where the best of them is more than ``RACE_MARGIN`` times the wide size's, the
    wide size where it is more than ``RACE_MARGIN`` times the best narrow one's, else none.

    >>> sorted(_race_losers([0.29, 0.27, 0.22], 2)), sorted(_race_losers([0.30, 0.29, 0.35], 2))
    ([0, 1], [2])
    >>> _race_losers([0.25, 0.24, 0.23], 2), _race_losers([0.6, 0.5], 2)
    (set(), set())
    """
    narrow, wide = min(errors[:n_narrow]), min(errors[n_narrow:], default=None)
    if wide is None:
        return set()
    if narrow > RACE_MARGIN * wide:
        return set(range(n_narrow))
    if wide > RACE_MARGIN * narrow:
        return set(range(n_narrow, len(errors)))
    return set()


def _race_epochs(estimator):
    """The epochs every size trains before the clearly worse ones stop (``RACE_MARGIN``):
    the KL warm-up's, in which early stopping waits, so that the sizes trained on end as
    uninterrupted fits would; None (every size trains its whole fit) without a warm-up or
    where it is the whole fit, or shorter than ``RACE_MIN_EPOCHS`` (earlier, the sizes' order
    changed more often before the end), and with user ``callbacks``."""
    warmup = estimator._kl_warmup()
    if not RACE_MIN_EPOCHS <= warmup < int(estimator.max_epochs):
        return None
    if estimator.callbacks:  # they would see two trainings (on_train_begin, on_train_end) per
        # size, not one: skorch's EarlyStopping, ReduceLROnPlateau or Checkpoint(load_best=True)
        # then start afresh, or load weights, at the pause, and the model is not that of a fit
        return None
    return int(warmup)


def _midway_epoch(estimator, race):
    """The epoch half-way through the fit at which the sizes that train on after the race are
    scored (the wide size, trained last, stopping there where it is behind; see the module's
    docstring), or None: no race, no epoch between the race's and the last, or an
    accelerator (every process would have to stop alike)."""
    if race is None or estimator.accelerator is not None:
        return None
    midway = int(estimator.max_epochs) // 2
    return midway if race < midway < int(estimator.max_epochs) else None


class _Midway(Callback):
    """Scores a size training on after the race (``candidate``, its net's callback while it
    trains) on the validation ``rows`` at the end of epoch ``epoch``: ``error``, None until
    then or where nothing is observed in them; with ``limit``, stops the training there
    (``stopped``) where ``error`` is above it. The scoring leaves the random state and the
    module's training mode as they were: the training goes on as without it. ``tensors``:
    the training call's data (set by :func:`_finish_candidate`), from which the class
    temperatures of the epoch's weights are fitted for the score, then put back."""

    def __init__(self, candidate, X, rows, epoch, limit=None):
        self.candidate, self.X, self.rows, self.epoch, self.limit = candidate, X, rows, epoch, limit
        self.error, self.stopped, self.tensors = None, False, None

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) != self.epoch:
            return
        candidate = self.candidate
        state, temperatures = _rng_state(net.device), candidate.__dict__.get("class_temperatures_")
        try:
            candidate.module_ = net.module_
            candidate.class_temperatures_ = fit_temperatures(candidate, self.tensors)
            self.error = _validation_error(candidate, self.X, self.rows)
        finally:
            candidate.class_temperatures_ = temperatures
            _set_rng_state(state, net.device)
            net.module_.train()
        if self.limit is not None and self.error is not None and self.error > self.limit:
            self.stopped = True
            raise KeyboardInterrupt  # skorch ends the training (see MultiModalNet.partial_fit)


def _rng_state(device):
    """torch's global RNG state (and the CUDA device's) for :func:`_set_rng_state`."""
    cuda = "cuda" in str(device)
    return torch.get_rng_state(), (torch.cuda.get_rng_state(device) if cuda else None)


def _set_rng_state(state, device):
    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state(cuda, device)


def _wide_candidate(estimator, fitted):
    """The wide latent size to try as well (:func:`skmmvae._wide_latent.wide_size`) for the
    data ``fitted`` (the first candidate) was fitted on, or None: also where the user chose the
    aggregation or its options (the wide size was judged with ``aggregation="auto"``, which
    makes it the diagonal product of experts, and ``aggregator_options`` are the options of
    the full one) or gave custom decoders (built for some sizes)."""
    if estimator.aggregation != "auto" or estimator.aggregator_options or estimator.decoders:
        return None
    size = wide_size(fitted._schema.output_widths())
    return size if size is not None and size > max(AUTO_SIZES) else None


def _sink(estimator):
    """Where the lines of ``verbose`` go: the training's own sink (``print``, or an
    accelerator's main-process ``print``), nowhere without ``verbose``."""
    if not estimator.verbose:
        return lambda line: None
    return estimator._training_setup().sink(estimator.verbose)


def _check_decoders(estimator):
    """Refuse, before any training, a custom decoder built for some sizes of ``AUTO_SIZES``
    only (a decoder takes ``n_components + n_private_components`` inputs): otherwise the
    first size trains and the next fails with torch's shape error. A decoder that takes none
    of them is left to the fit, which refuses it as a fit with an integer size does."""
    private = int(estimator.n_private_components)
    for name, decoder in (estimator.decoders or {}).items():
        takes = [_takes_inputs(decoder, size + private) for size in AUTO_SIZES]
        if any(takes) and not all(takes):
            good, bad = (AUTO_SIZES[takes.index(value)] + private for value in (True, False))
            raise ValueError(
                f"decoders[{name!r}] takes {good} latent inputs but not {bad}: "
                f"n_components='auto' fits models with {' and '.join(map(str, AUTO_SIZES))} "
                "latent dimensions, and a decoder takes n_components + n_private_components "
                "inputs. Set n_components to the size the decoder is built for"
            )


def _takes_inputs(decoder, width):
    """Whether (a copy of) ``decoder`` maps ``(batch, width)`` inputs as the model needs."""
    try:
        infer_output_width(copy.deepcopy(decoder), width)
    except Exception:  # whatever the module raises on inputs it does not take
        return False
    return True


def _candidate(estimator, size, random_state):
    """An unfitted copy of ``estimator`` (``clone``) with ``n_components=size`` and
    ``random_state``, sharing the parameters ``SHARED`` with it."""
    shared = {name: getattr(estimator, name) for name in SHARED}
    estimator.set_params(**dict.fromkeys(SHARED))
    try:
        candidate = clone(estimator)
    finally:
        estimator.set_params(**shared)
    return candidate.set_params(n_components=size, random_state=random_state, **shared)


def _selection_rows(candidate):
    """The validation rows to choose on (an index array), or None where there are none to
    choose on (see the module's docstring)."""
    if candidate.max_epochs == 0 or len(candidate._schema.names) < 2:
        return None
    split = validation_split(candidate._n_fit_rows, candidate._validation_fraction(), candidate._split_seed)
    if split is None or len(split[1]) < MIN_SELECTION_ROWS:
        return None
    return split[1].numpy()


class _ValidationRows:
    """The rows ``rows`` of ``X`` on which :func:`fit_auto` scores its candidates, cut from the
    data's blocks once (by the first score): every candidate learns the same schema from the
    same ``X``, so the blocks of one serve all, where converting the whole of ``X`` for each
    score (up to six per fit) cost a copy of the data each time."""

    def __init__(self, X, rows):
        self.X, self.rows, self.blocks = X, rows, None

    def cut(self, candidate):
        if self.blocks is None:
            self.blocks = _validation_blocks(candidate, self.X, self.rows)
            self.X = None  # cut: the data are no longer needed here
        return self.blocks


def _validation_blocks(candidate, X, rows):
    """The blocks of ``X`` (as ``candidate`` validates them) at the rows ``rows``."""
    _, blocks = candidate._tensors(X)
    return {name: block[rows] for name, block in blocks.items()}


def _validation_error(candidate, X, rows):
    """The cross-modal imputation error of ``candidate`` on the training rows ``rows`` of ``X``
    (or of the :class:`_ValidationRows` ``X`` cut them from); None where no modality is
    observed in them (nothing to choose on)."""
    from .metrics._imputation import blocks_imputation_error, observed_modalities

    if isinstance(X, _ValidationRows):
        blocks = X.cut(candidate)
    else:
        blocks = _validation_blocks(candidate, X, rows)
    names = observed_modalities(candidate, blocks)
    return blocks_imputation_error(candidate, blocks, names) if names else None


def _adopt(estimator, candidate, caught, **fitted):
    """Issue the warnings of the candidate's fit (at the caller of fit), then give
    ``estimator`` the fitted state of ``candidate`` (what its fit set, not what scikit-learn
    keeps on an estimator, such as a pipeline's callback context) and the attributes
    ``fitted``. The warnings come first: one that a filter turns into an error leaves the
    estimator as it was. ``candidate`` None: the warnings only."""
    for record in caught:  # at the caller of fit (through _adopt, fit_auto, fit, _fit_context)
        warnings.warn(record.message, record.category, stacklevel=5)
    if candidate is None:
        return
    names = candidate.__dict__.pop("_fitted_names")
    estimator._forget_earlier_fit()
    for name in [n for n in estimator.__dict__ if n.endswith("_") and not n.startswith("_")]:
        if name not in names:  # a public fitted attribute of an earlier fit
            del estimator.__dict__[name]
    estimator.__dict__.update({name: candidate.__dict__[name] for name in names}, **fitted)
