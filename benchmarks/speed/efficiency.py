"""Compute efficiency of a training step, torch.compile on the CPU, and start-up costs.

Every figure is a ratio against a baseline measured in the same run (interleaved repeats,
medians), so that a noisy shared machine still gives comparable numbers:

* **FLOP rate**: the floating-point operations of one training step of the default objective
  (forward and backward, counted by ``torch.utils.flop_counter.FlopCounterMode``; the
  optimiser's element-wise update is not counted) divided by the time of a training step
  (the plain PyTorch loop of ``run.py``: forward, backward, Adam step), against the rate of a
  1024 x 1024 float32 matmul, all on one thread. The same ratio is given for the matmul of
  the set-up's own typical shape (``batch x width @ width x width``), the ceiling that such
  small matrices allow;
* **torch.compile**: steps per second of ``fit`` with and without ``compile=True`` after
  warm-up, compile time counted separately (``--compile``);
* **start-up**: ``import skmmvae`` and the first fit's extra cost in fresh processes
  (``--startup``).

Usage::

    python benchmarks/speed/efficiency.py            # all parts (several minutes)
    python benchmarks/speed/efficiency.py --flops    # one part

Results go to ``benchmarks/speed/efficiency_results.md`` (shown in the docs) and ``efficiency_results.json``.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from run import baseline_steps, make_data  # noqa: E402

from skmmvae import MultiModalVAE  # noqa: E402
from skmmvae.nn import objective_terms  # noqa: E402

warnings.filterwarnings("ignore")


def matmul_rate(n=1024, repeats=5):
    """GFLOP/s of an ``n x n @ n x n`` float32 matmul (median of ``repeats``)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


def shape_rate(rows, width, repeats=20):
    """GFLOP/s of a ``rows x width @ width x width`` float32 matmul (the network's shape)."""
    a, b = torch.randn(rows, width), torch.randn(width, width)
    a @ b
    reps = max(1, int(2e7 / (rows * width * width)))  # ~10 ms per timing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        times.append((time.perf_counter() - start) / reps)
    return 2 * rows * width * width / statistics.median(times) / 1e9


def step_flops(module, tensors, batch, objective="tight"):
    """FLOPs of the forward and backward pass of one training step on ``batch`` rows."""
    idx = torch.arange(batch)
    xs = [x[idx] for x in tensors.xs]
    with FlopCounterMode(display=False) as counter:
        loss = -objective_terms(module, xs, tensors.mask[idx], objective)["objective"].mean()
        loss.backward()
    module.zero_grad(set_to_none=True)
    return counter.get_total_flops()


MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


def matmul_seconds(module, tensors, batch, steps=8, objective="tight"):
    """Seconds per training step spent inside the matrix products (``MATMUL_OPS``, their own
    time as ``torch.profiler`` records it), over ``steps`` steps of the plain loop. The
    profiler's per-operator overhead inflates the many small element-wise operators, hardly
    these; so their time over an unprofiled step's gives the products' share of a step."""
    from torch.profiler import ProfilerActivity, profile

    baseline_steps(module, tensors, batch, 2, objective)  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        baseline_steps(module, tensors, batch, steps, objective)
    own = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key in MATMUL_OPS)
    return own / 1e6 / steps


# ------------------------------------------------------------------ FLOP rate


def flop_setups(quick):
    t1_widths = [int(w) for w in np.random.default_rng(1).integers(30, 60, size=5)]
    n = 2000 if quick else 5000
    setups = {
        "paper T1": dict(
            X=make_data(n, t1_widths), batch=500,
            params=dict(n_components=30, aggregation="sumpooling", hidden_layer_sizes=(256, 256),
                        embedding_size=256, batch_size=500, weight_decay=0.0),  # Adam, as the loop
            describe=f"5 modalities {t1_widths}, widths (256, 256), sumpooling, latent 30, batch 500",
            width=256),
    }
    for m in (1, 4, 16, 64):
        features = 640 if m == 1 else 10
        setups[f"{m} x {features}" if m > 1 else "1 x 640"] = dict(
            X=make_data(2048, [features] * m, seed=m), batch=256,
            params=dict(batch_size=256),
            describe=f"{m} modalit{'y' if m == 1 else 'ies'} of {features} features, default parameters, batch 256",
            width=128)
    return setups


