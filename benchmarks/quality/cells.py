"""Cell-wise missing values: impute scattered missing cells, against the imputers a user runs.

Regimes (the same mask process on the training and the test rows of a seeded 70/30 split):

* ``mcar10``, ``mcar30``, ``mcar50``: each cell of the non-label views missing completely at
  random with probability 0.1, 0.3, 0.5;
* ``mnar``: each value above its feature's 75th percentile (over all rows) is missing with
  probability 0.8: the large values are the ones that go missing.

Methods: ``mean`` (``SimpleImputer``), ``knn`` (``KNNImputer`` on standardised features),
``iterative_br`` (``IterativeImputer(BayesianRidge)``), ``iterative_et`` (MissForest-like,
``IterativeImputer(ExtraTreesRegressor)``), ``vae`` (``MultiModalImputer`` with default
parameters, one modality per view, the data set's likelihoods), ``vae_oneblock`` (the same with
``modalities=None``: all features one block, a MIWAE-style VAE imputer). Every method is
fitted on the training rows (with their missing cells) and imputes the test rows; the error is
the standardised MSE over the missing test cells (features scaled by the observed training
values), with the CPU seconds of fit + impute; ``error_raw`` is the same MSE in the data's
own units. Every method runs on one thread (BLAS through
``threadpoolctl``, torch through ``n_jobs=1``): on a shared machine, multi-threaded BLAS made
``IterativeImputer`` 50 times slower in wall time.

Run ``python benchmarks/quality/cells.py`` (all; ``--quick`` for a smoke run; ``--datasets``,
``--regimes``, ``--seeds``, ``--methods`` to choose) and ``python benchmarks/quality/cells.py
--report`` to write ``results/cells.md`` from ``results/cells.jsonl``.
"""
import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

if __package__ in (None, ""):  # run as a script: make ``benchmarks.quality`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.quality.baselines import iterative_br, iterative_et, knn_imputer, mean_imputer  # noqa: E402
from benchmarks.quality.datasets import load_dataset  # noqa: E402
from benchmarks.quality.metrics import training_scale  # noqa: E402

from skmmvae import MultiModalImputer  # noqa: E402

HERE = Path(__file__).resolve().parent
REGIMES = {"mcar10": 0.1, "mcar30": 0.3, "mcar50": 0.5, "mnar": None}
MNAR_QUANTILE, MNAR_PROBABILITY = 0.75, 0.8
DATASETS = ("digits", "breast_cancer", "nonlinear")
METHODS = ("mean", "knn", "iterative_br", "iterative_et", "vae", "vae_oneblock")
QUICK_EPOCHS = 2


def missing_mask(X, regime, seed):
    """Boolean mask of the cells of ``X`` (n, d) that go missing in ``regime``."""
    rng = np.random.default_rng(seed)
    rate = REGIMES[regime]
    if rate is not None:
        mask = rng.random(X.shape) < rate
    else:
        high = X > np.quantile(X, MNAR_QUANTILE, axis=0)
        mask = high & (rng.random(X.shape) < MNAR_PROBABILITY)
    mask[mask.all(axis=1), 0] = False  # keep at least one value per row
    return mask


def make_cell_split(dataset, regime, seed):
    """``(train, test, test_truth, test_mask, widths)``: the non-label views concatenated,
    NaN where missing; the same mask process on both parts of a stratified 70/30 split."""
    views = dataset.non_label
    X = np.hstack([dataset.views[v] for v in views]).astype(np.float64)
    mask = missing_mask(X, regime, seed)
    rows = np.arange(len(X))
    train, test = train_test_split(rows, test_size=0.3, stratify=dataset.y, random_state=seed)
    train, test = np.sort(train), np.sort(test)
    holes = np.where(mask, np.nan, X)
    widths = {v: dataset.views[v].shape[1] for v in views}
    return holes[train], holes[test], X[test], mask[test], widths


class _Baseline:
    """A baseline imputer of the suite on the concatenated matrix."""

    def __init__(self, factory, dataset, seed, quick):
        self.method = factory(dataset, seed, quick)

    def fit_impute(self, train, test, widths, dataset):
        m = self.method
        m.center, m.scale = training_scale(train) if m.standardize else (0.0, 1.0)
        m.imputer = m.make_imputer().fit((train - m.center) / m.scale)
        out = m.imputer.transform((test - m.center) / m.scale) * m.scale + m.center
        return np.where(np.isnan(test), out, test)  # observed cells as given (the scaling rounds)


