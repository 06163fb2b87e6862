"""The tabular noisy-label study: a quick run end to end (its noise: test_datasets.py)."""

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_quick_run_scores_every_arm_and_writes_nothing():
    results = sorted((BENCHMARKS / "results").iterdir())
    before = {path: path.read_bytes() for path in results}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_tabular_noise.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert {path: path.read_bytes() for path in results} == before
    rows = [line for line in done.stdout.splitlines() if line.startswith("| wine | 40%")]
    accuracy, gains = rows
    assert len(re.findall(r"\d+\.\d\d \(", accuracy)) == 10
    assert len(re.findall(r"[+-]\d+\.\d\d \(\d/1 seeds up\)", gains)) == 7
