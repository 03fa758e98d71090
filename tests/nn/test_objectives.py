"""Specification of the variational objectives and of the importance-weighted log-likelihood.

The reference is a linear Gaussian model ``z ~ N(0, I)``, ``x_s = W_s z + b_s + sigma eps``, whose
marginal ``log p(x_S) = log N(x_S; b_S, W_S W_S^T + sigma^2 I)`` and posterior ``p(z | x_S)`` are
known in closed form (computed here with numpy / scipy, independently of the package).
"""
import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch.nn import functional as F

from skmmvae.nn.networks import StackedMember
from skmmvae.nn import (
    AGGREGATORS,
    OBJECTIVES,
    DiagGaussian,
    MultiModalModule,
    iw_conditional_log_likelihood,
    iw_log_likelihood,
    make_likelihood,
    objective_terms,
    sample_subsets,
)

DTYPE = torch.float64
D = 2
DIMS = (3, 4, 5)
M = len(DIMS)
SIGMA = 0.8
MIN_SCALE = 1e-3


# ------------------------------------------------------------------ the linear Gaussian model


@pytest.fixture(scope="module")
def truth():
    rng = np.random.default_rng(0)
    W = [0.6 * rng.normal(size=(d, D)) for d in DIMS]
    b = [rng.normal(size=d) for d in DIMS]
    return W, b


def sample_data(truth, n, seed, p_observed=0.7):
    """Data from the model, and a mask with a row with nothing and a row with everything."""
    W, b = truth
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, D))
    xs = [z @ Ws.T + bs + SIGMA * rng.normal(size=(n, len(bs))) for Ws, bs in zip(W, b)]
    mask = rng.random((n, M)) < p_observed
    mask[0] = False
    mask[1] = True
    xs = [np.where(mask[:, [s]], x, 0.0) for s, x in enumerate(xs)]  # missing -> zeros
    return xs, mask


def to_torch(xs, mask):
    return [torch.tensor(x, dtype=DTYPE) for x in xs], torch.tensor(mask)


def replicate(xs, mask, draws):
    """Stack ``draws`` copies of the data so that one call makes ``draws`` independent draws;
    per-draw results are recovered with ``.reshape(draws, n)``."""
    return [np.tile(x, (draws, 1)) for x in xs], np.tile(mask, (draws, 1))


def per_draw_se(values):
    """Standard error of the grand mean of ``values`` (draws, n) from the per-draw means."""
    return values.mean(1).std(ddof=1) / math.sqrt(len(values))


def exact_log_marginal(truth, xs, mask):
    """``log p(x_S)`` per row (0 for the empty set), with S given by ``mask``."""
    W, b = truth
    out = np.zeros(len(mask))
    for pattern in {tuple(m) for m in mask}:
        rows = np.all(mask == np.array(pattern), axis=1)
        obs = [s for s in range(M) if pattern[s]]
        if not obs:
            continue
        Wo = np.vstack([W[s] for s in obs])
        bo = np.concatenate([b[s] for s in obs])
        xo = np.hstack([xs[s][rows] for s in obs])
        cov = Wo @ Wo.T + SIGMA**2 * np.eye(len(bo))
        out[rows] = stats.multivariate_normal(bo, cov).logpdf(xo)
    return out


def exact_posterior(truth, xs, mask):
    """Mean (N, D) and covariance (N, D, D) of ``p(z | x_S)``."""
    W, b = truth
    n = len(mask)
    precision = np.tile(np.eye(D), (n, 1, 1))
    h = np.zeros((n, D))
    for s in range(M):
        m = mask[:, s].astype(float)
        precision += m[:, None, None] * (W[s].T @ W[s]) / SIGMA**2
        h += m[:, None] * ((xs[s] - b[s]) @ W[s]) / SIGMA**2
    cov = np.linalg.inv(precision)
    return np.einsum("nij,nj->ni", cov, h), cov


def expected_bound(truth, xs, scored, loc, cov):
    """``E_q[log p(x_scored | z)] - KL(q || N(0, I))`` for Gaussian ``q = N(loc, cov)``."""
    W, b = truth
    out = np.zeros(len(loc))
    for s in range(M):
        resid = xs[s] - loc @ W[s].T - b[s]
        d = len(b[s])
        trace = np.einsum("ij,njk,ik->n", W[s], cov, W[s])
        ll = (-0.5 * (resid**2).sum(-1) / SIGMA**2 - 0.5 * trace / SIGMA**2
              - 0.5 * d * np.log(2 * np.pi * SIGMA**2))
        out += np.where(scored[:, s], ll, 0.0)
    kl = 0.5 * (np.trace(cov, axis1=1, axis2=2) + (loc**2).sum(-1) - D
                - np.linalg.slogdet(cov)[1])
    return out - kl


def gaussian_likelihoods():
    return {f"m{s}": make_likelihood("gaussian", d, scale=SIGMA) for s, d in enumerate(DIMS)}


