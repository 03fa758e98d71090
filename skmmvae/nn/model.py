"""The multi-modal VAE module: encoders -> aggregator -> latent -> decoders.

Pure PyTorch. Modalities are handled as an ordered list of tensors ``xs`` (one ``(B, d_s)``
tensor each, missing rows filled with zeros) plus a boolean ``mask`` ``(B, M)`` that says
which modalities are present (or, for an encoder call, which are in the conditioning set).
Within a present row, a NaN is a missing cell: the encoders see it as the feature's mean
(with the mask of observed cells where the likelihood has ``missing_cells``) and the
likelihoods score the observed cells only.
"""
import torch
from torch import nn

from .aggregators import AGGREGATORS, make_aggregator
from .distributions import gaussian_log_density, positive_scale, standard_normal
from .networks import FlattenSamples, StackedMember, StackedMLP, fit_width, mlp
from .likelihoods import Likelihood
from .priors import make_prior


@torch.no_grad()
def lecun_init(module, skip=()):
    """LeCun-normal weights (truncated at 2 std, variance ``1 / fan_in``) and zero biases for
    every ``nn.Linear`` of ``module`` whose ``id`` is not in ``skip``: the default of Flax, which
    the paper's code uses. PyTorch's default (uniform, variance ``1 / (3 fan_in)``) starts the
    networks with three times smaller weights, and they learn far more slowly (T1: 3.1 vs 0.3
    nats per sample below the maximum likelihood after 220 epochs).
    """
    for layer in module.modules():
        # a module built on the meta device (the memory check) has no values to set; torch
        # 2.11 imports its compiler for trunc_normal_ there, which fails inside the device context
        if isinstance(layer, nn.Linear) and id(layer) not in skip and not layer.weight.is_meta:
            # std of a standard normal truncated to [-2, 2] is 0.8796: correct for it
            std = layer.in_features**-0.5 / 0.87962566103423978
            nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class PrivateEncoder(nn.Module):
    """Permutation-equivariant encoder of modality-specific latents ``q(z~_s | x_S, z)``.

    For each ``s`` in ``S``: ``MLP(sum_{t in S} chi_pool(h_t) + chi_eq(h_s) + chi_z(z))`` gives
    a Gaussian over ``z~_s`` (paper section 2.7). Shared weights over modalities make it
    equivariant to their order.
    """

    def __init__(self, token_size, n_latent, n_private, hidden=128, min_scale=1e-3):
        super().__init__()
        self.n_private, self.min_scale = n_private, min_scale
        self.pool = nn.Linear(token_size, hidden)
        self.own = nn.Linear(token_size, hidden)
        self.from_z = nn.Linear(n_latent, hidden)
        self.head = mlp(hidden, (hidden,), 2 * n_private, "leaky_relu")

    def forward(self, tokens, mask, z):
        keep = mask.unsqueeze(-1)
        pooled = torch.where(keep, self.pool(tokens), torch.zeros((), dtype=tokens.dtype)).sum(1)
        h = pooled.unsqueeze(1) + self.own(tokens)  # (B, M, H)
        h = h.unsqueeze(0) + self.from_z(z).unsqueeze(-2)  # (C, B, M, H)
        loc, raw = self.head(h).split(self.n_private, -1)
        return loc, positive_scale(raw, self.min_scale)


_RESERVED_KEYS = frozenset(dir(nn.ModuleDict()))


