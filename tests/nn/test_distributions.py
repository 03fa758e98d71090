"""Specification of the distribution objects' sampling: ``sample_common`` draws each row from
its own distribution while sharing the random numbers across rows."""
import torch

from skmmvae.nn import DiagGaussian, GaussianMixture

N_DRAWS = 20000


def _separated_mixture(weights):
    """Components at -10, 0 and 10 with tiny scales, so that a draw names its component."""
    weights = torch.tensor(weights, dtype=torch.float64)
    rows, n_comp = weights.shape
    loc = torch.tensor([-10.0, 0.0, 10.0], dtype=torch.float64).reshape(1, n_comp, 1).expand(rows, n_comp, 2)
    scale = torch.full((rows, n_comp, 2), 0.01, dtype=torch.float64)
    return GaussianMixture(weights.log() + 0.7, loc, scale)  # logits: shifted log-weights


def test_mixture_sample_common_draws_the_components_with_the_mixture_weights():
    weights = [[0.2, 0.5, 0.3], [0.7, 0.1, 0.2], [0.05, 0.05, 0.9]]
    mixture = _separated_mixture(weights)
    torch.manual_seed(0)
    z = mixture.sample_common(N_DRAWS)  # (n, B, D)
    assert z.shape == (N_DRAWS, 3, 2)
    component = torch.bucketize(z[..., 0].contiguous(), torch.tensor([-5.0, 5.0], dtype=torch.float64))  # (n, B)
    frequencies = torch.stack([(component == c).double().mean(0) for c in range(3)], -1)
    # binomial standard error <= 0.0036 at n = 20000: 0.015 is more than 4 of them, and a
    # wrong weighting (uniform, or another row's weights) is off by 0.1 or more
    torch.testing.assert_close(frequencies, torch.tensor(weights, dtype=torch.float64), rtol=0, atol=0.015)


def test_mixture_sample_common_shares_the_random_numbers_across_rows():
    """Rows with the same distribution get the same draws; a row's draws do not depend on the
    other rows of the batch."""
    mixture = _separated_mixture([[0.2, 0.5, 0.3], [0.2, 0.5, 0.3], [0.7, 0.1, 0.2]])
    torch.manual_seed(1)
    z = mixture.sample_common(50)
    torch.testing.assert_close(z[:, 0], z[:, 1], rtol=0, atol=0)
    torch.manual_seed(1)
    alone = mixture[2:].sample_common(50)
    torch.testing.assert_close(alone[:, 0], z[:, 2], rtol=0, atol=0)


def test_gaussian_sample_common_is_each_rows_gaussian():
    loc = torch.tensor([[0.0, 5.0], [-3.0, 1.0]], dtype=torch.float64)
    scale = torch.tensor([[1.0, 0.5], [2.0, 0.1]], dtype=torch.float64)
    torch.manual_seed(2)
    z = DiagGaussian(loc, scale).sample_common(N_DRAWS)
    torch.testing.assert_close(z.mean(0), loc, rtol=0, atol=0.05)
    torch.testing.assert_close(z.std(0), scale, rtol=0.03, atol=0)
    torch.testing.assert_close((z - loc) / scale, ((z - loc) / scale)[:, :1].expand_as(z))  # shared noise
