"""Speed-up of data-parallel training: one process against two, on this machine.

Times ``fit`` of the paper's T1 set-up (``make_linear_gaussian``: 5000 rows, 5 modalities;
encoders 2 x 256, latent 30, batch 500 rows per process, no validation split) with

* one process, an ordinary fit (``python ddp_fit.py --no-accelerator``),
* one process through Accelerate (``python ddp_fit.py``: the overhead of the wrapper),
* two processes (``torchrun --standalone --nproc_per_node 2 ddp_fit.py``),

each process with one torch thread. The time is that of ``fit`` alone, between two barriers
(process start-up, imports, the rendezvous and torch's one-off set-up of its first optimiser
step are not counted; the whole launch is reported apart). The runs of the three set-ups are interleaved, and the median of the repeats is
reported with the speed-up ``median(one process) / median(two processes)``.

Usage::

    python benchmarks/scaling/run.py --quick   # 3 repeats of 2 epochs (a few minutes)
    python benchmarks/scaling/run.py           # 5 repeats of 5 epochs

Results go to ``benchmarks/scaling/results.md`` (shown in the docs) and ``results.json``.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCRIPT = HERE / "ddp_fit.py"

SETUPS = {
    "1 process (ordinary fit)": (1, [sys.executable, str(SCRIPT), "--no-accelerator"]),
    "1 process (Accelerate)": (1, [sys.executable, str(SCRIPT)]),
    "2 processes (Accelerate, torchrun)": (
        2, [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(SCRIPT)],
    ),
}


def machine():
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch": torch.__version__,
    }


def launch(command, args):
    """Run one set-up once; (fit seconds of process 0, launch seconds, its report)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run = subprocess.run([*command, "--out", out, *args], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if run.returncode:
            raise RuntimeError(f"{' '.join(command)} failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
        report = json.loads(Path(out, "rank0.json").read_text())
    return report["fit_seconds"], wall, report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats of 2 epochs")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite results.md from results.json, without running anything")
    args = parser.parse_args(argv)
    if args.report_only:
        results = json.loads((HERE / "results.json").read_text())
        results["summary"] = summarize(results["runs"])
        (HERE / "results.json").write_text(json.dumps(results, indent=1))
        (HERE / "results.md").write_text(markdown(results))
        print(markdown(results))
        return
    repeats = args.repeats or (3 if args.quick else 5)
    epochs = args.epochs or (2 if args.quick else 5)
    fit_args = ["--epochs", str(epochs), "--threads", "1"]

    results = {
        "command": "python benchmarks/scaling/run.py" + (" --quick" if args.quick else ""),
        "machine": machine(),
        "setup": "make_linear_gaussian(n_samples=5000, n_modalities=5), hidden (256, 256), latent 30, "
                 f"batch 500 per process, {epochs} epochs, no validation split, 1 torch thread per process",
        "repeats": repeats,
        "load_average_before": os.getloadavg(),
        "runs": {name: [] for name in SETUPS},
    }
    for r in range(repeats):
        for name, (_, command) in SETUPS.items():  # interleaved: drifting load hits all alike
            fit, wall, report = launch(command, fit_args)
            results["runs"][name].append({"fit_seconds": fit, "launch_seconds": wall,
                                          "steps_per_epoch": report["steps_per_epoch"][0],
                                          "final_train_loss": report["train_loss"][-1]})
            print(f"repeat {r + 1}/{repeats}  {name}: fit {fit:.2f} s (launch {wall:.1f} s)", flush=True)
    results["load_average_after"] = os.getloadavg()
    results["summary"] = summarize(results["runs"])
    (HERE / "results.json").write_text(json.dumps(results, indent=1))
    (HERE / "results.md").write_text(markdown(results))
    print(markdown(results))


def summarize(runs):
    """Medians per set-up, and speed-ups against the first (the ordinary one-process fit)."""
    base_runs = runs[next(iter(SETUPS))]
    base_median = statistics.median(run["fit_seconds"] for run in base_runs)
    base_min = min(run["fit_seconds"] for run in base_runs)
    summary = {}
    for name, (n_proc, _) in SETUPS.items():
        times = [run["fit_seconds"] for run in runs[name]]
        summary[name] = {
            "processes": n_proc,
            "median_fit_seconds": statistics.median(times),
            "min_fit_seconds": min(times),
            "max_fit_seconds": max(times),
            "median_launch_seconds": statistics.median(run["launch_seconds"] for run in runs[name]),
            "steps_per_epoch_per_process": runs[name][0]["steps_per_epoch"],
            "speed_up": base_median / statistics.median(times),
            "speed_up_fastest_runs": base_min / min(times),
        }
    return summary


def markdown(results):
    m = results["machine"]
    load_before = ", ".join(f"{x:.1f}" for x in results["load_average_before"])
    load_after = ", ".join(f"{x:.1f}" for x in results["load_average_after"])
    lines = [
        "# Data-parallel training: one process against two",
        "",
        f"Machine: {m['platform']}, {m['cpu_count']} CPUs ({m['usable_cpus']} usable), "
        f"torch {m['torch']}, Python {m['python']}.",
        f"Command: `{results['command']}`. Set-up: {results['setup']}.",
        f"Load average (1, 5, 15 min) before: {load_before}; after: {load_after} "
        "(other jobs share this machine: the numbers are noisy).",
        "",
        f"Median of {results['repeats']} interleaved runs; fit seconds exclude process start-up "
        "(the launch column includes it).",
        "",
        "| set-up | steps per epoch and process | fit s (median) | fit s (min-max) | launch s (median) "
        "| speed-up (medians) | speed-up (fastest runs) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in results["summary"].items():
        lines.append(
            f"| {name} | {s['steps_per_epoch_per_process']} | {s['median_fit_seconds']:.2f} | "
            f"{s['min_fit_seconds']:.2f}-{s['max_fit_seconds']:.2f} | {s['median_launch_seconds']:.1f} | "
            f"{s['speed_up']:.2f}x | {s['speed_up_fastest_runs']:.2f}x |"
        )
    lines += [
        "",
        "Speed-up: fit seconds of the ordinary one-process fit divided by those of the set-up "
        "(medians; and the fastest run of each, the least disturbed by other jobs).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
