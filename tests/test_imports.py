"""The core never imports torch; the nn part says how to get it."""

import subprocess
import sys

# Makes torch, torchvision, skorch and omegaconf (the torch extra) look uninstalled in a
# fresh interpreter.
_WITHOUT_TORCH = """
import sys
class _Uninstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "skorch", "omegaconf"):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, _Uninstalled())
"""


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_core_import_loads_no_torch_or_skorch():
    out = _run(
        "import sys, sklearn_selfdistill; "
        "print(sorted(m for m in ('torch', 'skorch', 'torchvision') if m in sys.modules))"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_core_works_without_torch():
    out = _run(
        _WITHOUT_TORCH
        + "from sklearn.datasets import load_iris\n"
        + "from sklearn_selfdistill import SelfDistillationClassifier\n"
        + "print(SelfDistillationClassifier(n_generations=2).fit(*load_iris(return_X_y=True))"
        + ".n_generations_)\n"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"


def test_nn_without_torch_names_the_install_command():
    out = _run(_WITHOUT_TORCH + "import sklearn_selfdistill.nn\n")
    assert out.returncode != 0
    assert 'pip install "sklearn_selfdistill[torch]"' in out.stderr


def test_core_import_loads_no_omegaconf():
    out = _run("import sys, sklearn_selfdistill; print('omegaconf' in sys.modules)")
    assert out.returncode == 0 and out.stdout.strip() == "False"


def test_command_line_without_the_torch_extra_names_the_install_command():
    out = _run(
        _WITHOUT_TORCH
        + "from sklearn_selfdistill.cli import main\nraise SystemExit(main(['train']))\n"
    )
    assert out.returncode == 1, out.stderr
    assert 'pip install "sklearn_selfdistill[torch]"' in out.stderr
    assert "Traceback" not in out.stderr
