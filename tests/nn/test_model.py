"""Specification of ``MultiModalModule``: custom networks, shapes, private latents, purity."""
import ast
import pathlib

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import skmmvae.nn
from skmmvae.nn import MultiModalModule, iw_log_likelihood, make_likelihood, objective_terms

D = 3
EMBED = 16


class ImageEncoder(nn.Module):
    """A small conv net over a flattened 1x8x8 image; outputs 4*4*4 = 64 features."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, x):
        h = F.relu(self.conv(x.reshape(-1, 1, 8, 8)))
        return F.avg_pool2d(h, 2).flatten(1)


class ImageDecoder(nn.Module):
    """Latent -> 4x4 map -> transposed conv -> flattened 1x8x8 logits (64 = n_params)."""

    def __init__(self, n_in):
        super().__init__()
        self.fc = nn.Linear(n_in, 16)
        self.deconv = nn.ConvTranspose2d(1, 1, 2, stride=2)

    def forward(self, z):
        return self.deconv(self.fc(z).reshape(-1, 1, 4, 4)).flatten(1)


def likelihoods():
    return {
        "image": make_likelihood("bernoulli", 64),
        "label": make_likelihood("categorical", 1, n_classes=4),
        "value": make_likelihood("gaussian", 5),
    }


def batch(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    xs = [
        (torch.rand(n, 64, generator=g) < 0.3).float(),
        torch.randint(0, 4, (n, 1), generator=g).float(),
        torch.randn(n, 5, generator=g),
    ]
    mask = torch.rand(n, 3, generator=g) < 0.6
    mask[0] = False
    mask[1] = True
    xs = [torch.where(mask[:, [s]], x, torch.zeros_like(x)) for s, x in enumerate(xs)]
    return xs, mask


@pytest.mark.parametrize("aggregation", ["sumpooling", "poe"])
@pytest.mark.parametrize("n_private", [0, 2])
def test_custom_encoders_and_decoders_are_accepted(aggregation, n_private):
    torch.manual_seed(0)
    encoder = ImageEncoder()
    exact_decoder = ImageDecoder(D + n_private)  # already 64 = n_params wide: used as is
    narrow_decoder = nn.Sequential(nn.Linear(D + n_private, 7), nn.Tanh())  # 7 != 5 params
    model = MultiModalModule(
        likelihoods(), D, aggregation=aggregation, n_private=n_private, hidden_sizes=(8,),
        embedding_size=EMBED, encoders={"image": encoder},
        decoders={"image": exact_decoder, "value": narrow_decoder},
    )
    token_size = model.aggregator.token_size
    # encoder: 64 features != token size, so a Linear(64, token_size) is appended
    wrapped = model.encoders[0]
    assert isinstance(wrapped, nn.Sequential) and wrapped[0] is encoder
    assert isinstance(wrapped[1], nn.Linear)
    assert (wrapped[1].in_features, wrapped[1].out_features) == (64, token_size)
    # decoders: the exact one untouched, the narrow one gets Linear(7, 5)
    assert model.decoders[0].module is exact_decoder
    assert model.decoders[2].module[0] is narrow_decoder
    appended = model.decoders[2].module[1]
    assert (appended.in_features, appended.out_features) == (7, 5)
    xs, mask = batch()
    tokens = model.tokens(xs, mask)
    assert tokens.shape == (6, 3, token_size)
    assert torch.all(tokens[~mask] == 0)  # missing modalities give zero tokens
    terms = objective_terms(model, xs, mask, "tight")
    (-terms["objective"].mean()).backward()
    assert torch.isfinite(terms["objective"]).all()
    for module in (encoder.conv, exact_decoder.deconv, narrow_decoder[0]):
        assert module.weight.grad is not None and module.weight.grad.abs().sum() > 0


def test_custom_encoder_of_a_categorical_modality_sees_one_hot_input():
    seen = []

    class Recorder(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 2 * D)

        def forward(self, x):
            seen.append(x)
            return self.lin(x)

    model = MultiModalModule(likelihoods(), D, aggregation="poe", hidden_sizes=(8,),
                             encoders={"label": Recorder()})
    assert model.encoders[1].__class__ is Recorder  # width 2*D is the PoE token size: no Linear
    xs, mask = batch()
    seen.clear()
    model.tokens(xs, mask)
    (x,) = seen
    assert torch.equal(x, F.one_hot(xs[1][:, 0].long(), 4).float())


@pytest.mark.parametrize("bad", ["three_d", "tuple"])
def test_custom_module_with_a_bad_output_is_rejected(bad):
    class Bad(nn.Module):
        def forward(self, x):
            return x.unsqueeze(1) if bad == "three_d" else (x, x)

    with pytest.raises(ValueError):
        MultiModalModule(likelihoods(), D, encoders={"value": Bad()})


@pytest.mark.parametrize("n_private", [0, 2])
def test_decode_means_shapes_and_values(n_private):
    torch.manual_seed(1)
    model = MultiModalModule(likelihoods(), D, n_private=n_private, hidden_sizes=(8,),
                             embedding_size=EMBED)
    z = torch.randn(7, D)
    image, label, value = model.decode_means(z)
    assert image.shape == (7, 64) and label.shape == (7, 4) and value.shape == (7, 5)
    assert torch.all((image > 0) & (image < 1))
    torch.testing.assert_close(label.sum(-1), torch.ones(7))
    # the means are the likelihood means of the decoder output, private latents set to 0
    z_in = torch.cat([z, torch.zeros(7, n_private)], -1)
    torch.testing.assert_close(image, torch.sigmoid(model.decoders[0](z_in)))
    torch.testing.assert_close(label, torch.softmax(model.decoders[1](z_in), -1))
    torch.testing.assert_close(value, model.decoders[2](z_in))
    # decoding works with leading sample axes
    assert model.decode(torch.randn(2, 7, D), 2).shape == (2, 7, 5)


def test_log_likelihood_and_encode_shapes():
    torch.manual_seed(2)
    model = MultiModalModule(likelihoods(), D, aggregation="sumpooling_mixture", n_private=2,
                             hidden_sizes=(8,), embedding_size=EMBED, n_mixture_components=3)
    xs, mask = batch()
    q = model.encode(xs, mask)
    assert q.loc.shape == (6, 3, D)
    z = q.sample(4)
    logliks, private_kl = model.log_likelihoods(xs, z, model.tokens(xs, mask), mask)
    assert logliks.shape == (4, 6, 3) and private_kl.shape == (4, 6, 3)
    assert torch.all(private_kl[:, ~mask] == 0)  # no private KL for modalities not encoded
    assert iw_log_likelihood(model, xs, mask, n_samples=5).shape == (6,)


def test_private_latents_outside_the_conditioning_set_come_from_their_prior():
    """A modality observed but outside the conditioning set S (the tight objective's cross
    modalities, say) draws its private latent from N(0, I): whatever its posterior would say
    (here shifted to 4 for every modality), whatever its data, and with no KL term."""
    torch.manual_seed(4)
    model = MultiModalModule(likelihoods(), D, n_private=2, hidden_sizes=(8,),
                             embedding_size=EMBED).double()
    with torch.no_grad():
        model.private.head[-1].bias.copy_(torch.tensor([4.0, 4.0, 0.0, 0.0]))  # loc 4, scale ~0.7
    n = 4000
    g = torch.Generator().manual_seed(5)
    xs = [(torch.rand(n, 64, generator=g) < 0.3).double(), torch.randint(0, 4, (n, 1), generator=g).double(),
          torch.randn(n, 5, generator=g, dtype=torch.float64)]
    observed = torch.ones(n, 3, dtype=torch.bool)
    given = observed.clone()
    given[:, 2] = False  # "value" is observed (its token is computed) but not in S
    z = torch.randn(1, n, D, dtype=torch.float64)

    def draw(xs):
        torch.manual_seed(6)
        return model.private_latents(model.tokens(xs, observed), given, z)

    sample, kl = draw(xs)
    outside = sample[0, :, 2].flatten()
    assert abs(outside.mean().item()) < 0.1 and abs(outside.std().item() - 1) < 0.05  # N(0, 1)
    inside = sample[0, :, 0].flatten()
    assert abs(inside.mean().item() - 4) < 0.2  # the posterior's draws, for contrast
    assert torch.all(kl[0, :, 2] == 0) and torch.all(kl[0, :, :2] != 0)
    other = [xs[0], xs[1], 10 + 3 * torch.randn(n, 5, generator=g, dtype=torch.float64)]
    other_sample, other_kl = draw(other)
    torch.testing.assert_close(other_sample[..., 2, :], sample[..., 2, :], rtol=0, atol=0)
    assert torch.all(other_kl[..., 2] == 0)


def test_private_encoder_is_permutation_equivariant():
    torch.manual_seed(3)
    model = MultiModalModule(likelihoods(), D, n_private=2, hidden_sizes=(8,),
                             embedding_size=EMBED).double()
    tokens = torch.randn(5, 3, EMBED, dtype=torch.float64)
    mask = torch.rand(5, 3) < 0.6
    z = torch.randn(2, 5, D, dtype=torch.float64)
    loc, scale = model.private(tokens, mask, z)
    assert loc.shape == scale.shape == (2, 5, 3, 2)
    perm = [2, 0, 1]
    loc_p, scale_p = model.private(tokens[:, perm], mask[:, perm], z)
    torch.testing.assert_close(loc_p, loc[:, :, perm])
    torch.testing.assert_close(scale_p, scale[:, :, perm])


def test_the_core_imports_neither_numpy_nor_sklearn():
    folder = pathlib.Path(skmmvae.nn.__file__).parent
    files = sorted(folder.glob("*.py"))
    assert len(files) >= 8
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            assert not {"numpy", "sklearn", "scipy", "skorch"} & set(roots), (path.name, roots)


def test_lecun_init_of_built_in_layers_leaves_custom_modules_alone():
    import copy as _copy

    from torch import nn as _nn

    from skmmvae.nn import make_likelihood
    from skmmvae.nn.model import MultiModalModule

    torch.manual_seed(0)
    custom = _nn.Linear(6, 40)
    before = _copy.deepcopy(custom.state_dict())
    liks = {"a": make_likelihood("gaussian", 6), "b": make_likelihood("gaussian", 3)}
    module = MultiModalModule(liks, 4, hidden_sizes=(400, 400), embedding_size=40,
                              encoders={"a": custom})
    for key, value in before.items():  # the user's module keeps its weights
        torch.testing.assert_close(custom.state_dict()[key], value)
    big = [m for m in module.modules() if isinstance(m, _nn.Linear) and m is not custom
           and m.weight.numel() >= 16000]
    assert big
    for layer in big:  # LeCun-normal: std 1/sqrt(fan_in), |w| <= 2 std, zero bias
        std = layer.in_features**-0.5 / 0.8796
        assert abs(layer.weight.std().item() / (layer.in_features**-0.5) - 1) < 0.05
        assert layer.weight.abs().max().item() <= 2 * std + 1e-6
        assert torch.count_nonzero(layer.bias) == 0
    plain = MultiModalModule(liks, 4, hidden_sizes=(400, 400), embedding_size=40, init="torch")
    layer = next(m for m in plain.modules() if isinstance(m, _nn.Linear) and m.in_features == 400)
    # PyTorch's default: uniform with variance 1 / (3 fan_in), non-zero biases
    assert abs(layer.weight.std().item() / (3 * 400) ** -0.5 - 1) < 0.05
    assert torch.count_nonzero(layer.bias) > 0


def test_lecun_init_sets_nothing_on_the_meta_device(monkeypatch):
    """The memory check builds the module on the meta device: no values to draw there, and
    torch 2.11's trunc_normal_ on meta tensors imports torch's compiler inside the device
    context, which failed with a circular import (seen on a GPU machine's first fit)."""
    from torch import nn as _nn

    from skmmvae.nn.model import lecun_init

    def refuse(tensor, *args, **kwargs):
        assert not tensor.is_meta, "initialised a meta tensor"
        return tensor

    monkeypatch.setattr(_nn.init, "trunc_normal_", refuse)
    with torch.device("meta"):
        layer = _nn.Linear(5, 3)
    lecun_init(layer)
    lecun_init(_nn.Linear(5, 3))  # a real layer is still initialised (through the stub)


@pytest.mark.parametrize("training", [True, False])
def test_grouped_likelihoods_give_the_per_modality_scores(training, monkeypatch):
    """Gaussian modalities of one width score as one group (with the decoder stack's output in
    training): the log-likelihoods and their gradients are those of the modality-by-modality
    computation, bit for bit; a modality of another width or likelihood scores alone."""
    from skmmvae.nn import MultiModalModule, make_likelihood

    torch.manual_seed(0)
    liks = {"a": make_likelihood("gaussian", 3), "b": make_likelihood("gaussian", 3),
            "c": make_likelihood("gaussian", 5), "d": make_likelihood("gaussian", 3),
            "e": make_likelihood("bernoulli", 3)}
    module = MultiModalModule(liks, 2, hidden_sizes=(8,), embedding_size=8).train(training)
    assert module._likelihood_groups() == [[0, 1, 3]]
    xs = [torch.randn(6, 3), torch.randn(6, 3), torch.randn(6, 5), torch.randn(6, 3),
          torch.randint(0, 2, (6, 3)).float()]
    xs[1][2, 1] = float("nan")
    z = torch.randn(4, 6, 2)

    def scores():
        module.zero_grad()
        ll, _ = module.log_likelihoods(xs, z)
        ll.sum().backward()
        return ll.detach(), [p.grad.clone() for p in module.parameters() if p.grad is not None]

    grouped, grads = scores()
    monkeypatch.setattr(type(module), "_likelihood_groups", lambda self: [])
    alone, grads_alone = scores()
    assert grouped.shape == (4, 6, 5) and torch.equal(grouped, alone)
    for a, b in zip(grads, grads_alone):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
