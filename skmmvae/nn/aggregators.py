"""Aggregators: from a set of modality tokens to the posterior ``q(z | x_S)``.

Every aggregator takes ``tokens`` of shape ``(B, M, E)`` and a boolean ``mask`` of shape
``(B, M)`` (True where modality ``s`` is in the conditioning set ``S`` of that row) and returns
a distribution object (:mod:`.distributions`). Rows may have any mix of modalities, the empty
set included; permutation-invariant aggregators give the same posterior for any order of the
tokens. Tokens of masked modalities are never read (they are replaced, not multiplied, so NaN
or inf in them cannot leak).
"""
import inspect
import math
import numbers

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from .distributions import DiagGaussian, GaussianMixture, PrecisionGaussian, positive_scale
from .networks import mlp


def _masked(tokens, mask):
    return torch.where(mask.unsqueeze(-1), tokens, torch.zeros((), dtype=tokens.dtype))


class Aggregator(nn.Module):
    """Base class: ``forward(tokens (B, M, token_size), mask (B, M))`` returns the posterior
    (a :class:`DiagGaussian` or a :class:`GaussianMixture`); ``token_size`` is the width the
    modality encoders must output. The constructor names the arguments it takes:
    :func:`make_aggregator` passes it those of its own that it names, and refuses options it
    does not name."""

    token_size: int
    #: True where the posterior multiplies the experts with an N(0, I) prior expert, which
    #: cannot agree with a mixture prior (the model refuses that pair).
    standard_normal_expert = False

    def forward(self, tokens, mask):  # pragma: no cover - abstract
        raise NotImplementedError


# --------------------------------------------------------------------------- experts


class ProductOfExperts(Aggregator):
    """Textbook product of Gaussian experts in natural parameters, with an N(0, I) prior expert.

    Each token is an expert ``(mu_s, raw_s)`` with ``sigma_s = min_scale + softplus(raw_s)``;
    ``precision = 1 + sum_s 1/sigma_s^2`` and ``mean = (sum_s mu_s/sigma_s^2) / precision``.
    The empty set gives the prior expert N(0, I).
    """

    standard_normal_expert = True

    def __init__(self, n_latent, min_scale=1e-3):
        super().__init__()
        self.n_latent = n_latent
        self.token_size = 2 * n_latent
        self.min_scale = min_scale

    def expert_parameters(self, tokens, mask):
        """Each expert's precision and precision-weighted mean ``(B, M, d)``, zero outside ``mask``."""
        loc, raw = tokens.split(self.n_latent, dim=-1)
        precision = positive_scale(raw, self.min_scale) ** -2
        keep = mask.unsqueeze(-1)
        zero = torch.zeros((), dtype=tokens.dtype, device=tokens.device)
        return torch.where(keep, precision, zero), torch.where(keep, loc * precision, zero)

    def natural_parameters(self, tokens, mask):
        precision, weighted_mean = self.expert_parameters(tokens, mask)
        return 1.0 + precision.sum(-2), weighted_mean.sum(-2)

    def forward(self, tokens, mask):
        precision, weighted_mean = self.natural_parameters(tokens, mask)
        return DiagGaussian(weighted_mean / precision, precision.rsqrt())


