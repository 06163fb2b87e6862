"""The generations benchmark: its tables, verdict and quick runs (no Fashion-MNIST needed)."""

import csv
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("skorch")

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

# Two seeds (rows), generations 0 and 1 and the ensemble (columns).
ACCURACIES = np.array([[0.80, 0.82, 0.84], [0.82, 0.84, 0.88]])


def _load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "bench_generations", BENCHMARKS / "bench_generations.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _load_benchmark()


def test_summary_is_mean_sample_std_and_gain_in_points(bench):
    summary = bench.summarize(ACCURACIES)
    np.testing.assert_allclose(summary["mean"], [0.81, 0.83, 0.86])
    np.testing.assert_allclose(summary["std"], [0.02 / np.sqrt(2)] * 2 + [0.04 / np.sqrt(2)])
    np.testing.assert_allclose(summary["gain"], [0.0, 2.0, 5.0], atol=1e-12)


def test_table_has_a_row_per_generation_and_the_ensemble_row(bench):
    lines = bench.generation_table(ACCURACIES).splitlines()
    assert lines[2:] == [
        "| 0 | 0.8100 | 0.0141 | +0.00 |",
        "| 1 | 0.8300 | 0.0141 | +2.00 |",
        "| ensemble of 0-1 | 0.8600 | 0.0283 | +5.00 |",
    ]


def test_single_seed_has_no_std_and_validation_adds_a_column(bench):
    validation = np.array([[0.70, 0.75, 0.72]])
    lines = bench.generation_table(ACCURACIES[:1], validation).splitlines()
    assert lines[0].endswith("| mean validation accuracy |")
    assert lines[3] == "| 1 | 0.8200 | n/a | +2.00 | 0.7500 |"


def test_verdict_takes_the_best_generation_on_validation(bench):
    # Generation 2 is best on test, generation 1 on validation: the verdict uses 1.
    test = np.array([[0.800, 0.804, 0.810, 0.812]])
    validation = np.array([[0.70, 0.75, 0.72, 0.74]])
    text = bench.verdict(test, validation)
    assert "**not met**" in text
    assert "Best generation: 1 (best mean validation accuracy), +0.40 points (not met)" in text
    assert "ensemble +1.20 points (met)" in text
    assert "best generation on test (optimistic) is 2, +1.00 points" in text


def test_verdict_is_met_when_both_gains_reach_the_target(bench):
    text = bench.verdict(np.array([[0.800, 0.806, 0.801, 0.811]]))
    assert "**met**" in text
    assert "Best generation: 1 (best mean test accuracy: optimistic), +0.60 points" in text


def test_ensemble_accuracy_is_the_ensemble_estimators_score(bench):
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from sklearn_selfdistill import SelfDistillationClassifier

    X, y = load_iris(return_X_y=True)
    clf = SelfDistillationClassifier(
        LogisticRegression(C=0.01, max_iter=1000), n_generations=3, final_generation="ensemble"
    ).fit(X[::2], y[::2])
    accuracies = bench.staged_accuracies(clf, X[1::2], y[1::2])
    assert accuracies.shape == (4,)
    assert accuracies[-1] == pytest.approx(clf.score(X[1::2], y[1::2]))
    staged = [np.mean(p == y[1::2]) for p in clf.staged_predict(X[1::2])]
    np.testing.assert_allclose(accuracies[:-1], staged)


def test_quick_digits_prints_four_tables_and_writes_nothing(bench, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "RESULTS_DIR", tmp_path / "results")
    summaries = bench.main(["--study", "digits", "--quick"])
    printed = capsys.readouterr().out
    assert not (tmp_path / "results").exists()
    runs = summaries["digits"]["runs"]
    assert set(runs) == {
        (model, teacher)
        for model in ("LogisticRegression", "HistGradientBoostingClassifier")
        for teacher in ("in_sample", "cross_fit")
    }
    for run in runs.values():
        assert run["test"].shape == (1, 3)  # one seed; generations 0, 1 and the ensemble
        assert np.all((run["test"] > 0.8) & (run["test"] <= 1))
    ensemble_row = r"^\| ensemble of 0-1 \| 0\.\d{4} \| n/a \| [+-]\d+\.\d\d \|$"
    assert len(re.findall(ensemble_row, printed, re.M)) == 4
    assert "--study digits --quick`; machine:" in printed


