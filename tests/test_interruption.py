"""Interrupted training (Ctrl-C, or KeyboardInterrupt from a callback) leaves a usable estimator."""
import warnings

import numpy as np
import pytest
import torch
from conftest import SMALL

# early stopping on validation rows, which 80 rows do not get by default (early_stopping="auto")
SMALL = {**SMALL, "early_stopping": True}
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from skmmvae import MultiModalVAE

N_BATCHES = 3  # 80 rows, 8 held out for validation, batches of 32


def _weights(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _assert_weights_equal(module, weights):
    state = module.state_dict()
    assert set(state) == set(weights)
    for name, value in weights.items():
        torch.testing.assert_close(state[name], value, rtol=0, atol=0)


class Interrupt(Callback):
    """Raise ``KeyboardInterrupt`` once, after training batch ``batch`` of epoch ``epoch``
    (or at the end of that epoch with ``batch=None``), as Ctrl-C would. Keeps the weights at
    every epoch end and at the interruption."""

    def __init__(self, epoch, batch, exception=KeyboardInterrupt):
        self.epoch, self.batch, self.exception = epoch, batch, exception
        self.fired, self.epoch_weights, self.valid_losses = False, [], []

    def _raise(self, net):
        self.fired = True
        self.weights = _weights(net.module_)
        raise self.exception

    def on_batch_end(self, net, training=False, **kwargs):
        batches = [b for b in net.history[-1]["batches"] if "train_loss" in b]
        if not self.fired and training and len(net.history) == self.epoch and len(batches) == self.batch:
            self._raise(net)

    def on_epoch_end(self, net, **kwargs):
        self.epoch_weights.append(_weights(net.module_))
        self.valid_losses.append(net.history[-1, "valid_loss"])
        if not self.fired and self.batch is None and len(net.history) == self.epoch:
            self._raise(net)


def _fit_interrupted(data, epoch, batch, **params):
    interrupt = Interrupt(epoch, batch)
    est = MultiModalVAE(**{**SMALL, "max_epochs": 6, **params}, callbacks=[interrupt])
    with pytest.warns(UserWarning, match=f"training was interrupted .* in epoch {epoch}") as record:
        est.fit(data)
    messages = [str(w.message) for w in record if "training was interrupted" in str(w.message)]
    return est, interrupt, messages[0]


def _assert_usable(est, data, n_epochs):
    check_is_fitted(est)
    assert est.n_iter_ == len(est.history_) == n_epochs
    assert [row["epoch"] for row in est.history_] == list(range(1, n_epochs + 1))
    assert all("train_loss" in row and "valid_loss" in row for row in est.history_)  # whole epochs
    assert np.isfinite(est.transform(data)).all()
    assert all(np.isfinite(block).all() for block in est.predict(data).values())
    assert np.isfinite(est.score_samples(data)).all()


def _adam_steps(est):
    return {s["step"].item() for s in est.net_.optimizer_.state.values()}


def test_interrupted_fit_keeps_the_weights_at_the_interruption_and_partial_fit_goes_on(data):
    est, interrupt, message = _fit_interrupted(data, epoch=3, batch=2, early_stopping=False)
    assert "keeps the weights at the interruption" in message and "the 2 completed epochs" in message
    _assert_usable(est, data, n_epochs=2)  # the epoch cut short is not in the history
    _assert_weights_equal(est.module_, interrupt.weights)
    assert _adam_steps(est) == {2 * N_BATCHES + 2}

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="training was interrupted")  # not this time
        est.partial_fit(data, epochs=2)
    _assert_usable(est, data, n_epochs=4)
    assert _adam_steps(est) == {4 * N_BATCHES + 2}  # the optimiser state carried over
    changed = [not torch.equal(v, interrupt.weights[k]) for k, v in est.module_.state_dict().items()]
    assert any(changed)


def test_with_early_stopping_an_interrupted_fit_keeps_the_best_epoch_so_far(data):
    est, interrupt, message = _fit_interrupted(data, epoch=4, batch=1)
    _assert_usable(est, data, n_epochs=3)
    best = int(np.argmin(interrupt.valid_losses))  # early stopping keeps the first lowest
    assert f"keeps the weights of epoch {best + 1}, the best so far" in message
    _assert_weights_equal(est.module_, interrupt.epoch_weights[best])
    assert any(not torch.equal(v, interrupt.weights[k]) for k, v in est.module_.state_dict().items())
    est.partial_fit(data, epochs=2)
    _assert_usable(est, data, n_epochs=5)


