"""The tight objective with its two KL terms weighted apart: a lever measured, not in the package.

``TightBound`` weighs both of its KL terms by ``beta``: the subset term's ``KL(q(z | x_S) ||
p(z))`` and the cross term's ``KL(q(z | x) || q(z | x_S))``, whose gradient trains the
subset posteriors that ``predict`` uses. This script runs ``run.py`` with them weighted by
``SUBSET * beta`` and ``CROSS * beta`` (so ``1 2`` with the default ``beta=0.5`` keeps the
prior's KL at 0.5 and gives the cross term its full weight, 1, after the warm-up)::

    python benchmarks/quality/kl_weights.py 1 2 --datasets breast_cancer nonlinear \\
        --regimes complete missing --methods s1c2 --vae 's1c2={"n_components": 24}' \\
        --out /tmp/s1c2.jsonl

Results: ``docs/quality.rst`` (section "Latent size and beta with the linear path").
"""
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from skmmvae.nn import objectives  # noqa: E402


def weighted_bound(subset_factor, cross_factor):
    """``TightBound.bound`` with its KL terms weighted by ``subset_factor * beta`` and
    ``cross_factor * beta`` (the package's bound is ``1, 1``): the package's terms,
    recombined."""
    package_bound = objectives.TightBound.bound

    def bound(self, model, xs, mask, tokens, subset, beta):
        terms = package_bound(self, model, xs, mask, tokens, subset, beta)
        terms["objective"] = (terms["reconstruction"] - subset_factor * beta * terms["kl"]
                              + terms["cross_reconstruction"]
                              - cross_factor * beta * terms["cross_kl"])
        return terms
    return bound


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    subset_factor, cross_factor = float(argv[0]), float(argv[1])
    objectives.TightBound.bound = weighted_bound(subset_factor, cross_factor)
    sys.argv = ["run.py", *argv[2:]]
    runpy.run_path(str(ROOT / "benchmarks" / "quality" / "run.py"), run_name="__main__")


if __name__ == "__main__":
    main()
