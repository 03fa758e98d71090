"""``python -m skmmvae fit|impute|embed`` on a user's table."""
import json

import numpy as np
import pytest

from skmmvae import MultiModalVAE
from skmmvae import __main__ as main_module

pd = pytest.importorskip("pandas")
FAST = ["--param", "max_epochs=2", "--param", "n_components=2", "--param", "hidden_layer_sizes=[8]",
        "--param", "random_state=0"]


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(120, 2))
    frame = pd.DataFrame(np.hstack([z @ rng.normal(size=(2, 4)), z @ rng.normal(size=(2, 3))]),
                         columns=[f"gene_{i}" for i in range(4)] + [f"adt_{i}" for i in range(3)])
    frame.insert(0, "cell", [f"c{i}" for i in range(120)])
    frame.loc[:19, ["adt_0", "adt_1", "adt_2"]] = np.nan  # protein missing in 20 cells
    path = tmp_path / "cells.csv"
    frame.to_csv(path, index=False)
    return path, frame


def run(argv, capsys):
    status = main_module.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_fit_impute_embed_round_trip(table, tmp_path, capsys):
    path, frame = table
    model = tmp_path / "model.zip"
    status, out, _ = run(["fit", path, "--index-col", "cell", "--modality", "rna=gene_*",
                          "--modality", "protein=adt_0,adt_1,adt_2", "--model", model, *FAST], capsys)
    assert status == 0 and "model written to" in out
    vae = MultiModalVAE.load(model)
    assert vae.modality_names_ == ["rna", "protein"] and vae.n_components == 2

    status, out, _ = run(["impute", path, "--index-col", "cell", "--model", model,
                          "--output", tmp_path / "imputed.csv"], capsys)
    assert status == 0 and "imputed 60 cells" in out
    imputed = pd.read_csv(tmp_path / "imputed.csv", index_col="cell")
    assert list(imputed.index) == list(frame["cell"]) and not imputed.isna().any().any()
    observed = frame.set_index("cell").notna()
    np.testing.assert_allclose(imputed[observed].to_numpy(dtype=float)[observed.to_numpy()],
                               frame.set_index("cell")[observed].to_numpy(dtype=float)[observed.to_numpy()])
    expected = vae.predict(frame.set_index("cell")[list(vae.feature_names_in_)])
    np.testing.assert_allclose(imputed[list(vae.feature_names_in_)], expected, rtol=1e-6)

    status, out, _ = run(["embed", path, "--index-col", "cell", "--model", model,
                          "--output", tmp_path / "z.csv", "--modalities", "rna"], capsys)
    assert status == 0
    latent = pd.read_csv(tmp_path / "z.csv", index_col=0)
    assert list(latent.columns) == ["z0", "z1"] and len(latent) == 120
    np.testing.assert_allclose(latent, vae.transform(frame.set_index("cell")[list(vae.feature_names_in_)],
                                                     modalities=["rna"]), rtol=1e-6)


@pytest.mark.parametrize("kind", ["json", "toml"])
def test_column_groups_from_a_file(table, tmp_path, capsys, kind):
    path, _ = table
    groups = tmp_path / f"groups.{kind}"
    if kind == "json":
        groups.write_text(json.dumps({"rna": ["gene_*"], "protein": "adt_*"}))
    else:
        pytest.importorskip("tomllib")
        groups.write_text('[modalities]\nrna = ["gene_*"]\nprotein = ["adt_*"]\n')
    status, _, err = run(["fit", path, "--drop", "cell", "--groups", groups,
                          "--likelihood", "rna=gaussian", "--model", tmp_path / "m.zip", *FAST], capsys)
    assert status == 0, err
    assert MultiModalVAE.load(tmp_path / "m.zip").modality_names_ == ["rna", "protein"]


