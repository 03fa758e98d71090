"""Quality benchmark: imputation, label prediction and representation of the multi-modal VAE
against simple baselines (mean, kNN, iterative imputers, per-view ridge / logistic
regression), per data set, training regime and seed.

Usage::

    python benchmarks/quality/run.py --quick          # smoke run, under a minute
    python benchmarks/quality/run.py                  # everything (hours on one core)
    python benchmarks/quality/run.py --datasets breast_cancer --seeds 0 \\
        --vae default={} --vae mopoe='{"aggregation": "mopoe"}'
    python benchmarks/quality/report.py               # -> benchmarks/quality/results.md

Records (one JSON object per line) go to ``--out``; see README.md for the protocol.
"""
import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

import sklearn  # noqa: E402
import torch  # noqa: E402

import skmmvae  # noqa: E402
from benchmarks.quality.baselines import BASELINES  # noqa: E402
from benchmarks.quality.datasets import LOADERS, load_dataset  # noqa: E402
from benchmarks.quality.regimes import EXTRA_REGIMES, REGIMES  # noqa: E402
from benchmarks.quality.suite import one_core, run_one  # noqa: E402
from benchmarks.quality.vae import parse_config, vae_factory, warm_up  # noqa: E402

DEFAULT_DATASETS = ["digits", "breast_cancer", "nonlinear"]
DEFAULT_OUT = HERE / "results" / "results.jsonl"
QUICK_OUT = HERE / "results" / "quick" / "results.jsonl"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=None, choices=sorted(LOADERS),
                        help=f"default: {' '.join(DEFAULT_DATASETS)} (--quick: breast_cancer)")
    parser.add_argument("--regimes", nargs="+", default=list(REGIMES),
                        choices=[*REGIMES, *EXTRA_REGIMES])
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="default 0 1 2 (--quick: 0)")
    parser.add_argument("--methods", nargs="+", default=None,
                        help="'vae' (every --vae config), a config name, or baselines: "
                             + " ".join(BASELINES) + " (default: all)")
    parser.add_argument("--vae", action="append", default=None, metavar="NAME=JSON",
                        help="a VAE configuration: parameters over the defaults, e.g. "
                             "mopoe='{\"aggregation\": \"mopoe\"}' (repeatable; default vae={})")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_OUT.relative_to(HERE)} by default, 200-row "
                             "subsets, VAE max_epochs=2, small ExtraTrees, one seed")
    parser.add_argument("--out", default=None, help=f"JSON-lines file (default {DEFAULT_OUT})")
    parser.add_argument("--append", action="store_true", help="append to --out (default: overwrite)")
    args = parser.parse_args(argv)
    args.datasets = args.datasets or (["breast_cancer"] if args.quick else DEFAULT_DATASETS)
    args.seeds = args.seeds if args.seeds is not None else ([0] if args.quick else [0, 1, 2])
    args.out = Path(args.out) if args.out else (QUICK_OUT if args.quick else DEFAULT_OUT)
    return args


def method_factories(args):
    """``[(name, factory)]`` of the selected methods, VAE configurations first."""
    configs = [parse_config(c) for c in (args.vae or ["vae={}"])]
    names = [n for n, _ in configs]
    if len(set(names)) != len(names):
        raise SystemExit(f"VAE config names must differ: {names}")
    clash = set(names) & set(BASELINES)
    if clash:
        raise SystemExit(f"VAE config names {sorted(clash)} clash with baselines")
    wanted = args.methods or ["vae", *BASELINES]
    unknown = set(wanted) - {"vae", *names, *BASELINES}
    if unknown:
        known = list(dict.fromkeys(["vae", *names, *BASELINES]))
        raise SystemExit(f"unknown methods {sorted(unknown)}; known: {' '.join(known)}")
    out = [(n, vae_factory(n, p)) for n, p in configs if "vae" in wanted or n in wanted]
    return out + [(n, f) for n, f in BASELINES.items() if n in wanted]


def summary(rec):
    keys = ("mse", "accuracy", "log_loss", "pca_accuracy", "fit_cpu_s", "predict_cpu_s", "error")
    vals = " ".join(f"{k}={rec[k]:.4g}" if isinstance(rec[k], float) else f"{k}={rec[k]}"
                    for k in keys if k in rec)
    return f"  {rec['method']:>14} {rec['kind']:>14} {str(rec['view']):>12}  {vals}"


def main(argv=None):
    args = parse_args(argv)
    factories = method_factories(args)
    command = "python benchmarks/quality/run.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, "
               f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
               f"skmmvae {skmmvae.__version__}")
    extra = {"command": command.strip(), "machine": machine}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if any(getattr(f, "method_name", None) for _, f in factories):
        with one_core():
            warm_up()
    with open(args.out, "a" if args.append else "w") as f:
        for name in args.datasets:
            dataset = load_dataset(name, args.quick)
            for regime in args.regimes:
                for seed in args.seeds:
                    print(f"{name} / {regime} / seed {seed}", flush=True)
                    for _, factory in factories:
                        records = run_one(dataset, regime, seed, factory, args.quick, extra)
                        for rec in records:
                            f.write(json.dumps(rec) + "\n")
                            print(summary(rec), flush=True)
                        f.flush()
    print(f"wrote {args.out} in {time.perf_counter() - start:.0f} s", flush=True)
    return args.out


if __name__ == "__main__":
    main()
