"""Speed and memory benchmark of skmmvae.

Every figure is a ratio against a baseline measured in the same run, so that a noisy shared
machine still gives comparable numbers:

* ``fit`` per training step against a minimal hand-written PyTorch loop that trains the same
  module with the same objective on the same in-memory tensors (paper T1 set-up and a small
  network where per-step overhead dominates);
* time per step of every aggregator as the number of modalities grows;
* ``transform``/``predict`` throughput and peak memory on many rows (in a subprocess each, so
  peak resident memory is that of the call alone);
* peak resident memory of ``fit`` against the size of the data;
* the effect of torch's intra-op thread count (``n_jobs``), idle and with the other core busy.

Usage::

    python benchmarks/speed/run.py --quick     # about two minutes, small sizes
    python benchmarks/speed/run.py             # the full run (10^6 rows; several minutes)

Results go to ``benchmarks/speed/results.md`` (shown in the docs) and ``results.json``.
"""
import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from skmmvae import MultiModalVAE  # noqa: E402
from skmmvae.nn import objective_terms  # noqa: E402


def make_data(n, widths, seed=0, missing=0.2):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 5))
    X = {}
    for i, w in enumerate(widths):
        block = z @ rng.normal(size=(5, w)) + rng.normal(size=(n, w))
        if missing and i:
            block[rng.random(n) < missing] = np.nan
        X[f"m{i}"] = block.astype(np.float32)
    return X


def estimator(widths_hidden, n_latent, batch, aggregation="sumpooling", epochs=1, n_jobs=1):
    return MultiModalVAE(
        n_components=n_latent, aggregation=aggregation, hidden_layer_sizes=widths_hidden,
        embedding_size=widths_hidden[0], batch_size=batch, max_epochs=epochs,
        validation_fraction=0.0, early_stopping=False, random_state=0, n_jobs=n_jobs,
        weight_decay=0.0,  # Adam, as the reference loop (the default decays wide latent spaces)
    )


def baseline_steps(module, tensors, batch, steps, objective="tight", lr=1e-3):
    """The reference: a plain PyTorch loop over the same module, objective and tensors."""
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    module.train()
    n, done = len(tensors), 0
    start = time.perf_counter()
    while done < steps:
        order = torch.randperm(n)
        for i in range(0, n, batch):
            idx = order[i : i + batch]
            xs = [x[idx] for x in tensors.xs]
            loss = -objective_terms(module, xs, tensors.mask[idx], objective)["objective"].mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    return (time.perf_counter() - start) / steps


def fit_per_step(est, X):
    start = time.perf_counter()
    est.fit(X)
    elapsed = time.perf_counter() - start
    steps = sum(h["train_batch_count"] for h in est.history_)
    return elapsed / steps, est


def overhead(name, widths, hidden, n_latent, batch, n, repeats, results, epochs=5):
    X = make_data(n, widths)
    ratios, est_t, base_t = [], [], []
    torch.set_num_threads(1)
    # Warm-up: the first optimiser of a process imports torch's compiler stack (seconds).
    fit_per_step(estimator(hidden, n_latent, batch, epochs=1), X)
    for r in range(repeats):
        t_est, est = fit_per_step(estimator(hidden, n_latent, batch, epochs=epochs), X)
        tensors, _ = est._tensors(X)
        module = est._build_module()
        steps = sum(h["train_batch_count"] for h in est.history_)
        t_base = baseline_steps(module, tensors, batch, steps)
        est_t.append(t_est)
        base_t.append(t_base)
        ratios.append(t_est / t_base)
    results["overhead"][name] = {
        "fit_ms_per_step": 1e3 * statistics.median(est_t),
        "baseline_ms_per_step": 1e3 * statistics.median(base_t),
        "ratio": statistics.median(ratios),
        "setup": f"{len(widths)} modalities {widths}, widths {hidden}, latent {n_latent}, batch {batch}, n={n}",
    }
    print(name, results["overhead"][name], flush=True)