class _PrecisionAndShift(torch.autograd.Function):
    """The sums of :class:`FullProductOfExperts`: ``Lambda = I + sum_s diag(d_s) + c sum_s U_s
    U_s^T`` ``(B, d, d)`` and ``eta = sum_s d_s * mu_s + c U_s U_s^T mu_s`` ``(B, d)``, from
    the experts' means ``mu`` ``(B, M, d)``, diagonal precisions ``d`` ``(B, M, d)`` and factors
    ``U`` ``(B, M, d, r)``, with a hand-written backward pass.

    Autograd through the same expressions keeps several ``(B, M, d, r)`` intermediates and
    passes over them many times; here the forward pass is one copy into ``A = [U_1 ... U_M]``
    ``(B, d, M r)``, one batched ``A A^T`` and two products with the means, and the backward
    pass one batched ``(G + G^T) A`` plus rank-one terms (1.1-1.4 times faster for 4 to 64
    experts, measured in ``benchmarks/speed``). Tested against autograd with ``gradcheck``.
    """

    @staticmethod
    def forward(ctx, loc, diag, u, c):
        batch, n_mod, d, r = u.shape
        stacked = u.transpose(1, 2).reshape(batch, d, n_mod * r)  # A
        precision = torch.baddbmm(torch.diag_embed(1.0 + diag.sum(1)), stacked, stacked.transpose(1, 2), alpha=c)
        # U_s^T mu_s as a product and a sum (a batched matrix-vector product is a slow bmm on the CPU)
        projected = (u * loc.unsqueeze(-1)).sum(-2).reshape(batch, 1, n_mod * r)
        eta = (diag * loc).sum(1) + c * (stacked * projected).sum(-1)
        ctx.save_for_backward(loc, diag, stacked, projected)
        ctx.c = c
        return precision, eta

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_precision, grad_eta):
        loc, diag, stacked, projected = ctx.saved_tensors
        c = ctx.c
        batch, d, width = stacked.shape
        n_mod = loc.shape[1]
        r = width // n_mod
        if grad_precision is None:
            grad_precision = stacked.new_zeros(batch, d, d)
        if grad_eta is None:
            grad_eta = stacked.new_zeros(batch, d)
        weighted = torch.bmm(grad_eta.unsqueeze(1), stacked)  # (B, 1, M r): g_eta^T U_s
        # dL/dA = c (G + G^T) A + c g_eta (U^T mu)^T + c mu_s (U_s^T g_eta)^T
        grad_stacked = torch.baddbmm(grad_eta.unsqueeze(-1) * projected,
                                     grad_precision + grad_precision.transpose(1, 2), stacked)
        grad_stacked = grad_stacked.view(batch, d, n_mod, r)
        grad_stacked.add_(loc.transpose(1, 2).unsqueeze(-1) * weighted.view(batch, 1, n_mod, r)).mul_(c)
        by_expert = (stacked.view(batch, d, n_mod, r) * weighted.view(batch, 1, n_mod, r)).sum(-1)
        grad_loc = diag * grad_eta.unsqueeze(1) + c * by_expert.transpose(1, 2)
        grad_diag = torch.diagonal(grad_precision, dim1=1, dim2=2).unsqueeze(1) + grad_eta.unsqueeze(1) * loc
        return grad_loc, grad_diag, grad_stacked.transpose(1, 2), None


class FullProductOfExperts(Aggregator):
    """Product of Gaussian experts with full precision matrices, and an N(0, I) prior expert.

    Expert ``s`` emits a mean ``mu_s`` and a precision ``Lambda_s = diag(sigma_s^-2) +
    U_s U_s^T`` (``U_s`` of shape ``(d, rank)``, scaled by ``rank^-1/2``); the posterior is
    ``N(Lambda^-1 eta, Lambda^-1)`` with ``Lambda = I + sum_s Lambda_s`` and ``eta = sum_s
    Lambda_s mu_s``. This is the exact form of the posterior of a linear-Gaussian model given
    any subset of its views (``Lambda_s = W_s^T Psi_s^-1 W_s``), which the diagonal
    :class:`ProductOfExperts` cannot express: there each latent coordinate is combined on its
    own, so the views cannot correct each other along directions that mix coordinates. Tokens
    are ``2 d + d * rank`` wide.

    Parameters
    ----------
    n_latent : int
        Size ``d`` of the latent space.
    min_scale : float
        Lower bound of the experts' diagonal standard deviations.
    rank : int or None
        Rank of each expert's low-rank precision term; None is ``n_latent`` (full).

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn.aggregators import FullProductOfExperts
    >>> poe = FullProductOfExperts(n_latent=3)
    >>> poe.token_size
    15
    >>> mask = torch.tensor([[True, True], [False, False]])
    >>> q = poe(torch.randn(2, 2, poe.token_size), mask)
    >>> q.mean.shape, q.tril.shape
    (torch.Size([2, 3]), torch.Size([2, 3, 3]))
    >>> torch.equal(q.mean[1], torch.zeros(3)), torch.equal(q.tril[1], torch.eye(3))
    (True, True)
    """

    standard_normal_expert = True

    def __init__(self, n_latent, min_scale=1e-3, rank=None):
        super().__init__()
        self.n_latent = n_latent
        if rank is not None and (not isinstance(rank, numbers.Integral) or isinstance(rank, bool) or rank < 1):
            raise ValueError(f"rank of 'poe_full' must be a positive integer or None, got {rank!r}")
        self.rank = n_latent if rank is None else int(rank)  # numpy integers (a search grid) too
        self.token_size = 2 * n_latent + n_latent * self.rank
        self.min_scale = min_scale

    def forward(self, tokens, mask):
        # The precision products and the Cholesky factorisation need float32 at least: in
        # bfloat16 (autocast) rounding can make a large precision matrix indefinite.
        device = tokens.device.type
        if tokens.dtype in (torch.float16, torch.bfloat16) or torch.is_autocast_enabled(device):
            with torch.autocast(device, enabled=False):
                return self._posterior(tokens.float(), mask)
        return self._posterior(tokens, mask)

    def _posterior(self, tokens, mask):
        d, r = self.n_latent, self.rank
        keep = mask.unsqueeze(-1)
        zero = torch.zeros((), dtype=tokens.dtype, device=tokens.device)
        # Masked experts: zero mean, zero precision, whatever their tokens hold. Each piece is
        # masked on its own so that it is contiguous: on the CPU, element-wise kernels over
        # strided slices of the tokens (softplus above all) run several times slower.
        loc, raw, factor = tokens.split([d, d, d * r], dim=-1)
        loc = torch.where(keep, loc, zero)
        diag = torch.where(keep, positive_scale(raw.contiguous(), self.min_scale) ** -2, zero)  # (B, M, d)
        u = torch.where(keep, factor, zero).unflatten(-1, (d, r))  # (B, M, d, r), unscaled
        precision, eta = _PrecisionAndShift.apply(loc, diag, u, 1.0 / r)
        # I + a positive semi-definite sum is positive definite; only non-finite tokens (a
        # diverged network) make the factorisation fail: NaN then, for the divergence checks.
        tril, info = torch.linalg.cholesky_ex(precision)
        tril = torch.where((info == 0).view(-1, 1, 1), tril, torch.full_like(tril, math.nan))
        mean = torch.cholesky_solve(eta.unsqueeze(-1), tril).squeeze(-1)
        return PrecisionGaussian(mean, tril)


