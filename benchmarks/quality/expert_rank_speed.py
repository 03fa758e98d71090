"""Seconds per epoch of a 24-dimensional poe_full model on the mfeat_like layout with its
experts of rank 24 (the default for up to 8 modalities), 12 and 6: a warm-up fit, then
three interleaved fits of 8 epochs each, medians (one process, one thread).

    OMP_NUM_THREADS=1 python benchmarks/quality/expert_rank_speed.py
"""
import time, warnings, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.quality.datasets import load_dataset
from benchmarks.quality.regimes import make_split
from skmmvae import MultiModalVAE
ds = load_dataset("mfeat_like"); split = make_split(ds, "complete", 0)
def fit(rank, epochs):
    opts = None if rank is None else {"rank": rank}
    est = MultiModalVAE(n_components=24, aggregator_options=opts, max_epochs=epochs, random_state=0, n_jobs=1, early_stopping=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.process_time(); est.fit(split.train); return time.process_time() - t
fit(None, 1)
res = {None: [], 12: [], 6: []}
for _ in range(3):
    for r in res: res[r].append(fit(r, 8) / 8)
import numpy as np
print({r: round(float(np.median(v)), 3) for r, v in res.items()})
