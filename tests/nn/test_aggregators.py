"""Specification of the aggregators ``q(z | x_S)`` and of the distribution objects they return.

Every numerical claim is checked against a computation written here (numpy / scipy /
``torch.distributions``), never against the code under test.
"""
import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import logsumexp

from skmmvae.nn import (
    AGGREGATORS,
    DiagGaussian,
    GaussianMixture,
    GaussianMixturePrior,
    make_aggregator,
    make_prior,
)

D = 2  # latent size used throughout
ALL_AGGREGATORS = sorted(AGGREGATORS)
MIXTURE_OUTPUT = {"moe", "mopoe", "sumpooling_mixture", "selfattention_mixture"}
SET_NETWORKS = {"sumpooling", "selfattention", "sumpooling_mixture", "selfattention_mixture"}
DTYPE = torch.float64


# ----------------------------------------------------------------------------- helpers


def softplus_np(x):
    return np.logaddexp(0.0, x)


def build(name, prior=None, **options):
    """A small float64 aggregator (token width 8 for the set networks, 2*D for experts)."""
    prior = make_prior(D) if prior is None else prior
    prior.double()
    agg = make_aggregator(
        name, D, prior, embedding_size=8, hidden_sizes=(16,), n_mixture_components=3, **options
    )
    return agg.double()


def random_tokens(agg, batch, n_mod, scale=1.0):
    return scale * torch.randn(batch, n_mod, agg.token_size, dtype=DTYPE)


def fill_masked(tokens, mask, garbage=True):
    """Replace the tokens of masked modalities by NaN / +-inf / huge values (or zeros)."""
    out = tokens.clone()
    if garbage:
        pool = torch.tensor([math.nan, math.inf, -math.inf, 1e30], dtype=tokens.dtype)
        idx = torch.randint(0, len(pool), out.shape)
        out = torch.where(mask.unsqueeze(-1), out, pool[idx])
    else:
        out = torch.where(mask.unsqueeze(-1), out, torch.zeros_like(out))
    return out


def assert_same_distribution(q1, q2, z, atol=1e-10):
    """Same density at the points ``z`` (n, B, D) and same first two moments."""
    lp1, lp2 = q1.log_prob(z), q2.log_prob(z)
    assert torch.isfinite(lp1).all() and torch.isfinite(lp2).all()
    torch.testing.assert_close(lp1, lp2, atol=atol, rtol=1e-9)
    torch.testing.assert_close(q1.mean, q2.mean, atol=atol, rtol=1e-9)
    torch.testing.assert_close(q1.variance, q2.variance, atol=atol, rtol=1e-9)
    if isinstance(q1, DiagGaussian) and isinstance(q2, DiagGaussian):
        torch.testing.assert_close(q1.loc, q2.loc, atol=atol, rtol=1e-9)
        torch.testing.assert_close(q1.scale, q2.scale, atol=atol, rtol=1e-9)


