"""Sphinx configuration of the skmmvae documentation (builds offline)."""
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import skmmvae  # noqa: E402

# -- project -------------------------------------------------------------------------------
project = "skmmvae"
author = "the skmmvae developers"
copyright = "2024, the skmmvae developers"
version = release = skmmvae.__version__

# -- extensions (all of them work offline) -------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
]

autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

templates_path = []
exclude_patterns = ["_build", "_generated"]
root_doc = "index"
html_theme = "alabaster"
html_static_path = []
html_theme_options = {"description": "Multi-modal VAEs for scikit-learn", "page_width": "1100px"}
# MathJax is loaded by the reader's browser; the build itself needs no network.
nitpicky = False
# The docstrings of skmmvae.metrics write absolute correlations as |corr|, which reStructuredText
# reads as a substitution reference: define it to print as written.
rst_epilog = r"""
.. |corr| replace:: \|corr\|
"""


# -- generated pages: benchmark and paper results ------------------------------------------
# The results tables are Markdown files written by the benchmark scripts. They are shown
# verbatim (as literal blocks) so that the build needs no Markdown parser, and a page still
# builds when a results file does not exist yet.
RESULTS = {
    "speed_results.rst": (ROOT / "benchmarks" / "speed" / "results.md",
                          "python benchmarks/speed/run.py --quick"),
    "paper_results.rst": (ROOT / "benchmarks" / "paper" / "results.md",
                          "the target scripts, then python benchmarks/paper/collect.py"),
    "gpu_results.rst": (ROOT / "benchmarks" / "speed" / "gpu_results.md",
                        "python benchmarks/speed/gpu.py on a machine with CUDA"),
    "quality_results.rst": (ROOT / "benchmarks" / "quality" / "results.md",
                            "python benchmarks/quality/run.py, then python benchmarks/quality/report.py"),
    "scaling_results.rst": (ROOT / "benchmarks" / "scaling" / "results.md",
                            "python benchmarks/scaling/run.py --quick"),
}


def _results_rst(path, command):
    if not path.is_file():
        return (
            f"No results yet: ``{path.relative_to(ROOT).as_posix()}`` does not exist. "
            f"Run ``{command}`` to create it, then rebuild the documentation.\n"
        )
    text = path.read_text(encoding="utf-8").rstrip()
    body = "\n".join(("   " + line) if line.strip() else "" for line in text.splitlines())
    return (
        f"From ``{path.relative_to(ROOT).as_posix()}``:\n\n"
        f".. code-block:: text\n\n{body}\n"
    )


def _write_generated():
    out = DOCS / "_generated"
    out.mkdir(exist_ok=True)
    for name, (path, command) in RESULTS.items():
        content = _results_rst(path, command)
        target = out / name
        # Rewrite only on change so that Sphinx does not rebuild pages needlessly.
        if not target.is_file() or target.read_text(encoding="utf-8") != content:
            target.write_text(content, encoding="utf-8")


_write_generated()


# -- example gallery -----------------------------------------------------------------------
# One page per script of examples/: its docstring (an RST title and explanation) followed by
# the code. The pages are written to docs/auto_examples/ (git-ignored) at every build, so the
# gallery cannot drift from the scripts. The scripts are not run during the build.
EXAMPLES = ROOT / "examples"
GALLERY = DOCS / "auto_examples"
GALLERY_ORDER = [
    "plot_quickstart",
    "plot_imputation",
    "plot_pipeline_classifier",
    "plot_grid_search",
    "plot_custom_encoder",
    "plot_save_load",
]


def _example_page(script):
    import ast

    source = script.read_text(encoding="utf-8")
    module = ast.parse(source)
    docstring = ast.get_docstring(module, clean=True)
    if not docstring:
        raise ValueError(f"{script} has no module docstring")
    first_code_line = module.body[1].lineno if len(module.body) > 1 else 1
    rel = Path("..") / ".." / "examples" / script.name
    return (
        f".. _example_{script.stem}:\n\n"
        f"{docstring}\n\n"
        f"Run it with ``python examples/{script.name}``.\n\n"
        f".. literalinclude:: {rel.as_posix()}\n"
        f"   :language: python\n"
        f"   :lines: {first_code_line}-\n"
    )


def _write_gallery():
    GALLERY.mkdir(exist_ok=True)
    scripts = {p.stem: p for p in EXAMPLES.glob("*.py")}
    order = [n for n in GALLERY_ORDER if n in scripts] + sorted(set(scripts) - set(GALLERY_ORDER))
    pages = {f"{name}.rst": _example_page(scripts[name]) for name in order}
    toctree = "\n".join(f"   {name}" for name in order)
    pages["index.rst"] = (
        "Examples\n========\n\n"
        "Runnable scripts from the ``examples/`` folder of the repository. Each runs in under a\n"
        "minute on a laptop CPU; set ``SKMMVAE_EXAMPLE_QUICK=1`` for a seconds-long smoke run.\n"
        "The demo, ``python -m skmmvae demo``, puts several of them together.\n\n"
        f".. toctree::\n   :maxdepth: 1\n\n{toctree}\n"
    )
    for stale in GALLERY.glob("*.rst"):
        if stale.name not in pages:
            stale.unlink()
    for name, content in pages.items():
        target = GALLERY / name
        if not target.is_file() or target.read_text(encoding="utf-8") != content:
            target.write_text(content, encoding="utf-8")


_write_gallery()
