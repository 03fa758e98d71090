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

# One fresh interpreter: the modules loaded by the required dependencies (some builds of torch
# load its compiler stack on import: not ours to cut), then by ``import skmmvae``, then after a
# fit (which loads torch's compiler stack: the probe can see a heavy module).
_PROBE = """
import json, sys, warnings
import joblib, numpy, scipy, sklearn, skorch, torch
dependencies = sorted(sys.modules)
import skmmvae
imported = sorted(sys.modules)
import numpy as np
warnings.simplefilter("ignore")
skmmvae.MultiModalVAE(n_components=2, hidden_layer_sizes=(8,), embedding_size=8,
                      max_epochs=1).fit(np.random.default_rng(0).normal(size=(40, 3)))
print(json.dumps({"dependencies": dependencies, "import": imported, "fit": sorted(sys.modules)}))
"""


@pytest.fixture(scope="module")
def modules():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env,
                          timeout=300, check=True)
    return {k: set(v) for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}


def test_import_loads_no_heavy_optional_module(modules):
    assert "skmmvae.estimator" in modules["import"]  # the probe sees the package's modules
    assert not sorted((modules["import"] - modules["dependencies"]) & set(HEAVY))


def test_the_probe_sees_a_heavy_module_when_one_is_imported(modules):
    # the check above can fail: the same probe after a fit finds torch's compiler stack
    assert {"torch._dynamo", "sympy"} <= modules["fit"]
