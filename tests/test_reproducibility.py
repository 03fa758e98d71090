"""``random_state`` fixes every result: in one process, and across processes.

All randomness (initial weights, batch order, subset draws, the validation split, the
importance samples of ``score``) flows from ``random_state``, so two fits with the same value
give bit-identical weights and outputs, whatever the global RNGs, the hash seed of the
process (``PYTHONHASHSEED``: set and dict orders) or the number of torch threads.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import MIXED_LIKELIHOODS, SMALL, make_data, make_mixed_data

from skmmvae import MultiModalVAE

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

# Two settings that exercise different code paths: Gaussian data with missing blocks and the
# default aggregation, and all likelihoods with a mixture posterior.
SETTINGS = {
    "gaussian": (dict(SMALL), make_data),
    "mixed": (dict(SMALL, likelihoods=MIXED_LIKELIHOODS, aggregation="selfattention_mixture"),
              make_mixed_data),
}  # fmt: skip


def fit_and_collect(name, **overrides):
    """Fit setting ``name`` and return every result that must be reproducible, as arrays."""
    params, make = SETTINGS[name]
    X = make()
    est = MultiModalVAE(**{**params, **overrides}).fit(X)
    results = {f"state/{k}": v.detach().cpu().numpy() for k, v in est.module_.state_dict().items()}
    results["transform"] = est.transform(X)
    results["score_samples"] = est.score_samples(X)
    results.update({f"predict/{k}": v for k, v in est.predict(X).items()})
    results["sample"] = est.sample(5)[1]
    results["train_loss"] = np.array(est.history_[:, "train_loss"])
    return results


def assert_identical(first, second):
    assert sorted(first) == sorted(second)
    for key in first:
        assert first[key].dtype == second[key].dtype, key
        assert np.array_equal(first[key], second[key], equal_nan=True), f"{key} differs"


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_same_random_state_gives_identical_results(name):
    first = fit_and_collect(name)
    # the global RNGs must not matter: everything is seeded from random_state
    torch.manual_seed(12345)
    np.random.seed(678)
    assert_identical(first, fit_and_collect(name))


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_different_random_state_gives_different_weights(name):
    first = fit_and_collect(name, random_state=0)
    other = fit_and_collect(name, random_state=1)
    # learnt tensors only: the data-scaling buffers (standardize=True) depend on the data alone
    data_scaling = ("input_shift", "input_scale", "output_shift", "output_scale", "fixed_scale")
    weights = [key for key in first if key.startswith("state/") and first[key].size > 1
               and not key.endswith(data_scaling)]
    assert weights
    assert all(np.array_equal(first[f"state/{k}"], other[f"state/{k}"])
               for k in ["likelihoods.a.input_shift"] if name == "gaussian")
    assert all(not np.array_equal(first[key], other[key]) for key in weights)
    assert not np.allclose(first["transform"], other["transform"])


def test_random_state_instances_are_reproducible_too():
    first = fit_and_collect("gaussian", random_state=np.random.RandomState(3))
    assert_identical(first, fit_and_collect("gaussian", random_state=np.random.RandomState(3)))


def test_fit_and_score_leave_the_global_torch_rng_alone():
    before = torch.random.get_rng_state()
    fit_and_collect("gaussian")
    assert torch.equal(torch.random.get_rng_state(), before)


def test_partial_fit_continues_reproducibly():
    def run():
        X = make_data()
        est = MultiModalVAE(**SMALL).fit(X)
        est.partial_fit(X, epochs=2)
        return est.module_.state_dict(), est.transform(X)

    (state1, z1), (state2, z2) = run(), run()
    for key in state1:
        assert torch.equal(state1[key], state2[key]), key
    assert np.array_equal(z1, z2)


_CHILD = """
import sys
import numpy as np
from test_reproducibility import fit_and_collect

for name in ("gaussian", "mixed"):
    results = fit_and_collect(name, n_jobs=1)
    np.savez(f"{sys.argv[1]}/{name}.npz", **{k.replace("/", "|"): v for k, v in results.items()})
"""


def test_results_are_identical_across_processes_and_hash_seeds(tmp_path):
    """Two fresh interpreters with different ``PYTHONHASHSEED``, compared bit for bit.

    Both use one torch thread (``n_jobs=1``): the number of intra-op threads can change the
    last bits of some results (parallel reductions, e.g. in the self-attention aggregator's
    layer norms), so bit-identical results need the same ``n_jobs`` as well as the same
    ``random_state``.
    """
    processes = {}
    for hash_seed in ("1", "4242"):
        (tmp_path / hash_seed).mkdir()
        env = dict(os.environ, PYTHONHASHSEED=hash_seed,
                   PYTHONPATH=os.pathsep.join([str(TESTS), str(ROOT), os.environ.get("PYTHONPATH", "")]))  # fmt: skip
        processes[hash_seed] = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(tmp_path / hash_seed)],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    for hash_seed, process in processes.items():
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, f"PYTHONHASHSEED={hash_seed} run failed:\n{output}"

    for name in SETTINGS:
        first = dict(np.load(tmp_path / "1" / f"{name}.npz"))
        assert_identical(first, dict(np.load(tmp_path / "4242" / f"{name}.npz")))
        # ... and the same as in this process, whatever was imported and run before
        here = fit_and_collect(name, n_jobs=1)
        assert_identical(first, {key.replace("/", "|"): value for key, value in here.items()})
