"""The scale benchmarks run end to end (``--quick``), and leave the results files alone."""

import re

import pytest
from _bench_runs import run_quick


def _row(text, label):
    (line,) = [line for line in text.splitlines() if line.startswith(f"| {label}")]
    return [cell.strip() for cell in line.strip("|").split("|")][1:]


@pytest.mark.slow  # 10-20 s; the default suite keeps under ten minutes
def test_nystroem_benchmark_closed_form_generations_score_as_the_refits():
    out = run_quick("bench_krr_nystroem.py")
    ours = _row(out, "(a) ours, Nystroem")
    refits = _row(out, "(b) refit loop, Nystroem")
    assert ours[:5] == refits[:5] and all(re.fullmatch(r"0\.\d{4}", r2) for r2 in ours[:5])
    for fit in ("(c) plain pipeline fit", "(a) ours, closed form, 5", "(b) refit loop, 5"):
        assert re.search(r"\d+\.\d+x", " ".join(_row(out, fit)))


@pytest.mark.slow  # 10-20 s; the default suite keeps under ten minutes
def test_generation_cost_benchmark_has_a_row_per_path_and_a_ratio_per_column():
    out = run_quick("bench_generation_cost.py")
    for path in ("closed form", "sample weight", "skorch net"):
        cells = _row(out, path)
        assert len(cells) == 6
        # (the per-generation slope of a --quick run can come out below zero on a busy machine)
        assert all(re.match(r"-?\d+\.\d+x", cell) for cell in cells[1:])


@pytest.mark.slow  # 10-20 s; the default suite keeps under ten minutes
def test_nn_overhead_benchmark_has_every_way_and_a_verdict_per_goal():
    out = run_quick("bench_nn_overhead.py")
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in out.splitlines()
        if line.startswith("| ") and not line.startswith("| way")
    ]
    ways = [row[0] for row in rows]
    for way in ("skorch", "gen 0", "hand", "gen", "hand distill"):
        assert ways.count(way) == 3, way  # in each of the three tables
    assert ways.count("gen 0, per-image RandAugment") == 1
    for way, seconds, reference, ratio, spread, goal in rows:
        assert re.fullmatch(r"\d+\.\d{2}", seconds) and re.fullmatch(r"\d+\.\d{2}", ratio)
        assert re.fullmatch(r"\d+\.\d{2} to \d+\.\d{2}", spread)
        assert reference == ("hand distill" if way in ("gen", "hand distill") else "hand")
        # Each goal gets the verdict its measured ratio earns.
        if way in ("gen 0", "gen"):
            limit = float(re.search(r"<= (\d\.\d+)", goal).group(1))
            assert goal.endswith("not met") == (float(ratio) > limit), (way, ratio, goal)
