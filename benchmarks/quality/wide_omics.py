"""A check on a shape the quality suite does not have: omics-like wide views with few rows.

Three views of 2,000, 1,000 and 300 features, each a noisy (sd 1) linear map of 32 tanh units
of a shared 10-dimensional latent, 300 training and 300 test rows. Each view is imputed from
the other two by a default ``MultiModalVAE`` and by a per-view ``RidgeCV``; standardised MSE
(training sd), mean over the views. ``--params`` adds estimator parameters (a Python dict),
e.g. ``"{'weight_decay': 0.0}"`` for the default before ``weight_decay="auto"`` decayed with no
more rows than columns. One line per seed::

    python benchmarks/quality/wide_omics.py --seeds 0 1 2
    python benchmarks/quality/wide_omics.py --seeds 0 1 2 --params "{'weight_decay': 0.0}"

``--widths`` and ``--rows`` change the shape (e.g. ``--widths 150 100 60 --rows 1000``: more
rows than columns, where only the wide latent size decays); ``--missing`` drops 30-50% of
each training row's views (the suite's ``missing`` regime; test rows stay complete) and adds
``KNNImputer`` on the concatenated views.

Results in ``results/wide_omics.txt``.
"""
import argparse
import ast
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.impute import KNNImputer
from sklearn.linear_model import RidgeCV

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.quality.regimes import drop_views  # noqa: E402
from skmmvae import MultiModalVAE  # noqa: E402

WIDTHS = (2000, 1000, 300)


def make_views(n, seed, widths=WIDTHS, n_latent=10, noise=1.0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, n_latent))
    views = {}
    for k, width in enumerate(widths):
        hidden = np.tanh(z @ rng.normal(size=(n_latent, 32)) / np.sqrt(n_latent))
        views[f"v{k}"] = hidden @ rng.normal(size=(32, width)) + noise * rng.normal(size=(n, width))
    return views


def run(seed, n_train=300, n_test=300, params=None, widths=WIDTHS, missing=False):
    X = make_views(n_train + n_test, seed, widths=widths)
    train = {k: v[:n_train] for k, v in X.items()}
    test = {k: v[n_train:] for k, v in X.items()}
    if missing:  # views dropped from the training rows as the suite's "missing" regime does
        train, _ = drop_views(train, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.process_time()
        est = MultiModalVAE(random_state=seed, n_jobs=1, **(params or {})).fit(train)
        cpu = time.process_time() - start
    errors = {"vae": [], "ridge": [], "knn": []}
    names = list(X)
    knn = KNNImputer().fit(np.hstack([train[k] for k in names])) if missing else None
    for j, view in enumerate(names):
        sd = np.nanstd(train[view], axis=0)
        given = {k: (test[k] if k != view else np.full_like(test[k], np.nan)) for k in X}
        others = [k for k in X if k != view]
        # the suite's ridge: fitted on the rows that observe the view, missing inputs
        # mean-imputed (none without missing views)
        inputs = np.hstack([train[k] for k in others])
        inputs = np.where(np.isnan(inputs), np.nanmean(inputs, axis=0), inputs)
        rows = ~np.isnan(train[view]).any(axis=1)
        ridge = RidgeCV(alphas=np.logspace(-2, 5, 15)).fit(inputs[rows], train[view][rows])
        preds = [("vae", est.predict(given)[view]),
                 ("ridge", ridge.predict(np.hstack([test[k] for k in others])))]
        if knn is not None:
            start_col = sum(train[k].shape[1] for k in names[:j])
            filled = knn.transform(np.hstack([given[k] for k in names]))
            preds.append(("knn", filled[:, start_col:start_col + train[view].shape[1]]))
        for name, pred in preds:
            errors[name].append(float(np.mean(((pred - test[view]) / sd) ** 2)))
    vae, ridge = float(np.mean(errors["vae"])), float(np.mean(errors["ridge"]))
    return {"seed": seed, "params": params or {}, "vae": round(vae, 4), "ridge": round(ridge, 4),
            "vae / ridge": round(vae / ridge, 3), "fit_cpu_s": round(cpu, 1),
            "n_components": int(est.n_components_), "weight_decay": est.weight_decay_,
            "widths": list(widths), "n_train": n_train, "missing": bool(missing),
            **({"knn": round(float(np.mean(errors["knn"])), 4)} if errors["knn"] else {})}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--params", default="{}")
    parser.add_argument("--widths", nargs="+", type=int, default=list(WIDTHS),
                        help="the views' widths (default: 2000 1000 300)")
    parser.add_argument("--rows", type=int, default=300, help="training rows (and test rows)")
    parser.add_argument("--missing", action="store_true",
                        help="drop 30-50%% of each training row's views, as the suite's missing regime")
    args = parser.parse_args(argv)
    params = ast.literal_eval(args.params)
    for seed in args.seeds:
        print(run(seed, n_train=args.rows, n_test=args.rows, params=params,
                  widths=tuple(args.widths), missing=args.missing), flush=True)


if __name__ == "__main__":
    main()
