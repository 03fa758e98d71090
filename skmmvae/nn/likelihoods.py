"""Per-modality observation models ``p(x_s | z)``.

A likelihood owns whatever parameters are not produced by the decoder (a learnt per-feature
scale, say) and knows three things: how many numbers the decoder must output
(``n_params``), how to score data against those numbers (``log_prob``, summed over features),
and the mean used for imputation (``mean``). ``encoder_input`` maps stored data to what the
encoder network sees (one-hot for categorical labels).

Data scaling: ``set_data_scaling(mean, var)`` (per-feature moments of the observed training
data) fixes buffers so that the networks work in standardised units while every density,
mean and score stays in data units. The encoder sees ``(x - mean) / std``; a Gaussian or
Laplace decoder output ``o`` means the location ``mean + std * o`` and a learnt scale is
``std * (min_scale + softplus(raw))``; the other likelihoods add the log-odds, log-rate or
class log-frequencies of the data to their decoder output. A fresh model therefore starts at
the data's own marginal distribution, at any scale of the data. Without it the buffers are
the identity (shift 0, scale 1).

Data layout: every modality arrives as a float tensor ``(B, n_features)``; a categorical
modality arrives as ``(B, 1)`` holding the class index.

The count likelihoods ``"negative_binomial"`` and ``"zinb"`` learn a dispersion per feature
and, by default, take each row's total count as an offset of the decoder's rate (see
:class:`_Counts`); their encoders see ``log1p`` of the counts, standardised.

Each class declares its data: ``support`` (its name), ``constraint`` (a
``torch.distributions.constraints`` object that checks values, see :meth:`Likelihood.check_data`)
and ``is_label`` (True where a modality holds class labels, which the estimator encodes as
indices and gives back as labels). A new likelihood needs no edit outside its class.
"""
import math
import numbers

import torch
from torch import nn
from torch.distributions import constraints
from torch.nn import functional as F

from .distributions import normal_log_prob_cells, positive_scale

_MIN_FREQUENCY = 1e-4  # floor of frequencies and rates whose log starts a decoder's output


# Scale of a constant feature's location, relative to the constant (about float32's epsilon).
_CONSTANT_STEP = 2.0**-23


def _spread(var):
    """Standard deviations, with 1 for constant features (nothing to standardise)."""
    std = var.clamp_min(0).sqrt()
    return torch.where(std > 0, std, torch.ones_like(std))


