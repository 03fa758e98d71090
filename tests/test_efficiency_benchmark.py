"""The compute-efficiency benchmark counts the FLOPs of a training step correctly."""
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from skmmvae.nn import MultiModalModule, make_likelihood

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "speed" / "efficiency.py"


@pytest.fixture(scope="module")
def efficiency():
    spec = importlib.util.spec_from_file_location("efficiency", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("hidden", [(16,), (12, 20)])
def test_step_flops_match_a_count_by_hand(efficiency, hidden):
    d, latent, batch = 7, 3, 32
    torch.manual_seed(0)
    model = MultiModalModule({"a": make_likelihood("gaussian", d)}, n_latent=latent,
                             aggregation="poe", hidden_sizes=hidden)
    tensors = SimpleNamespace(xs=[torch.randn(batch, d)], mask=torch.ones(batch, 1, dtype=torch.bool))
    flops = efficiency.step_flops(model, tensors, batch, objective="elbo")
    # by hand: the matmuls of the encoder d -> hidden -> 2 latent (a Gaussian expert: mean
    # and raw scale) and of the decoder latent -> reversed hidden -> d (the Gaussian
    # likelihood's means; its scales are parameters of their own, not decoder outputs)
    enc = [d, *hidden, 2 * latent]
    dec = [latent, *reversed(hidden), d]
    forward = sum(2 * batch * a * b for widths in (enc, dec) for a, b in zip(widths, widths[1:]))
    # the backward pass takes two matmuls per layer (gradients of the weights and of the
    # input), but none for the input of the encoder's first layer (the data)
    backward = 2 * forward - 2 * batch * enc[0] * enc[1]
    assert flops == forward + backward
    assert all(p.grad is None for p in model.parameters())  # left as it was found


class _Tensors(SimpleNamespace):
    def __len__(self):
        return len(self.mask)


def test_matmul_seconds_counts_the_matrix_products(efficiency):
    """The time inside the products grows with their size (hidden 512 against 8: about 4,000
    times the FLOPs of the hidden layer), and is a part of a step, never all of it."""
    torch.manual_seed(0)
    batch = 64
    tensors = _Tensors(xs=[torch.randn(256, 20)], mask=torch.ones(256, 1, dtype=torch.bool))
    seconds = {}
    for hidden in (8, 512):
        model = MultiModalModule({"a": make_likelihood("gaussian", 20)}, n_latent=3,
                                 aggregation="poe", hidden_sizes=(hidden, hidden))
        seconds[hidden] = efficiency.matmul_seconds(model, tensors, batch, steps=3, objective="elbo")
    assert 0 < seconds[8] < seconds[512]
    assert seconds[512] > 5 * seconds[8]
