"""KL warm-up, and what training says when it stops where the user did not expect it to."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback

from skmmvae import MultiModalVAE

from conftest import SMALL, make_data


class _Betas(Callback):
    """Records the KL weight of every training step."""

    def __init__(self):
        self.betas = []

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            self.betas.append(net.training_beta())


def test_kl_warmup_ramps_beta_linearly_step_by_step():
    record = _Betas()
    X = make_data(n=64, missing=False)  # 57 training rows, batch 32: 2 steps per epoch
    MultiModalVAE(**{**SMALL, "max_epochs": 4}, beta=0.5, kl_warmup=2, callbacks=[record],
                  early_stopping=False).fit(X)
    expected = [0.5 * min(1.0, k / 4) for k in range(8)]  # 2 epochs x 2 steps of warm-up
    np.testing.assert_allclose(record.betas, expected)


def test_without_warmup_beta_is_constant():
    record = _Betas()
    MultiModalVAE(**SMALL, beta=0.7, callbacks=[record]).fit(make_data(missing=False))
    assert record.betas and set(record.betas) == {0.7}


def test_warmup_counts_epochs_across_partial_fit():
    record = _Betas()
    X = make_data(n=64, missing=False)
    vae = MultiModalVAE(**{**SMALL, "max_epochs": 1}, beta=1.0, kl_warmup=2, callbacks=[record],
                        early_stopping=False).fit(X)
    vae.partial_fit(X, epochs=2)
    np.testing.assert_allclose(record.betas, [0, 0.25, 0.5, 0.75, 1.0, 1.0])


def test_early_stopping_waits_for_the_end_of_the_warmup():
    X = make_data(n=200, missing=False)
    vae = MultiModalVAE(**{**SMALL, "max_epochs": 12}, n_iter_no_change=1, kl_warmup=8).fit(X)
    assert vae.n_iter_ >= 9  # patience 1 would have ended it early without the rule
    vae = MultiModalVAE(**{**SMALL, "max_epochs": 12}, n_iter_no_change=1).fit(X)
    assert vae.n_iter_ < 9


def test_a_fit_that_runs_out_of_epochs_warns_convergence():
    X = make_data(n=200, missing=False)
    with pytest.warns(ConvergenceWarning, match="max_epochs=3"):
        MultiModalVAE(**SMALL).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        MultiModalVAE(**SMALL, early_stopping=False).fit(X)  # the user asked for 3 epochs
        vae = MultiModalVAE(**{**SMALL, "max_epochs": 300}, n_iter_no_change=2).fit(X)
    assert vae.n_iter_ < 300  # ended by early stopping: no warning


def test_partial_fit_says_why_it_trained_fewer_epochs():
    X = make_data(n=200, missing=False)
    vae = MultiModalVAE(**SMALL, n_iter_no_change=1, early_stopping=False).fit(X)
    vae.set_params(early_stopping=True)
    with pytest.warns(UserWarning, match=r"partial_fit trained \d+ of 50 epochs: early stopping"):
        vae.partial_fit(X, epochs=50)
    assert vae.n_iter_ < 3 + 50


def test_small_data_warns_and_says_what_to_do():
    X = make_data(n=40, missing=False)
    with pytest.warns(UserWarning, match="early stopping would monitor 4 validation rows") as record:
        MultiModalVAE(**SMALL).fit(X)
    assert any("early_stopping=False" in str(w.message) for w in record)
    with pytest.warns(UserWarning, match=r"the networks have \d+ weights for 280 observed"):
        MultiModalVAE(**{**SMALL, "hidden_layer_sizes": (256, 256)}).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        MultiModalVAE(**SMALL, early_stopping=False).fit(make_data(n=400, missing=False))


def test_poe_with_a_mixture_prior_is_an_error_before_training():
    with pytest.raises(ValueError, match="n_prior_components=3"):
        MultiModalVAE(**SMALL, aggregation="poe", n_prior_components=3).fit(make_data())
