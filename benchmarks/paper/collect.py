"""Merge the paper benchmarks' Markdown tables into ``benchmarks/paper/results.md``.

Every ``results/*_results.md`` written by the target scripts (``t1_linear_gaussian.py``,
``t2_bimodal.py``, ``t3_multimodal_missing.py``), and the official-code comparison
``results/reference/t1_results.md`` of ``t1_linear_gaussian.py --reference``, is copied in
order under a header that lists the commands and budgets. Smoke runs (``results/quick/``)
are left out. The documentation page "Reproducing the paper" includes the merged file.

Usage::

    python benchmarks/paper/collect.py            # after running some of the scripts
"""
import argparse
import datetime
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent

HEADER = """\
# Reproducing Hirt et al. (arXiv 2309.00380) with skmmvae

Tables merged by `python benchmarks/paper/collect.py` from the files the target scripts write
under `benchmarks/paper/results/`. The paper's own numbers are not available (see the digest),
so the tables are judged against exact quantities (T1) and against the paper's qualitative
claims: the tight ("masked") objective beats the mixture bound, and permutation-invariant
encoders (sumpooling, selfattention and their mixtures) are at least as good as PoE/MoE.
All runs are CPU runs with one torch thread; the budgets below are far smaller than the
paper's unless `--full` was used, so differences partly reflect speed of convergence.

| target | command | budget of the default (reduced) run | paper budget |
|---|---|---|---|
| T1 linear Gaussian (paper 5.1, Table 1) | `python benchmarks/paper/t1_linear_gaussian.py` | 100 epochs (1 000 steps), N = 5 000, 3 seeds, 4 aggregations x 2 objectives | `--full`: 4 000 epochs |
| T1 reference | `python benchmarks/paper/t1_linear_gaussian.py --reference` | sumpooling + tight, seed 1, 220 epochs, vs the official JAX code | - |
| T2 bimodal iVAE (paper 5.2) | `python benchmarks/paper/t2_bimodal.py` | 100 epochs (1 600 steps), N = 4 000, 3 seeds, 5 aggregations x 2 objectives | `--full`: 4 000 epochs (64 000 steps) |
| T3 multi-modal iVAE, 50 % missing (paper 5.2) | `python benchmarks/paper/t3_multimodal_missing.py` | 50 epochs (1 000 steps), N = 10 000 (5 000 train / 5 000 test), widths 128, K = 64, 3 seeds, 5 aggregations x 2 objectives x 2 splits | `--full`: 4 000 epochs (80 000 steps), widths 256, K = 512 |

Every script takes `--quick` (a smoke run of seconds, written to `results/quick/`, not merged
here), `--epochs` and `--seeds` to change the budget. Each section below states the budget and the
command it was actually run with; sections marked "custom budget" are extra runs (e.g. a few
configurations trained longer, written with `--name`) that follow their target's default run.
"""

def result_files(results_dir):
    """The tables to merge, grouped by target (t1, t2, ...): the default run first, then the
    official-code reference (T1) and any extra runs (``--name t2_long400`` etc.)."""
    files = list(results_dir.glob("*_results.md"))
    reference = results_dir / "reference" / "t1_results.md"
    if reference.is_file():
        files.append(reference)

    def key(path):
        stem = path.name[: -len("_results.md")]
        target = stem.split("_")[0]
        return (target, path.parent != results_dir or stem != target, path.parent == results_dir, stem)

    return sorted(files, key=key)


def demote(text):
    """Shift Markdown headings one level down, so each file sits under the main title."""
    return re.sub(r"^(#{1,5}) ", r"#\1 ", text, flags=re.M)


def collect(results_dir, output):
    results_dir, output = Path(results_dir), Path(output)
    files = result_files(results_dir)
    parts = [HEADER.rstrip(), ""]
    if not files:
        parts.append("No results yet: run one of the scripts above first.")
    for path in files:
        rel = path.relative_to(results_dir).as_posix()
        parts += [demote(path.read_text().strip()), "", f"_Source: `benchmarks/paper/results/{rel}`._", ""]
        figure = path.with_name(path.name.replace("_results.md", "_latents.png"))
        if figure.is_file():
            parts += ["4-panel figure (true sources, observations, posterior, reconstructions): "
                      f"`benchmarks/paper/results/{figure.relative_to(results_dir).as_posix()}`.", ""]
    stamp = datetime.date.today().isoformat()
    parts.append(f"_Collected on {stamp} from {len(files)} file(s)._")
    output.write_text("\n".join(parts) + "\n")
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(description="Merge the paper benchmark tables.")
    parser.add_argument("--results", default=str(HERE / "results"), help="folder of *_results.md")
    parser.add_argument("--output", default=str(HERE / "results.md"))
    args = parser.parse_args(argv)
    files = collect(args.results, args.output)
    print(f"wrote {args.output} from {len(files)} file(s): " + ", ".join(p.name for p in files))


if __name__ == "__main__":
    main()
