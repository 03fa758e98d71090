"""Modalities far from 0 relative to their spread (timestamps, coordinates, 1e9 + a signal):
the schema shifts them in float64 before the float32 conversion, which would otherwise round
their values to a grid coarser than their spread."""
import numpy as np
import pytest

from skmmvae import MultiModalVAE
from skmmvae._schema import OFFSET_RATIO, learn_offset

# plain MLP decoders: the R^2 thresholds below were set with them; with decoder_skip this
# 30-epoch fit of one linear factor imputes b from a with a held-out R^2 of 0.905-0.959
# (median 0.936 over 5 data seeds x 2 random states) against 0.922-0.965 (0.947)
KW = dict(n_components=2, hidden_layer_sizes=(16,), embedding_size=16, max_epochs=30, batch_size=32,
          random_state=0, n_jobs=1, early_stopping=False, decoder_skip=False)
OFFSET = 1e9


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 1))
    a = z @ rng.normal(size=(1, 3)) + rng.normal(scale=0.1, size=(n, 3))
    b = z @ rng.normal(size=(1, 2)) + rng.normal(scale=0.1, size=(n, 2))
    return a, b


def _r2(pred, true):
    return 1 - ((pred - true) ** 2).sum() / ((true - true.mean(0)) ** 2).sum()


def test_learn_offset_shifts_only_the_features_far_from_zero():
    rng = np.random.default_rng(1)
    block = rng.normal(size=(50, 4))
    block[:, 1] += 5e3  # 5,000 sd from 0: shifted
    block[:, 2] += 500  # 500 sd: float32 carries it well enough
    block[:, 3] = 7e9  # constant: left to the likelihood's own handling
    block[3, 0] = np.nan
    offset = learn_offset(block)
    assert offset.dtype == np.float64 and offset.shape == (4,)
    np.testing.assert_array_equal(offset[[0, 2, 3]], 0.0)
    assert offset[1] == pytest.approx(np.mean(block[:, 1]), rel=1e-15)
    assert 5e3 / np.std(block[:, 1]) > OFFSET_RATIO > 500 / np.std(block[:, 2])
    assert learn_offset(rng.normal(size=(50, 3))) is None


def test_a_large_common_offset_keeps_the_signal():
    a, b = _data()
    plain = MultiModalVAE(**KW).fit({"a": a, "b": b})
    X = {"a": a + OFFSET, "b": b}
    original = {k: v.copy() for k, v in X.items()}
    shifted = MultiModalVAE(**KW).fit(X)
    assert shifted._schema.modalities[0].offset is not None and shifted._schema.modalities[1].offset is None
    hidden = np.full_like(b, np.nan)
    r2_plain = _r2(plain.predict({"a": a, "b": hidden})["b"], b)
    r2_shifted = _r2(shifted.predict({"a": X["a"], "b": hidden})["b"], b)
    assert r2_plain > 0.9 and r2_shifted > r2_plain - 0.02  # float32 alone: R^2 0 (no signal)
    # the far modality imputed from the other comes back at its magnitude, with its detail
    pred_a = shifted.predict({"a": np.full_like(a, np.nan), "b": b})["a"]
    assert _r2(pred_a - OFFSET, a) > _r2(plain.predict({"a": np.full_like(a, np.nan), "b": b})["a"], a) - 0.02
    # missing cells of the far modality are filled at its magnitude too; observed cells as given
    holes = X["a"].copy()
    holes[::3, 1] = np.nan
    filled = shifted.predict({"a": holes, "b": b})["a"]
    np.testing.assert_array_equal(filled[~np.isnan(holes)], holes[~np.isnan(holes)])
    assert _r2(filled[::3, 1] - OFFSET, a[::3, 1]) > 0.8
    for k in X:
        np.testing.assert_array_equal(X[k], original[k])  # the user's data untouched


def test_the_offset_survives_save_and_load(tmp_path):
    a, b = _data(n=120)
    X = {"a": a + OFFSET, "b": b}
    est = MultiModalVAE(**{**KW, "max_epochs": 3}).fit(X)
    est.save(tmp_path / "model.zip")
    loaded = MultiModalVAE.load(tmp_path / "model.zip")
    np.testing.assert_array_equal(loaded._schema.modalities[0].offset, est._schema.modalities[0].offset)
    query = {"a": np.full_like(a, np.nan), "b": b}
    np.testing.assert_array_equal(loaded.predict(query)["a"], est.predict(query)["a"])
    np.testing.assert_array_equal(loaded.score_samples(X), est.score_samples(X))
