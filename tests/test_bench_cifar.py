"""The CIFAR-10 Noisy Student script for a GPU, run on the CPU on tiny files of the format."""

import pickle
import re
import subprocess
import sys

import numpy as np
from _bench_runs import BENCHMARKS

TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def _write_cifar(folder, rows_per_batch=16):
    """Random CIFAR-10 batches in the python format, every class in every batch."""
    rng = np.random.default_rng(0)
    for name, rows in [(n, rows_per_batch) for n in TRAIN_BATCHES] + [("test_batch", 20)]:
        data = rng.integers(0, 256, (rows, 3072), dtype=np.uint8)
        labels = [i % 10 for i in range(rows)]
        (folder / name).write_bytes(pickle.dumps({b"data": data, b"labels": labels}))


def test_quick_cifar_noisy_student_trains_every_generation_on_the_files(tmp_path):
    _write_cifar(tmp_path)
    results = sorted((BENCHMARKS / "results").iterdir())
    before = {path: path.read_bytes() for path in results}
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_noisy_student_cifar.py"),
            "--quick",
            "--data-home",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = re.findall(
        r"^\| (supervised \(generation 0\)|Noisy Student gen \d) \| ([0-9.]+) \|",
        done.stdout,
        flags=re.MULTILINE,
    )
    assert [name for name, _ in rows] == [
        "supervised (generation 0)",
        "Noisy Student gen 1",
        "Noisy Student gen 2",
    ]
    assert "20 labelled training images, 60 unlabelled" in done.stdout
    assert "pseudo-labels:" in done.stdout  # the data step ran in each generation
    assert {path: path.read_bytes() for path in results} == before  # --quick writes nothing