class Likelihood(nn.Module):
    """Base class. ``support`` names the data domain, ``constraint`` checks it (``needs`` says
    it in words), ``is_label`` marks a modality of class labels (see the module docstring)."""

    support = "real"
    constraint = constraints.real
    needs = "real values"
    is_label = False

    @classmethod
    def check_data(cls, x):
        """None if every value of ``x`` (a tensor; NaN cells are missing and not checked) lies
        in the support, else what the likelihood needs, e.g. ``"values in [0, 1]"``."""
        x = x[~torch.isnan(x)]
        return None if bool(cls.constraint.check(x).all()) else cls.needs

    def __init__(self, n_features):
        super().__init__()
        self.n_features = int(n_features)
        self.register_buffer("input_shift", torch.zeros(self.n_features))
        self.register_buffer("input_scale", torch.ones(self.n_features))

    @property
    def n_params(self):
        return self.n_features

    # Whether the encoder also sees which cells are observed (a second block of 0/1 inputs):
    # set before the networks are built for modalities with missing cells in observed rows.
    missing_cells = False
    # With ``missing_cells``, the fraction of observed cells hidden from the encoder at random
    # in training mode (each step anew), while the likelihood still scores them: the encoder
    # learns to predict cells it does not see, the cell-level analogue of training q(z | x_S)
    # on subsets S. The bound stays a lower bound (any q gives one).
    cell_dropout = 0.0

    @property
    def input_features(self):
        """Width of the encoder input for this modality (doubled with ``missing_cells``)."""
        return 2 * self.n_features if self.missing_cells else self.n_features

    def encoder_input(self, x):
        """Standardised data; a missing (NaN) cell is 0, the mean of its feature, and with
        ``missing_cells`` the 0/1 mask of observed cells follows (as MIWAE's encoder sees), a
        ``cell_dropout`` fraction of them hidden at random in training mode."""
        observed = ~torch.isnan(x)
        if self.missing_cells and self.training and self.cell_dropout > 0:
            observed = observed & (torch.rand(x.shape, device=x.device) >= self.cell_dropout)
        z = torch.where(observed, (x - self.input_shift) / self.input_scale,
                        torch.zeros((), dtype=x.dtype, device=x.device))
        if self.missing_cells:
            return torch.cat([z, observed.to(z.dtype)], -1)
        return z

    def statistics_input(self, x):
        """What ``set_data_scaling`` takes moments of: the data itself (one-hot for labels)."""
        return x

    def set_data_scaling(self, mean, var):
        """Standardise the encoder input with the data's per-feature ``mean`` and ``var``."""
        self.input_shift.copy_(mean)
        self.input_scale.copy_(_spread(var))

    def _register_output_shift(self):
        self.register_buffer("output_shift", torch.zeros(self.n_params))

    def _natural(self, params):
        """The natural parameters (logits, log-rates) of decoder output ``params``: shifted by
        those of the data (see ``set_data_scaling``)."""
        return self.output_shift + params

    def log_prob(self, params, x, observed=None):
        """``log p(x | params)`` summed over the observed features of each row.

        ``observed`` is a boolean mask broadcastable to ``x`` (``(B, n_features)``; one column
        for a categorical modality); ``None`` means the cells of ``x`` that are not NaN. Cells
        outside it add nothing, whatever ``x`` holds there (NaN included: they are replaced
        by a finite filler before the density is computed, so gradients stay finite).
        """
        if observed is None:
            observed = ~torch.isnan(x)
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        cells = self.log_prob_cells(params, torch.where(observed, x, zero))
        return torch.where(observed, cells, zero.to(cells.dtype)).sum(-1)

    def log_prob_cells(self, params, x):  # pragma: no cover - abstract
        """Per-feature log-densities ``(..., n_features)``."""
        raise NotImplementedError

    def sample(self, params):  # pragma: no cover - abstract
        """A draw of ``x ~ p(x | params)`` (from torch's global generator), shaped as ``mean``."""
        raise NotImplementedError

    def mean(self, params):  # pragma: no cover - abstract
        raise NotImplementedError

    def mean_given(self, params, x):
        """The mean for imputing rows whose observed cells are ``x`` (``(B, n_features)``, NaN
        where missing, a whole row of NaN where the modality is missing). The default ignores
        ``x``; the count likelihoods take a row's library size from it."""
        return self.mean(params)

    def sample_given(self, params, x):
        """A draw for imputing rows whose observed cells are ``x`` (see :meth:`mean_given`)."""
        return self.sample(params)

    # Whether the training rows are shown to ``observe`` (then ``finish_observing``) once
    # before training, whether or not the data scaling is set: for statistics that are not
    # moments, such as the median library size of the count likelihoods.
    observes_data = False

    def observe(self, x):
        """Take note of observed training rows ``x`` (NaN where a cell is missing)."""

    def finish_observing(self):
        """Set what ``observe`` collected."""


