"""Peak memory of ``score_samples`` beyond its input, against the number of rows (Linux).

Each size runs in a fresh process: the peak resident memory is reset (``/proc/self/clear_refs``)
just before the call and read after it. Writes ``benchmarks/speed/score_memory.md``.

    python benchmarks/speed/score_memory.py [--rows 100000 1000000 2000000]
"""
import argparse
import subprocess
import sys
from pathlib import Path

CHILD = """
import sys, warnings
import numpy as np
warnings.filterwarnings("ignore")
from skmmvae import MultiModalVAE

def peak_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmHWM"))

n = int(sys.argv[1])
rng = np.random.default_rng(0)
X = {"a": rng.normal(size=(n, 10)), "b": rng.normal(size=(n, 9))}
vae = MultiModalVAE(max_epochs=1, random_state=0).fit({k: v[:2000] for k, v in X.items()})
open("/proc/self/clear_refs", "w").write("5")
start = peak_mb()
vae.score_samples(X)
print(sum(v.nbytes for v in X.values()) / 2**20, peak_mb() - start)
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 2_000_000])
    args = parser.parse_args(argv)
    lines = ["# Peak memory of score_samples", "",
             "Default model (2 Gaussian modalities of 10 and 9 features), 64 importance samples; "
             "peak resident memory beyond the process's size at the call (MB).", "",
             "| rows | input (MB) | peak beyond it (MB) |", "|---|---|---|"]
    for n in args.rows:
        out = subprocess.run([sys.executable, "-c", CHILD, str(n)], capture_output=True, text=True, check=True)
        data, peak = map(float, out.stdout.split())
        lines.append(f"| {n:,} | {data:.0f} | {peak:.0f} |")
        print(lines[-1], flush=True)
    path = Path(__file__).with_name("score_memory.md")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
