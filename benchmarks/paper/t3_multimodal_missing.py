"""Paper target T3: nonlinear identifiable multi-modal model with 50 % missing modalities.

Set-up of the paper's section 5.2, second experiment (digest section 3.3): data from
:func:`skmmvae.datasets.make_identifiable_multimodal` (4 modalities of 25 features, 10-D
sources in 5 segments, three-layer leaky-ReLU mixing per modality, noise 0.5, missing rate
0.5: every sample keeps at least one modality and about half the (sample, modality) cells
are observed). The first half of the rows is the training set, the second half the test set,
in two versions (``--split``):

* ``faithful``: rows in the generator's segment order (``shuffle=False``), as the released
  code does. The training set then holds segments 0, 1 and half of segment 2, the test set
  the rest: test clusters have means the training set never saw.
* ``shuffled``: the same draw with the rows permuted (``shuffle=True``) before splitting.

The model has d = 10, a learnable 5-component Gaussian mixture prior (N(0, I) for PoE),
Gaussian decoders with a learnt per-feature scale, Adam 5e-4, batch 250, no validation split
and no early stopping. For every aggregation x objective x split x seed it reports:

* ``test_ll`` / ``train_ll``: importance-weighted log-likelihood of the observed modalities,
  per sample (``*_sum``: summed over the set, as in the paper);
* ``test_*_sample`` / ``test_*_mean``: the four variants of
  :func:`skmmvae.metrics.mcc_strong_weak` on the test set, between the true sources and one
  posterior sample ``z ~ q(z | x_obs)`` (the paper's choice) or the posterior mean;
* ``pair_<a>_<b>``: MCC when conditioning on the pair of modalities ``(a, b)`` only (their
  observed part; rows where neither is observed get ``q(z | x_empty)``), from one posterior
  sample; ``pair_mean_sample`` / ``pair_mean_mean`` average the 6 pairs for a sample and for
  the posterior means. In the reduced budget pairs get the two "strong" variants
  (``mcc_strong_out``: Pearson, matching chosen on one half and evaluated on the other; and
  ``mcc_strong_in``: RDC on the first half, computed exactly as in ``mcc_strong_weak``);
  with ``--full`` (or ``--pair-mcc all``) they also get the CCA-based weak variants.

Budgets::

    python benchmarks/paper/t3_multimodal_missing.py --quick   # smoke run, < 30 s
    python benchmarks/paper/t3_multimodal_missing.py           # reduced budget (CPU)
    python benchmarks/paper/t3_multimodal_missing.py --full    # the paper's budget

* ``--quick``: N = 400, 2 epochs, 1 seed, sumpooling_mixture and poe with the tight
  objective, faithful split, widths 32, K = 8.
* reduced (default): the paper's N = 10 000 (5 000 train / 5 000 test), encoders 2 x 128,
  embedding 128, **50 epochs** (1 000 Adam steps, 1.25 % of the paper's 80 000), K = 64,
  seeds 1 2 3, both splits: about 1.5-2 minutes per run on one CPU core, 20 runs per seed.
* ``--full``: N = 10 000, encoders 2 x 256, embedding 256, 4 000 epochs (80 000 steps),
  K = 512, seeds 1 2 3. CPU-hours per run.

Results are rewritten after every run (an interrupted run leaves valid partial tables) and
``--resume`` skips the runs already in the CSV. The loop is seed-major, then configuration,
then split, so the paper's default (sumpooling_mixture) comes first.
"""
import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.utils import check_random_state

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402
    MCC_KEYS,
    add_grid_arguments,
    add_run_arguments,
    command_line,
    ivae_estimator,
    markdown_table,
    output_dir,
    posterior_sample,
    print_row,
    read_rows,
    write_csv,
    write_markdown,
)
from skmmvae.datasets import make_identifiable_multimodal  # noqa: E402
from skmmvae.metrics import mcc_strong_weak, mean_corr_coef  # noqa: E402

AGGREGATIONS = ["sumpooling_mixture", "sumpooling", "selfattention", "poe", "moe"]
OBJECTIVES = ["tight", "mixture"]
SPLITS = ["faithful", "shuffled"]
N_LATENT = 10
PREFIX = "t3"


def fit_model(X, aggregation, objective, seed, epochs, width, standardize=True, weight_init="lecun"):
    est = ivae_estimator(
        aggregation, objective, seed, epochs, standardize, weight_init,
        n_components=N_LATENT,
        likelihoods=None,  # Gaussian with a learnt per-feature scale for every modality
        hidden_layer_sizes=(width, width),
        embedding_size=width,
    )
    return est.fit(X)


