"""The GPU throughput benchmark runs end to end (on the CPU here) and reports what it claims."""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "speed" / "gpu.py"


def _load(name, path):
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_on_the_cpu_reports_consistent_rows(tmp_path):
    gpu = _load("gpu_benchmark", SCRIPT)
    out = tmp_path / "gpu.md"
    gpu.main(["--quick", "--device", "cpu", "--output", str(out)])
    results = json.loads(out.with_suffix(".json").read_text())
    assert [r["variant"] for r in results["rows"]] == ["float32", "TF32 matmul", "bfloat16 autocast"]
    for row in results["rows"]:
        # the achieved rate is FLOPs per step x steps per second, and below the machine's peak
        steps = -(-results["n_samples"] // row["batch"])
        expected = row["gflop_per_step"] * 1e9 * steps * row["samples_per_s"] / results["n_samples"]
        np.testing.assert_allclose(row["tflops"] * 1e12, expected, rtol=1e-9)
        assert 0 < row["of_ceiling"] < 1.5
    assert [r["layout"] for r in results["modalities"]] == ["1 x 640", "64 x 10"]
    assert results["modalities"][1]["ratio"] > 1  # 64 small networks cost more than one
    text = out.read_text()
    assert "| 500 | float32 |" in text and "| 256 | 64 x 10 |" in text


def test_its_flop_count_is_the_efficiency_benchmarks(tmp_path):
    gpu = _load("gpu_benchmark", SCRIPT)
    efficiency = _load("efficiency", SCRIPT.with_name("efficiency.py"))
    from skmmvae import MultiModalVAE

    X = gpu.make_data(64, [5, 7], seed=0)
    est = MultiModalVAE(n_components=3, hidden_layer_sizes=(8,), embedding_size=8, max_epochs=1,
                        random_state=0).fit(X)
    tensors, _ = est._tensors(X)
    assert gpu.step_flops(est, X, 32) == efficiency.step_flops(est.module_, tensors, 32, est.objective) > 0
