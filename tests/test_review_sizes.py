"""The fitted module keeps the sizes it was built with: pickling, ``save``/``load`` and files
written before ``"auto"`` sizes existed."""
import json
import pickle
import zipfile

import numpy as np
import pytest

from skmmvae import MultiModalVAE
from skmmvae._persistence import METADATA, WEIGHTS


def _many(n_modalities, n=60, features=3, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    return {f"m{i}": z @ rng.normal(size=(2, features)) + 0.1 * rng.normal(size=(n, features))
            for i in range(n_modalities)}


def _as_before_auto(path):
    """The file of ``path`` as skmmvae wrote it before ``"auto"`` sizes: explicit sizes in the
    parameters, no resolved sizes among the attributes, full-rank experts without a rank in
    ``aggregator_options``."""
    with zipfile.ZipFile(path) as archive:
        metadata, weights = json.loads(archive.read(METADATA)), archive.read(WEIGHTS)
    for name in ("hidden_layer_sizes_", "embedding_size_", "_expert_rank", "_architecture"):
        metadata["attributes"].pop(name, None)
    metadata["params"]["aggregator_options"] = None
    del metadata["params"]["decoder_skip"]  # newer still (the model must be fitted without)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(METADATA, json.dumps(metadata))
        archive.writestr(WEIGHTS, weights)


def test_a_full_rank_poe_full_file_from_before_auto_sizes_loads(tmp_path):
    """Before ``"auto"``, ``poe_full`` had full-rank experts at any number of modalities: such
    a file (12 modalities, no ``rank`` option) must load as it was fitted, not with the rank
    that the ``"auto"`` rule now gives 12 modalities (the weights would not fit)."""
    X = _many(12)
    est = MultiModalVAE(n_components=4, aggregation="poe_full", hidden_layer_sizes=(16,),
                        embedding_size=16, aggregator_options={"rank": 4}, max_epochs=1,
                        decoder_skip=False, random_state=0).fit(X)
    path = tmp_path / "old.zip"
    est.save(path)
    _as_before_auto(path)
    loaded = MultiModalVAE.load(path)
    assert loaded.get_params()["aggregator_options"] is None
    assert loaded.module_.aggregator.rank == 4
    assert loaded.hidden_layer_sizes_ == (16,) and loaded.embedding_size_ == 16
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    # and so does the pickle of it (then saved again: a file of this version)
    again = pickle.loads(pickle.dumps(loaded))
    np.testing.assert_array_equal(again.transform(X), est.transform(X))
    again.save(tmp_path / "again.zip")
    np.testing.assert_array_equal(MultiModalVAE.load(tmp_path / "again.zip").transform(X), est.transform(X))


def test_a_pickle_from_before_auto_sizes_gets_the_resolved_sizes():
    X = _many(3)
    est = MultiModalVAE(n_components=2, hidden_layer_sizes=(16, 8), embedding_size=12, max_epochs=1,
                        decoder_skip=False, random_state=0).fit(X)
    state = est.__getstate__()
    for name in ("hidden_layer_sizes_", "embedding_size_", "_expert_rank", "_architecture", "decoder_skip"):
        state.pop(name, None)
    old = MultiModalVAE.__new__(MultiModalVAE)
    old.__setstate__(state)
    assert old.hidden_layer_sizes_ == (16, 8) and old.embedding_size_ == 12
    np.testing.assert_array_equal(old.transform(X), est.transform(X))


@pytest.mark.parametrize("aggregation", ["sumpooling", "poe_full"])
def test_sizes_set_after_fit_do_not_change_the_fitted_module(tmp_path, aggregation):
    """partial_fit keeps the architecture of the first fit (its docstring): so must pickling
    and save/load after set_params changed the size parameters."""
    X = _many(12)
    est = MultiModalVAE(n_components=4, aggregation=aggregation, max_epochs=1, random_state=0).fit(X)
    est.set_params(hidden_layer_sizes=(16,), embedding_size=8)
    if aggregation == "poe_full":
        est.set_params(aggregator_options={"rank": 1})
    est.partial_fit(X)
    assert est.hidden_layer_sizes_ == (88, 88) and est.embedding_size_ == 88
    Z = est.transform(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(X), Z)
    est.save(tmp_path / "m.zip")
    loaded = MultiModalVAE.load(tmp_path / "m.zip")
    assert loaded.hidden_layer_sizes_ == (88, 88) and loaded.get_params()["hidden_layer_sizes"] == (16,)
    np.testing.assert_array_equal(loaded.transform(X), Z)
    # a new fit takes the parameters
    loaded.fit(X)
    assert loaded.hidden_layer_sizes_ == (16,) and loaded.embedding_size_ == 8


@pytest.mark.parametrize("name, value", [("hidden_layer_sizes_", {"__tuple__": [0]}),
                                         ("hidden_layer_sizes_", "wide"),
                                         ("embedding_size_", -3), ("embedding_size_", 2.5),
                                         ("_expert_rank", 0)])
def test_a_file_with_bad_resolved_sizes_is_refused(tmp_path, name, value):
    X = _many(3)
    est = MultiModalVAE(n_components=2, hidden_layer_sizes=(8,), embedding_size=8, max_epochs=1,
                        random_state=0).fit(X)
    path = tmp_path / "m.zip"
    est.save(path)
    with zipfile.ZipFile(path) as archive:
        metadata, weights = json.loads(archive.read(METADATA)), archive.read(WEIGHTS)
    metadata["attributes"][name] = value
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(METADATA, json.dumps(metadata))
        archive.writestr(WEIGHTS, weights)
    with pytest.raises(ValueError, match="not a valid skmmvae model file"):
        MultiModalVAE.load(path)


def test_the_memory_error_names_sizes_above_what_auto_gives_these_modalities(monkeypatch):
    """With 12 modalities ``"auto"`` is 88 wide: widths of 100 are above the default, and the
    error names them alone (compared with 128, the widest ``"auto"``, it named every size)."""
    from skmmvae import _checks

    monkeypatch.setattr(_checks, "memory_limit", lambda device: 2**20)
    with pytest.raises(ValueError, match=r"^hidden_layer_sizes=\(100,\), embedding_size=100: .*"
                                         r"use a smaller hidden_layer_sizes or embedding_size$"):
        MultiModalVAE(hidden_layer_sizes=(100,), embedding_size=100, aggregation="sumpooling",
                      max_epochs=1).fit(_many(12))
