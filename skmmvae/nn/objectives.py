"""Variational objectives and the importance-weighted log-likelihood.

All functions return per-sample values (shape ``(B,)``), higher is better. Each expectation is
a weighted sum over the samples returned by the posterior's ``sample_weighted`` (one
reparameterised sample for a Gaussian, one per component for a mixture with learnt weights).
Log-densities of ``q`` use stop-gradient parameters ("sticking the landing"), except the cross
term ``log q(z_M | x_S)`` of the tight objective, which is what trains the subset encoder.
"""
import math

import torch

from .aggregators import uniform_nonempty_subsets
from .distributions import standard_normal

def sample_subsets(mask, generator=None):
    """Random conditioning sets ``S``: uniform over the subsets of each row's observed set.

    Parameters
    ----------
    mask : BoolTensor of shape (B, M)
        Observed modalities.
    generator : torch.Generator, optional
        Source of the random numbers (PyTorch's global one by default).

    Returns
    -------
    BoolTensor of shape (B, M)
        Each observed modality is kept with probability 1/2, independently, so every subset
        of a row's observed set, the empty one and the whole set included, is equally likely.

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn import sample_subsets
    >>> mask = torch.tensor([[True, True, False], [False, True, True]])
    >>> subset = sample_subsets(mask, torch.Generator().manual_seed(0))
    >>> subset.shape, subset.dtype
    (torch.Size([2, 3]), torch.bool)
    >>> bool((subset & ~mask).any())  # never outside the observed set
    False
    """
    # (no generator=None keyword: torch.compile cannot trace it with dynamic shapes)
    extra = {} if generator is None else {"generator": generator}
    coin = torch.rand(mask.shape, device=mask.device, **extra) < 0.5
    return coin & mask


def _masked_sum(values, mask):
    return torch.where(mask, values, torch.zeros((), dtype=values.dtype)).sum(-1)


def _branch(model, xs, tokens, enc_mask, score_mask):
    """Sample ``z ~ q(z | x_enc)`` and return (q, z, weights, reconstruction, private KL)."""
    q = model.posterior(tokens, enc_mask)
    z, w = q.sample_weighted(1)
    logliks, private_kl = model.log_likelihoods(xs, z, tokens, enc_mask)
    recon = _masked_sum(logliks, score_mask)
    # Private KLs count for modalities both encoded and scored (zero elsewhere already).
    private = _masked_sum(private_kl, score_mask) if private_kl.ndim else private_kl
    return q, z, w, recon, private


def _branches(model, xs, tokens, sets):
    """:func:`_branch` for each ``(enc_mask, score_mask)`` pair of ``sets``. Without private
    latents every branch's draws are decoded in one call per modality (larger matrix products,
    half the calls for two branches); the draws are made in the order of ``sets``, as
    successive :func:`_branch` calls make them, so the results agree up to float rounding."""
    if model.n_private:  # private latents are drawn per branch, from its own encoding
        return [_branch(model, xs, tokens, enc_mask, score_mask) for enc_mask, score_mask in sets]
    posteriors = [model.posterior(tokens, enc_mask) for enc_mask, _ in sets]
    draws = [q.sample_weighted(1) for q in posteriors]
    sizes = [z.shape[0] for z, _ in draws]
    logliks, _ = model.log_likelihoods(xs, torch.cat([z for z, _ in draws], 0))
    zero = torch.zeros((), dtype=logliks.dtype, device=logliks.device)
    return [(q, z, w, _masked_sum(part, score_mask), zero)
            for q, (z, w), part, (_, score_mask) in zip(posteriors, draws, logliks.split(sizes, 0), sets)]


