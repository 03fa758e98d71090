"""Count likelihoods with learnt dispersion and library sizes: ``"negative_binomial"`` and
``"zinb"`` (zero-inflated), added to :data:`~skmmvae.nn.LIKELIHOODS` when ``skmmvae.nn`` is
imported.

Both take, by default, each row's observed total count as an offset of the decoder's rate, as
scVI does (see :class:`_Counts`), and impute at the library size of their ``library_size``
option. Their encoders see ``log1p`` of the counts, standardised; the data scaling starts the
decoder at the data's per-feature means, the dispersion at its moment estimate and the zero
inflation at the zeros that the negative binomial does not explain.
"""
import math
import numbers

import torch
from torch import nn
from torch.distributions import constraints
from torch.nn import functional as F

from .likelihoods import LIKELIHOODS, Likelihood

_MIN_MEAN = 1e-4  # floor of the per-feature means whose log starts the decoder's output
# Library sizes below this are taken as this (a row whose observed counts are all 0).
_MIN_LIBRARY = 1e-8
# Bounds of the inverse dispersion that the data scaling starts a learnt one at.
_THETA_START = (1e-2, 1e3)


def _check_library_size(library_size, allow_none):
    """The ``library_size`` option: ``"median"``, ``"observed"``, a positive number (or None)."""
    if library_size is None and allow_none:
        return None
    if isinstance(library_size, str):
        if library_size in ("median", "observed"):
            return library_size
    elif isinstance(library_size, numbers.Real) and not isinstance(library_size, bool):
        if math.isfinite(library_size) and library_size > 0:
            return float(library_size)  # (a numpy number too: stored as a plain float)
    choices = "'median', 'observed', a positive number" + (" or None" if allow_none else "")
    raise ValueError(f"library_size must be {choices}, got {library_size!r}")


