"""The docstring examples run and are correct, and every public object has one.

Project rule: "Public API: numpydoc docstrings with an example". The doctests of every module
of the package run here (they are not collected by pytest otherwise), each in a temporary
working directory since some examples write files (``vae.zip``).
"""
import contextlib
import doctest
import importlib
import inspect
import io
import pkgutil
import re

import pytest
import torch

import skmmvae

MODULES = sorted(info.name for info in pkgutil.walk_packages(skmmvae.__path__, "skmmvae."))
PUBLIC_MODULES = ("skmmvae", "skmmvae.nn", "skmmvae.metrics", "skmmvae.datasets")
# A numpydoc "Examples" heading: the title, then a line of dashes (in a dedented docstring).
EXAMPLES_SECTION = re.compile(r"^Examples\n-{8,}\n(?P<body>.*?)(?=^\S[^\n]*\n-{3,}\n|\Z)", re.M | re.S)


def _public_objects():
    """``{"module.name": object}`` of the classes and functions each public module exports."""
    objects = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None)
        if names is None:  # no __all__: the public names of objects defined in the package
            names = [n for n in dir(module) if not n.startswith("_")
                     and getattr(getattr(module, n), "__module__", "").startswith("skmmvae")]
        for name in names:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                objects[f"{module_name}.{name}"] = obj
    return objects


PUBLIC = _public_objects()


def test_discovery():
    """Guard against silently empty parametrisations."""
    assert {"skmmvae.estimator", "skmmvae.metrics", "skmmvae.nn.objectives"} <= set(MODULES)
    assert {"skmmvae.MultiModalVAE", "skmmvae.TrainingDivergedError", "skmmvae.nn.MultiModalModule",
            "skmmvae.metrics.rdc", "skmmvae.datasets.make_linear_gaussian"} <= set(PUBLIC)


@pytest.mark.parametrize("module_name", MODULES)
def test_doctests(module_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(module_name)
    report = io.StringIO()
    # Fork the global torch RNG: the examples draw from it, the other tests must not notice.
    with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(report):
        failed, attempted = doctest.testmod(
            module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        )
    assert failed == 0, f"{failed} of {attempted} examples of {module_name} failed:\n{report.getvalue()}"


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_object_has_example(name):
    doc = inspect.cleandoc(PUBLIC[name].__doc__ or "")  # its own docstring, not inherited
    section = EXAMPLES_SECTION.search(doc)
    assert section is not None, f"{name} has no numpydoc 'Examples' section"
    assert ">>>" in section["body"], f"the 'Examples' section of {name} has no doctest"
