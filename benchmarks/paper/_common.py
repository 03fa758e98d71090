"""Helpers shared by the paper benchmark scripts (``t1_*.py``, ``t2_*.py``, ``t3_*.py``).

* the estimator set-up common to the two identifiability targets T2 and T3
  (:func:`ivae_estimator`) and one posterior draw per row (:func:`posterior_sample`);
* the command-line arguments T2 and T3 share (:func:`add_grid_arguments`,
  :func:`add_run_arguments`) and the budget part of a command line for the tables' header
  (:func:`command_line`);
* output: the results folder (:func:`output_dir`), the per-run CSV (:func:`write_csv`,
  :func:`read_rows`), the Markdown tables of means ± standard deviations over seeds
  (:func:`fmt`, :func:`markdown_table`, :func:`write_markdown`) and the progress line
  printed after every run (:func:`print_row`).

Not a script: the scripts put this folder on ``sys.path`` and import it as ``_common``.
"""
import csv
from pathlib import Path

import numpy as np

from skmmvae import MultiModalVAE

HERE = Path(__file__).resolve().parent
MCC_KEYS = ["mcc_strong_out", "mcc_strong_in", "mcc_weak_out", "mcc_weak_in"]
N_PRIOR = 5  # components of the learnable mixture prior (T2, T3)
TEXT_COLUMNS = ("aggregation", "objective", "split")
INT_COLUMNS = ("seed", "epochs", "n_samples", "n_importance_samples", "width")


# ------------------------------------------------------------------------------ model
def ivae_estimator(aggregation, objective, seed, epochs, standardize, weight_init, **params):
    """The paper's section 5.2 set-up (T2, T3): a learnable ``N_PRIOR``-component mixture
    prior (N(0, I) for PoE, which cannot take a mixture prior), Adam 5e-4, batch 250, no
    validation split, no early stopping; ``params`` give the rest (latent size, likelihoods,
    widths)."""
    return MultiModalVAE(
        aggregation=aggregation,
        objective=objective,
        n_prior_components=1 if aggregation == "poe" else N_PRIOR,
        lr=5e-4,
        batch_size=250,
        beta=1.0,  # the paper's objective, without the package's KL warm-up
        kl_warmup=0,
        max_epochs=epochs,
        validation_fraction=0.0,
        early_stopping=False,
        random_state=seed,
        # package defaults; the paper's code has raw networks (--standardize off) and Flax's
        # LeCun-normal init (weight_init="lecun")
        standardize=standardize,
        weight_init=weight_init,
        **params,
    )


def posterior_sample(est, X, seed, modalities=None):
    """One draw ``z ~ q(z | x_S)`` per row (S = observed modalities within ``modalities``)."""
    return est.sample_posterior(X, modalities=modalities, random_state=seed)[0]


# ------------------------------------------------------------------------------ command line
def add_grid_arguments(parser):
    """``--epochs``, ``--seeds``, ``--aggregations``, ``--objectives`` (default: the budget's)."""
    parser.add_argument("--epochs", type=int, default=None, help="override the budget's epochs")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--aggregations", nargs="+", default=None)
    parser.add_argument("--objectives", nargs="+", default=None)


def add_run_arguments(parser, prefix):
    """``--standardize``, ``--weight-init``, ``--output``, ``--resume`` and ``--name``."""
    parser.add_argument("--standardize", choices=["on", "off"], default="on",
                        help="the estimator's standardize (default on, the package default)")
    parser.add_argument("--weight-init", choices=["lecun", "torch"], default="lecun",
                        help="the estimator's weight_init (default lecun, the package default)")
    parser.add_argument("--output", default=str(HERE / "results"))
    parser.add_argument("--resume", action="store_true", help="skip runs already in the CSV")
    parser.add_argument("--name", default=prefix,
                        help=f"file prefix: <name>_runs.csv, <name>_results.md (default {prefix})")


def command_line(argv):
    """The arguments that set the budget, for the tables' header (no --output/--resume)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--output":
            skip = True
        elif not arg.startswith("--output=") and arg != "--resume":
            out.append(arg)
    return "".join(" " + a for a in out)


# ------------------------------------------------------------------------------ output
def output_dir(args):
    """``--output``, or its ``quick/`` subfolder for a ``--quick`` smoke run."""
    out_dir = Path(args.output)
    if args.quick:
        out_dir = out_dir / "quick"
    return out_dir


def print_row(row):
    print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)


def write_csv(path, rows, fieldnames):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames)
        writer.writeheader()
        writer.writerows(rows)


def read_rows(path):
    """The rows of a CSV written by :func:`write_csv` (``[]`` if there is none), with numbers
    parsed back; empty cells (a column that some runs do not have) are left out."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in list(r.items()):
            if v in ("", None):
                del r[k]
            elif k in INT_COLUMNS:
                r[k] = int(float(v))
            elif k not in TEXT_COLUMNS:
                r[k] = float(v)
    return rows


def fmt(values, digits=3):
    """``"mean ± std"`` over seeds, or the value alone for one seed."""
    v = np.asarray(values, dtype=float)
    if len(v) > 1:
        return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"
    return f"{v.mean():.{digits}f}"


def markdown_table(rows, metrics, digits=None, columns=("aggregation", "objective"), group=None,
                   order=None):
    """One line per group of rows: the group's ``columns``, its number of seeds and
    :func:`fmt` of each metric (``digits[metric]`` decimals, default 3; an empty cell for a
    metric the group's rows do not have). ``group(row)`` gives a row's cells for ``columns``
    (default: its values there); groups come in order of first appearance, or sorted by
    ``order(cells)``."""
    digits = digits or {}
    group = group or (lambda r: tuple(r[c] for c in columns))
    groups = {}
    for r in rows:
        groups.setdefault(group(r), []).append(r)
    lines = ["| " + " | ".join(columns) + " | seeds | " + " | ".join(metrics) + " |",
             "|" + "---|" * (len(columns) + 1) + "---|" * len(metrics)]
    for key in sorted(groups, key=order) if order else groups:
        rs = groups[key]
        cells = [fmt([r[m] for r in rs], digits.get(m, 3)) if m in rs[0] else "" for m in metrics]
        lines.append("| " + " | ".join(key) + f" | {len(rs)} | " + " | ".join(cells) + " |")
    return lines


def write_markdown(path, lines):
    """Write the lines (and a final newline) to ``path``; return the text."""
    text = "\n".join(lines)
    path.write_text(text + "\n")
    return text
