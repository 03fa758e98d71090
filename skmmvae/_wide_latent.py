"""Wide latent spaces: the rules of ``aggregation="auto"``, ``encoder_skip="auto"`` and the wide
candidate of ``n_components="auto"``.

On the real UCI multiple-features views (2,000 digits, 6 views, 649 columns) a per-view ridge
regression imputed a view from the others with 15-20% less error than the model with 12 or
24 latent dimensions: two of the views are linear transforms of the same image, a relation of
rank up to 64 that a small latent space cannot carry. Three changes together closed the gap
(``docs/quality.rst``, "Wide data"): a wider latent space (128 dimensions), a linear path in
the encoders (``MLP(x) + x @ W``, so that the posterior mean can be a linear function of the
data, as in factor analysis; without it 64 dimensions imputed 0.288 against 0.268 with it),
and the diagonal product of experts (the full-precision one, at 128 dimensions, imputed
worse, 0.26 against 0.25, and trained ten times slower: its Cholesky factorisations grow as
the cube of the latent size). At 12 or 24 dimensions the same encoder path hurt (up to 8%
more error on the benchmark's other data sets), so each rule depends on the latent size.

The same architecture serves wide data with few rows (fewer rows than columns, where the
weights decay, ``weight_decay="auto"``, and the decoders of 12 or 24 dimensions have no linear
path, ``decoder_skip="auto"``): a wide latent space has both linear paths whatever the rows.
On the multiple-features views with 200 and 400 training rows the model of 24 dimensions
imputed with 1.31 times a per-view ridge's error, the wide one with the decay 0.99-1.08
times (``docs/quality.rst``, "Wide data with few rows"). With more rows than columns the
wide latent space decays as well (``decays_wide_latent``): on the multiple-features views
with 1,400 rows it imputed with 0.93-0.95 times the error, and on ``mfeat_like`` the decayed
wide size beat the narrow ones (``docs/quality.rst``, "Weight decay for wide latent spaces").
"""

# The largest latent space for which aggregation="auto" is "poe_full" and encoder_skip="auto"
# leaves the encoders without their linear path: the sizes the quality benchmark chose them on.
NARROW_LATENT = 24
# The wide candidate of n_components="auto": offered for data of at least WIDE_MIN_COLUMNS
# columns (a categorical modality counted by its classes) with a modality wider than
# NARROW_LATENT among as many other columns, of size columns / COLUMNS_PER_DIMENSION in
# multiples of 8, at most WIDE_MAX_LATENT.
WIDE_MIN_COLUMNS = 192
COLUMNS_PER_DIMENSION = 4
WIDE_MAX_LATENT = 128


def auto_aggregation(n_latent):
    """``aggregation="auto"``: the full-precision product of experts up to ``NARROW_LATENT``
    dimensions, the diagonal one beyond."""
    return "poe_full" if n_latent <= NARROW_LATENT else "poe"


# The aggregations with which the encoders' linear path was measured (the products of
# experts, whose experts it makes linear-Gaussian posteriors); encoder_skip="auto" leaves the
# others (the paper's permutation-invariant aggregators, the mixtures) as they were.
LINEAR_EXPERT_AGGREGATIONS = ("poe", "poe_full")


def auto_encoder_skip(n_latent, aggregation):
    """``encoder_skip="auto"``: the encoders' linear path for a product of experts
    (``LINEAR_EXPERT_AGGREGATIONS``) with a latent space wider than ``NARROW_LATENT``, with
    few rows or many (on the multiple-features views with 400 training rows the wide size
    without it imputed with 1.10 times the error, ``docs/quality.rst``)."""
    return aggregation in LINEAR_EXPERT_AGGREGATIONS and n_latent > NARROW_LATENT


def auto_decoder_skip(n_latent, rows_outnumber_columns):
    """``decoder_skip="auto"``: the decoders' linear path where the fit's rows outnumber the
    data's columns, and for a latent space wider than ``NARROW_LATENT`` whatever the rows (the
    architecture of wide latent spaces; on the multiple-features views with 400 training rows
    the wide size without it imputed with 1.11 times the error).

    >>> auto_decoder_skip(24, True), auto_decoder_skip(24, False), auto_decoder_skip(25, False)
    (True, False, True)
    """
    return bool(rows_outnumber_columns) or n_latent > NARROW_LATENT


def decays_wide_latent(n_latent, n_columns):
    """Whether ``weight_decay="auto"`` decays a latent space of ``n_latent`` dimensions on data
    of ``n_columns`` columns (a categorical modality counted by its classes) whatever the rows
    (:func:`skmmvae._small_data.auto_weight_decay`): one wider than ``NARROW_LATENT``, whose
    encoders and decoders have linear paths of ``columns x latent`` weights, on data of at
    least ``WIDE_MIN_COLUMNS`` columns.

    On the multiple-features views (649 columns and the label, 1,400 training rows) the wide
    size imputed with 0.93-0.95 times the error with the decay, with complete data and with
    views missing, and on ``mfeat_like`` (2,000 rows) it then beat the narrow sizes, 0.88-0.95
    times the error of the size kept before; on data of fewer columns (breast cancer, the
    digits, wine) a latent space of 32 dimensions imputed 1.01-1.17 times worse with it
    (``docs/quality.rst``, "Weight decay for wide latent spaces").

    >>> decays_wide_latent(24, 659), decays_wide_latent(128, 659), decays_wide_latent(32, 74)
    (False, True, False)
    """
    return n_latent > NARROW_LATENT and n_columns >= WIDE_MIN_COLUMNS


def wide_size(widths):
    """The wide latent size that ``n_components="auto"`` also tries for data with modalities of
    ``widths`` columns (a categorical modality counted by its classes), or None: where the
    data have fewer than ``WIDE_MIN_COLUMNS`` columns or no modality whose linear relation
    to the others can have a rank above ``NARROW_LATENT`` (a modality of ``w`` columns among
    ``C`` is at most a rank ``min(w, C - w)`` function of the others: 64 modalities of 10
    features never need more, and there the wide size imputed 6-13% worse and tripled the
    CPU time). With fewer rows than columns too: there the weights decay
    (``weight_decay="auto"``), and on the multiple-features views with 100-400 training rows
    the default with it imputed with 0.71-0.94 times the error of the one without (12 or
    24 dimensions)
    (``docs/quality.rst``, "Wide data with few rows").

    >>> mfeat = [76, 216, 64, 240, 47, 6, 10]          # the UCI multiple features + label
    >>> wide_size(mfeat), wide_size([100, 100])
    (128, 48)
    >>> wide_size([10] * 64), wide_size([64, 10])
    (None, None)
    """
    n_columns = sum(widths)
    if n_columns < WIDE_MIN_COLUMNS:
        return None
    if max(min(width, n_columns - width) for width in widths) <= NARROW_LATENT:
        return None
    return min(WIDE_MAX_LATENT, 8 * (n_columns // (8 * COLUMNS_PER_DIMENSION)))