class Objective:
    """A variational lower bound of ``log p(x)``: the base class of the registry ``OBJECTIVES``.

    An objective draws the conditioning sets ``S`` of a training step (``conditioning_sets``)
    and computes, per sample, the bound (``"objective"``) and its parts. ``terms`` names the
    parts: the training history records them (``train_<term>``, ``valid_<term>``), so a new
    objective is one subclass and one line in ``OBJECTIVES``. ``branches`` counts the
    encoder-decoder passes of a step (the estimator's memory estimate reads it).

    This base class computes the bound of a conditioning set ``S`` that scores every observed
    modality: ``E_q(z|x_S) log p(x|z) - beta KL(q(z|x_S) || p(z))``.

    Examples
    --------
    A new objective is a subclass that draws its conditioning sets (here: the first observed
    modality of each row only), and one registry line (``OBJECTIVES["first"] = First``):

    >>> import torch
    >>> from skmmvae.nn import MultiModalModule, make_likelihood
    >>> likelihoods = {"a": make_likelihood("gaussian", 3), "b": make_likelihood("gaussian", 2)}
    >>> model = MultiModalModule(likelihoods, n_latent=2, hidden_sizes=(16,), embedding_size=8)
    >>> xs = [torch.randn(4, 3), torch.randn(4, 2)]
    >>> mask = torch.tensor([[True, True], [True, False], [False, True], [True, True]])
    >>> from skmmvae.nn import Objective
    >>> class First(Objective):
    ...     def conditioning_sets(self, mask):
    ...         return mask & (mask.cumsum(-1) == 1)
    >>> terms = First()(model, xs, mask, beta=0.5)
    >>> sorted(terms), terms["objective"].shape
    (['kl', 'objective', 'reconstruction'], torch.Size([4]))
    >>> torch.allclose(terms["objective"], terms["reconstruction"] - 0.5 * terms["kl"])
    True
    """

    terms = ("reconstruction", "kl")
    branches = 1

    def conditioning_sets(self, mask):  # pragma: no cover - abstract
        """The conditioning sets ``S`` of a step: BoolTensor ``(B, M)`` within ``mask``."""
        raise NotImplementedError

    def __call__(self, model, xs, mask, beta=1.0, subset=None):
        """Per-sample ``"objective"`` and ``terms``, a dict of ``(B,)`` tensors (see
        :func:`objective_terms`); ``subset``: conditioning sets to use instead of drawn ones."""
        tokens = model.tokens(xs, mask)
        if subset is None:
            subset = self.conditioning_sets(mask)
        return self.bound(model, xs, mask, tokens, subset, beta)

    def bound(self, model, xs, mask, tokens, subset, beta):
        terms, _ = _subset_terms(model, _branch(model, xs, tokens, subset, mask))
        terms["objective"] = terms["reconstruction"] - beta * terms["kl"]
        return terms


class Elbo(Objective):
    """The ELBO: ``S`` is the whole observed set.

    Examples
    --------
    >>> import torch
    >>> mask = torch.tensor([[True, True], [True, False], [False, True], [True, True]])
    >>> from skmmvae.nn import Elbo
    >>> Elbo.terms
    ('reconstruction', 'kl')
    >>> torch.equal(Elbo().conditioning_sets(mask), mask)
    True
    """

    def conditioning_sets(self, mask):
        return mask


class MixtureBound(Objective):
    """The mixture bound: ``S`` uniform over the non-empty subsets of each row's observed set.

    Examples
    --------
    >>> import torch
    >>> mask = torch.tensor([[True, True], [True, False], [False, True], [True, True]])
    >>> from skmmvae.nn import MixtureBound
    >>> subset = MixtureBound().conditioning_sets(mask)
    >>> bool((subset & ~mask).any()), bool(subset.any(-1).all())  # within, never empty
    (False, True)
    """

    def conditioning_sets(self, mask):
        # Non-empty subsets only: q(z | x_empty) gives the encoders no signal, which half of
        # the draws of a row with one observed modality would be (the paper's code
        # includes it; excluding it improved imputations and likelihoods in every case of
        # the quality benchmark measured, see docs/quality.rst). Any distribution over the
        # subsets keeps the bound a lower bound of log p(x).
        return uniform_nonempty_subsets(mask, 1)[:, 0]


