"""Network sizes that follow the number of modalities (``hidden_layer_sizes="auto"``,
``embedding_size="auto"`` and the rank of ``poe_full``'s experts).

Up to ``FULL_SIZE_MODALITIES`` modalities every modality gets networks of ``FULL_WIDTH`` and
full-rank experts: the sizes the quality benchmark chose on data sets of 3 to 6 views. Beyond
that, the per-modality networks and experts would make a training step grow with the number
of modalities (64 modalities of 10 features cost 14 times one modality of the same 640
features at the full sizes), so the total stays that of ``FULL_SIZE_MODALITIES`` modalities:
each network ``FULL_WIDTH * FULL_SIZE_MODALITIES / M`` wide (a multiple of 8, at least
``MIN_WIDTH``) and each expert's low-rank precision term of rank ``ceil(d *
FULL_SIZE_MODALITIES / M)`` (at least 1). Judged on ``many_views`` of the quality benchmark
(64 nonlinear views of 10 features), where the smaller sizes imputed as well as the full ones.

On wide data (at least ``WIDE_MIN_COLUMNS`` columns, as for the wide latent size) the rank is
also at most ``WIDE_MAX_RANK``: a full-rank expert of the 24-dimensional size outputs ``2 * 24
+ 24 * 24 = 624`` numbers per row, and rank 12 (336) imputed as well on the quality suite's
wide data (``mfeat_like`` and the real multiple features, complete and with views missing)
for 0.85-0.89 times the CPU of a default fit. On narrower data the fits took 0.84-0.98
times the CPU but imputed with 0.7% more error on average over 15 cases and gave latent features a
classifier found 0.3 points less accurate (``docs/quality.rst``), so it stays off there.
"""
import math

from ._wide_latent import WIDE_MIN_COLUMNS

FULL_SIZE_MODALITIES = 8
FULL_WIDTH = 128
MIN_WIDTH = 32
WIDE_MAX_RANK = 12


def auto_width(n_modalities):
    """The width of each hidden layer and of the embedding for ``n_modalities`` modalities."""
    if n_modalities <= FULL_SIZE_MODALITIES:
        return FULL_WIDTH
    return max(MIN_WIDTH, 8 * round(FULL_WIDTH * FULL_SIZE_MODALITIES / n_modalities / 8))


def auto_rank(n_modalities, n_latent, n_columns=0):
    """The rank of each expert's low-rank precision term in ``poe_full`` for data of
    ``n_modalities`` modalities and ``n_columns`` columns (a categorical modality counted by
    its classes): ``n_latent`` (full) up to ``FULL_SIZE_MODALITIES`` modalities, ``ceil(n_latent
    * FULL_SIZE_MODALITIES / n_modalities)`` beyond (at least 1), and on data of at least
    ``WIDE_MIN_COLUMNS`` columns at most ``WIDE_MAX_RANK``.

    >>> auto_rank(6, 24), auto_rank(6, 24, n_columns=649), auto_rank(6, 12, n_columns=649)
    (24, 12, 12)
    """
    rank = n_latent if n_modalities <= FULL_SIZE_MODALITIES else max(
        1, min(n_latent, math.ceil(n_latent * FULL_SIZE_MODALITIES / n_modalities)))
    return min(rank, WIDE_MAX_RANK) if n_columns >= WIDE_MIN_COLUMNS else rank
