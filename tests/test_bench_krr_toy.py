"""The toy study reproduces all 14 numbers of Borup & Andersen's table."""

import importlib.util
from pathlib import Path

import pytest

BORUP_ANDERSEN = {
    1.0: [0.16477, 0.15076, 0.14915, 0.15561, 0.16735, 0.18251, 0.49505],
    0.65: [0.16477, 0.15424, 0.15089, 0.14983, 0.14954, 0.14948, 0.14959],
}


def _load_benchmark():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_krr_toy.py"
    spec = importlib.util.spec_from_file_location("bench_krr_toy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("alpha", [1.0, 0.65])
def test_toy_table_to_five_decimals(alpha):
    table = _load_benchmark().toy_table()
    assert [round(v, 5) for v in table[alpha]] == BORUP_ANDERSEN[alpha]


def test_committed_result_table_is_the_current_one():
    bench = _load_benchmark()
    committed = (Path(bench.__file__).parent / "results" / "krr_toy.md").read_text()
    assert bench.to_markdown(bench.toy_table()) in committed
