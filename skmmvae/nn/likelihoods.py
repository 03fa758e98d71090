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

The count likelihoods ``"negative_binomial"`` and ``"zinb"`` (in ``skmmvae.nn.counts``, which
adds them to the registry) learn a dispersion per feature and, by default, take each row's
total count as an offset of the decoder's rate; their encoders see ``log1p`` of the counts,
standardised.

Each class declares its data: ``support`` (its name), ``constraint`` (a
``torch.distributions.constraints`` object that checks values, see :meth:`Likelihood.check_data`)
and ``is_label`` (True where a modality holds class labels, which the estimator encodes as
indices and gives back as labels). A new likelihood needs no edit outside its class.
"""
import math

import torch
from torch import nn
from torch.distributions import constraints
from torch.nn import functional as F

from .distributions import _LOG_2PI, normal_log_prob_cells, positive_scale

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

    def group_key(self):
        """None, or a key under which likelihoods of several modalities score as one group
        with the class's ``log_prob_group`` (see :class:`Gaussian`)."""
        return None

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
        z = _standardised(x, observed, self.input_shift, self.input_scale)
        if self.missing_cells:
            return torch.cat([z, observed.to(z.dtype)], -1)
        return z

    @staticmethod
    def encoder_input_group(likelihoods, xs):
        """The encoder inputs of a group of modalities of one input width, stacked ``(G, B,
        width)``: each member's :meth:`encoder_input`, computed as one operation where the
        members standardise as this base class does, have no missing cells and do not hide
        cells in training (else member by member)."""
        plain = all(type(lik).encoder_input is Likelihood.encoder_input and not lik.missing_cells
                    for lik in likelihoods)
        if not plain:
            return torch.stack([lik.encoder_input(x) for lik, x in zip(likelihoods, xs)])
        x = torch.stack(xs)
        shift = _stack_against(x, [lik.input_shift for lik in likelihoods])
        scale = _stack_against(x, [lik.input_scale for lik in likelihoods])
        return _standardised(x, ~torch.isnan(x), shift, scale)

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
        return _observed_sum(lambda filled: self.log_prob_cells(params, filled), x, observed)

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

    def log_prob(self, params, x, observed=None):
        """``log p(x | params)`` summed over the observed features of each row (as
        :meth:`Likelihood.log_prob`), computed from one residual per cell,
        ``((x - shift) / output_scale - params) / relative_scale``: a few passes over the
        ``(..., B, n_features)`` decoder output instead of one per operation of the cell-wise
        density (the likelihood is a large part of a training step with many features)."""
        return _gaussian_log_prob(params, x, observed, self.output_shift, self.output_scale,
                                  self._relative_scale(), self.scale)

    def _relative_scale(self):
        """The scale relative to ``output_scale`` (computed without a reciprocal where learnt:
        a constant feature's output_scale is a float32 rounding step)."""
        if self.raw_scale is None:
            return self.fixed_scale / self.output_scale
        return positive_scale(self.raw_scale, self.min_scale)

    def group_key(self):
        """Likelihoods with equal keys score as one group (:meth:`log_prob_group`); None for a
        subclass that scores otherwise (it may define its own key and group computation)."""
        if _overrides(self, Gaussian, ("log_prob", "_relative_scale", "scale")):
            return None
        return (type(self), self.n_features, self.min_scale, self.raw_scale is None)

    @staticmethod
    def log_prob_group(likelihoods, params, x):
        """``log p(x_g | params_g)`` of a group of Gaussian likelihoods with equal
        :meth:`group_key` in one computation: ``params`` ``(G, ..., B, n_features)`` (the
        decoder outputs of the group, stacked), ``x`` ``(G, B, n_features)``; returns
        ``(G, ..., B)``, each entry what :meth:`log_prob` gives for its member (the same
        operations per cell, the same sums over features). With many modalities this replaces
        a dozen small operations per modality by a dozen for the group."""
        x = _data_against(params, x)
        shift = _stack_against(params, [lik.output_shift for lik in likelihoods])
        output_scale = _stack_against(params, [lik.output_scale for lik in likelihoods])
        relative = _stack_against(params, [lik._relative_scale() for lik in likelihoods])
        scale = _stack_against(params, [lik.scale for lik in likelihoods])
        return _gaussian_log_prob(params, x, None, shift, output_scale, relative, scale)

    def sample(self, params):
        location = self.location(params)
        return location + self.scale * torch.randn_like(location)


def _standardised(x, observed, shift, scale):
    """``(x - shift) / scale`` in the ``observed`` cells, 0 (the feature's mean) elsewhere."""
    return torch.where(observed, (x - shift) / scale, torch.zeros((), dtype=x.dtype, device=x.device))


def _stack_against(target, tensors):
    """Per-feature tensors of a group's members ``(n_features,)`` stacked as ``(G, 1, ..., 1,
    n_features)``, to broadcast against ``target`` ``(G, ..., n_features)``."""
    return torch.stack(tensors).view(len(tensors), *([1] * (target.dim() - 2)), -1)