def _abs_pearson(a, b):
    a = a - a.mean(0)
    b = b - b.mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (a.T @ b) / np.outer(np.linalg.norm(a, axis=0), np.linalg.norm(b, axis=0))
    return np.abs(np.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0))


def mcc_strong(z_true, z_est, seed):
    """The two "strong" variants of ``mcc_strong_weak`` (same split and RDC draws), no CCA."""
    rng = check_random_state(seed)
    first, second = np.array_split(rng.permutation(len(z_true)), 2)
    scores = {"mcc_strong_in": mean_corr_coef(z_true[first], z_est[first], method="rdc",
                                              random_state=rng)}
    rows, cols = linear_sum_assignment(_abs_pearson(z_true[first], z_est[first]), maximize=True)
    scores["mcc_strong_out"] = float(_abs_pearson(z_true[second], z_est[second])[rows, cols].mean())
    return scores


def evaluate(est, X_train, X_test, Z_test, seed, n_is, pair_variants):
    est.set_params(n_importance_samples=n_is)
    ll_test = est.score_samples(X_test)
    ll_train = est.score_samples(X_train)
    res = {"test_ll": float(ll_test.mean()), "train_ll": float(ll_train.mean()),
           "test_ll_sum": float(ll_test.sum()), "train_ll_sum": float(ll_train.sum()),
           "train_objective": -float(est.history_[-1]["train_loss"])}
    for suffix, z in (("sample", posterior_sample(est, X_test, seed)), ("mean", est.transform(X_test))):
        scores = mcc_strong_weak(Z_test, z, random_state=seed)
        res.update({f"test_{k}_{suffix}": float(scores[k]) for k in MCC_KEYS})
    pair_scores = {"sample": [], "mean": []}
    for a, b in itertools.combinations(est.modality_names_, 2):
        for suffix, z in (("sample", posterior_sample(est, X_test, seed, [a, b])),
                          ("mean", est.transform(X_test, modalities=[a, b]))):
            if pair_variants == "all":
                scores = mcc_strong_weak(Z_test, z, random_state=seed)
            else:
                scores = mcc_strong(Z_test, z, seed)
            pair_scores[suffix].append(scores)
            if suffix == "sample":
                res[f"pair_{a}_{b}"] = scores["mcc_strong_out"]
    for suffix, scores in pair_scores.items():
        for k in scores[0]:
            res[f"pair_{k}_{suffix}"] = float(np.mean([s[k] for s in scores]))
    return res


# ------------------------------------------------------------------------------ output
def split_table(rows, metrics, digits=None):
    """A table grouped by split (faithful first), aggregation and objective."""
    return markdown_table(rows, metrics, digits, columns=("split", "aggregation", "objective"),
                          order=lambda k: (SPLITS.index(k[0]) if k[0] in SPLITS else 9,))


def write_tables(rows, out_dir, title, notes, name=PREFIX):
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    write_csv(out_dir / f"{name}_runs.csv", rows, keys)
    pairs = [k for k in keys if k.startswith("pair_m")]
    digits = {"test_ll": 2, "train_ll": 2, "train_objective": 2}
    lines = [f"## {title}", "", *notes, "",
             "Means over seeds (± standard deviation across seeds). `test_ll` / `train_ll`: "
             "importance-sampled log-likelihood of the observed modalities per sample. MCC on the "
             "test set between the true sources and one posterior sample z ~ q(z|x_obs) "
             "(`_sample`, the paper's choice) or the posterior mean (`_mean`); `mcc_strong_out` is "
             "Pearson out-of-sample, the most plausible headline variant. `pair_mcc_strong_out_*`: "
             "the same, conditioning on each pair of modalities only, averaged over the 6 pairs.", "",
             *split_table(rows, ["test_ll", "train_ll", "test_mcc_strong_out_sample",
                                 "test_mcc_strong_out_mean", "pair_mcc_strong_out_sample",
                                 "pair_mcc_strong_out_mean", "train_objective"], digits),
             "", "Test MCC, all four variants, one posterior sample per data point:", "",
             *split_table(rows, [f"test_{k}_sample" for k in MCC_KEYS]),
             "", "Test MCC, all four variants, posterior means:", "",
             *split_table(rows, [f"test_{k}_mean" for k in MCC_KEYS]),
             "", "Test MCC (`mcc_strong_out`, one posterior sample) conditioning on one pair of "
             "modalities:", "",
             *split_table(rows, pairs), ""]
    return write_markdown(out_dir / f"{name}_results.md", lines)


