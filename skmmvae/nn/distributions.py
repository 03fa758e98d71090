"""Small posterior/prior distribution objects used by the objectives.

Every distribution here has a batch shape ``(B,)`` and an event of size ``D``. Samples carry
a leading sample axis: ``rsample(n)`` returns ``(n, B, D)`` and ``log_prob`` maps
``(n, B, D)`` to ``(n, B)``. The objectives only use the methods of :class:`Posterior`, so
they never need to know which aggregator made a posterior.
"""
import math

import torch
from torch.nn import functional as F

_LOG_2PI = math.log(2.0 * math.pi)


def normal_log_prob_cells(x, loc, scale):
    """Log-density of ``N(loc, scale**2)`` at ``x``, element by element."""
    return -0.5 * (((x - loc) / scale) ** 2 + 2.0 * torch.log(scale) + _LOG_2PI)


def gaussian_log_density(z, loc, scale):
    """Log-density of a diagonal Gaussian, summed over the last axis."""
    return normal_log_prob_cells(z, loc, scale).sum(-1)


def standard_normal(shape, like, common=False):
    """``N(0, 1)`` noise of ``shape`` (``(n, B, ...)``: draws, rows, ...), with the dtype and
    device of ``like``. ``common=True`` draws it for one row and repeats it for every row, so
    that a row's draws do not depend on the other rows of its batch (reproducible scores)."""
    if common:
        return torch.randn((shape[0], 1, *shape[2:]), dtype=like.dtype, device=like.device).expand(shape)
    return torch.randn(shape, dtype=like.dtype, device=like.device)


class Posterior:
    """What the objectives use of a distribution (the base of the classes here).

    Subclasses give ``rsample(n)`` (reparameterised draws ``(n, B, D)``), ``log_prob(z)``,
    ``mean``, ``variance``, ``sample_common(n)`` (draws whose random numbers are shared by all
    rows: each row's draws are exact samples of its own distribution, but do not depend on the
    other rows of the batch), ``detach()`` and row indexing.
    """

    def sample(self, n=1):
        """Draws ``(n, B, D)`` without gradient."""
        with torch.no_grad():
            return self.rsample(n)

    def sample_weighted(self, n=1):
        """Reparameterised samples ``(n, B, D)`` and their weights ``(n, B)`` (each ``1/n``)."""
        z = self.rsample(n)
        return z, z.new_full(z.shape[:-1], 1.0 / n)


class DiagGaussian(Posterior):
    """Diagonal Gaussian ``N(loc, diag(scale**2))`` with ``loc, scale`` of shape ``(B, D)``.

    Parameters
    ----------
    loc : Tensor of shape (B, D)
        Means.
    scale : Tensor of shape (B, D)
        Standard deviations (positive).

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn import DiagGaussian
    >>> q = DiagGaussian(torch.zeros(3, 2), torch.ones(3, 2))
    >>> z = q.rsample(5)  # a leading sample axis: (n, B, D)
    >>> z.shape
    torch.Size([5, 3, 2])
    >>> q.log_prob(z).shape
    torch.Size([5, 3])
    >>> normal = torch.distributions.Normal(0.0, 1.0)
    >>> torch.allclose(q.log_prob(z), normal.log_prob(z).sum(-1))
    True
    """

    def __init__(self, loc, scale):
        self.loc = loc
        self.scale = scale

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        return self.scale**2

    def rsample(self, n=1):
        return self.loc + self.scale * standard_normal((n,) + self.loc.shape, self.loc)

    def sample_common(self, n=1):
        """``n`` draws per row that share their standard-normal noise across rows (see
        :class:`Posterior`; used for reproducible scores)."""
        return self.loc + self.scale * standard_normal((n,) + self.loc.shape, self.loc, common=True)

    def log_prob(self, z):
        return gaussian_log_density(z, self.loc, self.scale)

    def detach(self):
        """The same distribution with its parameters detached from the autograd graph (the
        stop-gradient copy behind the "sticking the landing" estimators)."""
        return DiagGaussian(self.loc.detach(), self.scale.detach())

    def __getitem__(self, index):
        return DiagGaussian(self.loc[index], self.scale[index])


