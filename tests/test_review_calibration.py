"""Review of the temperature of ``predict_proba`` (``class_temperatures_``)."""
import numpy as np
import pytest

from conftest import make_labelled_data
from skmmvae import MultiModalImputer, MultiModalVAE
from skmmvae._calibration import best_temperature
from skmmvae._net import validation_split

SMALL = dict(n_components=2, hidden_layer_sizes=(16,), embedding_size=16, max_epochs=4,
             batch_size=64, random_state=0)


_labelled = make_labelled_data


def _count_converted_rows(monkeypatch):
    """Rows of user input converted by ``_tensors``, call by call."""
    converted = []
    original = MultiModalVAE._tensors

    def counting(self, X, *args, **kwargs):
        tensors, blocks = original(self, X, *args, **kwargs)
        converted.append(len(tensors))
        return tensors, blocks

    monkeypatch.setattr(MultiModalVAE, "_tensors", counting)
    return converted


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_calibration_does_not_convert_the_training_data_again(monkeypatch, method):
    # The temperature needs the validation rows (a tenth): fit already holds them converted.
    # Converting all of X again doubled the data's memory at the end of fit (and densified
    # an AnnData again) and took most of the calibration's time.
    X = _labelled()
    vae = MultiModalVAE(likelihoods={"y": "categorical"}, **SMALL)
    if method == "partial_fit":
        vae.fit(X)
    converted = _count_converted_rows(monkeypatch)
    getattr(vae, method)(X)
    assert "y" in vae.class_temperatures_
    assert converted == [800]  # the training's own conversion, nothing more


@pytest.mark.parametrize("kind", ["dict", "array", "imputer-holes"])
def test_the_temperature_is_the_one_of_predict_proba_on_the_held_out_rows(kind):
    X = _labelled()
    params = dict(likelihoods={"y": "categorical"}, **SMALL)
    if kind == "array":
        codes = {"high": 0, "low": 1, "mid": 2}
        X = np.column_stack([X["a"], X["b"], [codes[v] for v in X["y"]]]).astype(float)
        params["modalities"] = {"a": range(5), "b": range(5, 9), "y": [9]}
    est = (MultiModalImputer if kind == "imputer-holes" else MultiModalVAE)(**params)
    if kind == "imputer-holes":  # missing modalities and missing cells
        rng = np.random.default_rng(1)
        X["a"][rng.random(800) < 0.3] = np.nan
        X["b"][rng.random((800, 4)) < 0.1] = np.nan
        X["y"][rng.random(800) < 0.2] = None
    est.fit(X)
    rows = validation_split(800, est.validation_fraction, est._split_seed)[1].numpy()
    if kind == "array":
        given, truth = X[rows], X[rows, 9].astype(int)
        proba = est._class_probabilities(given, "y")
    else:
        keep = rows[np.array([v is not None for v in X["y"][rows]])]
        given = {"a": X["a"][keep], "b": X["b"][keep]}
        proba = est._class_probabilities(given, "y")
        truth = np.searchsorted(est.categories_["y"].astype(str), X["y"][keep].astype(str))
    assert est.class_temperatures_["y"] == pytest.approx(best_temperature(proba, truth), rel=1e-9)