def split_data(n, split, seed):
    X, Z, _ = make_identifiable_multimodal(n_samples=n, missing_rate=0.5,
                                           shuffle=(split == "shuffled"), random_state=seed)
    half = len(Z) // 2
    train = {m: x[:half] for m, x in X.items()}
    test = {m: x[half:] for m, x in X.items()}
    return train, test, Z[half:]


# ------------------------------------------------------------------------------ main
def main(argv=None):
    parser = argparse.ArgumentParser(description="Paper target T3 (multi-modal iVAE, missing modalities).")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--quick", action="store_true", help="smoke run, under 30 s")
    budget.add_argument("--full", action="store_true", help="the paper's budget (CPU-hours)")
    parser.add_argument("--split", choices=["faithful", "shuffled", "both"], default="both")
    add_grid_arguments(parser)
    parser.add_argument("--n-samples", type=int, default=None, help="override N (train + test)")
    parser.add_argument("--importance-samples", type=int, default=None, help="override K")
    parser.add_argument("--pair-mcc", choices=["strong", "all"], default=None,
                        help="MCC variants for pair conditioning (default: all with --full)")
    add_run_arguments(parser, PREFIX)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    if args.quick:
        n, epochs, seeds, n_is, width = 400, 2, [1], 8, 32
        configs = [("sumpooling_mixture", "tight"), ("poe", "tight")]
        splits = ["faithful"] if args.split == "both" else [args.split]
        budget_name = "quick smoke run"
    else:
        n, seeds = 10000, [1, 2, 3]
        epochs, n_is, width = (4000, 512, 256) if args.full else (50, 64, 128)
        configs = [(a, o) for a in AGGREGATIONS for o in OBJECTIVES]
        splits = SPLITS if args.split == "both" else [args.split]
        budget_name = "full budget" if args.full else "reduced budget"
    if args.aggregations or args.objectives:
        configs = [(a, o) for a in args.aggregations or AGGREGATIONS for o in args.objectives or OBJECTIVES]
    epochs = args.epochs or epochs
    seeds = args.seeds or seeds
    n = args.n_samples or n
    n_is = args.importance_samples or n_is
    pair_variants = args.pair_mcc or ("all" if args.full else "strong")

    out_dir = output_dir(args)
    if args.epochs or args.seeds or args.aggregations or args.objectives or args.n_samples \
            or args.importance_samples or args.split != "both":
        budget_name = "custom budget"
    steps = epochs * -(-(n // 2) // 250)
    title = f"T3 multi-modal iVAE, 50% missing ({budget_name}): {epochs} epochs, N={n} (train {n // 2})"
    notes = [f"`python benchmarks/paper/t3_multimodal_missing.py{command_line(argv)}` — {epochs} epochs = {steps} "
             f"steps (paper: 4000 epochs = 80 000 steps); widths {width} (paper: 256); K = {n_is} "
             "importance samples (paper: 512); d = 10; 5-component mixture prior (N(0, I) for poe); "
             f"Gaussian decoders with learnt scales; standardize={args.standardize}, "
             f"weight_init={args.weight_init}. Split `faithful`: first half of the "
             "segment-ordered rows for training (the released code's quirk: test segments partly "
             "unseen); `shuffled`: rows permuted first."]
    rows = read_rows(out_dir / f"{args.name}_runs.csv") if args.resume else []
    done = {(r["split"], r["aggregation"], r["objective"], r["seed"]) for r in rows}
    for seed in seeds:
        data = {split: split_data(n, split, seed) for split in splits}
        for agg, obj in configs:
            for split in splits:
                if (split, agg, obj, seed) in done:
                    continue
                X_train, X_test, Z_test = data[split]
                start = time.perf_counter()
                est = fit_model(X_train, agg, obj, seed, epochs, width,
                                args.standardize == "on", args.weight_init)
                fit_seconds = time.perf_counter() - start
                res = evaluate(est, X_train, X_test, Z_test, seed, n_is, pair_variants)
                row = {"split": split, "aggregation": agg, "objective": obj, "seed": seed,
                       "epochs": epochs, "n_samples": n, "width": width, "n_importance_samples": n_is,
                       **res, "fit_seconds": fit_seconds, "seconds": time.perf_counter() - start}
                rows.append(row)
                print_row(row)
                write_tables(rows, out_dir, title, notes, args.name)
    print(write_tables(rows, out_dir, title, notes, args.name))


if __name__ == "__main__":
    main()
