"""The estimator under test, ``MultiModalVAE`` with default parameters plus per-config
overrides (``--vae NAME=JSON``), behind the :class:`~.baselines.Method` interface."""
import json

import numpy as np

from skmmvae import MultiModalVAE

from .baselines import Method

QUICK_EPOCHS = 2


def _tuples(value):
    """JSON lists to tuples (``hidden_layer_sizes``, ``(name, options)`` likelihood specs)."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def parse_config(text):
    """``"NAME=JSON"`` -> ``(name, params)``; ``"NAME"`` alone means default parameters."""
    name, sep, spec = text.partition("=")
    if not name:
        raise ValueError(f"a VAE config needs a name: NAME=JSON, got {text!r}")
    params = json.loads(spec) if sep and spec.strip() else {}
    if not isinstance(params, dict):
        raise ValueError(f"the JSON of VAE config {name!r} must be an object, got {spec!r}")
    return name, _tuples(params)


class VAEMethod(Method):
    family = "vae"
    imputes_views = True

    def __init__(self, name, params, dataset, seed, quick=False):
        self.name, self.params = name, dict(params)
        likelihoods = {**dataset.likelihoods, **self.params.pop("likelihoods", {})}
        if quick:
            self.params["max_epochs"] = QUICK_EPOCHS
        self.predicts_label = dataset.label is not None
        self.label = dataset.label
        self.estimator = MultiModalVAE(likelihoods=likelihoods, random_state=seed, n_jobs=1,
                                       **self.params)

    def fit(self, split):
        self.estimator.fit(split.train)
        return self

    def impute(self, X, view):
        return np.asarray(self.estimator.predict(X)[view], dtype=np.float64)

    def predict_label(self, X):
        labels = self.estimator.predict(X)[self.label][:, 0]
        proba = self.estimator.predict_proba(X, modality=self.label)
        return labels, proba, self.estimator.categories_[self.label]

    def transform(self, X, views):
        return self.estimator.transform(X, modalities=views)

    def info(self):
        """Fitted facts worth a record: epochs run, the latent size and, where
        ``n_components="auto"`` chose it, the validation errors of the sizes."""
        info = {"epochs": int(self.estimator.n_iter_), "n_components": int(self.estimator.n_components_)}
        if hasattr(self.estimator, "latent_selection_"):
            info["latent_selection"] = self.estimator.latent_selection_
        if getattr(self.estimator, "class_temperatures_", None):
            info["class_temperatures"] = self.estimator.class_temperatures_
        return info


def vae_factory(name, params):
    """A factory ``(dataset, seed, quick) -> VAEMethod`` for one configuration."""
    def factory(dataset, seed, quick=False):
        return VAEMethod(name, params, dataset, seed, quick)
    factory.method_name = name
    return factory


def warm_up():
    """One tiny fit, untimed: the first fit of a process pays one-off imports and
    initialisation (about a CPU second) that would otherwise count against the first run."""
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(64, 3)), "b": rng.normal(size=(64, 2))}
    MultiModalVAE(n_components=2, hidden_layer_sizes=(8,), max_epochs=1, random_state=0,
                  n_jobs=1).fit(X).predict({"a": X["a"]})
