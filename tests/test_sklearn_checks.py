"""scikit-learn's generic estimator checks, with one expected failure: float32 rounding.

``check_methods_sample_order_invariance`` compares each method's output on permuted rows at
float64's tolerance (``rtol=1e-7``), but the model computes in float32: the matrix products
can round a row differently by its position in the batch (one unit in the last place,
4.8e-7 on a log-likelihood of -4.43, one value of 20, ``score_samples``; found when
``weight_decay="auto"`` changed these settings' weights; the settings before passed by
luck). ``tests/test_estimator.py`` checks that scores and inference do not depend on the
batches at float32's tolerance.
"""
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmmvae import MultiModalImputer, MultiModalVAE

SETTINGS = dict(max_epochs=5, hidden_layer_sizes=(16,), embedding_size=16, n_components=2, random_state=0)
FLOAT32_ROUNDING = {"check_methods_sample_order_invariance":
                    "float32 computations compared at float64's tolerance (1 ulp)"}


@parametrize_with_checks([MultiModalVAE(**SETTINGS), MultiModalImputer(**SETTINGS)],
                         expected_failed_checks=lambda estimator: FLOAT32_ROUNDING)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
