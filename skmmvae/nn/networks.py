"""Building blocks: plain MLPs and the adapters that fit user modules to a required width."""
import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
}


def make_activation(name):
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}") from None


def mlp(in_features, hidden_sizes, out_features, activation="relu", skip=False):
    """``Linear -> act -> ... -> Linear``; with no hidden sizes it is a single ``Linear``.
    With ``skip`` (and hidden layers), a :class:`SkipMLP`: that network plus a linear map of
    its input."""
    layers, width = [], in_features
    for size in hidden_sizes:
        layers += [nn.Linear(width, size), make_activation(activation)]
        width = size
    layers.append(nn.Linear(width, out_features))
    body = nn.Sequential(*layers)
    if skip and hidden_sizes:
        return SkipMLP(body, nn.Linear(in_features, out_features, bias=False))
    return body


class SkipMLP(nn.Module):
    """An MLP plus a linear map of its input: ``body(x) + x @ W``.

    The decoders of :class:`~skmmvae.nn.MultiModalModule` are built so with
    ``decoder_skip=True``: a linear decoder (factor analysis, whose conditional means are
    linear regressions) is then one setting of the weights, which the MLP alone reaches only
    approximately. On nearly linear data (the breast-cancer views) it imputed 3-4% better
    with complete views and with 30% of the cells missing, not consistently so in the other
    regimes (equal with 10% or 50% of the cells missing); on the other data sets of the quality
    benchmark within 2% either way (``docs/quality.rst``).

    Parameters
    ----------
    body : nn.Sequential
        An :func:`mlp`.
    skip : nn.Linear
        The linear path, without bias (``body``'s last layer has one).

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn.networks import mlp
    >>> net = mlp(3, (8,), 2, skip=True)
    >>> x = torch.randn(5, 3)
    >>> torch.allclose(net(x), net.body(x) + net.skip(x))
    True
    """

    def __init__(self, body, skip):
        super().__init__()
        self.body, self.skip = body, skip

    def forward(self, x):
        return self.body(x) + self.skip(x)


def infer_output_width(module, in_features, dtype=torch.float32):
    """Width of ``module``'s output on a dummy batch of two rows of ``in_features`` zeros."""
    was_training = module.training
    module.eval()
    with torch.no_grad():
        out = module(torch.zeros(2, in_features, dtype=dtype))
    module.train(was_training)
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 2:
        raise ValueError(
            "a custom module must map a (batch, features) tensor to a (batch, width) tensor; "
            f"got {type(out).__name__} of shape {getattr(out, 'shape', None)}"
        )
    return out.shape[1]


def fit_width(module, in_features, out_features):
    """Return ``module`` followed, if needed, by a ``Linear`` so its output has ``out_features``."""
    width = infer_output_width(module, in_features)
    if width == out_features:
        return module
    return nn.Sequential(module, nn.Linear(width, out_features))