def _data_against(params, x):
    """A group's data ``(G, B, n_features)`` viewed against its decoder outputs ``params``
    ``(G, ..., B, n_features)`` (a singleton for each draw axis)."""
    return x.view(x.shape[0], *([1] * (params.dim() - 3)), *x.shape[1:])


def _overrides(lik, cls, names):
    """Whether the class of ``lik`` (``cls`` or a subclass) redefines any of the attributes
    ``names`` of ``cls``: then ``cls.log_prob_group``, which knows only ``cls``'s density,
    must not score it."""
    return any(getattr(type(lik), name) is not getattr(cls, name) for name in names)


def _observed_sum(cells_of, x, observed=None):
    """``cells_of(x with its unobserved cells zero)`` summed over the observed cells of the
    last axis (``observed`` None: the cells of ``x`` that are not NaN)."""
    if observed is None:
        observed = ~torch.isnan(x)
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    cells = cells_of(torch.where(observed, x, zero))
    return torch.where(observed, cells, zero.to(cells.dtype)).sum(-1)


def _gaussian_log_prob(params, x, observed, shift, output_scale, relative, scale):
    """Gaussian log-density of ``x`` summed over the observed features (the last axis): the
    location ``shift + output_scale * params``, the scale ``output_scale * relative`` (given
    as ``scale``); ``observed`` None means the cells of ``x`` that are not NaN."""
    if observed is None:
        missing = torch.isnan(x)
        # checking for missing cells costs a device synchronisation on an accelerator
        if x.device.type != "cpu" or bool(missing.any()):
            observed = ~missing
    if observed is not None:
        x = torch.where(observed, x, shift)  # a finite filler: finite gradients
    # (x - location) / scale = ((x - shift) / output_scale - params) / relative, computed
    # without reciprocals: a constant feature's output_scale is a float32 rounding step
    standardised = (x - shift) / output_scale  # (B, n_features): once per batch
    residual = (standardised - params) / relative
    squares = residual.square()
    log_norm = torch.log(scale) + 0.5 * _LOG_2PI  # per feature
    # the rows' normalising terms are summed as a (rows, features) table either way: a
    # row's score must not depend on whether another row of its batch misses a cell
    if observed is None:
        return -0.5 * squares.sum(-1) - (torch.ones_like(x, dtype=log_norm.dtype) * log_norm).sum(-1)
    squares = torch.where(observed, squares, torch.zeros((), dtype=squares.dtype, device=squares.device))
    return -0.5 * squares.sum(-1) - (observed.to(log_norm.dtype) * log_norm).sum(-1)


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
        return _bernoulli_cells(self._natural(params), x)

    def group_key(self):
        """Bernoulli modalities of one width score as one group (:meth:`log_prob_group`); None
        for a subclass that scores otherwise (as :meth:`Gaussian.group_key`)."""
        if _overrides(self, Bernoulli, ("log_prob", "log_prob_cells", "_natural")):
            return None
        return (type(self), self.n_features)

    @staticmethod
    def log_prob_group(likelihoods, params, x):
        """The log-probabilities of a group of Bernoulli modalities of one width in one
        computation (shapes as :meth:`Gaussian.log_prob_group`), each entry what
        :meth:`~Likelihood.log_prob` gives for its member."""
        shift = _stack_against(params, [lik.output_shift for lik in likelihoods])
        return _observed_sum(lambda filled: _bernoulli_cells(shift + params, filled), _data_against(params, x))

    def mean(self, params):
        return torch.sigmoid(self._natural(params))

    def sample(self, params):
        return torch.bernoulli(self.mean(params))


def _bernoulli_cells(logits, x):
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")


class Poisson(Likelihood):
    """Poisson on the log-rate; data are non-negative counts.

    ``library_size`` (default None: the decoder outputs the log-rate itself) gives the Poisson
    the library-size offset of the count likelihoods: ``"median"``, ``"observed"`` or a number
    build a :class:`skmmvae.nn.counts.LibraryPoisson` instead (see :mod:`skmmvae.nn.counts`).
    """

    support = "count"
    constraint = constraints.nonnegative_integer
    needs = "non-negative integer counts"

    def __new__(cls, n_features=1, library_size=None):
        if cls is Poisson and library_size is not None:
            from .counts import LibraryPoisson  # it imports this module

            return LibraryPoisson(n_features, library_size)
        return super().__new__(cls)

    def __init__(self, n_features, library_size=None):
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



LIKELIHOODS = {
    "gaussian": Gaussian,
    "laplace": Laplace,
    "bernoulli": Bernoulli,
    "categorical": Categorical,
    "poisson": Poisson,
    # "negative_binomial" and "zinb" are added by skmmvae.nn.counts (imported with skmmvae.nn)
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