class TightBound(Objective):
    """The tight objective ``L_S(x_S) + L_{\\S}(x)``: the bound of ``x_S`` for ``S`` uniform
    over the subsets of the observed set, plus the reconstruction of the other observed
    modalities from ``q(z | x)`` with the cross term ``-beta KL(q(z|x) || q(z|x_S))``.

    Examples
    --------
    >>> import torch
    >>> mask = torch.tensor([[True, True], [True, False], [False, True], [True, True]])
    >>> from skmmvae.nn import TightBound
    >>> TightBound.terms, TightBound.branches
    (('reconstruction', 'kl', 'cross_reconstruction', 'cross_kl'), 2)
    >>> subset = TightBound().conditioning_sets(mask)  # any subset, the empty one included
    >>> bool((subset & ~mask).any())
    False
    """

    terms = ("reconstruction", "kl", "cross_reconstruction", "cross_kl")
    branches = 2

    def conditioning_sets(self, mask):
        return sample_subsets(mask)

    def bound(self, model, xs, mask, tokens, subset, beta):
        cross = mask & ~subset
        subset_branch, (q_m, z_m, w_m, cross_recon, cross_private) = _branches(
            model, xs, tokens, [(subset, subset), (mask, cross)])
        terms, q_s = _subset_terms(model, subset_branch)
        total = terms["reconstruction"] - beta * terms["kl"]
        cross_kl = q_m.detach().log_prob(z_m) - q_s.log_prob(z_m)
        # KL(q(z|x) || q(z|x_S)) is exactly 0 when S is the whole observed set.
        cross_kl = torch.where(cross.any(-1), cross_kl, torch.zeros((), dtype=cross_kl.dtype))
        cross_kl = cross_kl + cross_private
        terms["cross_reconstruction"] = (w_m * cross_recon).sum(0)
        terms["cross_kl"] = (w_m * cross_kl).sum(0)
        terms["objective"] = total + terms["cross_reconstruction"] - beta * terms["cross_kl"]
        return terms


def _subset_terms(model, branch):
    """Reconstruction and KL to the prior of a :func:`_branch` (``z ~ q(z | x_subset)``,
    scoring its score mask); and q."""
    q_s, z_s, w_s, recon, private = branch
    kl = q_s.detach().log_prob(z_s) - model.prior.log_prob(z_s) + private
    return {"reconstruction": (w_s * recon).sum(0), "kl": (w_s * kl).sum(0)}, q_s


OBJECTIVES = {"elbo": Elbo, "mixture": MixtureBound, "tight": TightBound}


def make_objective(name):
    """The objective registered as ``name`` in ``OBJECTIVES``.

    Parameters
    ----------
    name : str
        Key of ``OBJECTIVES``: ``"elbo"``, ``"mixture"`` or ``"tight"``.

    Returns
    -------
    Objective

    Examples
    --------
    >>> from skmmvae.nn import make_objective
    >>> type(make_objective("tight")).__name__
    'TightBound'
    >>> make_objective("iwae")
    Traceback (most recent call last):
    ...
    ValueError: unknown objective 'iwae'; choose from ('elbo', 'mixture', 'tight')
    """
    if not isinstance(name, str) or name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; choose from {tuple(OBJECTIVES)}")
    return OBJECTIVES[name]()


