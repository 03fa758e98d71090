"""Training through skorch: output, early stopping, history, callbacks, divergence, batches."""
import copy
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import MIXED_LIKELIHOODS, SMALL, make_data, make_mixed_data
from skorch.callbacks import Callback

import skmmvae
from skmmvae import MultiModalVAE
from skmmvae._data import ModalityTensors
from skmmvae._net import MultiModalNet, Batches


class EpochCounter(Callback):
    def initialize(self):
        self.epochs = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1


class WeightRecorder(Callback):
    """Keep a copy of the weights at the end of every epoch."""

    def initialize(self):
        self.weights = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.weights.append(copy.deepcopy(net.module_.state_dict()))


def test_verbose_prints_one_line_per_epoch_that_fits_a_terminal(capsys):
    MultiModalVAE(**{**SMALL, "max_epochs": 3, "verbose": 1}, n_iter_no_change=50,
                  early_stopping=True).fit(make_data())  # validation rows: a "valid" column
    out, err = capsys.readouterr()
    lines = out.splitlines()
    epochs = [line for line in lines if line.startswith("epoch")]
    assert [line.split()[1] for line in epochs] == ["1/3", "2/3", "3/3"]
    assert all("train" in line and "valid" in line and "left" in line for line in epochs)
    assert max(len(line) for line in lines) <= 100
    assert "0 s left" in epochs[-1]  # nothing left after the last epoch


def test_verbose_partial_fit_counts_the_epochs_of_the_call(capsys):
    vae = MultiModalVAE(**{**SMALL, "max_epochs": 2}, early_stopping=False).fit(make_data())
    vae.set_params(verbose=1).partial_fit(make_data(), epochs=2)
    epochs = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")]
    assert [line.split()[1] for line in epochs] == ["3/4", "4/4"]


def test_silent_by_default(capsys):
    MultiModalVAE(**SMALL).fit(make_data())
    out, err = capsys.readouterr()
    assert out == "" and err == ""


@pytest.mark.parametrize("objective", ["tight", "mixture", "elbo"])
def test_history_exposes_the_objective_terms(objective):
    beta = 0.5
    est = MultiModalVAE(**{**SMALL, "objective": objective, "beta": beta},
                        early_stopping=True).fit(make_data())  # with validation rows
    history = est.history_
    assert len(history) == SMALL["max_epochs"] == est.n_iter_
    for prefix in ("train", "valid"):
        loss = np.array(history[:, f"{prefix}_loss"])
        recon = np.array(history[:, f"{prefix}_reconstruction"])
        kl = np.array(history[:, f"{prefix}_kl"])
        objective_value = recon - beta * kl
        if objective == "tight":
            objective_value += np.array(history[:, f"{prefix}_cross_reconstruction"])
            objective_value -= beta * np.array(history[:, f"{prefix}_cross_kl"])
        else:
            assert f"{prefix}_cross_kl" not in history[-1]
        # the loss is the negative objective, averaged over the epoch's batches
        np.testing.assert_allclose(loss, -objective_value, rtol=1e-4)


def test_user_callbacks_are_run():
    counter = EpochCounter()
    est = MultiModalVAE(**{**SMALL, "max_epochs": 4, "early_stopping": False, "callbacks": [counter]})
    est.fit(make_data())
    assert counter.epochs == 4
    # partial_fit trains with the current parameters: new callbacks and lr
    named = EpochCounter()
    est.set_params(callbacks=[("counter", named)], lr=0.5).partial_fit(make_data(), epochs=2)
    assert named.epochs == 2 and counter.epochs == 4
    assert est.history_[-2, "lr"] == 0.5  # the first epoch of the call; lr_schedule anneals it
    assert [g["lr"] for g in est.net_.optimizer_.param_groups] == [est.history_[-1, "lr"]]