class FlattenSamples(nn.Module):
    """Apply a (batch, features) module to inputs with any number of leading axes."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        lead = x.shape[:-1]
        out = self.module(x.reshape(-1, x.shape[-1]))
        return out.reshape(*lead, out.shape[-1])


class StackedMLP(nn.Module):
    """Several MLPs of one shape, run as one computation.

    The ``n`` networks are :func:`mlp` s (``Linear``, activation, and so on, ``Linear``). The weights of layer ``k`` of all ``n`` networks are one parameter ``weights[k]`` of shape
    ``(n, in, out)`` (and ``biases[k]`` ``(n, 1, out)``): a layer is one batched matrix product
    over the networks, and the optimiser updates one tensor per layer instead of ``n``. The
    per-modality networks of :class:`~skmmvae.nn.MultiModalModule` whose shapes agree run so
    (a training step 1.10-1.14 times faster with three or four equal views; see
    ``docs/benchmarks.rst``). :meth:`from_mlps` copies the networks it replaces, so a model
    starts from the weights its per-modality networks were initialised with.

    Parameters
    ----------
    n, in_features, hidden_sizes, out_features, activation
        ``n`` networks of :func:`mlp` ``(in_features, hidden_sizes, out_features,
        activation)``; the weights start as :class:`torch.nn.Linear`'s default.
    skip : bool, default=False
        Whether the networks are :class:`SkipMLP` s: their linear paths are one parameter
        ``skip_weight`` ``(n, in_features, out_features)`` (else it is None).

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn.networks import StackedMLP, mlp
    >>> nets = [mlp(3, (8,), 2) for _ in range(4)]
    >>> stack = StackedMLP.from_mlps(nets)
    >>> x = torch.randn(4, 5, 3)  # one input per network: (n, rows, in_features)
    >>> torch.allclose(stack(x)[2], nets[2](x[2]), atol=1e-6)
    True
    >>> z = torch.randn(5, 3)  # or one input for all of them
    >>> stack(z, shared=True).shape
    torch.Size([4, 5, 2])
    """

    def __init__(self, n, in_features, hidden_sizes, out_features, activation="relu", skip=False):
        super().__init__()
        sizes = [in_features, *hidden_sizes, out_features]
        self.widest = max(sizes[1:])
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.empty(n, a, b)) for a, b in zip(sizes[:-1], sizes[1:])])
        self.biases = nn.ParameterList([nn.Parameter(torch.empty(n, 1, b)) for b in sizes[1:]])
        # the linear paths of SkipMLP networks: (n, in, out), or None
        self.skip_weight = nn.Parameter(torch.empty(n, in_features, out_features)) if skip else None
        self.activation = make_activation(activation)
        self.n = n
        with torch.no_grad():
            for weight, bias in zip(self.weights, self.biases):  # nn.Linear's default, per network
                bound = weight.shape[1] ** -0.5
                weight.uniform_(-bound, bound)
                bias.uniform_(-bound, bound)
            if skip:
                self.skip_weight.uniform_(-in_features**-0.5, in_features**-0.5)

    # The largest activation (networks x rows x width) computed stacked: beyond it (several
    # MB) the batched products and element-wise passes run from memory rather than cache,
    # and the networks one by one were faster (64 networks of width 128 on 512 rows: 0.93-0.98
    # times the loop's speed stacked; 16 networks or width 32: 1.2-1.4 times faster).
    max_elements = 2**21

    def fits(self, rows):
        """Whether the stack should run as one computation on ``rows`` rows."""
        return self.n * rows * self.widest <= self.max_elements

    @classmethod
    def from_mlps(cls, nets):
        """A stack holding copies of the weights of the :func:`mlp` networks ``nets`` (all of
        one shape and activation, all or none of them :class:`SkipMLP`), in their order."""
        skips = {isinstance(net, SkipMLP) for net in nets}
        if len(skips) != 1:
            raise ValueError("stacked networks must all have a linear path or none")
        skip = skips.pop()
        bodies = [net.body if skip else net for net in nets]
        layers = [[m for m in net if isinstance(m, nn.Linear)] for net in bodies]
        activations = {type(m) for net in bodies for m in net if not isinstance(m, nn.Linear)}
        first = layers[0]
        shapes = {tuple((layer.in_features, layer.out_features) for layer in ls) for ls in layers}
        if len(shapes) != 1 or len(activations) > 1:
            raise ValueError("stacked networks must have one shape and one activation")
        name = next((k for k, v in ACTIVATIONS.items() if activations and v in activations), "relu")
        hidden = tuple(layer.out_features for layer in first[:-1])
        device = first[0].weight.device
        with torch.device(device):
            stack = cls(len(nets), first[0].in_features, hidden, first[-1].out_features, name, skip)
        with torch.no_grad():
            for k, (weight, bias) in enumerate(zip(stack.weights, stack.biases)):
                weight.copy_(torch.stack([ls[k].weight.t() for ls in layers]))
                bias.copy_(torch.stack([ls[k].bias for ls in layers]).unsqueeze(1))
            if skip:
                stack.skip_weight.copy_(torch.stack([net.skip.weight.t() for net in nets]))
        return stack.to(first[0].weight.dtype)

    def _chain(self, h, layers, product):
        """``h`` through ``layers`` (``(weight, bias)`` pairs) with ``product`` (``baddbmm``
        for the stack, ``addmm`` for one network), the activation between layers."""
        last = len(layers) - 1
        for k, (weight, bias) in enumerate(layers):
            h = product(bias, h, weight)
            if k < last:
                h = self.activation(h)
        return h

    def forward(self, x, shared=False):
        """``x`` ``(n, ..., in_features)``, one input per network, or with ``shared`` one
        input ``(..., in_features)`` for all; returns ``(n, ..., out_features)``."""
        lead = x.shape[:-1] if shared else x.shape[1:-1]
        rows = x.reshape(-1, x.shape[-1])
        inputs = rows.expand(self.n, *rows.shape) if shared else x.reshape(self.n, -1, x.shape[-1])
        h = self._chain(inputs, list(zip(self.weights, self.biases)), torch.baddbmm)
        if self.skip_weight is not None:
            h = torch.baddbmm(h, inputs, self.skip_weight)
        return h.reshape(self.n, *lead, h.shape[-1])

    def each(self, x, shared=False):
        """The networks one by one (a matrix product each), as a list of outputs: what
        :meth:`forward` computes, for activations too large to gain from one batched product.
        The weights are unbound once, so that the backward pass gathers their gradients in one
        step (indexing ``weight[k]`` per network would give each a full-size zero gradient)."""
        unbound = [list(zip(weight.unbind(0), bias[:, 0].unbind(0)))
                   for weight, bias in zip(self.weights, self.biases)]
        skips = [None] * self.n if self.skip_weight is None else self.skip_weight.unbind(0)
        inputs = [x] * self.n if shared else x.unbind(0)
        return [self._flat(h, [layer[index] for layer in unbound], skips[index])
                for index, h in enumerate(inputs)]

    def member(self, index, x):
        """Network ``index`` alone on ``x`` ``(..., in_features)``: ``(..., out_features)``."""
        layers = [(weight[index], bias[index, 0]) for weight, bias in zip(self.weights, self.biases)]
        return self._flat(x, layers, None if self.skip_weight is None else self.skip_weight[index])

    def _flat(self, x, layers, skip=None):
        """One network's ``layers`` (and linear path ``skip``) on ``x`` with any leading axes."""
        rows = x.reshape(-1, x.shape[-1])
        h = self._chain(rows, layers, torch.addmm)
        if skip is not None:
            h = torch.addmm(h, rows, skip)
        return h.reshape(*x.shape[:-1], h.shape[-1])


