"""Review of ``decoder_skip="auto"``: the cases its own tests leave out."""

import numpy as np
import pytest

from skmmvae import MultiModalVAE

SMALL = dict(n_components=2, hidden_layer_sizes=(8,), embedding_size=8, max_epochs=2,
             early_stopping=False, validation_fraction=0.0, random_state=0)


@pytest.mark.parametrize("n_rows", [6, 7, 8, 9])
def test_labels_and_one_hot_rows_resolve_auto_alike(n_rows):
    """A categorical modality given as labels or as one-hot rows is the same model
    (test_estimator's equivalence): ``"auto"`` must not count one column for the labels and
    one per class for the one-hot rows. 5 numeric columns and 3 classes: with 7 rows, 6
    columns as labels and 8 as one-hot rows gave the linear path to one model only."""
    rng = np.random.default_rng(0)
    numeric = rng.normal(size=(n_rows, 5))
    labels = np.arange(n_rows) % 3
    params = dict(likelihoods={"label": "categorical"}, **SMALL)
    as_labels = MultiModalVAE(**params).fit({"x": numeric, "label": labels.astype(float)})
    as_one_hot = MultiModalVAE(**params).fit({"x": numeric, "label": np.eye(3)[labels]})
    assert as_labels.decoder_skip_ is as_one_hot.decoder_skip_
    assert as_labels.decoder_skip_ is (n_rows > 5 + 3)
    np.testing.assert_array_equal(as_labels.transform({"x": numeric}), as_one_hot.transform({"x": numeric}))