def scaling(modality_counts, aggregators, repeats, results):
    torch.set_num_threads(1)
    table = {}
    for agg in aggregators:
        table[agg] = {}
        for m in modality_counts:
            X = make_data(512, [10] * m, seed=m)
            est = estimator((64,), 8, 256, aggregation=agg, epochs=1)
            est.fit(X)
            tensors, _ = est._tensors(X)
            times = [baseline_steps(est.module_, tensors, 256, 6) for _ in range(repeats)]
            table[agg][m] = 1e3 * statistics.median(times)
        print(agg, {m: round(t, 2) for m, t in table[agg].items()}, flush=True)
    results["scaling_ms_per_step"] = table


# ------------------------------------------------------------------ memory (subprocesses)


def _status_mb(field):
    """A memory field (e.g. VmRSS, VmHWM) of /proc/self/status in MB, or None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak_rss():
    """Start a new high-water mark of resident memory (Linux), so that the peak measured next
    is that of the call alone, not of building the data before it. Returns the current RSS."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status_mb("VmRSS") or _peak_rss_mb()


def _peak_rss_mb():
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _memory_child(kind, n, queue):
    torch.set_num_threads(1)
    widths = [50] * 5
    X = make_data(n, widths, missing=0.2)
    data_mb = sum(v.nbytes for v in X.values()) / 2**20
    est = estimator((64,), 8, 1024, epochs=1)
    if kind == "fit":
        before = _reset_peak_rss()
        start = time.perf_counter()
        est.fit(X)
        queue.put({"data_mb": data_mb, "rss_before_mb": before, "peak_rss_mb": _peak_rss_mb(),
                   "seconds": time.perf_counter() - start})
        return
    small = {k: v[:2000] for k, v in X.items()}
    est.fit(small)
    before = _reset_peak_rss()
    start = time.perf_counter()
    out = est.transform(X) if kind == "transform" else est.predict(X)
    seconds = time.perf_counter() - start
    out_mb = (out.nbytes if kind == "transform" else sum(v.nbytes for v in out.values())) / 2**20
    queue.put({"data_mb": data_mb, "output_mb": out_mb, "rss_before_mb": before,
               "peak_rss_mb": _peak_rss_mb(), "seconds": seconds, "rows_per_s": n / seconds})


def memory(n, results):
    ctx = mp.get_context("spawn")
    out = {}
    for kind in ("transform", "predict", "fit"):
        queue = ctx.Queue()
        proc = ctx.Process(target=_memory_child, args=(kind, n, queue))
        proc.start()
        out[kind] = queue.get()
        proc.join()
        r = out[kind]
        r["extra_peak_over_data"] = (r["peak_rss_mb"] - r["rss_before_mb"]) / r["data_mb"]
        print(kind, {k: round(v, 2) for k, v in r.items()}, flush=True)
    results["memory"] = {"n_rows": n, **out}


# ------------------------------------------------------------------ threads


def threads(results, repeats):
    X = make_data(2000, [40, 40, 40])
    out = {}
    for load in (False, True):
        burner = None
        if load:
            burner = subprocess.Popen([sys.executable, "-c", "import time\nend=time.time()+120\nx=0\nwhile time.time()<end: x+=1"])
            time.sleep(0.5)
        try:
            for n_jobs in (1, 2):
                times = [fit_per_step(estimator((128, 128), 8, 256, epochs=1, n_jobs=n_jobs), X)[0]
                         for _ in range(repeats)]
                out[f"threads={n_jobs}, {'other core busy' if load else 'idle'}"] = 1e3 * statistics.median(times)
        finally:
            if burner:
                burner.kill()
    base = out["threads=1, idle"]
    results["threads_ms_per_step"] = {k: {"ms": v, "ratio_to_1_thread_idle": v / base} for k, v in out.items()}
    print(results["threads_ms_per_step"], flush=True)


