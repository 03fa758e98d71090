"""Representation test: a linear probe (``LogisticRegression(max_iter=2000)``) of the class y
on an encoding of the non-label views, for the VAE's latent means and for PCA of the same
width on the standardised, mean-imputed views. The probe's L2 penalty weighs on the codes as
they are scaled (latent means have a standard deviation near 1, PCA scores that of their
component), so the same probe is also run on codes standardised with their training mean and
standard deviation (``scaled=True``), which compares what the codes hold, not their scales."""
import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .baselines import Layout
from .metrics import training_scale


def probe_accuracy(Z_train, y_train, Z_test, y_test, scaled=False):
    clf = LogisticRegression(max_iter=2000)
    if scaled:
        clf = make_pipeline(StandardScaler(), clf)
    clf.fit(Z_train, y_train)
    return float(clf.score(Z_test, y_test))


def pca_codes(train, test, views, n_components, seed):
    """PCA codes of the concatenated views, standardised with the training mean/sd and
    mean-imputed (0) where missing; the width is capped at the number of features/rows."""
    layout = Layout({v: train[v] for v in views})
    M_train, M_test = layout.matrix(train, views), layout.matrix(test, views)
    center, scale = training_scale(M_train)
    M_train, M_test = [np.nan_to_num((M - center) / scale) for M in (M_train, M_test)]
    k = min(n_components, *M_train.shape)
    pca = PCA(n_components=k, random_state=seed).fit(M_train)
    return pca.transform(M_train), pca.transform(M_test), k
