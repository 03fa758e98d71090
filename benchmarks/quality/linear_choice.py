"""A lever measured and not kept: choose between the default model and a linear one on the
validation rows that ``n_components="auto"`` holds out.

With 100 training rows the default holds 10 rows out to choose its latent size. This
prototype fits the default and a VAE with linear networks trained 1,000 epochs
(``hidden_layer_sizes=(), n_components=12, max_epochs=1000``; the same rows held out), scores
both on those rows as the size choice does (``_validation_error``) and on the test rows (each
non-label view imputed from the others, standardised MSE), and prints them as a JSON line::

    python benchmarks/quality/linear_choice.py mfeat_like small 0

Results (``results/linear_choice.jsonl``, 7 data sets with 100 rows, 3 seeds): the choice
kept the linear model on the three ``mfeat_like`` splits (0.68 times the default's test
error) and the default on the digits and the multiple features, but chose the linear
model on 6 of the other 12 splits where it was worse (breast cancer 1.045 and 1.07, wine
1.09, diabetes 1.01-1.02, nonlinear 1.015): worse than the default on every real data set
it changed. Not kept.
"""
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.quality.datasets import load_dataset  # noqa: E402
from benchmarks.quality.metrics import standardised_mse, training_scale  # noqa: E402
from benchmarks.quality.regimes import make_split  # noqa: E402
from benchmarks.quality.vae import VAEMethod  # noqa: E402
from benchmarks.quality.suite import case_arguments  # noqa: E402
from skmmvae._latent_size import _selection_rows, _validation_error  # noqa: E402

LINEAR = {"hidden_layer_sizes": (), "n_components": 12, "max_epochs": 1000}


def test_error(method, dataset, split):
    """Mean over the non-label views of the view's standardised MSE, imputed from the rest."""
    errors = []
    for view in dataset.non_label:
        truth = np.asarray(split.test[view], dtype=np.float64)
        X = {k: (np.full_like(truth, np.nan) if k == view else block) for k, block in split.test.items()}
        _, sd = training_scale(split.train[view])
        errors.append(standardised_mse(method.impute(X, view), truth, sd))
    return float(np.mean(errors))


def main(argv=None):
    args = case_arguments(__doc__, argv)
    dataset = load_dataset(args.dataset)
    split = make_split(dataset, args.regime, args.seed)
    out = {"dataset": args.dataset, "regime": args.regime, "seed": args.seed}
    for label, params in (("default", {}), ("lin1k", LINEAR)):
        method = VAEMethod(label, params, dataset, args.seed)
        method.fit(split)
        rows = _selection_rows(method.estimator)
        valid = None if rows is None else _validation_error(method.estimator, split.train, rows)
        out[f"{label}_valid"] = None if valid is None else float(valid)
        out[f"{label}_test"] = test_error(method, dataset, split)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