def flop_rate(results, quick, repeats):
    torch.set_num_threads(1)
    setups = flop_setups(quick)
    prepared = {}
    for name, s in setups.items():
        est = MultiModalVAE(max_epochs=1, validation_fraction=0.0, early_stopping=False,
                            random_state=0, n_jobs=1, **s["params"])
        est.fit(s["X"])
        tensors, _ = est._tensors(s["X"])
        flops = step_flops(est.module_, tensors, s["batch"])
        prepared[name] = (est.module_, tensors, flops)
        print(name, f"{flops / 1e9:.3f} GFLOP per step", flush=True)
    rows = {name: {"ratio": [], "step_ms": [], "shape_ratio": [], "matmul_ms": []} for name in setups}
    refs = []
    steps = 4 if quick else 8
    for r in range(repeats):
        ref = matmul_rate()
        refs.append(ref)
        for name, (module, tensors, flops) in prepared.items():
            s = setups[name]
            t = baseline_steps(module, tensors, s["batch"], steps)
            rate = flops / t / 1e9
            rows[name]["step_ms"].append(1e3 * t)
            rows[name]["ratio"].append(rate / ref)
            rows[name]["shape_ratio"].append(shape_rate(s["batch"], s["width"]) / ref)
            rows[name]["matmul_ms"].append(1e3 * matmul_seconds(module, tensors, s["batch"], steps))
        print(f"repeat {r}: matmul {ref:.1f} GFLOP/s", {n: round(v["ratio"][-1], 3) for n, v in rows.items()}, flush=True)
    out = {}
    for name, v in rows.items():
        flops = prepared[name][2]
        out[name] = {
            "describe": setups[name]["describe"],
            "gflop_per_step": flops / 1e9,
            "step_ms": statistics.median(v["step_ms"]),
            "fraction_of_matmul_rate": statistics.median(v["ratio"]),
            "shape_matmul_fraction": statistics.median(v["shape_ratio"]),
            "matmul_ms": statistics.median(v["matmul_ms"]),
        }
        row = out[name]
        row["matmul_share"] = row["matmul_ms"] / row["step_ms"]
        # the FLOP rate of the products alone, and the time the rest of a step may take for
        # the whole step to reach half the reference rate
        row["matmul_fraction_of_rate"] = flops / (row["matmul_ms"] / 1e3) / 1e9 / statistics.median(refs)
        row["rest_ms"] = row["step_ms"] - row["matmul_ms"]
        row["rest_ms_for_half"] = max(0.0, 1e3 * flops / (0.5 * statistics.median(refs) * 1e9) - row["matmul_ms"])
    results["flops"] = {"matmul_gflops": statistics.median(refs), "repeats": repeats, "setups": out}


# ------------------------------------------------------------------ batched networks


def _stacked_mlp(nets, x, shared_input):
    """The MLPs ``nets`` (equal shapes) as one batched computation: weights stacked at forward
    time, ``baddbmm`` per layer; ``x`` is ``(G, B, d)``, or ``(B, d)`` fed to all
    (``shared_input``: the first layer is then one matmul with the concatenated weights)."""
    layers = [[m for m in net if isinstance(m, torch.nn.Linear)] for net in nets]
    h = x
    for i in range(len(layers[0])):
        if i == 0 and shared_input:
            weight = torch.cat([ls[0].weight for ls in layers])
            bias = torch.cat([ls[0].bias for ls in layers])
            h = torch.addmm(bias, h, weight.t()).view(h.shape[0], len(nets), -1).transpose(0, 1)
        else:
            weight = torch.stack([ls[i].weight for ls in layers])
            bias = torch.stack([ls[i].bias for ls in layers])
            h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
        if i < len(layers[0]) - 1:
            h = torch.relu(h)
    return h