class MixtureOfExperts(Aggregator):
    """Uniform mixture of the unimodal Gaussian experts in ``S`` (weights without gradient).

    The empty set falls back to the prior: its components are appended as extra experts that
    carry weight only in rows where no modality is present.
    """

    def __init__(self, n_latent, prior, min_scale=1e-3):
        super().__init__()
        self.n_latent = n_latent
        self.token_size = 2 * n_latent
        self.min_scale = min_scale
        self.prior = [prior]  # a list keeps the prior out of this module's parameters

    def forward(self, tokens, mask):
        batch = tokens.shape[0]
        loc, raw = tokens.split(self.n_latent, dim=-1)
        scale = positive_scale(raw, self.min_scale)
        prior = self.prior[0].distribution(batch)
        if isinstance(prior, DiagGaussian):
            p_logits = torch.zeros(batch, 1, dtype=tokens.dtype, device=tokens.device)
            p_loc, p_scale = prior.loc.unsqueeze(1), prior.scale.unsqueeze(1)
        else:
            p_logits, p_loc, p_scale = prior.logits, prior.loc, prior.scale
        empty = ~mask.any(-1, keepdim=True)
        neg_inf = torch.tensor(-math.inf, dtype=tokens.dtype, device=tokens.device)
        logits = torch.cat(
            [
                torch.where(mask, torch.zeros_like(loc[..., 0]), neg_inf),
                torch.where(empty, p_logits.detach(), neg_inf),
            ],
            dim=-1,
        )
        safe_loc = _masked(loc, mask)
        safe_scale = torch.where(mask.unsqueeze(-1), scale, torch.ones_like(scale))
        return GaussianMixture(
            logits,
            torch.cat([safe_loc, p_loc], 1),
            torch.cat([safe_scale, p_scale], 1),
            learnable_weights=False,
        )


