"""Decoders with a linear path (``decoder_skip``): ``MLP(z) + z @ W``, stacked or not, and
models of earlier releases (plain MLP decoders) still load as fitted."""
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from skmmvae import MultiModalImputer, MultiModalVAE
from skmmvae._persistence import METADATA, WEIGHTS
from skmmvae.nn import MultiModalModule, make_likelihood
from skmmvae.nn.networks import SkipMLP, StackedMLP, mlp


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    return {name: z @ rng.normal(size=(2, d)) + 0.1 * rng.normal(size=(n, d))
            for name, d in (("a", 4), ("b", 4), ("c", 3))}


def test_skip_mlp_adds_a_linear_map_of_its_input():
    torch.manual_seed(0)
    net = mlp(3, (8, 8), 2, skip=True)
    assert isinstance(net, SkipMLP) and net.skip.bias is None
    x = torch.randn(5, 3)
    expected = net.body(x) + x @ net.skip.weight.T  # computed by hand
    torch.testing.assert_close(net(x), expected)
    assert not isinstance(mlp(3, (), 2, skip=True), SkipMLP)  # a Linear is linear already


@pytest.mark.parametrize("shared", [False, True])
def test_a_stack_of_skip_mlps_computes_each_network(shared):
    torch.manual_seed(0)
    nets = [mlp(3, (8,), 2, skip=True) for _ in range(4)]
    stack = StackedMLP.from_mlps(nets)
    x = torch.randn(5, 3) if shared else torch.randn(4, 5, 3)
    out = stack(x, shared=shared)
    each = stack.each(x, shared=shared)
    for k, net in enumerate(nets):
        xk = x if shared else x[k]
        torch.testing.assert_close(out[k], net(xk))
        torch.testing.assert_close(each[k], net(xk))
        torch.testing.assert_close(stack.member(k, xk), net(xk))


def test_a_stack_refuses_to_mix_skip_and_plain_networks():
    with pytest.raises(ValueError, match="linear path"):
        StackedMLP.from_mlps([mlp(3, (8,), 2, skip=True), mlp(3, (8,), 2)])


def test_the_linear_path_makes_a_linear_decoder_one_setting_of_the_weights():
    """With the MLP's last layer at zero the decoder is ``z @ W + b``: factor analysis's
    decoder, which the plain MLP can only approximate."""
    liks = {"a": make_likelihood("gaussian", 3), "b": make_likelihood("gaussian", 3)}
    model = MultiModalModule(liks, n_latent=2, hidden_sizes=(8,), decoder_skip=True).eval()
    stack = model.decoder_stacks[0]
    with torch.no_grad():
        stack.weights[-1].zero_()
        stack.biases[-1].fill_(0.5)
    z = torch.randn(6, 2)
    for s in range(2):
        expected = z @ stack.skip_weight[s] + 0.5
        torch.testing.assert_close(model.decode(z, s), expected)


def test_training_and_evaluation_decode_alike_and_the_path_learns():
    X = _data()
    est = MultiModalVAE(n_components=2, hidden_layer_sizes=(16,), max_epochs=3, random_state=0).fit(X)
    module = est.module_
    stack = module.decoder_stacks[0]  # "a" and "b" (4 features) are stacked; "c" is alone
    assert stack.skip_weight is not None and isinstance(module.decoders[2].module, SkipMLP)
    z = torch.randn(7, 2)
    module.train()
    stacked = stack(z, shared=True)
    module.eval()
    for k, s in enumerate(module._decoder_groups[0]):
        torch.testing.assert_close(stacked[k], module.decode(z, s))
    initial = MultiModalVAE(n_components=2, hidden_layer_sizes=(16,), max_epochs=0, random_state=0).fit(X)
    assert not torch.equal(initial.module_.decoder_stacks[0].skip_weight, stack.skip_weight)