class _Counts(Likelihood):
    """Shared machinery of the count likelihoods: data checks, the library size and the mean.

    With a ``library_size`` (not None) the decoder outputs the log-proportions of the features
    (a softmax) and the mean of a row is its library size times them, as in scVI: in training
    and scoring the library size is the row's observed total count, so that the latent space
    need not explain sequencing depth. A row with missing cells is scored on its observed
    cells, whose proportions are renormalised to sum to 1 (their mean total is the observed
    total). Imputed means (``predict``, ``inverse_transform``, ``sample``) are at:

    - ``"median"``: the median total count of the complete training rows (the sum of the
      per-feature training means where no row is complete);
    - ``"observed"``: for the missing cells of a row with observed cells, that row's observed
      total (the mean of its missing cells given its observed ones); for a row where the
      modality is missing, the median;
    - a number: that library size for every row (e.g. ``1e4`` for counts per 10,000).

    The mean is proportional to the library size, so means at another per-row library
    ``l_i`` are the means at a number ``L`` times ``l_i / L``. With ``library_size=None`` the
    decoder outputs the log-mean itself (no offset).
    """

    support = "count"
    constraint = constraints.nonnegative_integer
    needs = "non-negative integer counts"

    @classmethod
    def check_data(cls, x):
        x = x[~torch.isnan(x)]
        if bool(cls.constraint.check(x).all()):
            return None
        negative = x[x < 0]
        if len(negative):
            return f"{cls.needs} (got negative values, e.g. {float(negative[0]):g})"
        fraction = x[x != torch.round(x)]
        return (f"{cls.needs} (got non-integer values, e.g. {float(fraction[0]):g}: pass raw "
                "counts, not normalised or log-transformed ones)")

    def __init__(self, n_features, library_size="median"):
        super().__init__(n_features)
        self.library_size = _check_library_size(library_size, allow_none=True)
        self._register_output_shift()
        # the library size of "median" (set from the training data by observe / set_data_scaling)
        self.register_buffer("default_library", torch.ones(()))
        self._totals = self._sums = self._counts = None

    @property
    def observes_data(self):
        """Whether the module must show this likelihood the training rows (see ``observe``)."""
        return self.library_size is not None

    def observe(self, x):
        """Collect the total counts of the complete rows of ``x`` (observed training rows, NaN
        where a cell is missing), for the median library size of ``finish_observing``."""
        x = x.double()
        observed = ~torch.isnan(x)
        totals = x[observed.all(-1)].sum(-1)
        sums, counts = torch.nansum(x, 0), observed.sum(0)
        if self._totals is None:
            self._totals, self._sums, self._counts = totals, sums, counts
        else:
            self._totals = torch.cat([self._totals, totals])
            self._sums, self._counts = self._sums + sums, self._counts + counts

    def finish_observing(self):
        """Set ``default_library`` to the median of the collected row totals, or where no row
        was complete to the sum of the per-feature means (the mean total of a complete row)."""
        totals, sums, counts = self._totals, self._sums, self._counts
        self._totals = self._sums = self._counts = None
        if totals is None:
            return
        if len(totals):
            ordered = totals.sort().values  # the median (torch.median gives the lower of two)
            value = float(ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2]) / 2
        else:
            value = float((sums / counts.clamp_min(1)).sum())
        self.default_library.fill_(max(value, _MIN_LIBRARY))

    # the encoder input and the moments
    def encoder_input(self, x):
        """``log1p`` of the counts, standardised (as scVI's encoder sees them)."""
        return super().encoder_input(torch.log1p(x))

    def statistics_input(self, x):
        """The encoder's values, the counts, and whether each count is 0 (moments: the
        encoder's standardisation, the marginal means and variances, the zero fractions)."""
        zero = (x == 0).to(x.dtype).where(~torch.isnan(x), x)  # NaN stays NaN (missing)
        return torch.cat([torch.log1p(x), x, zero], -1)

    def set_data_scaling(self, mean, var):
        d = self.n_features
        if mean.shape[-1] == 3 * d:  # the moments of statistics_input
            enc_mean, enc_var = mean[:d], var[:d]
            mean, var, zeros = mean[d : 2 * d], var[d : 2 * d], mean[2 * d :]
        else:  # the moments of the counts alone
            enc_mean, enc_var, zeros = mean, var, None
            # log1p moments unknown: a delta-method approximation
            enc_mean, enc_var = torch.log1p(mean), var / (1 + mean) ** 2
        Likelihood.set_data_scaling(self, enc_mean, enc_var)
        self.output_shift[:d].copy_(torch.log(mean.clamp_min(_MIN_MEAN)))
        self._start_dispersion(mean, var, zeros)

    def _start_dispersion(self, mean, var, zeros):
        """Start the learnt parameters beyond the mean at the data's marginal (subclasses)."""

    # the mean
    def _log_mean(self, params, x=None, observed=None, library=None):
        """Log-means ``(..., n_features)`` of decoder output ``params``.

        ``library`` None: the rows' library sizes are the totals of ``x`` over ``observed``
        (training and scoring); else a tensor broadcastable to ``(..., 1)``.
        """
        logits = self.output_shift[: self.n_features] + params[..., : self.n_features]
        if self.library_size is None:
            return logits
        log_p = torch.log_softmax(logits, -1)
        if library is not None:
            return log_p + torch.log(library)
        if observed is not None and not bool(observed.all()):
            neg_inf = torch.full((), -math.inf, dtype=log_p.dtype, device=log_p.device)
            any_observed = observed.any(-1, keepdim=True)
            log_norm = torch.logsumexp(torch.where(observed, log_p, neg_inf), -1, keepdim=True)
            log_p = log_p - torch.where(any_observed, log_norm, torch.zeros_like(log_norm))
        total = x.sum(-1, keepdim=True).clamp_min(_MIN_LIBRARY)
        return log_p + torch.log(total)

    def imputation_library(self, like):
        """The library size of imputations where no row total is used (a scalar tensor in the
        dtype and device of ``like``): the number given, else ``default_library``."""
        if isinstance(self.library_size, float):
            return torch.tensor(self.library_size, dtype=like.dtype, device=like.device)
        return self.default_library.to(like.dtype)

    def _imputation_log_mean(self, params, x):
        """Log-means for imputing rows whose observed cells are ``x`` (NaN where missing)."""
        if self.library_size is None:
            return self._log_mean(params)
        if self.library_size == "observed" and x is not None:
            observed = ~torch.isnan(x)
            filled = torch.where(observed, x, torch.zeros((), dtype=x.dtype, device=x.device))
            log_observed = self._log_mean(params, filled, observed)
            log_default = self._log_mean(params, library=self.imputation_library(params))
            return torch.where(observed.any(-1, keepdim=True), log_observed, log_default)
        return self._log_mean(params, library=self.imputation_library(params))

    def log_prob(self, params, x, observed=None):
        if observed is None:
            observed = ~torch.isnan(x)
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        filled = torch.where(observed, x, zero)
        observed = observed.expand_as(filled)
        cells = self._cells(params, self._log_mean(params, filled, observed), filled)
        return torch.where(observed, cells, zero.to(cells.dtype)).sum(-1)

    def log_prob_cells(self, params, x):
        return self._cells(params, self._log_mean(params, x), x)

    def _cells(self, params, log_mean, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def mean(self, params):
        return self.mean_given(params, None)

    def sample(self, params):
        return self.sample_given(params, None)


class LibraryPoisson(_Counts):
    """Poisson with the library-size offset of the count likelihoods: what
    ``make_likelihood("poisson", d, library_size=...)`` builds for a ``library_size`` that is
    not None (``"median"``, ``"observed"`` or a number, as for :class:`NegativeBinomial`).

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn import make_likelihood
    >>> poisson = make_likelihood("poisson", 3, library_size="median")
    >>> type(poisson).__name__
    'LibraryPoisson'
    >>> x = torch.tensor([[1.0, 2.0, 3.0]])  # total 6: rates 6 * softmax(0) = 2 each
    >>> expected = torch.distributions.Poisson(torch.full((3,), 2.0)).log_prob(x).sum(-1)
    >>> torch.allclose(poisson.log_prob(torch.zeros(1, 3), x), expected)
    True
    """

    def __init__(self, n_features, library_size="median"):
        super().__init__(n_features, library_size)

    def _cells(self, params, log_mean, x):
        return x * log_mean - torch.exp(log_mean) - torch.lgamma(x + 1)

    def mean_given(self, params, x):
        return torch.exp(self._imputation_log_mean(params, x))

    def sample_given(self, params, x):
        return torch.poisson(self.mean_given(params, x))


def _nb_log_pmf(x, log_mean, theta):
    """Negative binomial log-pmf with mean ``exp(log_mean)`` and inverse dispersion ``theta``
    (variance ``mu + mu**2 / theta``)."""
    log_theta = torch.log(theta)
    log_total = torch.logaddexp(log_theta, log_mean)  # log(theta + mu)
    return (torch.lgamma(x + theta) - torch.lgamma(theta) - torch.lgamma(x + 1)
            + theta * (log_theta - log_total) + x * (log_mean - log_total))


class NegativeBinomial(_Counts):
    """Negative binomial with decoder log-mean (or log-proportions times a library size, see
    ``library_size``) and a learnt per-feature inverse dispersion ``theta`` (variance
    ``mu + mu**2 / theta``); data are non-negative counts.

    ``library_size`` is ``"median"`` (default), ``"observed"``, a positive number or None:
    the library size of the imputations (see ``_Counts`` in this module, and the user guide's
    single-cell page).

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn import make_likelihood
    >>> nb = make_likelihood("negative_binomial", 2, library_size=None)
    >>> x = torch.tensor([[0.0, 3.0]])
    >>> nb.log_prob(torch.zeros(1, 2), x).detach()  # mean 1 (log-mean 0), theta 1
    tensor([-3.4657])
    """

    _n_heads = 1

    def __init__(self, n_features, library_size="median"):
        super().__init__(n_features, library_size)
        # theta = softplus(raw); raw 0.5413 starts it at 1 (set from the data by the scaling)
        self.raw_dispersion = nn.Parameter(torch.full((self.n_features,), math.log(math.expm1(1.0))))

    @property
    def n_params(self):
        return self._n_heads * self.n_features

    @property
    def dispersion(self):
        """The per-feature inverse dispersion ``theta`` (larger: closer to a Poisson)."""
        return F.softplus(self.raw_dispersion) + 1e-6

    def _start_dispersion(self, mean, var, zeros):
        excess = (var - mean).clamp_min(0)
        theta = torch.where(excess > 0, mean**2 / excess.clamp_min(1e-12), torch.full_like(mean, _THETA_START[1]))
        theta = theta.clamp(*_THETA_START)
        with torch.no_grad():
            self.raw_dispersion.copy_((theta + torch.log(-torch.expm1(-theta))).to(self.raw_dispersion.dtype))
        return theta

    def _cells(self, params, log_mean, x):
        return _nb_log_pmf(x, log_mean, self.dispersion)

    def mean_given(self, params, x):
        return torch.exp(self._imputation_log_mean(params, x))

    def _gamma_poisson(self, mu):
        theta = self.dispersion.expand_as(mu)
        rate = torch.distributions.Gamma(theta, theta / mu.clamp_min(_MIN_LIBRARY)).sample()
        return torch.poisson(rate)

    def sample_given(self, params, x):
        return self._gamma_poisson(self.mean_given(params, x))


class ZeroInflatedNegativeBinomial(NegativeBinomial):
    """Zero-inflated negative binomial: with probability ``pi`` (from the decoder, per cell) a
    count is 0, else negative binomial as :class:`NegativeBinomial` (learnt per-feature
    inverse dispersion, ``library_size``). The decoder outputs the log-means (or
    log-proportions) and the logits of ``pi``; the mean is ``(1 - pi) * mu``.
    """

    _n_heads = 2

    def dropout_logits(self, params):
        """The logits of the zero-inflation probability ``pi`` of each cell."""
        return self.output_shift[self.n_features :] + params[..., self.n_features :]

    def _start_dispersion(self, mean, var, zeros):
        theta = super()._start_dispersion(mean, var, zeros)
        if zeros is None:
            pi = torch.full_like(mean, 0.01)
        else:  # the zeros in excess of the negative binomial's at these moments
            nb_zero = torch.exp(theta * (torch.log(theta) - torch.log(theta + mean)))
            pi = ((zeros - nb_zero) / (1 - nb_zero).clamp_min(1e-6))
        pi = torch.nan_to_num(pi, nan=0.01).clamp(0.01, 0.5)
        self.output_shift[self.n_features :].copy_(torch.log(pi) - torch.log1p(-pi))

    def _cells(self, params, log_mean, x):
        g = self.dropout_logits(params)
        log_pi, log_not_pi = -F.softplus(-g), -F.softplus(g)
        nb = _nb_log_pmf(x, log_mean, self.dispersion)
        return torch.where(x == 0, torch.logaddexp(log_pi, log_not_pi + nb), log_not_pi + nb)

    def mean_given(self, params, x):
        keep = torch.sigmoid(-self.dropout_logits(params))
        return keep * torch.exp(self._imputation_log_mean(params, x))

    def sample_given(self, params, x):
        mu = torch.exp(self._imputation_log_mean(params, x))
        keep = torch.bernoulli(torch.sigmoid(-self.dropout_logits(params)))
        return keep * self._gamma_poisson(mu)


LIKELIHOODS.update({"negative_binomial": NegativeBinomial, "zinb": ZeroInflatedNegativeBinomial})