def objective_terms(model, xs, mask, objective="tight", beta=1.0, subset=None):
    """Per-sample objective and its parts.

    Parameters
    ----------
    model : MultiModalModule
        The model to train.
    xs : list of Tensor
        One ``(B, d_s)`` tensor per modality (zeros where missing).
    mask : BoolTensor of shape (B, M)
        Observed modalities.
    objective : {"elbo", "mixture", "tight"}
        Key of ``OBJECTIVES`` (see :class:`Elbo`, :class:`MixtureBound`, :class:`TightBound`).
        ``"elbo"``: ``S`` = all observed. ``"mixture"``: ``E_q(z|x_S) log p(x|z) - beta KL(q(z|x_S)
        || p(z))`` for ``S`` uniform over the non-empty subsets of each row's observed set. ``"tight"``: ``L_S(x_S) + L_{\\S}(x)`` with the cross
        term ``-beta KL(q(z|x) || q(z|x_S))``.
    beta : float
        Weight of the KL terms.
    subset : BoolTensor, optional
        Conditioning sets to use instead of random ones.

    Returns
    -------
    dict of str -> Tensor (B,)
        ``objective``, ``reconstruction``, ``kl``, and for ``"tight"`` also
        ``cross_reconstruction`` and ``cross_kl``.

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn import MultiModalModule, make_likelihood, objective_terms
    >>> likelihoods = {"a": make_likelihood("gaussian", 3), "b": make_likelihood("gaussian", 2)}
    >>> model = MultiModalModule(likelihoods, n_latent=2, hidden_sizes=(16,), embedding_size=8)
    >>> xs = [torch.randn(4, 3), torch.randn(4, 2)]
    >>> mask = torch.tensor([[True, True], [True, False], [False, True], [True, True]])
    >>> xs = [x * mask[:, [s]] for s, x in enumerate(xs)]  # zeros where missing
    >>> terms = objective_terms(model, xs, mask, objective="tight")
    >>> sorted(terms)
    ['cross_kl', 'cross_reconstruction', 'kl', 'objective', 'reconstruction']
    >>> terms["objective"].shape
    torch.Size([4])
    >>> parts = terms["reconstruction"] - terms["kl"]
    >>> parts = parts + terms["cross_reconstruction"] - terms["cross_kl"]
    >>> torch.allclose(terms["objective"], parts)
    True

    A training step maximises the mean objective:

    >>> optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    >>> loss = -objective_terms(model, xs, mask, objective="elbo")["objective"].mean()
    >>> loss.backward()
    >>> optimizer.step()
    """
    return make_objective(objective)(model, xs, mask, beta, subset)


def _importance_draws(model, xs, cond, n_samples, common_noise):
    """Draws ``z ~ q(z | x_cond)`` ``(K, B, d)``, ``log p(x_s | z)`` per modality ``(K, B, M)``
    (minus the private-latent KL of the conditioning modalities, zero elsewhere) and the
    log importance weights ``log p(x_cond | z) + log p(z) - log q(z | x_cond)`` ``(K, B)``."""
    tokens = model.tokens(xs, cond)
    q = model.posterior(tokens, cond)
    with torch.no_grad():
        z = q.sample_common(n_samples) if common_noise else q.sample(n_samples)
    logliks, private_kl = model.log_likelihoods(xs, z, tokens, cond, common_noise)
    if private_kl.ndim:
        logliks = logliks - private_kl
    log_w = _masked_sum(logliks, cond) + model.prior.log_prob(z) - q.log_prob(z)
    return z, logliks, log_w


def _prior_private_latents(model, z, common_noise):
    """Private latents ``(K, B, n_private)`` drawn from their N(0, I) prior for draws ``z``
    ``(K, B, d)`` (the same for every row with ``common_noise``), or None without them."""
    if not model.n_private:
        return None
    return standard_normal((*z.shape[:-1], model.n_private), z, common_noise)


def _draws_last(values):
    """``values`` ``(K, B, ...)`` with the draw axis moved last and contiguous ``(B, ..., K)``.

    Reductions over the draws run over this last axis: a reduction over the leading axis is
    vectorised across the rows, and how depends on the number of rows, so that a row's
    result could change in its last bits with the batch it came in (a row alone must give
    exactly what it gives in a larger set)."""
    return values.movedim(0, -1).contiguous()


def _logsumexp_draws(values):
    """``log sum_k exp(values[k])`` over the draws of ``values`` ``(K, B, ...)``."""
    return torch.logsumexp(_draws_last(values), -1)


def _average_draws(log_w, values):
    """The self-normalised average ``sum_k softmax(log_w)_k values[k]`` of ``values``
    ``(K, B, C)`` with log weights ``log_w`` ``(K, B)``: ``(B, C)``."""
    weights = torch.softmax(_draws_last(log_w), -1).unsqueeze(1)  # (B, 1, K)
    return (weights * _draws_last(values)).sum(-1)