class _LocationScale(Likelihood):
    """Shared machinery of the Gaussian and Laplace likelihoods.

    ``scale="learned"`` learns one scale per feature (``min_scale + softplus(raw)``, initial
    value 1, so ``min_scale`` must be in [0, 1)); a positive float fixes the scale.
    """

    def __init__(self, n_features, scale="learned", min_scale=1e-3):
        super().__init__(n_features)
        self._register_output_shift()
        self.register_buffer("output_scale", torch.ones(self.n_features))
        self.min_scale = float(min_scale)
        if not 0 <= self.min_scale < 1:  # the learnt scale starts at 1, above min_scale
            raise ValueError(f"min_scale must be in [0, 1), got {min_scale}")
        if scale == "learned":
            init = math.log(math.expm1(1.0 - self.min_scale))  # softplus^-1 so scale starts at 1
            self.raw_scale = nn.Parameter(torch.full((self.n_features,), init))
            self.register_buffer("fixed_scale", None)
        else:
            scale = float(scale)
            if not scale > 0:
                raise ValueError(f"a fixed scale must be positive, got {scale}")
            self.raw_scale = None
            self.register_buffer("fixed_scale", torch.full((self.n_features,), scale))

    @property
    def scale(self):
        """Per-feature scale in data units (a learnt one is relative to the data's spread)."""
        if self.raw_scale is None:
            return self.fixed_scale
        return self.output_scale * positive_scale(self.raw_scale, self.min_scale)

    def location(self, params):
        """The location in data units for decoder output ``params``."""
        return self.output_shift + self.output_scale * params

    def set_data_scaling(self, mean, var):
        super().set_data_scaling(mean, var)
        self.output_shift.copy_(mean)
        # A constant feature has no spread: its location's scale is a float32 rounding step
        # of the constant (not 1, which swamps a constant of 3e-6), so that the decoder mean
        # stays the constant up to rounding at any magnitude.
        step = torch.where(mean != 0, mean.abs(), torch.ones_like(mean)) * _CONSTANT_STEP
        step = step.clamp_min(torch.finfo(torch.float32).tiny)
        spread = var.clamp_min(0).sqrt()
        self.output_scale.copy_(torch.where(spread > 0, spread, step))

    def mean(self, params):
        return self.location(params)


class Gaussian(_LocationScale):
    """Gaussian with decoder mean and a learnt (or fixed) per-feature standard deviation."""

    def log_prob_cells(self, params, x):
        return normal_log_prob_cells(x, self.location(params), self.scale)

    def sample(self, params):
        location = self.location(params)
        return location + self.scale * torch.randn_like(location)


class Laplace(_LocationScale):
    """Laplace with decoder location and a learnt (or fixed) per-feature scale."""

    def log_prob_cells(self, params, x):
        scale = self.scale
        return -(x - self.location(params)).abs() / scale - torch.log(2 * scale)

    def sample(self, params):
        location = self.location(params)
        return torch.distributions.Laplace(location, self.scale.expand_as(location)).sample()


class Bernoulli(Likelihood):
    """Bernoulli on logits; data in [0, 1] (fractional values give the cross-entropy)."""

    support = "unit_interval"
    constraint = constraints.unit_interval
    needs = "values in [0, 1]"

    def __init__(self, n_features):
        super().__init__(n_features)
        self._register_output_shift()

    def set_data_scaling(self, mean, var):
        super().set_data_scaling(mean, var)
        p = mean.clamp(_MIN_FREQUENCY, 1 - _MIN_FREQUENCY)
        self.output_shift.copy_(torch.log(p) - torch.log1p(-p))

    def log_prob_cells(self, params, x):
        logits = self._natural(params)
        return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")

    def mean(self, params):
        return torch.sigmoid(self._natural(params))

    def sample(self, params):
        return torch.bernoulli(self.mean(params))


class Poisson(Likelihood):
    """Poisson on the log-rate; data are non-negative counts."""

    support = "count"
    constraint = constraints.nonnegative_integer
    needs = "non-negative integer counts"

    def __init__(self, n_features):
        super().__init__(n_features)
        self._register_output_shift()

    def set_data_scaling(self, mean, var):
        super().set_data_scaling(mean, var)
        self.output_shift.copy_(torch.log(mean.clamp_min(_MIN_FREQUENCY)))

    def log_prob_cells(self, params, x):
        log_rate = self._natural(params)
        return x * log_rate - torch.exp(log_rate) - torch.lgamma(x + 1)

    def mean(self, params):
        return torch.exp(self._natural(params))

    def sample(self, params):
        return torch.poisson(self.mean(params))