def batched(results, quick, repeats):
    """Per-modality encoders (10 -> w -> w -> 16) and decoders (8 -> w -> w -> 20) of M
    modalities, a training step on 256 rows (forward, backward, fused Adam): a loop over the
    modules against one batched computation, with the weights stacked at forward time from
    the per-modality modules, or stored stacked (equal up to float rounding, checked here)."""
    from skmmvae.nn.networks import StackedMLP, mlp

    torch.set_num_threads(1)
    out = {}
    for width in (128, 32):
        for m in (4, 16, 64):
            torch.manual_seed(0)
            encs = [mlp(10, (width, width), 16) for _ in range(m)]
            decs = [mlp(8, (width, width), 20) for _ in range(m)]
            enc_stack, dec_stack = StackedMLP.from_mlps(encs), StackedMLP.from_mlps(decs)
            xs = torch.randn(m, 256, 10)
            z = torch.randn(256, 8)
            params = [p for net in encs + decs for p in net.parameters()]
            stored_params = [*enc_stack.parameters(), *dec_stack.parameters()]
            optimisers = {"loop": torch.optim.Adam(params, lr=1e-6, fused=True),
                          "stacked": torch.optim.Adam(params, lr=1e-6, fused=True),
                          "stored": torch.optim.Adam(stored_params, lr=1e-6, fused=True)}

            def loop():
                enc = torch.stack([net(x) for net, x in zip(encs, xs)])
                dec = torch.stack([net(z) for net in decs])
                return enc, dec

            def stacked():
                return _stacked_mlp(encs, xs, False), _stacked_mlp(decs, z, True)

            def stored():
                return enc_stack(xs), dec_stack(z, shared=True)

            with torch.no_grad():
                for f in (stacked, stored):
                    for a, b in zip(loop(), f()):
                        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)

            def step(name, f):
                enc, dec = f()
                optimisers[name].zero_grad()
                (enc.square().mean() + dec.square().mean()).backward()
                optimisers[name].step()

            variants = (("loop", loop), ("stacked", stacked), ("stored", stored))
            times = {name: [] for name, _ in variants}
            for name, f in variants:
                step(name, f)
            for _ in range(repeats):
                for name, f in variants:
                    start = time.perf_counter()
                    for _ in range(3):
                        step(name, f)
                    times[name].append((time.perf_counter() - start) / 3)
            key = f"{m} modalities, width {width}"
            out[key] = {f"{name}_ms": 1e3 * statistics.median(t) for name, t in times.items()}
            for name in ("stacked", "stored"):
                out[key][f"{name}_speedup"] = statistics.median(
                    lo / st for lo, st in zip(times["loop"], times[name]))
            out[key]["speedup"] = out[key]["stacked_speedup"]
            print(key, out[key], flush=True)
    results["batched"] = {"repeats": repeats, "cases": out}


# ------------------------------------------------------------------ many small modalities


def phase_times(module, tensors, batch, steps, objective="tight"):
    """Median seconds of the forward pass, the backward pass and Adam's step of ``steps``
    training steps (the plain loop of ``run.py``, timed phase by phase)."""
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    phases = {"forward": [], "backward": [], "adam": []}
    for _ in range(steps):
        idx = torch.randperm(len(tensors))[:batch]
        xs = [x[idx] for x in tensors.xs]
        t0 = time.perf_counter()
        loss = -objective_terms(module, xs, tensors.mask[idx], objective)["objective"].mean()
        t1 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        phases["forward"].append(t1 - t0)
        phases["backward"].append(t2 - t1)
        phases["adam"].append(t3 - t2)
    return {k: statistics.median(v) for k, v in phases.items()}