def test_callbacks_in_every_form_skorch_takes_are_accepted():
    # a class, a list pair, a pair whose callback is None (left out); others are refused
    # before training (skorch failed at fit with "'str' object has no attribute 'set_params'")
    named = EpochCounter()
    est = MultiModalVAE(**{**SMALL, "max_epochs": 2, "early_stopping": False,
                           "callbacks": [EpochCounter, ["named", named], ("off", None)]})
    est.fit(make_data())
    assert named.epochs == 2
    assert sum(isinstance(cb, EpochCounter) for _, cb in est.net_.callbacks_) == 2
    assert "off" not in dict(est.net_.callbacks_)
    for bad in (["x"], [EpochCounter(), 3], [(1, EpochCounter())], [("a", "b", EpochCounter())]):
        with pytest.raises(TypeError, match="'callbacks' parameter"):
            est.set_params(callbacks=bad).partial_fit(make_data())
    assert len(est.history_) == 2


def test_early_stopping_restores_the_weights_of_the_best_epoch():
    recorder = WeightRecorder()
    est = MultiModalVAE(**{
        **SMALL, "max_epochs": 40, "lr": 0.05, "n_iter_no_change": 3, "validation_fraction": 0.3,
        "callbacks": [recorder],
    }).fit(make_data())  # fmt: skip
    history = est.history_
    valid_loss = np.array(history[:, "valid_loss"])
    best = int(np.argmin(valid_loss))
    assert history[best, "valid_loss_best"]
    # stopped early, three epochs after the best one, which was not the last
    assert len(history) < 40 and len(history) == best + 1 + 3
    final = est.module_.state_dict()
    for name, value in recorder.weights[best].items():
        torch.testing.assert_close(final[name], value, rtol=0, atol=0)
    assert any(not torch.equal(final[k], v) for k, v in recorder.weights[-1].items())


def test_early_stopping_off_runs_all_epochs():
    est = MultiModalVAE(**{**SMALL, "max_epochs": 12, "lr": 0.05, "n_iter_no_change": 1,
                           "early_stopping": False}).fit(make_data())  # fmt: skip
    assert len(est.history_) == 12


def test_no_validation_split_when_it_would_be_empty():
    data = {name: block[20:28] for name, block in make_data().items()}  # 8 rows: 10% < 1 row
    est = MultiModalVAE(**SMALL).fit(data)  # early stopping on but nothing to monitor
    assert len(est.history_) == SMALL["max_epochs"]
    assert "valid_loss" not in est.history_[-1]
    est = MultiModalVAE(**{**SMALL, "validation_fraction": 0.0}).fit(make_data())
    assert "valid_loss" not in est.history_[-1]


def test_validation_split_is_seeded_and_sized():
    est = MultiModalVAE(**{**SMALL, "validation_fraction": 0.25}).fit(make_data())
    assert est.history_[-1, "train_batch_count"] == 2  # 60 training rows, batch_size 32
    assert est.history_[-1, "valid_batch_count"] == 1  # 20 validation rows
    again = MultiModalVAE(**{**SMALL, "validation_fraction": 0.25}).fit(make_data())
    assert again.history_[:, "valid_loss"] == est.history_[:, "valid_loss"]


@pytest.mark.parametrize("how", ["huge-lr", "huge-values"])
def test_divergence_stops_training_with_advice(how):
    data = make_data()
    params = dict(SMALL)
    if how == "huge-lr":
        params["lr"] = 1e10
    else:
        data = {name: block * 1e30 for name, block in data.items()}
        params["standardize"] = False  # standardised, such data train fine (see below)
    with pytest.raises(skmmvae.TrainingDivergedError, match="(objective became (nan|inf)|loss exploded).*lower lr"):
        MultiModalVAE(**params).fit(data)


class BlowUpDecoders(Callback):
    """Multiply the decoders' last-layer weights by ``factor`` at the end of epoch ``epoch``:
    a finite but exploding loss, as a too-large learning rate can produce."""

    def __init__(self, epoch, factor):
        self.epoch, self.factor = epoch, factor

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            with torch.no_grad():
                for decoder in net.module_.decoders:
                    # the MLP's last layer (a decoder's linear path has no bias)
                    last = [m for m in decoder.modules() if isinstance(m, torch.nn.Linear) and m.bias is not None][-1]
                    last.weight.mul_(self.factor)
                    last.bias.add_(self.factor)


