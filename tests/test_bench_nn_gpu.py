"""The GPU benchmark reads IDX files and runs end to end (here on the CPU, tiny)."""

import gzip
import importlib.util
import re
import struct
from pathlib import Path

import numpy as np
import pytest

N_IMAGES = 64


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load_benchmark():
    path = BENCHMARKS / "bench_nn_gpu.py"
    spec = importlib.util.spec_from_file_location("bench_nn_gpu", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_fashion_mnist(tmp_path):
    """A train split of 64 random 28x28 images with labels 0..9, as gzip IDX files."""
    rng = np.random.default_rng(0)
    images = rng.integers(1, 256, size=(N_IMAGES, 28, 28), dtype=np.uint8)
    labels = np.arange(N_IMAGES, dtype=np.uint8) % 10
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    return tmp_path, images, labels


def test_reads_and_pads_fashion_mnist(fake_fashion_mnist):
    data_dir, images, labels = fake_fashion_mnist
    X, y = _load_benchmark().load_padded_fashion_mnist(data_dir, "train")
    assert X.shape == (N_IMAGES, 1, 32, 32)
    assert X.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_allclose(X[:, 0, 2:30, 2:30], images / 255, rtol=1e-6)
    border = np.ones((32, 32), dtype=bool)
    border[2:30, 2:30] = False
    assert np.all(X[:, 0, border] == 0)
    # The fake images have no zero pixel: the border is the padding, not the data.
    assert X[:, 0, 2:30, 2:30].min() > 0


@pytest.mark.parametrize(
    "options, settings",
    [
        ([], "autocast none, channels_last False, device cpu"),
        (["--autocast", "bf16", "--channels-last"], "autocast bf16, channels_last True"),
    ],
    ids=["float32", "bf16-channels-last"],
)
def test_quick_run_prints_the_table_and_writes_nothing(
    fake_fashion_mnist, tmp_path, capsys, options, settings
):
    data_dir, _, _ = fake_fashion_mnist
    out = tmp_path / "results" / "nn_gpu.md"
    bench = _load_benchmark()
    argv = ["--quick", "--device", "cpu", "--data-dir", str(data_dir), "--out", str(out)]
    tiny = ["--num-blocks", "1", "1", "1", "1", "--width", "4"]
    summary = bench.main([*argv, *tiny, *options])
    printed = capsys.readouterr().out
    assert not out.exists()
    rows = {
        "distillation generation (generation 1)": "generation",
        "hand-written distillation loop": "hand_distillation",
        "plain skorch fit (generation 0)": "plain",
        "hand-written plain loop": "hand_plain",
    }
    for label, key in rows.items():
        match = re.search(
            rf"^\| {re.escape(label)} \| ([\d.]+) \| (\d+) \| ([\d.]+)", printed, re.M
        )
        assert match, f"no row {label!r} in:\n{printed}"
        seconds, images_per_second, ratio = (float(value) for value in match.groups())
        assert seconds > 0 and images_per_second > 0 and ratio > 0
        assert seconds == pytest.approx(summary[key]["seconds"], abs=0.006)
    assert "target >= 0.90" in printed
    assert f"{N_IMAGES} training images" in printed
    assert settings in printed
    assert "torch " in printed and "Command: `python benchmarks/bench_nn_gpu.py --quick" in printed