def set_true_decoders(model, truth):
    W, b = truth
    with torch.no_grad():
        for s, (Ws, bs) in enumerate(zip(W, b)):
            (linear,) = [m for m in model.decoders[s].modules() if isinstance(m, torch.nn.Linear)]
            linear.weight.copy_(torch.tensor(Ws))
            linear.bias.copy_(torch.tensor(bs))


KAPPA = 1.3  # the PoE proposal's experts are this much wider than the diagonal likelihood terms


def poe_expert_parameters(truth):
    """Diagonalised likelihood experts: precision diag(W^T W)/sigma^2, inflated by KAPPA."""
    W, _ = truth
    lam = [(Ws**2).sum(0) / SIGMA**2 for Ws in W]
    return lam, [KAPPA / np.sqrt(lam_s) for lam_s in lam]


def linear_poe_model(truth):
    """A real ``MultiModalModule``: linear encoders, PoE, linear decoders at the true W, b.

    Each encoder outputs a fixed expert: mean ``(W_s^T (x_s - b_s) / sigma^2) / lam_s``, std
    ``KAPPA / sqrt(lam_s)``, so ``q(z|x_S)`` is a sensible but inexact posterior.
    """
    W, b = truth
    model = MultiModalModule(gaussian_likelihoods(), D, aggregation="poe", hidden_sizes=(),
                             decoder_hidden_sizes=(), min_scale=MIN_SCALE).double()
    set_true_decoders(model, truth)
    lam, std = poe_expert_parameters(truth)
    with torch.no_grad():
        for s in range(M):
            (enc,) = [m for m in model.encoders[s].modules() if isinstance(m, torch.nn.Linear)]
            gain = (W[s].T / SIGMA**2) / lam[s][:, None]
            enc.weight.zero_()
            enc.weight[:D] = torch.tensor(gain)
            enc.bias[:D] = torch.tensor(-gain @ b[s])
            enc.bias[D:] = torch.tensor(np.log(np.expm1(std[s] - MIN_SCALE)))
    return model


def poe_posterior_numpy(truth, xs, mask):
    """The PoE ``q(z|x_S)`` of ``linear_poe_model``, computed independently."""
    _, b = truth
    lam, std = poe_expert_parameters(truth)
    W = truth[0]
    precision = np.ones((len(mask), D))
    wmean = np.zeros((len(mask), D))
    for s in range(M):
        mu = ((xs[s] - b[s]) @ W[s] / SIGMA**2) / lam[s]
        m = mask[:, [s]]
        precision += np.where(m, 1 / std[s] ** 2, 0.0)
        wmean += np.where(m, mu / std[s] ** 2, 0.0)
    var = 1 / precision
    return wmean * var, np.stack([np.diag(v) for v in var])


def test_linear_model_setup_decodes_with_the_true_parameters(truth):
    model = linear_poe_model(truth)
    z = torch.randn(6, D, dtype=DTYPE)
    for s, mean in enumerate(model.decode_means(z)):
        np.testing.assert_allclose(mean.detach().numpy(), z.numpy() @ truth[0][s].T + truth[1][s],
                                   rtol=1e-12)
    xs, mask = sample_data(truth, 10, seed=1)
    loc, cov = poe_posterior_numpy(truth, xs, mask)
    q = model.encode(*to_torch(xs, mask))
    np.testing.assert_allclose(q.loc.detach().numpy(), loc, atol=1e-10)
    np.testing.assert_allclose(q.variance.detach().numpy(), np.diagonal(cov, 0, 1, 2), rtol=1e-9)


def test_iw_log_likelihood_converges_to_the_exact_log_marginal(truth):
    torch.manual_seed(0)
    model = linear_poe_model(truth)
    xs, mask = sample_data(truth, 30, seed=2)
    exact = exact_log_marginal(truth, xs, mask)
    X, mask_t = to_torch(xs, mask)
    with torch.no_grad():
        k1 = iw_log_likelihood(model, *to_torch(*replicate(xs, mask, 30)), 1)
        k1 = k1.numpy().reshape(30, -1)
        k1000 = torch.stack([iw_log_likelihood(model, X, mask_t, 1000) for _ in range(3)]).numpy()
    # The empty row: q(z|x_0) = N(0, I) = p(z), so every weight is exactly p(x_0) = 1.
    np.testing.assert_allclose(k1[:, 0], 0.0, atol=1e-12)
    err1, err1000 = np.abs(k1 - exact).mean(), np.abs(k1000 - exact).mean()
    assert err1000 < 0.1 * err1
    # In expectation a lower bound that tightens with K: K=1 is well below, K=1000 close.
    gap1 = exact.mean() - k1.mean()
    gap1000 = exact.mean() - k1000.mean()
    se1000 = k1000.mean(1).std(ddof=1) / math.sqrt(len(k1000))
    se1 = k1.mean(1).std(ddof=1) / math.sqrt(len(k1))
    assert gap1 > 0.1 and gap1 > 4 * se1
    assert -3 * se1000 < gap1000 < 0.05


