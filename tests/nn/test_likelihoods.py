"""Specification of the observation models ``p(x_s | z)``: log-densities summed over features,
means, encoder inputs and argument checking, checked against scipy / torch.distributions."""
import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import expit, log_softmax, softmax

from skmmvae.nn import LIKELIHOODS, make_likelihood
from skmmvae.nn.likelihoods import Likelihood

DTYPE = torch.float64
B, F = 5, 4  # batch, features


def softplus_np(x):
    return np.logaddexp(0.0, x)


@pytest.fixture
def params():
    """Decoder outputs with a leading sample axis (C=3, B, F)."""
    torch.manual_seed(0)
    return torch.randn(3, B, F, dtype=DTYPE)


def test_registry():
    assert set(LIKELIHOODS) == {"gaussian", "laplace", "bernoulli", "categorical", "poisson",
                                "negative_binomial", "zinb"}


@pytest.mark.parametrize("family", ["gaussian", "laplace"])
def test_learnt_scale_starts_at_one(family, params):
    lik = make_likelihood(family, F).double()
    torch.testing.assert_close(lik.scale, torch.ones(F, dtype=DTYPE))
    x = torch.randn(B, F, dtype=DTYPE)
    dist = stats.norm if family == "gaussian" else stats.laplace
    expected = dist.logpdf(x.numpy(), params.numpy(), 1.0).sum(-1)
    # (the initial raw value is stored in float32, hence the tolerance)
    np.testing.assert_allclose(lik.log_prob(params, x).detach().numpy(), expected, rtol=1e-7)


@pytest.mark.parametrize("family", ["gaussian", "laplace"])
@pytest.mark.parametrize("min_scale", [1e-3, 0.3])
def test_location_scale_log_prob_with_learnt_scale(family, min_scale, params):
    lik = make_likelihood(family, F, min_scale=min_scale).double()
    with torch.no_grad():
        lik.raw_scale.copy_(torch.tensor([-2.0, -0.5, 0.3, 1.7], dtype=DTYPE))
    scale = min_scale + softplus_np(np.array([-2.0, -0.5, 0.3, 1.7]))
    x = torch.randn(B, F, dtype=DTYPE)
    dist = stats.norm if family == "gaussian" else stats.laplace
    expected = dist.logpdf(x.numpy(), params.numpy(), scale).sum(-1)
    out = lik.log_prob(params, x)
    assert out.shape == (3, B)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10)
    # the scale is a parameter: the log-likelihood trains it
    out.sum().backward()
    assert lik.raw_scale.grad is not None and lik.raw_scale.grad.abs().sum() > 0


@pytest.mark.parametrize("family", ["gaussian", "laplace"])
def test_location_scale_log_prob_with_fixed_scale(family, params):
    lik = make_likelihood(family, F, scale=0.37).double()
    assert list(lik.parameters()) == []  # nothing to learn
    x = torch.randn(B, F, dtype=DTYPE)
    torch_dist = torch.distributions.Normal if family == "gaussian" else torch.distributions.Laplace
    expected = torch_dist(params, 0.37).log_prob(x).sum(-1)
    torch.testing.assert_close(lik.log_prob(params, x), expected)
    torch.testing.assert_close(lik.mean(params), params)