def widths(results, quick, repeats):
    """ms per training step of 64 modalities of 10 features with the default sizes ("auto":
    widths 32, experts of rank 2) and at several explicit widths with full-rank experts,
    against one modality of the same 640 features with the default sizes (widths 128)."""
    torch.set_num_threads(1)
    base_name = "1 x 640, default sizes (widths 128, rank 12)"
    cases = {base_name: ([640], {}), "64 x 10, default sizes (widths 32, rank 2)": ([10] * 64, {})}
    for width in (128, 32, 16):
        cases[f"64 x 10, widths {width}, rank 12"] = ([10] * 64, dict(
            hidden_layer_sizes=(width, width), embedding_size=width, aggregator_options={"rank": 12}))
    prepared = {}
    for name, (features, sizes) in cases.items():
        X = make_data(2048, features, seed=len(features))
        est = MultiModalVAE(max_epochs=1, validation_fraction=0.0, early_stopping=False, random_state=0,
                            n_jobs=1, batch_size=256, **sizes)
        est.fit(X)
        prepared[name] = (est.module_, est._tensors(X)[0], len(features))
    times = {name: [] for name in cases}
    ratios = {name: [] for name in cases}
    phases = {name: [] for name in cases}
    for _ in range(repeats):
        for name, (module, tensors, m) in prepared.items():
            times[name].append(baseline_steps(module, tensors, 256, 3 if m > 1 else 12))
            phases[name].append(phase_times(module, tensors, 256, 3 if m > 1 else 12))
        base = times[base_name][-1]
        for name in cases:
            ratios[name].append(times[name][-1] / base)
    results["widths"] = {"repeats": repeats, "cases": {
        name: {"ms_per_step": 1e3 * statistics.median(times[name]), "ratio": statistics.median(ratios[name]),
               "n_tensors": sum(1 for _ in prepared[name][0].parameters()),
               **{f"{k}_share": statistics.median(p[k] / sum(p.values()) for p in phases[name])
                  for k in ("forward", "backward", "adam")}}
        for name in cases}}
    print(results["widths"], flush=True)


# ------------------------------------------------------------------ torch.compile


def fit_timed(X, compile_, epochs, params):
    """``(seconds of the first epoch, seconds per step of the later epochs)`` of one fit."""
    marks = []

    from skorch.callbacks import Callback

    class Clock(Callback):
        def on_epoch_end(self, net, **kwargs):
            marks.append((time.perf_counter(), net.history[-1, "train_batch_count"]))

    est = MultiModalVAE(max_epochs=epochs, validation_fraction=0.0, early_stopping=False,
                        random_state=0, n_jobs=1, compile=compile_, callbacks=[Clock()], **params)
    start = time.perf_counter()
    est.fit(X)
    first = marks[0][0] - start
    later = (marks[-1][0] - marks[0][0]) / sum(n for _, n in marks[1:])
    return first, later


def compile_cost(results, quick, repeats):
    torch.set_num_threads(1)
    cases = {
        "4 x 10, default parameters": (make_data(2048, [10] * 4, seed=4), dict(batch_size=256)),
        "paper T1, widths (256, 256)": (
            make_data(2000, [int(w) for w in np.random.default_rng(1).integers(30, 60, size=5)]),
            dict(n_components=30, aggregation="sumpooling", hidden_layer_sizes=(256, 256),
                 embedding_size=256, batch_size=500, weight_decay=0.0)),
    }
    epochs = 3 if quick else 4
    # a fresh on-disk cache: the first compilation of the run is a cold one, as in a user's
    # first compiled fit; later repeats hit inductor's caches (what a user's later fits pay)
    import tempfile

    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="skmmvae-inductor-")
    out = {}
    for name, (X, params) in cases.items():
        fit_timed(X, False, 2, params)  # warm-up: imports, allocator
        eager, compiled, first_eager, first_compiled = [], [], [], []
        for r in range(repeats):
            f, t = fit_timed(X, False, epochs, params)
            first_eager.append(f)
            eager.append(t)
            torch._dynamo.reset()
            f, t = fit_timed(X, True, epochs, params)
            first_compiled.append(f)
            compiled.append(t)
            print(name, r, f"eager {1e3 * eager[-1]:.2f} ms/step, compiled {1e3 * compiled[-1]:.2f} ms/step, "
                  f"first epoch {first_eager[-1]:.2f}s vs {first_compiled[-1]:.2f}s", flush=True)
        out[name] = {
            "eager_ms_per_step": 1e3 * statistics.median(eager),
            "compiled_ms_per_step": 1e3 * statistics.median(compiled),
            "speedup": statistics.median(e / c for e, c in zip(eager, compiled)),
            "compile_seconds_first": first_compiled[0] - first_eager[0],
            "compile_seconds_later": statistics.median(fc - fe for fc, fe in zip(first_compiled[1:], first_eager[1:])),
        }
    results["compile"] = {"repeats": repeats, "epochs": epochs, "cases": out}


