"""The cell-dropout rate screened on the cell-wise regimes (results/cell_dropout_screen.jsonl):
0.2 (the default), 0.1, 0.35, and the regime's own missing rate ("match"), 3 seeds each.
Usage: python benchmarks/quality/cell_dropout_screen.py OUT.jsonl"""
import sys, json, warnings
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
warnings.filterwarnings("ignore")
import skmmvae._schema as sch
from benchmarks.quality.cells import run_one
out = open(sys.argv[1], "a")
for ds in ("breast_cancer", "digits"):
    for regime in ("mcar10", "mcar30", "mcar50"):
        for seed in (0, 1, 2):
            rate = {"mcar10": 0.1, "mcar30": 0.3, "mcar50": 0.5}[regime]
            for label, cd in (("cd0.2", 0.2), ("cd0.1", 0.1), ("cd0.35", 0.35), ("match", rate)):
                if label == "match" and rate in (0.2,):
                    continue
                sch.CELL_DROPOUT = cd
                rec = run_one(ds, regime, seed, ["vae"])[0]
                rec["config"] = label; rec["cell_dropout"] = cd
                out.write(json.dumps(rec) + "\n"); out.flush()
