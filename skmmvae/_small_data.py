"""The defaults of small data: ``weight_decay="auto"``, decoupled weight decay where the data
are small, and ``early_stopping="auto"``, no early stopping (and no rows held out) where the
validation split would be too small to choose an epoch on.

With at most ``SMALL_DATA_ROWS`` rows given to ``fit``, or no more rows than the data's
columns (a categorical modality counted by its classes), the networks train with AdamW's
decoupled weight decay ``SMALL_DATA_WEIGHT_DECAY`` (each step multiplies every weight by
``1 - lr_t``), with more rows with Adam and no decay, as before. The second condition came
with the wide data of a few hundred rows (``docs/quality.rst``, "Wide data with few rows"):
on the multiple-features views (659 columns) with 200 and 400 rows the decay alone lowered
the error by 6-11% on seed 0, and with the wide latent size tried there by 16-27% (3 seeds);
on the 64 views of 10 features of ``many_views`` (640 columns) by 9-10%. Chosen in the quality
benchmark (``docs/quality.rst``, "Weight decay for small data"): with 100 and 30 training
rows a decay of 1 lowered the imputation error on every one of the 16 data sets and sizes
tried (3 seeds each; 0.810-0.996 times the error without), among them the unseen wine and
diabetes data (0.969-0.996) and the real nutrimouse data (28 rows, 10 seeds: 0.989 with
complete data, 0.993 with views missing). A decay of 3 lowered some errors further
(``mfeat_like`` with 100 rows 0.68 against 0.81) but raised the digits' with 100 rows (1.009)
and cost their label 3 points of accuracy. With more rows no decay tried helped on data it
was not tuned for: the unseen wine data with all 124 training rows imputed 1.5% worse with 1
and 6% worse with 3, diabetes (309 rows) 0.1-1% worse. The one exception, with any rows:
a latent space wider than 24 dimensions on wide data decays too
(:func:`skmmvae._wide_latent.decays_wide_latent`).

``early_stopping="auto"`` stops early on the validation rows where the split holds at least
``MIN_EARLY_STOPPING_ROWS`` (20) of them (``validation_fraction`` of the rows of the training
call), the number below which a fit with ``early_stopping=True`` warns that the epoch is chosen
on too few. With fewer it trains its ``max_epochs``, the learning rate annealed to its end,
and below ``MIN_HOLDOUT_ROWS`` (10), the number below which ``n_components="auto"`` has nothing
to choose on either, it holds no row out: every row trains. The lowest validation loss of 2
to 9 rows picks an epoch by chance (on 28 nutrimouse mice, 2 validation rows, fits stopped
anywhere between epoch 48 and 100). In the quality benchmark (``docs/quality.rst``, "Early
stopping on small data"), training every row without early stopping lowered the imputation
error with 30 training rows on 6 of the 7 data sets (0.93-0.985 times; diabetes 1.002) and
on nutrimouse with complete data (0.976; views missing 1.014); with 100 rows (10 validation
rows, kept for the choice of the latent size) training every epoch gave 0.986-1.002 times
the error of early stopping on 7 data sets.
"""

import numpy as np

from ._wide_latent import decays_wide_latent

# The rows given to fit (validation rows included) up to which weight_decay="auto" decays:
# the quality issue's "small data" (at most 100 rows); with more, up to the data's columns.
SMALL_DATA_ROWS = 100
SMALL_DATA_WEIGHT_DECAY = 1.0


def auto_weight_decay(n_rows, n_columns=0, n_latent=0):
    """``weight_decay="auto"`` for a fit of ``n_rows`` rows of data with ``n_columns`` columns
    (a categorical modality counted by its classes) and a latent space of ``n_latent``
    dimensions: ``SMALL_DATA_WEIGHT_DECAY`` up to ``SMALL_DATA_ROWS`` rows, up to as many rows
    as columns, or for a wide latent space on wide data whatever the rows
    (:func:`skmmvae._wide_latent.decays_wide_latent`); 0 otherwise (and before a fit,
    ``n_rows`` None).

    >>> auto_weight_decay(30), auto_weight_decay(100), auto_weight_decay(101), auto_weight_decay(None)
    (1.0, 1.0, 0.0, 0.0)
    >>> auto_weight_decay(400, n_columns=659), auto_weight_decay(660, n_columns=659)
    (1.0, 0.0)
    >>> auto_weight_decay(1400, n_columns=659, n_latent=128), auto_weight_decay(None, 659, 128)
    (1.0, 0.0)
    """
    if n_rows is None:
        return 0.0
    if n_rows <= max(SMALL_DATA_ROWS, n_columns) or decays_wide_latent(n_latent, n_columns):
        return SMALL_DATA_WEIGHT_DECAY
    return 0.0


# The fewest validation rows on which early_stopping="auto" stops early (below it,
# early_stopping=True warns), and the fewest it holds out at all (as
# _latent_size.MIN_SELECTION_ROWS, the fewest n_components="auto" chooses on).
MIN_EARLY_STOPPING_ROWS = 20
MIN_HOLDOUT_ROWS = 10


def validation_rows(n_rows, validation_fraction):
    """The rows a split of ``validation_fraction`` holds out of ``n_rows`` (as
    :func:`skmmvae._net.validation_split` makes it)."""
    return int(np.floor(validation_fraction * n_rows))


def auto_early_stopping(n_rows, validation_fraction):
    """``early_stopping="auto"`` for a training call of ``n_rows`` rows: True where
    ``floor(validation_fraction * n_rows)`` is at least ``MIN_EARLY_STOPPING_ROWS`` (and before
    a fit, ``n_rows`` None), False otherwise.

    >>> auto_early_stopping(200, 0.1), auto_early_stopping(199, 0.1), auto_early_stopping(80, 0.25)
    (True, False, True)
    >>> auto_early_stopping(None, 0.1), auto_early_stopping(10_000, 0.0)
    (True, False)
    """
    if n_rows is None:
        return True
    return validation_rows(n_rows, validation_fraction) >= MIN_EARLY_STOPPING_ROWS


def auto_holds_out(n_rows, validation_fraction):
    """Whether ``early_stopping="auto"`` holds ``validation_fraction`` of ``n_rows`` rows out:
    where that is at least ``MIN_HOLDOUT_ROWS`` rows (and before a fit); otherwise every row
    trains.

    >>> auto_holds_out(100, 0.1), auto_holds_out(99, 0.1), auto_holds_out(None, 0.1)
    (True, False, True)
    """
    if n_rows is None:
        return True
    return validation_rows(n_rows, validation_fraction) >= MIN_HOLDOUT_ROWS