def test_an_exploding_finite_loss_stops_training_with_advice():
    """Two epochs in a row far above the start: an error after the second (epoch 4)."""
    est = MultiModalVAE(**{**SMALL, "max_epochs": 6, "callbacks": [BlowUpDecoders(2, 1e4)]})
    with pytest.raises(skmmvae.TrainingDivergedError,
                       match="loss exploded: its mean was .* in epoch 4 .* for 2 epochs in a row.*lower lr") as info:
        est.fit(make_data())
    loss = float(str(info.value).split("its mean was ")[1].split(" ")[0])
    assert np.isfinite(loss) and loss > 1e5


class SpikeOnce(BlowUpDecoders):
    """Blow the decoders up at the end of epoch ``epoch`` and restore them one epoch later:
    one epoch of enormous (finite) losses, as a single bad batch can cause."""

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            self.saved = copy.deepcopy(net.module_.decoders.state_dict())
        super().on_epoch_end(net, **kwargs)
        if len(net.history) == self.epoch + 1:
            net.module_.decoders.load_state_dict(self.saved)


def test_a_single_spiking_epoch_is_not_divergence():
    est = MultiModalVAE(**{**SMALL, "max_epochs": 5, "early_stopping": False,
                          "callbacks": [SpikeOnce(2, 1e4)]}).fit(make_data())
    losses = est.history_[:, "train_loss"]
    assert losses[2] > 1e4 * abs(losses[0])  # the spike happened (epoch 3)
    assert est.n_iter_ == 5 and losses[4] < 10 * abs(losses[0])


def test_a_moderate_loss_increase_is_not_divergence():
    """A 10x jump of the decoders (loss up by orders of magnitude less than 10^4) trains on."""
    est = MultiModalVAE(**{**SMALL, "max_epochs": 4, "callbacks": [BlowUpDecoders(2, 3.0)]}).fit(make_data())
    losses = est.history_[:, "train_loss"]
    assert losses[2] > 2 * losses[1]  # the jump happened
    assert est.n_iter_ == 4


def test_batches_index_in_memory_tensors():
    xs = [torch.arange(20.0).reshape(10, 2), torch.arange(10.0)[:, None]]
    mask = torch.ones(10, 2, dtype=torch.bool)
    tensors = ModalityTensors(xs, mask).subset(torch.arange(1, 10))  # a 9-row view
    batches = list(Batches(tensors, batch_size=4, shuffle=True, device="cpu"))
    assert len(batches) == len(Batches(tensors, 4, True, "cpu")) == 3
    assert [len(b) for b, _ in batches] == [4, 4, 1]
    rows = torch.cat([b.xs[1][:, 0] for b, _ in batches]).sort().values
    np.testing.assert_array_equal(rows.numpy(), np.arange(1.0, 10.0))  # each row once
    ordered = torch.cat([b.xs[1][:, 0] for b, _ in Batches(tensors, 4, False, "cpu")])
    np.testing.assert_array_equal(ordered.numpy(), np.arange(1.0, 10.0))


def test_net_accepts_only_modality_tensors():
    net = MultiModalNet(torch.nn.Linear(1, 1))
    with pytest.raises(TypeError, match="ModalityTensors"):
        net.get_dataset(np.zeros((3, 1)))


