"""Markdown tables of the quality benchmark from its JSON-lines records.

Usage::

    python benchmarks/quality/report.py                         # results/results.jsonl -> results.md
    python benchmarks/quality/report.py a.jsonl b.jsonl --output some.md

Per data set and regime, one row per method: mean standardised MSE over the non-label views
(mean ± sd over seeds), its ratio to the best non-VAE baseline, label accuracy and log-loss,
representation accuracy (linear probe on the VAE's latent means / on PCA codes of the same
width) and the median fit CPU seconds; then the per-view MSEs. A record that repeats an
earlier one (same data set, regime, seed, method, kind, view) replaces it.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from benchmarks.quality.baselines import BASELINES  # noqa: E402
from benchmarks.quality.regimes import EXTRA_REGIMES, REGIMES  # noqa: E402

DEFAULT_IN = HERE / "results" / "results.jsonl"
DEFAULT_OUT = HERE / "results.md"
COLUMNS = ["method", "seeds", "MSE (non-label views)", "MSE / best baseline", "label acc.",
           "label log-loss", "repr. acc.", "PCA repr. acc.", "fit CPU s (median)"]


def read_records(paths):
    """Records of the files in order; a later record with the same key replaces an earlier."""
    out = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    key = (r["dataset"], r["regime"], r["seed"], r["method"], r["kind"], r["view"])
                    out.pop(key, None)
                    out[key] = r
    return list(out.values())


def fmt(values, digits=3):
    """``mean ± sd`` over seeds (the value alone for one seed); '' for none."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if not v.size:
        return ""
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}" if v.size > 1 else f"{v.mean():.{digits}f}"


def table(header, rows):
    """A Markdown table with cells padded to the column width (valid Markdown, and aligned
    when shown as plain text)."""
    cells = [header] + rows
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows]


def method_order(records):
    vaes = [r["method"] for r in records if r["family"] == "vae"]
    others = [r["method"] for r in records if r["family"] != "vae"]
    known = [m for m in BASELINES if m in others]
    return list(dict.fromkeys(vaes)) + known + sorted(set(others) - set(known))


def view_mse_by_seed(records, method):
    """``{seed: {view: mse}}`` of a method's imputation records."""
    out = {}
    for r in records:
        if r["method"] == method and r["kind"] == "imputation":
            out.setdefault(r["seed"], {})[r["view"]] = r["mse"]
    return out