class GaussianMixture(Posterior):
    """Mixture of diagonal Gaussians.

    Parameters
    ----------
    logits : Tensor of shape (B, C)
        Unnormalised log mixture weights; ``-inf`` switches a component off.
    loc, scale : Tensor of shape (B, C, D)
        Means and standard deviations of the components.
    learnable_weights : bool
        If True, ``sample_weighted`` uses the stratified estimator (one reparameterised sample
        per component, weighted by the component weight) so gradients reach the weights. If
        False (uniform stop-gradient weights, as for MoE), a component index is drawn and only
        that component is sampled, which costs no more than a Gaussian.

    Examples
    --------
    Two components in two dimensions for a batch of three rows; with both components equal,
    the mixture is that Gaussian:

    >>> import torch
    >>> from skmmvae.nn import DiagGaussian, GaussianMixture
    >>> loc, scale = torch.zeros(3, 2, 2), torch.ones(3, 2, 2)
    >>> mixture = GaussianMixture(torch.zeros(3, 2), loc, scale)
    >>> mixture.weights
    tensor([[0.5000, 0.5000],
            [0.5000, 0.5000],
            [0.5000, 0.5000]])
    >>> mixture.mean.shape
    torch.Size([3, 2])
    >>> z = mixture.rsample(4)
    >>> z.shape
    torch.Size([4, 3, 2])
    >>> gaussian = DiagGaussian(loc[:, 0], scale[:, 0])
    >>> torch.allclose(mixture.log_prob(z), gaussian.log_prob(z))
    True

    With learnt weights, ``sample_weighted`` draws ``n`` samples per component, whose weights
    sum to one in every row:

    >>> z, w = mixture.sample_weighted(4)
    >>> z.shape, w.shape
    (torch.Size([8, 3, 2]), torch.Size([8, 3]))
    >>> torch.allclose(w.sum(0), torch.ones(3))
    True
    """

    def __init__(self, logits, loc, scale, learnable_weights=True):
        self.logits = logits
        self.loc = loc
        self.scale = scale
        self.learnable_weights = learnable_weights

    @property
    def log_weights(self):
        return torch.log_softmax(self.logits, dim=-1)

    @property
    def weights(self):
        return torch.softmax(self.logits, dim=-1)

    @property
    def mean(self):
        return (self.weights.unsqueeze(-1) * self.loc).sum(-2)

    @property
    def variance(self):
        w = self.weights.unsqueeze(-1)
        second_moment = (w * (self.scale**2 + self.loc**2)).sum(-2)
        return second_moment - self.mean**2

    def _component_sample(self, index, n, common=False):
        """Reparameterised draw from the components picked by ``index`` (n, B) (the noise
        shared by all rows with ``common``)."""
        gather = index.unsqueeze(-1).unsqueeze(-1).expand(n, -1, 1, self.loc.shape[-1])
        loc = self.loc.unsqueeze(0).expand(n, -1, -1, -1).gather(2, gather).squeeze(2)
        scale = self.scale.unsqueeze(0).expand(n, -1, -1, -1).gather(2, gather).squeeze(2)
        return loc + scale * standard_normal(loc.shape, loc, common)

    def rsample(self, n=1):
        """Samples with the component index drawn without gradient."""
        index = torch.multinomial(self.weights.detach(), n, replacement=True).T  # (n, B)
        return self._component_sample(index, n)

    def sample_common(self, n=1):
        """Draws with uniforms and normals shared across rows (see :class:`Posterior`): the
        component by inverting each row's weights at a shared uniform, then shared noise."""
        u = torch.rand((n, 1), dtype=self.loc.dtype, device=self.loc.device)
        cdf = self.weights.cumsum(-1)  # (B, C)
        index = (cdf.unsqueeze(0) < u.unsqueeze(-1)).sum(-1).clamp(max=self.loc.shape[-2] - 1)
        return self._component_sample(index, n, common=True)

    def log_prob(self, z):
        # z: (n, B, D) -> component log-densities (n, B, C)
        comp = gaussian_log_density(z.unsqueeze(-2), self.loc, self.scale)
        return torch.logsumexp(self.log_weights + comp, dim=-1)

    def sample_weighted(self, n=1):
        if not self.learnable_weights:
            return super().sample_weighted(n)
        # Stratified: n samples from every component, (n*C, B, D), weights w_c / n.
        z = self.loc + self.scale * standard_normal((n,) + self.loc.shape, self.loc)  # (n, B, C, D)
        n_comp = self.loc.shape[-2]
        z = z.permute(0, 2, 1, 3).reshape(n * n_comp, self.loc.shape[0], -1)
        w = (self.weights / n).T.unsqueeze(0).expand(n, -1, -1).reshape(n * n_comp, -1)
        return z, w

    def detach(self):
        """The same distribution with its parameters detached from the autograd graph (the
        stop-gradient copy behind the "sticking the landing" estimators)."""
        return GaussianMixture(
            self.logits.detach(), self.loc.detach(), self.scale.detach(), self.learnable_weights
        )

    def __getitem__(self, index):
        return GaussianMixture(
            self.logits[index], self.loc[index], self.scale[index], self.learnable_weights
        )