class MixtureOfProductsOfExperts(ProductOfExperts):
    """Mixture, uniform over the non-empty subsets ``A`` of ``S``, of ``PoE(A)``.

    Enumerating all ``2^M - 1`` subsets is only done while it is at most ``n_subsets``;
    beyond that each row draws ``n_subsets`` subsets of its ``S`` uniformly at random (with
    replacement), which keeps the cost linear in ``M``. The draw is fresh in training and fixed
    (seeded) in evaluation so that ``transform`` is deterministic.
    """

    def __init__(self, n_latent, min_scale=1e-3, n_subsets=32):
        super().__init__(n_latent, min_scale)
        self.n_subsets = int(n_subsets)

    def subset_masks(self, mask):
        """Boolean ``(B, C, M)`` masks of subsets ``A`` of each row's ``S`` and their validity."""
        batch, n_mod = mask.shape
        if 2**n_mod - 1 <= self.n_subsets:
            codes = torch.arange(1, 2**n_mod, device=mask.device)
            bits = (codes.unsqueeze(-1) >> torch.arange(n_mod, device=mask.device)) & 1
            subsets = bits.bool().unsqueeze(0).expand(batch, -1, -1)  # (B, C, M)
            valid = ~(subsets & ~mask.unsqueeze(1)).any(-1)  # A subset of S
            return subsets, valid
        generator = None
        if not self.training:
            generator = torch.Generator(device=mask.device).manual_seed(0)
        # In evaluation every row shares the same draws, so a row's posterior depends on its own
        # mask only, not on its position in the batch or on the other rows.
        subsets = uniform_nonempty_subsets(mask, self.n_subsets, generator, shared=not self.training)
        return subsets, subsets.any(-1)

    def forward(self, tokens, mask):
        subsets, valid = self.subset_masks(mask)
        # Rows with an empty S keep every component: each is the prior expert alone.
        valid = valid | ~mask.any(-1, keepdim=True)
        # Natural parameters of every subset's product in one batched matrix product:
        # (B, C, M) subset indicators @ (B, M, d) expert precisions (and precision-weighted means).
        precision, weighted_mean = self.expert_parameters(tokens, mask)
        member = (subsets & mask.unsqueeze(1)).to(tokens.dtype)
        total_precision = 1.0 + member @ precision
        weighted_mean = member @ weighted_mean
        zero = torch.zeros((), dtype=tokens.dtype, device=tokens.device)
        neg_inf = torch.tensor(-math.inf, dtype=tokens.dtype, device=tokens.device)
        logits = torch.where(valid, zero, neg_inf)
        return GaussianMixture(
            logits, weighted_mean / total_precision, total_precision.rsqrt(), learnable_weights=False
        )


def uniform_nonempty_subsets(mask, n_draws, generator=None, shared=False):
    """``n_draws`` subsets per row, uniform over the non-empty subsets of the row's mask.

    Exact and linear in ``M``: the size ``k`` follows ``C(n, k) / (2^n - 1)`` (inverse CDF),
    then the ``k`` members with the smallest random keys are kept. Rows with an empty mask get
    empty subsets. ``shared=True`` uses the same random numbers for every row.
    """
    batch, n_mod = mask.shape
    device = mask.device
    n = mask.sum(-1, keepdim=True).to(torch.float64)  # (B, 1)
    k = torch.arange(1, n_mod + 1, device=device, dtype=torch.float64)  # (M,)
    log_binom = torch.lgamma(n + 1) - torch.lgamma(k + 1) - torch.lgamma((n - k).clamp(min=0) + 1)
    log_binom = torch.where(k <= n, log_binom, torch.tensor(-math.inf, dtype=torch.float64))
    probs = torch.softmax(torch.where(n > 0, log_binom, torch.zeros_like(log_binom)), -1)
    cdf = probs.cumsum(-1).unsqueeze(1)  # (B, 1, M)
    n_rows = 1 if shared else batch
    # (no generator=None keyword: torch.compile cannot trace it with dynamic shapes)
    extra = {} if generator is None else {"generator": generator}
    u = torch.rand(n_rows, n_draws, 1, device=device, dtype=torch.float64, **extra)
    size = 1 + (cdf < u).sum(-1, keepdim=True)  # (B, C, 1)
    keys = torch.rand(n_rows, n_draws, n_mod, device=device, **extra)
    keys = keys.expand(batch, -1, -1)
    keys = torch.where(mask.unsqueeze(1), keys, torch.full_like(keys, 2.0))
    rank = keys.argsort(-1).argsort(-1)
    return (rank < size) & mask.unsqueeze(1)


# ----------------------------------------------------------------- permutation-invariant