def section(records, views):
    """Lines of one (data set, regime): the summary table, the per-view table, errors."""
    methods = method_order(records)
    mean_mse = {}  # method -> [mean over views per seed], seeds where every view was imputed
    for m in methods:
        by_seed = view_mse_by_seed(records, m)
        mean_mse[m] = [np.mean([v[x] for x in views]) for v in by_seed.values()
                       if all(x in v for x in views)]
    family = {r["method"]: r["family"] for r in records}
    baselines = {m: np.mean(v) for m, v in mean_mse.items() if v and family[m] != "vae"}
    best = min(baselines, key=baselines.get) if baselines else None
    rows = []
    for m in methods:
        rs = [r for r in records if r["method"] == m]
        label = [r for r in rs if r["kind"] == "label"]
        rep = [r for r in rs if r["kind"] == "representation"]
        fits = {r["seed"]: r["fit_cpu_s"] for r in rs if "fit_cpu_s" in r}
        ratio = f"{np.mean(mean_mse[m]) / baselines[best]:.2f}" if mean_mse[m] and best else ""
        rows.append([
            m, str(len({r["seed"] for r in rs if r["kind"] != "error"})), fmt(mean_mse[m]), ratio,
            fmt([r["accuracy"] for r in label]), fmt([r["log_loss"] for r in label]),
            fmt([r["accuracy"] for r in rep]), fmt([r["pca_accuracy"] for r in rep]),
            f"{np.median(list(fits.values())):.2f}" if fits else "",
        ])
    lines = table(COLUMNS, rows)
    if best:
        lines += ["", f"Best baseline by mean MSE: {best}."]
    view_rows = []
    for m in methods:
        by_seed = view_mse_by_seed(records, m)
        if by_seed:
            view_rows.append([m] + [fmt([v.get(x) for v in by_seed.values()]) for x in views])
    if view_rows:
        lines += ["", "Standardised MSE per view:", ""]
        lines += table(["method"] + list(views), view_rows)
    rep = [r for r in records if r["kind"] == "representation"]
    if rep:
        widths = sorted({(r["n_components"], r["pca_components"]) for r in rep})
        lines += ["", "Representation widths (latent, PCA): "
                  + ", ".join(f"{a}, {b}" for a, b in widths) + "."]
        scaled = [m for m in methods if any("accuracy_scaled" in r for r in rep if r["method"] == m)]
        if scaled:
            parts = []
            for m in scaled:
                rs = [r for r in rep if r["method"] == m and "accuracy_scaled" in r]
                parts.append(f"{m} {fmt([r['accuracy_scaled'] for r in rs])} "
                             f"(PCA {fmt([r['pca_accuracy_scaled'] for r in rs])})")
            lines += ["", "The same probe on standardised codes (StandardScaler first): "
                      + "; ".join(parts) + "."]
    errors = [r for r in records if r["kind"] == "error"]
    for r in errors:
        lines += ["", f"- {r['method']}, seed {r['seed']}: {r.get('stage', 'fit')} failed: "
                  f"{r['error'][:200]}"]
    return lines


def report(records):
    lines = ["# Quality benchmark", "",
             "Standardised MSE: mean over the test rows and features of ((imputed - true) / "
             "training sd)^2 for a view hidden in the test rows (all other views given); "
             "1 is about the mean imputer, 0 is perfect. Label: the label view hidden; "
             "log-loss with probabilities clipped at 1e-15. Representation: "
             "LogisticRegression on an encoding of the non-label views (VAE latent means; "
             "PCA of the standardised views with as many components). Values are mean ± sd "
             "over seeds; fit CPU seconds are process CPU time on one core, median over "
             "seeds. See benchmarks/quality/README.md for the protocol.", ""]
    commands = sorted({r.get("command", "") for r in records} - {""})
    machines = sorted({r.get("machine", "") for r in records} - {""})
    if any(r.get("quick") for r in records):
        lines += ["**Quick (smoke) run: tiny data and 2 VAE epochs; not a quality result.**", ""]
    lines += [f"Command: `{c}`" for c in commands] + [f"Machine: {m}." for m in machines] + [""]
    params = {}
    for r in records:
        if r["family"] == "vae":
            params[r["method"]] = json.dumps(r.get("params", {}), sort_keys=True)
    if params:
        lines += ["VAE configurations (parameters over the defaults): "
                  + "; ".join(f"{m} = `{p}`" for m, p in params.items()) + ".", ""]
    datasets = list(dict.fromkeys(r["dataset"] for r in records))
    for ds in datasets:
        rs_ds = [r for r in records if r["dataset"] == ds]
        views = list(dict.fromkeys(r["view"] for r in rs_ds if r["kind"] == "imputation"))
        regimes = [g for g in (*REGIMES, *EXTRA_REGIMES) if any(r["regime"] == g for r in rs_ds)]
        for regime in regimes:
            rs = [r for r in rs_ds if r["regime"] == regime]
            sizes = sorted({(r["n_train"], r["n_test"]) for r in rs})
            size = ", ".join(f"{a} training / {b} test rows" for a, b in sizes)
            lines += [f"## {ds}, {regime} ({size})", ""] + section(rs, views) + [""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="*", default=[str(DEFAULT_IN)], help="JSON-lines files")
    parser.add_argument("--output", default=str(DEFAULT_OUT))
    args = parser.parse_args(argv)
    text = report(read_records(args.inputs))
    Path(args.output).write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main()
