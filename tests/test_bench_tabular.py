"""The tabular noisy-label study: its label noise, and a quick run end to end."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _module():
    spec = importlib.util.spec_from_file_location(
        "bench_tabular_noise", BENCHMARKS / "bench_tabular_noise.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_label_noise_flips_the_share_to_another_class_and_is_seeded():
    flip_labels = _module().flip_labels
    y = np.repeat(np.arange(5), 40)
    noisy = flip_labels(y, 0.4, np.random.RandomState(0))
    assert np.sum(noisy != y) == 80  # exactly the share, never to the same class
    assert set(noisy) == set(y)
    np.testing.assert_array_equal(noisy, flip_labels(y, 0.4, np.random.RandomState(0)))
    assert not np.array_equal(noisy, flip_labels(y, 0.4, np.random.RandomState(1)))
    np.testing.assert_array_equal(flip_labels(y, 0.0, np.random.RandomState(0)), y)


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
