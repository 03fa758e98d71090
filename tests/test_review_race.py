"""The race of n_components="auto" (skmmvae._latent_size): a size trained in two parts must
end as a fit with an integer size of that size, also where that fit fails, with user
callbacks and with an accelerator."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from skorch.callbacks import Callback

from skmmvae import MultiModalVAE, TrainingDivergedError, _latent_size
from test_latent_size import RACE, three_views


@pytest.fixture
def race(monkeypatch):
    monkeypatch.setattr(_latent_size, "RACE_MIN_EPOCHS", 1)  # RACE: a warm-up of 2 epochs
    monkeypatch.setattr(_latent_size, "RACE_MARGIN", float("inf"))  # every size trains on
    # a wide size, with which the sizes race (without one every size trains in one call)
    monkeypatch.setattr(_latent_size, "_wide_candidate", lambda estimator, fitted: WIDE)


WIDE = 5


def fit(est, X):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X)
    return est, caught


def test_a_size_that_diverges_after_the_race_leaves_the_estimator_unfitted(race, monkeypatch):
    X = three_views()
    original = MultiModalVAE._check_finite

    def diverge_at_the_end(self, module, tensors):
        if len(self.net_.history) == self.max_epochs:  # the second part of the first size
            raise TrainingDivergedError("diverged")
        return original(self, module, tensors)

    monkeypatch.setattr(MultiModalVAE, "_check_finite", diverge_at_the_end)
    est = MultiModalVAE(n_components="auto", **RACE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TrainingDivergedError):
            est.fit(X)
    # as with n_components=12: not the model of the warm-up's epochs
    assert not any(hasattr(est, name) for name in ("module_", "history_", "n_iter_"))
    with pytest.raises(NotFittedError):
        est.transform(X)


class Trainings(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, net, **kwargs):
        self.calls.append("begin")

    def on_train_end(self, net, **kwargs):
        self.calls.append("end")


def test_user_callbacks_see_one_training_per_size(race):
    """skorch's EarlyStopping, ReduceLROnPlateau or Checkpoint(load_best=True) start afresh or
    load weights at on_train_begin/on_train_end: a size trained in two parts would not end
    as a fit of that size."""
    trainings = Trainings()
    est, _ = fit(MultiModalVAE(n_components="auto", callbacks=[trainings], **RACE), three_views())
    assert trainings.calls == ["begin", "end"] * 3
    assert est.latent_selection_["epochs"] == [8, 8, 8]


def test_the_race_with_an_accelerator_ends_with_the_models_of_uninterrupted_fits(race, monkeypatch):
    pytest.importorskip("accelerate")
    X = three_views()
    raced, _ = fit(MultiModalVAE(n_components="auto", accelerator="auto", **RACE), X)
    monkeypatch.setattr(_latent_size, "_race_epochs", lambda est: None)
    whole, _ = fit(MultiModalVAE(n_components="auto", accelerator="auto", **RACE), X)
    assert raced.latent_selection_ == whole.latent_selection_
    np.testing.assert_array_equal(raced.transform(X), whole.transform(X))


def test_verbose_counts_the_epochs_of_the_whole_fit_and_names_the_size_that_trains_on(race, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MultiModalVAE(n_components="auto", verbose=1, **RACE).fit(three_views())
    out = capsys.readouterr().out.splitlines()
    epochs = [line.split()[1] for line in out if line.startswith("epoch")]
    assert epochs == [f"{k}/8" for k in (1, 2)] * 3 + [f"{k}/8" for k in range(3, 9)] * 3
    on = [line for line in out if line.endswith("latent dimensions on")]
    assert [line.split()[2] for line in on] == ["12", "24", str(WIDE)]
    between = out[out.index(on[0]):out.index(on[1])]  # the first size's epochs 3 to 8 under its line
    assert [line.split()[1] for line in between if line.startswith("epoch")] == [f"{k}/8" for k in range(3, 9)]