def test_bernoulli_on_binary_data(params):
    lik = make_likelihood("bernoulli", F)
    torch.manual_seed(1)
    x = (torch.rand(B, F) < 0.5).to(DTYPE)
    p = expit(params.numpy())
    expected = stats.bernoulli.logpmf(x.numpy(), p).sum(-1)
    np.testing.assert_allclose(lik.log_prob(params, x).numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(lik.mean(params).numpy(), p, rtol=1e-12)
    assert lik.support == "unit_interval"


def test_bernoulli_on_fractional_data_is_the_cross_entropy(params):
    lik = make_likelihood("bernoulli", F)
    x = torch.rand(B, F, dtype=DTYPE)
    p = expit(params.numpy())
    expected = (x.numpy() * np.log(p) + (1 - x.numpy()) * np.log1p(-p)).sum(-1)
    np.testing.assert_allclose(lik.log_prob(params, x).numpy(), expected, rtol=1e-10)


def test_bernoulli_is_stable_for_large_logits():
    lik = make_likelihood("bernoulli", 2)
    params = torch.tensor([[200.0, -200.0]], dtype=DTYPE)
    x = torch.tensor([[0.0, 1.0]], dtype=DTYPE)
    torch.testing.assert_close(lik.log_prob(params, x), torch.tensor([-400.0], dtype=DTYPE))


def test_poisson_log_prob_and_mean(params):
    lik = make_likelihood("poisson", F)
    torch.manual_seed(2)
    x = torch.poisson(torch.full((B, F), 2.5, dtype=DTYPE))
    rate = np.exp(params.numpy())
    expected = stats.poisson.logpmf(x.numpy(), rate).sum(-1)
    np.testing.assert_allclose(lik.log_prob(params, x).numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(lik.mean(params).numpy(), rate, rtol=1e-12)
    assert lik.support == "count"


@pytest.mark.parametrize("family", ["bernoulli", "poisson"])
def test_log_prob_scores_the_mean_in_data_units_after_the_data_scaling(family, params):
    """With the data scaling set (a log-odds or log-rate shift per feature), ``log_prob`` scores
    the data under the distribution whose mean is ``mean(params)``: the shift is in both."""
    lik = make_likelihood(family, F).double()
    torch.manual_seed(3)
    if family == "bernoulli":
        data_mean = torch.tensor([0.1, 0.2, 0.6, 0.9], dtype=DTYPE)
        x = (torch.rand(B, F, dtype=DTYPE) < 0.5).to(DTYPE)
        logpmf = stats.bernoulli.logpmf
    else:
        data_mean = torch.tensor([0.5, 3.0, 7.0, 40.0], dtype=DTYPE)
        x = torch.poisson(torch.full((B, F), 5.0, dtype=DTYPE))
        logpmf = stats.poisson.logpmf
    lik.set_data_scaling(data_mean, torch.ones(F, dtype=DTYPE))
    assert lik.output_shift.abs().min() > 0.3  # a shift that matters in every feature
    # a decoder output of 0 means the data's own marginal
    torch.testing.assert_close(lik.mean(torch.zeros(B, F, dtype=DTYPE)), data_mean.expand(B, F))
    mean = lik.mean(params)  # (3, B, F)
    expected = logpmf(x.numpy(), mean.numpy()).sum(-1)
    np.testing.assert_allclose(lik.log_prob(params, x).numpy(), expected, rtol=1e-9)


def test_categorical_log_prob_mean_and_sizes():
    n_classes = 4
    lik = make_likelihood("categorical", 1, n_classes=n_classes)
    assert lik.n_params == n_classes and lik.input_features == n_classes
    assert lik.support == "categorical"
    torch.manual_seed(3)
    logits = torch.randn(3, B, n_classes, dtype=DTYPE)
    x = torch.tensor([[0.0], [3.0], [1.0], [2.0], [3.0]], dtype=DTYPE)  # (B, 1) class indices
    out = lik.log_prob(logits, x)
    assert out.shape == (3, B)
    expected = torch.distributions.Categorical(logits=logits).log_prob(x[:, 0].long())
    torch.testing.assert_close(out, expected)
    idx = x[:, 0].long().numpy()
    np_expected = log_softmax(logits.numpy(), -1)[:, np.arange(B), idx]
    np.testing.assert_allclose(out.numpy(), np_expected, rtol=1e-10)
    np.testing.assert_allclose(lik.mean(logits).numpy(), softmax(logits.numpy(), -1), rtol=1e-10)


def test_categorical_encoder_input_is_one_hot():
    lik = make_likelihood("categorical", 1, n_classes=3)
    x = torch.tensor([[2.0], [0.0], [1.0], [2.0]])
    one_hot = lik.encoder_input(x)
    assert one_hot.dtype == x.dtype
    np.testing.assert_array_equal(one_hot.numpy(), np.eye(3)[[2, 0, 1, 2]])


@pytest.mark.parametrize("family", ["gaussian", "laplace", "bernoulli", "poisson"])
def test_other_likelihoods_pass_data_to_the_encoder_unchanged(family):
    lik = make_likelihood(family, F)
    assert lik.n_params == F and lik.input_features == F
    x = torch.rand(B, F)
    assert torch.equal(lik.encoder_input(x), x)


@pytest.mark.parametrize(
    "name, options",
    [
        ("student", {}),
        ("gaussian", {"scale": 0.0}),
        ("gaussian", {"scale": -1.0}),
        ("gaussian", {"scale": "fixed"}),
        ("laplace", {"scale": -0.1}),
        ("laplace", {"scale": math.nan}),
        ("categorical", {"n_classes": 1}),
    ],
)
def test_bad_names_and_options_raise_value_error(name, options):
    with pytest.raises(ValueError):
        make_likelihood(name, F, **options)


def _scipy_cells(family, params, x, lik):
    """Per-feature log-densities computed by scipy, independently of the likelihood class."""
    if family == "gaussian":
        return stats.norm.logpdf(x, loc=params, scale=1.0)
    if family == "laplace":
        return stats.laplace.logpdf(x, loc=params, scale=1.0)
    if family == "bernoulli":
        return stats.bernoulli.logpmf(x, expit(params))
    if family == "poisson":
        return stats.poisson.logpmf(x, np.exp(params))
    return log_softmax(params, -1)[np.arange(len(x)), x[:, 0].astype(int)][:, None]


@pytest.mark.parametrize("family", ["gaussian", "laplace", "bernoulli", "poisson", "categorical"])
def test_log_prob_sums_over_the_observed_cells_only(family):
    rng = np.random.default_rng(0)
    n, width = 6, 4
    options = {"n_classes": 3} if family == "categorical" else {}
    lik = make_likelihood(family, 1 if family == "categorical" else width, **options)
    params = rng.normal(size=(n, lik.n_params))
    if family == "categorical":
        x = rng.integers(0, 3, size=(n, 1)).astype(float)
    elif family == "bernoulli":
        x = rng.integers(0, 2, size=(n, width)).astype(float)
    elif family == "poisson":
        x = rng.poisson(2.0, size=(n, width)).astype(float)
    else:
        x = rng.normal(size=(n, width))
    observed = rng.random(size=x.shape) < 0.6
    expected = np.where(observed, _scipy_cells(family, params, x, lik), 0.0).sum(-1)
    # what the unobserved cells hold must not matter (even NaN)
    x_holes = np.where(observed, x, np.nan)
    if family == "categorical":
        x_holes = np.where(observed, x, 0.0)
    got = lik.log_prob(torch.tensor(params), torch.tensor(x_holes), torch.tensor(observed))
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-6, atol=1e-8)
    everything = lik.log_prob(torch.tensor(params), torch.tensor(x))
    full = lik.log_prob(torch.tensor(params), torch.tensor(x), torch.ones(x.shape, dtype=torch.bool))
    assert torch.equal(everything, full)


@pytest.mark.parametrize("scale", ["learned", 0.7])
def test_gaussian_log_prob_is_scipys_with_data_scaling_draws_and_nan_cells(scale):
    """The Gaussian's residual form of the density: scipy's normal log-density in data units
    (after ``set_data_scaling`` and with a trained scale), for decoder output with a leading
    draw axis, NaN cells skipped; and the gradients of the cell-wise form of the base class."""
    from skmmvae.nn.likelihoods import Likelihood

    torch.manual_seed(37)
    lik = make_likelihood("gaussian", 5, scale=scale).double()
    lik.set_data_scaling(torch.randn(5, dtype=torch.float64), torch.rand(5, dtype=torch.float64) + 0.5)
    if scale == "learned":
        with torch.no_grad():
            lik.raw_scale.add_(torch.randn(5, dtype=torch.float64))
    params = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    x = torch.randn(4, 5, dtype=torch.float64)
    x[0, 1] = x[2, 4] = x[3, 0] = math.nan
    got = lik.log_prob(params, x)
    loc, sd = lik.mean(params).detach().numpy(), lik.scale.detach().numpy()
    cells = stats.norm.logpdf(x.numpy(), loc=loc, scale=sd)
    np.testing.assert_allclose(got.detach().numpy(), np.nansum(cells, -1), rtol=1e-12)
    for data in (x, torch.nan_to_num(x)):
        leaves = [params] + ([lik.raw_scale] if scale == "learned" else [])
        mine = torch.autograd.grad(lik.log_prob(params, data).sum(), leaves)
        reference = torch.autograd.grad(Likelihood.log_prob(lik, params, data).sum(), leaves)
        for a, b in zip(mine, reference):
            assert torch.isfinite(a).all()
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_cell_dropout_hides_observed_cells_from_the_encoder_in_training_only():
    lik = make_likelihood("gaussian", 4)
    lik.missing_cells, lik.cell_dropout = True, 0.5
    x = torch.tensor([[1.0, float("nan"), 3.0, 4.0]]).expand(2000, 4)
    lik.eval()
    values, seen = lik.encoder_input(x).split(4, -1)
    assert torch.equal(seen, (~torch.isnan(x)).float()) and torch.equal(values[:, 0], x[:, 0])
    lik.train()
    torch.manual_seed(0)
    values, seen = lik.encoder_input(x).split(4, -1)
    assert (seen[:, 1] == 0).all()  # a missing cell stays missing
    kept = seen[:, [0, 2, 3]].mean().item()
    assert abs(kept - 0.5) < 0.03  # about half the observed cells hidden
    assert torch.equal(values[seen == 0], torch.zeros(int((seen == 0).sum())))
    lik.cell_dropout = 0.0
    assert torch.equal(lik.encoder_input(x)[:, 4:], (~torch.isnan(x)).float())


def test_likelihoods_declare_their_data():
    """What the data layer checks and encodes comes from the classes: the support as a torch
    constraint (NaN cells are missing, not checked) and whether a modality holds labels."""
    nan = math.nan
    checks = {
        "gaussian": ([[-3.5, nan, 1e6]], None, None),
        "laplace": ([[-3.5, 0.0]], None, None),
        "bernoulli": ([[0.0, 0.25, nan, 1.0]], [[0.0, 1.5]], "values in [0, 1]"),
        "poisson": ([[0.0, 3.0, nan, 12.0]], [[1.0, 2.5]], "non-negative integer counts"),
        "categorical": ([[0.0], [3.0]], [[-1.0]], "class indices"),
        "negative_binomial": ([[0.0, 3.0, nan, 12.0]], [[1.0, -2.0]],
                              "non-negative integer counts (got negative values, e.g. -2)"),
        "zinb": ([[0.0, 3.0, nan, 12.0]], [[1.0, 2.5]],
                 "non-negative integer counts (got non-integer values, e.g. 2.5: pass raw counts, "
                 "not normalised or log-transformed ones)"),
    }
    assert set(checks) == set(LIKELIHOODS)
    for name, (good, bad, needs) in checks.items():
        cls = LIKELIHOODS[name]
        assert cls.check_data(torch.tensor(good, dtype=DTYPE)) is None, name
        if bad is not None:
            assert cls.check_data(torch.tensor(bad, dtype=DTYPE)) == needs, name
        assert cls.is_label == (name == "categorical")
        assert isinstance(cls.constraint, torch.distributions.constraints.Constraint)
    assert make_likelihood("poisson", 2).check_data(torch.tensor([[-1.0, 2.0]])) == "non-negative integer counts"


@pytest.mark.parametrize("scale", ["learned", 0.7])
@pytest.mark.parametrize("draws", [(), (3,)])
def test_a_group_of_gaussians_scores_as_each_member_alone(scale, draws):
    """``Gaussian.log_prob_group``: three modalities of one width in one computation give what
    each gives alone (scipy's density, NaN cells skipped), bit for bit, and the same gradients
    for the decoder outputs and each member's learnt scale."""
    torch.manual_seed(3)
    liks = [make_likelihood("gaussian", 4, scale=scale).double() for _ in range(3)]
    for lik in liks:
        lik.set_data_scaling(torch.randn(4, dtype=DTYPE), torch.rand(4, dtype=DTYPE) + 0.5)
        if scale == "learned":
            with torch.no_grad():
                lik.raw_scale.add_(torch.randn(4, dtype=DTYPE))
    assert len({lik.group_key() for lik in liks}) == 1
    params = torch.randn(3, *draws, 6, 4, dtype=DTYPE, requires_grad=True)
    x = torch.randn(3, 6, 4, dtype=DTYPE)
    x[0, 1, 2] = x[2, 5, 0] = math.nan  # missing cells in two members
    got = liks[0].log_prob_group(liks, params, x)
    assert got.shape == (3, *draws, 6)
    for g, lik in enumerate(liks):
        assert torch.equal(got[g], lik.log_prob(params[g], x[g]))
        cells = stats.norm.logpdf(x[g].numpy(), loc=lik.mean(params[g]).detach().numpy(),
                                  scale=lik.scale.detach().numpy())
        np.testing.assert_allclose(got[g].detach().numpy(), np.nansum(cells, -1), rtol=1e-12)
    leaves = [params] + ([lik.raw_scale for lik in liks] if scale == "learned" else [])
    grouped = torch.autograd.grad(got.sum(), leaves)
    alone = torch.autograd.grad(sum(lik.log_prob(params[g], x[g]).sum() for g, lik in enumerate(liks)), leaves)
    for a, b in zip(grouped, alone):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_only_likelihoods_of_one_kind_and_width_group():
    keys = [make_likelihood(*args).group_key() for args in
            (("gaussian", 4), ("gaussian", 5), ("laplace", 4), ("bernoulli", 4))]
    assert keys[0] != keys[1] and keys[0] != keys[2] and keys[2] is None and keys[3] != keys[0]
    assert make_likelihood("gaussian", 4, scale=0.5).group_key() != keys[0]


@pytest.mark.parametrize("draws", [(), (3,)])
def test_a_group_of_bernoullis_scores_as_each_member_alone(draws):
    """``Bernoulli.log_prob_group``: bit for bit each member's ``log_prob`` (NaN cells skipped),
    the cross-entropy computed by hand, and the same gradients."""
    torch.manual_seed(4)
    liks = [make_likelihood("bernoulli", 4).double() for _ in range(3)]
    for lik in liks:
        lik.set_data_scaling(torch.rand(4, dtype=DTYPE) * 0.8 + 0.1, torch.rand(4, dtype=DTYPE))
    assert len({lik.group_key() for lik in liks}) == 1
    params = torch.randn(3, *draws, 6, 4, dtype=DTYPE, requires_grad=True)
    x = torch.bernoulli(torch.full((3, 6, 4), 0.4, dtype=DTYPE))
    x[1, 0, 3] = x[2, 4, 1] = math.nan
    got = liks[0].log_prob_group(liks, params, x)
    assert got.shape == (3, *draws, 6)
    for g, lik in enumerate(liks):
        assert torch.equal(got[g], lik.log_prob(params[g], x[g]))
        p = expit((lik.output_shift + params[g]).detach().numpy())
        cells = x[g].numpy() * np.log(p) + (1 - x[g].numpy()) * np.log1p(-p)
        np.testing.assert_allclose(got[g].detach().numpy(), np.nansum(cells, -1), rtol=1e-10)
    grouped = torch.autograd.grad(got.sum(), params)[0]
    alone = torch.autograd.grad(sum(lik.log_prob(params[g], x[g]).sum() for g, lik in enumerate(liks)), params)[0]
    torch.testing.assert_close(grouped, alone, rtol=1e-12, atol=1e-14)


class _ContinuousBernoulli(LIKELIHOODS["bernoulli"]):
    """A user's likelihood: the Bernoulli cross-entropy plus the continuous Bernoulli's
    log-normaliser (a new density, its own ``log_prob_cells``)."""

    def log_prob_cells(self, params, x):
        logits = self._natural(params)
        cells = super().log_prob_cells(params, x)
        return cells + torch.log(2 * torch.atanh(1 - 2 * torch.sigmoid(logits)) / (1 - 2 * torch.sigmoid(logits)))


class _StudentLike(LIKELIHOODS["gaussian"]):
    """A user's location-scale likelihood on the Gaussian's machinery, with its own density."""

    def log_prob_cells(self, params, x):
        return torch.distributions.StudentT(3.0, self.location(params), self.scale).log_prob(x)

    def log_prob(self, params, x, observed=None):  # the base class's: a sum of log_prob_cells
        return Likelihood.log_prob(self, params, x, observed)


@pytest.mark.parametrize("cls", [_ContinuousBernoulli, _StudentLike])
def test_a_subclass_with_its_own_density_scores_with_it_in_a_model(cls):
    """Subclasses of Gaussian or Bernoulli that score otherwise must not be scored as a group by
    the parent's ``log_prob_group`` (which knows only the parent's density)."""
    from skmmvae.nn import MultiModalModule

    torch.manual_seed(5)
    liks = {name: cls(3) for name in "abc"}
    model = MultiModalModule(liks, n_latent=2, hidden_sizes=(8,), embedding_size=8).double()
    xs = [torch.rand(4, 3, dtype=DTYPE) * 0.8 + 0.1 for _ in liks]
    z = torch.randn(2, 4, 2, dtype=DTYPE)
    for training in (True, False):
        model.train(training)
        got, _ = model.log_likelihoods(xs, z)
        for s, lik in enumerate(liks.values()):
            expected = lik.log_prob(model.decode(z, s), xs[s])
            torch.testing.assert_close(got[..., s], expected, rtol=1e-12, atol=1e-12)
