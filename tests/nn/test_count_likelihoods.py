"""The count likelihoods "negative_binomial" and "zinb": log-densities against scipy and an
independent ZINB formula, the library size (training offset, missing cells, imputation),
the start at the data's marginal, sampling and the checks of their data and options."""
import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import expit, gammaln, log_softmax, logsumexp

from skmmvae.nn import make_likelihood

DTYPE = torch.float64
B, F = 6, 5


def softplus_np(x):
    return np.logaddexp(0.0, x)


def zinb_logpmf(x, mu, theta, pi):
    """ZINB log-pmf written out (not with the class's helpers): a 0 with probability pi,
    else a negative binomial of mean mu and inverse dispersion theta."""
    nb = (gammaln(x + theta) - gammaln(theta) - gammaln(x + 1)
          + theta * np.log(theta / (theta + mu)) + x * np.log(mu / (theta + mu)))
    return np.where(x == 0, np.log(pi + (1 - pi) * np.exp(nb)), np.log1p(-pi) + nb)


def _setup(name, library_size, seed=0):
    torch.manual_seed(seed)
    lik = make_likelihood(name, F, library_size=library_size).double()
    raw = torch.tensor([-1.0, 0.0, 0.5, 2.0, 4.0], dtype=DTYPE)
    with torch.no_grad():
        lik.raw_dispersion.copy_(raw)
        lik.output_shift.copy_(torch.randn(lik.n_params, dtype=DTYPE))
    params = torch.randn(3, B, lik.n_params, dtype=DTYPE)  # (C, B, n_params)
    x = torch.poisson(torch.full((B, F), 4.0, dtype=DTYPE)) * (torch.rand(B, F, dtype=DTYPE) > 0.3)
    theta = softplus_np(raw.numpy()) + 1e-6
    return lik, params, x, theta


def _mu(lik, params, x):
    """The NB means of the rows of ``x`` (all cells observed), computed in numpy."""
    logits = lik.output_shift.numpy()[:F] + params.numpy()[..., :F]
    if lik.library_size is None:
        return np.exp(logits)
    return x.numpy().sum(-1, keepdims=True) * np.exp(log_softmax(logits, -1))


@pytest.mark.parametrize("library_size", [None, "median"])
def test_negative_binomial_log_prob_matches_scipy(library_size):
    lik, params, x, theta = _setup("negative_binomial", library_size)
    mu = _mu(lik, params, x)
    expected = stats.nbinom.logpmf(x.numpy(), theta, theta / (theta + mu)).sum(-1)
    out = lik.log_prob(params, x)
    assert out.shape == (3, B)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10)
    out.sum().backward()  # the dispersion is learnt
    assert lik.raw_dispersion.grad.abs().sum() > 0


@pytest.mark.parametrize("library_size", [None, "observed"])
def test_zinb_log_prob_matches_the_formula(library_size):
    lik, params, x, theta = _setup("zinb", library_size)
    assert lik.n_params == 2 * F
    mu = _mu(lik, params, x)
    pi = expit(lik.output_shift.numpy()[F:] + params.numpy()[..., F:])
    expected = zinb_logpmf(x.numpy(), mu, theta, pi).sum(-1)
    np.testing.assert_allclose(lik.log_prob(params, x).detach().numpy(), expected, rtol=1e-10)
    # its mean is (1 - pi) mu at the imputation library (None: the decoder's own mean)
    if library_size is None:
        np.testing.assert_allclose(lik.mean(params).detach().numpy(), (1 - pi) * mu, rtol=1e-10)


@pytest.mark.parametrize("name", ["negative_binomial", "zinb"])
def test_missing_cells_are_scored_on_the_renormalised_observed_proportions(name):
    """A row with NaN cells: its observed cells, with their proportions renormalised and the
    observed total as the library size."""
    lik, params, x, theta = _setup(name, "median", seed=1)
    holes = torch.rand(B, F) < 0.3
    holes[:, 0] = False  # every row keeps an observed cell
    x_nan = torch.where(holes, torch.full((), torch.nan, dtype=DTYPE), x)
    observed = ~holes.numpy()
    log_p = log_softmax(lik.output_shift.numpy()[:F] + params.numpy()[..., :F], -1)
    log_norm = logsumexp(np.where(observed, log_p, -np.inf), -1, keepdims=True)
    total = np.where(observed, x.numpy(), 0).sum(-1, keepdims=True)
    mu = np.clip(total, 1e-8, None) * np.exp(log_p - log_norm)
    if name == "zinb":
        pi = expit(lik.output_shift.numpy()[F:] + params.numpy()[..., F:])
        cells = zinb_logpmf(x.numpy(), mu, theta, pi)
    else:
        cells = stats.nbinom.logpmf(x.numpy(), theta, theta / (theta + mu))
    expected = np.where(observed, cells, 0).sum(-1)
    out = lik.log_prob(params, x_nan)
    # (atol: a row whose observed counts are all 0 scores about -1e-8)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10, atol=1e-14)
    out.sum().backward()
    assert torch.isfinite(lik.raw_dispersion.grad).all()


