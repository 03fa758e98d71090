"""AnnData / MuData in and out (skmmvae.singlecell), on tiny objects; the core never imports
anndata or mudata."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import SMALL
from skmmvae import MultiModalVAE
from skmmvae.singlecell import read_anndata, read_mudata, write_imputed, write_latent

FAST = {**SMALL, "early_stopping": False}


def test_importing_skmmvae_imports_neither_anndata_nor_mudata():
    code = ("import sys, skmmvae, skmmvae.singlecell, skmmvae.datasets; "
            "print(sorted(m for m in ('anndata', 'mudata') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _adata(n=40, seed=0):
    anndata = pytest.importorskip("anndata")
    rng = np.random.default_rng(seed)
    counts = rng.poisson(3.0, size=(n, 6)).astype(np.float32)
    adata = anndata.AnnData(np.log1p(counts), obs=pd.DataFrame(
        {"cell_type": pd.Categorical(rng.choice(["B", "T"], n))}, index=[f"cell{i}" for i in range(n)]),
        var=pd.DataFrame(index=[f"g{j}" for j in range(6)]))
    adata.layers["counts"] = counts
    adata.obsm["protein"] = rng.poisson(10.0, size=(n, 3)).astype(float)
    return adata


def test_read_anndata_locations_and_var_groups():
    adata = _adata()
    X = read_anndata(adata, {"rna": "layers/counts", "protein": "obsm/protein", "rest": "X",
                             "some": ["g1", "g4"], "some_counts": ("layers/counts", ["g0"]),
                             "label": "obs/cell_type"})
    for block in X.values():
        assert list(block.index) == list(adata.obs_names)
    np.testing.assert_array_equal(X["rna"].to_numpy(), adata.layers["counts"])
    assert list(X["rna"].columns) == list(adata.var_names)
    np.testing.assert_array_equal(X["protein"].to_numpy(), adata.obsm["protein"])
    np.testing.assert_array_equal(X["rest"].to_numpy(), adata.X)
    np.testing.assert_array_equal(X["some"].to_numpy(), adata.X[:, [1, 4]])
    assert list(X["some_counts"].columns) == ["g0"]
    assert X["label"].iloc[:, 0].tolist() == adata.obs["cell_type"].astype(str).tolist()
    assert list(read_anndata(adata)) == ["x"]


def test_read_anndata_densifies_sparse_matrices():
    sparse = pytest.importorskip("scipy.sparse")
    adata = _adata()
    adata.layers["sparse"] = sparse.csr_matrix(adata.layers["counts"])
    X = read_anndata(adata, {"rna": "layers/sparse"})
    np.testing.assert_array_equal(X["rna"].to_numpy(), adata.layers["counts"])


@pytest.mark.parametrize(
    "modalities, match",
    [
        ({"rna": "layers/raw"}, r"modality 'rna': layers has no key 'raw'; layers: \['counts'\]"),
        ({"p": "obsm/adt"}, r"modality 'p': obsm has no key 'adt'"),
        ({"rna": ["g1", "zz"]}, r"modality 'rna': unknown var names \['zz'\]"),
        ({"rna": "counts"}, r"modality 'rna': unknown location 'counts'"),
        ({"t": "obs/type"}, r"modality 't': obs has no column 'type'"),
        ({"p": ("obsm/protein", ["a"])}, r"modality 'p': var names select columns of X or of a layer"),
    ],
)
def test_bad_locations_name_the_modality(modalities, match):
    with pytest.raises(ValueError, match=match):
        read_anndata(_adata(), modalities)


def test_anndata_round_trip_with_the_estimator():
    adata = _adata()
    modalities = {"rna": "layers/counts", "protein": "obsm/protein"}
    X = read_anndata(adata, modalities)
    X["protein"].iloc[:10] = np.nan  # cells measured by RNA only
    assert not np.isnan(adata.obsm["protein"]).any()  # the blocks are copies
    vae = MultiModalVAE(likelihoods={"rna": "negative_binomial", "protein": "poisson"}, **FAST).fit(X)
    write_latent(adata, vae.transform(X))
    assert adata.obsm["X_skmmvae"].shape == (adata.n_obs, 2)
    imputed = vae.predict(X)
    keys = write_imputed(adata, imputed, modalities)
    assert keys == {"rna": "layers/rna_imputed", "protein": "obsm/protein_imputed"}
    np.testing.assert_array_equal(adata.layers["rna_imputed"], adata.layers["counts"])  # all observed
    written = adata.obsm["protein_imputed"]
    assert list(written.index) == list(adata.obs_names)
    np.testing.assert_array_equal(written.to_numpy()[10:], adata.obsm["protein"][10:])
    assert np.isfinite(written.to_numpy()[:10]).all()
    with pytest.raises(ValueError, match=r"Z must have shape \(40, n_components\)"):
        write_latent(adata, np.zeros((3, 2)))


def test_mudata_rows_are_aligned_by_obs_names():
    anndata = pytest.importorskip("anndata")
    mudata = pytest.importorskip("mudata")
    adata = _adata()
    prot_cells = list(adata.obs_names[10:])[::-1]  # a subset of the cells, in another order
    prot = anndata.AnnData(adata.obsm["protein"][10:][::-1].copy(), obs=pd.DataFrame(index=prot_cells),
                           var=pd.DataFrame(index=["CD3", "CD4", "CD19"]))
    rna = anndata.AnnData(adata.layers["counts"].copy(), obs=pd.DataFrame(index=adata.obs_names),
                          var=pd.DataFrame(index=adata.var_names))
    mdata = mudata.MuData({"rna": rna, "prot": prot})
    X = read_mudata(mdata)
    assert list(X) == ["rna", "prot"]
    order = list(mdata.obs_names)
    truth = pd.DataFrame(adata.obsm["protein"], index=adata.obs_names).reindex(order)
    truth.iloc[[order.index(c) for c in adata.obs_names[:10]]] = np.nan  # cells the mod lacks
    np.testing.assert_array_equal(X["prot"].to_numpy(), truth.to_numpy())
    assert list(X["prot"].columns) == ["CD3", "CD4", "CD19"]
    vae = MultiModalVAE(likelihoods={"rna": "zinb", "prot": "negative_binomial"}, **FAST).fit(X)
    write_latent(mdata, vae.transform(X))
    assert mdata.obsm["X_skmmvae"].shape == (mdata.n_obs, 2)
    keys = write_imputed(mdata, vae.predict(X))
    assert keys == {"rna": "obsm/rna_imputed", "prot": "obsm/prot_imputed"}
    assert np.isfinite(mdata.obsm["prot_imputed"].to_numpy()).all()
    with pytest.raises(ValueError, match=r"modality 'p': the MuData object has no modality 'adt'"):
        read_mudata(mdata, {"p": "adt"})
    X = read_mudata(mdata, {"counts": ("rna/X", ["g2", "g3"])})
    assert list(X["counts"].columns) == ["g2", "g3"]


def test_wrong_objects_are_type_errors():
    with pytest.raises(TypeError, match="must be an anndata.AnnData object, got dict"):
        read_anndata({"x": np.zeros((2, 2))})
    with pytest.raises(TypeError, match="must be a mudata.MuData object, got ndarray"):
        read_mudata(np.zeros((2, 2)))


class _FakeAnnData:
    """The attributes of an ``anndata.AnnData`` the package reads (duck typing), so that the
    estimators' direct acceptance is tested without anndata installed."""

    def __init__(self, X, obs_names, var_names, layers=None, obsm=None):
        self.X, self.layers, self.obsm = X, dict(layers or {}), dict(obsm or {})
        self.obs_names, self.var_names = pd.Index(obs_names), pd.Index(var_names)
        self.obs = pd.DataFrame(index=self.obs_names)

    @property
    def shape(self):
        return (len(self.obs_names), len(self.var_names))