def test_elbo_and_mixture_bound_are_below_the_exact_log_likelihood(truth):
    torch.manual_seed(1)
    model = linear_poe_model(truth)
    xs, mask = sample_data(truth, 40, seed=3)
    exact = exact_log_marginal(truth, xs, mask)
    draws = 60
    xs_r, mask_r = replicate(xs, mask, draws)
    X, mask_t = to_torch(xs_r, mask_r)
    # beta = 1 ELBO: its average matches the closed-form ELBO of the PoE q and lies below log p.
    with torch.no_grad():
        elbo = objective_terms(model, X, mask_t, "elbo")["objective"].numpy().reshape(draws, -1)
    loc, cov = poe_posterior_numpy(truth, xs, mask)
    elbo_expected = expected_bound(truth, xs, mask, loc, cov)
    se = per_draw_se(elbo)
    assert abs(elbo.mean() - elbo_expected.mean()) < 4 * se
    assert exact.mean() - elbo.mean() > 5 * se
    # Mixture bound for random S (drawn here, passed explicitly): same check with q(z|x_S).
    gen = torch.Generator().manual_seed(7)
    subset = (torch.rand(mask_t.shape, generator=gen) < 0.5) & mask_t
    with torch.no_grad():
        values = objective_terms(model, X, mask_t, "mixture", subset=subset)["objective"]
    values = values.numpy().reshape(draws, -1)
    loc, cov = poe_posterior_numpy(truth, xs_r, subset.numpy())
    expected = expected_bound(truth, xs_r, mask_r, loc, cov).reshape(draws, -1)
    assert abs((values - expected).mean()) < 4 * per_draw_se(values - expected)
    assert exact.mean() - values.mean() > 5 * per_draw_se(values)
    assert np.all(expected <= exact + 1e-9)  # each S gives a true ELBO of log p(x_obs)


# ------------------------------------------------------------- the exact posterior plugged in


class FullGaussian:
    """A full-covariance Gaussian with the interface the objectives use."""

    def __init__(self, loc, cov):
        self.loc, self.cov = loc, cov
        self.dist = torch.distributions.MultivariateNormal(loc, covariance_matrix=cov)

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        return torch.diagonal(self.cov, dim1=-2, dim2=-1)

    def rsample(self, n=1):
        return self.dist.rsample((n,))

    def sample(self, n=1):
        with torch.no_grad():
            return self.rsample(n)

    def log_prob(self, z):
        return self.dist.log_prob(z)

    def sample_weighted(self, n=1):
        z = self.rsample(n)
        return z, torch.full(z.shape[:-1], 1.0 / n, dtype=z.dtype)

    def detach(self):
        return FullGaussian(self.loc.detach(), self.cov.detach())


class ExactPosteriorModule(MultiModalModule):
    """Linear Gaussian model whose encoder returns the exact posterior ``p(z | x_S)``.

    The tokens are the raw modalities padded to a common width; the posterior is computed in
    torch from the true W, b and sigma.
    """

    def __init__(self, truth):
        super().__init__(gaussian_likelihoods(), D, aggregation="poe", hidden_sizes=(),
                         decoder_hidden_sizes=())
        self.double()
        set_true_decoders(self, truth)
        self.W = [torch.tensor(Ws) for Ws in truth[0]]
        self.b = [torch.tensor(bs) for bs in truth[1]]
        self.width = max(DIMS)

    def tokens(self, xs, mask):
        padded = torch.stack([F.pad(x, (0, self.width - x.shape[1])) for x in xs], 1)
        return torch.where(mask.unsqueeze(-1), padded, torch.zeros((), dtype=padded.dtype))

    def posterior(self, tokens, mask):
        batch = tokens.shape[0]
        precision = torch.eye(D, dtype=DTYPE).expand(batch, D, D).clone()
        h = torch.zeros(batch, D, dtype=DTYPE)
        for s, (Ws, bs) in enumerate(zip(self.W, self.b)):
            m = mask[:, s].to(DTYPE)
            x = tokens[:, s, : len(bs)]
            precision = precision + m[:, None, None] * (Ws.T @ Ws) / SIGMA**2
            h = h + m[:, None] * ((x - bs) @ Ws) / SIGMA**2
        cov = torch.linalg.inv(precision)
        return FullGaussian((cov @ h.unsqueeze(-1)).squeeze(-1), cov)


def test_exact_posterior_module_is_the_closed_form_posterior(truth):
    model = ExactPosteriorModule(truth)
    xs, mask = sample_data(truth, 12, seed=4)
    q = model.encode(*to_torch(xs, mask))
    loc, cov = exact_posterior(truth, xs, mask)
    np.testing.assert_allclose(q.loc.numpy(), loc, atol=1e-12)
    np.testing.assert_allclose(q.cov.numpy(), cov, atol=1e-12)


