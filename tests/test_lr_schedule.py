"""``lr_schedule``: the learning rate of every epoch, for ``fit`` and ``partial_fit``, checked
against the cosine formula computed here and against the optimiser itself."""
import numpy as np
import pytest
from skorch.callbacks import Callback

from skmmvae import MultiModalImputer, MultiModalVAE


def make_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    return {"a": z @ rng.normal(size=(2, 3)), "b": z @ rng.normal(size=(2, 2))}


SMALL = dict(n_components=2, hidden_layer_sizes=(8,), embedding_size=8, batch_size=16,
             early_stopping=False, random_state=0, n_jobs=1)


class OptimiserLR(Callback):
    """The optimiser's learning rate at the end of every epoch (what the steps used)."""

    def __init__(self):
        self.seen = []

    def on_epoch_end(self, net, **kwargs):
        self.seen.append(net.optimizer_.param_groups[0]["lr"])


def cosine(lr, epochs):
    k = np.arange(epochs)
    return lr * 0.5 * (1 + np.cos(np.pi * k / epochs))


def test_cosine_anneals_over_max_epochs():
    probe = OptimiserLR()
    vae = MultiModalVAE(**SMALL, max_epochs=6, lr=0.01, callbacks=[("probe", probe)]).fit(make_data())
    np.testing.assert_allclose(vae.history_[:, "lr"], cosine(0.01, 6))
    np.testing.assert_allclose(probe.seen, cosine(0.01, 6))
    assert probe.seen[0] == 0.01 and 0 < probe.seen[-1] < 0.001


def test_constant_keeps_lr():
    probe = OptimiserLR()
    MultiModalVAE(**SMALL, max_epochs=4, lr=0.01, lr_schedule="constant",
                  callbacks=[("probe", probe)]).fit(make_data())
    assert probe.seen == [0.01] * 4


def test_partial_fit_is_a_warm_restart_over_its_epochs():
    X = make_data()
    vae = MultiModalVAE(**SMALL, max_epochs=4, lr=0.01).fit(X)
    vae.partial_fit(X, epochs=3)
    np.testing.assert_allclose(vae.history_[:, "lr"], np.r_[cosine(0.01, 4), cosine(0.01, 3)])
    vae.partial_fit(X)  # one epoch: the full lr
    assert vae.history_[-1, "lr"] == 0.01


def test_first_partial_fit_anneals_over_its_epochs():
    vae = MultiModalVAE(**SMALL, lr=0.02).partial_fit(make_data(), epochs=5)
    np.testing.assert_allclose(vae.history_[:, "lr"], cosine(0.02, 5))


def test_the_schedule_changes_training():
    X = make_data()
    params = dict(SMALL, max_epochs=5, lr=0.01)
    a = MultiModalVAE(**params).fit(X).transform(X)
    b = MultiModalVAE(**params, lr_schedule="constant").fit(X).transform(X)
    assert not np.allclose(a, b)


def test_early_stopping_ends_the_annealing_early():
    vae = MultiModalVAE(**dict(SMALL, early_stopping=True, n_iter_no_change=2), max_epochs=300,
                        lr=0.01).fit(make_data(n=200))
    lrs = vae.history_[:, "lr"]
    assert len(lrs) < 300
    np.testing.assert_allclose(lrs, cosine(0.01, 300)[: len(lrs)])


def test_bad_schedule_is_a_value_error():
    with pytest.raises(ValueError, match="lr_schedule"):
        MultiModalVAE(**SMALL, lr_schedule="linear").fit(make_data())


def test_imputer_passes_the_schedule_on():
    imp = MultiModalImputer(**SMALL, max_epochs=3, lr=0.01, lr_schedule="constant").fit(make_data())
    assert imp.history_[:, "lr"] == [0.01] * 3


def test_constant_leaves_a_users_scheduler_in_charge():
    """With ``lr_schedule="constant"`` a skorch ``LRScheduler`` among the callbacks sets the
    rate (the estimator does not reset it every epoch), and ``history_`` records its rates."""
    from skorch.callbacks import LRScheduler

    probe = OptimiserLR()
    scheduler = LRScheduler(policy="StepLR", step_size=1, gamma=0.5)
    vae = MultiModalVAE(**SMALL, max_epochs=4, lr=0.08, lr_schedule="constant",
                        callbacks=[("probe", probe), ("scheduler", scheduler)]).fit(make_data())
    np.testing.assert_allclose(probe.seen, [0.08, 0.04, 0.02, 0.01])
    np.testing.assert_allclose(vae.history_[:, "lr"], probe.seen)
