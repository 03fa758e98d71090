"""Review of ``decoder_skip`` (decoders with a linear path) and what it touches: persistence
with custom networks, the recorded architecture read from a file, and the claims of the
docstrings against the committed benchmark records."""
import json
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from skmmvae import MultiModalVAE
from skmmvae._persistence import METADATA, WEIGHTS


def _three_views(n=80, seed=0):
    """Three Gaussian views of 3 features each: their built-in networks are stacked."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    return {name: z @ rng.normal(size=(2, 3)) + 0.1 * rng.normal(size=(n, 3)) for name in ("a", "b", "c")}


SMALL = dict(n_components=2, hidden_layer_sizes=(8,), embedding_size=8, max_epochs=2, batch_size=32,
             random_state=0)


def _decoder():
    return nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 3))


def _encoder():
    return nn.Sequential(nn.Linear(3, 6), nn.Tanh())


@pytest.mark.parametrize("decoder_skip", [True, False])
@pytest.mark.parametrize("param, make", [("decoders", _decoder), ("encoders", _encoder)])
def test_a_custom_network_of_a_modality_that_would_be_stacked_loads(tmp_path, decoder_skip, param, make):
    """The load's check of the weights' shapes built the built-in network in place of the
    custom one, which then joined the stack of the other views of its width: a stack of 3
    against the file's stack of 2, and the file was refused as invalid."""
    X = _three_views()
    est = MultiModalVAE(**SMALL, decoder_skip=decoder_skip, **{param: {"b": make()}}).fit(X)
    path = tmp_path / "model.zip"
    est.save(path)
    loaded = MultiModalVAE.load(path, **{param: {"b": make()}})
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    np.testing.assert_array_equal(loaded.score_samples(X), est.score_samples(X))


def _edit_architecture(path, value, key="decoder_skip"):
    """Set entry ``key`` of the recorded architecture in the file ``path``."""
    with zipfile.ZipFile(path) as archive:
        metadata, weights = json.loads(archive.read(METADATA)), archive.read(WEIGHTS)
    metadata["attributes"]["_architecture"][key] = value
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(METADATA, json.dumps(metadata))
        archive.writestr(WEIGHTS, weights)


@pytest.mark.parametrize("value", ["false", "no", 1, None])
def test_a_recorded_decoder_skip_that_is_not_a_boolean_is_refused(tmp_path, value):
    """``bool("false")`` is True: a file whose recorded architecture says ``"false"`` loaded
    as a model with linear paths, and kept the string as its fitted architecture (so that
    ``partial_fit`` warned that ``decoder_skip`` had changed)."""
    est = MultiModalVAE(**SMALL).fit(_three_views())
    path = tmp_path / "model.zip"
    est.save(path)
    _edit_architecture(path, value)
    with pytest.raises(ValueError, match="not a valid skmmvae model file.*decoder_skip"):
        MultiModalVAE.load(path)


@pytest.mark.parametrize("key, value", [
    ("n_components", "3"), ("n_components", 2.0), ("n_components", 0),
    ("n_prior_components", "1"), ("n_private_components", -1), ("n_private_components", "0"),
    ("aggregation", "no-such"), ("aggregation", 3), ("activation", "Relu"),
    ("aggregator_options", "rank=4"), ("aggregator_options", [4]),
])
def test_every_recorded_architecture_entry_is_type_checked(tmp_path, key, value):
    """The rebuild takes the recorded values as they are (``int("3")`` is 3): a file whose
    architecture entries are not what fit records is refused, naming the entry."""
    est = MultiModalVAE(**SMALL).fit(_three_views())
    path = tmp_path / "model.zip"
    est.save(path)
    _edit_architecture(path, value, key)
    with pytest.raises(ValueError, match=f"not a valid skmmvae model file.*_architecture.*'{key}'"):
        MultiModalVAE.load(path)


def test_a_recorded_count_given_as_a_boolean_is_refused(tmp_path):
    """``True`` passes as the integer 1 (as for the parameter itself); the weights, fitted
    with 2 latent dimensions, then refuse it."""
    est = MultiModalVAE(**SMALL).fit(_three_views())
    path = tmp_path / "model.zip"
    est.save(path)
    _edit_architecture(path, True, "n_components")
    with pytest.raises(ValueError, match="not a valid skmmvae model file"):
        MultiModalVAE.load(path)


@pytest.mark.parametrize("fitted, recorded", [(True, False), (False, True)])
def test_a_recorded_decoder_skip_that_does_not_fit_the_weights_is_named(tmp_path, fitted, recorded):
    """A file whose recorded ``decoder_skip`` disagrees with its weights (a linear path's
    weights too many, or missing) was refused without naming ``decoder_skip``."""
    est = MultiModalVAE(**SMALL, decoder_skip=fitted).fit(_three_views())
    path = tmp_path / "model.zip"
    est.save(path)
    _edit_architecture(path, recorded)
    with pytest.raises(ValueError, match="not a valid skmmvae model file.*decoder_skip.*skip_weight"):
        MultiModalVAE.load(path)


def test_a_width_mismatch_of_a_modality_named_skip_does_not_blame_decoder_skip(tmp_path):
    """``decoder_skip`` was named whenever a mismatched key held "skip" anywhere, so a
    modality called ``skipgram`` whose recorded width disagrees with its weights (its
    likelihood's parameters, ``likelihoods.skipgram.*``) was reported as a linear-path
    problem, though the file and its metadata agree on ``decoder_skip``."""
    rng = np.random.default_rng(0)
    X = {"skipgram": rng.normal(size=(60, 3)), "b": rng.normal(size=(60, 5))}
    MultiModalVAE(**SMALL, decoder_skip=False).fit(X).save(tmp_path / "model.zip")
    with zipfile.ZipFile(tmp_path / "model.zip") as archive:
        metadata, weights = json.loads(archive.read(METADATA)), archive.read(WEIGHTS)
    modality = metadata["schema"]["modalities"][0]
    modality["n_input"] = 4
    modality["feature_names"].append("skipgram3")
    metadata["attributes"]["n_features_in_"] = 9
    with zipfile.ZipFile(tmp_path / "model.zip", "w") as archive:
        archive.writestr(METADATA, json.dumps(metadata))
        archive.writestr(WEIGHTS, weights)
    with pytest.raises(ValueError, match="modality widths") as info:
        MultiModalVAE.load(tmp_path / "model.zip")
    assert "likelihoods.skipgram" in str(info.value)
    assert "decoder_skip" not in str(info.value)
