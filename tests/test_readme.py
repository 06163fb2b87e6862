"""The README's code works when pasted, and so does the code the README hands to the docs."""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
RESULTS = ROOT / "benchmarks" / "results"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def _rst_blocks(page, language="python"):
    """The ``.. code-block:: <language>`` blocks of a docs page, dedented."""
    pattern = rf"^( *)\.\. code-block:: {language}\n\n((?:\1   .*\n|[ \t]*\n)+)"
    return [
        textwrap.dedent(body)
        for _, body in re.findall(pattern, (DOCS / page).read_text(), flags=re.MULTILINE)
    ]


def _main_job_command():
    block = README.read_text().split("<!-- main-job -->", 1)[1]
    return re.search(r"```bash\n(.*?)\n```", block, flags=re.DOTALL).group(1)


def _run(code):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    ).stdout


def _block_with(text, blocks=None):
    (block,) = [b for b in (_python_blocks() if blocks is None else blocks) if text in b]
    return block


def test_readme_stays_a_front_page():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    assert len(_python_blocks()) == 3
    for page in ("install", "quickstart", "user_guide", "scaling", "benchmarks", "api"):
        assert f"(docs/{page}.rst)" in text, page
        assert (DOCS / f"{page}.rst").is_file()


def test_quick_start_runs_and_reports_every_generation():
    quick_start = _block_with("test accuracy per generation", _rst_blocks("quickstart.rst"))
    out = _run(quick_start)
    per_generation = re.search(r"test accuracy per generation: \[(.*)\]", out).group(1)
    assert len(per_generation.split(",")) == 4
    assert "best: {" in out and "R^2:" in out


def test_first_snippet_constructs_the_estimator():
    namespace = {}
    exec(_rst_blocks("user_guide.rst")[0], namespace)
    assert namespace["clf"].get_params()["alpha"] == 0.7
    assert namespace["clf"].get_params()["temperature"] == 4.0


@pytest.mark.slow  # 30-70 s of ResNet-18 training; the default suite keeps under ten minutes
def test_readme_resnet_example_distils_a_resnet():
    pytest.importorskip("skorch")
    block = _block_with("ResNet18")
    assert "SelfDistillationClassifier(net, n_generations=2, alpha=0.7)" in block
    out = _run(block)
    accuracies = re.search(r"test accuracy per generation: \[(.*)\]", out).group(1).split()
    assert len(accuracies) == 2
    # 3 epochs of a ResNet-18 on 1 000 digits: well above chance (0.1) on the other 797.
    assert all(0.5 < float(a) <= 1 for a in accuracies)


def test_readme_kernel_ridge_example_reaches_the_limit():
    out = _run(_block_with("KernelRidge("))
    per_generation = re.search(r"MSE per generation: \[(.*)\]", out).group(1).split(",")
    limit = float(re.search(r"MSE of the limit: (\S+)", out).group(1))
    assert len(per_generation) == 6
    # Generation 0 is plain kernel ridge on 11 noisy points: the distilled generations
    # regularise it further, towards the limit (kernel ridge with lambda / (1 - alpha)).
    assert float(per_generation[-1]) < float(per_generation[0])
    assert abs(float(per_generation[-1]) - limit) < abs(float(per_generation[0]) - limit)


def test_readme_grid_search_searches_alpha():
    out = _run(_block_with("GridSearchCV("))
    best = re.search(r"best: (\{.*\})", out).group(1)
    assert "'alpha':" in best and "'temperature':" in best and "'estimator__C':" in best


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


def test_test_command_is_the_one_ci_runs():
    block = README.read_text().split("<!-- test-command -->", 1)[1]
    # .ci/run takes the lines between the marker's fence and the closing fence.
    command = re.match(r"\n```bash\n(.*?)\n```\n", block, flags=re.DOTALL).group(1)
    assert command == 'pip install -e ".[dev]" && pytest'


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


def _tested_with_table():
    """The README's table of the libraries the tests run through the meta-estimators."""
    section = README.read_text().split("## Tested with\n", 1)[1].split("\n## ", 1)[0]
    (table,) = _tables(section)
    return table


def test_readme_quotes_a_benchmark_table_as_it_is():
    # The "Tested with" table is a list of tests, not results: the next test checks it.
    readme_tables = [t for t in _tables(README.read_text()) if t != _tested_with_table()]
    assert readme_tables, "README.md quotes no results table"
    for table in readme_tables:
        sources = [p.name for p in RESULTS.glob("*.md") if table in p.read_text()]
        assert sources, f"README.md quotes a table that no results file holds:\n{table}"
        # The README says which file it quotes.
        assert f"benchmarks/results/{sources[0]}" in README.read_text()


def test_tested_with_table_names_tests_that_run_each_library():
    rows = _tested_with_table().splitlines()[2:]
    named = " ".join(rows).lower()
    for library in ("pandas", "polars", "xgboost", "lightgbm", "cleanlab", "skops", "skorch"):
        assert library in named, library
    for row in rows:
        wrapped, _, tests = row.strip("|").split("|")
        paths = re.findall(r"`(tests/\S+\.py)`", tests)
        assert paths, row
        sources = " ".join((ROOT / path).read_text() for path in paths).lower()
        # Each library or estimator the row names appears in the tests it cites.
        for name in re.findall(r"[A-Za-z][\w-]+", wrapped.replace("scikit-learn estimators", "")):
            if name.lower() not in {"on", "and", "frames", "nets"}:
                assert name.lower() in sources, (name, paths)


def test_the_gallery_has_twelve_examples_as_its_page_says():
    examples = sorted((DOCS / "examples").glob("plot_*.py"))
    assert len(examples) == 12
    assert "Twelve short scripts" in (DOCS / "examples" / "README.rst").read_text()
    for path in examples:
        title = path.read_text().split('"""', 2)[1].strip().splitlines()
        assert set(title[1]) == {"="} and len(title[1]) == len(title[0]), path.name


def test_benchmarks_page_includes_every_results_file():
    page = (DOCS / "benchmarks.rst").read_text()
    for path in sorted(RESULTS.glob("*.md")):
        assert f".. include:: ../benchmarks/results/{path.name}\n" in page, path.name


def test_neural_network_example_trains_three_generations():
    pytest.importorskip("skorch")
    out = _run(_block_with("NeuralNetClassifier(\n    MLP", _rst_blocks("user_guide.rst")))
    assert "skorch epochs of generation 2: 10" in out
    accuracies = re.search(r"validation accuracy per generation: \[(.*)\]", out).group(1)
    assert len(accuracies.split(",")) == 3
    assert all(0.5 < float(a) <= 1 for a in accuracies.split(","))
    assert out.count("[SelfDistillationClassifier] generation") == 3


def _cli_train_lines():
    """Every ``sklearn-selfdistill train ...`` command in the README and the docs pages."""
    texts = [README.read_text(), *(page.read_text() for page in sorted(DOCS.glob("*.rst")))]
    text = "\n".join(texts).replace("\\\n", " ")
    found = re.findall(r"`?(sklearn-selfdistill train[^`\n]*)", text)
    return [line.strip() for line in found if "--resume" not in line and "--help" not in line]


def test_every_train_command_in_the_readme_and_docs_is_a_valid_configuration():
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
