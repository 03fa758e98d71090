"""CPU of a default fit with the experts' rank capped on wide data against full rank.

Since the rank of ``poe_full``'s experts is at most 12 on data of 192 columns or more
(``skmmvae._sizes.auto_rank``), a default fit on wide data trains its 24-dimensional size
with cheaper experts. This script fits the default twice on one split of the quality suite,
in one process, with full rank (``auto_rank`` patched to ignore the number of columns; the
wide latent size is tried as in the default, which ``aggregator_options`` would turn off)
and with the cap, and prints each fit's CPU seconds and latent-size choice as JSON lines::

    python benchmarks/quality/expert_rank_cost.py mfeat_like complete 0

Results (``results/expert_rank_cost.jsonl``, alone on the machine): ``mfeat_like`` complete,
seed 0, 80.3 against 94.7 CPU s (0.85; 24 dimensions kept in both); the multiple features
with views missing, seed 0, 58.9 against 66.5 (0.89; the wide size kept in both).
"""
import json
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import skmmvae._training as training  # noqa: E402
from benchmarks.quality.datasets import load_dataset  # noqa: E402
from benchmarks.quality.regimes import make_split  # noqa: E402
from benchmarks.quality.vae import VAEMethod  # noqa: E402
from benchmarks.quality.suite import case_arguments  # noqa: E402


def main(argv=None):
    args = case_arguments(__doc__, argv)
    dataset = load_dataset(args.dataset)
    split = make_split(dataset, args.regime, args.seed)
    capped = training.auto_rank
    for label, rank in (("full", lambda m, d, columns=0: capped(m, d, 0)), ("cap", capped)):
        training.auto_rank = rank
        method = VAEMethod("default", {}, dataset, args.seed)
        start = time.process_time()
        method.fit(split)
        cpu = time.process_time() - start
        print(json.dumps({"dataset": args.dataset, "regime": args.regime, "seed": args.seed,
                          "rank": label, "cpu_s": round(cpu, 1), **method.info()}), flush=True)
    training.auto_rank = capped


if __name__ == "__main__":
    main()