class StackedMember(nn.Module):
    """Network ``index`` of a :class:`StackedMLP`, as a module of its own: what
    ``MultiModalModule.encoders[s]`` (or ``decoders[s]``) is for a modality whose network is
    stacked with others. It holds no parameters (they are the stack's, registered once by
    the model); ``stack.weights[k][index]`` are its layer ``k``'s weights ``(in, out)``.

    Examples
    --------
    >>> import torch
    >>> from skmmvae.nn import MultiModalModule, make_likelihood
    >>> likelihoods = {"a": make_likelihood("gaussian", 3), "b": make_likelihood("gaussian", 3)}
    >>> model = MultiModalModule(likelihoods, n_latent=2, hidden_sizes=(8,))
    >>> member = model.encoders[1]  # both encoders take 3 features: one stack
    >>> member.stack is model.encoder_stacks[0], member.index, len(list(member.parameters()))
    (True, 1, 0)
    >>> x = torch.randn(4, 3)
    >>> torch.equal(member(x), model.encoder_stacks[0].member(1, x))
    True
    """

    def __init__(self, stack, index):
        super().__init__()
        object.__setattr__(self, "stack", stack)  # not a submodule: the model registers the stack
        self.index = int(index)

    def forward(self, x):
        return self.stack.member(self.index, x)