class Categorical(Likelihood):
    """Categorical on logits over ``n_classes``; data are class indices stored as ``(B, 1)``."""

    support = "categorical"
    constraint = constraints.nonnegative_integer
    needs = "class indices"
    is_label = True

    def __init__(self, n_features=1, n_classes=2):
        super().__init__(1)
        if int(n_classes) < 2:
            raise ValueError(f"a categorical modality needs at least 2 classes, got {n_classes}")
        self.n_classes = int(n_classes)
        self._register_output_shift()

    @property
    def n_params(self):
        return self.n_classes

    @property
    def input_features(self):
        return self.n_classes

    def encoder_input(self, x):
        return F.one_hot(x[..., 0].long(), self.n_classes).to(x.dtype)

    def statistics_input(self, x):
        return self.encoder_input(x)

    def set_data_scaling(self, mean, var):
        """``mean`` is the class frequencies: the logits start at their logarithms."""
        self.output_shift.copy_(torch.log(mean.clamp_min(_MIN_FREQUENCY)))

    def log_prob_cells(self, params, x):
        logits = self._natural(params)
        index = x.long().expand(*logits.shape[:-1], 1)
        return torch.log_softmax(logits, -1).gather(-1, index)

    def mean(self, params):
        """Class probabilities (the estimator turns them into labels)."""
        return torch.softmax(self._natural(params), -1)

    def sample(self, params):
        """A class drawn from the probabilities, one-hot (shaped as :meth:`mean`)."""
        probs = self.mean(params)
        drawn = torch.multinomial(probs.reshape(-1, self.n_classes), 1).reshape(*probs.shape[:-1])
        return F.one_hot(drawn, self.n_classes).to(probs.dtype)



# ---------------------------------------------------------------------------- count models
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
        self.output_shift[:d].copy_(torch.log(mean.clamp_min(_MIN_FREQUENCY)))
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


LIKELIHOODS = {
    "gaussian": Gaussian,
    "laplace": Laplace,
    "bernoulli": Bernoulli,
    "categorical": Categorical,
    "poisson": Poisson,
    "negative_binomial": NegativeBinomial,
    "zinb": ZeroInflatedNegativeBinomial,
}


def make_likelihood(name, n_features, **options):
    """Build a likelihood from its registry name, e.g. ``make_likelihood("gaussian", 10)``.

    Parameters
    ----------
    name : str
        Key of ``LIKELIHOODS``: ``"gaussian"``, ``"laplace"``, ``"bernoulli"``,
        ``"categorical"``, ``"poisson"``, ``"negative_binomial"`` or ``"zinb"``.
    n_features : int
        Number of features of the modality (1 for a categorical modality).
    **options
        Further keyword arguments of the likelihood class: ``scale`` and ``min_scale`` of
        ``"gaussian"`` and ``"laplace"``, ``n_classes`` of ``"categorical"``,
        ``library_size`` of ``"negative_binomial"`` and ``"zinb"``.

    Returns
    -------
    nn.Module
        The observation model: ``log_prob(params, x)`` sums over the features, ``mean(params)``
        is the mean, and the decoder must output ``n_params`` numbers.

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn import make_likelihood
    >>> gaussian = make_likelihood("gaussian", 3)
    >>> params, x = torch.zeros(2, 3), torch.ones(2, 3)  # decoder output and data, (B, 3)
    >>> gaussian.log_prob(params, x).shape
    torch.Size([2])
    >>> normal = torch.distributions.Normal(0.0, 1.0)  # the learnt scale starts at 1
    >>> torch.allclose(gaussian.log_prob(params, x), normal.log_prob(x).sum(-1))
    True

    A categorical modality holds class indices in one column; its decoder outputs one logit
    per class:

    >>> labels = make_likelihood("categorical", 1, n_classes=4)
    >>> labels.n_params
    4
    >>> labels.mean(torch.zeros(2, 4))
    tensor([[0.2500, 0.2500, 0.2500, 0.2500],
            [0.2500, 0.2500, 0.2500, 0.2500]])

    A negative binomial takes each row's total count as its library size (the decoder gives
    the proportions of the features) and imputes at the ``library_size`` option:

    >>> counts = make_likelihood("negative_binomial", 3, library_size=100)
    >>> counts.mean(torch.zeros(1, 3))  # equal proportions, at a library of 100
    tensor([[33.3333, 33.3333, 33.3333]])
    >>> make_likelihood("beta", 3)
    Traceback (most recent call last):
    ...
    ValueError: unknown likelihood 'beta'; choose from ['bernoulli', 'categorical', ...]
    """
    try:
        cls = LIKELIHOODS[name]
    except KeyError:
        raise ValueError(f"unknown likelihood {name!r}; choose from {sorted(LIKELIHOODS)}") from None
    return cls(n_features, **options)
