"""Imputation error along training: where a larger latent space helps or hurts, and when.

Fits the default VAE (``n_components`` and ``beta`` given, no early stopping) on one split of
the quality suite, keeps the module's weights every ``--every`` epochs (a skorch callback),
then loads each and measures the suite's imputation error (standardised MSE of each view
predicted from the others, mean over the views) on the test rows, with the validation loss
of that epoch::

    python benchmarks/quality/training_curves.py nonlinear missing --n-components 12 24

Results: ``results/latent_curves.txt`` and ``docs/quality.rst``.
"""
import argparse
import copy
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.quality.datasets import load_dataset  # noqa: E402
from benchmarks.quality.metrics import standardised_mse, training_scale  # noqa: E402
from benchmarks.quality.regimes import make_split  # noqa: E402
from skmmvae import MultiModalVAE  # noqa: E402


class KeepWeights(Callback):
    """The module's weights and the validation loss every ``every`` epochs."""

    def __init__(self, every):
        self.every = every

    def initialize(self):
        self.states = {}
        return self

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch % self.every == 0:
            self.states[epoch] = (copy.deepcopy(net.module_.state_dict()),
                                  net.history[-1].get("valid_loss"))


def imputation_error(est, split):
    ds, errors = split.dataset, []
    for view in ds.non_label:
        given = {k: v for k, v in split.test.items() if k != view}
        _, sd = training_scale(split.train[view])
        errors.append(standardised_mse(est.predict(given)[view], split.test[view], sd))
    return float(np.mean(errors))


def curve(dataset, regime, seed, n_components, beta=0.5, every=10, max_epochs=100):
    """``[(epoch, test imputation error, validation loss), ...]``."""
    ds = load_dataset(dataset)
    split = make_split(ds, regime, seed)
    keep = KeepWeights(every)
    est = MultiModalVAE(likelihoods=ds.likelihoods, random_state=seed, n_jobs=1,
                        n_components=n_components, beta=beta, max_epochs=max_epochs,
                        early_stopping=False, callbacks=[keep]).fit(split.train)
    out = []
    for epoch, (state, valid_loss) in sorted(keep.states.items()):
        est.module_.load_state_dict(state)
        out.append((epoch, imputation_error(est, split), valid_loss))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset")
    parser.add_argument("regime")
    parser.add_argument("--n-components", nargs="+", type=int, default=[12, 24])
    parser.add_argument("--beta", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--max-epochs", type=int, default=100)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    lines = []
    for d in args.n_components:
        points = curve(args.dataset, args.regime, args.seed, d, args.beta, args.every,
                       args.max_epochs)
        text = ", ".join(f"({e}, {err:.4f}, {vl:.2f})" if vl is not None else f"({e}, {err:.4f})"
                         for e, err, vl in points)
        lines.append(f"{args.dataset} {args.regime} n_components={d} beta={args.beta} "
                     f"seed={args.seed}: {text}")
        print(lines[-1], flush=True)
    return lines


if __name__ == "__main__":
    main()
