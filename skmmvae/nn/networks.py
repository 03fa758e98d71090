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


def mlp(in_features, hidden_sizes, out_features, activation="relu"):
    """``Linear -> act -> ... -> Linear``; with no hidden sizes it is a single ``Linear``."""
    layers, width = [], in_features
    for size in hidden_sizes:
        layers += [nn.Linear(width, size), make_activation(activation)]
        width = size
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


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
