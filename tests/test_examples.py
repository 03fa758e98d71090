"""Every script of examples/ runs to the end in its quick mode (SKMMVAE_EXAMPLE_QUICK=1)."""
import runpy
import warnings
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
REQUIRED = [
    "plot_tutorial.py",
    "plot_quickstart.py",
    "plot_imputation.py",
    "plot_grid_search.py",
    "plot_pipeline_classifier.py",
    "plot_custom_encoder.py",
    "plot_save_load.py",
    "plot_single_cell.py",
    "plot_missing_cells.py",
]
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))


def test_the_gallery_has_the_required_examples():
    assert set(REQUIRED) <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_has_a_title_and_an_explanation(script):
    import ast

    docstring = ast.get_docstring(ast.parse((EXAMPLES / script).read_text(encoding="utf-8")))
    assert docstring, f"{script} has no module docstring"
    title, underline, *body = docstring.splitlines()
    assert set(underline) == {"="} and len(underline) >= len(title), "RST title expected"
    assert "\n".join(body).strip(), "the docstring should explain the example"


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs(script, tmp_path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    from threadpoolctl import threadpool_limits

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv("SKMMVAE_EXAMPLE_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)  # whatever a script writes lands in the temporary folder
    try:
        # One BLAS thread: scikit-learn's imputers are much slower oversubscribed on small CPUs.
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings of the shortened runs
            runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    finally:
        plt.close("all")