def iw_log_likelihood(model, xs, mask, n_samples=64, common_noise=False):
    """Importance-weighted estimate of ``log p(x_obs)`` with proposal ``q(z | x_obs)``.

    ``log (1/K) sum_k p(x_obs | z_k) p(z_k) / q(z_k | x_obs)``: a lower bound in expectation
    that tightens as ``K = n_samples`` grows (Burda et al., 2016). With ``common_noise`` all
    rows share their random numbers, so a row's estimate does not depend on its batch.

    Parameters
    ----------
    model : MultiModalModule
        The model to score.
    xs : list of Tensor
        One ``(B, d_s)`` tensor per modality (zeros where missing).
    mask : BoolTensor of shape (B, M)
        Observed modalities.
    n_samples : int
        Number ``K`` of importance samples.
    common_noise : bool
        Share the random numbers across rows.

    Returns
    -------
    Tensor of shape (B,)
        The estimates; exactly 0 for rows with no observed modality.

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn import MultiModalModule, iw_log_likelihood, make_likelihood
    >>> likelihoods = {"a": make_likelihood("gaussian", 3), "b": make_likelihood("gaussian", 2)}
    >>> model = MultiModalModule(likelihoods, n_latent=2, hidden_sizes=(16,), embedding_size=8)
    >>> xs = [torch.randn(3, 3), torch.randn(3, 2)]
    >>> mask = torch.tensor([[True, True], [True, False], [False, False]])
    >>> xs = [x * mask[:, [s]] for s, x in enumerate(xs)]  # zeros where missing
    >>> with torch.no_grad():
    ...     log_p = iw_log_likelihood(model, xs, mask, n_samples=16)
    >>> log_p.shape
    torch.Size([3])
    >>> bool(torch.isfinite(log_p).all()), log_p[2].item()  # nothing observed: log 1
    (True, 0.0)
    """
    _, _, log_w = _importance_draws(model, xs, mask, n_samples, common_noise)
    estimate = _logsumexp_draws(log_w) - math.log(n_samples)
    # Nothing observed: log p(x_empty) = log 1 = 0 exactly (the estimate would only add noise).
    return torch.where(mask.any(-1), estimate, torch.zeros((), dtype=estimate.dtype))


def iw_conditional_log_likelihood(model, xs, mask, given, n_samples=64, common_noise=False):
    """Importance-sampling estimate of ``log p(x_T | x_S)``, the cross-modal log-likelihood.

    ``S = mask & given`` are the conditioning modalities and ``T = mask & ~given`` the
    targets of each row. With ``z_k ~ q(z | x_S)`` and weights
    ``w_k = p(x_S | z_k) p(z_k) / q(z_k | x_S)``, the self-normalised estimate
    ``log sum_k w_k p(x_T | z_k) - log sum_k w_k`` converges to ``log p(x_T | x_S)`` as
    ``K = n_samples`` grows. When ``q(z | x_S)`` is the true posterior the weights are all
    ``p(x_S)`` and the estimate is the log of an unbiased Monte-Carlo average of
    ``p(x_T | z_k)``, hence a lower bound in expectation. Private latents of target
    modalities are drawn from their prior. Rows with no target
    score 0 (``log 1``); rows with no conditioning modality estimate ``log p(x_T)`` with the
    proposal ``q(z | x_empty)``.

    Parameters
    ----------
    model : MultiModalModule
        The model to score.
    xs : list of Tensor
        One ``(B, d_s)`` tensor per modality (zeros where missing).
    mask : BoolTensor of shape (B, M)
        Observed modalities.
    given : BoolTensor of shape (M,) or (B, M)
        The conditioning modalities; the other observed ones are the targets.
    n_samples : int
        Number ``K`` of importance samples.
    common_noise : bool
        Share the random numbers across rows.

    Returns
    -------
    Tensor of shape (B,)
        The estimates; exactly 0 for rows with no target.

    Examples
    --------
    Score the second modality given the first; the second row has no target (its second
    modality is missing):

    >>> import torch
    >>> from skmmvae.nn import MultiModalModule, iw_conditional_log_likelihood, make_likelihood
    >>> likelihoods = {"a": make_likelihood("gaussian", 3), "b": make_likelihood("gaussian", 2)}
    >>> model = MultiModalModule(likelihoods, n_latent=2, hidden_sizes=(16,), embedding_size=8)
    >>> xs = [torch.randn(3, 3), torch.randn(3, 2)]
    >>> mask = torch.tensor([[True, True], [True, False], [False, True]])
    >>> xs = [x * mask[:, [s]] for s, x in enumerate(xs)]  # zeros where missing
    >>> given = torch.tensor([True, False])
    >>> with torch.no_grad():
    ...     log_p = iw_conditional_log_likelihood(model, xs, mask, given, n_samples=16)
    >>> log_p.shape
    torch.Size([3])
    >>> (log_p == 0).tolist()
    [False, True, False]
    """
    given = given.to(mask.device)
    cond, target = mask & given, mask & ~given
    _, logliks, log_w = _importance_draws(model, xs, cond, n_samples, common_noise)
    log_target = _masked_sum(logliks, target)
    estimate = _logsumexp_draws(log_w + log_target) - _logsumexp_draws(log_w)
    return torch.where(target.any(-1), estimate, torch.zeros((), dtype=estimate.dtype))


