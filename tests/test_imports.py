"""Start-up cost: ``import skmmvae`` loads what the estimator needs, not the optional parts."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Optional or heavy modules that importing the package must not load: the distributed
# training (accelerate, skorch's hf module, dask), plotting, torch's compiler stack
# (seconds: sympy, torch._dynamo, torch._inductor; torch.optim loads it only when a fit
# creates its optimiser) and skmmvae's own optional modules.
HEAVY = (
    "accelerate", "skorch.hf", "dask", "distributed", "matplotlib", "sympy", "torch._dynamo",
    "torch._inductor", "skmmvae._distributed", "skmmvae.datasets", "skmmvae.demo", "skmmvae.cli",
)


def modules_after(code):
    """The names in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          timeout=300, check=True)
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def imported():
    return modules_after("import skmmvae")


def test_import_loads_no_heavy_optional_module(imported):
    assert "skmmvae.estimator" in imported  # the probe sees the package's modules
    assert not sorted(imported & set(HEAVY))


def test_the_probe_sees_a_heavy_module_when_one_is_imported():
    # the check above can fail: the same probe after a fit finds torch's compiler stack
    code = ("import warnings, numpy as np, skmmvae\nwarnings.simplefilter('ignore')\n"
            "skmmvae.MultiModalVAE(n_components=2, hidden_layer_sizes=(8,), embedding_size=8, "
            "max_epochs=1).fit(np.random.default_rng(0).normal(size=(40, 3)))")
    after_fit = modules_after(code)
    assert {"torch._dynamo", "sympy"} <= after_fit
