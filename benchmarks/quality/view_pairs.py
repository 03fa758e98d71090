"""Which view predicts which: a per-view ``RidgeCV`` against the VAE, view by view.

A diagnostic, not a method of the benchmark: for one split of the quality suite, the default
VAE is fitted on the training rows; then each target view of the test rows is imputed from
all the other views and from each other view alone, by a ``RidgeCV`` fitted on the training
rows (the same source columns) and by the VAE's ``predict``, scored like the suite
(standardised MSE). On the real UCI multiple-features views it shows where the per-view ridge
wins: pairs of views that are nearly linear functions of each other with a rank beyond the
latent space (the Karhunen-Loeve coefficients and the pixel averages of the same images)::

    python benchmarks/quality/view_pairs.py --dataset uci_mfeat --targets kar pix

Results: ``results/real_mfeat_view_pairs.txt`` and ``docs/quality.rst``.
"""
import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import RidgeCV

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.quality.datasets import load_dataset  # noqa: E402
from benchmarks.quality.metrics import standardised_mse, training_scale  # noqa: E402
from benchmarks.quality.regimes import make_split  # noqa: E402
from skmmvae import MultiModalVAE  # noqa: E402


def view_pairs(dataset, regime, seed, targets, params=None):
    """``[(target, sources, ridge error, VAE error), ...]`` (``sources`` "others" or a view)."""
    ds = load_dataset(dataset)
    split = make_split(ds, regime, seed)
    vae = MultiModalVAE(likelihoods=ds.likelihoods, random_state=seed, n_jobs=1,
                        **(params or {})).fit(split.train)
    rows = []
    for target in targets:
        _, sd = training_scale(split.train[target])
        others = [v for v in ds.non_label if v != target]
        for sources in [others] + [[v] for v in others]:
            ridge = RidgeCV(alphas=np.logspace(-3, 4, 15)).fit(
                np.hstack([split.train[v] for v in sources]), split.train[target])
            by_ridge = ridge.predict(np.hstack([split.test[v] for v in sources]))
            by_vae = vae.predict({v: split.test[v] for v in sources})[target]
            rows.append((target, "others" if len(sources) > 1 else sources[0],
                         standardised_mse(by_ridge, split.test[target], sd),
                         standardised_mse(by_vae, split.test[target], sd)))
    return rows, vae


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="uci_mfeat")
    parser.add_argument("--regime", default="complete")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", nargs="+", default=["kar", "pix"])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    rows, vae = view_pairs(args.dataset, args.regime, args.seed, args.targets)
    print(f"# {args.dataset} {args.regime} seed {args.seed}, default VAE (n_components_="
          f"{vae.n_components_}); standardised MSE of the target view of the test rows")
    print("| target | from | RidgeCV | VAE |\n|---|---|---|---|")
    for target, sources, ridge, by_vae in rows:
        print(f"| {target} | {sources} | {ridge:.3f} | {by_vae:.3f} |")


if __name__ == "__main__":
    main()
