"""Single-cell benchmark: CITE-seq-like cells of :func:`skmmvae.datasets.make_cite_seq`.

Models (all see the same cells; 30% of them have RNA only):

* ``skmmvae NB``: ``MultiModalVAE`` with a negative binomial RNA likelihood (library size as
  an offset, the default) and a negative binomial protein likelihood without offset;
* ``skmmvae ZINB``: the same with a zero-inflated negative binomial for RNA;
* ``skmmvae Poisson``: Poisson likelihoods for both (no dispersion, no library offset);
* ``skmmvae Gaussian on log counts``: Gaussian likelihoods on ``log1p`` of the RNA
  normalised to 10,000 counts per cell and on ``log1p`` of the proteins; imputed proteins are
  ``expm1`` of the predicted values;
* ``totalVI`` (scvi-tools), when importable: the RNA-only cells form a second batch whose
  proteins are all zero, which totalVI treats as not measured; imputed proteins are its
  expected counts (foreground and background, times the measured batch's protein
  efficiency) for the measured batch.

Metrics: the mean absolute ``log1p`` error of the imputed proteins of the RNA-only cells
against the true counts (and, as a floor, that of the true expected counts), the silhouette
score of the cell types in the latent space, the 5-fold accuracy of a 15-nearest-neighbour
classifier of the cell types on it, and the fit time. Each model runs on each seed's data.

Usage: ``python benchmarks/singlecell/run.py [--quick] [--seeds 0 1] [--out DIR]``; writes
``results.json`` and ``results.md`` in ``DIR`` (default: this folder).
"""
import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import silhouette_score
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from skmmvae import MultiModalVAE
from skmmvae.datasets import make_cite_seq

HERE = Path(__file__).resolve().parent
# The settings the committed results were measured with (before "poe_full" became the default).
VAE = dict(n_components=10, aggregation="poe", hidden_layer_sizes=(128,), embedding_size=64, lr=3e-3,
           n_jobs=1)


def skmmvae_model(likelihoods, transform=None):
    def fit(cells, epochs, seed):
        X = cells.data if transform is None else transform(cells.data)
        vae = MultiModalVAE(likelihoods=likelihoods, max_epochs=epochs, random_state=seed, **VAE)
        start = time.perf_counter()
        vae.fit(X)
        seconds = time.perf_counter() - start
        protein = np.asarray(vae.predict(X)["protein"])[cells.rna_only]
        if transform is not None:
            protein = np.expm1(protein).clip(0)
        return vae.transform(X), protein, seconds, vae.n_iter_
    return fit


def log_normalised(data):
    rna = data["rna"]
    return {"rna": np.log1p(1e4 * rna / rna.sum(1, keepdims=True).clip(1)),
            "protein": np.log1p(data["protein"])}


def totalvi(cells, epochs, seed):
    import anndata
    import pandas as pd
    import scvi

    scvi.settings.seed = seed
    torch.set_num_threads(1)
    protein = np.nan_to_num(cells.data["protein"], nan=0.0)  # all zero in the RNA-only batch
    adata = anndata.AnnData(cells.data["rna"].astype(np.float32),
                            obs=pd.DataFrame({"batch": np.where(cells.rna_only, "rna_only", "cite")},
                                             index=[f"c{i}" for i in range(len(protein))]))
    adata.obsm["protein"] = pd.DataFrame(protein, index=adata.obs_names, columns=cells.protein_names)
    scvi.model.TOTALVI.setup_anndata(adata, batch_key="batch", protein_expression_obsm_key="protein")
    model = scvi.model.TOTALVI(adata, n_latent=VAE["n_components"])
    start = time.perf_counter()
    model.train(max_epochs=epochs, accelerator="cpu", early_stopping=True)
    seconds = time.perf_counter() - start
    _, proteins = model.get_normalized_expression(
        indices=np.flatnonzero(cells.rna_only), transform_batch="cite", n_samples=25,
        include_protein_background=True, sample_protein_mixing=False, return_mean=True)
    # scvi-tools 1.4 scales the protein rates of each batch by a learnt per-protein
    # "efficiency" in the likelihood, which get_normalized_expression leaves out: the expected
    # counts of the measured batch are the rates times its efficiency.
    cite = int(adata.obs["_scvi_batch"][~cells.rna_only].iloc[0])
    efficiency = torch.exp(model.module.log_per_batch_efficiency[:, cite]).detach().cpu().numpy()
    proteins = np.asarray(proteins) * efficiency
    return model.get_latent_representation(), proteins, seconds, len(model.history["elbo_train"])


