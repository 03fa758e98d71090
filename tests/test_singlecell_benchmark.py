"""The single-cell benchmark (benchmarks/singlecell): a --quick run in-process gives finite
scores for every model of our own and a Markdown table; its error is an independent one."""
import json
import math

import numpy as np

from benchmarks.singlecell import run


def test_quick_run_writes_finite_results_and_a_table(tmp_path):
    run.main(["--quick", "--seeds", "0", "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    models = {r["model"] for r in rows}
    assert {"skmmvae NB", "skmmvae ZINB", "skmmvae Poisson", "skmmvae Gaussian on log counts",
            "mean of the measured cells", "true expected counts (noise floor)"} <= models
    for row in rows:
        for key in ("protein_log1p_mae", "silhouette", "knn_accuracy", "fit_seconds"):
            if key in row:
                assert math.isfinite(row[key]), (row["model"], key)
    table = (tmp_path / "results.md").read_text()
    assert table.count("| skmmvae NB |") == 1


def test_scores_against_a_direct_computation():
    cells = run.make_cite_seq(n_samples=200, n_genes=20, n_proteins=4, random_state=0)
    truth = cells.truth["protein"][cells.rna_only]
    latent = np.eye(6)[np.unique(cells.cell_type, return_inverse=True)[1]]  # types apart
    scores = run.scores(cells, latent, truth * np.e + (np.e - 1))  # log1p error of exactly 1
    assert abs(scores["protein_log1p_mae"] - 1.0) < 1e-12
    assert scores["knn_accuracy"] == 1.0 and scores["silhouette"] == 1.0
