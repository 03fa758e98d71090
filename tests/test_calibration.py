"""The temperature of ``predict_proba`` (``class_temperatures_``): fitted on the fit's own
validation rows, it minimises their log-loss, changes no class ranking, and persists."""
import json
import pickle
import zipfile

import numpy as np
import pytest
from sklearn.metrics import log_loss

from conftest import make_labelled_data
from skmmvae import MultiModalVAE
from skmmvae._calibration import best_temperature, log_loss_at, tempered
from skmmvae._net import validation_split
from skmmvae._persistence import METADATA, WEIGHTS

SMALL = dict(n_components=2, hidden_layer_sizes=(16,), embedding_size=16, max_epochs=8,
             batch_size=64, random_state=0)


_labelled = make_labelled_data


def _vae(**params):
    return MultiModalVAE(likelihoods={"y": "categorical"}, **{**SMALL, **params})


def test_tempered_is_the_renormalised_power_and_keeps_the_ranking():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=6)
    for t in (0.3, 1.0, 2.5):
        expected = p ** (1 / t) / (p ** (1 / t)).sum(1, keepdims=True)  # by hand
        np.testing.assert_allclose(tempered(p, t), expected, rtol=1e-12)
        np.testing.assert_array_equal(tempered(p, t).argmax(1), p.argmax(1))
    assert (tempered(p, 0.3).max(1) > p.max(1)).all()  # below 1 sharpens
    assert (tempered(p, 2.5).max(1) < p.max(1)).all()  # above 1 flattens
    with_zero = np.array([[0.0, 0.25, 0.75]])
    np.testing.assert_allclose(tempered(with_zero, 0.5), [[0.0, 0.1, 0.9]])


def test_best_temperature_minimises_the_log_loss_on_a_grid():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 3, size=200)
    logits = 2.0 * np.eye(3)[codes] + rng.normal(size=(200, 3))
    for scale in (0.3, 3.0):  # too flat and too sharp
        p = np.exp(scale * logits)
        p /= p.sum(1, keepdims=True)
        grid = np.exp(np.linspace(-3, 3, 3001))
        losses = [log_loss(codes, tempered(p, t), labels=[0, 1, 2]) for t in grid]
        t = best_temperature(p, codes, prior_sd=None)
        assert t == pytest.approx(grid[int(np.argmin(losses))], rel=0.01)
        assert log_loss_at(p, codes, t) <= min(losses) + 1e-6
        assert (t < 1) == (scale < 1)  # flat probabilities are sharpened, sharp ones flattened
        # the prior on log T: the posterior mode on the same grid, between 1 and the minimum
        posterior = [len(codes) * loss + np.log(g) ** 2 / (2 * 0.5**2) for g, loss in zip(grid, losses)]
        shrunk = best_temperature(p, codes, prior_sd=0.5)
        assert shrunk == pytest.approx(grid[int(np.argmin(posterior))], rel=0.01)
        assert abs(np.log(shrunk)) < abs(np.log(t))
        few = best_temperature(p[:10], codes[:10], prior_sd=0.5)  # fewer rows, nearer 1
        assert abs(np.log(few)) < abs(np.log(best_temperature(p[:10], codes[:10], prior_sd=None)))


def test_the_fit_calibrates_the_label_on_its_validation_rows():
    X = _labelled()
    vae = _vae().fit(X)
    t = vae.class_temperatures_["y"]
    assert set(vae.class_temperatures_) == {"y"} and 0.05 <= t <= 20 and t != 1.0
    rows = validation_split(len(X["y"]), vae.validation_fraction, vae._split_seed)[1].numpy()
    given = {"a": X["a"], "b": X["b"]}
    raw = vae._class_probabilities(given, "y")
    proba = vae.predict_proba(given)
    np.testing.assert_allclose(proba, tempered(raw, t), rtol=1e-12)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(proba.argmax(1), raw.argmax(1))
    # on the validation rows the fitted temperature beats the untempered probabilities
    truth = X["y"][rows]
    labels = list(vae.categories_["y"])
    assert log_loss(truth, proba[rows], labels=labels) < log_loss(truth, raw[rows], labels=labels)


