"""Specification of the priors ``p(z)``: N(0, I) and the learnable Gaussian mixture."""
import numpy as np
import pytest
import torch
from scipy import stats
from scipy.integrate import trapezoid
from scipy.special import logsumexp

from skmmvae.nn import GaussianMixturePrior, StandardNormalPrior, make_prior

DTYPE = torch.float64
D = 3


def softplus_np(x):
    return np.logaddexp(0.0, x)


def test_make_prior_picks_the_family():
    assert isinstance(make_prior(D), StandardNormalPrior)
    assert isinstance(make_prior(D, 1), StandardNormalPrior)
    mix = make_prior(D, 4)
    assert isinstance(mix, GaussianMixturePrior) and mix.n_components == 4
    with pytest.raises(ValueError):
        GaussianMixturePrior(D, 1)


def test_standard_normal_log_prob_matches_scipy():
    prior = make_prior(D).double()
    torch.manual_seed(0)
    z = 2 * torch.randn(4, 5, D, dtype=DTYPE)
    expected = stats.multivariate_normal(np.zeros(D), np.eye(D)).logpdf(z.numpy())
    out = prior.log_prob(z)
    assert out.shape == (4, 5)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(prior.log_prob(z[0]).numpy(), expected[0], rtol=1e-12)
    assert list(prior.parameters()) == []  # fixed


def set_mixture_parameters(prior, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        prior.loc.copy_(2 * torch.randn(prior.loc.shape, generator=g))
        prior.raw_scale.copy_(torch.randn(prior.raw_scale.shape, generator=g))
        prior.logits.copy_(torch.randn(prior.logits.shape, generator=g))
    loc = prior.loc.detach().numpy()
    scale = prior.min_scale + softplus_np(prior.raw_scale.detach().numpy())
    logits = prior.logits.detach().numpy()
    return loc, scale, logits - logsumexp(logits)


def test_mixture_log_prob_is_the_log_sum_exp_over_components():
    prior = make_prior(D, 3).double()
    loc, scale, log_w = set_mixture_parameters(prior)
    torch.manual_seed(1)
    z = 2 * torch.randn(4, 5, D, dtype=DTYPE)
    comp = np.stack(
        [stats.multivariate_normal(loc[k], np.diag(scale[k] ** 2)).logpdf(z.numpy())
         for k in range(3)], -1)
    expected = logsumexp(log_w + comp, axis=-1)
    out = prior.log_prob(z)
    assert out.shape == (4, 5)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10)
    # the density is normalised: integrate numerically in one dimension
    prior1 = make_prior(1, 2).double()
    grid = torch.linspace(-15, 15, 30001, dtype=DTYPE).reshape(-1, 1)
    total = trapezoid(prior1.log_prob(grid).detach().exp().numpy(), grid[:, 0].numpy())
    assert abs(total - 1) < 1e-6


def test_mixture_prior_is_learnable():
    prior = make_prior(D, 3).double()
    set_mixture_parameters(prior)
    prior.log_prob(torch.randn(6, D, dtype=DTYPE)).sum().backward()
    for p in (prior.loc, prior.raw_scale, prior.logits):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_mixture_prior_initialisation():
    torch.manual_seed(0)
    prior = make_prior(D, 4)
    w = torch.softmax(prior.logits, -1)
    torch.testing.assert_close(w, torch.full((4,), 0.25))
    scale = prior.min_scale + torch.nn.functional.softplus(prior.raw_scale)
    assert torch.allclose(scale, torch.ones_like(scale), atol=2e-3)
    assert torch.cdist(prior.loc, prior.loc)[~torch.eye(4, dtype=torch.bool)].min() > 1e-3


@pytest.mark.parametrize("n_components", [1, 3])
def test_samples_have_the_right_shape_and_law(n_components):
    prior = make_prior(D, n_components).double()
    torch.manual_seed(2)
    if n_components > 1:
        loc, scale, log_w = set_mixture_parameters(prior, seed=3)
        w = np.exp(log_w)
        mean = (w[:, None] * loc).sum(0)
        var = (w[:, None] * (scale**2 + loc**2)).sum(0) - mean**2
    else:
        mean, var = np.zeros(D), np.ones(D)
    n = 20000
    z = prior.sample(n)
    assert z.shape == (n, D)
    assert not z.requires_grad
    z = z.numpy()
    se = np.sqrt(var / n)
    assert np.all(np.abs(z.mean(0) - mean) < 5 * se)
    np.testing.assert_allclose(z.var(0), var, rtol=0.05)
    dist = prior.distribution(7)
    assert dist.mean.shape == (7, D)