def positive_scale(raw, min_scale):
    """Map an unconstrained output to a standard deviation ``min_scale + softplus(raw)``."""
    return min_scale + F.softplus(raw)


class PrecisionGaussian(Posterior):
    """Full-covariance Gaussian ``N(loc, Lambda^-1)`` given by the Cholesky factor of its
    precision matrix, ``Lambda = tril @ tril.T``: the posterior of
    :class:`~skmmvae.nn.aggregators.FullProductOfExperts`, whose experts add precisions.

    Parameters
    ----------
    loc : Tensor of shape (B, D)
        Means.
    tril : Tensor of shape (B, D, D)
        Lower-triangular Cholesky factors of the precision matrices (positive diagonal).

    Examples
    --------
    It agrees with :class:`torch.distributions.MultivariateNormal` given the same precision:

    >>> import torch
    >>> from skmmvae.nn import PrecisionGaussian
    >>> precision = torch.tensor([[[2.0, 0.5], [0.5, 1.0]]])
    >>> q = PrecisionGaussian(torch.zeros(1, 2), torch.linalg.cholesky(precision))
    >>> z = q.rsample(4)
    >>> z.shape
    torch.Size([4, 1, 2])
    >>> mvn = torch.distributions.MultivariateNormal(torch.zeros(2), precision_matrix=precision[0])
    >>> torch.allclose(q.log_prob(z), mvn.log_prob(z))
    True
    >>> torch.allclose(q.variance, torch.diagonal(mvn.covariance_matrix))
    True
    """

    def __init__(self, loc, tril):
        self.loc = loc
        self.tril = tril

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        eye = torch.eye(self.loc.shape[-1], dtype=self.loc.dtype, device=self.loc.device)
        inverse = torch.linalg.solve_triangular(self.tril, eye.expand_as(self.tril), upper=False)
        return (inverse**2).sum(-2)

    def _from_noise(self, eps):
        # z = loc + L^-T eps: solve L^T y = eps for every draw.
        rhs = eps.permute(1, 2, 0)  # (B, D, n)
        y = torch.linalg.solve_triangular(self.tril.transpose(-1, -2), rhs, upper=True)
        return self.loc + y.permute(2, 0, 1)

    def rsample(self, n=1):
        return self._from_noise(standard_normal((n,) + self.loc.shape, self.loc))

    def sample_common(self, n=1):
        """``n`` draws per row sharing their standard-normal noise across rows (see
        :class:`Posterior`)."""
        return self._from_noise(standard_normal((n,) + self.loc.shape, self.loc, common=True))

    def log_prob(self, z):
        delta = z - self.loc  # (n, B, D)
        if delta.ndim == 3 and delta.shape[0] <= 8:
            # few draws (training): a product and a sum; as a batched matrix-vector product,
            # its gradient is a slow bmm of outer products on the CPU
            quad = (delta.unsqueeze(-1) * self.tril).sum(-2)  # (L^T delta)^T
        else:
            quad = torch.einsum("...bi,bij->...bj", delta, self.tril)
        log_det = torch.log(torch.diagonal(self.tril, dim1=-2, dim2=-1)).sum(-1)
        return -0.5 * (quad**2).sum(-1) + log_det - 0.5 * self.loc.shape[-1] * _LOG_2PI

    def detach(self):
        """The same distribution with its parameters detached from the autograd graph (the
        stop-gradient copy behind the "sticking the landing" estimators)."""
        return PrecisionGaussian(self.loc.detach(), self.tril.detach())

    def __getitem__(self, index):
        return PrecisionGaussian(self.loc[index], self.tril[index])
