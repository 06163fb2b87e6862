"""The scale benchmarks run end to end (``--quick``), and leave the results files alone."""

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script):
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


def _row(text, label):
    (line,) = [line for line in text.splitlines() if line.startswith(f"| {label}")]
    return [cell.strip() for cell in line.strip("|").split("|")][1:]


def test_nystroem_benchmark_closed_form_generations_score_as_the_refits():
    out = _run("bench_krr_nystroem.py")
    ours = _row(out, "(a) ours, Nystroem")
    refits = _row(out, "(b) refit loop, Nystroem")
    assert ours[:5] == refits[:5] and all(re.fullmatch(r"0\.\d{4}", r2) for r2 in ours[:5])
    for fit in ("(c) plain pipeline fit", "(a) ours, closed form, 5", "(b) refit loop, 5"):
        assert re.search(r"\d+\.\d+x", " ".join(_row(out, fit)))


def test_generation_cost_benchmark_has_a_row_per_path_and_a_ratio_per_column():
    out = _run("bench_generation_cost.py")
    for path in ("closed form", "sample weight", "skorch net"):
        cells = _row(out, path)
        assert len(cells) == 6
        # (the per-generation slope of a --quick run can come out below zero on a busy machine)
        assert all(re.match(r"-?\d+\.\d+x", cell) for cell in cells[1:])
