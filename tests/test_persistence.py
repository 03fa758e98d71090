"""Pickling: a CPU state_dict plus parameters, history and version; exact round trips."""
import copy
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SMALL
from skorch import NeuralNet

import skmmvae
from skmmvae import MultiModalVAE

REPO = str(Path(skmmvae.__file__).resolve().parents[1])
COLUMNS = [f"a{i}" for i in range(4)] + [f"b{i}" for i in range(3)]


def _walk(obj, seen=None):
    """Every object reachable through containers and instance dicts."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    yield obj
    if isinstance(obj, dict):
        children = list(obj.keys()) + list(obj.values())
    elif isinstance(obj, (list, tuple, set)):
        children = list(obj)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        children = list(vars(obj).values())
    else:
        children = []
    for child in children:
        yield from _walk(child, seen)


def test_pickled_state_is_cpu_tensors_parameters_history_and_version(fitted):
    state = fitted.__getstate__()
    assert "net_" not in state and "module_" not in state
    assert state["_skmmvae_version"] == skmmvae.__version__
    assert state["history_"] is fitted.history_
    assert set(fitted.get_params()) <= set(state)
    module_state = state["_module_state"]
    assert set(module_state) == set(fitted.module_.state_dict())
    objects = list(_walk(state))
    assert not any(isinstance(o, (NeuralNet, torch.nn.Module, torch.optim.Optimizer)) for o in objects)
    tensors = [o for o in objects if isinstance(o, torch.Tensor)]
    assert tensors and all(t.device.type == "cpu" for t in tensors)
    # the saved weights are copies: training on does not change them
    key = next(iter(module_state))
    assert module_state[key].data_ptr() != fitted.module_.state_dict()[key].data_ptr()
    blob = pickle.dumps(fitted)
    assert b"MultiModalNet" not in blob and b"skorch.net" not in blob


def test_getstate_does_not_change_the_fitted_estimator(fitted, data):
    Z = fitted.transform(data)
    fitted.__getstate__()
    assert fitted.net_ is not None and hasattr(fitted, "module_")
    np.testing.assert_array_equal(fitted.transform(data), Z)


SCRIPT = textwrap.dedent(
    """
    import sys, joblib, numpy as np, pandas as pd
    est_dict, est_frame, data, frame = joblib.load(sys.argv[1])
    np.savez(
        sys.argv[2],
        Z=est_dict.transform(data), Za=est_dict.transform(data, modalities=["a"]),
        a=est_dict.predict(data)["a"], b=est_dict.predict(data)["b"],
        ll=est_dict.score_samples(data), score=est_dict.score(data),
        Zf=est_frame.transform(frame), Xf=est_frame.predict(frame).to_numpy(),
        llf=est_frame.score_samples(frame),
    )
    """
)


def test_joblib_round_trip_is_exact_in_a_fresh_process(tmp_path, fitted, data):
    frame = pd.DataFrame(np.hstack([data["a"], data["b"]]), columns=COLUMNS)
    est_frame = MultiModalVAE(modalities={"a": 4, "b": 3}, **SMALL).fit(frame)
    joblib.dump((fitted, est_frame, data, frame), tmp_path / "model.joblib")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")])}
    subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "model.joblib"), str(tmp_path / "out.npz")],
        check=True, env=env, cwd=tmp_path, capture_output=True, timeout=300,
    )  # fmt: skip
    out = np.load(tmp_path / "out.npz")
    predicted = fitted.predict(data)
    np.testing.assert_array_equal(out["Z"], fitted.transform(data))
    np.testing.assert_array_equal(out["Za"], fitted.transform(data, modalities=["a"]))
    np.testing.assert_array_equal(out["a"], predicted["a"])
    np.testing.assert_array_equal(out["b"], predicted["b"])
    np.testing.assert_array_equal(out["ll"], fitted.score_samples(data))
    assert out["score"] == fitted.score(data)
    np.testing.assert_array_equal(out["Zf"], est_frame.transform(frame))
    np.testing.assert_array_equal(out["Xf"], est_frame.predict(frame).to_numpy())
    np.testing.assert_array_equal(out["llf"], est_frame.score_samples(frame))


def test_partial_fit_after_loading_continues_training(data):
    est = MultiModalVAE(**{**SMALL, "early_stopping": False}).fit(data)
    loaded = pickle.loads(pickle.dumps(est))
    assert loaded.net_ is None
    np.testing.assert_array_equal(loaded.transform(data), est.transform(data))
    # both continue the same way: the optimiser state and the seeds were saved
    est.partial_fit(data, epochs=2)
    loaded.partial_fit(data, epochs=2)
    assert loaded.n_iter_ == len(loaded.history_) == SMALL["max_epochs"] + 2
    assert loaded.history_[:, "train_loss"] == est.history_[:, "train_loss"]
    for p, q in zip(est.module_.parameters(), loaded.module_.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    adam_steps = {s["step"].item() for s in loaded.net_.optimizer_.state.values()}
    n_batches = est.history_[-1, "train_batch_count"]
    assert adam_steps == {float(n_batches * (SMALL["max_epochs"] + 2))}


def test_a_model_set_to_an_absent_cuda_device_loads_on_cpu(data, monkeypatch):
    est = MultiModalVAE(**{**SMALL, "device": "cpu"}).fit(data)  # compared bit for bit on the CPU
    est.set_params(device="cuda")
    blob = pickle.dumps(est)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="not available here; loading it on the CPU"):
        loaded = pickle.loads(blob)
    assert next(loaded.module_.parameters()).device.type == "cpu"
    np.testing.assert_array_equal(loaded.transform(data), est.transform(data))
    loaded.partial_fit(data)  # keeps training where the module is
    assert next(loaded.module_.parameters()).device.type == "cpu"


def test_loading_warns_about_another_package_version(fitted):
    state = fitted.__getstate__()
    state["_skmmvae_version"] = "0.0.0-old"
    est = MultiModalVAE.__new__(MultiModalVAE)
    with pytest.warns(UserWarning, match="saved with skmmvae 0.0.0-old"):
        est.__setstate__(state)


def test_loading_leaves_the_global_torch_rng_alone(fitted):
    blob = pickle.dumps(fitted)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    pickle.loads(blob)
    torch.testing.assert_close(torch.rand(3), expected)


def test_deepcopy_of_a_fitted_estimator(fitted, data):
    twin = copy.deepcopy(fitted)
    np.testing.assert_array_equal(twin.score_samples(data), fitted.score_samples(data))
    assert twin.module_ is not fitted.module_


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_gpu_trained_model_loads_on_a_cpu_only_machine(tmp_path, data):
    est = MultiModalVAE(**{**SMALL, "device": "cuda"}).fit(data)
    assert next(est.module_.parameters()).device.type == "cuda"
    state = est.__getstate__()
    tensors = [o for o in _walk(state) if isinstance(o, torch.Tensor)]
    assert all(t.device.type == "cpu" for t in tensors)
    joblib.dump((est, data), tmp_path / "gpu.joblib")
    script = textwrap.dedent(
        """
        import sys, warnings, joblib, numpy as np
        warnings.simplefilter("ignore")
        est, data = joblib.load(sys.argv[1])
        np.save(sys.argv[2], est.transform(data))
        """
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "gpu.joblib"), str(tmp_path / "Z.npy")],
                   check=True, env=env, timeout=300)  # fmt: skip
    np.testing.assert_allclose(np.load(tmp_path / "Z.npy"), est.transform(data), rtol=1e-4, atol=1e-5)
