"""Training throughput (samples per second) on a GPU: float32, bfloat16 autocast, torch.compile.

The paper's T1 set-up (5 modalities of 30-60 features, widths 256, 30 latents, batch 500) and
a larger batch, timed after a warm-up epoch (which pays any compilation), as the median of
``--repeats`` epochs. Ratios are against float32 on the same device in the same run.

Usage::

    python benchmarks/speed/gpu.py               # on a machine with CUDA
    python benchmarks/speed/gpu.py --quick --device cpu   # a smoke run of the script

Results go to ``benchmarks/speed/gpu_results.md`` and ``.json`` (shown in the docs).
"""
import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from skmmvae import MultiModalVAE  # noqa: E402
from skmmvae.datasets import make_linear_gaussian  # noqa: E402

VARIANTS = {"float32": {}, "bfloat16 autocast": {"autocast": "bfloat16"},
            "torch.compile": {"compile": True},
            "bfloat16 + compile": {"autocast": "bfloat16", "compile": True}}


def epoch_seconds(X, device, batch, repeats, **options):
    est = MultiModalVAE(n_components=30, hidden_layer_sizes=(256, 256), embedding_size=256,
                        batch_size=batch, max_epochs=1, validation_fraction=0.0,
                        early_stopping=False, random_state=0, device=device, **options)
    est.fit(X)  # warm-up: CUDA context, allocator, compilation
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        est.partial_fit(X, epochs=1)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default=str(HERE / "gpu_results.md"))
    args = parser.parse_args(argv)
    n = 2000 if args.quick else 50_000
    X, _ = make_linear_gaussian(n_samples=n, random_state=0)
    name = torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or "cpu"
    results = {"device": name, "torch": torch.__version__, "n_samples": n, "rows": []}
    variants = {"float32": {}, "bfloat16 autocast": {"autocast": "bfloat16"}} if args.quick else VARIANTS
    for batch in ([500] if args.quick else [500, 4096]):
        base = None
        for label, options in variants.items():
            seconds = epoch_seconds(X, args.device, batch, 1 if args.quick else args.repeats, **options)
            base = base or seconds
            row = {"batch": batch, "variant": label, "samples_per_s": n / seconds, "speed_up": base / seconds}
            results["rows"].append(row)
            print(row, flush=True)
    lines = [f"# Training throughput on {name}", "",
             f"torch {results['torch']}, {n:,} samples of the paper's T1 set-up (widths 256, 30 "
             "latents), median epoch after a warm-up epoch. Command: `python benchmarks/speed/gpu.py`.", "",
             "| batch | variant | samples/s | speed-up vs float32 |", "|---|---|---|---|"]
    lines += [f"| {r['batch']} | {r['variant']} | {r['samples_per_s']:,.0f} | {r['speed_up']:.2f} |"
              for r in results["rows"]]
    out = Path(args.output)
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    print(out.read_text())


if __name__ == "__main__":
    main()
