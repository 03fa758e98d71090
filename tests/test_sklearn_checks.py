"""scikit-learn's generic estimator checks, with no expected failures."""
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmmvae import MultiModalImputer, MultiModalVAE

SETTINGS = dict(max_epochs=5, hidden_layer_sizes=(16,), embedding_size=16, n_components=2, random_state=0)


@parametrize_with_checks([MultiModalVAE(**SETTINGS), MultiModalImputer(**SETTINGS)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
