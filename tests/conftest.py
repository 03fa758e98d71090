"""Tiny shared data and settings for the estimator tests (everything here trains in ~0.1 s)."""
import numpy as np
import pytest

from skmmvae import MultiModalVAE

# Small networks and few epochs: the tests check behaviour, not model quality.
SMALL = dict(
    n_components=2,
    hidden_layer_sizes=(8,),
    embedding_size=8,
    max_epochs=3,
    batch_size=32,
    random_state=0,
)
# A width of 16 and no early stopping (every row trains): the missing-values tests' settings.
NO_STOPPING = dict(n_components=2, hidden_layer_sizes=(16,), embedding_size=8, max_epochs=3,
                   early_stopping=False, random_state=0)

def same_as_in_a_batch(est):
    """An assertion that a row alone gives what it gives in a batch: bit for bit on the CPU
    (inference pads small batches so that torch's kernels round alike), up to float32 rounding
    on a GPU, where cuBLAS chooses its kernels by the shape of the product."""
    import torch

    if next(est.module_.parameters()).device.type == "cpu":
        return lambda actual, desired, msg="": np.testing.assert_array_equal(actual, desired, err_msg=str(msg))
    return lambda actual, desired, msg="": np.testing.assert_allclose(actual, desired, rtol=1e-5, atol=1e-6,
                                                                      err_msg=str(msg))


N_SAMPLES = 80
A_MISSING = slice(10, 16)  # rows where modality "a" is missing
B_MISSING = slice(0, 10)  # rows where modality "b" is missing


def make_data(n=N_SAMPLES, seed=0, missing=True):
    """Two Gaussian modalities of one 2-D latent: ``a`` (4 columns) and ``b`` (3 columns).

    With ``missing``, ``b`` is a row of NaN in rows 0-9 and ``a`` in rows 10-15.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    a = z @ rng.normal(size=(2, 4)) + 0.1 * rng.normal(size=(n, 4))
    b = z @ rng.normal(size=(2, 3)) + 0.1 * rng.normal(size=(n, 3))
    if missing:
        a[A_MISSING] = np.nan
        b[B_MISSING] = np.nan
    return {"a": a, "b": b}


def make_labelled_data(n=800, seed=0):
    """Two numeric views and a 3-class string label, all from one 2-D latent (the
    calibration tests: 10% of 800 rows give 80 validation rows)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    label = np.digitize(z[:, 0] + 0.5 * rng.normal(size=n), [-0.5, 0.5])
    return {"a": z @ rng.normal(size=(2, 5)) + 0.3 * rng.normal(size=(n, 5)),
            "b": z @ rng.normal(size=(2, 4)) + 0.3 * rng.normal(size=(n, 4)),
            "y": np.array(["low", "mid", "high"], dtype=object)[label]}


def make_mixed_data(n=N_SAMPLES, seed=0):
    """One modality per likelihood: gaussian, bernoulli, poisson and categorical labels."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    logits = z @ rng.normal(size=(2, 3))
    labels = np.array([3, 5, 7])[np.argmax(z @ rng.normal(size=(2, 3)), 1)]
    data = {
        "gauss": z @ rng.normal(size=(2, 3)),
        "binary": (rng.uniform(size=(n, 3)) < 1 / (1 + np.exp(-logits))).astype(float),
        "counts": rng.poisson(np.exp(0.5 * z[:, :1]), size=(n, 2)).astype(float),
        "label": labels.astype(float)[:, None],
    }
    data["binary"][:5] = np.nan
    data["label"][5:12] = np.nan
    return data


MIXED_LIKELIHOODS = {"binary": "bernoulli", "counts": "poisson", "label": "categorical"}


@pytest.fixture
def quiet():
    """Warnings ignored (small-data and convergence warnings of the tiny fits): use it with
    ``pytestmark = pytest.mark.usefixtures("quiet")``."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture
def data():
    return make_data()


@pytest.fixture(scope="session")
def fitted():
    """A MultiModalVAE fitted on ``make_data()``. Shared: tests must not modify it."""
    return MultiModalVAE(**SMALL).fit(make_data())


@pytest.fixture(scope="session")
def fitted_mixed():
    """A MultiModalVAE fitted on ``make_mixed_data()``. Shared: tests must not modify it."""
    return MultiModalVAE(likelihoods=MIXED_LIKELIHOODS, **SMALL).fit(make_mixed_data())


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny tensors: intra-op threads only add overhead (and thrash on a shared CPU)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
