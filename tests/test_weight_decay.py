"""``weight_decay``: decoupled weight decay (``AdamW``) of the networks' weights; 0 (the
default) trains with Adam exactly as before."""
import warnings

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

from skmmvae import MultiModalImputer, MultiModalVAE

from conftest import make_data

FAST = dict(n_components=2, hidden_layer_sizes=(8,), embedding_size=8, max_epochs=3,
            random_state=0, early_stopping=False, validation_fraction=0.0)


def _fit(**params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MultiModalVAE(**FAST, **params).fit(make_data())


def test_the_default_trains_with_adam_as_before():
    est = _fit()
    optimizer = est.net_.optimizer_
    assert type(optimizer) is torch.optim.Adam
    assert all(group["weight_decay"] == 0 for group in optimizer.param_groups)
    same = _fit(weight_decay=0.0)
    given = {"a": make_data()["a"]}
    np.testing.assert_array_equal(est.predict(given)["b"], same.predict(given)["b"])


def test_weight_decay_trains_with_adamw_and_shrinks_the_weights():
    decayed = _fit(weight_decay=50.0)
    optimizer = decayed.net_.optimizer_
    assert type(optimizer) is torch.optim.AdamW
    assert all(group["weight_decay"] == 50.0 for group in optimizer.param_groups)
    plain = _fit()

    def norm(est):  # the networks' weight matrices (the decay acts on every parameter)
        return sum(float(p.detach().norm()) for name, p in est.module_.named_parameters()
                   if name.endswith("weight"))
    assert norm(decayed) < 0.9 * norm(plain)


def test_the_imputer_takes_it():
    X = np.hstack([make_data()["a"], make_data()["b"]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imp = MultiModalImputer(modalities=[make_data()["a"].shape[1], make_data()["b"].shape[1]],
                                weight_decay=0.5, **FAST).fit(X)
    assert type(imp.net_.optimizer_) is torch.optim.AdamW


@pytest.mark.parametrize("value", [-1.0, "auto"])
def test_bad_values_are_refused_before_training(value):
    with pytest.raises(InvalidParameterError, match="weight_decay"):
        MultiModalVAE(**FAST, weight_decay=value).fit(make_data())
