"""n_components="auto" (skmmvae._latent_size) where a fit with an integer size already had an
answer: user callbacks, Ctrl-C, failures in training, warnings turned into errors, custom
decoders, verbose output, and the fitted size of models saved before it was recorded."""
import os
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from skorch.callbacks import Callback

from skmmvae import MultiModalVAE
from skmmvae._snapshot import optimizer_state

FAST = dict(hidden_layer_sizes=(16,), embedding_size=8, max_epochs=3, random_state=0)


def views(n=120, seed=0):
    """Two Gaussian views of one 2-D latent (12 validation rows: the sizes are compared)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    return {"a": z @ rng.normal(size=(2, 4)) + 0.1 * rng.normal(size=(n, 4)),
            "b": z @ rng.normal(size=(2, 3)) + 0.1 * rng.normal(size=(n, 3))}


def quiet_fit(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X)


class Sizes(Callback):
    """Records the latent size of every epoch it sees; its state is an attribute that is not
    a parameter (skorch's ``get_params`` reports it, so scikit-learn's ``clone`` cannot
    rebuild the callback), as in ``tests/test_interruption.py``'s ``Interrupt``."""

    def __init__(self, interrupt_at=None, exception=KeyboardInterrupt):
        self.interrupt_at, self.exception = interrupt_at, exception
        self.seen, self.fired = [], False

    def on_epoch_end(self, net, **kwargs):
        self.seen.append(net.module_.n_latent)
        if not self.fired and self.interrupt_at == len(net.history):
            self.fired = True
            raise self.exception


def test_a_callback_with_state_of_its_own_runs_as_with_an_integer_size():
    X = views()
    for n_components in (12, "auto"):
        sizes = Sizes()
        est = quiet_fit(MultiModalVAE(n_components=n_components, callbacks=[sizes], **FAST), X)
        assert dict(est.net_.callbacks_)["Sizes"] is sizes  # the user's instance, not a copy
    # each size's training runs it
    assert sizes.seen == [12] * 3 + [24] * 3


def test_ctrl_c_in_the_first_size_stops_the_fit():
    X = views()
    sizes = Sizes(interrupt_at=2)
    est = MultiModalVAE(n_components="auto", callbacks=[sizes], **FAST)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X)
    assert sizes.seen == [12, 12]  # no second model trained after Ctrl-C
    assert est.n_components_ == 12 and est.n_iter_ == 2 and not hasattr(est, "latent_selection_")
    interrupted = [w for w in caught if "training was interrupted" in str(w.message)]
    assert len(interrupted) == 1 and os.path.samefile(interrupted[0].filename, __file__)


class Boom(RuntimeError):
    pass


def test_a_fit_that_fails_in_training_leaves_the_estimator_unfitted():
    """As with an integer size (docs/reliability.rst): a refit that fails while training
    does not leave the model of the earlier fit behind, to be used as if it were the new one."""
    X = views()
    est = quiet_fit(MultiModalVAE(n_components="auto", **FAST), X)
    est.set_params(callbacks=[Sizes(interrupt_at=2, exception=Boom)])
    with pytest.raises(Boom):
        quiet_fit(est, X)
    assert not hasattr(est, "module_") and not hasattr(est, "history_")
    with pytest.raises(NotFittedError):
        est.transform(X)


def test_a_warning_turned_into_an_error_leaves_a_fitted_estimator_as_it_was():
    X = views()
    est = quiet_fit(MultiModalVAE(n_components="auto", **FAST), X)
    state = dict(est.__dict__)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", ConvergenceWarning)  # max_epochs=3: still improving
        with pytest.raises(ConvergenceWarning):
            est.fit(views(seed=1))
    assert est.__dict__.keys() == state.keys()
    assert all(est.__dict__[k] is v for k, v in state.items())


def test_decoders_built_for_one_size_are_refused_before_training():
    X = views()
    sizes = Sizes()
    decoders = {"a": torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU())}
    est = MultiModalVAE(n_components="auto", decoders=decoders, callbacks=[sizes], **FAST)
    with pytest.raises(ValueError, match=r"decoders\['a'\] takes 12 latent inputs but not 24"):
        quiet_fit(est, X)
    assert sizes.seen == []  # refused before any training
    assert quiet_fit(est.set_params(n_components=12), X).n_components_ == 12
    # a decoder that takes any width serves both sizes; the user's networks are not touched
    encoder = torch.nn.Linear(3, 8)
    weights = encoder.weight.detach().clone()
    est = quiet_fit(MultiModalVAE(n_components="auto", decoders={"a": _AnyWidth()},
                                  encoders={"b": encoder}, **FAST), X)
    assert est.latent_selection_["n_components"] == [12, 24]
    assert torch.equal(encoder.weight, weights)


class _AnyWidth(torch.nn.Module):
    """A decoder for any latent width: the mean of the inputs, repeated."""

    def forward(self, z):
        return z.mean(1, keepdim=True).expand(-1, 16)


def test_verbose_says_which_size_trains_and_which_is_kept(capsys):
    X = views()
    est = quiet_fit(MultiModalVAE(n_components="auto", verbose=1, **FAST), X)
    out = capsys.readouterr().out.splitlines()
    headers = [line for line in out if line.startswith("n_components='auto'")]
    assert len(headers) == 3, out
    assert "12 latent dimensions (1 of 2)" in headers[0] and "24 latent dimensions (2 of 2)" in headers[1]
    assert f"keeping {est.n_components_}" in headers[2]


