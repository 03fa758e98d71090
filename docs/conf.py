"""Sphinx configuration of the skmmvae documentation (builds offline)."""
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))

import skmmvae  # noqa: E402
from markdown_results import results_rst  # noqa: E402

# -- project -------------------------------------------------------------------------------
project = "skmmvae"
author = "the skmmvae developers"
copyright = "2024, the skmmvae developers"
version = release = skmmvae.__version__

# -- extensions (all of them work offline) -------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax 3 bundled in a PyPI package: copied into _static/mathjax and loaded from there,
    # so formulas render without network access (it sets mathjax_path).
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinx_copybutton",
]

autodoc_typehints = "none"
toc_object_entries_show_parents = "hide"  # "fit()", not "MultiModalVAE.fit()", in page tables of contents
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- API reference: api.rst is the index, with autosummary tables; every class and function
# gets its own page, written at each build into generated/ (git-ignored) from the templates of
# _templates/autosummary/. A class page has a table of the methods named here (default: the
# public methods and properties the class defines itself), then their documentation.
autosummary_generate = True
autosummary_generate_overwrite = True
API_MEMBERS = {
    "skmmvae.MultiModalVAE": [
        "fit", "partial_fit", "transform", "fit_transform", "predict", "predict_proba",
        "inverse_transform", "sample", "sample_posterior", "score", "score_samples",
        "get_feature_names_out", "save", "load", "get_params", "set_params", "set_output",
    ],
    "skmmvae.MultiModalImputer": [
        "fit", "partial_fit", "transform", "fit_transform", "multiple_imputations", "encode",
        "encode_samples", "predict",
        "inverse_transform", "score", "score_samples",
        "get_feature_names_out", "save", "load", "get_params", "set_params", "set_output",
    ],
    "skmmvae.ModalityDict": ["shape", "copy", "update", "setdefault"],
    "skmmvae.nn.MultiModalModule": [
        "tokens", "posterior", "encode", "decode", "decode_means", "decode_samples",
        "log_likelihoods", "private_latents", "set_data_scaling", "n_modalities",
    ],
    "skmmvae.nn.StandardNormalPrior": ["distribution", "log_prob", "sample"],
    "skmmvae.nn.GaussianMixturePrior": ["distribution", "log_prob", "sample"],
    "skmmvae.nn.DiagGaussian": [
        "rsample", "sample", "sample_common", "sample_weighted", "log_prob", "mean", "variance",
        "detach",
    ],
    "skmmvae.nn.PrecisionGaussian": [
        "rsample", "sample", "sample_common", "sample_weighted", "log_prob", "mean", "variance",
        "detach",
    ],
    "skmmvae.nn.GaussianMixture": [
        "rsample", "sample", "sample_common", "sample_weighted", "log_prob", "mean", "variance",
        "weights", "log_weights", "detach",
    ],
}
autosummary_context = {"api_members": API_MEMBERS}

templates_path = ["_templates"]
exclude_patterns = ["_build", "_generated", "_templates"]
root_doc = "index"
nitpicky = False
# The docstrings of skmmvae.metrics write absolute correlations as |corr|, which reStructuredText
# reads as a substitution reference: define it to print as written.
rst_epilog = r"""
.. |corr| replace:: \|corr\|
"""

# -- HTML: the PyData theme (as scikit-learn's documentation) ------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skmmvae {release}"
html_static_path = ["_static"]
html_css_files = ["skmmvae.css"]
html_show_sourcelink = False
html_theme_options = {
    "logo": {"text": "skmmvae"},
    "navbar_align": "left",
    "header_links_before_dropdown": 6,  # the six sections of index.rst's toctree
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
    "navbar_end": ["theme-switcher"],
}
html_sidebars = {
    "index": [],  # the landing page is full width; sections show their own pages
    "api": [],
    "paper": [],
}
# sphinx-copybutton: copy the code without the ">>> ", "... " and "$ " prompts or the output
# lines of the docstrings' examples; code blocks without prompts are copied whole.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True

