"""Per-modality networks of one shape as one batched computation (``StackedMLP``)."""
import copy
import pickle

import pytest
import torch
from torch import nn

from skmmvae.nn import MultiModalModule, make_likelihood
from skmmvae.nn.networks import StackedMember, StackedMLP, mlp


def _likelihoods():
    # encoder inputs: 4, 4, 3 (one-hot of 3 classes), 3; decoder outputs: 4, 4, 3, 3
    return {"a": make_likelihood("gaussian", 4), "b": make_likelihood("gaussian", 4),
            "c": make_likelihood("categorical", 1, n_classes=3), "d": make_likelihood("bernoulli", 3)}


def _batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    xs = [torch.randn(n, 4, generator=g), torch.randn(n, 4, generator=g),
          torch.randint(0, 3, (n, 1), generator=g).float(), (torch.rand(n, 3, generator=g) < 0.5).float()]
    mask = torch.rand(n, 4, generator=g) < 0.7
    return [torch.where(mask[:, [s]], x, torch.zeros_like(x)) for s, x in enumerate(xs)], mask


def test_a_stack_computes_what_its_networks_compute():
    torch.manual_seed(0)
    nets = [mlp(5, (7, 6), 3, "tanh") for _ in range(3)]
    stack = StackedMLP.from_mlps(nets)
    x = torch.randn(3, 2, 9, 5)  # per network, with two leading axes
    z = torch.randn(4, 5)
    for k, net in enumerate(nets):
        torch.testing.assert_close(stack(x)[k], net(x[k]))
        torch.testing.assert_close(stack(z, shared=True)[k], net(z))
        torch.testing.assert_close(stack.member(k, x[k]), net(x[k]))
    assert sum(p.numel() for p in stack.parameters()) == sum(p.numel() for n in nets for p in n.parameters())
    assert len(list(stack.parameters())) == 6  # one weight and one bias per layer, not per network
    with pytest.raises(ValueError, match="one shape"):
        StackedMLP.from_mlps([mlp(5, (7,), 3), mlp(5, (8,), 3)])


def test_networks_of_one_shape_are_stacked_others_and_custom_ones_not():
    torch.manual_seed(1)
    custom = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
    model = MultiModalModule(_likelihoods(), 2, hidden_sizes=(8,), embedding_size=8, encoders={"b": custom})
    # encoders: a (4 inputs) alone now that b is custom; c and d (3 inputs) stacked
    assert model._encoder_groups == [[2, 3]] and model._decoder_groups == [[0, 1], [2, 3]]
    assert isinstance(model.encoders[2], StackedMember) and not isinstance(model.encoders[0], StackedMember)
    assert custom in list(model.encoders[1].modules())
    assert not list(model.encoders[2].parameters())  # the stack's, registered once
    plain = MultiModalModule(_likelihoods(), 2, hidden_sizes=(8,), embedding_size=8, encoders={"b": custom})
    names = [n for n, _ in model.named_parameters()]
    assert len(names) == len(set(names)) and any(n.startswith("encoder_stacks.0.weights") for n in names)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in plain.parameters())


@pytest.mark.parametrize("n_private", [0, 2])
def test_training_mode_runs_the_stacks_and_agrees_with_the_networks_one_by_one(n_private):
    """Training mode runs the stacks, evaluation mode each network on its own (row-by-row
    reproducible): the same tokens and log-likelihoods up to float rounding, and the same
    initial weights as the networks had (the stack copies them after initialisation)."""
    torch.manual_seed(2)
    model = MultiModalModule(_likelihoods(), 3, hidden_sizes=(8,), embedding_size=8, n_private=n_private)
    xs, mask = _batch()
    z = torch.randn(2, 16, 3)
    torch.manual_seed(3)
    model.train()
    tokens = model.tokens(xs, mask)
    logliks, _ = model.log_likelihoods(xs, z, tokens, mask, common_noise=True)
    torch.manual_seed(3)
    model.eval()
    tokens_one = model.tokens(xs, mask)
    logliks_one, _ = model.log_likelihoods(xs, z, tokens_one, mask, common_noise=True)
    torch.testing.assert_close(tokens, tokens_one)
    torch.testing.assert_close(logliks, logliks_one)


def test_gradients_reach_every_member_and_the_weights_survive_copies_and_state_dicts():
    torch.manual_seed(4)
    model = MultiModalModule(_likelihoods(), 2, hidden_sizes=(8,), embedding_size=8)
    xs, mask = _batch()
    model.train()
    logliks, _ = model.log_likelihoods(xs, model.posterior(model.tokens(xs, mask), mask).mean)
    logliks.sum().backward()
    for stacks in (model.encoder_stacks, model.decoder_stacks):
        for stack in stacks:
            for weight in stack.weights:
                assert (weight.grad.flatten(1).abs().sum(1) > 0).all()  # every member learns
    model.eval()
    z = torch.randn(5, 2)
    expected = model.decode_means(z)
    fresh = MultiModalModule(_likelihoods(), 2, hidden_sizes=(8,), embedding_size=8).eval()
    fresh.load_state_dict(model.state_dict())
    for a, b in zip(fresh.decode_means(z), expected):
        torch.testing.assert_close(a, b)
    for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert twin.decoders[0].stack is twin.decoder_stacks[0] is not model.decoder_stacks[0]
        with torch.no_grad():
            twin.decoder_stacks[0].weights[0].zero_()
        for a, b in zip(model.decode_means(z), expected):
            torch.testing.assert_close(a, b)  # the original is untouched
        assert not torch.allclose(twin.decode_means(z)[0], expected[0])


