"""Smoke tests of the paper benchmark scripts: each ``--quick`` run writes finite tables."""
import csv
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PAPER = Path(__file__).resolve().parents[1] / "benchmarks" / "paper"
TEXT_COLUMNS = {"aggregation", "objective", "split", "standardize"}


def run_script(name, *args, timeout=300):
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, str(PAPER / name), *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=PAPER.parents[1],
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def check_csv(path, n_rows):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == n_rows
    for row in rows:
        numbers = {k: v for k, v in row.items() if k not in TEXT_COLUMNS}
        assert numbers
        for key, value in numbers.items():
            assert math.isfinite(float(value)), (key, value)
    return rows


def check_markdown(path, n_config_rows):
    """Every body cell of every table is a name or finite numbers ("m" or "m ± s")."""
    text = path.read_text()
    body = [line for line in text.splitlines()
            if line.startswith("|") and not line.startswith("|---") and "| seeds |" not in line]
    assert len(body) >= n_config_rows
    for line in body:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        numeric = [c for c in cells if c and not re.fullmatch(r"[A-Za-z_]+", c)]
        assert numeric, line
        for cell in numeric:
            for part in cell.split("±"):
                assert math.isfinite(float(part)), line
    return text


def test_t1_quick(tmp_path):
    run_script("t1_linear_gaussian.py", "--quick", "--output", str(tmp_path))
    out = tmp_path / "quick"
    rows = check_csv(out / "t1_runs.csv", 4)
    assert {r["aggregation"] for r in rows} == {"sumpooling", "poe"}
    check_markdown(out / "t1_results.md", 4)


def test_t2_quick(tmp_path):
    run_script("t2_bimodal.py", "--quick", "--output", str(tmp_path))
    out = tmp_path / "quick"
    rows = check_csv(out / "t2_runs.csv", 2)
    for row in rows:
        for key in ("mcc_strong_out_sample", "mcc_weak_in_mean"):
            assert 0.0 <= float(row[key]) <= 1.0
        # ll_sum is the sum of the per-sample log-likelihoods over the data set
        assert float(row["ll_sum"]) == pytest.approx(float(row["ll_mean"]) * int(row["n_samples"]), rel=1e-6)
    text = check_markdown(out / "t2_results.md", 2)
    assert "mcc_strong_out_sample" in text
    assert (out / "t2_latents.png").stat().st_size > 0


def test_t3_quick(tmp_path):
    run_script("t3_multimodal_missing.py", "--quick", "--output", str(tmp_path))
    out = tmp_path / "quick"
    rows = check_csv(out / "t3_runs.csv", 2)
    pairs = [k for k in rows[0] if re.fullmatch(r"pair_m\d_m\d", k)]
    assert len(pairs) == 6  # every pair of the 4 modalities
    for row in rows:
        assert row["split"] == "faithful"
        for key in ("test_mcc_strong_out_sample", "pair_mcc_strong_out_mean", *pairs):
            assert 0.0 <= float(row[key]) <= 1.0
    check_markdown(out / "t3_results.md", 2)


def test_collect(tmp_path):
    results = tmp_path / "results"
    (results / "reference").mkdir(parents=True)
    (results / "quick").mkdir()
    (results / "t2_results.md").write_text("## T2 table\n\n| a | b |\n|---|---|\n| x | 1.0 |\n")
    (results / "reference" / "t1_results.md").write_text("## T1 reference\n\nvalues\n")
    (results / "quick" / "t3_results.md").write_text("## quick, not merged\n")
    output = tmp_path / "results.md"
    run_script("collect.py", "--results", str(results), "--output", str(output))
    text = output.read_text()
    assert text.index("### T1 reference") < text.index("### T2 table")
    assert "quick, not merged" not in text
    assert "t2_bimodal.py" in text and "t3_multimodal_missing.py" in text
