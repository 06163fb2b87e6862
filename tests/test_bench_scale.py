"""The scale benchmarks run end to end (``--quick``), and leave the results files alone."""

import re

from _bench_runs import run_quick


def _row(text, label):
    (line,) = [line for line in text.splitlines() if line.startswith(f"| {label}")]
    return [cell.strip() for cell in line.strip("|").split("|")][1:]


def test_nystroem_benchmark_closed_form_generations_score_as_the_refits():
    out = run_quick("bench_krr_nystroem.py")
    ours = _row(out, "(a) ours, Nystroem")
    refits = _row(out, "(b) refit loop, Nystroem")
    assert ours[:5] == refits[:5] and all(re.fullmatch(r"0\.\d{4}", r2) for r2 in ours[:5])
    for fit in ("(c) plain pipeline fit", "(a) ours, closed form, 5", "(b) refit loop, 5"):
        assert re.search(r"\d+\.\d+x", " ".join(_row(out, fit)))


def test_generation_cost_benchmark_has_a_row_per_path_and_a_ratio_per_column():
    out = run_quick("bench_generation_cost.py")
    for path in ("closed form", "sample weight", "skorch net"):
        cells = _row(out, path)
        assert len(cells) == 6
        # (the per-generation slope of a --quick run can come out below zero on a busy machine)
        assert all(re.match(r"-?\d+\.\d+x", cell) for cell in cells[1:])
