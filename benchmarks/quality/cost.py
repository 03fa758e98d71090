"""CPU cost of a default fit on data shaped like UCI's multiple-features digits.

2,000 rows and six views of 76, 216, 64, 240, 47 and 6 features (649 in all, the layout of
the "mfeat" data set), made from a shared 10-dimensional latent through random nonlinear
maps. The quality issue asks a default fit of this shape to take at most 10 CPU seconds on one
core; this script measures it (process CPU time, torch and BLAS limited to one thread) and
prints the epochs run and the time per epoch and per optimisation step.

    python benchmarks/quality/cost.py [--seeds 0 1 2] [--params JSON]
    python benchmarks/quality/cost.py --curve [--every 5]

``--curve`` follows the quality of one default fit as it trains, on the ``mfeat_like`` split
of the quality suite (2,000 training rows, seed 0): every ``--every`` epochs, the
standardised MSE of each view imputed from the others on the 858 test rows, against the fit's
CPU seconds so far (the evaluations not counted), beside ``RidgeCV`` and ``KNNImputer`` on the
same split.
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


def quality_curve(every=5, seed=0, params=None):
    """``[(epoch, cpu_s, mse)]`` of a default fit on ``mfeat_like`` (see the module doc), and
    the baselines' ``{name: (mse, cpu_s)}``."""
    from skorch.callbacks import Callback

    from benchmarks.quality.baselines import BASELINES
    from benchmarks.quality.datasets import load_dataset
    from benchmarks.quality.metrics import standardised_mse, training_scale
    from benchmarks.quality.regimes import make_split
    from benchmarks.quality.suite import _without, run_one

    dataset = load_dataset("mfeat_like")
    split = make_split(dataset, "complete", seed)
    baselines = {}
    for name in ("ridge", "knn"):
        records = run_one(dataset, "complete", seed, BASELINES[name])
        mses = [r["mse"] for r in records if r["kind"] == "imputation"]
        baselines[name] = (float(np.mean(mses)), records[0]["fit_cpu_s"])
    scales = {v: training_scale(split.train[v])[1] for v in dataset.views}
    curve, clock = [], {"paused": 0.0, "start": None}

    def imputation_error(vae):
        errors = []
        for view in dataset.views:
            pred = vae.predict(_without(split.test, view))[view]  # as the suite imputes
            errors.append(standardised_mse(pred, split.test[view], scales[view]))
        return float(np.mean(errors))

    class Probe(Callback):
        def on_epoch_end(self, net, **kwargs):
            epoch = len(net.history)
            if epoch % every:
                return
            paused = time.process_time()
            cpu = paused - clock["start"] - clock["paused"]
            vae.module_ = net.module_  # predict with the weights of this epoch
            curve.append((epoch, cpu, imputation_error(vae)))
            del vae.module_
            clock["paused"] += time.process_time() - paused

    vae = MultiModalVAE(random_state=seed, n_jobs=1, callbacks=[("probe", Probe())], **(params or {}))
    with one_core(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clock["start"] = time.process_time()
        vae.fit(split.train)
        total = time.process_time() - clock["start"] - clock["paused"]
    curve.append(("end", total, imputation_error(vae)))
    return curve, baselines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--params", default="{}", help="estimator parameters over the defaults (JSON)")
    parser.add_argument("--curve", action="store_true", help="quality against CPU time during a fit")
    parser.add_argument("--every", type=int, default=5, help="epochs between evaluations (--curve)")
    args = parser.parse_args(argv)
    params = json.loads(args.params)
    if args.curve:
        for seed in args.seeds:
            curve, baselines = quality_curve(args.every, seed, params)
            print(f"\nseed {seed}: " + "; ".join(
                f"{name} MSE {mse:.4f} (fit {cpu:.1f} CPU s)" for name, (mse, cpu) in baselines.items()))
            best = min(mse for mse, _ in baselines.values())
            print("\n| epoch | CPU s | MSE | / best baseline |\n|---|---|---|---|")
            for epoch, cpu, mse in curve:
                print(f"| {epoch} | {cpu:.1f} | {mse:.4f} | {mse / best:.2f} |")
            reached = next(((e, c) for e, c, m in curve if m <= 1.05 * best), None)
            print("\nat most 1.05 times the best baseline: " + (
                f"epoch {reached[0]}, {reached[1]:.1f} CPU s" if reached else "never"))
        return
    for seed in args.seeds:
        X = make_views(seed=seed)
        vae = MultiModalVAE(random_state=seed, n_jobs=1, **params)
        with one_core(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.process_time()
            vae.fit(X)
            cpu = time.process_time() - start
        steps = vae.n_iter_ * -(-int(len(X["view0"]) * (1 - vae._validation_fraction())) // vae._training_batch_size())
        print(f"seed {seed}: fit {cpu:.1f} CPU s, {vae.n_iter_} epochs, {cpu / vae.n_iter_:.2f} s/epoch, "
              f"{1000 * cpu / steps:.0f} ms/step (batch {vae._training_batch_size()})")


if __name__ == "__main__":
    main()