def test_with_the_exact_posterior_elbo_iw_and_tight_objective_are_exact_per_sample(truth):
    """With q = p(z|x_S) every single-sample estimate equals log p(x_obs) exactly:

    L_S + L_\\S = [log p(x_S)] + [log p(x_\\S | x_S)] for every draw and every S (zero variance).
    """
    torch.manual_seed(2)
    model = ExactPosteriorModule(truth)
    xs, mask = sample_data(truth, 24, seed=5)
    exact = exact_log_marginal(truth, xs, mask)
    X, mask_t = to_torch(xs, mask)
    for k in (1, 5):
        with torch.no_grad():
            estimate = iw_log_likelihood(model, X, mask_t, k)
        np.testing.assert_allclose(estimate.numpy(), exact, atol=1e-8)
    elbo = objective_terms(model, X, mask_t, "elbo")["objective"]
    np.testing.assert_allclose(elbo.detach().numpy(), exact, atol=1e-8)
    for _ in range(3):
        subset = sample_subsets(mask_t)
        terms = objective_terms(model, X, mask_t, "tight", subset=subset)
        np.testing.assert_allclose(terms["objective"].detach().numpy(), exact, atol=1e-8)
        # and the first part is exactly log p(x_S), the rest log p(x_\S | x_S)
        marginal = exact_log_marginal(truth, xs, subset.numpy())
        first = terms["reconstruction"] - terms["kl"]
        np.testing.assert_allclose(first.detach().numpy(), marginal, atol=1e-8)


