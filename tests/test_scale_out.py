"""Scaling out: data-parallel fits through Accelerate, and searches on a Dask cluster.

The data-parallel test starts two CPU processes with torch's launcher (``torchrun``, rendezvous
on a free loopback port), each running ``benchmarks/scaling/ddp_fit.py``; the search test
starts a two-worker Dask ``LocalCluster`` on loopback. Both skip without their package.
"""
import importlib.util
import json
import os
import pickle
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SMALL, make_data
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

from skmmvae import ModalityDict, MultiModalVAE

ROOT = Path(__file__).resolve().parents[1]
DDP_FIT = ROOT / "benchmarks" / "scaling" / "ddp_fit.py"
# the tiny set-up of ddp_fit.py: 500 rows, 100 of them held out -> 400 training rows, and
# batches of 50 rows per process: 8 steps per epoch on one process, 4 on each of two
DDP_ARGS = ["--tiny", "--validation-fraction", "0.2", "--patience", "2", "--epochs", "4"]


def _ddp_fit_module():
    spec = importlib.util.spec_from_file_location("ddp_fit", DDP_FIT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _launch_env():
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    env["CUDA_VISIBLE_DEVICES"] = ""  # CPU processes, also on a machine with a GPU (one GPU, two ranks)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


# --------------------------------------------------------------------------- data-parallel fit


def test_data_parallel_fit_on_two_cpu_processes(tmp_path):
    pytest.importorskip("accelerate")
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(DDP_FIT), "--out", str(out), *DDP_ARGS]  # fmt: skip
    run = subprocess.run(command, env=_launch_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    # only process 0 prints (skorch's table is off here: the script's own summary line)
    assert run.stdout.count("fit on 2 process(es)") == 1

    reports = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in reports] == [2, 2]
    assert reports[0]["pid"] != reports[1]["pid"]
    # the same history on both processes (gathered records), so the same early-stopping epoch
    for key in ("n_iter", "steps_per_epoch", "train_loss", "valid_loss"):
        assert reports[0][key] == reports[1][key], key
    assert all(np.isfinite(reports[0]["valid_loss"]))
    assert [r["torch_threads"] for r in reports] == [1, 1]

    # the weights: identical on both processes after training, and trained
    init = [torch.load(out / f"rank{r}_init.pt") for r in (0, 1)]
    final = [torch.load(out / f"rank{r}_final.pt") for r in (0, 1)]
    assert final[0].keys() == final[1].keys() == init[0].keys()
    for name in final[0]:
        torch.testing.assert_close(final[0][name], final[1][name], rtol=0, atol=0, msg=name)
        torch.testing.assert_close(init[0][name], init[1][name], rtol=0, atol=0, msg=name)
    assert any(not torch.equal(init[0][k], final[0][k]) for k in final[0])

    # the rows are sharded: half the optimiser steps per epoch of a one-process fit
    single_out = tmp_path / "single"
    script = _ddp_fit_module()
    script.main(["--out", str(single_out), "--no-accelerator", *DDP_ARGS])
    single = json.loads((single_out / "rank0.json").read_text())
    assert single["world_size"] == 1 and single["steps_per_epoch"][0] == 8
    assert reports[0]["steps_per_epoch"] == [4] * reports[0]["n_iter"]

    # the pickled estimator of process 0 is an ordinary MultiModalVAE
    with open(out / "estimator.pkl", "rb") as file:
        est = pickle.load(file)
    assert type(est) is MultiModalVAE and est.accelerator is None and est.net_ is None
    for name, value in est.module_.state_dict().items():
        torch.testing.assert_close(value, final[0][name], rtol=0, atol=0)
    data = script.load_data(script.parse_args(["--out", str(out), *DDP_ARGS]))
    Z = est.transform(data)
    assert Z.shape == (len(data["m0"]), 4) and np.isfinite(Z).all()
    hidden = dict(data, m1=np.full_like(data["m1"], np.nan))
    assert np.isfinite(est.predict(hidden)["m1"]).all()
    assert np.isfinite(est.score(data))
    assert clone(est).get_params() == est.get_params()
    est.partial_fit(data)  # trains on, in this one process
    assert est.n_iter_ == reports[0]["n_iter"] + 1


def test_accelerator_auto_in_one_process_is_an_ordinary_fit(data):
    pytest.importorskip("accelerate")
    from accelerate import Accelerator

    est = MultiModalVAE(**SMALL, accelerator="auto").fit(data)
    plain = MultiModalVAE(**SMALL).fit(data)
    assert est.history_[-1, "train_batch_count"] == plain.history_[-1, "train_batch_count"]
    assert np.isfinite(est.transform(data)).all()
    assert pickle.loads(pickle.dumps(est)).accelerator == "auto"

    # the accelerator state is process-wide: the same device as the "auto" fit above
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    est = MultiModalVAE(**SMALL, accelerator=accelerator)
    assert clone(est).accelerator is accelerator  # shared, not deep-copied
    est.fit(data)
    assert type(est.module_).__name__ == "MultiModalModule"  # unwrapped
    loaded = pickle.loads(pickle.dumps(est))
    assert loaded.accelerator is None and est.accelerator is accelerator
    np.testing.assert_array_equal(loaded.transform(data), est.transform(data))
    est.partial_fit(data)  # a new accelerated net around the trained module
    assert est.n_iter_ == SMALL["max_epochs"] + 1