# -- example gallery: sphinx-gallery runs every examples/plot_*.py at build time -----------
# Each script's page shows its figures, printed output and run time, with the script (.py)
# and a notebook (.ipynb) to download. Set SKMMVAE_EXAMPLE_QUICK=1 for a seconds-long build
# of the scripts' smoke versions, or build with `make html-noplot` to skip running them.
# sphinx-gallery reruns only the scripts that changed since the last build (not those whose
# results a change to skmmvae itself would change): `make clean` gives a fresh run, as in CI.
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "remove_config_comments": True,
    "min_reported_time": 0,
    "download_all_examples": True,
    "doc_module": ("skmmvae",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"skmmvae": None},  # link skmmvae names in the code to the API page
    "show_api_usage": False,
    "matplotlib_animations": False,
    # No sg_execution_times pages: they load a table script from a CDN (the build is offline),
    # and each example's page already says how long it ran.
    "write_computation_times": False,
}


# -- generated pages: benchmark and paper results ------------------------------------------
# The results are Markdown files written by the benchmark scripts. markdown_results converts
# their headings, paragraphs and pipe tables to reStructuredText (real tables, which the theme
# scrolls sideways when they are wide) at every build, and says how to create a file that does
# not exist yet. The pages include the converted files from _generated/.
RESULTS = {  # generated page: (results file, how to create it)
    "speed_results.rst": (ROOT / "benchmarks" / "speed" / "results.md",
                          "Run ``python benchmarks/speed/run.py --quick``"),
    "efficiency_results.rst": (ROOT / "benchmarks" / "speed" / "efficiency_results.md",
                               "Run ``python benchmarks/speed/efficiency.py``"),
    "paper_results.rst": (ROOT / "benchmarks" / "paper" / "results.md",
                          "Run the target scripts, then ``python benchmarks/paper/collect.py``,"),
    "gpu_results.rst": (ROOT / "benchmarks" / "speed" / "gpu_results.md",
                        "Run ``python benchmarks/speed/gpu.py`` on a machine with CUDA"),
    "quality_results.rst": (ROOT / "benchmarks" / "quality" / "results.md",
                            "Run ``python benchmarks/quality/run.py``, then "
                            "``python benchmarks/quality/report.py``,"),
    "cells_results.rst": (ROOT / "benchmarks" / "quality" / "results" / "cells.md",
                          "Run ``python benchmarks/quality/cells.py``, then "
                          "``python benchmarks/quality/cells.py --report``,"),
    "scaling_results.rst": (ROOT / "benchmarks" / "scaling" / "results.md",
                            "Run ``python benchmarks/scaling/run.py --quick``"),
    "singlecell_results.rst": (ROOT / "benchmarks" / "singlecell" / "results.md",
                               "Run ``python benchmarks/singlecell/run.py``"),
}


def _write_generated():
    out = DOCS / "_generated"
    out.mkdir(exist_ok=True)
    for name, (path, how) in RESULTS.items():
        content = results_rst(path, how, ROOT)
        target = out / name
        # Rewrite only on change so that Sphinx does not rebuild pages needlessly.
        if not target.is_file() or target.read_text(encoding="utf-8") != content:
            target.write_text(content, encoding="utf-8")


_write_generated()


# -- scikit-learn's inherited docstrings ----------------------------------------------------
# The class pages document get_params, set_params and set_output, which the estimators inherit
# from scikit-learn. Their docstrings refer to labels of scikit-learn's own documentation
# (:ref:`user guide <df_output_transform>`), which do not exist here: say where they are and
# keep the text of the references.
_SKLEARN_REF = re.compile(r":ref:`(?:([^`<]*?)\s*<([^`>]+)>|([^`<]+))`")


def _sklearn_refs_as_text(app, what, name, obj, options, lines):
    if not getattr(obj, "__module__", "").startswith("sklearn."):
        return

    def text(match):
        label = match[2] or match[3]
        return f"*{match[1] or label.rsplit('auto_examples_', 1)[-1]}*"

    note = "Inherited from `scikit-learn <https://scikit-learn.org/stable/>`__."
    if any(":ref:`" in line for line in lines):
        lines[:] = [_SKLEARN_REF.sub(text, line) for line in lines]
        note = note[:-1] + ": the user guide and examples it refers to are scikit-learn's."
    end = lines.index("") if "" in lines else len(lines)  # after the summary paragraph
    lines[end:end] = ["", note]


def setup(app):
    # Before numpydoc (priority 500) rewrites the docstring into sections.
    app.connect("autodoc-process-docstring", _sklearn_refs_as_text, priority=400)
