"""``iw_conditional_means``: the model's conditional mean E[x_T | x_S] by self-normalised IS."""
import torch

from skmmvae.nn import MultiModalModule, iw_conditional_means, make_likelihood


def _model():
    torch.manual_seed(0)
    liks = {"a": make_likelihood("gaussian", 2), "b": make_likelihood("gaussian", 3)}
    model = MultiModalModule(liks, n_latent=1, aggregation="poe", hidden_sizes=(8,), embedding_size=4)
    with torch.no_grad():  # a decoder far from linear, so plug-in and conditional mean differ
        for p in model.decoders.parameters():
            p.mul_(3.0)
    return model.eval()


def test_matches_the_conditional_mean_by_quadrature():
    # One latent dimension: E[x_b | x_a] = int mean_b(z) p(x_a | z) p(z) dz / int p(x_a | z) p(z) dz
    # on a fine grid, independent of the encoder (the proposal).
    model = _model()
    xs = [torch.tensor([[0.7, -1.2], [-0.3, 0.4]]), torch.zeros(2, 3)]
    mask = torch.tensor([[True, False], [True, False]])
    grid = torch.linspace(-8, 8, 20001).reshape(-1, 1, 1).expand(-1, 2, 1)  # (G, B, 1)
    with torch.no_grad():
        logliks, _ = model.log_likelihoods(xs, grid)
        log_joint = logliks[..., 0] + model.prior.log_prob(grid)  # (G, B)
        weights = torch.softmax(log_joint, 0).unsqueeze(-1)
        mean_b = model.likelihoods["b"].mean(model.decode(grid, 1))
        exact = (weights * mean_b).sum(0)
        torch.manual_seed(1)
        estimate = iw_conditional_means(model, xs, mask, n_samples=20000)[1]
        plug_in = model.likelihoods["b"].mean(model.decode(model.encode(xs, mask).mean, 1))
    assert torch.allclose(estimate, exact, atol=0.02), (estimate, exact)
    assert (plug_in - exact).abs().max() > 0.05  # the test can tell the two apart


def test_one_sample_is_the_decoder_mean_at_the_draw():
    model = _model()
    xs = [torch.randn(4, 2), torch.zeros(4, 3)]
    mask = torch.tensor([[True, False]] * 4)
    with torch.no_grad():
        torch.manual_seed(3)
        means = iw_conditional_means(model, xs, mask, n_samples=1)
        torch.manual_seed(3)
        z = model.encode(xs, mask).sample(1)
        expected = model.likelihoods["b"].mean(model.decode(z, 1))[0]
    assert torch.allclose(means[1], expected, atol=1e-6)
