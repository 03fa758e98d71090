"""With default parameters, small data still give a model better than the trivial one.

On 100 digits the previous defaults (no KL warm-up, patience 10 on 10 validation rows) ended
training after a few epochs with the latent unused: imputations equal to the mean image and
labels at chance. Either assertion fails for such a model.
"""
import warnings

import numpy as np
from sklearn.model_selection import train_test_split

from skmmvae import MultiModalVAE
from skmmvae.datasets import QUADRANTS, load_digits_modalities


def test_a_hundred_digits_beat_mean_imputation_and_the_majority_class():
    X, y = load_digits_modalities(return_X_y=True)
    train, test = train_test_split(np.arange(len(y)), train_size=100, test_size=300,
                                   random_state=0, stratify=y)
    X_train = {k: v[train] for k, v in X.items()}
    X_test = {k: v[test] for k, v in X.items()}
    likelihoods = {**dict.fromkeys(QUADRANTS, "bernoulli"), "label": "categorical"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the small-data warnings are tested elsewhere
        vae = MultiModalVAE(likelihoods=likelihoods, random_state=0).fit(X_train)
    errors, mean_errors = [], []
    for view in QUADRANTS:
        others = {k: v for k, v in X_test.items() if k not in (view, "label")}
        errors.append(np.mean((vae.predict(others)[view] - X_test[view]) ** 2))
        mean_errors.append(np.mean((X_train[view].mean(0) - X_test[view]) ** 2))
    assert np.mean(errors) < 0.9 * np.mean(mean_errors)
    images = {k: v for k, v in X_test.items() if k != "label"}
    accuracy = np.mean(vae.predict(images)["label"][:, 0] == y[test])
    majority = np.mean(y[test] == np.bincount(y[train]).argmax())
    assert accuracy > majority + 0.3
