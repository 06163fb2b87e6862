"""The README's code works when pasted."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def _main_job_command():
    block = README.read_text().split("<!-- main-job -->", 1)[1]
    return re.search(r"```bash\n(.*?)\n```", block, flags=re.DOTALL).group(1)


def _run(code):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    ).stdout


def _block_with(text):
    (block,) = [b for b in _python_blocks() if text in b]
    return block


def test_quick_start_runs_and_reports_every_generation():
    quick_start = _block_with("test accuracy per generation")
    out = _run(quick_start)
    per_generation = re.search(r"test accuracy per generation: \[(.*)\]", out).group(1)
    assert len(per_generation.split(",")) == 4
    assert "best: {" in out and "R^2:" in out


def test_first_snippet_constructs_the_estimator():
    namespace = {}
    exec(_python_blocks()[0], namespace)
    assert namespace["clf"].get_params()["alpha"] == 0.7


def test_main_job_prints_a_table_of_generations(tmp_path):
    command = _main_job_command()
    assert command == 'pip install -e ".[torch]" && sklearn-selfdistill train'
    # The installed console script is this package's cli; run it as a module here.
    out = subprocess.run(
        [sys.executable, "-m", "sklearn_selfdistill.cli", "train"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=tmp_path,
    ).stdout
    rows = re.findall(r"^\s+(\d)\s+(0\.\d{4}|1\.0000)\s+[+-]\d+\.\d{2}\s+\d+\.\d{2}$", out, re.M)
    assert [r[0] for r in rows] == ["0", "1", "2"]
    assert all(float(acc) > 0.85 for _, acc in rows)
    assert out.count("[SelfDistillationClassifier] generation") == 3
    (run,) = (tmp_path / "runs").iterdir()
    assert sorted(p.name for p in run.glob("generation_*.done")) == [
        f"generation_{g}.done" for g in range(3)
    ]


def _tables(text):
    """The markdown table rows of ``text``, one string per table."""
    tables, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append("\n".join(current))
            current = []
    return tables


def test_readme_quotes_the_benchmark_tables_as_they_are():
    results = README.parent / "benchmarks" / "results"
    readme = README.read_text()
    for name in (
        "krr_toy.md",
        "krr_speed.md",
        "nn_overhead.md",
        "krr_nystroem.md",
        "generation_cost.md",
        "soft_target_cost.md",
        "tabular_noise.md",
        "noisy_nets.md",
        "few_labels.md",
    ):
        for table in _tables((results / name).read_text()):
            assert table in readme, f"README.md does not quote {name} as it stands"


def test_neural_network_example_trains_three_generations():
    pytest.importorskip("skorch")
    out = _run(_block_with("NeuralNetClassifier("))
    assert "skorch epochs of generation 2: 10" in out
    accuracies = re.search(r"validation accuracy per generation: \[(.*)\]", out).group(1)
    assert len(accuracies.split(",")) == 3
    assert all(0.5 < float(a) <= 1 for a in accuracies.split(","))
    assert out.count("[SelfDistillationClassifier] generation") == 3


def _cli_train_lines():
    """Every ``sklearn-selfdistill train ...`` command in the README's text and blocks."""
    text = README.read_text().replace("\\\n", " ")
    found = re.findall(r"`?(sklearn-selfdistill train[^`\n]*)", text)
    return [line.strip() for line in found if "--resume" not in line and "--help" not in line]


def test_every_train_command_in_the_readme_is_a_valid_configuration():
    lines = _cli_train_lines()
    assert any("data.label_noise" in line for line in lines)
    assert any("data.n_labeled" in line for line in lines)
    from sklearn_selfdistill.cli import main

    for line in lines:
        argv = line.split()[1:]
        if not torch_cuda_available():  # the configuration is checked against the machine
            argv = ["device=cpu" if a.startswith("device=cuda") else a for a in argv]
        assert main([*argv, "--print-config"]) == 0, line


def torch_cuda_available():
    import torch

    return torch.cuda.is_available()