class _GaussianHead(nn.Module):
    """MLP from the pooled vector to a Gaussian, or to a K-component Gaussian mixture."""

    def __init__(self, in_features, hidden, n_latent, n_mixture, activation, min_scale):
        super().__init__()
        self.n_latent, self.n_mixture, self.min_scale = n_latent, n_mixture, min_scale
        n_out = 2 * n_latent if n_mixture == 1 else n_mixture * (2 * n_latent + 1)
        self.net = mlp(in_features, hidden, n_out, activation)

    def forward(self, pooled):
        out = self.net(pooled)
        if self.n_mixture == 1:
            loc, raw = out.split(self.n_latent, -1)
            return DiagGaussian(loc, positive_scale(raw, self.min_scale))
        k, d = self.n_mixture, self.n_latent
        logits, params = out.split([k, 2 * k * d], -1)
        loc, raw = params.reshape(-1, k, 2 * d).split(d, -1)
        return GaussianMixture(logits, loc, positive_scale(raw, self.min_scale))


class SumPooling(Aggregator):
    """DeepSets: ``q(z|x_S) = rho(sum_{s in S} chi(h_s))``.

    ``chi`` is shared by all modalities; the sum (not a mean) keeps the size of ``S`` visible,
    as precisions add up in a PoE. The empty set maps to the learnt constant ``rho(0)``.
    Tokens are pooled in the width of the hidden layers (``hidden_sizes[-1]``; the token
    size without hidden layers), as in the paper's code, where small tokens (``E = 2d``) are
    pooled in 256 dimensions.
    """

    def __init__(
        self,
        n_latent,
        token_size=128,
        hidden_sizes=(128, 128),
        n_mixture=1,
        activation="leaky_relu",
        min_scale=1e-3,
    ):
        super().__init__()
        self.token_size = token_size
        self.pooled_size = pooled = hidden_sizes[-1] if hidden_sizes else token_size
        self.chi = mlp(token_size, hidden_sizes, pooled, activation)
        self.rho = _GaussianHead(pooled, hidden_sizes, n_latent, n_mixture, activation, min_scale)

    def forward(self, tokens, mask):
        # Mask before chi too: NaN/inf in a masked token must not reach chi's weight gradients
        # (0 * NaN) even though the forward value would be unaffected.
        return self.rho(_masked(self.chi(_masked(tokens, mask)), mask).sum(1))


class _SetAttentionBlock(nn.Module):
    """Pre-LayerNorm self-attention block over the token set, masked keys, then a feed-forward."""

    def __init__(self, width, n_heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = nn.MultiheadAttention(width, n_heads, bias=False, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        self.ff = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, width))

    def forward(self, tokens, key_padding_mask):
        h = self.norm1(tokens)
        attended, _ = self.attention(h, h, h, key_padding_mask=key_padding_mask, need_weights=False)
        tokens = tokens + attended
        return tokens + self.ff(self.norm2(tokens))


class SelfAttention(Aggregator):
    """Set-Transformer-style encoder: attention among the tokens of ``S``, then masked sum.

    Rows whose ``S`` is empty would give NaN in attention (every key masked); they attend to
    all tokens instead and are then removed by the masked sum, so they map to ``rho(0)``.
    """

    def __init__(
        self,
        n_latent,
        token_size=128,
        hidden_sizes=(128, 128),
        n_mixture=1,
        n_heads=4,
        n_blocks=1,
        activation="leaky_relu",
        min_scale=1e-3,
    ):
        super().__init__()
        if token_size % n_heads:
            raise ValueError(f"embedding_size ({token_size}) must be divisible by n_heads ({n_heads})")
        self.token_size = token_size
        hidden = hidden_sizes[0] if hidden_sizes else token_size
        self.project = mlp(token_size, (hidden,), token_size, activation)
        self.blocks = nn.ModuleList(
            [_SetAttentionBlock(token_size, n_heads, hidden) for _ in range(n_blocks)]
        )
        self.norm = nn.LayerNorm(token_size)
        self.rho = _GaussianHead(token_size, hidden_sizes, n_latent, n_mixture, activation, min_scale)

    def forward(self, tokens, mask):
        empty = ~mask.any(-1, keepdim=True)
        key_padding_mask = ~(mask | empty)
        t = self.project(_masked(tokens, mask))
        for block in self.blocks:
            t = block(t, key_padding_mask)
        return self.rho(_masked(self.norm(t), mask).sum(1))


# --------------------------------------------------------------------------- registry