def test_stacking_keeps_the_initial_weights_of_the_networks(monkeypatch):
    """A seeded model starts from the weights it had with one network per modality (the
    stacks copy them after the initialisation)."""
    torch.manual_seed(5)
    stacked = MultiModalModule(_likelihoods(), 2, hidden_sizes=(8, 8), embedding_size=8)
    monkeypatch.setattr(MultiModalModule, "_stack", lambda self, nets, *a: (nn.ModuleList(), []))
    torch.manual_seed(5)
    plain = MultiModalModule(_likelihoods(), 2, hidden_sizes=(8, 8), embedding_size=8)
    assert not plain.encoder_stacks and stacked.encoder_stacks
    for nets, plain_nets in ((stacked.encoders, plain.encoders), (stacked.decoders, plain.decoders)):
        for net, reference in zip(nets, plain_nets):
            linears = [m for m in reference.modules() if isinstance(m, nn.Linear)]
            if not isinstance(net, StackedMember):
                continue
            for k, linear in enumerate(linears):
                assert torch.equal(net.stack.weights[k][net.index], linear.weight.t())
                assert torch.equal(net.stack.biases[k][net.index, 0], linear.bias)


def test_an_estimator_with_stacked_networks_saves_loads_and_pickles(tmp_path):
    import numpy as np

    from skmmvae import MultiModalVAE

    rng = np.random.default_rng(0)
    z = rng.normal(size=(60, 2))
    X = {name: z @ rng.normal(size=(2, 4)) + 0.1 * rng.normal(size=(60, 4)) for name in "abc"}
    X["c"][:10] = np.nan
    est = MultiModalVAE(n_components=2, hidden_layer_sizes=(8,), embedding_size=8, max_epochs=3,
                        batch_size=16, random_state=0, n_jobs=1).fit(X)
    assert est.module_._encoder_groups == [[0, 1, 2]]
    est.save(tmp_path / "model.zip")
    for twin in (MultiModalVAE.load(tmp_path / "model.zip"), pickle.loads(pickle.dumps(est))):
        np.testing.assert_array_equal(twin.predict(X)["c"], est.predict(X)["c"])
        np.testing.assert_array_equal(twin.score_samples(X), est.score_samples(X))
        twin.partial_fit(X, epochs=1)  # and trains on


def test_large_activations_run_the_networks_one_by_one_with_the_same_results(monkeypatch):
    """Beyond ``max_elements`` the stack runs its networks one by one (``each``): the same
    outputs and gradients as the batched computation, up to float rounding."""
    torch.manual_seed(6)
    model = MultiModalModule(_likelihoods(), 2, hidden_sizes=(8,), embedding_size=8).train()
    xs, mask = _batch()

    def run():
        model.zero_grad()
        tokens = model.tokens(xs, mask)
        logliks, _ = model.log_likelihoods(xs, model.posterior(tokens, mask).mean)
        (logliks.sum() + tokens.square().sum()).backward()
        grads = [p.grad.clone() for stacks in (model.encoder_stacks, model.decoder_stacks)
                 for stack in stacks for p in stack.parameters()]
        return tokens.detach(), logliks.detach(), grads

    batched = run()
    calls, each = [], StackedMLP.each
    monkeypatch.setattr(StackedMLP, "max_elements", 0)
    monkeypatch.setattr(StackedMLP, "each", lambda self, *a, **k: calls.append(1) or each(self, *a, **k))
    one_by_one = run()
    assert len(calls) == len(model.encoder_stacks) + len(model.decoder_stacks)
    for a, b in zip(batched[:2], one_by_one[:2]):
        torch.testing.assert_close(a, b)
    for a, b in zip(batched[2], one_by_one[2]):
        torch.testing.assert_close(a, b)



def test_a_file_in_the_layout_before_stacking_is_refused_with_what_to_do(tmp_path, monkeypatch):
    import numpy as np

    from skmmvae import MultiModalVAE

    rng = np.random.default_rng(1)
    X = {"a": rng.normal(size=(40, 3)), "b": rng.normal(size=(40, 3))}
    params = dict(n_components=2, hidden_layer_sizes=(8,), embedding_size=8, max_epochs=1, random_state=0, n_jobs=1)
    with monkeypatch.context() as patch:  # the layout of earlier builds: one network per modality
        patch.setattr(MultiModalModule, "_stack", lambda self, nets, *a: (nn.ModuleList(), []))
        MultiModalVAE(**params).fit(X).save(tmp_path / "old.zip")
    with pytest.raises(ValueError, match="before the networks of modalities of one shape were stacked.*Fit the model again"):
        MultiModalVAE.load(tmp_path / "old.zip")
    MultiModalVAE(**params).fit(X).save(tmp_path / "new.zip")
    MultiModalVAE.load(tmp_path / "new.zip")