def module_keys(names):
    """Keys of ``names`` (modality names, any strings) in an ``nn.ModuleDict``, in order.

    torch refuses keys that are empty, contain ``"."`` or name an attribute of the module
    (``"training"``, ``"forward"``, ...). Every other name is its own key, so the state-dict
    keys of such models (``likelihoods.<name>.<tensor>``) are those torch has always given.
    A refused name gets an escaped key: ``"%"`` and ``"."`` percent-encoded (``"rna.counts"``
    becomes ``"rna%2Ecounts"``), prefixed with ``"%"`` until it is a usable key that no other
    name of ``names`` has taken. The keys depend only on ``names``, so a model rebuilt from
    its names has the state-dict keys it was saved with.

    Examples
    --------
    >>> from skmmvae.nn.model import module_keys
    >>> module_keys(["rna", "rna.counts", "training"])
    ['rna', 'rna%2Ecounts', '%training']
    """

    def usable(key):
        return bool(key) and "." not in key and key not in _RESERVED_KEYS

    taken = {name for name in names if usable(name)}
    keys = []
    for name in names:
        key = name
        if not usable(name):
            key = name.replace("%", "%25").replace(".", "%2E")
            while not usable(key) or key in taken:
                key = "%" + key
            taken.add(key)
        keys.append(key)
    return keys