def poe_numpy(tokens, mask, min_scale):
    """Closed-form product of the experts in ``mask`` and the N(0, I) prior expert."""
    tokens = np.asarray(tokens, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    mu, raw = tokens[..., :D], tokens[..., D:]
    with np.errstate(invalid="ignore", over="ignore"):
        std = min_scale + softplus_np(raw)
        prec_s = np.where(mask[..., None], 1.0 / std**2, 0.0)
        wmean = np.where(mask[..., None], mu / std**2, 0.0)
    precision = 1.0 + prec_s.sum(-2)
    return wmean.sum(-2) / precision, precision**-0.5


def standard_normal_logpdf(z):
    return stats.norm.logpdf(z).sum(-1)


# ------------------------------------------------------------------- GaussianMixture / Diag


def random_mixture(batch=3, n_comp=4, learnable=True, off=True):
    logits = torch.randn(batch, n_comp, dtype=DTYPE)
    if off:
        logits[0, 1] = -math.inf  # a switched-off component
    loc = 2.0 * torch.randn(batch, n_comp, D, dtype=DTYPE)
    scale = 0.3 + torch.rand(batch, n_comp, D, dtype=DTYPE)
    return GaussianMixture(logits, loc, scale, learnable_weights=learnable)


def test_diag_gaussian_log_prob_matches_torch_distributions():
    torch.manual_seed(0)
    loc = torch.randn(4, D, dtype=DTYPE)
    scale = 0.2 + torch.rand(4, D, dtype=DTYPE)
    z = torch.randn(5, 4, D, dtype=DTYPE)
    q = DiagGaussian(loc, scale)
    expected = torch.distributions.Normal(loc, scale).log_prob(z).sum(-1)
    torch.testing.assert_close(q.log_prob(z), expected)
    z, w = q.sample_weighted(3)
    assert z.shape == (3, 4, D) and w.shape == (3, 4)
    torch.testing.assert_close(w, torch.full((3, 4), 1 / 3, dtype=DTYPE))


def test_mixture_log_prob_is_log_sum_exp_over_components():
    torch.manual_seed(0)
    q = random_mixture()
    z = 2.0 * torch.randn(6, 3, D, dtype=DTYPE)
    comp = torch.distributions.Normal(q.loc, q.scale).log_prob(z.unsqueeze(-2)).sum(-1)
    logits = q.logits.numpy()
    log_w = logits - logsumexp(logits, axis=-1, keepdims=True)
    expected = logsumexp(log_w + comp.numpy(), axis=-1)
    np.testing.assert_allclose(q.log_prob(z).numpy(), expected, rtol=1e-10, atol=1e-10)


def test_mixture_mean_and_variance_are_the_mixture_moments():
    torch.manual_seed(1)
    q = random_mixture()
    w = np.exp(q.logits.numpy() - logsumexp(q.logits.numpy(), axis=-1, keepdims=True))
    mu, sd = q.loc.numpy(), q.scale.numpy()
    mean = (w[..., None] * mu).sum(1)
    var = (w[..., None] * (sd**2 + (mu - mean[:, None]) ** 2)).sum(1)  # law of total variance
    np.testing.assert_allclose(q.mean.numpy(), mean, rtol=1e-10)
    np.testing.assert_allclose(q.variance.numpy(), var, rtol=1e-10)


def test_stratified_estimator_weights_sum_to_one_and_are_unbiased():
    torch.manual_seed(2)
    q = random_mixture()
    n = 4000
    z, w = q.sample_weighted(n)
    n_comp = q.loc.shape[1]
    assert z.shape == (n * n_comp, 3, D) and w.shape == (n * n_comp, 3)
    torch.testing.assert_close(w.sum(0), torch.ones(3, dtype=DTYPE))
    # E[z] and E[z**2] under sum_i w_i f(z_i) match the mixture moments within MC error.
    weights = q.weights.numpy()
    sd = q.scale.numpy()
    se_mean = np.sqrt((weights[..., None] ** 2 * sd**2).sum(1) / n)
    est_mean = (w.unsqueeze(-1) * z).sum(0).numpy()
    assert np.all(np.abs(est_mean - q.mean.numpy()) < 5 * se_mean + 1e-12)
    second = (weights[..., None] * (sd**2 + q.loc.numpy() ** 2)).sum(1)
    est_second = (w.unsqueeze(-1) * z**2).sum(0).numpy()
    np.testing.assert_allclose(est_second, second, rtol=0.05, atol=0.05)


def test_stratified_estimator_gradient_reaches_the_logits():
    torch.manual_seed(3)
    logits = torch.randn(2, 3, dtype=DTYPE, requires_grad=True)
    loc = torch.tensor([[[-2.0, 0.0], [0.0, 1.0], [3.0, -1.0]]] * 2, dtype=DTYPE)
    scale = torch.full((2, 3, D), 0.5, dtype=DTYPE)
    q = GaussianMixture(logits, loc, scale, learnable_weights=True)
    n = 2000
    z, w = q.sample_weighted(n)
    estimate = (w * z[..., 0]).sum(0).sum()  # sum over rows of the estimate of E[z_0]
    (grad,) = torch.autograd.grad(estimate, logits)
    # d/dlogit_c sum_k pi_k mu_k0 = pi_c (mu_c0 - mean_0)
    pi = torch.softmax(logits.detach(), -1).numpy()
    mu0 = loc[..., 0].numpy()
    expected = pi * (mu0 - (pi * mu0).sum(-1, keepdims=True))
    assert np.abs(grad.numpy()).max() > 0.1
    np.testing.assert_allclose(grad.numpy(), expected, atol=0.05)


@pytest.mark.parametrize("method", ["sample_weighted", "rsample"])
def test_index_sampling_component_frequencies_match_weights(method):
    torch.manual_seed(4)
    probs = torch.tensor([[0.2, 0.5, 0.3], [0.6, 0.0, 0.4]], dtype=DTYPE)
    loc = torch.tensor([[[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]]] * 2, dtype=DTYPE)
    scale = torch.full((2, 3, D), 0.01, dtype=DTYPE)
    q = GaussianMixture(probs.log(), loc, scale, learnable_weights=False)
    n = 6000
    if method == "sample_weighted":
        z, w = q.sample_weighted(n)
        torch.testing.assert_close(w, torch.full((n, 2), 1.0 / n, dtype=DTYPE))
    else:
        z = q.rsample(n)
    assert z.shape == (n, 2, D)
    component = torch.round(z[..., 0] / 10.0).long()  # nearest of the well-separated means
    for row in range(2):
        counts = np.bincount(component[:, row].numpy(), minlength=3)
        p = probs[row].numpy()
        assert counts[p == 0].sum() == 0
        nz = p > 0
        assert stats.chisquare(counts[nz], n * p[nz]).pvalue > 1e-4


def test_mixture_detach_and_indexing():
    q = random_mixture()
    q.loc.requires_grad_(True)
    assert not q.detach().loc.requires_grad
    sub = q[1:]
    assert sub.loc.shape == (2, 4, D) and sub.logits.shape == (2, 4)


# --------------------------------------------------------------------------------- PoE


@pytest.mark.parametrize("min_scale", [1e-3, 0.2])
def test_poe_is_the_closed_form_product_of_gaussians_with_prior_expert(min_scale):
    torch.manual_seed(0)
    agg = build("poe", min_scale=min_scale)
    tokens = random_tokens(agg, 6, 4, scale=1.5)
    mask = torch.rand(6, 4) < 0.6
    mask[0] = False
    mask[1] = True
    q = agg(tokens, mask)
    assert isinstance(q, DiagGaussian)
    loc, scale = poe_numpy(tokens.numpy(), mask.numpy(), min_scale)
    np.testing.assert_allclose(q.loc.numpy(), loc, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(q.scale.numpy(), scale, rtol=1e-10)
    # And it really is the (normalised) product: log of the product of the expert densities
    # (prior expert included) minus log q is a constant in z.
    z = 2 * torch.randn(7, 6, D, dtype=DTYPE)
    mu = tokens[..., :D].numpy()
    std = min_scale + softplus_np(tokens[..., D:].numpy())
    experts = stats.norm.logpdf(z.numpy()[:, :, None, :], mu, std).sum(-1)  # (n, B, M)
    log_product = standard_normal_logpdf(z.numpy()) + np.where(mask.numpy(), experts, 0).sum(-1)
    diff = log_product - q.log_prob(z).numpy()
    np.testing.assert_allclose(diff - diff[:1], 0.0, atol=1e-9)


def test_poe_of_the_empty_set_is_standard_normal_for_any_token_content():
    agg = build("poe")
    tokens = torch.full((3, 2, agg.token_size), math.nan, dtype=DTYPE)
    tokens[1] = math.inf
    tokens[2] = torch.randn(2, agg.token_size, dtype=DTYPE)
    q = agg(tokens, torch.zeros(3, 2, dtype=torch.bool))
    torch.testing.assert_close(q.loc, torch.zeros(3, D, dtype=DTYPE))
    torch.testing.assert_close(q.scale, torch.ones(3, D, dtype=DTYPE))


# -------------------------------------------------------------- masking / permutation / empty


@pytest.mark.parametrize(
    "name, prior_kind", [(n, "standard") for n in ALL_AGGREGATORS] + [("moe", "mixture")]
)
@pytest.mark.parametrize("dropped", [0, 2])
def test_masking_a_modality_equals_removing_it(name, dropped, prior_kind):
    """q from (B, M, E) tokens with column ``dropped`` masked == q from (B, M-1, E) tokens."""
    torch.manual_seed(10 + dropped)
    prior = GaussianMixturePrior(D, 3) if prior_kind == "mixture" else None
    agg = build(name, prior).eval()  # eval: MoPoE enumerates (2^3 - 1 <= n_subsets) anyway
    batch, n_mod = 8, 3
    tokens = random_tokens(agg, batch, n_mod)
    mask = torch.rand(batch, n_mod) < 0.6
    mask[0] = True
    mask[1] = False
    mask[:, dropped] = False
    keep = [s for s in range(n_mod) if s != dropped]
    z = 2 * torch.randn(5, batch, D, dtype=DTYPE)
    with torch.no_grad():
        clean = agg(tokens[:, keep], mask[:, keep])
        for garbage in (False, True):
            masked = agg(fill_masked(tokens, mask, garbage), mask)
            assert_same_distribution(masked, clean, z)


@pytest.mark.parametrize("name", ALL_AGGREGATORS)
def test_garbage_in_masked_tokens_never_reaches_the_output(name):
    """NaN / inf in masked tokens leave q and its log-density exactly as with zeros there."""
    torch.manual_seed(11)
    agg = build(name).train()
    tokens = random_tokens(agg, 6, 3)
    mask = torch.rand(6, 3) < 0.5
    mask[0] = False
    mask[1] = True
    mask[2] = torch.tensor([True, False, False])
    z = torch.randn(4, 6, D, dtype=DTYPE)
    with torch.no_grad():
        ref = agg(fill_masked(tokens, mask, garbage=False), mask)
        q = agg(fill_masked(tokens, mask, garbage=True), mask)
    assert_same_distribution(q, ref, z)


@pytest.mark.parametrize("name", ALL_AGGREGATORS)
def test_garbage_in_masked_tokens_never_reaches_the_gradients(name):
    """Gradients w.r.t. the aggregator's parameters and the observed tokens stay finite."""
    torch.manual_seed(12)
    agg = build(name).train()
    tokens = fill_masked(random_tokens(agg, 5, 3), torch.zeros(5, 3, dtype=torch.bool))
    mask = torch.rand(5, 3) < 0.5
    mask[0] = False
    mask[1] = True
    mask[2] = torch.tensor([False, True, False])
    tokens = torch.where(mask.unsqueeze(-1), random_tokens(agg, 5, 3), tokens).requires_grad_(True)
    q = agg(tokens, mask)
    q.log_prob(torch.randn(3, 5, D, dtype=DTYPE)).sum().backward()
    observed_grad = tokens.grad[mask]
    assert torch.isfinite(observed_grad).all() and observed_grad.abs().sum() > 0
    for pname, p in agg.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("name", ALL_AGGREGATORS)
def test_permuting_tokens_and_mask_leaves_q_unchanged(name):
    torch.manual_seed(20)
    agg = build(name).eval()  # MoPoE enumerates: 2^4 - 1 = 15 <= n_subsets
    batch, n_mod = 8, 4
    tokens = random_tokens(agg, batch, n_mod)
    mask = torch.rand(batch, n_mod) < 0.6
    mask[0] = True
    mask[1] = False
    mask[2] = torch.tensor([False, True, False, False])
    z = 2 * torch.randn(5, batch, D, dtype=DTYPE)
    with torch.no_grad():
        q = agg(tokens, mask)
        for perm in ([3, 2, 1, 0], [1, 3, 0, 2]):
            q_perm = agg(tokens[:, perm], mask[:, perm])
            if name in ("moe", "mopoe"):  # components are permuted: compare densities/moments
                assert_same_distribution(GaussianMixture(q.logits, q.loc, q.scale),
                                         GaussianMixture(q_perm.logits, q_perm.loc, q_perm.scale),
                                         z, atol=1e-9)
            else:
                assert_same_distribution(q, q_perm, z, atol=1e-9)


def test_empty_rows_poe_mopoe_give_the_prior_expert():
    torch.manual_seed(30)
    z = 2 * torch.randn(5, 3, D, dtype=DTYPE)
    for name in ("poe", "mopoe"):
        agg = build(name)
        tokens = fill_masked(random_tokens(agg, 3, 3), torch.zeros(3, 3, dtype=torch.bool))
        q = agg(tokens, torch.zeros(3, 3, dtype=torch.bool))
        np.testing.assert_allclose(q.log_prob(z).numpy(), standard_normal_logpdf(z.numpy()),
                                   rtol=1e-10)
        torch.testing.assert_close(q.mean, torch.zeros(3, D, dtype=DTYPE))
        torch.testing.assert_close(q.variance, torch.ones(3, D, dtype=DTYPE))


@pytest.mark.parametrize("prior_kind", ["standard", "mixture"])
def test_empty_rows_moe_give_the_prior(prior_kind):
    torch.manual_seed(31)
    z = 2 * torch.randn(5, 3, D, dtype=DTYPE)
    if prior_kind == "standard":
        agg = build("moe")
        expected = standard_normal_logpdf(z.numpy())
    else:
        prior = GaussianMixturePrior(D, 3).double()
        with torch.no_grad():
            prior.logits.copy_(torch.tensor([0.3, -1.0, 1.2]))
            prior.raw_scale.copy_(torch.randn(3, D))
        agg = build("moe", prior)
        w = np.exp(prior.logits.detach().numpy())
        w /= w.sum()
        sd = 1e-3 + softplus_np(prior.raw_scale.detach().numpy())
        comp = stats.norm.logpdf(z.numpy()[..., None, :], prior.loc.detach().numpy(), sd).sum(-1)
        expected = logsumexp(np.log(w) + comp, axis=-1)
    tokens = fill_masked(random_tokens(agg, 3, 2), torch.zeros(3, 2, dtype=torch.bool))
    q = agg(tokens, torch.zeros(3, 2, dtype=torch.bool))
    np.testing.assert_allclose(q.log_prob(z).detach().numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("name", sorted(SET_NETWORKS))
def test_empty_rows_set_networks_give_a_learnt_constant(name):
    """rho(0): the same finite distribution whatever the (masked) tokens hold."""
    torch.manual_seed(32)
    agg = build(name).eval()
    empty = torch.zeros(4, 3, dtype=torch.bool)
    z = 2 * torch.randn(5, 1, D, dtype=DTYPE).expand(5, 4, D)
    with torch.no_grad():
        outputs = [
            agg(random_tokens(agg, 4, 3, scale=5.0), empty),
            agg(fill_masked(random_tokens(agg, 4, 3), empty, garbage=True), empty),
        ]
        constant = agg.rho(torch.zeros(1, getattr(agg, "pooled_size", agg.token_size), dtype=DTYPE))
    for q in outputs:
        lp = q.log_prob(z)
        assert torch.isfinite(lp).all()
        torch.testing.assert_close(lp, lp[:, :1].expand_as(lp))  # same for every row
        torch.testing.assert_close(lp, constant.log_prob(z[:, :1]).expand_as(lp))


def test_moe_is_the_uniform_mixture_of_the_experts_in_s():
    torch.manual_seed(33)
    agg = build("moe")
    tokens = random_tokens(agg, 5, 4)
    mask = torch.tensor([[1, 1, 1, 1], [0, 1, 0, 0], [1, 0, 0, 1], [0, 1, 1, 1], [0, 0, 0, 0]],
                        dtype=torch.bool)
    q = agg(fill_masked(tokens, mask), mask)
    assert not q.learnable_weights  # stop-gradient weights: index sampling
    z = 2 * torch.randn(6, 5, D, dtype=DTYPE)
    mu = tokens[..., :D].numpy()
    sd = 1e-3 + softplus_np(tokens[..., D:].numpy())
    comp = stats.norm.logpdf(z.numpy()[:, :, None, :], mu, sd).sum(-1)  # (n, B, M)
    for row in range(4):  # rows with a non-empty S
        m = mask[row].numpy()
        expected = logsumexp(comp[:, row, m], axis=-1) - np.log(m.sum())
        np.testing.assert_allclose(q[row:row + 1].log_prob(z[:, row:row + 1]).numpy()[:, 0],
                                   expected, rtol=1e-10)
    np.testing.assert_allclose(q.mean[1].numpy(), mu[1, 1], rtol=1e-12)  # a single expert


@pytest.mark.parametrize("name", sorted(SET_NETWORKS))
def test_set_networks_pool_by_sum_so_the_set_size_is_visible(name):
    """{t, t} and {t} give different posteriors (a mean pooling could not tell them apart)."""
    torch.manual_seed(34)
    agg = build(name).eval()
    t = random_tokens(agg, 3, 1)
    z = torch.randn(4, 3, D, dtype=DTYPE)
    with torch.no_grad():
        one = agg(t, torch.ones(3, 1, dtype=torch.bool)).log_prob(z)
        two = agg(t.expand(3, 2, -1), torch.ones(3, 2, dtype=torch.bool)).log_prob(z)
    assert (one - two).abs().min() > 1e-6


# --------------------------------------------------------------------------------- MoPoE


def _components(q, row):
    """(loc, scale) of the finite-weight components of ``row`` and their weights."""
    logits = q.logits[row]
    finite = torch.isfinite(logits)
    w = torch.softmax(logits, -1)[finite].numpy()
    return q.loc[row][finite].numpy(), q.scale[row][finite].numpy(), w


@pytest.mark.parametrize("n_mod", [3, 4])
def test_mopoe_enumeration_is_uniform_over_the_nonempty_subsets_of_s(n_mod):
    torch.manual_seed(40)
    agg = build("mopoe").eval()
    assert 2**n_mod - 1 <= agg.n_subsets  # the enumeration branch
    masks = [list(bits) for bits in itertools.product([False, True], repeat=n_mod) if any(bits)]
    mask = torch.tensor(masks)
    tokens = random_tokens(agg, len(masks), n_mod)
    with torch.no_grad():
        q = agg(fill_masked(tokens, mask), mask)
    for row, m in enumerate(masks):
        present = [s for s in range(n_mod) if m[s]]
        loc, scale, w = _components(q, row)
        n_expected = 2 ** len(present) - 1
        assert len(w) == n_expected
        np.testing.assert_allclose(w, 1.0 / n_expected, rtol=1e-12)
        found = np.zeros(len(w), dtype=bool)
        for size in range(1, len(present) + 1):
            for subset in itertools.combinations(present, size):
                sub_mask = np.zeros(n_mod, dtype=bool)
                sub_mask[list(subset)] = True
                e_loc, e_scale = poe_numpy(tokens[row].numpy(), sub_mask, 1e-3)
                hit = np.all(np.isclose(loc, e_loc, atol=1e-10) & np.isclose(scale, e_scale), -1)
                assert hit.sum() == 1, subset
                found |= hit
        assert found.all()


def test_mopoe_sampled_subsets_are_uniform_over_nonempty_subsets_of_s():
    torch.manual_seed(41)
    n_mod, draws = 5, 8
    agg = build("mopoe", n_subsets=draws).train()
    assert 2**n_mod - 1 > agg.n_subsets  # the sampling branch
    patterns = {
        (True, False, True, True, False): 2000,
        (True, True, True, True, True): 2500,
        (False, False, False, True, False): 50,
    }
    mask = torch.cat([torch.tensor([p] * k) for p, k in patterns.items()])
    subsets, valid = agg.subset_masks(mask)
    assert subsets.shape == (len(mask), draws, n_mod)
    assert valid.all() and subsets.any(-1).all()  # never empty
    assert not (subsets & ~mask.unsqueeze(1)).any()  # never outside S
    start = 0
    for pattern, rows in patterns.items():
        drawn = subsets[start : start + rows].reshape(-1, n_mod).numpy()
        start += rows
        present = [s for s in range(n_mod) if pattern[s]]
        codes = (drawn[:, present] * (2 ** np.arange(len(present)))).sum(-1)
        counts = np.bincount(codes, minlength=2 ** len(present))
        assert counts[0] == 0
        counts = counts[1:]
        if len(counts) == 1:
            assert counts[0] == rows * draws
        else:
            assert stats.chisquare(counts).pvalue > 1e-4


def test_mopoe_sampled_components_are_the_poe_of_the_drawn_subsets():
    torch.manual_seed(42)
    n_mod, draws = 5, 6
    agg = build("mopoe", n_subsets=draws).train()
    mask = torch.rand(7, n_mod) < 0.6
    mask[0] = False
    mask[1] = True
    tokens = fill_masked(random_tokens(agg, 7, n_mod), mask)
    torch.manual_seed(5)
    subsets, _ = agg.subset_masks(mask)
    torch.manual_seed(5)
    q = agg(tokens, mask)
    assert q.loc.shape == (7, draws, D)
    np.testing.assert_allclose(torch.softmax(q.logits, -1).numpy(), 1.0 / draws, rtol=1e-12)
    for row in range(7):
        for c in range(draws):
            e_loc, e_scale = poe_numpy(tokens[row].numpy(), subsets[row, c].numpy(), 1e-3)
            np.testing.assert_allclose(q.loc[row, c].detach().numpy(), e_loc, atol=1e-10)
            np.testing.assert_allclose(q.scale[row, c].detach().numpy(), e_scale, rtol=1e-10)
    # the empty row is the prior expert in every component
    torch.testing.assert_close(q.loc[0], torch.zeros(draws, D, dtype=DTYPE))
    torch.testing.assert_close(q.scale[0], torch.ones(draws, D, dtype=DTYPE))


def test_mopoe_sampling_is_deterministic_in_eval_and_fresh_in_training():
    torch.manual_seed(43)
    agg = build("mopoe", n_subsets=4)
    mask = torch.ones(6, 5, dtype=torch.bool)
    tokens = random_tokens(agg, 6, 5)
    agg.eval()
    q1, q2 = agg(tokens, mask), agg(tokens, mask)
    torch.testing.assert_close(q1.loc, q2.loc, rtol=0, atol=0)
    torch.testing.assert_close(q1.scale, q2.scale, rtol=0, atol=0)
    agg.train()
    q3, q4 = agg(tokens, mask), agg(tokens, mask)
    assert not torch.equal(q3.loc, q4.loc)


def test_mopoe_eval_posterior_of_a_row_does_not_depend_on_the_rest_of_the_batch():
    torch.manual_seed(44)
    agg = build("mopoe", n_subsets=4).eval()  # 2^5 - 1 = 31 > 4: the sampling branch
    tokens = random_tokens(agg, 6, 5)
    mask = torch.rand(6, 5) < 0.7
    mask[:, 0] = True
    z = torch.randn(3, 1, D, dtype=DTYPE)
    with torch.no_grad():
        whole = agg(tokens, mask)
        for row in range(6):
            alone = agg(tokens[row : row + 1], mask[row : row + 1])
            torch.testing.assert_close(whole[row : row + 1].log_prob(z), alone.log_prob(z))


# ------------------------------------------------------------------------------ registry


def test_registry_and_errors():
    assert set(AGGREGATORS) == {
        "poe", "poe_full", "moe", "mopoe", "sumpooling", "selfattention",
        "sumpooling_mixture", "selfattention_mixture",
    }
    with pytest.raises(ValueError):
        make_aggregator("median", D, make_prior(D))
    with pytest.raises(ValueError):
        make_aggregator("selfattention", D, make_prior(D), embedding_size=10, n_heads=4)
    for name in ("poe", "moe", "mopoe"):
        assert build(name).token_size == 2 * D
    assert build("poe_full").token_size == 2 * D + D * D
    assert build("poe_full", rank=1).token_size == 2 * D + D
    # the products with an N(0, I) prior expert, which the model pairs with N(0, I) only
    assert {n for n, (cls, _) in AGGREGATORS.items() if cls.standard_normal_expert} == {
        "poe", "poe_full", "mopoe"}
    for name in SET_NETWORKS:
        assert build(name).token_size == 8


@pytest.mark.parametrize("name", sorted(MIXTURE_OUTPUT))
def test_mixture_aggregators_return_mixtures(name):
    agg = build(name)
    mask = torch.ones(2, 3, dtype=torch.bool)
    q = agg(random_tokens(agg, 2, 3), mask)
    assert isinstance(q, GaussianMixture)
    # learnt weights only for the set-network mixtures
    assert q.learnable_weights == name.endswith("_mixture")
    if name.endswith("_mixture"):
        assert q.loc.shape == (2, 3, D)  # n_mixture_components = 3


def test_sum_pooling_pools_in_the_hidden_width():
    # as the paper's code: tokens of size 2d pooled in a wider space (its 256)
    agg = make_aggregator("sumpooling", 3, make_prior(3, 1), embedding_size=6, hidden_sizes=(32, 32))
    assert agg.token_size == 6 and agg.pooled_size == 32
    assert agg.chi[-1].out_features == 32 and agg.rho.net[0].in_features == 32


def test_options_an_aggregator_does_not_take_are_refused():
    """Each class gets only the arguments its signature names; a typo or an option of another
    aggregator is a TypeError that lists the options there are."""
    with pytest.raises(TypeError, match=r"'sumpooling' takes no option 'n_subset'; its options are \['activation'\]"):
        make_aggregator("sumpooling", D, make_prior(D), n_subset=3)
    with pytest.raises(TypeError, match=r"'poe' takes no option 'n_heads'; its options are none"):
        make_aggregator("poe", D, make_prior(D), n_heads=2)
    with pytest.raises(TypeError, match="'mopoe' takes no option 'n_latents'"):
        make_aggregator("mopoe", D, make_prior(D), n_latents=2)
    assert build("mopoe", n_subsets=4).n_subsets == 4
    assert len(build("selfattention", n_heads=2, n_blocks=3).blocks) == 3
    assert build("moe").prior[0] is not None and build("poe").min_scale == 1e-3


# ------------------------------------------------------------- full-precision product of experts


def full_poe_numpy(tokens, mask, d, rank, min_scale=1e-3):
    """Closed form, expert by expert: precision I + sum_s (diag_s + U_s U_s^T / rank) and
    mean = precision^-1 sum_s Lambda_s mu_s."""
    tokens = np.asarray(tokens, dtype=np.float64)
    batch, n_mod, _ = tokens.shape
    means, precisions = np.zeros((batch, d)), np.zeros((batch, d, d))
    for b in range(batch):
        precision, eta = np.eye(d), np.zeros(d)
        for s in range(n_mod):
            if not mask[b, s]:
                continue
            mu, raw, factor = tokens[b, s, :d], tokens[b, s, d:2 * d], tokens[b, s, 2 * d:]
            u = factor.reshape(d, rank)
            expert = np.diag((min_scale + softplus_np(raw)) ** -2) + u @ u.T / rank
            precision += expert
            eta += expert @ mu
        means[b] = np.linalg.solve(precision, eta)
        precisions[b] = precision
    return means, precisions


@pytest.mark.parametrize("rank", [1, 3])
def test_full_poe_is_the_closed_form_product_with_full_precisions(rank):
    torch.manual_seed(30 + rank)
    d = 3
    agg = make_aggregator("poe_full", d, make_prior(d), rank=rank).double()
    tokens = torch.randn(6, 4, agg.token_size, dtype=DTYPE)
    mask = torch.rand(6, 4) < 0.6
    mask[0], mask[1] = True, False
    q = agg(tokens, mask)
    mean, precision = full_poe_numpy(tokens.numpy(), mask.numpy(), d, rank)
    np.testing.assert_allclose(q.mean.numpy(), mean, rtol=1e-9, atol=1e-12)
    cov = np.linalg.inv(precision)
    np.testing.assert_allclose(q.variance.numpy(), np.diagonal(cov, axis1=1, axis2=2), rtol=1e-9)
    z = torch.randn(5, 6, d, dtype=DTYPE)
    expected = np.stack([stats.multivariate_normal(mean[b], cov[b]).logpdf(z[:, b].numpy())
                         for b in range(6)], axis=1)
    np.testing.assert_allclose(q.log_prob(z).numpy(), expected, rtol=1e-9)
    # the empty row is the prior expert N(0, I)
    np.testing.assert_allclose(q.mean[1].numpy(), np.zeros(d))
    np.testing.assert_allclose(precision[1], np.eye(d))


@pytest.mark.parametrize("rank", [1, 3])
def test_full_poe_sums_have_the_gradients_of_autograd(rank):
    """The hand-written backward pass of the experts' sums: ``gradcheck`` (finite differences)
    and the gradients autograd gives through the plain expressions, also when only one of
    the two outputs is used."""
    from skmmvae.nn.aggregators import _PrecisionAndShift

    torch.manual_seed(36)
    b, m, d = 3, 4, 5
    loc = torch.randn(b, m, d, dtype=DTYPE, requires_grad=True)
    diag = torch.rand(b, m, d, dtype=DTYPE, requires_grad=True)
    u = torch.randn(b, m, d, rank, dtype=DTYPE, requires_grad=True)
    c = 1.0 / rank
    assert torch.autograd.gradcheck(lambda *a: _PrecisionAndShift.apply(*a, c), (loc, diag, u))

    def plain(loc, diag, u):
        precision = torch.diag_embed(1 + diag.sum(1)) + c * torch.einsum("bmir,bmjr->bij", u, u)
        eta = (diag * loc).sum(1) + c * torch.einsum("bmir,bmjr,bmj->bi", u, u, loc)
        return precision, eta

    weights = torch.randn(b, d, d, dtype=DTYPE), torch.randn(b, d, dtype=DTYPE)
    for use in ((1, 1), (1, 0), (0, 1)):
        grads = []
        for f in (lambda *a: _PrecisionAndShift.apply(*a, c), plain):
            precision, eta = f(loc, diag, u)
            loss = sum(w * (out * weight).sum() for w, out, weight in zip(use, (precision, eta), weights))
            grads.append(torch.autograd.grad(loss, (loc, diag, u)))
        for mine, reference in zip(*grads):
            torch.testing.assert_close(mine, reference, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n_draws", [1, 8, 9, 40])
def test_full_poe_log_density_is_the_gaussian_one_for_few_and_many_draws(n_draws):
    """Few draws (training) take an element-wise path, many a batched product: both are the
    multivariate normal density of the closed-form posterior."""
    torch.manual_seed(35)
    d = 4
    agg = make_aggregator("poe_full", d, make_prior(d)).double()
    tokens = torch.randn(3, 2, agg.token_size, dtype=DTYPE)
    mask = torch.tensor([[True, True], [True, False], [False, True]])
    q = agg(tokens, mask)
    mean, precision = full_poe_numpy(tokens.numpy(), mask.numpy(), d, d)
    z = q.rsample(n_draws)
    expected = np.stack([stats.multivariate_normal(mean[b], np.linalg.inv(precision[b])).logpdf(z[:, b].numpy())
                         for b in range(3)], axis=-1).reshape(n_draws, 3)
    np.testing.assert_allclose(q.log_prob(z).numpy(), expected, rtol=1e-9)


def test_full_poe_draws_have_the_posterior_moments():
    torch.manual_seed(33)
    agg = make_aggregator("poe_full", 3, make_prior(3)).double()
    tokens = torch.randn(2, 2, agg.token_size, dtype=DTYPE)
    q = agg(tokens, torch.ones(2, 2, dtype=torch.bool))
    mean, precision = full_poe_numpy(tokens.numpy(), np.ones((2, 2), bool), 3, 3)
    for draws in (q.rsample(200_000), q.sample_common(200_000)):
        for b in range(2):
            sample = draws[:, b].numpy()
            np.testing.assert_allclose(sample.mean(0), mean[b], atol=0.02)
            np.testing.assert_allclose(np.cov(sample.T), np.linalg.inv(precision[b]), atol=0.02)


def test_full_poe_expresses_the_exact_linear_gaussian_posterior_that_diagonal_poe_cannot():
    """Experts set to a linear-Gaussian model's ``Lambda_s = W_s^T Psi_s^-1 W_s`` and
    ``mu_s = Lambda_s^-1 W_s^T Psi_s^-1 (x_s - b_s)`` give its exact posterior for every
    subset (checked against :func:`skmmvae.metrics.linear_gaussian_posterior`)."""
    from skmmvae.metrics import linear_gaussian_posterior

    rng = np.random.default_rng(0)
    d, widths, noise = 2, (3, 4), 0.5
    W = [rng.normal(size=(w, d)) for w in widths]
    b = [rng.normal(size=w) for w in widths]
    X = {f"m{s}": rng.normal(size=(4, w)) for s, w in enumerate(widths)}
    # expert s: diagonal part tiny (min_scale-limited), low-rank part carries Lambda_s
    tokens = np.zeros((4, 2, 2 * d + d * d))
    for s, w in enumerate(widths):
        expert = W[s].T @ W[s] / noise
        floor = (1e-3 + 1e3) ** -2  # the diagonal part of the expert: sigma = 1e-3 + softplus(1e3)
        u = np.linalg.cholesky(expert - floor * np.eye(d))  # Lambda_s - diag = u u^T
        mu = np.linalg.solve(expert, W[s].T @ (X[f"m{s}"] - b[s]).T / noise).T
        tokens[:, s, :d] = mu
        tokens[:, s, d:2 * d] = 1e3
        tokens[:, s, 2 * d:] = (u * np.sqrt(d)).reshape(-1)
    agg = make_aggregator("poe_full", d, make_prior(d)).double()
    for subset in ([0], [1], [0, 1]):
        mask = torch.zeros(4, 2, dtype=torch.bool)
        mask[:, subset] = True
        q = agg(torch.from_numpy(tokens), mask)
        mean, cov = linear_gaussian_posterior(X, W, np.concatenate(b), noise,
                                              modalities=[f"m{s}" for s in subset])
        np.testing.assert_allclose(q.mean.numpy(), mean, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(q.variance.numpy(), np.diagonal(cov, axis1=1, axis2=2), rtol=1e-9)
    # the diagonal product of the same experts' marginal precisions is not exact
    diag_mean = sum(np.diagonal(W[s].T @ W[s] / noise) * tokens[:, s, :d] for s in (0, 1))
    diag_mean = diag_mean / (1 + sum(np.diagonal(W[s].T @ W[s] / noise) for s in (0, 1)))
    assert not np.allclose(diag_mean, mean, atol=1e-2)


def test_full_poe_computes_in_float32_under_bfloat16_autocast():
    """Autocast would run the precision products in bfloat16, whose rounding can make a
    large precision matrix indefinite; the aggregator keeps them in float32."""
    torch.manual_seed(34)
    agg = make_aggregator("poe_full", 3, make_prior(3))
    tokens = 30 * torch.randn(4, 2, agg.token_size)  # large factors: precisions ~1e3
    mask = torch.ones(4, 2, dtype=torch.bool)
    reference = agg(tokens, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        q = agg(tokens, mask)
        low = agg(tokens.bfloat16(), mask)
    assert q.mean.dtype == torch.float32 and q.tril.dtype == torch.float32
    torch.testing.assert_close(q.mean, reference.mean)
    torch.testing.assert_close(q.tril, reference.tril)
    assert low.mean.dtype == torch.float32 and torch.isfinite(low.tril).all()