def test_decoder_skip_false_is_the_plain_mlp_and_custom_decoders_keep_their_form():
    X = _data()
    plain = MultiModalVAE(n_components=2, hidden_layer_sizes=(16,), max_epochs=0, decoder_skip=False,
                          random_state=0).fit(X)
    assert not any("skip" in key for key in plain.module_.state_dict())
    custom = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 3))
    est = MultiModalVAE(n_components=2, hidden_layer_sizes=(16,), max_epochs=0, decoders={"c": custom},
                        random_state=0).fit(X)
    assert not any(key.startswith("decoders.2") and "skip" in key for key in est.module_.state_dict())


def test_decoder_skip_is_validated():
    with pytest.raises(ValueError, match="decoder_skip"):
        MultiModalVAE(decoder_skip="yes").fit(_data())


def test_set_params_after_fit_does_not_change_the_fitted_decoders(tmp_path):
    X = _data()
    est = MultiModalVAE(n_components=2, hidden_layer_sizes=(16,), max_epochs=2, random_state=0).fit(X)
    expected = est.predict({"a": X["a"], "b": X["b"]})["c"]
    est.set_params(decoder_skip=False)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict({"a": X["a"], "b": X["b"]})["c"], expected)
    est.save(tmp_path / "m.zip")
    loaded = MultiModalVAE.load(tmp_path / "m.zip")
    np.testing.assert_array_equal(loaded.predict({"a": X["a"], "b": X["b"]})["c"], expected)


def _as_earlier_release(path):
    """The file of ``path`` as an earlier release wrote it: no ``decoder_skip`` parameter,
    and none in the recorded architecture."""
    with zipfile.ZipFile(path) as archive:
        metadata, weights = json.loads(archive.read(METADATA)), archive.read(WEIGHTS)
    del metadata["params"]["decoder_skip"]
    del metadata["attributes"]["_architecture"]["decoder_skip"]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(METADATA, json.dumps(metadata))
        archive.writestr(WEIGHTS, weights)


@pytest.mark.parametrize("cls", [MultiModalVAE, MultiModalImputer])
def test_a_file_of_an_earlier_release_loads_with_plain_decoders(tmp_path, cls):
    X = _data()
    flat = np.hstack([X["a"], X["b"], X["c"]])
    flat[::3, :2] = np.nan
    est = cls(modalities={"a": 4, "b": 4, "c": 3}, n_components=2, hidden_layer_sizes=(16,), max_epochs=2,
              decoder_skip=False, random_state=0).fit(flat)
    path = tmp_path / "old.zip"
    est.save(path)
    _as_earlier_release(path)
    loaded = cls.load(path)
    assert loaded.decoder_skip is False
    assert loaded._fitted_architecture()["decoder_skip"] is False
    np.testing.assert_array_equal(loaded.transform(flat), est.transform(flat))


def test_a_pickle_of_an_earlier_release_loads_with_plain_decoders():
    X = _data()
    est = MultiModalVAE(n_components=2, hidden_layer_sizes=(16,), max_epochs=2, decoder_skip=False,
                        random_state=0).fit(X)
    state = est.__getstate__()
    del state["decoder_skip"]
    state["_architecture"] = {k: v for k, v in state["_architecture"].items() if k != "decoder_skip"}
    old = MultiModalVAE.__new__(MultiModalVAE)
    old.__setstate__(state)
    assert old.get_params()["decoder_skip"] is False
    np.testing.assert_array_equal(old.transform(X), est.transform(X))


def test_partial_fit_warns_about_decoder_skip_only_where_it_changes_the_decoders():
    import warnings

    X = _data()
    linear = MultiModalVAE(n_components=2, hidden_layer_sizes=(), max_epochs=1, random_state=0).fit(X)
    linear.set_params(decoder_skip=False)  # a decoder without hidden layers is linear either way
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        linear.partial_fit(X, epochs=1)
    assert not [w for w in caught if "changed since the fit" in str(w.message)]
    deep = MultiModalVAE(n_components=2, hidden_layer_sizes=(8,), max_epochs=1, random_state=0).fit(X)
    deep.set_params(decoder_skip=False)
    with pytest.warns(UserWarning, match="decoder_skip changed since the fit"):
        deep.partial_fit(X, epochs=1)
