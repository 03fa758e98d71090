"""The quality benchmark as one figure: imputation error relative to the best baseline.

One panel per training regime; for every data set, a group of bars (the VAE configurations and
the baselines), each the method's mean standardised MSE over the non-label views divided by that
of the best baseline of the same data set and regime (1 = the best simple method; lower is
better). Writes ``benchmarks/quality/results/quality_errors.png``.

    python benchmarks/quality/figure.py [results.jsonl ...] [--output PATH] [--all]

By default the bars are the package's defaults (``default``, black) and the simple baselines;
``--all`` adds every other VAE configuration of the records (earlier defaults, levers).
"""
import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from benchmarks.quality.regimes import REGIMES  # noqa: E402
from benchmarks.quality.report import DEFAULT_IN, method_order, read_records  # noqa: E402

DEFAULT_OUT = HERE / "results" / "quality_errors.png"


def ratios(records):
    """``{(regime, dataset): {method: mean MSE / best baseline's}}``."""
    out = {}
    for regime in REGIMES:
        for dataset in dict.fromkeys(r["dataset"] for r in records):
            rs = [r for r in records if r["regime"] == regime and r["dataset"] == dataset
                  and r["kind"] == "imputation"]
            if not rs:
                continue
            mse = {m: np.mean([r["mse"] for r in rs if r["method"] == m]) for m in {r["method"] for r in rs}}
            baselines = [m for m in mse if any(r["family"] != "vae" for r in rs if r["method"] == m)]
            best = min(mse[m] for m in baselines)
            out[regime, dataset] = {m: v / best for m, v in mse.items()}
    return out


BASELINES = ("mean", "knn", "iterative_br", "iterative_et", "ridge")
TICKS = (0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)


def draw(records, path, every_configuration=False):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    table = ratios(records)
    regimes = [g for g in REGIMES if any(k[0] == g for k in table)]
    datasets = list(dict.fromkeys(k[1] for k in table))
    methods = [m for m in method_order(records) if any(m in v for v in table.values())]
    if not every_configuration:
        methods = [m for m in methods if m == "default" or m in BASELINES]
    methods.sort(key=lambda m: m != "default")  # the package's defaults first
    palette = plt.get_cmap("tab10")
    # the defaults in black, every other method its own colour (tab10 has ten)
    colors = {m: palette(k % 10) for k, m in enumerate(m for m in methods if m != "default")}
    colors["default"] = "black"
    fig, axes = plt.subplots(1, len(regimes), figsize=(3.4 * len(regimes), 3.6), sharey=True,
                             layout="constrained", squeeze=False)
    width = 0.8 / len(methods)
    for ax, regime in zip(axes[0], regimes):
        here = [d for d in datasets if (regime, d) in table]  # the data sets run in this regime
        for k, method in enumerate(methods):
            values = [table[regime, d].get(method, np.nan) for d in here]
            ax.bar(np.arange(len(here)) + (k - (len(methods) - 1) / 2) * width, values, width,
                   label=method, color=colors[method])
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_xticks(range(len(here)), [d.replace("_", " ") for d in here], fontsize=8)
        ax.set_title(regime)
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(matplotlib.ticker.FixedLocator(TICKS))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[0, 0].set_ylabel("MSE / best baseline (log scale)")
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*", default=[str(DEFAULT_IN)])
    parser.add_argument("--output", default=str(DEFAULT_OUT))
    parser.add_argument("--all", action="store_true", help="every VAE configuration, not only the defaults")
    args = parser.parse_args(argv)
    print(f"wrote {draw(read_records(args.inputs), Path(args.output), args.all)}")


if __name__ == "__main__":
    main()
