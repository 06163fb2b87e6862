"""Run a benchmark script's ``--quick`` mode, as the benchmark tests do."""

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_quick(script):
    """stdout of ``python benchmarks/<script> --quick``; checks it exits 0, writes nothing."""
    results = sorted((BENCHMARKS / "results").iterdir())
    before = {path: path.read_bytes() for path in results}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert {path: path.read_bytes() for path in results} == before  # --quick writes nothing
    return done.stdout