def _without_target(mask, target):
    """``mask`` with the modality ``target`` unobserved in every row: the conditioning set."""
    cond = mask.clone()
    cond[:, target] = False
    return cond


def _class_probabilities(model, z, target, common_noise):
    """``p(y = c | z_k)`` ``(K, B, n_classes)`` of the categorical modality ``target`` for
    draws ``z`` ``(K, B, d)``, its private latents (if any) from their prior."""
    private = _prior_private_latents(model, z, common_noise)
    return list(model.likelihoods.values())[target].mean(model.decode(z, target, private))


def iw_class_probabilities(model, xs, mask, target, n_samples=64, common_noise=False):
    """Predictive class probabilities ``p(y = c | x_S)`` of the categorical modality ``target``.

    ``S`` is each row's observed modalities except ``target`` (whose data are ignored). With
    ``z_k ~ q(z | x_S)`` and self-normalised weights ``w_k`` proportional to
    ``p(x_S | z_k) p(z_k) / q(z_k | x_S)``, the estimate is ``sum_k w_k p(y = c | z_k)``:
    the probabilities whose logarithm at the observed class is the estimate of
    :func:`iw_conditional_log_likelihood` with the same draws. Rows sum to 1.

    Parameters
    ----------
    model : MultiModalModule
        A model whose modality ``target`` has a categorical likelihood.
    xs : list of Tensor
        Data of every modality, ``(B, n_features_s)`` (class indices ``(B, 1)`` for labels).
    mask : Tensor of bool, shape (B, M)
        Observed modalities per row.
    target : int
        Position of the categorical modality.
    n_samples : int, default=64
        Importance samples ``K``.
    common_noise : bool, default=False
        Share the random numbers across rows (results independent of batching).

    Returns
    -------
    probabilities : Tensor of shape (B, n_classes)

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn import MultiModalModule, iw_class_probabilities, make_likelihood
    >>> likelihoods = {"x": make_likelihood("gaussian", 3),
    ...                "y": make_likelihood("categorical", 1, n_classes=4)}
    >>> model = MultiModalModule(likelihoods, n_latent=2, hidden_sizes=(8,), embedding_size=8)
    >>> xs = [torch.randn(5, 3), torch.zeros(5, 1)]
    >>> mask = torch.ones(5, 2, dtype=torch.bool)
    >>> p = iw_class_probabilities(model, xs, mask, target=1, n_samples=16)
    >>> p.shape, bool(torch.allclose(p.sum(-1), torch.ones(5)))
    (torch.Size([5, 4]), True)
    """
    z, _, log_w = _importance_draws(model, xs, _without_target(mask, target), n_samples, common_noise)
    return _average_draws(log_w, _class_probabilities(model, z, target, common_noise))