def test_results_go_to_the_out_dir_or_the_results_folder(bench, tmp_path, monkeypatch):
    rows = [["digits", "LR in_sample", "test", 0, 0, "0.9000"]]
    monkeypatch.setattr(bench, "digits_study", lambda quick, command: ("# table\n", rows, {}))
    monkeypatch.setattr(bench, "RESULTS_DIR", tmp_path / "results")
    bench.main(["--study", "digits", "--quick", "--out-dir", str(tmp_path / "out")])
    assert (tmp_path / "out" / "generations_digits.md").read_text() == "# table\n"
    assert not (tmp_path / "results").exists()
    bench.main(["--study", "digits"])
    with open(tmp_path / "results" / "generations_digits.csv") as file:
        written = list(csv.reader(file))
    assert written[0] == ["study", "configuration", "split", "seed", "generation", "accuracy"]
    assert written[1:] == [[str(v) for v in rows[0]]]


def test_threads_are_limited_inside_and_restored_after(bench):
    import torch

    before = torch.get_num_threads()
    with bench.limited_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_quick_fashion_study_runs_on_injected_images(bench):
    rng = np.random.default_rng(0)

    def fake_load(data_dir, split):
        n = 3000 if split == "train" else 200
        return rng.random((n, 784), dtype=np.float32), np.arange(n) % 10

    with bench.limited_threads(1):
        text, rows, summary = bench.fashion_study(quick=True, load=fake_load, log=print)
    assert len(summary["tried"]) == 3  # two (alpha, T) pairs, one change of the setup
    assert summary["chosen"] in [row["config"] for row in summary["tried"]]
    assert text.count("**(chosen)**") == 1
    for run in summary["runs"].values():
        assert run["test"].shape == run["validation"].shape == (1, 3)
    assert "500 validation rows" in text and "the published 200 test images" in text
    assert "ensemble of 0-1" in text and "Target (best generation" in text
    # proxy rows (3 configs x 3 columns) and per run validation and test rows
    assert len(rows) == 9 + len(summary["runs"]) * 2 * 3


def _csv_accuracies(path, configuration, split):
    """Accuracies of one configuration and split of a results CSV: a row per seed."""
    with open(path) as file:
        rows = [
            row
            for row in csv.DictReader(file)
            if row["configuration"] == configuration and row["split"] == split
        ]
    seeds = sorted({int(r["seed"]) for r in rows})
    return np.array([[float(r["accuracy"]) for r in rows if int(r["seed"]) == s] for s in seeds])


FASHION_RUNS = [
    "alpha=0.5, T=4, 20 epochs, dropout 0, sgd lr 0.1",
    "alpha=0.7, T=4, 20 epochs, dropout 0, sgd lr 0.1",
]
DIGITS_RUNS = [
    f"{model} {teacher}"
    for model in ("LogisticRegression", "HistGradientBoostingClassifier")
    for teacher in ("in_sample", "cross_fit")
]


@pytest.mark.parametrize(
    "name, configurations, validation",
    [
        ("generations_fashion_mnist_mlp", FASHION_RUNS, True),
        ("generations_digits", DIGITS_RUNS, False),
    ],
    ids=["fashion", "digits"],
)
def test_committed_tables_match_the_committed_accuracies(bench, name, configurations, validation):
    folder = BENCHMARKS / "results"
    text = (folder / f"{name}.md").read_text()
    for configuration in configurations:
        test = _csv_accuracies(folder / f"{name}.csv", configuration, "test")
        val = _csv_accuracies(folder / f"{name}.csv", configuration, "validation")
        assert test.shape[1] == 6  # generations 0-4 and the ensemble
        assert bench.generation_table(test, val if validation else None) in text
        assert bench.verdict(test, val if validation else None) in text