MODELS = {
    "skmmvae NB": skmmvae_model({"rna": "negative_binomial",
                                 "protein": ("negative_binomial", {"library_size": None})}),
    "skmmvae ZINB": skmmvae_model({"rna": "zinb",
                                   "protein": ("negative_binomial", {"library_size": None})}),
    "skmmvae Poisson": skmmvae_model({"rna": "poisson", "protein": "poisson"}),
    "skmmvae Gaussian on log counts": skmmvae_model({"rna": "gaussian", "protein": "gaussian"},
                                                    transform=log_normalised),
    "totalVI (scvi-tools)": totalvi,
}


def scores(cells, latent, protein):
    truth = cells.truth["protein"][cells.rna_only]
    knn = KNeighborsClassifier(15)
    return {
        "protein_log1p_mae": float(np.mean(np.abs(np.log1p(protein) - np.log1p(truth)))),
        "silhouette": float(silhouette_score(latent, cells.cell_type)),
        "knn_accuracy": float(cross_val_score(knn, latent, cells.cell_type, cv=5).mean()),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data and few epochs (a smoke run)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--report", action="store_true",
                        help="only rewrite results.md from the results.json in --out")
    args = parser.parse_args(argv)
    if args.report:
        saved = json.loads((args.out / "results.json").read_text())
        (args.out / "results.md").write_text(report(saved["meta"], saved["rows"], False))
        return
    torch.set_num_threads(1)
    n, epochs = (400, 3) if args.quick else (3000, 150)
    rows = []
    for seed in args.seeds:
        cells = make_cite_seq(n_samples=n, n_genes=200, n_proteins=20, rna_only_fraction=0.3,
                              random_state=seed)
        floor = float(np.mean(np.abs(np.log1p(cells.protein_mean[cells.rna_only])
                                     - np.log1p(cells.truth["protein"][cells.rna_only]))))
        baseline = float(np.mean(np.abs(np.log1p(np.nanmean(cells.data["protein"], 0))
                                        - np.log1p(cells.truth["protein"][cells.rna_only]))))
        rows.append({"model": "true expected counts (noise floor)", "seed": seed, "protein_log1p_mae": floor})
        rows.append({"model": "mean of the measured cells", "seed": seed, "protein_log1p_mae": baseline})
        for name, fit in MODELS.items():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    latent, protein, seconds, n_epochs = fit(cells, epochs, seed)
            except ImportError as exc:
                print(f"{name}: skipped ({exc})")
                continue
            row = {"model": name, "seed": seed, "fit_seconds": seconds, "epochs": n_epochs,
                   **scores(cells, latent, protein)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    meta = {"machine": f"{platform.machine()}, torch {torch.__version__}, 1 torch thread",
            "cells": n, "genes": 200, "proteins": 20, "rna_only_fraction": 0.3, "max_epochs": epochs,
            "seeds": args.seeds}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    (args.out / "results.md").write_text(report(meta, rows, args.quick))


def _mean(values, digits=3):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"{np.mean(values):.{digits}f}" + (f" ± {np.std(values):.{digits}f}" if len(values) > 1 else "")


def report(meta, rows, quick):
    names = list(dict.fromkeys(r["model"] for r in rows))
    lines = [f"# Single-cell benchmark{' (quick run)' if quick else ''}", "",
             f"Machine: {meta['machine']}. Data: `make_cite_seq`, {meta['cells']} cells, "
             f"{meta['genes']} genes, {meta['proteins']} proteins, {meta['rna_only_fraction']:.0%} "
             f"of the cells with RNA only; seeds {meta['seeds']}; at most {meta['max_epochs']} epochs "
             "with early stopping. Mean ± standard deviation over the seeds.", "",
             "| model | protein log1p MAE (RNA-only cells) | silhouette (cell types) | 15-NN accuracy | fit seconds | epochs |",
             "|---|---|---|---|---|---|"]
    for name in names:
        mine = [r for r in rows if r["model"] == name]
        cells = [_mean([r.get(k) for r in mine], digits) for k, digits in
                 (("protein_log1p_mae", 3), ("silhouette", 3), ("knn_accuracy", 3),
                  ("fit_seconds", 1), ("epochs", 0))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
