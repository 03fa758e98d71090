"""Class probabilities of a label given the other views: three estimators compared.

For one data set and regime of the quality suite, 3 seeds, the default model fitted with 12
and with 24 latent dimensions (the two sizes of ``n_components="auto"``), and on the test rows
(label hidden) the log-loss and accuracy of:

* ``is``: self-normalised importance sampling over 64 draws ``z_k ~ q(z | x_S)`` with weights
  ``p(x_S | z_k) p(z_k) / q(z_k | x_S)`` (the estimator of ``predict_proba``, here with one
  fixed set of draws for all rows);
* ``plain``: the plain mean of ``p(y | z_k)`` over the same draws (the encoder's predictive);
* ``sklearn_proba``: ``predict_proba`` itself (importance sampling, draws seeded per batch);

and the accuracy of ``predict`` (the decoder at the posterior mean). One line per fit.

    python benchmarks/quality/proba_estimators.py digits complete
"""
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.quality.datasets import load_dataset  # noqa: E402
from benchmarks.quality.label_criterion import fit_size  # noqa: E402
from benchmarks.quality.regimes import make_split  # noqa: E402
from skmmvae._latent_size import AUTO_SIZES  # noqa: E402
from skmmvae.nn.objectives import _average_draws, _importance_draws, _prior_private_latents  # noqa: E402


def log_loss_and_accuracy(proba, index):
    proba = np.asarray(proba, dtype=np.float64)
    loss = -np.mean(np.log(np.clip(proba[np.arange(len(index)), index], 1e-15, 1)))
    return round(float(loss), 3), round(float(np.mean(proba.argmax(1) == index)), 3)


def compare(est, split, label):
    test = dict(split.test)
    y = test.pop(label)[:, 0]
    tensors, _ = est._tensors(test)
    target = est._schema.names.index(label)
    model = est.module_.eval()
    index = np.searchsorted(np.asarray(est.categories_[label]), y)
    mask = tensors.mask.clone()
    mask[:, target] = False
    with torch.no_grad():
        torch.manual_seed(0)
        z, _, log_w = _importance_draws(model, list(tensors.xs), mask, 64, True)
        private = _prior_private_latents(model, z, True)
        probs = list(model.likelihoods.values())[target].mean(model.decode(z, target, private))
        estimates = {"is": _average_draws(log_w, probs).numpy(), "plain": probs.mean(0).numpy()}
    estimates["sklearn_proba"] = est.predict_proba(test, modality=label)
    result = {name: log_loss_and_accuracy(p, index) for name, p in estimates.items()}
    result["predict_acc"] = round(float(np.mean(est.predict(test)[label][:, 0] == y)), 3)
    return result


def main(name, regime):
    dataset = load_dataset(name)
    for seed in (0, 1, 2):
        split = make_split(dataset, regime, seed)
        for size in AUTO_SIZES:
            est = fit_size(dataset, split, seed, size)
            print(name, regime, seed, size, compare(est, split, dataset.label), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