def test_an_interruption_at_an_epoch_end_keeps_that_epoch(data):
    est, interrupt, message = _fit_interrupted(data, epoch=2, batch=None, early_stopping=False)
    _assert_usable(est, data, n_epochs=2)
    _assert_weights_equal(est.module_, interrupt.weights)


def test_an_interruption_in_the_first_epoch_leaves_an_untrained_but_usable_model(data):
    est, interrupt, message = _fit_interrupted(data, epoch=1, batch=1)  # early stopping on
    assert "keeps the weights at the interruption" in message and "the 0 completed epochs" in message
    _assert_usable(est, data, n_epochs=0)
    _assert_weights_equal(est.module_, interrupt.weights)
    assert _adam_steps(est) == {1}
    est.partial_fit(data, epochs=2)
    _assert_usable(est, data, n_epochs=2)
    assert _adam_steps(est) == {2 * N_BATCHES + 1}


def test_an_interrupted_partial_fit_keeps_the_earlier_epochs(data):
    est = MultiModalVAE(**{**SMALL, "early_stopping": False}).fit(data)
    interrupt = Interrupt(epoch=SMALL["max_epochs"] + 2, batch=1)
    est.set_params(callbacks=[interrupt])
    with pytest.warns(UserWarning, match="interrupted"):
        est.partial_fit(data, epochs=3)
    _assert_usable(est, data, n_epochs=SMALL["max_epochs"] + 1)
    _assert_weights_equal(est.module_, interrupt.weights)


class FakeValidLoss(Callback):
    """Overwrite ``valid_loss`` with 1, 2, 3, ...: early stopping sees no improvement after epoch 1."""

    def on_epoch_end(self, net, **kwargs):
        net.history.record("valid_loss", float(len(net.history)))
        if len(net.history) == 1:
            self.weights = _weights(net.module_)


def test_early_stopping_is_no_interruption(data):
    fake = FakeValidLoss()
    est = MultiModalVAE(**{**SMALL, "max_epochs": 10, "n_iter_no_change": 1}, kl_warmup=0,
                        callbacks=[fake])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="training was interrupted")
        est.fit(data)
    assert est.n_iter_ == 2  # stopped by early stopping after one epoch without improvement
    _assert_weights_equal(est.module_, fake.weights)  # and restored the best epoch


@pytest.mark.parametrize("batch", [2, None])
def test_other_exceptions_in_callbacks_propagate(data, batch):
    interrupt = Interrupt(epoch=2, batch=batch, exception=RuntimeError("boom"))
    est = MultiModalVAE(**SMALL, callbacks=[interrupt])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="training was interrupted")
        with pytest.raises(RuntimeError, match="boom"):
            est.fit(data)
    assert not hasattr(est, "module_")  # a failed first fit leaves no half-fitted estimator


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("unpickled", [False, True], ids=["fitted", "unpickled"])
def test_a_failed_partial_fit_restores_the_estimator(data, unpickled):
    """An exception other than KeyboardInterrupt (here from a callback, in the second epoch of
    the continuation, after optimiser steps) leaves weights, optimiser state, history_ and
    n_iter_ as they were: continuing afterwards gives exactly what it gives without the failure."""
    import pickle

    params = {**SMALL, "early_stopping": False}
    reference = MultiModalVAE(**params).fit(data)
    est = MultiModalVAE(**params).fit(data)
    if unpickled:
        reference, est = pickle.loads(pickle.dumps(reference)), pickle.loads(pickle.dumps(est))
    before = _weights(est.module_)
    n_before = len(est.history_)
    est.set_params(callbacks=[Interrupt(epoch=n_before + 2, batch=2, exception=Boom)])
    with pytest.raises(Boom) as info:
        est.partial_fit(data, epochs=3)
    if hasattr(info.value, "__notes__"):
        assert "restored to its state before this call" in info.value.__notes__[0]
    _assert_weights_equal(est.module_, before)
    assert est.n_iter_ == len(est.history_) == n_before
    est.set_params(callbacks=None)
    reference.partial_fit(data, epochs=2)
    est.partial_fit(data, epochs=2)
    _assert_weights_equal(est.module_, _weights(reference.module_))
    assert [row["train_loss"] for row in est.history_] == [row["train_loss"] for row in reference.history_]


def test_a_failed_fit_leaves_the_estimator_unfitted(data):
    est = MultiModalVAE(**SMALL).fit(data)
    est.set_params(callbacks=[Interrupt(epoch=1, batch=1, exception=Boom)])
    with pytest.raises(Boom):
        est.fit(data)
    assert not hasattr(est, "history_") and not hasattr(est, "n_iter_")
    with pytest.raises(NotFittedError):
        est.transform(data)
