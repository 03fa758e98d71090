"""The API reference (docs/api.rst) lists every public object, and its class pages' members exist."""
import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PUBLIC_MODULES = ("skmmvae", "skmmvae.datasets", "skmmvae.metrics", "skmmvae.nn", "skmmvae.singlecell")


def _autosummary_entries():
    """``{"module.name"}`` of the entries of the autosummary tables of api.rst."""
    entries, module = set(), None
    lines = (DOCS / "api.rst").read_text(encoding="utf-8").splitlines()
    in_table = False
    for line in lines:
        if match := re.match(r"\.\. currentmodule:: (\S+)", line):
            module = match[1]
        if line.startswith(".. "):
            in_table = line.startswith(".. autosummary::")
        elif in_table and re.fullmatch(r"   [A-Za-z_]\w*", line):
            entries.add(f"{module}.{line.strip()}")
    return entries


def _api_members():
    """The ``API_MEMBERS`` dict of conf.py, read without running conf.py."""
    tree = ast.parse((DOCS / "conf.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "API_MEMBERS":
            return ast.literal_eval(node.value)
    raise AssertionError("conf.py defines no API_MEMBERS")


def test_every_public_class_and_function_has_a_page():
    entries = _autosummary_entries()
    assert "skmmvae.MultiModalVAE" in entries  # the parser found the tables
    public = {f"{name}.{obj}" for name in PUBLIC_MODULES for obj in importlib.import_module(name).__all__
              if inspect.isclass(getattr(importlib.import_module(name), obj))
              or inspect.isfunction(getattr(importlib.import_module(name), obj))}
    assert public - entries == set(), "public objects missing from docs/api.rst"
    unknown = {e for e in entries if not hasattr(importlib.import_module(e.rsplit(".", 1)[0]), e.rsplit(".", 1)[1])}
    assert unknown == set()


def test_the_registries_table_names_every_registered_name():
    import skmmvae.nn as nn

    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    table = text[text.index("Registries\n"):]
    for registry in (nn.AGGREGATORS, nn.LIKELIHOODS, nn.OBJECTIVES):
        for name in registry:
            assert f'``"{name}"``' in table


@pytest.mark.parametrize("fullname, members", sorted(_api_members().items()))
def test_the_members_of_class_pages_exist(fullname, members):
    module, name = fullname.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    assert [m for m in members if not hasattr(cls, m)] == []


@pytest.mark.parametrize("fullname, members", sorted(_api_members().items()))
def test_class_pages_list_every_public_method_the_class_defines(fullname, members):
    """A method added to a class with a member list in conf.py must be added to the list too,
    or its page leaves it out (``multiple_imputations`` was left out at first, and the
    distributions' ``detach``, ``MultiModalModule.decode_samples`` and others before)."""
    module, name = fullname.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    own = {m for m, value in vars(cls).items()
           if not m.startswith("_") and (inspect.isfunction(value) or isinstance(value, (property, classmethod, staticmethod)))}
    assert own - set(members) == set(), f"{fullname}: add them to API_MEMBERS in docs/conf.py"