def test_a_new_objective_is_one_class_and_one_registry_line(monkeypatch):
    """The net records the terms the objective declares (a new term is a new history column),
    and its loss is the objective's."""
    from skmmvae.nn import OBJECTIVES, Elbo, MultiModalModule, make_likelihood

    class Scaled(Elbo):
        terms = ("reconstruction", "kl", "half_kl")

        def bound(self, model, xs, mask, tokens, subset, beta):
            terms = super().bound(model, xs, mask, tokens, subset, beta)
            terms["half_kl"] = terms["kl"] / 2
            return terms

    monkeypatch.setitem(OBJECTIVES, "scaled", Scaled)
    torch.manual_seed(0)
    module = MultiModalModule({"a": make_likelihood("gaussian", 2), "b": make_likelihood("gaussian", 1)},
                              n_latent=2, hidden_sizes=(8,), embedding_size=8)
    tensors = ModalityTensors([torch.randn(40, 2), torch.randn(40, 1)], torch.ones(40, 2, dtype=torch.bool))
    net = MultiModalNet(module, objective="scaled", valid_fraction=0.25, max_epochs=2, batch_size=16,
                        optimizer=torch.optim.Adam, callbacks__print_log=None).initialize()
    net.partial_fit(tensors, epochs=2)
    assert net.interruption_ is None and len(net.history) == 2
    for prefix in ("train", "valid"):
        kl, half = np.array(net.history[:, f"{prefix}_kl"]), np.array(net.history[:, f"{prefix}_half_kl"])
        np.testing.assert_allclose(half, kl / 2, rtol=1e-5)
        recon = np.array(net.history[:, f"{prefix}_reconstruction"])
        np.testing.assert_allclose(net.history[:, f"{prefix}_loss"], kl - recon, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("factor", [1e-6, 1e6])
def test_standardized_model_is_equivariant_to_the_scale_of_the_data(factor):
    # With standardize=True the networks see the same standardised data whatever the units, so
    # the fit on c * X is the fit on X in other units: the same latents, c times the
    # imputations, and log-likelihoods lower by log(c) per observed Gaussian feature.
    data = make_data()
    scaled = {name: block * factor for name, block in data.items()}
    est, est_c = MultiModalVAE(**SMALL).fit(data), MultiModalVAE(**SMALL).fit(scaled)
    np.testing.assert_allclose(est_c.transform(scaled), est.transform(data), rtol=1e-3, atol=1e-4)
    hidden = {"a": data["a"]}
    np.testing.assert_allclose(est_c.predict({"a": scaled["a"]})["b"], factor * est.predict(hidden)["b"],
                               rtol=1e-3, atol=1e-4 * factor)
    n_observed = sum(np.isfinite(block[:, 0]) * block.shape[1] for block in data.values())
    np.testing.assert_allclose(est_c.score_samples(scaled),
                               est.score_samples(data) - n_observed * np.log(factor), rtol=1e-4)


def test_without_standardization_the_model_depends_on_the_units():
    data = make_data()
    scaled = {name: block * 1e3 for name, block in data.items()}
    params = dict(SMALL, standardize=False)
    Z = MultiModalVAE(**params).fit(data).transform(data)
    Z_c = MultiModalVAE(**params).fit(scaled).transform(scaled)
    assert not np.allclose(Z, Z_c, rtol=1e-2, atol=1e-2)  # the equivariance above is not free


def test_standardization_starts_the_decoders_at_the_data_marginals():
    data = make_mixed_data()
    est = MultiModalVAE(likelihoods=MIXED_LIKELIHOODS, **dict(SMALL, max_epochs=1))
    est.fit(data)
    liks = est.module_.likelihoods
    gauss = data["gauss"]
    np.testing.assert_allclose(liks["gauss"].output_shift.cpu().numpy(), gauss.mean(0), rtol=1e-5)
    np.testing.assert_allclose(liks["gauss"].output_scale.cpu().numpy(), gauss.std(0), rtol=1e-5)
    binary = data["binary"][~np.isnan(data["binary"][:, 0])]
    p = binary.mean(0)
    np.testing.assert_allclose(liks["binary"].output_shift.cpu().numpy(), np.log(p / (1 - p)), rtol=1e-4)
    counts = data["counts"]
    np.testing.assert_allclose(liks["counts"].output_shift.cpu().numpy(), np.log(counts.mean(0)), rtol=1e-4)
    labels = data["label"][~np.isnan(data["label"][:, 0]), 0]
    freq = np.unique(labels, return_counts=True)[1] / len(labels)
    np.testing.assert_allclose(liks["label"].output_shift.cpu().numpy(), np.log(freq), rtol=1e-4)


def test_bfloat16_autocast_trains_in_mixed_precision_with_float32_weights():
    data = make_data()
    plain = MultiModalVAE(**SMALL).fit(data)
    mixed = MultiModalVAE(**dict(SMALL, autocast="bfloat16")).fit(data)
    assert all(p.dtype == torch.float32 for p in mixed.module_.parameters())
    # bfloat16 forward passes change the losses (so autocast was on), but not by much
    plain_loss, mixed_loss = plain.history_[0, "train_loss"], mixed.history_[0, "train_loss"]
    assert plain_loss != mixed_loss
    assert abs(plain_loss - mixed_loss) < 0.05 * abs(plain_loss)
    assert np.isfinite(mixed.transform(data)).all() and np.isfinite(mixed.score_samples(data)).all()


def test_compiled_objective_gives_the_same_model():
    # the "eager" backend runs dynamo's graph capture without code generation: the same
    # operations, so the same weights, at a fraction of inductor's compile time
    data = make_data()
    plain = MultiModalVAE(**SMALL).fit(data)
    compiled = MultiModalVAE(**dict(SMALL, compile={"backend": "eager"})).fit(data)
    assert compiled.net_._objective_fn is not None  # the compiled path was taken
    for (name, p), q in zip(plain.module_.state_dict().items(), compiled.module_.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)
    np.testing.assert_allclose(compiled.transform(data), plain.transform(data), rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity")
def test_available_cores_honours_cpu_affinity():
    """A process pinned to one core counts one core (os.cpu_count would count them all)."""
    code = (
        "import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
        "from skmmvae._runtime import _available_cores, TorchThreads; import torch; "
        "t = TorchThreads(-1); t.__enter__(); print(_available_cores(), torch.get_num_threads())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1"]


@pytest.mark.parametrize("n_jobs, expected", [(1, 1), (2, 2), (-1, "cores"), (-2, "cores-1"), (-99, 1)])
def test_n_jobs_sets_torch_threads_with_joblib_conventions(n_jobs, expected, monkeypatch):
    from skmmvae._runtime import TorchThreads

    monkeypatch.setattr("skmmvae._runtime._available_cores", lambda: 8)
    want = {"cores": 8, "cores-1": 7}.get(expected, expected)
    before = torch.get_num_threads()
    with TorchThreads(n_jobs):
        assert torch.get_num_threads() == want
    assert torch.get_num_threads() == before


def test_adam_is_fused_and_matches_the_unfused_update():
    """The CPU trains with torch's fused Adam: the same update as the loop over parameters,
    up to float rounding (a few steps from the same weights, compared here)."""
    import torch

    est = MultiModalVAE(**{**SMALL, "max_epochs": 1, "early_stopping": False}).fit(make_data())
    assert est.net_.optimizer_.defaults["fused"] is True
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(7))]
    copies = [torch.nn.Parameter(p.detach().clone()) for p in params]
    fused, plain = torch.optim.Adam(params, lr=0.01, fused=True), torch.optim.Adam(copies, lr=0.01)
    for step in range(5):
        grads = [torch.randn_like(p) for p in params]
        for group, opt in ((params, fused), (copies, plain)):
            for p, g in zip(group, grads):
                p.grad = g.clone()
            opt.step()
    for p, q in zip(params, copies):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [{"lr": -1.0}, {"batch_size": 0}, {"beta": -0.5}, {"n_iter_no_change": 0}])
def test_parameters_set_before_partial_fit_on_a_fitted_model_are_validated(bad):
    """scikit-learn checks partial_fit's parameters on the first call only; a training
    parameter set afterwards is checked too, before any training, and the model is kept."""
    from sklearn.utils._param_validation import InvalidParameterError

    est = MultiModalVAE(**SMALL).fit(make_data())
    before = est.transform(make_data())
    epochs = len(est.history_)
    with pytest.raises(InvalidParameterError, match=next(iter(bad))):
        est.set_params(**bad).partial_fit(make_data())
    assert len(est.history_) == epochs
    np.testing.assert_array_equal(est.transform(make_data()), before)
