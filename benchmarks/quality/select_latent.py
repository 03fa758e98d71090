"""Could the data choose the latent size? Held-out imputation picks between 12 and 24.

For each data set, regime (complete, missing) and seed of the quality suite, 10% of the
training rows are held out (seeded), the default VAE is fitted with 12 and with 24 latent
dimensions on the other 90%, and each is scored on the held-out rows by
:func:`skmmvae.metrics.cross_modal_imputation_error` (every numeric view predicted from the
others, the standardised squared error of its observed cells; what
``cross_modal_imputation_scorer`` gives ``GridSearchCV``). The size with the lower error is
the choice. The test errors that choice would
give are read from the suite's full fits (``default`` and ``nc24`` in
``results/latent_beta*.jsonl``)::

    python benchmarks/quality/select_latent.py --datasets breast_cancer nonlinear --out /tmp/s.jsonl

Results: ``results/select_latent.jsonl`` and ``docs/quality.rst``.
"""
import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.quality.datasets import load_dataset  # noqa: E402
from benchmarks.quality.regimes import make_split  # noqa: E402
from benchmarks.quality.training_curves import KeepWeights  # noqa: E402
from skmmvae import MultiModalVAE  # noqa: E402
from skmmvae.metrics import cross_modal_imputation_error  # noqa: E402

SIZES = (12, 24)


def choose(dataset, regime, seed, sizes=SIZES, max_epochs=None, pilot_epochs=None, params=None):
    """The record of one split: held-out errors per size and the choice; with
    ``pilot_epochs``, also the errors of the weights after that many epochs of the same fits
    and the choice they make (what a pilot of that length would choose). ``params``: more
    parameters of the VAE (the defaults otherwise)."""
    ds = load_dataset(dataset)
    split = make_split(ds, regime, seed)
    n = len(split.y_train)
    held_rows = np.zeros(n, dtype=bool)
    held_rows[np.random.default_rng(100 + seed).choice(n, max(1, n // 10), replace=False)] = True
    fitted = {k: v[~held_rows] for k, v in split.train.items()}
    held = {k: v[held_rows] for k, v in split.train.items()}
    extra = {**({} if max_epochs is None else {"max_epochs": max_epochs}), **(params or {})}
    errors, pilot = {}, {}
    for d in sizes:
        keep = KeepWeights(pilot_epochs) if pilot_epochs else None
        est = MultiModalVAE(likelihoods=ds.likelihoods, random_state=seed, n_jobs=1,
                            n_components=d, callbacks=[keep] if keep else None,
                            **extra).fit(fitted)
        errors[d] = cross_modal_imputation_error(est, held)
        if keep is not None and pilot_epochs in keep.states:
            est.module_.load_state_dict(keep.states[pilot_epochs][0])
            pilot[d] = cross_modal_imputation_error(est, held)
    record = {"dataset": dataset, "regime": regime, "seed": seed,
              "n_holdout": int(held_rows.sum()), "errors": {str(d): e for d, e in errors.items()},
              "choice": min(errors, key=errors.get)}
    if pilot_epochs:
        record.update(pilot_epochs=pilot_epochs, pilot_errors={str(d): e for d, e in pilot.items()},
                      pilot_choice=min(pilot, key=pilot.get) if len(pilot) == len(sizes) else None)
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["breast_cancer", "digits", "nonlinear",
                                                           "wine", "diabetes"])
    parser.add_argument("--regimes", nargs="+", default=["complete", "missing"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--pilot-epochs", type=int, default=None,
                        help="also choose from the weights after this many epochs")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    with open(args.out, "a") as f:
        for dataset in args.datasets:
            for regime in args.regimes:
                for seed in args.seeds:
                    record = choose(dataset, regime, seed, pilot_epochs=args.pilot_epochs)
                    f.write(json.dumps(record) + "\n")
                    print(record, flush=True)


if __name__ == "__main__":
    main()