def test_imputation_library_sizes():
    """"median": the median total of the complete training rows; a number: that library;
    "observed": a row's observed total spread over its cells by the renormalised proportions
    (a row of NaN, a missing modality, at the median)."""
    rows = torch.tensor([[1.0, 2, 3, 4, 0], [10, 0, 0, 0, 0], [5, 5, 5, 5, 5], [1, 1, torch.nan, 1, 1]],
                        dtype=DTYPE)
    params = torch.randn(3, F, dtype=DTYPE)
    proportions = np.exp(log_softmax(params.numpy(), -1))
    for library_size, expected_library in [("median", 10.0), (250, 250.0)]:
        lik = make_likelihood("negative_binomial", F, library_size=library_size).double()
        lik.observe(rows)
        lik.finish_observing()
        assert float(lik.default_library) == 10.0  # median of 10, 10, 25 (row 4 is not complete)
        lik.observe(rows[1:3])  # an even number of rows: the mean of the middle two
        lik.finish_observing()
        assert float(lik.default_library) == 17.5
        lik.default_library.fill_(10.0)
        np.testing.assert_allclose(lik.mean(params).numpy(), expected_library * proportions, rtol=1e-12)
    lik = make_likelihood("negative_binomial", F, library_size="observed").double()
    lik.default_library.fill_(10.0)
    x = torch.tensor([[2.0, torch.nan, 4.0, torch.nan, 0.0], [torch.nan] * F, [1, 2, 3, 4, 5]], dtype=DTYPE)
    mean = lik.mean_given(params, x).numpy()
    observed = ~np.isnan(x.numpy()[0])
    np.testing.assert_allclose(mean[0], 6.0 * proportions[0] / proportions[0][observed].sum(), rtol=1e-12)
    np.testing.assert_allclose(mean[1], 10.0 * proportions[1], rtol=1e-12)
    np.testing.assert_allclose(mean[2], 15.0 * proportions[2], rtol=1e-12)
    # without complete rows: the sum of the per-feature means
    lik = make_likelihood("zinb", 2)
    lik.observe(torch.tensor([[1.0, torch.nan], [torch.nan, 4.0], [3.0, torch.nan]]))
    lik.finish_observing()
    assert float(lik.default_library) == pytest.approx(2.0 + 4.0)


@pytest.mark.parametrize("name", ["negative_binomial", "zinb"])
def test_data_scaling_starts_at_the_marginal(name):
    rng = np.random.default_rng(0)
    mu, theta = np.array([0.5, 3.0, 20.0]), np.array([0.5, 2.0, 10.0])
    x = rng.negative_binomial(theta, theta / (theta + mu), size=(20000, 3)).astype(float)
    lik = make_likelihood(name, 3, library_size=None).double()
    stats_x = lik.statistics_input(torch.as_tensor(x))
    lik.set_data_scaling(stats_x.mean(0), stats_x.var(0, unbiased=False))
    params = torch.zeros(1, lik.n_params, dtype=DTYPE)
    np.testing.assert_allclose(torch.exp(lik.output_shift[:3]).numpy(), x.mean(0), rtol=1e-10)
    # the dispersion by the moments, near the truth for a plain negative binomial
    if name == "negative_binomial":
        np.testing.assert_allclose(lik.dispersion.detach().numpy(), theta, rtol=0.15)
        np.testing.assert_allclose(lik.mean(params)[0].numpy(), x.mean(0), rtol=1e-10)
    # the encoder sees log1p(x), standardised
    z = lik.encoder_input(torch.as_tensor(x))
    np.testing.assert_allclose(z.mean(0).numpy(), 0, atol=1e-8)
    np.testing.assert_allclose(z.std(0, unbiased=False).numpy(), 1, rtol=1e-8)


@pytest.mark.parametrize("name", ["negative_binomial", "zinb"])
def test_samples_have_the_mean_and_variance_of_the_model(name):
    lik = make_likelihood(name, 2, library_size=None).double()
    with torch.no_grad():
        lik.raw_dispersion.copy_(torch.tensor([0.0, 1.5]))
    params = torch.tensor([[1.0, 2.0, -1.0, 0.5]] if name == "zinb" else [[1.0, 2.0]], dtype=DTYPE)
    torch.manual_seed(0)
    draws = lik.sample(params.expand(40000, -1)).numpy()
    assert (draws == np.round(draws)).all() and (draws >= 0).all()
    mu, theta = np.exp(params.numpy()[0, :2]), lik.dispersion.detach().numpy()
    pi = expit(params.numpy()[0, 2:]) if name == "zinb" else 0.0
    mean = (1 - pi) * mu
    var = (1 - pi) * (mu + mu**2 / theta) + pi * (1 - pi) * mu**2  # of a zero-inflated NB
    np.testing.assert_allclose(draws.mean(0), mean, rtol=0.03)
    np.testing.assert_allclose(draws.var(0), var, rtol=0.08)
    np.testing.assert_allclose(lik.mean(params)[0].numpy(), mean, rtol=1e-12)


@pytest.mark.parametrize("library_size", ["mean", 0, -3.0, float("nan"), True, [1]])
def test_bad_library_size_raises(library_size):
    with pytest.raises(ValueError, match="library_size must be 'median', 'observed', a positive number"):
        make_likelihood("negative_binomial", F, library_size=library_size)


@pytest.mark.parametrize("name", ["negative_binomial", "zinb"])
def test_count_data_checks_say_what_is_wrong(name):
    cls = type(make_likelihood(name, 2))
    assert cls.check_data(torch.tensor([[0.0, 3.0], [torch.nan, 7.0]])) is None
    assert "negative values, e.g. -1" in cls.check_data(torch.tensor([[0.0, -1.0]]))
    assert "non-integer values, e.g. 0.5: pass raw counts" in cls.check_data(torch.tensor([[0.5, 1.0]]))
