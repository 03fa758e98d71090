"""The baselines, behind the interface the suite evaluates (:class:`Method`).

* ``mean``: per-feature mean (``SimpleImputer``); the majority class for the label, with the
  training class frequencies as probabilities;
* ``knn``: ``KNNImputer()`` on features standardised with the training mean/sd;
* ``iterative_br``: ``IterativeImputer(BayesianRidge(), max_iter=10)``;
* ``iterative_et``: ``IterativeImputer(ExtraTreesRegressor(n_estimators=50), max_iter=5)``
  (MissForest-like);
* ``ridge``: per target view, ``RidgeCV`` from the other views (mean-imputed, standardised;
  the label one-hot) to the standardised target, trained on the rows where the target is
  observed;
* ``logreg``: the label from the non-label views (mean-imputed, standardised) by
  ``LogisticRegression(max_iter=2000)``, trained on the rows where the label is observed.

The imputers see the training data in the raw layout (all views concatenated, NaN where
missing), the label as one numeric column, and impute the non-label views only.
"""
import numpy as np
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.linear_model import BayesianRidge, LogisticRegression, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .metrics import observed_rows, training_scale

RIDGE_ALPHAS = np.logspace(-3, 3, 13)


class Method:
    """What the suite needs of a method. ``fit(split)`` trains on ``split.train``; a method
    that imputes views has ``impute(X, view)`` (``X``: the test views without ``view``;
    returns the ``view`` block in data units); one that predicts the label has
    ``predict_label(X)`` returning ``(labels, probabilities, classes)``; one with a latent
    space has ``transform(X, views)``."""

    name = None
    family = "baseline"
    imputes_views = False
    predicts_label = False
    params = None

    def fit(self, split):
        raise NotImplementedError


class Layout:
    """Columns of the views concatenated in a fixed order; absent views are NaN columns."""

    def __init__(self, views):
        self.widths = {k: v.shape[1] for k, v in views.items()}
        self.slices, start = {}, 0
        for k, w in self.widths.items():
            self.slices[k] = slice(start, start + w)
            start += w
        self.n_columns = start

    def matrix(self, X, names=None):
        names = list(self.widths) if names is None else names
        n = len(next(iter(X.values())))
        if not names:
            return np.empty((n, 0))
        return np.hstack([np.asarray(X[k], dtype=np.float64) if k in X
                          else np.full((n, self.widths[k]), np.nan) for k in names])


# ------------------------------------------------------------------ imputers
class ImputerMethod(Method):
    imputes_views = True

    def __init__(self, name, make_imputer, standardize=False, label_from_frequencies=False):
        self.name, self.make_imputer, self.standardize = name, make_imputer, standardize
        self.predicts_label = False  # set by fit when the data set has a label
        self._label_from_frequencies = label_from_frequencies

    def fit(self, split):
        self.layout = Layout(split.train)
        M = self.layout.matrix(split.train)
        self.center, self.scale = training_scale(M) if self.standardize else (0.0, 1.0)
        self.imputer = self.make_imputer().fit((M - self.center) / self.scale)
        label = split.dataset.label
        if self._label_from_frequencies and label is not None:
            y = split.train[label][observed_rows(split.train[label]), 0]
            self.classes, counts = np.unique(y, return_counts=True)
            self.frequencies = counts / counts.sum()
            self.predicts_label = True
        return self

    def impute(self, X, view):
        M = (self.layout.matrix(X) - self.center) / self.scale
        out = self.imputer.transform(M) * self.scale + self.center
        return out[:, self.layout.slices[view]]

    def predict_label(self, X):
        n = len(next(iter(X.values())))
        proba = np.tile(self.frequencies, (n, 1))
        return self.classes[np.full(n, np.argmax(self.frequencies))], proba, self.classes


def mean_imputer(dataset, seed, quick=False):
    return ImputerMethod("mean", lambda: SimpleImputer(strategy="mean"),
                         label_from_frequencies=True)


def knn_imputer(dataset, seed, quick=False):
    return ImputerMethod("knn", KNNImputer, standardize=True)


def iterative_br(dataset, seed, quick=False):
    return ImputerMethod("iterative_br", lambda: IterativeImputer(
        estimator=BayesianRidge(), max_iter=10, random_state=seed))


def iterative_et(dataset, seed, quick=False):
    n_trees, n_iter = (10, 2) if quick else (50, 5)
    return ImputerMethod("iterative_et", lambda: IterativeImputer(
        estimator=ExtraTreesRegressor(n_estimators=n_trees, random_state=seed, n_jobs=1),
        max_iter=n_iter, random_state=seed))


# ------------------------------------------------------------------ per-view supervised models
def _design(X, views, layout, label=None, classes=None):
    """The other views' columns (NaN where missing) and, with ``label``, its one-hot columns."""
    parts = [layout.matrix(X, views)]
    if label is not None:
        n = parts[0].shape[0]
        y = np.asarray(X[label], dtype=np.float64)[:, 0] if label in X else np.full(n, np.nan)
        onehot = (y[:, None] == classes[None, :]).astype(np.float64)
        onehot[np.isnan(y)] = np.nan
        parts.append(onehot)
    return np.hstack(parts)


class RidgeMethod(Method):
    name = "ridge"
    imputes_views = True

    def fit(self, split):
        ds = split.dataset
        self.layout, self.label, self.models = Layout(split.train), ds.label, {}
        if ds.label is not None:
            y = split.train[ds.label][:, 0]
            self.classes = np.unique(y[~np.isnan(y)])
        for view in ds.non_label:
            inputs = [v for v in ds.non_label if v != view]
            X = _design(split.train, inputs, self.layout, ds.label, getattr(self, "classes", None))
            rows = observed_rows(split.train[view])
            center, scale = training_scale(split.train[view])
            model = make_pipeline(SimpleImputer(strategy="mean", keep_empty_features=True),
                                  StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS))
            model.fit(X[rows], (split.train[view][rows] - center) / scale)
            self.models[view] = (inputs, model, center, scale)
        return self

    def impute(self, X, view):
        inputs, model, center, scale = self.models[view]
        design = _design(X, inputs, self.layout, self.label, getattr(self, "classes", None))
        return model.predict(design).reshape(len(design), -1) * scale + center


class LogRegMethod(Method):
    name = "logreg"
    predicts_label = True

    def fit(self, split):
        ds = split.dataset
        self.layout, self.inputs = Layout(split.train), ds.non_label
        y = split.train[ds.label][:, 0]
        rows = ~np.isnan(y)
        self.model = make_pipeline(SimpleImputer(strategy="mean", keep_empty_features=True),
                                   StandardScaler(), LogisticRegression(max_iter=2000))
        self.model.fit(self.layout.matrix(split.train, self.inputs)[rows], y[rows])
        return self

    def predict_label(self, X):
        proba = self.model.predict_proba(self.layout.matrix(X, self.inputs))
        classes = self.model.classes_
        return classes[np.argmax(proba, axis=1)], proba, classes


def ridge(dataset, seed, quick=False):
    return RidgeMethod()


def logreg(dataset, seed, quick=False):
    return None if dataset.label is None else LogRegMethod()


# name -> factory(dataset, seed, quick) returning a Method (None: not applicable)
BASELINES = {"mean": mean_imputer, "knn": knn_imputer, "iterative_br": iterative_br,
             "iterative_et": iterative_et, "ridge": ridge, "logreg": logreg}