def test_no_temperature_without_enough_validation_rows_or_a_label():
    X = _labelled(n=450)  # 45 validation rows, fewer than 50
    vae = _vae().fit(X)
    assert vae.class_temperatures_ == {}
    given = {"a": X["a"]}
    np.testing.assert_array_equal(vae.predict_proba(given), vae._class_probabilities(given, "y"))
    assert _vae(validation_fraction=0.0, early_stopping=False).fit(_labelled()).class_temperatures_ == {}
    assert _vae(max_epochs=0).fit(_labelled()).class_temperatures_ == {}
    numeric = {k: v for k, v in _labelled().items() if k != "y"}
    assert MultiModalVAE(**SMALL).fit(numeric).class_temperatures_ == {}


def test_rows_without_the_label_do_not_count():
    X = _labelled()
    X["y"] = X["y"].copy()
    rows = validation_split(800, 0.1, _vae().fit(X)._split_seed)[1].numpy()
    X["y"][rows[:35]] = None  # 45 of the 80 validation rows keep their label
    assert _vae().fit(X).class_temperatures_ == {}


def test_partial_fit_calibrates_again_and_a_refit_starts_afresh():
    X = _labelled()
    vae = _vae().partial_fit(X, epochs=2)
    first = vae.class_temperatures_["y"]
    vae.partial_fit(X, epochs=4)
    assert vae.class_temperatures_["y"] != first
    refit = _vae().fit(X)
    assert vae.fit(X).class_temperatures_ == refit.class_temperatures_


def test_the_automatic_latent_size_keeps_the_temperature_of_its_choice():
    X = _labelled()
    auto = MultiModalVAE(likelihoods={"y": "categorical"},
                         **{**SMALL, "n_components": "auto"}).fit(X)
    fixed = _vae(n_components=auto.n_components_).fit(X)
    assert auto.class_temperatures_ == fixed.class_temperatures_


def test_the_temperature_persists_and_a_bad_one_is_refused(tmp_path):
    X = _labelled()
    vae = _vae().fit(X)
    given = {"a": X["a"], "b": X["b"]}
    expected = vae.predict_proba(given)
    path = tmp_path / "m.zip"
    vae.save(path)
    for copy in (pickle.loads(pickle.dumps(vae)), MultiModalVAE.load(path)):
        assert copy.class_temperatures_ == vae.class_temperatures_
        np.testing.assert_array_equal(copy.predict_proba(given), expected)
    for bad in ({"y": -1.0}, {"y": "hot"}, [1.0], {"y": float("inf")}, {"a": 0.5}, {"z": 0.5}):
        with zipfile.ZipFile(path) as archive:
            metadata, weights = json.loads(archive.read(METADATA)), archive.read(WEIGHTS)
        metadata["attributes"]["class_temperatures_"] = bad
        broken = tmp_path / "broken.zip"
        with zipfile.ZipFile(broken, "w") as archive:
            archive.writestr(METADATA, json.dumps(metadata))
            archive.writestr(WEIGHTS, weights)
        with pytest.raises(ValueError, match="class_temperatures_"):
            MultiModalVAE.load(broken)


def test_a_model_of_an_earlier_release_predicts_without_a_temperature():
    X = _labelled()
    vae = _vae().fit(X)
    state = vae.__getstate__()
    del state["class_temperatures_"]
    old = MultiModalVAE.__new__(MultiModalVAE)
    old.__setstate__(state)
    given = {"a": X["a"]}
    np.testing.assert_array_equal(old.predict_proba(given), vae._class_probabilities(given, "y"))


def test_a_partial_fit_whose_calibration_fails_is_rolled_back(monkeypatch):
    """The temperatures are fitted inside the training call: a failure there restores the
    earlier weights, and the earlier temperatures stay with them."""
    import skmmvae._training

    X = _labelled()
    vae = _vae().fit(X)
    before, given = dict(vae.class_temperatures_), {"a": X["a"]}
    expected = vae.predict_proba(given)

    def broken(estimator, tensors):
        raise MemoryError("calibration ran out of memory")

    monkeypatch.setattr(skmmvae._training, "fit_temperatures", broken)
    with pytest.raises(MemoryError):
        vae.partial_fit(X, epochs=1)
    assert vae.class_temperatures_ == before
    np.testing.assert_array_equal(vae.predict_proba(given), expected)
