"""A lever measured and not kept: average the predictions of several fitted models.

For one data set, regime and seed of the quality suite, fits the default ``MultiModalVAE``
with 12 and with 24 latent dimensions (the candidates ``n_components="auto"`` trains) and
with 12 under another seed, imputes every non-label view of the test rows from the others
with each and with the averages of their predictions, and prints the mean standardised MSE
over the views (one JSON line)::

    python benchmarks/quality/candidate_ensemble.py breast_cancer complete 0

Results: ``results/candidate_ensemble_screen.jsonl`` (the digits line of it is the cell
regime ``mcar30`` of ``cells.py``, from an earlier copy that imputed cells) and
``docs/quality.rst``: the two candidates averaged were within 2% of 24 dimensions alone.
"""
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.quality import metrics  # noqa: E402
from benchmarks.quality.datasets import load_dataset  # noqa: E402
from benchmarks.quality.regimes import make_split  # noqa: E402
from skmmvae import MultiModalVAE  # noqa: E402


def main(dataset, regime, seed):
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    ds = load_dataset(dataset, False)
    split = make_split(ds, regime, seed)
    fits = {}
    for key, size, state in (("n12", 12, seed), ("n24", 24, seed), ("n12s1", 12, seed + 100)):
        start = time.process_time()
        fits[key] = MultiModalVAE(likelihoods=ds.likelihoods, n_jobs=1, n_components=size,
                                  random_state=state).fit(split.train)
        print(key, round(time.process_time() - start, 1), "CPU s,", fits[key].n_iter_, "epochs",
              file=sys.stderr)
    errors = {}
    for view in ds.non_label:
        given = {k: v for k, v in split.test.items() if k != view}
        _, sd = metrics.training_scale(split.train[view])
        preds = {k: np.asarray(f.predict(given)[view], dtype=np.float64) for k, f in fits.items()}
        preds["avg_12_24"] = (preds["n12"] + preds["n24"]) / 2
        preds["avg_12_12"] = (preds["n12"] + preds["n12s1"]) / 2
        preds["avg_all"] = (preds["n12"] + preds["n24"] + preds["n12s1"]) / 3
        for k, p in preds.items():
            errors.setdefault(k, []).append(metrics.standardised_mse(p, split.test[view], sd))
    print(json.dumps({"dataset": dataset, "regime": regime, "seed": seed,
                      **{k: float(np.mean(v)) for k, v in errors.items()}}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
