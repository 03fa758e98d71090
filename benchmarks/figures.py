"""Figures of the committed benchmark results, for the documentation.

* ``benchmarks/paper/results/t1_gaps.png``: T1, the log-likelihood gap to the PPCA maximum and
  the variational gap, per aggregation and objective (mean and standard deviation over seeds,
  from ``t1_runs.csv``);
* ``benchmarks/speed/results/step_time.png``: milliseconds per training step against the number
  of modalities, per aggregation (from ``benchmarks/speed/results.json``).

    python benchmarks/figures.py
"""
import csv
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def t1_gaps(runs=HERE / "paper" / "results" / "t1_runs.csv",
            out=HERE / "paper" / "results" / "t1_gaps.png"):
    rows = list(csv.DictReader(open(runs)))
    aggregations = list(dict.fromkeys(r["aggregation"] for r in rows))
    objectives = list(dict.fromkeys(r["objective"] for r in rows))
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
    width = 0.8 / len(objectives)
    for ax, column, title in [(axes[0], "llh_gap", "log-likelihood - PPCA maximum (higher is better)"),
                              (axes[1], "variational_gap", "variational gap (lower is better)")]:
        for k, objective in enumerate(objectives):
            values = [[float(r[column]) for r in rows if r["aggregation"] == a and r["objective"] == objective]
                      for a in aggregations]
            ax.bar(np.arange(len(aggregations)) + (k - (len(objectives) - 1) / 2) * width,
                   [np.mean(v) for v in values], width, yerr=[np.std(v) for v in values],
                   label=objective, capsize=2)
        ax.set_xticks(range(len(aggregations)), aggregations, fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.axhline(0, color="black", lw=0.6)
    axes[0].set_ylabel("nats per sample")
    axes[1].legend(title="objective", fontsize=8)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def step_time(results=HERE / "speed" / "results.json",
              out=HERE / "speed" / "results" / "step_time.png"):
    scaling = json.load(open(results))["scaling_ms_per_step"]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.4), layout="constrained")
    for aggregation, times in scaling.items():
        counts = sorted(int(m) for m in times)
        ax.plot(counts, [times[str(m)] for m in counts], marker="o", label=aggregation)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("modalities (10 features each)")
    ax.set_ylabel("ms per training step (batch 256)")
    ax.legend(fontsize=7)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


if __name__ == "__main__":
    print("wrote", t1_gaps())
    print("wrote", step_time())