class MultiModalModule(nn.Module):
    """Multi-modal VAE ``p(z) prod_s p(x_s | z, z~_s)`` with an aggregated encoder ``q(z | x_S)``.

    Parameters
    ----------
    likelihoods : dict of str -> Likelihood
        One observation model per modality, in modality order.
    n_latent : int
        Size of the shared latent ``z``.
    aggregation : str
        Registry name of the aggregator (see :data:`skmmvae.nn.aggregators.AGGREGATORS`).
    n_prior_components : int
        1 for a standard normal prior, more for a learnable Gaussian mixture.
    n_private : int
        Size of each modality-specific latent (0 disables them).
    hidden_sizes, decoder_hidden_sizes : tuple of int
        Hidden widths of the default encoder and decoder MLPs.
    embedding_size : int
        Token width of the permutation-invariant aggregators.
    encoders, decoders : dict of str -> nn.Module, optional
        Custom networks for some modalities. An encoder maps the (one-hot for categorical)
        modality ``(B, d_s)`` to ``(B, width)``; a decoder maps ``(B, n_latent + n_private)``
        to ``(B, width)``. A ``Linear`` is appended when ``width`` is not the size needed.
        The built-in networks of modalities with the same input (encoders) or output
        (decoders) width are stacked: one :class:`~skmmvae.nn.networks.StackedMLP` per
        group (``encoder_stacks``, ``decoder_stacks``) runs them as one batched computation in
        training, and ``encoders[s]`` is then a parameter-free
        :class:`~skmmvae.nn.networks.StackedMember` view of its network.
    n_mixture_components : int
        Components of the ``*_mixture`` aggregators' posteriors.
    activation : str
        Activation of the default encoder and decoder MLPs (``"relu"``, ``"leaky_relu"``,
        ``"gelu"``, ``"tanh"`` or ``"silu"``).
    min_scale : float
        Lower bound of the standard deviations of the posteriors, of a mixture prior and of
        the private latents.
    aggregator_options : dict, optional
        Further keyword arguments of :func:`make_aggregator`.
    init : {"lecun", "torch"}
        Initialisation of the built-in linear layers (custom modules keep theirs):
        :func:`lecun_init`, or PyTorch's defaults.
    decoder_skip : bool
        Whether each built-in decoder MLP (with hidden layers) also maps its input linearly
        to its output: :class:`~skmmvae.nn.networks.SkipMLP`, ``MLP(z) + z @ W``.
    encoder_skip : bool
        Likewise for each built-in encoder MLP: ``MLP(x) + x @ W``.

    Examples
    --------
    Two modalities, a Gaussian one with 3 features and a Bernoulli one with 2, for a batch of
    four rows: both modalities observed, the first only, the second only, none (missing rows
    are filled with zeros):

    >>> import torch
    >>> from skmmvae.nn import MultiModalModule, make_likelihood
    >>> likelihoods = {"a": make_likelihood("gaussian", 3), "b": make_likelihood("bernoulli", 2)}
    >>> model = MultiModalModule(likelihoods, n_latent=2, hidden_sizes=(16,), embedding_size=8)
    >>> model.names, model.n_modalities
    (['a', 'b'], 2)
    >>> xs = [torch.randn(4, 3), torch.randint(0, 2, (4, 2)).float()]
    >>> mask = torch.tensor([[True, True], [True, False], [False, True], [False, False]])
    >>> xs = [x * mask[:, [s]] for s, x in enumerate(xs)]
    >>> q = model.encode(xs, mask)  # the posterior q(z | x_S), S given row-wise by mask
    >>> q.mean.shape
    torch.Size([4, 2])
    >>> [mean.shape for mean in model.decode_means(q.mean)]
    [torch.Size([4, 3]), torch.Size([4, 2])]

    Training maximises :func:`objective_terms`; the other aggregators are chosen by name:

    >>> poe = MultiModalModule(likelihoods, n_latent=2, aggregation="poe", hidden_sizes=(16,))
    >>> poe.aggregator.token_size  # an expert is a mean and a raw scale per latent dimension
    4
    """

    def __init__(
        self,
        likelihoods,
        n_latent,
        aggregation="sumpooling",
        n_prior_components=1,
        n_private=0,
        hidden_sizes=(128, 128),
        decoder_hidden_sizes=None,
        embedding_size=128,
        encoders=None,
        decoders=None,
        n_mixture_components=5,
        activation="relu",
        min_scale=1e-3,
        aggregator_options=None,
        init="lecun",
        decoder_skip=False,
        encoder_skip=False,
    ):
        super().__init__()
        self.names = list(likelihoods)
        self.n_latent, self.n_private = int(n_latent), int(n_private)
        # keyed by module_keys(names): torch's registry refuses some strings as keys
        self.likelihoods = nn.ModuleDict(dict(zip(module_keys(self.names), likelihoods.values())))
        aggregator_class = AGGREGATORS.get(aggregation, (None,))[0]
        if getattr(aggregator_class, "standard_normal_expert", False) and n_prior_components > 1:
            # Their prior expert is N(0, I): q(z | x_empty) could never match a mixture prior,
            # a KL that no encoder reduces (0.67 nats per row for poe at initialisation).
            raise ValueError(
                f"aggregation={aggregation!r} multiplies the experts with a N(0, I) prior expert, "
                f"which cannot agree with a mixture prior (n_prior_components={n_prior_components}); "
                "use n_prior_components=1, or a permutation-invariant aggregation such as "
                "'sumpooling' or 'selfattention' with the mixture prior"
            )
        self.prior = make_prior(n_latent, n_prior_components, min_scale)
        self.aggregator = make_aggregator(
            aggregation,
            n_latent,
            self.prior,
            embedding_size=embedding_size,
            hidden_sizes=hidden_sizes,
            n_mixture_components=n_mixture_components,
            min_scale=min_scale,
            **(aggregator_options or {}),
        )
        token_size = self.aggregator.token_size
        decoder_hidden = tuple(reversed(hidden_sizes)) if decoder_hidden_sizes is None else decoder_hidden_sizes
        encoders, decoders = encoders or {}, decoders or {}
        self.encoders = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for name, lik in zip(self.names, self.likelihoods.values()):
            # a built-in MLP has the width it is built with: only custom networks are probed
            # with a dummy batch (on the meta device of the memory check, that probe ran
            # torch's Python decompositions, about a millisecond per layer)
            enc = encoders.get(name)
            if enc is None:
                enc = mlp(lik.input_features, hidden_sizes, token_size, activation, skip=encoder_skip)
            else:
                enc = fit_width(enc, lik.input_features, token_size)
            self.encoders.append(enc)
            dec_in = self.n_latent + self.n_private
            dec = decoders.get(name)
            if dec is None:
                dec = mlp(dec_in, decoder_hidden, lik.n_params, activation, skip=decoder_skip)
            else:
                dec = fit_width(dec, dec_in, lik.n_params)
            self.decoders.append(FlattenSamples(dec))
        self.private = None
        if self.n_private:
            width = hidden_sizes[0] if hidden_sizes else token_size
            self.private = PrivateEncoder(token_size, n_latent, n_private, width, min_scale)
        if init == "lecun":
            user = {id(m) for net in (*encoders.values(), *decoders.values()) for m in net.modules()}
            lecun_init(self, skip=user)
        elif init != "torch":
            raise ValueError(f"unknown init {init!r}; choose 'lecun' or 'torch'")
        # built-in networks of one shape run as one batched computation (after the
        # initialisation, so that a model starts from the weights it always started from)
        self.encoder_stacks, self._encoder_groups = self._stack(
            self.encoders, [lik.input_features for lik in self.likelihoods.values()], set(encoders), False)
        self.decoder_stacks, self._decoder_groups = self._stack(
            self.decoders, [lik.n_params for lik in self.likelihoods.values()], set(decoders), True)

    def _stacks(self, stacks, groups):
        """The stacks to run as batched computations: in training mode only. In evaluation
        mode each modality's network runs on its own (a matrix product per network), whose
        rounding does not depend on the number of rows: a row alone scores and imputes
        exactly as in a larger batch, which a batched product does not guarantee."""
        return zip(stacks, groups) if self.training else ()

    def _stack(self, nets, widths, custom, wrapped):
        """Stack the built-in networks of ``nets`` (a ModuleList, one per modality) that share
        their input and output widths into :class:`StackedMLP` s, replacing each by a
        :class:`StackedMember` view; returns the stacks (a ModuleList) and the modality
        indices of each."""
        groups = {}
        for s, (name, width) in enumerate(zip(self.names, widths)):
            if name not in custom:
                groups.setdefault(width, []).append(s)
        groups = [group for group in groups.values() if len(group) > 1]
        stacks = nn.ModuleList()
        for group in groups:
            stack = StackedMLP.from_mlps([nets[s].module if wrapped else nets[s] for s in group])
            stacks.append(stack)
            for k, s in enumerate(group):
                nets[s] = StackedMember(stack, k)
        return stacks, groups

    @property
    def n_modalities(self):
        """Number of modalities."""
        return len(self.names)

    def _likelihood_groups(self):
        """Groups (lists of modality indices, more than one) whose likelihoods score as one
        computation: equal ``group_key``, not None (e.g. Gaussian modalities of one width)."""
        groups = {}
        for s, lik in enumerate(self.likelihoods.values()):
            key = lik.group_key()
            if key is not None:
                groups.setdefault(key, []).append(s)
        return [group for group in groups.values() if len(group) > 1]

    @torch.no_grad()
    def set_data_scaling(self, batches, standardize=True):
        """Standardise each modality with the moments of its observed rows in ``batches``.

        ``batches`` yields ``(xs, mask)`` pairs (see :meth:`tokens`). See the likelihoods'
        ``set_data_scaling``: the encoders then see standardised data and the decoders start
        at the data's marginal distribution, while densities stay in data units. Likelihoods
        with ``observes_data`` (the count likelihoods' median library size) are shown the
        observed rows too; with ``standardize=False`` only that is done.
        """
        liks = list(self.likelihoods.values())
        observers = [s for s, lik in enumerate(liks) if lik.observes_data]
        if not standardize and not observers:
            return
        count = [0] * len(liks)
        shift, total, total_sq = [None] * len(liks), [0.0] * len(liks), [0.0] * len(liks)
        for xs, mask in batches:
            for s in observers:
                liks[s].observe(xs[s][mask[:, s]])
            if not standardize:
                continue
            for s, (x, lik) in enumerate(zip(xs, liks)):
                values = lik.statistics_input(x[mask[:, s]]).double()
                if not len(values):
                    continue
                observed = ~torch.isnan(values)  # missing cells of observed rows
                if bool(observed.all()):
                    if shift[s] is None:  # moments about a first estimate: no cancellation
                        shift[s] = values.mean(0)
                    centred = values - shift[s]
                    count[s] = count[s] + len(values)
                else:
                    if shift[s] is None:
                        shift[s] = torch.nan_to_num(values.nanmean(0))
                    centred = torch.where(observed, values - shift[s], torch.zeros((), dtype=values.dtype))
                    count[s] = count[s] + observed.sum(0)
                total[s] = total[s] + centred.sum(0)
                total_sq[s] = total_sq[s] + (centred**2).sum(0)
        for s, lik in enumerate(liks if standardize else ()):
            if torch.is_tensor(count[s]) or count[s]:
                # a feature never observed: mean 0 and variance 1 (clamped count)
                n = count[s].clamp_min(1) if torch.is_tensor(count[s]) else count[s]
                mean = total[s] / n
                var = total_sq[s] / n - mean**2
                if torch.is_tensor(count[s]):
                    var = torch.where(count[s] > 0, var, torch.ones_like(var))
                lik.set_data_scaling(mean + shift[s], var)
        for s in observers:
            liks[s].finish_observing()

    def tokens(self, xs, mask):
        """Encode each modality: ``(B, M, E)``; rows of missing modalities are zeros."""
        liks = list(self.likelihoods.values())
        out = [None] * len(liks)  # each modality's token, zero in the rows where it is missing
        for stack, group in self._stacks(self.encoder_stacks, self._encoder_groups):
            inputs = Likelihood.encoder_input_group([liks[s] for s in group], [xs[s] for s in group])
            if stack.fits(inputs.shape[1]):
                h = stack(inputs)  # (G, B, E), masked in one operation
                h = torch.where(mask[:, group].T.unsqueeze(-1), h, torch.zeros((), dtype=h.dtype))
                # unbind, not h[k], so that the backward pass is one step (indexing gives each a
                # full-size gradient)
                encoded = h.unbind(0)
            else:  # too large to gain from one product: the networks one by one
                encoded = [torch.where(mask[:, s : s + 1], h_s, torch.zeros((), dtype=h_s.dtype))
                           for s, h_s in zip(group, stack.each(inputs))]
            for s, h_s in zip(group, encoded):
                out[s] = h_s
        for s, (x, enc, lik) in enumerate(zip(xs, self.encoders, liks)):
            if out[s] is None:
                h = enc(lik.encoder_input(x))
                out[s] = torch.where(mask[:, s : s + 1], h, torch.zeros((), dtype=h.dtype))
        return torch.stack(out, 1)

    def posterior(self, tokens, mask):
        """``q(z | x_S)`` with ``S`` given row-wise by ``mask``."""
        return self.aggregator(tokens, mask)

    def encode(self, xs, mask):
        return self.posterior(self.tokens(xs, mask), mask)

    def private_latents(self, tokens, enc_mask, z, common_noise=False):
        """Samples ``z~ (C, B, M, p)`` and ``log q(z~) - log p(z~)`` (STL) per modality.

        Modalities outside ``enc_mask`` draw ``z~`` from the N(0, I) prior (and add no KL).
        """
        loc, scale = self.private(tokens, enc_mask, z)
        eps = standard_normal(loc.shape, loc, common_noise)  # (see Posterior.sample_common)
        keep = enc_mask.unsqueeze(-1)
        sample = torch.where(keep, loc + scale * eps, eps)
        log_q = gaussian_log_density(sample, loc.detach(), scale.detach())
        log_p = gaussian_log_density(sample, torch.zeros_like(loc), torch.ones_like(scale))
        kl = torch.where(enc_mask, log_q - log_p, torch.zeros((), dtype=loc.dtype))
        return sample, kl

    def decode(self, z, s, private=None):
        """Decoder output (likelihood parameters) of modality ``s`` for ``z`` ``(..., d)``."""
        if self.n_private:
            if private is None:
                private = torch.zeros(*z.shape[:-1], self.n_private, dtype=z.dtype, device=z.device)
            z = torch.cat([z, private], -1)
        return self.decoders[s](z)

    def log_likelihoods(self, xs, z, tokens=None, enc_mask=None, common_noise=False):
        """``log p(x_s | z, z~_s)`` as ``(C, B, M)`` and the private-latent KL terms ``(C, B, M)``.

        Values for missing modalities are computed on filler data: callers mask them out.
        """
        private = private_kl = None
        if self.n_private:
            private, private_kl = self.private_latents(tokens, enc_mask, z, common_noise)
        decoded = [None] * self.n_modalities
        stacked = {}  # a stack's group -> its outputs (G, ..., B, n_params)
        for stack, group in self._stacks(self.decoder_stacks, self._decoder_groups):
            shared = private is None
            inputs = z if shared else torch.stack([torch.cat([z, private[..., s, :]], -1) for s in group])
            if stack.fits(z[..., 0].numel()):
                stacked[tuple(group)] = out = stack(inputs, shared=shared)
                h = out.unbind(0)
            else:
                h = stack.each(inputs, shared=shared)
            for s, h_s in zip(group, h):
                decoded[s] = h_s
        for s in range(self.n_modalities):  # the networks that are not stacked
            if decoded[s] is None:
                decoded[s] = self.decode(z, s, None if private is None else private[..., s, :])
        liks = list(self.likelihoods.values())
        logliks = [None] * self.n_modalities
        for group in self._likelihood_groups():
            # several modalities of one likelihood and width: one computation for the group
            params = stacked.get(tuple(group))
            if params is None:
                params = torch.stack([decoded[s] for s in group])
            group_ll = liks[group[0]].log_prob_group([liks[s] for s in group], params,
                                                     torch.stack([xs[s] for s in group]))
            for s, ll in zip(group, group_ll.unbind(0)):
                logliks[s] = ll
        for s, (x, lik) in enumerate(zip(xs, liks)):
            if logliks[s] is None:
                logliks[s] = lik.log_prob(decoded[s], x)
        logliks = torch.stack(logliks, -1)
        if private_kl is None:
            private_kl = torch.zeros((), dtype=logliks.dtype, device=logliks.device)
        return logliks, private_kl

    def decode_means(self, z, xs=None, mask=None):
        """Likelihood means of every modality for latent ``z`` ``(B, d)`` (private latents at 0).

        With the rows' data ``xs`` and ``mask`` (as for :meth:`encode`), each likelihood's
        ``mean_given`` sees the observed cells of its rows (the count likelihoods take a row's
        library size from them); otherwise its ``mean``.
        """
        liks = self.likelihoods.values()
        if xs is None:
            return [lik.mean(self.decode(z, s)) for s, lik in enumerate(liks)]
        return [lik.mean_given(self.decode(z, s), _observed_cells(xs[s], mask[:, s]))
                for s, lik in enumerate(liks)]

    def decode_samples(self, z, xs=None, mask=None):
        """Draws ``x_s ~ p(x_s | z, z~_s)`` of every modality for latent ``z`` ``(B, d)``, the
        private latents ``z~_s`` drawn from their N(0, I) prior; shaped as :meth:`decode_means`
        (``xs`` and ``mask`` as there)."""
        private = None
        if self.n_private:
            private = torch.randn(*z.shape[:-1], self.n_modalities, self.n_private, dtype=z.dtype, device=z.device)
        out = []
        for s, lik in enumerate(self.likelihoods.values()):
            params = self.decode(z, s, None if private is None else private[..., s, :])
            out.append(lik.sample(params) if xs is None
                       else lik.sample_given(params, _observed_cells(xs[s], mask[:, s])))
        return out


def _observed_cells(x, present):
    """``x`` with the rows of a missing modality (``present`` False) all NaN."""
    return torch.where(present.unsqueeze(-1), x, torch.full((), float("nan"), dtype=x.dtype, device=x.device))
