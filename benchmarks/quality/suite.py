"""The runner: fit one method on one (data set, regime, seed) and evaluate it.

``run_one(dataset, regime, seed, method_factory)`` returns the list of records (dicts):

* ``kind="imputation"``, one per non-label view T the method imputes: T hidden in the test
  rows (every other view observed, the label included), ``mse`` = standardised MSE (training
  mean/sd of T);
* ``kind="label"``: the label view hidden, ``accuracy`` (of the predicted class),
  ``accuracy_proba`` (of the most probable class) and ``log_loss``;
* ``kind="representation"`` (methods with ``transform``): ``accuracy`` of the linear probe
  on the latent means of the non-label views and ``pca_accuracy`` of the same probe on PCA
  codes of the same width;
* ``kind="error"`` when the fit fails (``error`` holds the message).

Every record has ``fit_cpu_s`` (process CPU seconds of ``fit``) and, but for errors,
``predict_cpu_s`` (of that evaluation). Everything runs on one core: BLAS/OpenMP pools
limited to 1 thread (threadpoolctl) and torch to 1 intra-op thread.
"""
import contextlib
import time
import traceback
import warnings

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from . import metrics
from .datasets import load_dataset
from .regimes import make_split
from .representation import pca_codes, probe_accuracy


def case_arguments(doc, argv=None, options=()):
    """The command line of a one-case screen script: ``dataset regime seed`` and the
    ``options`` (``(flag, add_argument keywords)`` pairs), parsed from ``argv``; warnings off
    and torch on one thread for the run, as the screens measure."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("regime")
    parser.add_argument("seed", type=int)
    for flag, keywords in options:
        parser.add_argument(flag, **keywords)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    return args


@contextlib.contextmanager
def one_core():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def cpu_timer(out, key):
    start = time.process_time()
    try:
        yield
    finally:
        out[key] = time.process_time() - start


@contextlib.contextmanager
def warning_log(out):
    """Collect warnings (category and start of the message) instead of printing them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = {f"{w.category.__name__}: {str(w.message)[:120]}" for w in caught}
    out.extend(sorted(seen - set(out)))


def _without(X, view):
    return {k: v for k, v in X.items() if k != view}


def evaluate(method, split, base):
    """Records of a fitted ``method`` on ``split``; ``base`` is merged into every record."""
    ds, records = split.dataset, []
    if method.imputes_views:
        for view in ds.non_label:
            rec = {**base, "kind": "imputation", "view": view}
            with cpu_timer(rec, "predict_cpu_s"):
                pred = method.impute(_without(split.test, view), view)
            _, sd = metrics.training_scale(split.train[view])
            rec["mse"] = metrics.standardised_mse(pred, split.test[view], sd)
            rec["mse_raw"] = metrics.standardised_mse(pred, split.test[view], 1.0)
            records.append(rec)
    if method.predicts_label and ds.label is not None:
        rec = {**base, "kind": "label", "view": ds.label}
        with cpu_timer(rec, "predict_cpu_s"):
            labels, proba, classes = method.predict_label(_without(split.test, ds.label))
        truth = split.test[ds.label][:, 0]
        rec["accuracy"] = metrics.accuracy(labels, truth)
        rec["accuracy_proba"] = metrics.accuracy(np.asarray(classes)[np.argmax(proba, 1)], truth)
        rec["log_loss"] = metrics.log_loss(proba, classes, truth)
        records.append(rec)
    if hasattr(method, "transform"):
        rec = {**base, "kind": "representation", "view": None}
        views = ds.non_label
        with cpu_timer(rec, "predict_cpu_s"):
            Z_train, Z_test = (method.transform(X, views) for X in (split.train, split.test))
        rec["n_components"] = Z_train.shape[1]
        rec["accuracy"] = probe_accuracy(Z_train, split.y_train, Z_test, split.y_test)
        rec["accuracy_scaled"] = probe_accuracy(Z_train, split.y_train, Z_test, split.y_test,
                                                scaled=True)
        P_train, P_test, k = pca_codes(split.train, split.test, views, Z_train.shape[1],
                                       split.seed)
        rec["pca_components"] = k
        rec["pca_accuracy"] = probe_accuracy(P_train, split.y_train, P_test, split.y_test)
        rec["pca_accuracy_scaled"] = probe_accuracy(P_train, split.y_train, P_test, split.y_test,
                                                    scaled=True)
        records.append(rec)
    return records


def run_one(dataset, regime, seed, method_factory, quick=False, extra=None):
    """Fit ``method_factory(dataset, seed, quick)`` on the ``regime`` split of ``dataset`` (a
    name or a loaded :class:`~.datasets.Dataset`) for ``seed`` and evaluate it. Returns the
    records (``[]`` when the method does not apply to the data set); ``extra`` is merged into
    every record."""
    ds = load_dataset(dataset, quick) if isinstance(dataset, str) else dataset
    split = make_split(ds, regime, seed)
    with one_core():
        method = method_factory(ds, seed, quick)
        if method is None:
            return []
        base = {"dataset": ds.name, "regime": regime, "seed": seed, "method": method.name,
                "family": method.family, "n_train": len(split.y_train),
                "n_test": len(split.y_test), "quick": bool(quick), **(extra or {})}
        if method.params is not None:
            base["params"] = method.params
        log = []
        try:
            with warning_log(log), cpu_timer(base, "fit_cpu_s"):
                method.fit(split)
        except Exception as exc:  # a failed fit is a result, not the end of the run
            return [{**base, "kind": "error", "view": None, "stage": "fit",
                     "error": f"{type(exc).__name__}: {exc}",
                     "traceback": traceback.format_exc(limit=5)}]
        if hasattr(method, "info"):
            base.update(method.info())
        try:
            with warning_log(log):
                records = evaluate(method, split, base)
        except Exception as exc:
            return [{**base, "kind": "error", "view": None, "stage": "evaluate",
                     "error": f"{type(exc).__name__}: {exc}",
                     "traceback": traceback.format_exc(limit=5)}]
        for rec in records:
            rec["warnings"] = log
    return records
