"""Screen VAE configurations against the committed defaults on the same seeds.

``report.py`` averages every method over the seeds it has; a screen run on one or two seeds
then reads against baselines averaged over three, and seed-to-seed spread (up to 20% on
breast cancer) swamps the effect. This script compares like with like: for each (data set,
regime, configuration) of the given JSON-lines files, the mean imputation MSE over the seeds
the configuration was run on, next to the reference method (``default`` of
``results/results.jsonl`` unless ``--reference``) and the best baseline on those same seeds.

    python benchmarks/quality/compare.py results/levers.jsonl [--reference default]
        [--results results/results.jsonl] [--output levers.md]
"""
import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from benchmarks.quality.report import read_records, table  # noqa: E402

COLUMNS = ["data set", "regime", "configuration", "params", "seeds", "MSE", "reference MSE",
           "MSE / reference", "best baseline MSE", "MSE / best baseline"]


def view_means(records):
    """``{(dataset, regime, seed, method): mean imputation MSE over the views}``."""
    per = defaultdict(list)
    for r in records:
        if r["kind"] == "imputation":
            per[(r["dataset"], r["regime"], r["seed"], r["method"])].append(r["mse"])
    return {k: float(np.mean(v)) for k, v in per.items()}


def compare(screen, results, reference="default"):
    """Rows of :data:`COLUMNS` (one per data set, regime and configuration of ``screen``)."""
    mine, known = view_means(screen), view_means(results)
    params = {r["method"]: r.get("params", {}) for r in screen if r["kind"] == "imputation"}
    baselines = {r["method"] for r in results if r["family"] == "baseline"}
    seeds = defaultdict(list)
    for dataset, regime, seed, method in mine:
        seeds[(dataset, regime, method)].append(seed)
    rows = []
    for (dataset, regime, method), runs in sorted(seeds.items()):
        runs = sorted(runs)
        mse = np.mean([mine[(dataset, regime, s, method)] for s in runs])
        ref = [known.get((dataset, regime, s, reference)) for s in runs]
        ref = np.mean(ref) if None not in ref else np.nan
        best = []
        for s in runs:
            scores = [known[(dataset, regime, s, b)] for b in baselines if (dataset, regime, s, b) in known]
            best.append(min(scores) if scores else np.nan)
        best = np.mean(best)
        rows.append([dataset, regime, method, " ".join(f"{k}={v}" for k, v in params[method].items()),
                     " ".join(map(str, runs)), f"{mse:.4f}", f"{ref:.4f}", f"{mse / ref:.3f}",
                     f"{best:.4f}", f"{mse / best:.3f}"])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="JSON-lines files of the configurations to screen")
    parser.add_argument("--results", default=str(HERE / "results" / "results.jsonl"),
                        help="records of the reference and the baselines")
    parser.add_argument("--reference", default="default", help="the method to compare with")
    parser.add_argument("--output", default=None, help="also write the Markdown table here")
    args = parser.parse_args(argv)
    rows = compare(read_records(args.files), read_records([args.results]), args.reference)
    text = "\n".join(table(COLUMNS, rows))
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
