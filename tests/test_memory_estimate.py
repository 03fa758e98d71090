"""The memory check counts the activations of stacked networks (modalities of one width run
as one StackedMLP, whose layers are not nn.Linear modules)."""
import numpy as np
import pytest

from skmmvae import MultiModalVAE
from skmmvae._checks import ChecksMixin
from skmmvae.nn import MultiModalModule, make_likelihood
from skmmvae.nn.networks import mlp


@pytest.mark.parametrize("skip", [False, True])
def test_stacked_networks_count_as_the_networks_they_stack(skip):
    liks = {name: make_likelihood("gaussian", 5) for name in "abcd"}
    stacked = MultiModalModule(liks, n_latent=3, aggregation="sumpooling", hidden_sizes=(16,),
                               embedding_size=8, decoder_skip=skip)
    assert len(stacked.encoder_stacks) == 1 and len(stacked.decoder_stacks) == 1
    # the same networks given as custom modules: never stacked, plain nn.Linear layers
    token = stacked.aggregator.token_size
    own = MultiModalModule(
        {name: make_likelihood("gaussian", 5) for name in "abcd"}, n_latent=3, aggregation="sumpooling",
        hidden_sizes=(16,), embedding_size=8, decoder_skip=skip,
        encoders={name: mlp(5, (16,), token) for name in "abcd"},
        decoders={name: mlp(3, (16,), 5, skip=skip) for name in "abcd"})
    assert len(own.encoder_stacks) == 0 and len(own.decoder_stacks) == 0
    params_stacked, widths_stacked = ChecksMixin._sizes_of(stacked)
    params_own, widths_own = ChecksMixin._sizes_of(own)
    assert params_stacked == params_own
    assert widths_stacked == widths_own  # before: the stacked networks counted 0
    per_network = (5 + 16) + (16 + token) + (3 + 16) + (16 + 5) + ((3 + 5) if skip else 0)
    assert widths_stacked >= 4 * per_network


def test_a_batch_of_many_equal_modalities_beyond_memory_is_refused(monkeypatch):
    """64 modalities of one width: their stacked activations alone exceed the limit."""
    from skmmvae import _checks

    rng = np.random.default_rng(0)
    X = {f"m{i}": rng.normal(size=(4000, 2)) for i in range(64)}
    est = MultiModalVAE(hidden_layer_sizes=(256, 256), embedding_size=64, n_components=4,
                        batch_size=4000, max_epochs=1, random_state=0)
    # a limit above the parameters' share but below the stacked networks' activations
    with monkeypatch.context() as m:
        m.setattr(_checks, "memory_limit", lambda device: 2 * 2**30)
        with pytest.raises(ValueError, match="GiB of memory"):
            est.fit(X)
