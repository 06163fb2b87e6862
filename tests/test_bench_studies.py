"""The benchmarks' shared helpers, and quick runs of the noisy-label and few-label studies."""

import importlib.util
import platform
import re
import subprocess
import sys
from importlib.metadata import version

import pytest
from _bench_runs import BENCHMARKS, run_quick


def _common():
    spec = importlib.util.spec_from_file_location("_common", BENCHMARKS / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_markdown_table_has_a_rule_per_column_and_refuses_ragged_rows():
    common = _common()
    table = common.markdown_table(["a", "b"], [[1, "x"], [2.5, "y"]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | x |", "| 2.5 | y |"]
    with pytest.raises(ValueError, match="as many cells as the header"):
        common.markdown_table(["a", "b"], [[1]])


def test_mean_std_is_the_sample_standard_deviation_and_na_for_one_value():
    common = _common()
    assert common.mean_std([1.0, 2.0, 3.0], digits=2) == "2.00 (1.00)"
    assert common.mean_std([0.5]) == "0.5000 (n/a)"


def test_footer_names_the_command_python_and_the_package_versions():
    common = _common()
    text = common.footer("python benchmarks/x.py --quick", threads=1, seconds=12.4)
    assert text.startswith("Command: `python benchmarks/x.py --quick`. Machine: ")
    assert f"Python {platform.python_version()}" in text
    assert f"numpy {version('numpy')}" in text
    assert f"scikit-learn {version('scikit-learn')}" in text
    assert "1 thread(s)" in text and text.endswith("Whole run: 12 s.")
    assert "nonexistent-package" not in common.package_versions(("nonexistent-package",))
    assert common.command_line(["/abs/path/benchmarks/x.py", "--a"]).endswith("x.py --a")


def test_peak_memory_readings_grow_with_an_allocation():
    common = _common()
    import numpy as np

    with common.traced_peak() as reading:
        block = np.ones(4 * 2**20 // 8)  # 4 MiB
        del block
    assert 4 <= reading["mib"] < 40
    rss = common.peak_rss_mib()
    assert rss is None or rss > 4


def _in_a_fresh_process(code):
    """Run ``code`` in a new interpreter: a long-lived test process keeps freed pages
    resident, so a new allocation there need not raise its RSS at all."""
    path = str(BENCHMARKS / "_common.py")
    prelude = (
        "import importlib.util, numpy as np\n"
        f"spec = importlib.util.spec_from_file_location('_common', {path!r})\n"
        "common = importlib.util.module_from_spec(spec); spec.loader.exec_module(common)\n"
        "try:\n    common.status_bytes('VmRSS')\nexcept OSError:\n    raise SystemExit(77)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120
    )
    if done.returncode == 77:
        pytest.skip("no /proc/self/status (not Linux)")
    assert done.returncode == 0, done.stderr


def test_status_bytes_reads_proc_self_status_in_bytes():
    _in_a_fresh_process(
        "before = common.status_bytes('VmRSS')\n"
        "assert before > 0 and before % 1024 == 0\n"
        "block = np.ones(50 * 2**20 // 8)  # 50 MiB, every page written\n"
        "assert common.status_bytes('VmRSS') - before >= 40 * 2**20\n"
        "assert common.status_bytes('VmHWM') >= common.status_bytes('VmRSS') - 2**20\n"
        "assert abs(common.peak_rss_mib() - common.status_bytes('VmHWM') / 2**20) <= 1\n"
        "try:\n"
        "    common.status_bytes('NoSuchField')\n"
        "except RuntimeError as exc:\n"
        "    assert 'NoSuchField not in /proc/self/status' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('no error for a missing field')\n"
    )


def test_reset_peak_rss_makes_the_next_allocation_raise_the_peak():
    _in_a_fresh_process(
        "block = np.ones(100 * 2**20 // 8)  # an earlier peak, 100 MiB above what stays\n"
        "del block\n"
        "if not common.reset_peak_rss():\n"
        "    raise SystemExit(77)\n"
        "after_reset = common.status_bytes('VmHWM')\n"
        "assert after_reset - common.status_bytes('VmRSS') < 20 * 2**20  # old peak gone\n"
        "block = np.ones(50 * 2**20 // 8)  # without the reset: below the old peak\n"
        "assert common.status_bytes('VmHWM') - after_reset >= 40 * 2**20\n"
    )


def _rows(stdout):
    return dict(re.findall(r"^\| ([^|]+?) \| ([0-9.]+)", stdout, flags=re.MULTILINE))


@pytest.mark.slow  # 10-20 s; the default suite keeps under ten minutes
def test_quick_noisy_label_study_scores_every_arm_with_its_compute_and_states_its_goals():
    out = run_quick("bench_noisy_nets.py")
    rows = _rows(out)
    assert len(rows) >= 18 and all(0 <= float(v) <= 100 for v in rows.values())
    assert {"early-stopped net", "ES ensemble of 3", "CleanLearning"} <= set(rows)
    assert any(arm.startswith("online") for arm in rows)
    # compute, in epochs over the training rows: a cross-fit generation costs its folds too
    table = {
        cells[0]: cells[1:]
        for cells in (
            [c.strip() for c in line.strip("|").split("|")]
            for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| arm")
        )
    }
    compute = {arm: float(cells[1]) for arm, cells in table.items()}
    assert compute["cross-fit: gen 1"] > 3 * compute["early-stopped net"] > 0
    assert compute["cross-fit, all teachers: gen 2"] > 1.5 * compute["cross-fit: gen 1"]
    assert re.search(
        r"best single model `.+` [+-]\d+\.\d\d \(\d/1\) points over the strongest plain", out
    )
    assert re.search(r"over CleanLearning \(goal >= \+1: \*\*(met|not met)\*\*\)", out)
    assert "Command: `python benchmarks/bench_noisy_nets.py --quick`" in out


@pytest.mark.slow  # 10-20 s
def test_quick_clean_online_study_reports_accuracy_and_calibration():
    out = run_quick("bench_online_clean.py")
    rows = _rows(out)
    assert {"plain", "label smoothing 0.1"} <= set(rows) and len(rows) == 4
    assert re.search(r"ECE \d\.\d\dx plain's \(goal: no loss", out)


@pytest.mark.slow  # two minutes of CNN training, even this small
def test_quick_few_label_study_starts_every_recipe_from_the_tuned_supervised_net():
    out = run_quick("bench_few_labels.py")
    rows = _rows(out)
    timings = ("baseline tuning", "ensemble (", "hard", "soft")
    accuracies = {arm: v for arm, v in rows.items() if not arm.startswith(timings)}
    assert len(accuracies) == 7 and all(0 <= float(v) <= 100 for v in accuracies.values())
    # Generation 0 of every recipe is the tuned supervised net itself.
    baseline = rows["supervised, 1 000 labels, augmented, early-stopped (tuned)"]
    generation_zero = [v for arm, v in accuracies.items() if arm.endswith(": gen 0")]
    assert generation_zero == [baseline, baseline]
    assert re.search(r"goal >= \+3 on every seed: \*\*(met|not met)\*\*", out)
    # Each generation's wall time and images/s.
    assert re.search(r"^\| hard, every pool row: gen 1 \| \d+ \(\d+\) \|$", out, re.MULTILINE)


def test_quick_tabular_few_label_study_compares_with_self_training():
    out = run_quick("bench_few_labels_tabular.py")
    lines = [line for line in out.splitlines() if line.startswith("| digits")]
    arms = [line.split(" | ")[2] for line in lines]
    assert arms[:3] == [
        "labelled rows only",
        "SelfTrainingClassifier(threshold=0.75)",
        "library, defaults (3 generations)",
    ]
    assert re.search(r"digits, LogisticRegression \(scaled\): best library arm `library, .+`", out)


def test_quick_augmentation_benchmark_gives_each_arm_its_rate_and_ratio():
    out = run_quick("bench_augment.py")
    rows = re.findall(
        r"^\| (no augmentation|BatchRandAugment|RandAugmentNoise) \| (\d+) \| "
        r"([0-9.]+)x",
        out,
        flags=re.MULTILINE,
    )
    assert [r[0] for r in rows] == ["no augmentation", "BatchRandAugment", "RandAugmentNoise"]
    assert rows[0][2] == "1.00" and all(int(r[1]) > 0 for r in rows)
    assert re.search(r"at >= 0.8x the images/s without it: [0-9.]+x, \*\*(met|not met)\*\*", out)


def test_expected_calibration_error_is_the_binned_gap_between_confidence_and_accuracy():
    spec = importlib.util.spec_from_file_location(
        "bench_online_clean", BENCHMARKS / "bench_online_clean.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import numpy as np

    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    # Confidence 0.75 everywhere, right on 6 of 8 rows: calibrated.
    proba = np.tile([0.75, 0.25], (8, 1))
    proba[4:6] = [0.25, 0.75]
    assert module.expected_calibration_error(proba, y) == 0.0
    # Confidence 0.9, right on half: a gap of 0.4 in the one bin.
    proba = np.tile([0.9, 0.1], (8, 1))
    assert abs(module.expected_calibration_error(proba, y) - 0.4) < 1e-12
    # Two bins, half the rows each: gaps 0.1 (0.9 confident, all right) and 0.6 (0.6, none).
    proba = np.array([[0.9, 0.1]] * 4 + [[0.6, 0.4]] * 4)
    assert abs(module.expected_calibration_error(proba, y) - 0.5 * 0.1 - 0.5 * 0.6) < 1e-12
