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
    # the epochs at which these fits stop are those of the CPU's training (a GPU rounds otherwise)
    X = make_data(n=200, missing=False)
    SMALL = {**globals()["SMALL"], "device": "cpu"}
    vae = MultiModalVAE(**{**SMALL, "max_epochs": 12}, n_iter_no_change=1, kl_warmup=8).fit(X)
    assert vae.n_iter_ >= 9  # patience 1 would have ended it early without the rule
    vae = MultiModalVAE(**{**SMALL, "max_epochs": 12}, n_iter_no_change=1).fit(X)
    assert vae.n_iter_ < 9


def test_a_fit_that_runs_out_of_epochs_warns_convergence():
    # the epochs at which these fits stop are those of the CPU's training (a GPU rounds otherwise)
    X = make_data(n=200, missing=False)
    SMALL = {**globals()["SMALL"], "device": "cpu"}
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
    # the default ("auto") holds no row out of 40: nothing to warn about early stopping
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        default = MultiModalVAE(**SMALL).fit(X)
    assert not any("validation rows" in str(w.message) for w in record)
    assert "valid_loss" not in default.history_[-1]
    with pytest.warns(UserWarning, match="early stopping would monitor 4 validation rows") as record:
        MultiModalVAE(**SMALL, early_stopping=True).fit(X)
    advice = [str(w.message) for w in record if "early_stopping=False" in str(w.message)]
    assert advice and "validation_fraction=0" in advice[0]
    # the advice does what it says: every row trains, none is held out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alone = MultiModalVAE(**{**SMALL, "early_stopping": False}).fit(X)
        advised = MultiModalVAE(**{**SMALL, "early_stopping": False, "validation_fraction": 0}).fit(X)
    assert "valid_loss" in alone.history_[-1]  # early_stopping=False alone still holds rows out
    assert "valid_loss" not in advised.history_[-1]
    assert sum(advised.history_[-1, "batches", :, "train_batch_size"]) == 40
    np.testing.assert_array_equal(default.transform(X), advised.transform(X))
    with pytest.warns(UserWarning, match=r"the networks have \d+ weights for 280 observed"):
        MultiModalVAE(**{**SMALL, "hidden_layer_sizes": (256, 256)}).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        MultiModalVAE(**SMALL, early_stopping=False).fit(make_data(n=400, missing=False))


def test_poe_with_a_mixture_prior_is_an_error_before_training():
    with pytest.raises(ValueError, match="n_prior_components=3"):
        MultiModalVAE(**SMALL, aggregation="poe", n_prior_components=3).fit(make_data())


@pytest.mark.parametrize("seed", range(5))
def test_falling_trend_is_the_least_squares_t_test(seed):
    from scipy import stats

    from skmmvae._checks import TREND_T, falling_trend

    rng = np.random.default_rng(seed)
    for drift in (0.0, -0.05, -0.5):
        losses = 10 + drift * np.arange(20) + rng.normal(scale=0.3, size=20)
        fit = stats.linregress(np.arange(20), losses)
        expected = fit.slope if fit.slope / fit.stderr < -TREND_T else None
        got = falling_trend(losses)
        assert (got is None) == (expected is None)
        if got is not None:
            assert got == pytest.approx(fit.slope)
    assert falling_trend(np.linspace(5, 1, 10)) == pytest.approx(-4 / 9)  # exact line: se 0
    assert falling_trend([3.0, 2.0]) == -1.0 and falling_trend([2.0, 3.0]) is None
    assert falling_trend([1.0]) is None


def _stop_report(losses, n_iter_no_change=20):
    """What ``_report_stop`` says at the end of a full-budget fit with these validation losses."""
    from types import SimpleNamespace

    stopper = SimpleNamespace(stopped_=False, best_epoch_=int(np.argmin(losses)) + 1)
    net = SimpleNamespace(callbacks_=[("early_stopping", stopper)],
                          history=[{"epoch": i + 1, "valid_loss": v} for i, v in enumerate(losses)])
    vae = MultiModalVAE(max_epochs=len(losses), n_iter_no_change=n_iter_no_change)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vae._report_stop(net, len(losses), 0, partial=False)
    return [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def test_a_tail_falling_by_a_sliver_of_the_fit_s_fall_does_not_warn():
    """A validation loss still falling significantly at the end of the budget, but by less than
    LEARNING_FRACTION of what it fell over the whole fit (the tail of an annealed schedule),
    does not warn; the same tail falling by more than that fraction does."""
    from skmmvae._checks import LEARNING_FRACTION, falling_trend

    rng = np.random.default_rng(0)
    head = np.linspace(1000.0, 100.0, 80)  # a fall of 900 before the last 20 epochs
    for per_epoch, warns in ((0.03, False), (0.6, True)):  # 0.6 and 12 over the window
        tail = 100 - per_epoch * np.arange(1, 21) + rng.normal(scale=0.01, size=20)
        assert falling_trend(tail) is not None  # significant either way
        assert bool(per_epoch * 20 >= LEARNING_FRACTION * (1000 - tail.min())) is warns
        assert len(_stop_report(np.r_[head, tail])) == int(warns)


def test_a_plateau_at_the_end_of_the_budget_does_not_warn():
    """The lowest validation loss among the last epochs is no reason to warn when the curve is
    flat there (noise around a plateau); a curve that still falls warns."""
    rng = np.random.default_rng(0)
    plateau = np.r_[np.linspace(30, 10, 80), 10 + rng.normal(scale=0.2, size=20)]
    assert np.argmin(plateau) >= 80  # best epoch among the last 20: the old rule warned
    assert _stop_report(plateau) == []
    falling = np.r_[np.linspace(30, 10, 80), 10 - 0.05 * np.arange(20) + rng.normal(scale=0.2, size=20)]
    (warning,) = _stop_report(falling)
    assert "still falling" in str(warning.message) and "max_epochs=100" in str(warning.message)
