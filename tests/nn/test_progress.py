"""EpochProgress: a bar on a terminal, one line per epoch elsewhere, per generation."""

import os
import pty
import subprocess
import sys

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill.nn import EpochProgress


def _data():
    rng = np.random.RandomState(0)
    X = rng.rand(64, 4).astype(np.float32)
    return X, (X[:, 0] > 0.5).astype(np.int64)


class _Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x):
        return torch.softmax(self.linear(x), dim=-1)


def _net(progress, epochs=3):
    return NeuralNetClassifier(
        _Linear, max_epochs=epochs, verbose=0, train_split=None, callbacks=[progress]
    )


def test_lines_one_per_epoch_of_every_generation(capsys):
    X, y = _data()
    SelfDistillationClassifier(_net(EpochProgress(mode="lines")), n_generations=3).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        f"generation {g}: epoch {e}/3" for g in range(3) for e in (1, 2, 3)
    ]
    assert all("images/s" in line and "left" in line and "train_loss" in line for line in lines)
    # 64 images an epoch: the rate is positive, the time left reaches 0.
    assert lines[-1].split(", ")[2] == "0 s left"


def test_bar_redraws_one_line_per_fit(capsys):
    X, y = _data()
    _net(EpochProgress(mode="bar"), epochs=4).fit(X, y)
    text = capsys.readouterr().out
    assert text.count("\r") == 4 and text.count("\n") == 1
    assert "[####################] epoch 4/4" in text.splitlines()[-1]


def test_auto_is_lines_when_the_output_is_not_a_terminal(capsys):
    X, y = _data()
    _net(EpochProgress()).fit(X, y)  # capsys's stdout is no terminal
    out = capsys.readouterr().out
    assert "\r" not in out and len(out.splitlines()) == 3


_SCRIPT = """
import numpy as np, torch
from skorch import NeuralNetClassifier
from sklearn_selfdistill.nn import EpochProgress
X = np.random.RandomState(0).rand(64, 4).astype(np.float32)
y = (X[:, 0] > 0.5).astype(np.int64)
module = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Softmax(dim=-1))
NeuralNetClassifier(module, max_epochs=3, verbose=0, train_split=None,
                    callbacks=[EpochProgress()]).fit(X, y)
"""


def test_auto_is_a_bar_on_a_real_terminal():
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT],
        stdout=terminal,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=120) == 0
    text = output.decode()
    assert text.count("\r") >= 3 and "[####################] epoch 3/3" in text


def test_bad_mode_is_named():
    X, y = _data()
    with pytest.raises(ValueError, match=r"mode='spinner'.*'auto'.*'bar' or 'lines'"):
        _net(EpochProgress(mode="spinner")).fit(X, y)