AGGREGATORS = {
    "poe": (ProductOfExperts, {}),
    "poe_full": (FullProductOfExperts, {}),
    "moe": (MixtureOfExperts, {}),
    "mopoe": (MixtureOfProductsOfExperts, {}),
    "sumpooling": (SumPooling, {}),
    "selfattention": (SelfAttention, {}),
    "sumpooling_mixture": (SumPooling, {"mixture": True}),
    "selfattention_mixture": (SelfAttention, {"mixture": True}),
}


def make_aggregator(name, n_latent, prior, embedding_size=128, hidden_sizes=(128, 128),
                    n_mixture_components=5, min_scale=1e-3, **options):
    """Build an aggregator from its registry name (see ``AGGREGATORS``).

    Parameters
    ----------
    name : str
        Key of ``AGGREGATORS``: ``"poe"``, ``"poe_full"``, ``"moe"``, ``"mopoe"``, ``"sumpooling"``,
        ``"selfattention"``, ``"sumpooling_mixture"`` or ``"selfattention_mixture"``.
    n_latent : int
        Size of the latent ``z``.
    prior : nn.Module
        The model's prior (see :func:`make_prior`); ``"moe"`` falls back to it for empty sets.
    embedding_size : int
        Token width of the permutation-invariant aggregators (the experts' tokens are
        ``2 * n_latent`` wide whatever its value).
    hidden_sizes : tuple of int
        Hidden widths of the permutation-invariant aggregators' networks.
    n_mixture_components : int
        Components of the ``*_mixture`` aggregators' posteriors.
    min_scale : float
        Lower bound of the posterior standard deviations.
    **options
        Further keyword arguments of the aggregator class (``n_subsets`` of ``"mopoe"``,
        ``n_heads`` and ``n_blocks`` of ``"selfattention"``...); one the class does not take
        is a TypeError.

    Returns
    -------
    nn.Module
        Maps tokens ``(B, M, token_size)`` and a boolean mask ``(B, M)`` to the posterior
        (a :class:`DiagGaussian` or a :class:`GaussianMixture`); ``token_size`` is the width
        the modality encoders must output.

    Examples
    --------
    A product of experts, for a batch of three rows and two modalities: the first row
    conditions on both, the second on the first modality only, the third on none, which gives
    the prior ``N(0, I)``:

    >>> import torch
    >>> from skmmvae.nn import make_aggregator, make_prior
    >>> poe = make_aggregator("poe", n_latent=2, prior=make_prior(2))
    >>> poe.token_size
    4
    >>> mask = torch.tensor([[True, True], [True, False], [False, False]])
    >>> q = poe(torch.randn(3, 2, poe.token_size), mask)
    >>> q.mean.shape
    torch.Size([3, 2])
    >>> torch.equal(q.mean[2], torch.zeros(2)), torch.equal(q.scale[2], torch.ones(2))
    (True, True)

    The permutation-invariant aggregators read tokens of ``embedding_size``; a ``*_mixture``
    one returns a Gaussian mixture:

    >>> agg = make_aggregator("sumpooling_mixture", 2, make_prior(2), embedding_size=8,
    ...                       hidden_sizes=(16,), n_mixture_components=3)
    >>> q = agg(torch.randn(3, 2, agg.token_size), mask)
    >>> type(q).__name__, q.loc.shape
    ('GaussianMixture', torch.Size([3, 3, 2]))

    An option the aggregator does not take is an error, not silently ignored:

    >>> make_aggregator("sumpooling", 2, make_prior(2), n_subset=3)
    Traceback (most recent call last):
    ...
    TypeError: aggregation 'sumpooling' takes no option 'n_subset'; its options are ['activation']
    """
    try:
        cls, flags = AGGREGATORS[name]
    except KeyError:
        raise ValueError(f"unknown aggregation {name!r}; choose from {sorted(AGGREGATORS)}") from None
    offered = {
        "n_latent": n_latent,
        "prior": prior,
        "token_size": embedding_size,
        "hidden_sizes": tuple(hidden_sizes),
        "n_mixture": n_mixture_components if flags.get("mixture") else 1,
        "min_scale": min_scale,
    }
    takes = set(inspect.signature(cls).parameters)
    unknown = sorted(set(options) - (takes - set(offered)))
    if unknown:
        accepted = sorted(takes - set(offered))
        raise TypeError(
            f"aggregation {name!r} takes no option {', '.join(map(repr, unknown))}; its options "
            f"are {accepted or 'none'}"
        )
    return cls(**{key: value for key, value in offered.items() if key in takes}, **options)
