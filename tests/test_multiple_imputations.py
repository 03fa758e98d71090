"""``MultiModalImputer.multiple_imputations``: several completed copies from one fit.

Each copy must be a draw from the model's conditional (observed cells bit-identical, missing
ones drawn), the copies must differ from each other, be reproducible from their seed, and
spread where the observed values leave a missing value uncertain, not where they pin it down.
"""

import numpy as np
import pandas as pd
import pytest
from conftest import NO_STOPPING
from sklearn.exceptions import NotFittedError

from skmmvae import MultiModalImputer

FAST = NO_STOPPING
pytestmark = pytest.mark.usefixtures("quiet")


def _table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    X = np.hstack([z @ rng.normal(size=(2, 4)), np.tanh(z @ rng.normal(size=(2, 3)))])
    X += 0.1 * rng.normal(size=X.shape)
    X[rng.random(X.shape) < 0.2] = np.nan
    return X


def test_copies_fill_every_missing_value_and_keep_the_observed_ones():
    X = _table()
    before = X.copy()
    imputer = MultiModalImputer(modalities=[4, 3], **FAST).fit(X)
    copies = imputer.multiple_imputations(X, n_imputations=4)
    assert len(copies) == 4
    observed = ~np.isnan(X)
    for copy in copies:
        assert copy.shape == X.shape and np.isfinite(copy).all()
        assert np.array_equal(copy[observed], X[observed])
    # every missing value differs between any two copies: independent draws
    for i in range(4):
        for j in range(i):
            assert (copies[i][~observed] != copies[j][~observed]).all()
    np.testing.assert_array_equal(X, before)  # the user's array is not modified


def test_copies_are_reproducible_and_follow_random_state():
    X = _table()
    imputer = MultiModalImputer(modalities=[4, 3], **FAST).fit(X)
    missing = np.isnan(X)
    first = imputer.multiple_imputations(X, n_imputations=3)
    again = imputer.multiple_imputations(X, n_imputations=3)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)  # None: the seed fixed at fit
    seeded = imputer.multiple_imputations(X, n_imputations=3, random_state=7)
    np.testing.assert_array_equal(seeded[0], imputer.multiple_imputations(X, 3, random_state=7)[0])
    assert not np.array_equal(seeded[0][missing], first[0][missing])
    # copies differ from the means that transform gives without sample_posterior
    assert not np.allclose(first[0][missing], imputer.transform(X)[missing])
    # a longer list starts with the same copies: copy k depends on the seed and k only
    np.testing.assert_array_equal(imputer.multiple_imputations(X, 5)[2], first[2])


def test_copies_spread_where_the_observed_values_leave_a_value_uncertain():
    """Modality 'copy' is a noisy copy of 'signal'; 'noise' is independent of both. With
    'noise' and 'copy' missing in the same rows and 'signal' observed, the draws of 'copy'
    must be tight around the truth and those of 'noise' as spread as its data."""
    rng = np.random.default_rng(1)
    n = 400
    signal = rng.normal(size=(n, 2))
    X = {"signal": signal, "copy": signal + 0.05 * rng.normal(size=(n, 2)),
         "noise": rng.normal(size=(n, 2))}
    fit_rows = {k: v.copy() for k, v in X.items()}
    fit_rows["copy"][:60] = np.nan  # missing modalities: rows of NaN in training too
    fit_rows["noise"][:60] = np.nan
    imputer = MultiModalImputer(n_components=3, hidden_layer_sizes=(32,), max_epochs=150,
                                early_stopping=False, random_state=0).fit(fit_rows)
    test = {"signal": X["signal"][:60], "copy": np.full((60, 2), np.nan),
            "noise": np.full((60, 2), np.nan)}
    copies = imputer.multiple_imputations(test, n_imputations=30)
    draws = {k: np.stack([c[k] for c in copies]) for k in ("copy", "noise")}
    spread = {k: d.std(axis=0).mean() for k, d in draws.items()}
    copy_error = np.sqrt(((draws["copy"].mean(0) - X["copy"][:60]) ** 2).mean())
    # (150 epochs: the likelihood's scale of 'copy' is still shrinking at 60, spread 0.5)
    assert copy_error < 0.15                        # the draws centre on the truth
    assert spread["copy"] < 0.25                    # pinned down by 'signal' (0.12 seen)
    assert 0.7 < spread["noise"] < 1.3              # as uncertain as its data, sd 1 (0.95)


def test_containers_round_trip():
    X = _table()
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(7)], index=np.arange(200) + 10)
    imputer = MultiModalImputer(modalities={"a": ["c0", "c1", "c2", "c3"], "b": ["c4", "c5", "c6"]},
                                **FAST).fit(frame)
    copies = imputer.multiple_imputations(frame, n_imputations=2)
    assert all(isinstance(c, pd.DataFrame) and c.index.equals(frame.index) for c in copies)
    blocks = {"a": X[:, :4], "b": X[:, 4:]}
    dict_imputer = MultiModalImputer(**FAST).fit(blocks)
    dict_copies = dict_imputer.multiple_imputations(blocks, n_imputations=2)
    assert all(set(c) == {"a", "b"} and not np.isnan(c["a"]).any() for c in dict_copies)


@pytest.mark.parametrize("bad", [0, -2, 1.5, 2.0, True, "3", None])
def test_n_imputations_is_validated(bad):
    """A ValueError for every count that is not a positive integer, as ``sample_posterior``
    and ``sample`` raise for theirs (a float was a TypeError at first)."""
    X = _table(n=60)
    imputer = MultiModalImputer(modalities=[4, 3], **FAST).fit(X)
    with pytest.raises(ValueError, match="n_imputations must be a positive integer"):
        imputer.multiple_imputations(X, n_imputations=bad)
    with pytest.raises(ValueError):
        imputer.encode_samples(X, n_samples=bad)  # the same contract
    assert len(imputer.multiple_imputations(X, n_imputations=np.int64(2))) == 2


def test_needs_a_fitted_imputer():
    with pytest.raises(NotFittedError):
        MultiModalImputer(**FAST).multiple_imputations(_table(n=20))
