"""CPU cost of a default fit on data shaped like UCI's multiple-features digits.

2,000 rows and six views of 76, 216, 64, 240, 47 and 6 features (649 in all, the layout of
the "mfeat" data set), made from a shared 10-dimensional latent through random nonlinear
maps. The quality issue asks a default fit of this shape to take at most 10 CPU seconds on one
core; this script measures it (process CPU time, torch and BLAS limited to one thread) and
prints the epochs run and the time per epoch and per optimisation step.

    python benchmarks/quality/cost.py [--seeds 0 1 2] [--params JSON]
"""
import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.quality.suite import one_core  # noqa: E402
from skmmvae import MultiModalVAE  # noqa: E402

WIDTHS = (76, 216, 64, 240, 47, 6)


def make_views(n=2000, n_latent=10, seed=0, return_latent=False):
    """Six views from a shared ``n_latent``-dimensional latent through random tanh maps,
    with noise of sd 0.3; ``return_latent`` also returns the latent."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, n_latent))
    views = {}
    for k, width in enumerate(WIDTHS):
        hidden = np.tanh(z @ rng.normal(size=(n_latent, 32)) / np.sqrt(n_latent))
        views[f"view{k}"] = hidden @ rng.normal(size=(32, width)) + 0.3 * rng.normal(size=(n, width))
    return (views, z) if return_latent else views


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--params", default="{}", help="estimator parameters over the defaults (JSON)")
    args = parser.parse_args(argv)
    params = json.loads(args.params)
    for seed in args.seeds:
        X = make_views(seed=seed)
        vae = MultiModalVAE(random_state=seed, n_jobs=1, **params)
        with one_core(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.process_time()
            vae.fit(X)
            cpu = time.process_time() - start
        steps = vae.n_iter_ * -(-int(len(X["view0"]) * (1 - vae.validation_fraction)) // vae._training_batch_size())
        print(f"seed {seed}: fit {cpu:.1f} CPU s, {vae.n_iter_} epochs, {cpu / vae.n_iter_:.2f} s/epoch, "
              f"{1000 * cpu / steps:.0f} ms/step (batch {vae._training_batch_size()})")


if __name__ == "__main__":
    main()
