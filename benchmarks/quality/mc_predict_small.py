"""Small data: the decoder at the posterior mean (``predict``) against the Monte-Carlo mean of
the decoder means over 64 draws from q(z | x_S), on the same fitted default models: nutrimouse
(10 seeds, complete and views missing) and the 30-row regime of seven data sets (3 seeds).

    python benchmarks/quality/mc_predict_small.py benchmarks/quality/results/mc_predict_small.jsonl
"""
import sys, warnings, json
import numpy as np
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.quality.datasets import load_dataset
from benchmarks.quality.regimes import make_split
from benchmarks.quality import metrics
from skmmvae import MultiModalVAE

def run(name, regime, seeds, out):
    ds = load_dataset(name)
    for seed in seeds:
        split = make_split(ds, regime, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = MultiModalVAE(likelihoods=ds.likelihoods, random_state=seed, n_jobs=1).fit(split.train)
        for view in split.test:
            if view == ds.label:
                continue
            given = {k: v for k, v in split.test.items() if k != view}
            _, sd = metrics.training_scale(split.train[view])
            mean_pred = np.asarray(est.predict(given)[view], dtype=float)
            Z = np.asarray(est.sample_posterior(given, n_samples=64, random_state=0))  # (S, n, d)
            S, n, d = Z.shape
            dec = est.inverse_transform(Z.reshape(S * n, d))
            mc = np.asarray(dec[view], dtype=float).reshape(S, n, -1).mean(0)
            rec = dict(dataset=name, regime=regime, seed=seed, view=view,
                       mean=metrics.standardised_mse(mean_pred, split.test[view], sd),
                       mc=metrics.standardised_mse(mc, split.test[view], sd))
            out.write(json.dumps(rec) + "\n"); out.flush()
            print(rec, flush=True)

with open(sys.argv[1], "w") as out:
    run("nutrimouse", "complete", range(10), out)
    run("nutrimouse", "missing", range(10), out)
    for ds in ("breast_cancer", "nonlinear", "wine", "diabetes", "uci_mfeat", "mfeat_like", "digits"):
        run(ds, "tiny", range(3), out)