# ------------------------------------------------------------------ start-up

_STARTUP = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
t0 = time.perf_counter()
import skmmvae
t1 = time.perf_counter()
import numpy as np
rng = np.random.default_rng(0)
X = {"a": rng.normal(size=(256, 5)).astype(np.float32), "b": rng.normal(size=(256, 4)).astype(np.float32)}
def fit():
    start = time.perf_counter()
    skmmvae.MultiModalVAE(n_components=2, max_epochs=2, random_state=0, n_jobs=1).fit(X)
    return time.perf_counter() - start
first = fit()
second = fit()
t2 = time.perf_counter()
import torch._dynamo  # already imported by torch.optim during the first fit
print(json.dumps({"import": t1 - t0, "first_fit": first, "second_fit": second,
                  "dynamo_in_first_fit": time.perf_counter() - t2 < 0.05}))
"""

_IMPORTS = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
import sklearn.base, skorch
t2 = time.perf_counter()
import skmmvae
t3 = time.perf_counter()
mods = sys.modules
t4 = time.perf_counter()
import torch._dynamo
t5 = time.perf_counter()
print(json.dumps({"torch": t1 - t0, "sklearn_skorch": t2 - t1, "skmmvae_own": t3 - t2,
                  "torch_dynamo": t5 - t4}))
"""


def startup(results, repeats):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    runs, parts = [], []
    for _ in range(repeats):
        for code, sink in ((_STARTUP, runs), (_IMPORTS, parts)):
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            sink.append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    results["startup"] = {
        "repeats": repeats,
        "import_s": med(runs, "import"),
        "first_fit_s": med(runs, "first_fit"),
        "second_fit_s": med(runs, "second_fit"),
        "first_fit_extra_s": statistics.median(r["first_fit"] - r["second_fit"] for r in runs),
        "torch_s": med(parts, "torch"),
        "sklearn_skorch_s": med(parts, "sklearn_skorch"),
        "skmmvae_own_s": med(parts, "skmmvae_own"),
        "torch_dynamo_s": med(parts, "torch_dynamo"),
    }
    print(results["startup"], flush=True)


# ------------------------------------------------------------------ report