def test_a_first_partial_fit_after_a_failed_fit_fits_the_first_size():
    X = views()
    est = MultiModalVAE(n_components=5, callbacks=[Sizes(interrupt_at=1, exception=Boom)], **FAST)
    with pytest.raises(Boom):
        quiet_fit(est, X)
    est.set_params(n_components="auto", callbacks=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.partial_fit(X)
    assert est.n_components_ == 12 and est.module_.n_latent == 12


def test_a_pickle_from_before_n_components_was_recorded_has_it():
    est = quiet_fit(MultiModalVAE(n_components=5, **FAST), views())
    state = est.__getstate__()
    del state["n_components_"]  # as pickled by a release before n_components="auto"
    old = MultiModalVAE.__new__(MultiModalVAE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old.__setstate__(state)
    assert old.n_components_ == 5
    assert pickle.loads(pickle.dumps(old)).n_components_ == 5


def test_load_refuses_a_recorded_size_other_than_the_architecture(tmp_path):
    import json
    import zipfile

    path = tmp_path / "model.zip"
    quiet_fit(MultiModalVAE(n_components=5, **FAST), views()).save(path)
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    metadata = json.loads(members["metadata.json"])
    metadata["attributes"]["n_components_"] = 7
    members["metadata.json"] = json.dumps(metadata).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(ValueError, match="n_components_ 7 differs from the recorded architecture's 5"):
        MultiModalVAE.load(path)


def test_no_modality_observed_in_the_validation_rows_fits_the_first_size_alone():
    """As the module's docstring says: before, both sizes were fitted and latent_selection_
    held two NaN errors."""
    X = views()
    seed = quiet_fit(MultiModalVAE(n_components=12, **FAST), X)._split_seed
    order = torch.randperm(120, generator=torch.Generator().manual_seed(seed)).numpy()
    for block in X.values():
        block[order[:12]] = np.nan  # the 12 validation rows: nothing observed
    sizes = Sizes()
    est = quiet_fit(MultiModalVAE(n_components="auto", callbacks=[sizes], **FAST), X)
    assert est.n_components_ == 12 and not hasattr(est, "latent_selection_")
    assert set(sizes.seen) == {12}


@pytest.mark.parametrize("n_components", [5, "auto"])
def test_a_refit_after_unpickling_does_not_train_on_with_the_old_optimiser_state(n_components):
    """An unpickled model keeps its optimiser state waiting for partial_fit; a refit must drop
    it, or the next partial_fit (or pickle) gives the new model the old model's Adam moments
    (here of a 3-dimensional latent for a model of another size: wrong shapes, which fused
    Adam does not check; it read out of bounds, and crashed the process here)."""
    X = views()
    old = pickle.loads(pickle.dumps(quiet_fit(MultiModalVAE(n_components=3, **FAST), X)))
    est = quiet_fit(old.set_params(n_components=n_components), X)
    # what partial_fit and pickling take: checked first, as fused Adam steps with moments of
    # other shapes can crash the process
    waiting = optimizer_state(est)["state"]
    params = [param for group in est.net_.optimizer_.param_groups for param in group["params"]]
    assert [waiting[i]["exp_avg"].shape for i in range(len(params))] == [p.shape for p in params]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.partial_fit(X)
    optimizer = est.net_.optimizer_
    for group in optimizer.param_groups:
        for param in group["params"]:
            assert optimizer.state[param]["exp_avg"].shape == param.shape


def test_the_model_not_kept_is_released(monkeypatch):
    """Both sizes' models are in memory while the second trains; the one not kept must not
    outlive the fit (skorch's nets hold reference cycles, which only the cyclic collector
    frees; on a GPU that memory would stay taken)."""
    import weakref

    from skmmvae import _latent_size

    modules = {}
    original = _latent_size._fit_candidate

    def record(estimator, size, random_state, X, race=None):
        candidate, caught, failure, rows = original(estimator, size, random_state, X, race)
        modules[size] = weakref.ref(candidate.module_)
        return candidate, caught, failure, rows

    monkeypatch.setattr(_latent_size, "_fit_candidate", record)
    est = quiet_fit(MultiModalVAE(n_components="auto", **FAST), views())
    kept = est.n_components_
    assert set(modules) == {12, 24}
    assert modules[kept]() is est.module_
    assert modules[36 - kept]() is None


def test_racing_with_no_modality_observed_in_the_validation_rows_trains_the_first_size_whole(
        monkeypatch):
    """With the race the sizes pause after the warm-up: where there is nothing to choose on,
    the first size trains to the end of its fit (not the warm-up's model) and is kept."""
    from skmmvae import _latent_size

    monkeypatch.setattr(_latent_size, "RACE_MIN_EPOCHS", 1)
    monkeypatch.setattr(_latent_size, "_wide_candidate", lambda estimator, fitted: 5)  # to race
    paused = []
    original = _latent_size._finish_candidate

    def finish(candidate, *args):
        paused.append(len(candidate.history_))
        return original(candidate, *args)

    monkeypatch.setattr(_latent_size, "_finish_candidate", finish)
    params = {**FAST, "max_epochs": 8}  # a warm-up of 2 epochs: the race
    X = views()
    whole = quiet_fit(MultiModalVAE(n_components=12, **params), X)
    order = torch.randperm(120, generator=torch.Generator().manual_seed(whole._split_seed)).numpy()
    for block in X.values():
        block[order[:12]] = np.nan  # the 12 validation rows: nothing observed
    est = quiet_fit(MultiModalVAE(n_components="auto", **params), X)
    assert _latent_size._race_epochs(est) == 2
    alone = quiet_fit(MultiModalVAE(n_components=12, **params), X)
    assert est.n_components_ == 12 and not hasattr(est, "latent_selection_")
    assert est.n_iter_ == alone.n_iter_ == 8 and paused == [2]  # it did pause
    np.testing.assert_array_equal(est.transform(X), alone.transform(X))
