"""Priors ``p(z)``: a fixed standard normal, or a learnable Gaussian mixture."""
import torch
from torch import nn

from .distributions import DiagGaussian, GaussianMixture, positive_scale


class StandardNormalPrior(nn.Module):
    """``N(0, I)`` in ``n_latent`` dimensions.

    Parameters
    ----------
    n_latent : int
        Dimension of the latent space.

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn import StandardNormalPrior
    >>> prior = StandardNormalPrior(2)
    >>> prior.sample(5).shape
    torch.Size([5, 2])
    >>> z = torch.zeros(4, 3, 2)  # (n, B, D): samples of a batch of three rows
    >>> normal = torch.distributions.Normal(0.0, 1.0)
    >>> torch.allclose(prior.log_prob(z), normal.log_prob(z).sum(-1))
    True
    >>> len(list(prior.parameters()))  # nothing to learn
    0
    """

    n_components = 1

    def __init__(self, n_latent):
        super().__init__()
        self.n_latent = int(n_latent)
        self.register_buffer("_zero", torch.zeros(()))

    def distribution(self, batch_size=1):
        loc = self._zero.expand(batch_size, self.n_latent)
        return DiagGaussian(loc, torch.ones_like(loc))

    def log_prob(self, z):
        return self.distribution(1).log_prob(z)

    def sample(self, n):
        return self.distribution(n).sample(1)[0]


class GaussianMixturePrior(nn.Module):
    """Learnable ``sum_k pi_k N(mu_k, diag(sigma_k^2))`` (log-density by exact log-sum-exp).

    Means start from ``N(0, 1)`` draws so components are distinct, scales at 1 and weights
    uniform, as in the paper's code.

    Parameters
    ----------
    n_latent : int
        Dimension of the latent space.
    n_components : int
        Number of mixture components, at least 2.
    min_scale : float
        Lower bound of the components' standard deviations.

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn import GaussianMixturePrior
    >>> prior = GaussianMixturePrior(n_latent=2, n_components=3)
    >>> prior.loc.shape, prior.raw_scale.shape, prior.logits.shape
    (torch.Size([3, 2]), torch.Size([3, 2]), torch.Size([3]))
    >>> weights = prior.distribution(4).weights  # (B, C), uniform at the start
    >>> torch.allclose(weights, torch.full((4, 3), 1 / 3))
    True
    >>> prior.sample(5).shape
    torch.Size([5, 2])
    >>> prior.log_prob(torch.zeros(4, 3, 2)).shape  # (n, B, D) -> (n, B)
    torch.Size([4, 3])
    """

    def __init__(self, n_latent, n_components, min_scale=1e-3):
        super().__init__()
        if n_components < 2:
            raise ValueError("a mixture prior needs at least two components")
        self.n_latent = int(n_latent)
        self.n_components = int(n_components)
        self.min_scale = float(min_scale)
        self.loc = nn.Parameter(torch.randn(n_components, n_latent))
        self.raw_scale = nn.Parameter(torch.full((n_components, n_latent), 0.5413))  # softplus=1
        self.logits = nn.Parameter(torch.zeros(n_components))

    def distribution(self, batch_size=1):
        shape = (batch_size, self.n_components, self.n_latent)
        return GaussianMixture(
            self.logits.expand(batch_size, -1),
            self.loc.expand(shape),
            positive_scale(self.raw_scale, self.min_scale).expand(shape),
        )

    def log_prob(self, z):
        return self.distribution(1).log_prob(z)

    def sample(self, n):
        return self.distribution(n).sample(1)[0]


def make_prior(n_latent, n_components=1, min_scale=1e-3):
    """``n_components == 1`` gives the standard normal, more a learnable mixture.

    Parameters
    ----------
    n_latent : int
        Dimension of the latent space.
    n_components : int
        1 for :class:`StandardNormalPrior`, more for :class:`GaussianMixturePrior`.
    min_scale : float
        Lower bound of a mixture's standard deviations (unused by the standard normal).

    Returns
    -------
    StandardNormalPrior or GaussianMixturePrior

    Examples
    --------
    >>> from skmmvae.nn import make_prior
    >>> type(make_prior(2)).__name__
    'StandardNormalPrior'
    >>> prior = make_prior(2, n_components=4)
    >>> type(prior).__name__, prior.n_components
    ('GaussianMixturePrior', 4)
    """
    if n_components == 1:
        return StandardNormalPrior(n_latent)
    return GaussianMixturePrior(n_latent, n_components, min_scale)