def test_the_estimators_take_an_anndata_like_object_with_locations():
    from skmmvae import MultiModalImputer, MultiModalVAE

    rng = np.random.default_rng(0)
    n = 120
    z = rng.normal(size=(n, 2))
    rna = rng.poisson(np.exp(z @ rng.normal(size=(2, 6)) * 0.5 + 1)).astype(float)
    protein = z @ rng.normal(size=(2, 3)) + 0.1 * rng.normal(size=(n, 3))
    protein[:20] = np.nan  # measured by RNA only
    adata = _FakeAnnData(np.log1p(rna), [f"c{i}" for i in range(n)], [f"g{i}" for i in range(6)],
                         layers={"counts": rna}, obsm={"protein": protein})
    locations = {"rna": "layers/counts", "protein": "obsm/protein"}
    params = dict(modalities=locations, likelihoods={"rna": "poisson"}, n_components=2,
                  max_epochs=3, random_state=0)
    vae = MultiModalVAE(**params).fit(adata)
    as_dict = {"rna": rna, "protein": protein}
    reference = MultiModalVAE(**params).fit(as_dict)
    np.testing.assert_array_equal(vae.transform(adata), reference.transform(as_dict))
    np.testing.assert_array_equal(vae.score_samples(adata), reference.score_samples(as_dict))
    imputed = MultiModalImputer(**params).fit(adata).transform(adata)
    assert set(imputed) == {"rna", "protein"}
    assert list(imputed["protein"].index) == list(adata.obs_names)
    assert not imputed["protein"].isna().any().any()
    np.testing.assert_array_equal(imputed["protein"].to_numpy()[20:], protein[20:])
    assert np.isnan(adata.obsm["protein"][:20]).all()  # the object is not modified
