"""How much of the data PCA "with as many components" keeps in the representation test.

The quality issue asks that a classifier on ``transform`` be at least as accurate as on PCA
with as many components as the latent space. Where the data have few columns or few rows,
those components are nearly all of the data: this prints, per case where the latent codes
were behind PCA's (the default's chosen size), the share of the standardised training
data's variance that PCA keeps and the probe's accuracy on PCA's codes and on all the
components (the standardised data themselves, rotated).

Usage::

    python benchmarks/quality/representation_ceiling.py > benchmarks/quality/results/representation_ceiling.txt
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.quality.datasets import load_dataset  # noqa: E402
from benchmarks.quality.regimes import make_split  # noqa: E402
from benchmarks.quality.representation import pca_codes, probe_accuracy  # noqa: E402

# (data set, regime, latent size the default chose on seed 0) where its codes were behind PCA's
CASES = [("wine", "complete", 24), ("wine", "small", 24), ("wine", "tiny", 12),
         ("diabetes", "small", 24), ("diabetes", "tiny", 12), ("breast_cancer", "small", 24),
         ("breast_cancer", "tiny", 12), ("mfeat_like", "small", 24), ("mfeat_like", "tiny", 12),
         ("digits", "tiny", 12), ("nonlinear", "tiny", 12), ("uci_mfeat", "complete", 128),
         ("nutrimouse", "complete", 12)]
SEEDS = (0, 1, 2)
EVERYTHING = 10**6  # as many components as the data have (capped at rows and columns)


def ceiling(dataset, regime, size):
    """``(components, variance kept, PCA accuracy, all-components accuracy)``, seed means."""
    data = load_dataset(dataset)
    rows = []
    for seed in SEEDS:
        split = make_split(data, regime, seed)
        codes = pca_codes(split.train, split.test, data.non_label, size, seed)
        full = pca_codes(split.train, split.test, data.non_label, EVERYTHING, seed)
        kept = np.var(codes[0], 0).sum() / np.var(full[0], 0).sum()
        rows.append((codes[2], kept, probe_accuracy(codes[0], split.y_train, codes[1], split.y_test),
                     probe_accuracy(full[0], split.y_train, full[1], split.y_test)))
    return rows[0][0], *np.mean([r[1:] for r in rows], axis=0)


def main():
    print("# PCA with as many components as the default's latent size: variance of the "
          "standardised training views kept, and the linear probe's test accuracy on those "
          f"components and on all of them (seeds {' '.join(map(str, SEEDS))}, means).")
    print(f"{'data set':14s}{'regime':10s}{'k':>4s}{'kept':>8s}{'PCA acc':>9s}{'all acc':>9s}")
    for dataset, regime, size in CASES:
        k, kept, acc, everything = ceiling(dataset, regime, size)
        print(f"{dataset:14s}{regime:10s}{k:4d}{kept:8.3f}{acc:9.3f}{everything:9.3f}")


if __name__ == "__main__":
    main()