@pytest.mark.parametrize("argv, message", [
    (["fit", "{missing}", "--modality", "a=x", "--model", "{m}"], "no such file"),
    (["fit", "{bad_suffix}", "--modality", "a=x", "--model", "{m}"], "unknown table format"),
    (["fit", "{path}", "--modality", "rna=gene_*", "--model", "{m}"], "columns belong to no modality"),
    (["fit", "{path}", "--drop", "cell", "--modality", "rna=gene_*,adt_0", "--modality", "protein=adt_*",
      "--model", "{m}"], "is in both modalities"),
    (["fit", "{path}", "--drop", "cell", "--modality", "rna=nope_*", "--model", "{m}"], "no column matches"),
    (["fit", "{path}", "--drop", "cell", "--modality", "rna", "--model", "{m}"], "expects NAME=VALUE"),
    (["fit", "{path}", "--drop", "cell", "--modality", "rna=gene_*", "--modality", "p=adt_*",
      "--param", "n_components=0", "--model", "{m}"], "n_components"),
    (["fit", "{path}", "--drop", "cell", "--modality", "rna=gene_*", "--modality", "p=adt_*",
      "--param", "nonsense=1", "--model", "{m}"], "nonsense"),
    (["fit", "{path}", "--drop", "cell", "--modality", "rna=gene_*", "--modality", "p=adt_*",
      "--likelihood", "dna=poisson", "--model", "{m}"], "unknown modalities ['dna']"),
    (["fit", "{path}", "--drop", "nope", "--modality", "rna=gene_*", "--model", "{m}"], "--drop names"),
    (["impute", "{path}", "--model", "{m}", "--output", "{out}"], "no such model file"),
    (["fit", "{garbage}", "--modality", "a=x", "--model", "{m}"], "cannot read it as csv"),
])
def test_bad_files_and_options_are_one_line_errors(table, tmp_path, capsys, argv, message):
    path, _ = table
    (tmp_path / "bad.xlsx").write_text("x")
    (tmp_path / "garbage.csv").write_text("")
    names = {"path": path, "missing": tmp_path / "missing.csv", "bad_suffix": tmp_path / "bad.xlsx",
             "m": tmp_path / "m.zip", "out": tmp_path / "o.csv", "garbage": tmp_path / "garbage.csv"}
    status, out, err = run([a.format(**names) for a in argv], capsys)
    assert status == 2
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_impute_needs_the_models_columns(table, tmp_path, capsys):
    path, frame = table
    model = tmp_path / "model.zip"
    run(["fit", path, "--index-col", "cell", "--modality", "rna=gene_*", "--modality", "protein=adt_*",
         "--model", model, *FAST], capsys)
    frame.drop(columns=["gene_0"]).to_csv(tmp_path / "less.csv", index=False)
    status, _, err = run(["impute", tmp_path / "less.csv", "--index-col", "cell", "--model", model,
                          "--output", tmp_path / "o.csv"], capsys)
    assert status == 2 and "lacks: ['gene_0']" in err


@pytest.mark.parametrize("command, option", [("fit", "--modality"), ("impute", "--output"), ("embed", "--modalities")])
def test_every_command_has_help(command, option, capsys):
    with pytest.raises(SystemExit) as exc:
        main_module.main([command, "--help"])
    assert exc.value.code == 0
    assert option in capsys.readouterr().out


def test_impute_fills_scattered_empty_cells(table, tmp_path, capsys):
    path, frame = table
    frame = frame.copy()
    frame.loc[[30, 41, 77], "gene_2"] = np.nan  # missing cells, not whole modalities
    frame.loc[50, "adt_1"] = np.nan
    holes = tmp_path / "holes.csv"
    frame.to_csv(holes, index=False)
    model = tmp_path / "model.zip"
    assert run(["fit", holes, "--index-col", "cell", "--modality", "rna=gene_*",
                "--modality", "protein=adt_*", "--model", model, *FAST], capsys)[0] == 0
    status, out, _ = run(["impute", holes, "--index-col", "cell", "--model", model,
                          "--output", tmp_path / "imputed.csv"], capsys)
    assert status == 0 and "imputed 64 cells" in out  # 60 of missing modalities + 4 cells
    imputed = pd.read_csv(tmp_path / "imputed.csv", index_col="cell")
    assert not imputed.isna().any().any()
