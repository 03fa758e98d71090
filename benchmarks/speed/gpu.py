"""Training throughput on a GPU: float32, TF32, bfloat16 autocast, torch.compile, and the
fraction of the device's matrix-multiply rate that a training step reaches.

Three parts, each timed on the device with ``torch.cuda.synchronize`` around the clock:

* **ceilings**: the device's rate for an 8192 x 8192 x 8192 matrix product in float32 (full
  precision, PyTorch's default), TF32 and bfloat16, and for the network's own layer shape
  (``batch x 256 @ 256 x 256``), measured in the same run;
* **throughput**: the paper's T1 set-up (5 modalities of 30-60 features, widths 256,
  30 latents, the default aggregation and objective) at batches 500, 4096 and 16384:
  samples per second of whole epochs through ``partial_fit`` (median of ``--repeats`` after a
  warm-up fit, which pays any compilation), the FLOPs of a training step counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (forward and backward), and the achieved rate
  as a fraction of the matching ceiling (float32 and compiled: the float32 rate; TF32: the TF32
  rate; bfloat16: the bfloat16 rate);
* **modalities**: default parameters, 64 modalities of 10 features against one modality of
  the same 640 features (issue 18's layout), samples per second at batches 256 and 4096.

Usage::

    python benchmarks/speed/gpu.py               # on a machine with CUDA
    python benchmarks/speed/gpu.py --quick --device cpu   # a smoke run of the script

Results go to ``benchmarks/speed/gpu_results.md`` and ``.json`` (shown in the docs), written
after every row, so that a run stopped by ``--budget`` (seconds) keeps what it measured.
"""
import argparse
import json
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

from run import make_data  # noqa: E402

from skmmvae import MultiModalVAE  # noqa: E402
from skmmvae.datasets import make_linear_gaussian  # noqa: E402
from skmmvae.nn import objective_terms  # noqa: E402

warnings.filterwarnings("ignore")

VARIANTS = {
    "float32": ({}, "float32"),
    "TF32 matmul": ({}, "tf32"),
    "bfloat16 autocast": ({"autocast": "bfloat16"}, "bfloat16"),
    "torch.compile": ({"compile": True}, "float32"),
    "bfloat16 + compile": ({"autocast": "bfloat16", "compile": True}, "bfloat16"),
}
# the aggregation, encoders and optimiser these numbers were first measured with
# (aggregation="auto" is "poe" at 30 dimensions, with the encoders' linear path, and
# weight_decay="auto" decays a latent space of 30 on data of 192 or more columns)
T1 = dict(n_components=30, hidden_layer_sizes=(256, 256), embedding_size=256, aggregation="poe_full",
          encoder_skip=False, weight_decay=0.0)


def sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def set_tf32(on):
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def matmul_rate(device, dtype, m, k, n, tf32=False, seconds=0.2):
    """FLOP/s of an ``m x k @ k x n`` product in ``dtype`` (median of 5 timings of a loop)."""
    set_tf32(tf32)
    a = torch.randn(m, k, device=device, dtype=dtype)
    b = torch.randn(k, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    start = time.perf_counter()
    a @ b
    sync(device)
    reps = max(1, int(seconds / max(time.perf_counter() - start, 1e-6) / 5))
    times = []
    for _ in range(5):
        sync(device)
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        sync(device)
        times.append((time.perf_counter() - start) / reps)
    set_tf32(False)
    return 2 * m * k * n / statistics.median(times)


def ceilings(device, quick):
    size = 1024 if quick else 8192
    out = {}
    for label, dtype, tf32 in (("float32", torch.float32, False), ("tf32", torch.float32, True),
                               ("bfloat16", torch.bfloat16, False)):
        if label != "float32" and not str(device).startswith("cuda"):
            out[label] = out["float32"]  # no TF32 / bfloat16 units worth measuring on a CPU
            out[f"{label} at 4096 x 256 @ 256 x 256"] = out["float32 at 4096 x 256 @ 256 x 256"]
            continue
        out[label] = matmul_rate(device, dtype, size, size, size, tf32)
        out[f"{label} at 4096 x 256 @ 256 x 256"] = matmul_rate(device, dtype, 4096, 256, 256, tf32)
    return out


def step_flops(est, X, batch):
    """FLOPs of the forward and backward pass of one training step on ``batch`` rows."""
    tensors, _ = est._tensors(X)
    dev = next(est.module_.parameters()).device
    idx = torch.arange(min(batch, len(tensors)))
    xs = [x[idx].to(dev) for x in tensors.xs]
    mask = tensors.mask[idx].to(dev)
    with FlopCounterMode(display=False) as counter:
        loss = -objective_terms(est.module_, xs, mask, est.objective)["objective"].mean()
        loss.backward()
    est.module_.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def epoch_seconds(X, device, batch, repeats, params, tf32=False):
    set_tf32(tf32)
    est = MultiModalVAE(batch_size=batch, max_epochs=1, validation_fraction=0.0,
                        early_stopping=False, random_state=0, device=device, **params)
    est.fit(X)  # warm-up: CUDA context, allocator, compilation
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        est.partial_fit(X, epochs=1)
        sync(device)
        times.append(time.perf_counter() - start)
    set_tf32(False)
    return statistics.median(times), est


def write(results, out):
    out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    c = results.get("ceilings", {})
    lines = [f"# Training throughput on {results['device']}", "",
             f"torch {results['torch']}; median of {results['repeats']} epochs after a warm-up fit "
             "(which pays any compilation). Command: `python benchmarks/speed/gpu.py`.", ""]
    if c:
        lines += ["Ceilings measured in the same run (8192 x 8192 x 8192 matrix product; the network's "
                  "layer shape 4096 x 256 @ 256 x 256 in brackets):", ""]
        lines += [f"- {k}: {c[k] / 1e12:,.1f} TFLOP/s ({c[k + ' at 4096 x 256 @ 256 x 256'] / 1e12:,.1f})"
                  for k in ("float32", "tf32", "bfloat16") if k in c]
        lines.append("")
    if results["rows"]:
        lines += [f"The paper's T1 set-up ({results['n_samples']:,} samples, 5 modalities of 30-60 "
                  "features, widths 256, 30 latents, default aggregation and objective). 'of ceiling': "
                  "the FLOPs of a training step (forward and backward, counted by "
                  "`torch.utils.flop_counter`) per second, divided by the matrix-product rate of the "
                  "variant's precision above (float32 for float32 and torch.compile, TF32, bfloat16).", "",
                  "| batch | variant | samples/s | speed-up vs float32 | GFLOP per step | TFLOP/s | of ceiling |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['batch']} | {r['variant']} | {r['samples_per_s']:,.0f} | {r['speed_up']:.2f} | "
                  f"{r['gflop_per_step']:.2f} | {r['tflops']:.2f} | {r['of_ceiling']:.3f} |"
                  for r in results["rows"]]
        lines.append("")
    if results.get("modalities"):
        lines += ["Default parameters, float32: 64 modalities of 10 features against one modality of "
                  "the same 640 features (issue 18's layout).", "",
                  "| batch | layout | samples/s | step ms | times one modality |", "|---|---|---|---|---|"]
        lines += [f"| {r['batch']} | {r['layout']} | {r['samples_per_s']:,.0f} | {r['step_ms']:.2f} | "
                  f"{r['ratio']:.2f} |" for r in results["modalities"]]
        lines.append("")
    if results.get("skipped"):
        lines += ["Not measured (time budget): " + ", ".join(results["skipped"]) + ".", ""]
    out.write_text("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=float("inf"), help="seconds; later rows are skipped")
    parser.add_argument("--batches", default="500,4096,16384")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--modality-batches", default="256,4096")
    parser.add_argument("--output", default=str(HERE / "gpu_results.md"))
    args = parser.parse_args(argv)
    begin = time.perf_counter()
    out = Path(args.output)
    device = args.device
    n = 2000 if args.quick else 50_000
    repeats = 1 if args.quick else args.repeats
    X, _ = make_linear_gaussian(n_samples=n, random_state=0)
    name = torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or "cpu"
    results = {"device": name, "torch": torch.__version__, "n_samples": n, "repeats": repeats,
               "rows": [], "modalities": [], "skipped": []}
    results["ceilings"] = ceilings(device, args.quick)
    print("ceilings (TFLOP/s):", {k: round(v / 1e12, 2) for k, v in results["ceilings"].items()}, flush=True)
    write(results, out)
    batches = [500] if args.quick else [int(b) for b in args.batches.split(",") if b]
    chosen = args.variants.split(",")
    variants = dict(list(VARIANTS.items())[:3]) if args.quick else {k: VARIANTS[k] for k in chosen}
    for batch in batches:
        base = None
        for label, (options, precision) in variants.items():
            if time.perf_counter() - begin > args.budget:
                results["skipped"].append(f"T1 batch {batch} {label}")
                continue
            seconds, est = epoch_seconds(X, device, batch, repeats, {**T1, **options},
                                         tf32=precision == "tf32")
            flops = step_flops(est, X, batch)
            steps = -(-n // batch)
            rate = flops * steps / seconds  # the last, shorter batch counted as full: a slight over-count
            base = base or seconds
            row = {"batch": batch, "variant": label, "samples_per_s": n / seconds, "speed_up": base / seconds,
                   "gflop_per_step": flops / 1e9, "tflops": rate / 1e12,
                   "of_ceiling": rate / results["ceilings"][precision]}
            results["rows"].append(row)
            print(row, flush=True)
            write(results, out)
    m_rows = 1024 if args.quick else 32768
    for batch in ([256] if args.quick else [int(b) for b in args.modality_batches.split(",") if b]):
        one = None
        for layout, widths in (("1 x 640", [640]), ("64 x 10", [10] * 64)):
            if time.perf_counter() - begin > args.budget:
                results["skipped"].append(f"modalities batch {batch} {layout}")
                continue
            Xm = make_data(m_rows, widths, seed=len(widths))
            seconds, _ = epoch_seconds(Xm, device, batch, repeats, {})
            step = seconds / -(-m_rows // batch)
            one = one or step
            row = {"batch": batch, "layout": layout, "samples_per_s": m_rows / seconds,
                   "step_ms": 1e3 * step, "ratio": step / one}
            results["modalities"].append(row)
            print(row, flush=True)
            write(results, out)
    results["seconds"] = time.perf_counter() - begin
    write(results, out)
    print(out.read_text())


if __name__ == "__main__":
    main()