# ------------------------------------------------------------------ report


def write_report(results, path):
    lines = [f"# Speed benchmark ({results['mode']} run)", "",
             f"Machine: {results['machine']}. Command: `{results['command']}`.", "",
             "## fit against a hand-written PyTorch loop (same module, objective, tensors)", "",
             "| set-up | fit ms/step | plain loop ms/step | ratio |", "|---|---|---|---|"]
    for name, r in results["overhead"].items():
        lines.append(f"| {name}: {r['setup']} | {r['fit_ms_per_step']:.2f} | {r['baseline_ms_per_step']:.2f} | {r['ratio']:.3f} |")
    table = results["scaling_ms_per_step"]
    counts = list(next(iter(table.values())))
    lines += ["", "## ms per training step as the number of modalities grows (10 features each, batch 256)", "",
              "| aggregation | " + " | ".join(map(str, counts)) + " | growth 2->max (x) |",
              "|---|" + "---|" * (len(counts) + 1)]
    for agg, row in table.items():
        vals = list(row.values())
        lines.append(f"| {agg} | " + " | ".join(f"{v:.1f}" for v in vals) + f" | {vals[-1] / vals[0]:.1f} (modalities x{counts[-1] // counts[0]}) |")
    mem = results["memory"]
    lines += ["", f"## Inference and fit on {mem['n_rows']:,} rows x 5 modalities x 50 features (float32 data, 20% missing)", "",
              "Peak resident memory of the call alone (high-water mark reset just before it); "
              "'before' holds the data, the model and the Python/torch runtime.", "",
              "| call | seconds | rows/s | data MB | output MB | RSS before MB | peak RSS MB | extra peak (x data) | extra peak beyond the output (x data) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for kind in ("transform", "predict", "fit"):
        r = mem[kind]
        out_mb = r.get("output_mb", 0.0)
        beyond = r["extra_peak_over_data"] - out_mb / r["data_mb"]
        lines.append(f"| {kind} | {r['seconds']:.1f} | {r.get('rows_per_s', float('nan')):,.0f} | {r['data_mb']:.0f} | {out_mb:.0f} | {r['rss_before_mb']:.0f} | {r['peak_rss_mb']:.0f} | {r['extra_peak_over_data']:.2f} | {beyond:.2f} |")
    lines += ["", "## torch intra-op threads (n_jobs) on this machine", "",
              "'idle' means no extra load started by the benchmark; on a shared machine other "
              "work may still be running, which is exactly when a second intra-op thread hurts.", "",
              "| setting | ms/step | ratio to 1 thread idle |", "|---|---|---|"]
    for k, r in results["threads_ms_per_step"].items():
        lines.append(f"| {k} | {r['ms']:.2f} | {r['ratio_to_1_thread_idle']:.2f} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, about two minutes")
    parser.add_argument("--output", default=str(HERE / "results.md"))
    args = parser.parse_args(argv)
    q = args.quick
    results = {
        "mode": "quick" if q else "full",
        "command": "python benchmarks/speed/run.py" + (" --quick" if q else ""),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "overhead": {},
    }
    t1_widths = [int(w) for w in np.random.default_rng(1).integers(30, 60, size=5)]
    overhead("paper T1", t1_widths, (256, 256), 30, 500, 2000 if q else 5000, 3 if q else 5, results)
    overhead("small network", [20, 20, 20], (64,), 8, 256, 2048 if q else 8192, 3 if q else 5, results)
    counts = [2, 4, 8, 16] if q else [2, 4, 8, 16, 32, 64]
    aggs = ["poe", "moe", "mopoe", "sumpooling", "selfattention", "sumpooling_mixture"]
    scaling(counts, aggs, 3 if q else 5, results)
    memory(100_000 if q else 1_000_000, results)
    threads(results, 2 if q else 3)
    out = Path(args.output)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    write_report(results, out)
    print(out.read_text())


if __name__ == "__main__":
    main()