def test_a_launcher_whose_processes_do_not_join_is_reported(data, monkeypatch):
    pytest.importorskip("accelerate")
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)  # one process (created before WORLD_SIZE is set)
    monkeypatch.setenv("WORLD_SIZE", "2")  # as under torchrun, with a GPU accelerator on CPUs
    with pytest.warns(UserWarning, match=r"started 2 processes.*Accelerator\(cpu=True\)"):
        MultiModalVAE(**SMALL, accelerator=accelerator).fit(data)


def test_accelerator_validation_and_install_hint(data, monkeypatch):
    with pytest.raises(InvalidParameterError, match="accelerator"):
        MultiModalVAE(**SMALL, accelerator="gpu").fit(data)
    with pytest.raises(InvalidParameterError, match="accelerator"):
        MultiModalVAE(**SMALL, accelerator=object()).fit(data)
    monkeypatch.setitem(sys.modules, "accelerate", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install .*skmmvae\[distributed\]"):
        MultiModalVAE(**SMALL, accelerator="auto").fit(data)


@pytest.mark.parametrize("n", [400, 401, 3])
def test_sharded_batches_split_every_epoch_among_processes(n):
    from skmmvae._distributed import _ShardedBatches

    tensors, _ = MultiModalVAE()._tensors(make_data(n=n, missing=False), reset=True)
    tensors.xs[0][:, 0] = torch.arange(n, dtype=tensors.xs[0].dtype)  # row ids

    def rows(training, rank):
        generator = torch.Generator().manual_seed(7)
        batches = _ShardedBatches(tensors, 50, training, "cpu", rank, 2, generator)
        out = [batch.xs[0][:, 0].long() for batch, _ in batches]
        assert len(out) == len(batches)
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)

    train = [rows(True, r) for r in (0, 1)]
    assert len(train[0]) == len(train[1]) == -(-n // 2)  # the same number of steps
    assert set(torch.cat(train).tolist()) == set(range(n))  # every row, a padded one twice
    valid = [rows(False, r) for r in (0, 1)]
    assert sorted(torch.cat(valid).tolist()) == list(range(n))  # every row exactly once


# --------------------------------------------------------------------------- Dask search


class RecordThreads(Callback):
    """Write this process's id and torch's thread count at the start of training."""

    def __init__(self, folder):
        self.folder = folder

    def on_train_begin(self, net, **kwargs):
        name = f"{os.getpid()}-{uuid.uuid4().hex}.txt"
        Path(self.folder, name).write_text(f"{os.getpid()} {torch.get_num_threads()}")


def _records(folder):
    return [tuple(map(int, p.read_text().split())) for p in Path(folder).iterdir()]


def test_n_jobs_none_stays_within_the_dask_workers_threads(monkeypatch):
    distributed = pytest.importorskip("distributed")
    from types import SimpleNamespace

    from skmmvae._runtime import TorchThreads

    threads = torch.get_num_threads()
    monkeypatch.setattr("skmmvae._runtime._available_cores", lambda: 64)  # a big machine: torch's default applies
    try:
        torch.set_num_threads(3)
        with TorchThreads(None):
            assert torch.get_num_threads() == 3  # outside Dask
        monkeypatch.setattr(distributed, "get_worker", lambda: SimpleNamespace(state=SimpleNamespace(nthreads=2)))
        with TorchThreads(None):
            assert torch.get_num_threads() == 2  # a worker with 2 threads
        with TorchThreads(3):
            assert torch.get_num_threads() == 3  # an explicit n_jobs is kept
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(threads)


def test_grid_search_on_a_dask_cluster(tmp_path):
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_config

    data = ModalityDict(make_data(n=100))  # sliced by scikit-learn's cross-validation
    grid = {"n_components": [1, 2], "objective": ["tight", "elbo"]}
    (tmp_path / "dask").mkdir()
    est = MultiModalVAE(**SMALL, callbacks=[RecordThreads(str(tmp_path / "dask"))])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:  # fmt: skip
        with distributed.Client(cluster), parallel_config(backend="dask"):
            search = GridSearchCV(est, grid, cv=2, n_jobs=-1, error_score="raise").fit(data)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.n_components == search.best_params_["n_components"]
    records = [r for r in _records(tmp_path / "dask") if r[0] != os.getpid()]
    assert len(records) == 8  # 4 candidates x 2 folds, in the workers
    assert {threads for _, threads in records} == {1}  # threads_per_worker=1: one torch thread

    # the same search run sequentially in this process, with one torch thread as in the
    # workers, agrees exactly: distributing the search changes nothing in the results
    reference = GridSearchCV(clone(est).set_params(callbacks=None), grid, cv=2, error_score="raise")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        reference.fit(data)
    finally:
        torch.set_num_threads(threads)
    assert search.best_params_ == reference.best_params_
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"])