def write_report(results, path):
    lines = ["# Compute efficiency, torch.compile and start-up", "",
             f"Machine: {results['machine']}. Command: `{results['command']}` (a part rerun "
             "alone, e.g. with `--widths`, replaces its section). "
             "All timings on one torch thread; ratios are medians of interleaved repeats.", ""]
    if "flops" in results:
        f = results["flops"]
        lines += [
            "## FLOP rate of a training step against a 1024 x 1024 float32 matmul", "",
            f"FLOPs of the forward and backward pass of one step of the default objective ('tight'), "
            f"counted by `torch.utils.flop_counter.FlopCounterMode`, divided by the time of a whole "
            f"training step (forward, backward, Adam) of a plain PyTorch loop; the reference is a "
            f"1024 x 1024 float32 matmul on one thread, measured in the same run "
            f"(median {f['matmul_gflops']:.1f} GFLOP/s; {f['repeats']} repeats). 'shape ceiling' is the "
            "same ratio for a lone matmul of the set-up's typical shape (batch x width @ width x width) "
            "repeated on the same operands, which stay in cache: an upper bound that a step, whose "
            "many weight and activation matrices do not fit in cache together, does not reach. "
            "'products' is the time per step inside the matrix products themselves (`mm`, `addmm`, "
            "`bmm`, `baddbmm`, as `torch.profiler` records it) and their own FLOP rate against "
            "the reference; 'rest' is the remainder of a step (the element-wise operators, the "
            "Cholesky factorisations of `poe_full`, autograd's and Python's overhead, Adam), "
            "and 'rest for 0.5' what the remainder may take for the whole step to reach half "
            "the reference rate at the products' measured speed.", "",
            "| set-up | GFLOP per step | ms per step | fraction of matmul rate | shape ceiling "
            "| products ms (share) | products' own rate | rest ms | rest for 0.5 ms |",
            "|---|---|---|---|---|---|---|---|---|"]
        for name, r in f["setups"].items():
            line = (f"| {name}: {r['describe']} | {r['gflop_per_step']:.3f} | {r['step_ms']:.2f} | "
                    f"{r['fraction_of_matmul_rate']:.2f} | {r['shape_matmul_fraction']:.2f} |")
            if "matmul_ms" in r:
                line += (f" {r['matmul_ms']:.2f} ({r['matmul_share']:.2f}) | {r['matmul_fraction_of_rate']:.2f} | "
                         f"{r['rest_ms']:.2f} | {r['rest_ms_for_half']:.2f} |")
            else:
                line += " | | | |"
            lines.append(line)
    if "widths" in results:
        w = results["widths"]
        lines += [
            "", "## Many small modalities: time per step against the network sizes", "",
            "64 modalities of 10 features against one modality of the same 640 features (default "
            "parameters but for the sizes given, batch 256; plain loop as above). The default "
            "sizes (`hidden_layer_sizes=\"auto\"`) narrow the networks of more than 8 modalities "
            "to 128 * 8 / M wide (32 here) and the experts' precision terms of `poe_full` to "
            "rank ceil(12 * 8 / M) (2 here); the other rows keep full-rank experts. "
            f"Medians of {w['repeats']} interleaved repeats. The shares of a step's time (timed "
            "phase by phase in a separate loop) show where it goes. The modalities' networks "
            "are stacked (one parameter per layer for all 64), so Adam's update is a small "
            "share; with full-rank experts, what grows with the number of modalities is the "
            "full-precision product of experts (64 experts of rank 12 per posterior) more than "
            "the networks' widths.", "",
            "| set-up | ms per step | x one modality of 640 | parameter tensors | forward share | backward share | Adam share |",
            "|---|---|---|---|---|---|---|"]
        for name, r in w["cases"].items():
            lines.append(f"| {name} | {r['ms_per_step']:.1f} | {r['ratio']:.1f} | {r.get('n_tensors', float('nan'))} | "
                         f"{r.get('forward_share', float('nan')):.2f} | {r.get('backward_share', float('nan')):.2f} | "
                         f"{r.get('adam_share', float('nan')):.2f} |")
    if "batched" in results:
        b = results["batched"]
        lines += [
            "", "## Per-modality networks as one batched computation", "",
            "Encoders (10 -> w -> w -> 16) and decoders (8 -> w -> w -> 20) of M modalities, a "
            "training step on 256 rows (forward, backward, fused Adam): a loop over the modules "
            "(what the model does) against one batched computation (`baddbmm` per layer; the "
            "decoders' shared input broadcast), with the weights either stacked at forward time "
            "from the per-modality modules or stored stacked as parameters (one tensor per layer "
            "for Adam); outputs equal up to float rounding (checked). "
            f"Medians of {b['repeats']} interleaved repeats.", "",
            "| set-up | loop ms | stacked per step ms | stored stacked ms | speed-up, stacked per step (x) "
            "| speed-up, stored stacked (x) |", "|---|---|---|---|---|---|"]
        for name, r in b["cases"].items():
            lines.append(f"| {name} | {r['loop_ms']:.1f} | {r['stacked_ms']:.1f} | {r.get('stored_ms', float('nan')):.1f} "
                         f"| {r['speedup']:.2f} | {r.get('stored_speedup', float('nan')):.2f} |")
    if "compile" in results:
        c = results["compile"]
        lines += [
            "", "## torch.compile on the CPU", "",
            f"`fit` with `compile=False` and `compile=True`, interleaved ({c['repeats']} repeats, "
            f"{c['epochs']} epochs each): ms per step over the epochs after the first, and the extra "
            "seconds of the compiled fit's first epoch (the compilation): the first compilation "
            "of the process with an empty on-disk cache (the first set-up also imports the "
            "compiler), and later ones (torch's caches warm; the median of the other repeats).", "",
            "| set-up | eager ms/step | compiled ms/step | speed-up (x) | first compile s | later compiles s |",
            "|---|---|---|---|---|---|"]
        for name, r in c["cases"].items():
            lines.append(f"| {name} | {r['eager_ms_per_step']:.2f} | {r['compiled_ms_per_step']:.2f} | "
                         f"{r['speedup']:.2f} | {r['compile_seconds_first']:.1f} | {r['compile_seconds_later']:.1f} |")
    if "startup" in results:
        s = results["startup"]
        lines += [
            "", "## Start-up", "",
            f"Fresh processes, medians of {s['repeats']}. The first fit of a process pays one-off "
            "costs that the second does not: chiefly `torch.optim` importing `torch._dynamo` "
            "(and sympy) when the first optimiser is created, which torch does for any optimiser.", "",
            "| part | seconds |", "|---|---|",
            f"| `import skmmvae` | {s['import_s']:.2f} |",
            f"| of which torch | {s['torch_s']:.2f} |",
            f"| of which scikit-learn and skorch (scikit-learn imports scipy.stats and pandas) | {s['sklearn_skorch_s']:.2f} |",
            f"| of which skmmvae's own modules | {s['skmmvae_own_s']:.3f} |",
            f"| first fit (256 rows, 2 epochs) | {s['first_fit_s']:.2f} |",
            f"| second fit, same process | {s['second_fit_s']:.2f} |",
            f"| first fit's extra cost | {s['first_fit_extra_s']:.2f} |",
            f"| `import torch._dynamo` alone (after torch) | {s['torch_dynamo_s']:.2f} |",
        ]
    path.write_text("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and rows")
    parser.add_argument("--flops", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--startup", action="store_true")
    parser.add_argument("--batched", action="store_true")
    parser.add_argument("--widths", action="store_true")
    parser.add_argument("--output", default=str(HERE / "efficiency_results.md"))
    args = parser.parse_args(argv)
    everything = not (args.flops or args.compile or args.startup or args.batched or args.widths)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    json_path = out.with_suffix(".json")
    results = json.loads(json_path.read_text()) if json_path.is_file() else {}
    q = args.quick
    results.update({
        "command": "python benchmarks/speed/efficiency.py" + (" --quick" if q else ""),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
    })
    if everything or args.flops:
        flop_rate(results, q, 3 if q else 5)
    if everything or args.widths:
        widths(results, q, 3 if q else 5)
    if everything or args.batched:
        batched(results, q, 5 if q else 9)
    if everything or args.compile:
        compile_cost(results, q, 2 if q else 3)
    if everything or args.startup:
        startup(results, 3 if q else 5)
    json_path.write_text(json.dumps(results, indent=2))
    write_report(results, out)
    print(out.read_text())


if __name__ == "__main__":
    main()