def encoder_class_probabilities(model, xs, mask, target, n_samples=64, common_noise=False):
    """Class probabilities of the categorical modality ``target`` under the encoder's
    predictive: the mean of ``p(y = c | z_k)`` over ``z_k ~ q(z | x_S)``.

    ``S`` is each row's observed modalities except ``target`` (whose data are ignored). The
    draws of :func:`iw_class_probabilities`, without its importance weights: the
    classifier that the amortised posterior ``q(z | x_S)``, trained by the objectives'
    cross terms to stand for any subset, gives. In the quality benchmark it had a lower
    log-loss than the importance-weighted estimate, whose weights rest on few draws
    (``docs/quality.rst``, "Class probabilities"). Rows sum to 1.

    Parameters
    ----------
    model : MultiModalModule
        A model whose modality ``target`` has a categorical likelihood.
    xs : list of Tensor
        Data of every modality, ``(B, n_features_s)`` (class indices ``(B, 1)`` for labels).
    mask : Tensor of bool, shape (B, M)
        Observed modalities per row.
    target : int
        Position of the categorical modality.
    n_samples : int, default=64
        Draws ``K``.
    common_noise : bool, default=False
        Share the random numbers across rows (results independent of batching).

    Returns
    -------
    probabilities : Tensor of shape (B, n_classes)

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn import MultiModalModule, encoder_class_probabilities, make_likelihood
    >>> likelihoods = {"x": make_likelihood("gaussian", 3),
    ...                "y": make_likelihood("categorical", 1, n_classes=4)}
    >>> model = MultiModalModule(likelihoods, n_latent=2, hidden_sizes=(8,), embedding_size=8)
    >>> xs = [torch.randn(5, 3), torch.zeros(5, 1)]
    >>> mask = torch.ones(5, 2, dtype=torch.bool)
    >>> p = encoder_class_probabilities(model, xs, mask, target=1, n_samples=16)
    >>> p.shape, bool(torch.allclose(p.sum(-1), torch.ones(5)))
    (torch.Size([5, 4]), True)
    """
    cond = _without_target(mask, target)
    q = model.posterior(model.tokens(xs, cond), cond)
    with torch.no_grad():
        z = q.sample_common(n_samples) if common_noise else q.sample(n_samples)
    probabilities = _class_probabilities(model, z, target, common_noise)
    return _draws_last(probabilities).mean(-1)  # row by row: a row alone gives what it gives in a set


def iw_conditional_means(model, xs, mask, n_samples=64, common_noise=False):
    """Conditional means ``E[x_s | x_S]`` of every modality, ``S`` = the observed ones.

    Self-normalised importance sampling over ``z_k ~ q(z | x_S)`` with weights
    ``w_k`` proportional to ``p(x_S | z_k) p(z_k) / q(z_k | x_S)``: the estimate
    ``sum_k w_k E[x_s | z_k]`` converges to the model's conditional mean as ``K`` grows
    (the decoder at the posterior mean is a plug-in approximation of it). Private latents
    come from their prior. For a categorical modality the mean is its class probabilities.

    Parameters
    ----------
    model : MultiModalModule
        The model.
    xs : list of Tensor
        One ``(B, d_s)`` tensor per modality (zeros where missing).
    mask : BoolTensor of shape (B, M)
        Observed (conditioning) modalities.
    n_samples : int
        Number ``K`` of importance samples.
    common_noise : bool
        Share the random numbers across rows.

    Returns
    -------
    list of Tensor
        One ``(B, n_params_s)`` mean per modality (in the likelihood's ``mean`` layout).

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn import MultiModalModule, iw_conditional_means, make_likelihood
    >>> likelihoods = {"a": make_likelihood("gaussian", 3), "b": make_likelihood("gaussian", 2)}
    >>> model = MultiModalModule(likelihoods, n_latent=2, hidden_sizes=(8,), embedding_size=8)
    >>> xs = [torch.randn(4, 3), torch.zeros(4, 2)]
    >>> mask = torch.tensor([[True, False]] * 4)
    >>> with torch.no_grad():
    ...     means = iw_conditional_means(model, xs, mask, n_samples=16)
    >>> [tuple(m.shape) for m in means]
    [(4, 3), (4, 2)]
    """
    z, _, log_w = _importance_draws(model, xs, mask, n_samples, common_noise)
    private = _prior_private_latents(model, z, common_noise)
    # Rows with nothing observed: log_w is the prior over itself, all weights equal.
    return [_average_draws(log_w, likelihood.mean(model.decode(z, s, private)))
            for s, likelihood in enumerate(model.likelihoods.values())]