class _VAE:
    def __init__(self, oneblock, dataset, seed, quick):
        self.oneblock, self.seed, self.quick = oneblock, seed, quick

    def fit_impute(self, train, test, widths, dataset):
        liks = {v: dataset.likelihoods[v] for v in widths}
        params = {"random_state": self.seed, "n_jobs": 1}
        if self.quick:
            params["max_epochs"] = QUICK_EPOCHS
        if self.oneblock:
            kinds = set(liks.values())
            params["likelihoods"] = kinds.pop() if len(kinds) == 1 else "gaussian"
        else:
            params["modalities"], params["likelihoods"] = dict(widths), liks
        imputer = MultiModalImputer(**params).fit(train)
        self.epochs = int(imputer.n_iter_)
        return imputer.transform(test)


def _make(method, dataset, seed, quick):
    baselines = {"mean": mean_imputer, "knn": knn_imputer, "iterative_br": iterative_br,
                 "iterative_et": iterative_et}
    if method in baselines:
        return _Baseline(baselines[method], dataset, seed, quick)
    if method in ("vae", "vae_oneblock"):
        return _VAE(method == "vae_oneblock", dataset, seed, quick)
    raise ValueError(f"unknown method {method!r}; known: {list(METHODS)}")


def run_one(dataset_name, regime, seed, methods, quick=False):
    """Records (dicts) of every method on one data set x regime x seed."""
    dataset = load_dataset(dataset_name, quick)
    train, test, truth, mask, widths = make_cell_split(dataset, regime, seed)
    _, sd = training_scale(train)
    records = []
    for name in methods:
        method = _make(name, dataset, seed, quick)
        start = time.process_time()
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore")
            imputed = method.fit_impute(train, test, widths, dataset)
        cpu = time.process_time() - start
        observed = ~mask
        if not np.array_equal(imputed[observed], test[observed]):
            raise AssertionError(f"{name} changed observed cells")
        error = float(np.mean(((imputed - truth) / sd)[mask] ** 2))
        record = {"dataset": dataset_name, "regime": regime, "seed": seed, "method": name,
                  "error": error, "cpu_s": round(cpu, 3), "missing_fraction": float(mask.mean()),
                  # in the data's own units: every feature weighs alike, not by 1 / sd^2
                  "error_raw": float(np.mean((imputed - truth)[mask] ** 2))}
        if hasattr(method, "epochs"):
            record["epochs"] = method.epochs
        records.append(record)
        print(json.dumps(record), flush=True)
    return records


def report(records):
    """Markdown: mean error (+- sd over seeds) and median CPU s per data set x regime x method;
    the best mean per row in bold, and the VAE's ratio to the best baseline."""
    from collections import defaultdict

    table = defaultdict(list)
    for r in records:
        table[(r["dataset"], r["regime"], r["method"])].append(r)
    keys = sorted({(d, g) for d, g, _ in table}, key=lambda k: (k[0], list(REGIMES).index(k[1])))
    methods = [m for m in METHODS if any(k[2] == m for k in table)]
    lines = ["| data set | regime | seeds | " + " | ".join(methods) + " | vae / best baseline |",
             "|---|---|---|" + "---|" * len(methods) + "---|"]
    for d, g in keys:
        means = {m: np.mean([r["error"] for r in table[(d, g, m)]]) for m in methods if table[(d, g, m)]}
        best = min(means.values())
        cells = []
        for m in methods:
            rows = table[(d, g, m)]
            if not rows:
                cells.append("")
                continue
            err = [r["error"] for r in rows]
            text = f"{np.mean(err):.3f} ± {np.std(err):.3f} ({np.median([r['cpu_s'] for r in rows]):.1f} s)"
            cells.append(f"**{text}**" if means[m] == best else text)
        base = [means[m] for m in means if not m.startswith("vae")]
        ratio = f"{means['vae'] / min(base):.2f}" if base and "vae" in means else ""
        n_seeds = len({r["seed"] for m in methods for r in table[(d, g, m)]})
        lines.append(f"| {d} | {g} | {n_seeds} | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--regimes", nargs="+", default=list(REGIMES), choices=list(REGIMES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--out", default=None, help="JSON lines (default results/cells.jsonl)")
    parser.add_argument("--append", action="store_true")
    parser.add_argument("--quick", action="store_true", help="200-row subsets, 2 epochs, seed 0")
    parser.add_argument("--report", action="store_true", help="write results/cells.md and stop")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else HERE / "results" / ("quick" if args.quick else "") / "cells.jsonl"
    if args.report:
        records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
        latest = {(r["dataset"], r["regime"], r["seed"], r["method"]): r for r in records}
        text = report(list(latest.values()))
        out.with_suffix(".md").write_text(text)
        print(text)
        return
    seeds = [0] if args.quick else args.seeds
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a" if args.append else "w") as handle:
        for dataset in args.datasets:
            for regime in args.regimes:
                for seed in seeds:
                    for record in run_one(dataset, regime, seed, args.methods, args.quick):
                        handle.write(json.dumps(record) + "\n")
                        handle.flush()


if __name__ == "__main__":
    main()