def test_with_the_exact_posterior_tight_objective_matches_and_mixture_stays_below(truth):
    torch.manual_seed(3)
    model = ExactPosteriorModule(truth)
    xs, mask = sample_data(truth, 40, seed=6)
    exact = exact_log_marginal(truth, xs, mask)
    draws = 60
    xs_r, mask_r = replicate(xs, mask, draws)
    X, mask_t = to_torch(xs_r, mask_r)
    with torch.no_grad():
        tight = objective_terms(model, X, mask_t, "tight")["objective"]  # random S
    tight = tight.numpy().reshape(draws, -1)
    # (its variance is zero up to rounding: see the per-sample test above)
    assert abs(tight.mean() - exact.mean()) <= 3 * per_draw_se(tight) + 1e-7
    subset = sample_subsets(mask_t, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        mix = objective_terms(model, X, mask_t, "mixture", subset=subset)["objective"]
    mix = mix.numpy().reshape(draws, -1)
    loc, cov = exact_posterior(truth, xs_r, subset.numpy())
    expected = expected_bound(truth, xs_r, mask_r, loc, cov).reshape(draws, -1)
    se_mix = per_draw_se(mix)
    assert exact.mean() - mix.mean() > 5 * se_mix  # strictly below: x_\S is informative
    assert abs((mix - expected).mean()) < 4 * se_mix  # and it is the closed-form value


# ------------------------------------------------------------------ gradients, STL, cross term


class RecordingModule(MultiModalModule):
    """Records every posterior it returns and the samples drawn from it."""

    def posterior(self, tokens, mask):
        q = super().posterior(tokens, mask)
        draw = q.sample_weighted

        def recorded(n=1):
            z, w = draw(n)
            self.samples.append(z)
            return z, w

        q.sample_weighted = recorded
        self.record.append(q)
        return q


def test_tight_cross_term_trains_the_subset_encoder_with_sticking_the_landing():
    """Gradients of the KL terms w.r.t. the parameters of q(z|x_S) and q(z|x) (PoE, N(0,I)).

    * ``cross_kl = log q̄(z_M|x) - log q(z_M|x_S)``: the subset posterior gets the full score
      ``-d/dloc_S log q(z_M|x_S)``; q(z|x) only gets the path derivative (STL).
    * ``kl = log q̄(z_S|x_S) - log p(z_S)``: path derivative only.
    """
    torch.manual_seed(4)
    liks = {f"m{s}": make_likelihood("gaussian", d) for s, d in enumerate(DIMS)}
    model = RecordingModule(liks, D, aggregation="poe", hidden_sizes=(8,)).double()
    model.record, model.samples = [], []
    xs = [torch.randn(6, d, dtype=DTYPE) for d in DIMS]
    mask = torch.ones(6, M, dtype=torch.bool)
    mask[5, 2] = False
    subset = torch.tensor([[1, 0, 0], [0, 1, 1], [0, 0, 0], [1, 1, 0], [0, 0, 1], [1, 1, 0]],
                          dtype=torch.bool)  # the last row: S = everything observed
    has_cross = (mask & ~subset).any(-1, keepdim=True)
    terms = objective_terms(model, xs, mask, "tight", subset=subset)
    q_s, q_m = model.record
    z_s, z_m = model.samples
    assert isinstance(q_s, DiagGaussian) and isinstance(q_m, DiagGaussian)
    z_s, z_m = z_s[0].detach(), z_m[0].detach()
    loc_s, sd_s = q_s.loc.detach(), q_s.scale.detach()
    loc_m, sd_m = q_m.loc.detach(), q_m.scale.detach()

    g_loc_s, g_loc_m = torch.autograd.grad(terms["cross_kl"].sum(), [q_s.loc, q_m.loc],
                                           retain_graph=True)
    expected_s = -(z_m - loc_s) / sd_s**2 * has_cross  # d/dloc_S of -log N(z_M; loc_S, sd_S)
    torch.testing.assert_close(g_loc_s, expected_s)
    assert g_loc_s.abs().sum() > 0
    # d/dz [log N(z; loc_M (stopped), sd_M) - log N(z; loc_S, sd_S)] at z = z_M (path only)
    expected_m = (-(z_m - loc_m) / sd_m**2 + (z_m - loc_s) / sd_s**2) * has_cross
    torch.testing.assert_close(g_loc_m, expected_m)

    (g_kl,) = torch.autograd.grad(terms["kl"].sum(), [q_s.loc])
    torch.testing.assert_close(g_kl, -(z_s - loc_s) / sd_s**2 + z_s)  # N(0, I) prior

    # rows whose S is the whole observed set have no cross term at all
    full = (subset == mask).all(-1)
    assert full.any()
    assert torch.all(terms["cross_kl"][full] == 0)
    assert torch.all(terms["cross_reconstruction"][full] == 0)


def test_tight_objective_changes_when_only_q_of_the_subset_changes():
    """Moving q(z|x_S) alone (same random draws) leaves every term computed from q(z|x) as it
    was, but changes the cross KL through log q(z_M | x_S)."""
    torch.manual_seed(5)
    liks = {f"m{s}": make_likelihood("gaussian", d) for s, d in enumerate(DIMS)}
    model = MultiModalModule(liks, D, aggregation="sumpooling", hidden_sizes=(8,),
                             embedding_size=8).double()
    xs = [torch.randn(6, d, dtype=DTYPE) for d in DIMS]
    mask = torch.ones(6, M, dtype=torch.bool)
    subset = torch.zeros(6, M, dtype=torch.bool)
    subset[:, 0] = True

    def run():
        torch.manual_seed(0)
        return objective_terms(model, xs, mask, "tight", subset=subset)

    base = run()
    original = model.aggregator.forward

    def shifted(tokens, mask_):
        q = original(tokens, mask_)
        if torch.equal(mask_, subset):
            return DiagGaussian(q.loc + 0.3, q.scale)
        return q

    model.aggregator.forward = shifted
    changed = run()
    model.aggregator.forward = original
    # z_M and everything computed from q(z|x) are unchanged ...
    torch.testing.assert_close(changed["cross_reconstruction"], base["cross_reconstruction"])
    # ... but the cross KL moved, because log q(z_M | x_S) is part of it
    assert (changed["cross_kl"] - base["cross_kl"]).abs().min() > 1e-6


# ------------------------------------------------------------ every configuration runs


LIKELIHOOD_SPECS = {
    "gauss": ("gaussian", 3, {}),
    "lapl": ("laplace", 2, {"scale": 0.5}),
    "bern": ("bernoulli", 4, {}),
    "cat": ("categorical", 1, {"n_classes": 3}),
    "pois": ("poisson", 2, {}),
}


def mixed_batch(batch=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    xs = [
        torch.randn(batch, 3, generator=g),
        torch.randn(batch, 2, generator=g),
        (torch.rand(batch, 4, generator=g) < 0.5).float(),
        torch.randint(0, 3, (batch, 1), generator=g).float(),
        torch.poisson(torch.full((batch, 2), 3.0), generator=g),
    ]
    mask = torch.rand(batch, len(xs), generator=g) < 0.5
    mask[0] = False  # nothing observed
    mask[1] = True  # everything observed
    xs = [torch.where(mask[:, [s]], x, torch.zeros_like(x)) for s, x in enumerate(xs)]
    return xs, mask


def small_model(aggregation, n_prior_components=1, n_private=0, **kw):
    liks = {k: make_likelihood(n, f, **o) for k, (n, f, o) in LIKELIHOOD_SPECS.items()}
    return MultiModalModule(liks, 2, aggregation=aggregation,
                            n_prior_components=n_prior_components, n_private=n_private,
                            hidden_sizes=(8,), embedding_size=8, n_mixture_components=2, **kw)


@pytest.mark.parametrize("n_prior_components", [1, 3])
@pytest.mark.parametrize("n_private", [0, 2])
@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("aggregation", sorted(AGGREGATORS) + ["mopoe_sampled"])
def test_every_configuration_runs_forward_and_backward(aggregation, objective, n_private,
                                                       n_prior_components):
    torch.manual_seed(6)
    options = {}
    if aggregation == "mopoe_sampled":  # 2^5 - 1 subsets > n_subsets: the sampling branch
        aggregation, options = "mopoe", {"aggregator_options": {"n_subsets": 4}}
    if AGGREGATORS[aggregation][0].standard_normal_expert and n_prior_components > 1:
        pytest.skip("a N(0, I) prior expert with a mixture prior is an error (tested below)")
    model = small_model(aggregation, n_prior_components, n_private, **options)
    xs, mask = mixed_batch()
    terms = objective_terms(model, xs, mask, objective, beta=1.0)
    expected_keys = {"objective", "reconstruction", "kl"}
    if objective == "tight":
        expected_keys |= {"cross_reconstruction", "cross_kl"}
    assert set(terms) == expected_keys
    for name, value in terms.items():
        assert value.shape == (len(mask),), name
        assert torch.isfinite(value).all(), name
    (-terms["objective"].mean()).backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    for name, grad in grads.items():
        assert grad is None or torch.isfinite(grad).all(), name
    assert any(g is not None and g.abs().sum() > 0 for n, g in grads.items()
               if n.startswith("decoders"))
    with torch.no_grad():
        ll = iw_log_likelihood(model, xs, mask, n_samples=3)
    assert ll.shape == (len(mask),) and torch.isfinite(ll).all()


@pytest.mark.parametrize("objective", ["elbo", "tight"])
@pytest.mark.parametrize("aggregation", sorted(AGGREGATORS))
def test_gradients_reach_the_encoders_of_observed_modalities_only(aggregation, objective):
    torch.manual_seed(7)
    model = small_model(aggregation)
    xs, mask = mixed_batch(batch=64, seed=1)
    mask[:, 3] = False  # the categorical modality is missing everywhere
    xs[3] = torch.zeros_like(xs[3])
    (-objective_terms(model, xs, mask, objective)["objective"].mean()).backward()
    assert model.encoder_stacks and model.decoder_stacks  # some networks are stacked here
    for s, encoder in enumerate(model.encoders):
        total = _network_grad(encoder)
        if s == 3:
            assert total == 0
        else:
            assert total > 0, s
    assert _network_grad(model.decoders[3]) == 0  # a modality that is never observed is never scored


def _network_grad(net):
    """The summed absolute gradient of one modality's network: its own parameters, or its
    slices of the stack it is part of."""
    if isinstance(net, StackedMember):
        return sum(p.grad[net.index].abs().sum() for p in net.stack.parameters() if p.grad is not None)
    return sum(p.grad.abs().sum() for p in net.parameters() if p.grad is not None)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_missing_data_content_is_ignored(objective):
    torch.manual_seed(8)
    model = small_model("selfattention", n_private=2)
    xs, mask = mixed_batch(seed=2)
    filler = [torch.where(mask[:, [s]], x, torch.full_like(x, 1.0)) for s, x in enumerate(xs)]
    torch.manual_seed(0)
    a = objective_terms(model, xs, mask, objective)["objective"]
    torch.manual_seed(0)
    b = objective_terms(model, filler, mask, objective)["objective"]
    torch.testing.assert_close(a, b)


def test_objective_composition_and_beta():
    torch.manual_seed(9)
    model = small_model("poe")
    xs, mask = mixed_batch(seed=3)
    for objective in OBJECTIVES:
        terms = objective_terms(model, xs, mask, objective, beta=0.3)
        expected = terms["reconstruction"] - 0.3 * terms["kl"]
        if objective == "tight":
            expected = expected + terms["cross_reconstruction"] - 0.3 * terms["cross_kl"]
        torch.testing.assert_close(terms["objective"], expected)
    with pytest.raises(ValueError):
        objective_terms(model, xs, mask, "iwae")


def test_kl_term_estimates_the_closed_form_kl():
    """For a Gaussian q and N(0, I) prior, E[kl] = KL(q || p) (single-sample MC, unbiased)."""
    torch.manual_seed(10)
    model = small_model("poe").double()
    xs, mask = mixed_batch(seed=4)
    draws = 2000
    xs = [x.double().repeat(draws, 1) for x in xs]
    mask = mask.repeat(draws, 1)
    with torch.no_grad():
        q = model.encode(xs, mask)
        kl = objective_terms(model, xs, mask, "elbo")["kl"].reshape(draws, -1)
    loc, var = q.loc[: kl.shape[1]].numpy(), q.variance[: kl.shape[1]].numpy()
    closed = 0.5 * (var + loc**2 - 1 - np.log(var)).sum(-1)
    se = kl.numpy().std(0, ddof=1) / math.sqrt(len(kl))
    assert np.all(np.abs(kl.numpy().mean(0) - closed) < 5 * se + 1e-12)
    assert np.all(np.abs(kl.numpy()[:, 0]) < 1e-12)  # empty row: q = p exactly


# ------------------------------------------------------------------------ subset sampling


def test_sample_subsets_is_independent_fair_coins_on_observed_modalities():
    gen = torch.Generator().manual_seed(11)
    n = 40000
    mask = torch.rand(n, 4, generator=gen) < 0.7
    mask[: n // 4] = True
    subset = sample_subsets(mask, generator=gen)
    assert subset.dtype == torch.bool and subset.shape == mask.shape
    assert not (subset & ~mask).any()  # never a missing modality
    # each observed modality is drawn with probability 1/2
    for s in range(4):
        k, trials = subset[:, s][mask[:, s]].sum().item(), mask[:, s].sum().item()
        assert stats.binomtest(k, trials, 0.5).pvalue > 1e-4
    # jointly uniform over the 16 subsets on fully observed rows (independence)
    full = subset[mask.all(-1)].numpy()
    codes = (full * (2 ** np.arange(4))).sum(-1)
    assert stats.chisquare(np.bincount(codes, minlength=16)).pvalue > 1e-4
    # a generator makes it reproducible
    again = sample_subsets(mask, generator=torch.Generator().manual_seed(3))
    assert torch.equal(again, sample_subsets(mask, generator=torch.Generator().manual_seed(3)))


@pytest.mark.parametrize("objective, sampler", [("mixture", "uniform_nonempty_subsets"),
                                                ("tight", "sample_subsets")])
def test_objectives_draw_their_subsets_with_their_sampler(objective, sampler, monkeypatch):
    """Without ``subset``, tight conditions on ``sample_subsets(mask)`` (every subset, the empty
    one included, as the paper), mixture on one uniform non-empty subset per row; elbo on mask."""
    import skmmvae.nn.objectives as objectives_module

    calls = []

    def fake(mask, *args, **kwargs):
        calls.append(mask)
        zeros = torch.zeros_like(mask)
        return zeros[:, None] if sampler == "uniform_nonempty_subsets" else zeros

    monkeypatch.setattr(objectives_module, sampler, fake)
    model = small_model("poe")
    xs, mask = mixed_batch(seed=5)
    torch.manual_seed(0)
    out = objective_terms(model, xs, mask, objective)
    assert len(calls) == 1 and torch.equal(calls[0], mask)
    torch.manual_seed(0)
    ref = objective_terms(model, xs, mask, objective, subset=torch.zeros_like(mask))
    torch.testing.assert_close(out["objective"], ref["objective"])
    objective_terms(model, xs, mask, "elbo")
    assert len(calls) == 1


@pytest.mark.parametrize("aggregation", ["sumpooling", "selfattention_mixture", "moe"])
def test_iw_log_likelihood_of_a_row_with_nothing_observed_is_exactly_zero(aggregation):
    # p(x_empty) = 1 whatever q(z | x_empty) is (a learnt constant for the set networks, so the
    # raw importance-sampling estimate would be noisy around 0).
    torch.manual_seed(3)
    from skmmvae.nn import MultiModalModule, iw_log_likelihood, make_likelihood

    liks = {"a": make_likelihood("gaussian", 3), "b": make_likelihood("gaussian", 2)}
    model = MultiModalModule(liks, 2, aggregation=aggregation, hidden_sizes=(8,), embedding_size=8,
                             n_prior_components=3 if aggregation == "moe" else 1)
    xs = [torch.randn(3, 3), torch.randn(3, 2)]
    mask = torch.tensor([[False, False], [True, False], [True, True]])
    with torch.no_grad():
        ll = iw_log_likelihood(model, xs, mask, n_samples=16)
    assert ll[0].item() == 0.0
    assert torch.isfinite(ll).all() and (ll[1:] != 0).all()


def _exact_conditional(truth, xs, mask, given):
    """log p(x_T | x_S) = log p(x_S, x_T) - log p(x_S), from the exact Gaussian marginals."""
    return exact_log_marginal(truth, xs, mask) - exact_log_marginal(truth, xs, mask & given)


@pytest.mark.parametrize("module", ["exact posterior", "linear poe"])
def test_iw_conditional_log_likelihood_converges_to_the_exact_conditional(truth, module):
    torch.manual_seed(3)
    model = ExactPosteriorModule(truth) if module == "exact posterior" else linear_poe_model(truth)
    xs, mask = sample_data(truth, 40, seed=6, p_observed=0.9)
    given = np.array([True, False, False])
    exact = _exact_conditional(truth, xs, mask, given)
    X, mask_t = to_torch(xs, mask)
    given_t = torch.as_tensor(given)
    with torch.no_grad():
        k1 = torch.stack([iw_conditional_log_likelihood(model, X, mask_t, given_t, 1)
                          for _ in range(20)]).numpy()
        k4000 = iw_conditional_log_likelihood(model, X, mask_t, given_t, 4000).numpy()
    targets = (mask & ~given).any(1)
    assert targets.sum() > 20 and (~targets).any()
    # no observed target: log 1 = 0 exactly
    np.testing.assert_array_equal(k4000[~targets], 0.0)
    np.testing.assert_array_equal(k1[:, ~targets], 0.0)
    err1 = np.abs(k1 - exact).mean()
    err4000 = np.abs(k4000 - exact)[targets].mean()
    assert err4000 < 0.1 * err1
    assert err4000 < 0.05
    # a single draw is a lower bound in expectation (Jensen), clearly below here
    assert k1.mean(0)[targets].mean() < exact[targets].mean() - 0.1


def test_iw_conditional_log_likelihood_given_everything_is_zero_and_given_nothing_is_the_marginal(truth):
    torch.manual_seed(4)
    model = ExactPosteriorModule(truth)
    xs, mask = sample_data(truth, 10, seed=7)
    X, mask_t = to_torch(xs, mask)
    with torch.no_grad():
        everything = iw_conditional_log_likelihood(model, X, mask_t, torch.ones(M, dtype=torch.bool), 3)
        nothing = iw_conditional_log_likelihood(model, X, mask_t, torch.zeros(M, dtype=torch.bool), 20000)
    np.testing.assert_array_equal(everything.numpy(), 0.0)
    # q(z | x_empty) = p(z): plain Monte Carlo of p(x_obs) = E_p(z) p(x_obs | z)
    np.testing.assert_allclose(nothing.numpy(), exact_log_marginal(truth, xs, mask), atol=0.15)


@pytest.mark.parametrize("aggregation", ["poe", "poe_full", "mopoe"])
def test_product_of_experts_with_a_mixture_prior_is_an_error(aggregation):
    # Their prior expert is N(0, I): q(z | x_empty) can never equal a mixture prior.
    with pytest.raises(ValueError, match="cannot agree with a mixture prior"):
        small_model(aggregation, n_prior_components=3)
    small_model(aggregation, n_prior_components=1)  # the standard normal prior is fine


def test_the_mixture_objective_conditions_on_uniform_non_empty_subsets(monkeypatch):
    import skmmvae.nn.objectives as objectives_module

    seen = []
    real = objectives_module._branch
    monkeypatch.setattr(objectives_module, "_branch",
                        lambda model, xs, tokens, enc, score: seen.append(enc) or real(model, xs, tokens, enc, score))
    model = small_model("poe")
    mask = torch.tensor([[True, True, False, False, False]] * 3000)  # two observed modalities
    xs = [torch.zeros(3000, model.likelihoods[n].n_features) for n in model.names]
    torch.manual_seed(0)
    objective_terms(model, xs, mask, "mixture")
    subset = seen[0]
    assert not (subset & ~mask).any() and subset.any(-1).all()  # within the observed, never empty
    counts = torch.stack([subset[:, :2].all(-1), subset[:, 0] & ~subset[:, 1],
                          ~subset[:, 0] & subset[:, 1]]).sum(-1).float() / 3000
    torch.testing.assert_close(counts, torch.full((3,), 1 / 3), atol=0.03, rtol=0)


@pytest.mark.parametrize("aggregation", sorted(AGGREGATORS))
def test_tight_bound_decodes_both_branches_at_once_with_the_same_result(aggregation):
    """Without private latents the tight bound decodes its two branches' draws in one call
    per modality; the terms and their gradients equal those of the two branches decoded one
    after the other (``_branch`` twice, as models with private latents still do), with the
    same random draws."""
    from skmmvae.nn import TightBound
    from skmmvae.nn.objectives import _branch, _subset_terms

    model = small_model(aggregation)
    xs, mask = mixed_batch()
    subset = TightBound().conditioning_sets(mask)
    beta = 0.7

    def sequential():
        tokens = model.tokens(xs, mask)
        terms, q_s = _subset_terms(model, _branch(model, xs, tokens, subset, subset))
        cross = mask & ~subset
        q_m, z_m, w_m, cross_recon, cross_private = _branch(model, xs, tokens, mask, cross)
        cross_kl = q_m.detach().log_prob(z_m) - q_s.log_prob(z_m)
        cross_kl = torch.where(cross.any(-1), cross_kl, torch.zeros(()))
        cross_recon = (w_m * cross_recon).sum(0)
        cross_kl = (w_m * cross_kl).sum(0)
        return {**terms, "cross_reconstruction": cross_recon, "cross_kl": cross_kl,
                "objective": terms["reconstruction"] - beta * terms["kl"] + cross_recon - beta * cross_kl}

    results = []
    for compute in (sequential, lambda: TightBound()(model, xs, mask, beta=beta, subset=subset)):
        model.zero_grad()
        torch.manual_seed(11)
        terms = compute()
        (-terms["objective"].mean()).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results.append(({k: v.detach() for k, v in terms.items()}, grads))
    (ref, ref_grads), (fused, fused_grads) = results
    assert set(ref) == set(fused)
    for name in ref:
        torch.testing.assert_close(fused[name], ref[name], rtol=1e-5, atol=1e-5, msg=name)
    assert set(ref_grads) == set(fused_grads)
    for name in ref_grads:
        torch.testing.assert_close(fused_grads[name], ref_grads[name], rtol=1e-4, atol=1e-5, msg=name)
