"""Does scoring a label view change ``n_components="auto"``'s choice, and what does it do?

For the data sets with a label (digits, breast_cancer, wine), complete and with views
missing in training, 3 seeds: the two sizes of the choice fitted as it fits them (default
parameters, ``n_components`` 12 and 24, ``random_state`` the seed), each scored on the fit's
validation rows by the cross-modal imputation error of the numeric views alone and of every
modality (the label by the Brier score of ``predict_proba`` over that of its class
frequencies), and on the test rows: the numeric views' error, and the label's log-loss and
accuracy from ``predict_proba`` given the other views. One JSON line per split.

    python benchmarks/quality/label_criterion.py OUT.jsonl digits,breast_cancer,wine
"""
import json
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.quality.datasets import load_dataset  # noqa: E402
from benchmarks.quality.regimes import make_split  # noqa: E402
from skmmvae import MultiModalVAE  # noqa: E402
from skmmvae._latent_size import AUTO_SIZES  # noqa: E402
from skmmvae._net import validation_split  # noqa: E402
from skmmvae.metrics import cross_modal_imputation_error  # noqa: E402
from skmmvae.metrics._imputation import blocks_imputation_error, observed_modalities  # noqa: E402


def fit_size(dataset, split, seed, size):
    """The default model with ``n_components=size``, fitted on the split's training rows as
    ``n_components="auto"`` fits that size (``random_state`` the seed), warnings silenced."""
    est = MultiModalVAE(likelihoods=dataset.likelihoods, random_state=seed, n_jobs=1, n_components=size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(split.train)


def scores(est, split, label):
    """Validation and test scores of one fitted size."""
    _, blocks = est._tensors(split.train)
    rows = validation_split(est._n_fit_rows, est._validation_fraction(), est._split_seed)[1].numpy()
    valid = {k: v[rows] for k, v in blocks.items()}
    errors = blocks_imputation_error(est, valid, observed_modalities(est, valid), per_modality=True)
    numeric = [e for name, e in errors.items() if name != label]
    test = dict(split.test)
    truth = test.pop(label)[:, 0]
    proba = est.predict_proba(test, modality=label)
    classes = np.asarray(est.categories_[label])
    index = np.searchsorted(classes, truth)
    return {"val_numeric": float(np.mean(numeric)), "val_label_brier": errors[label],
            "val_all": float(np.mean(list(errors.values()))),
            "test_numeric": cross_modal_imputation_error(est, test),
            "test_logloss": float(-np.mean(np.log(np.clip(proba[np.arange(len(index)), index], 1e-15, 1)))),
            "test_acc": float(np.mean(classes[proba.argmax(1)] == truth))}


def main(out, datasets):
    with open(out, "a") as sink:
        for name in datasets.split(","):
            dataset = load_dataset(name)
            for regime in ("complete", "missing"):
                for seed in (0, 1, 2):
                    split = make_split(dataset, regime, seed)
                    record = {"dataset": name, "regime": regime, "seed": seed}
                    for size in AUTO_SIZES:
                        record[str(size)] = scores(fit_size(dataset, split, seed, size), split, dataset.label)
                    sink.write(json.dumps(record) + "\n")
                    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
