"""The cell-wise benchmark (benchmarks/quality/cells.py): the missingness regimes remove what
they say, a --quick run gives complete records, and the report names the best method."""
import json

import numpy as np

from benchmarks.quality import cells


def test_mcar_rates_and_mnar_removes_large_values_only():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 5))
    for regime, rate in (("mcar10", 0.1), ("mcar30", 0.3), ("mcar50", 0.5)):
        mask = cells.missing_mask(X, regime, seed=1)
        assert abs(mask.mean() - rate) < 0.01
        assert not mask.all(axis=1).any()  # every row keeps a value
    mask = cells.missing_mask(X, "mnar", seed=1)
    threshold = np.quantile(X, cells.MNAR_QUANTILE, axis=0)
    assert (X[mask] > np.broadcast_to(threshold, X.shape)[mask]).all()  # only large values go
    expected = (1 - cells.MNAR_QUANTILE) * cells.MNAR_PROBABILITY
    assert abs(mask.mean() - expected) < 0.01


def test_quick_run_and_report(tmp_path):
    out = tmp_path / "cells.jsonl"
    cells.main(["--quick", "--datasets", "breast_cancer", "--regimes", "mcar30",
                "--methods", "mean", "knn", "vae_oneblock", "--out", str(out)])
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["method"] for r in records} == {"mean", "knn", "vae_oneblock"}
    assert all(np.isfinite(r["error"]) and r["cpu_s"] >= 0 for r in records)
    assert all(abs(r["missing_fraction"] - 0.3) < 0.03 for r in records)
    # error_raw, in the data's units, against an independent computation for the mean imputer
    train, _, truth, mask, _ = cells.make_cell_split(
        cells.load_dataset("breast_cancer", quick=True), "mcar30", 0)
    expected = np.mean(((np.nanmean(train, axis=0) - truth) ** 2)[mask])
    mean_record = next(r for r in records if r["method"] == "mean")
    assert np.isclose(mean_record["error_raw"], expected, rtol=1e-9)
    table = cells.report(records)
    best = min(records, key=lambda r: r["error"])["method"]
    row = table.splitlines()[2]
    cells_of_row = [c.strip() for c in row.strip("|").split("|")]
    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    assert cells_of_row[header.index(best)].startswith("**")
