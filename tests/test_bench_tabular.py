"""The tabular noisy-label study: a quick run end to end (its noise: test_datasets.py)."""

import re

import pytest
from _bench_runs import run_quick

pytest.importorskip("cleanlab")


@pytest.mark.slow  # about 20 s of CPU; the default suite keeps under ten minutes
def test_quick_run_scores_every_arm_and_writes_nothing():
    out = run_quick("bench_tabular_noise.py")
    rows = [line for line in out.splitlines() if line.startswith("| wine | 40%")]
    accuracy, gains, *against_cleanlab = rows
    assert len(re.findall(r"\d+\.\d\d \(", accuracy)) == 22
    assert len(re.findall(r"[+-]\d+\.\d\d \(\d/1 seeds up\)", gains)) == 7
    assert [row.split(" | ")[2] for row in against_cleanlab] == ["HGB", "RF", "LR"]
    for row in against_cleanlab:
        assert len(re.findall(r"[+-]\d+\.\d\d \(\d/1\)", row)) == 3
