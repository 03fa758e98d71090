"""Would a race choose the latent size as well as training every size to the end?

``n_components="auto"`` trained every candidate size (12, 24 and, on wide data, a wide one)
for the whole budget and kept the one with the lowest cross-modal imputation error on the
validation rows. A race trains each for a few epochs and only the promising ones on (the
default since this measurement: the sizes more than 1.1 times the best after the KL
warm-up stop, ``skmmvae._latent_size``). This records each candidate's validation error at
epochs ``CHECK`` of a default fit with every size trained to the end (the race off; the
probe restores the random state, so the fit is the default's) beside the
final errors it chose on, for one data set, regime and seed of the quality suite:

    python benchmarks/quality/latent_race.py breast_cancer missing 1 benchmarks/quality/results/latent_race.jsonl
    python benchmarks/quality/latent_race.py --summary benchmarks/quality/results/latent_race.jsonl

``--cost DATASET REGIME SEED`` fits the default twice on the split, with the race (the
default since) and with every size trained to the end, and prints the CPU seconds, the
``latent_selection_`` of both and whether their predictions are identical
(``results/latent_race_cost.txt``). ``--midway-cost DATASET REGIME SEED`` does the same
with and without the wide size's check half-way (the race in both).

``--summary`` prints, per checkpoint, on how many splits the size best there is the size
chosen at the end, and for the others the chosen-at-the-checkpoint size's final validation
error over the best's.
"""
import json, sys, time, warnings
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import numpy as np, torch
from skorch.callbacks import Callback
from benchmarks.quality.suite import one_core
from benchmarks.quality.datasets import load_dataset
from benchmarks.quality.regimes import make_split
import skmmvae._latent_size as ls
from skmmvae import MultiModalVAE

CHECK = (5, 10, 15, 20, 25, 30, 40, 50, 60, 75)
current = {}
_orig = ls._candidate
def _candidate(estimator, size, random_state):
    c = _orig(estimator, size, random_state); current["c"] = c; current["curve"] = []; return c
ls._candidate = _candidate

class Probe(Callback):
    def on_epoch_end(self, net, **kw):
        e = len(net.history)
        if e not in CHECK: return
        c = current["c"]; rows = ls._selection_rows(c)
        if rows is None: return
        state = torch.get_rng_state(); had = c.__dict__.get("module_"); temps = c.__dict__.get("class_temperatures_")
        c.module_ = net.module_; c.class_temperatures_ = temps or {}
        try:
            err = ls._validation_error(c, current["X"], rows)
        finally:
            torch.set_rng_state(state); net.module_.train()
            if had is None: c.__dict__.pop("module_", None)
            if temps is None: c.__dict__.pop("class_temperatures_", None)
        current["curve"].append((e, err))

def main(dataset, regime, seed, out):
    one_core()
    ds = load_dataset(dataset); split = make_split(ds, regime, seed)
    curves = []
    _fc = ls._fit_candidate
    def fit_candidate(estimator, size, random_state, X, race=None):
        current["X"] = X
        r = _fc(estimator, size, random_state, X, race)
        curves.append({"size": size, "curve": current["curve"], "epochs": len(r[0].history_) if "history_" in r[0].__dict__ else None})
        return r
    ls._fit_candidate = fit_candidate
    ls._race_epochs = lambda est: None  # every size trained to the end, as before the race
    est = MultiModalVAE(likelihoods=ds.likelihoods, random_state=seed, n_jobs=1, callbacks=[("probe", Probe())])
    t = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); est.fit(split.train)
    rec = {"dataset": dataset, "regime": regime, "seed": seed, "cpu_s": time.process_time() - t,
           "selection": getattr(est, "latent_selection_", None), "curves": curves}
    with open(out, "a") as f: f.write(json.dumps(rec) + "\n")
    print(json.dumps(rec))

def summary(path):
    recs = [json.loads(line) for line in open(path)]
    for epoch in CHECK:
        agree, n, wrong = 0, 0, []
        for r in recs:
            if not r["selection"]:
                continue
            final = r["selection"]["validation_error"]
            best = min(range(len(final)), key=final.__getitem__)
            at = [dict(map(tuple, c["curve"])).get(epoch) for c in r["curves"]]
            if None in at:
                continue
            pick, n = min(range(len(at)), key=at.__getitem__), n + 1
            if pick == best:
                agree += 1
            else:
                wrong.append(f"{r['dataset']} {r['regime']} {r['seed']}: {final[pick] / final[best]:.3f}")
        print(f"epoch {epoch}: the final choice on {agree} of {n}; else {'; '.join(wrong) or '-'}")


def cost(dataset, regime, seed, midway=False):
    one_core()
    ds = load_dataset(dataset)
    split = make_split(ds, regime, seed)
    fitted = {}
    for mode in ("race", "whole"):
        race_epochs, midway_epoch = ls._race_epochs, ls._midway_epoch
        if mode == "whole" and midway:
            ls._midway_epoch = lambda est, race: None
        elif mode == "whole":
            ls._race_epochs = lambda est: None
        est = MultiModalVAE(likelihoods=ds.likelihoods, random_state=seed, n_jobs=1)
        start = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(split.train)
        fitted[mode] = (est, time.process_time() - start)
        ls._race_epochs, ls._midway_epoch = race_epochs, midway_epoch
        name = {"race": "half-way check", "whole": "no check"}[mode] if midway else mode
        print(f"{dataset} {regime} seed {seed} {name}: {fitted[mode][1]:.1f} CPU s, "
              f"{est.latent_selection_}, kept {est.n_components_}", flush=True)
    (race, race_s), (whole, whole_s) = fitted["race"], fitted["whole"]
    label = "check / no check" if midway else "race / whole"
    view = race.modality_names_[0]
    given = {k: v for k, v in split.test.items() if k != view}
    same = np.array_equal(np.asarray(race.predict(given)[view]), np.asarray(whole.predict(given)[view]))
    print(f"identical predictions: {same}; CPU {label}: {race_s / whole_s:.3f}")


if __name__ == "__main__":
    if sys.argv[1] == "--summary":
        summary(sys.argv[2])
    elif sys.argv[1] == "--cost":
        cost(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "--midway-cost":
        cost(sys.argv[2], sys.argv[3], int(sys.argv[4]), midway=True)
    else:
        main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
