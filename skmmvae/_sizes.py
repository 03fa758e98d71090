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
"""
import math

FULL_SIZE_MODALITIES = 8
FULL_WIDTH = 128
MIN_WIDTH = 32


def auto_width(n_modalities):
    """The width of each hidden layer and of the embedding for ``n_modalities`` modalities."""
    if n_modalities <= FULL_SIZE_MODALITIES:
        return FULL_WIDTH
    return max(MIN_WIDTH, 8 * round(FULL_WIDTH * FULL_SIZE_MODALITIES / n_modalities / 8))


def auto_rank(n_modalities, n_latent):
    """The rank of each expert's low-rank precision term in ``poe_full``."""
    if n_modalities <= FULL_SIZE_MODALITIES:
        return n_latent
    return max(1, min(n_latent, math.ceil(n_latent * FULL_SIZE_MODALITIES / n_modalities)))
