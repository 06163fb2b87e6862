"""Ctrl-C stops the whole fit, even inside a skorch net, which swallows KeyboardInterrupt.

Real processes, real SIGINTs: each child prints a line per epoch, and the signal is sent
once generation 1 is in its second epoch.
"""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
import torch

from sklearn_selfdistill._interrupt import noticing_interrupts, raise_if_interrupted
from sklearn_selfdistill.cli._lineage import Lineage

pytest.importorskip("skorch")

# A child that fits 3 generations of a net of 40 epochs and says, as JSON on its last
# line, how fit ended. Each epoch prints "epoch <net class> <epoch>".
_API_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np, torch
    from skorch import NeuralNetClassifier
    from skorch.callbacks import Callback
    from sklearn_selfdistill import SelfDistillationClassifier

    class Say(Callback):
        def on_epoch_end(self, net, **kwargs):
            print("epoch", type(net).__name__, len(net.history), flush=True)

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(20, 3)
        def forward(self, x):
            return torch.softmax(self.linear(x), dim=-1)

    torch.set_num_threads(1)
    rng = np.random.RandomState(0)
    X = rng.rand(800, 20).astype(np.float32)
    y = (X[:, 0] * 3).astype(np.int64)
    net = NeuralNetClassifier(Tiny, max_epochs=40, batch_size=8, train_split=None,
                              verbose=0, callbacks=[Say()])
    clf = SelfDistillationClassifier(net, n_generations=3)
    try:
        clf.fit(X, y)
    except KeyboardInterrupt as exc:
        print(json.dumps({
            "ended": "KeyboardInterrupt",
            "message": str(exc),
            "notes": getattr(exc, "__notes__", []),
            "kept_epochs": [len(g.history) for g in getattr(exc, "partial_generations", [])],
        }))
    else:
        print(json.dumps({"ended": "returned",
                          "epochs": [len(g.history) for g in clf.generations_]}))
    """
)


def _interrupt_in_generation_1(command, cwd, second_epoch_of_generation_1):
    """Run ``command``; SIGINT it when a line says generation 1 is in its second epoch."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    seen, sent = [], False
    for line in process.stdout:
        seen.append(line)
        if not sent and second_epoch_of_generation_1(seen):
            process.send_signal(signal.SIGINT)
            sent = True
    _, err = process.communicate(timeout=120)
    assert sent, "generation 1 never reached its second epoch:\n" + "".join(seen[-5:])
    return process.returncode, "".join(seen), err


def test_ctrl_c_in_a_skorch_generation_stops_fit_and_keeps_only_finished_generations(tmp_path):
    def in_generation_1(lines):
        return lines[-1].startswith("epoch SoftTargetNetClassifier 2")

    status, out, err = _interrupt_in_generation_1(
        [sys.executable, "-c", _API_CHILD], tmp_path, in_generation_1
    )
    assert status == 0, err
    # The payload is armed: generation 0 ran its 40 epochs and generation 1 had begun
    # when the signal came (skorch alone would have returned 40, 2, 40 epochs).
    assert "epoch TensorBatchNetClassifier 40" in out  # generation 0, fed by slices
    ended = json.loads(out.strip().splitlines()[-1])
    assert ended["ended"] == "KeyboardInterrupt", ended
    assert "during the fit of generation 1" in ended["message"]
    assert ended["kept_epochs"] == [40]  # generation 0 only, whole
    assert any("generation 1 was interrupted" in note for note in ended["notes"])
    # Nothing trained after the signal: generation 2 never started.
    assert not re.search(
        r"epoch SoftTargetNetClassifier \d+\n.*epoch SoftTargetNetClassifier 1\n", out, re.S
    )


# 30 s; Ctrl-C of a real process stays in the default suite with the skorch test above.
@pytest.mark.slow
def test_ctrl_c_stops_the_command_line_with_130_and_an_unfinished_generation_unsaved(tmp_path):
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "sklearn_selfdistill.cli", "train", "threads=1"]
    command += ["training.epochs=8", "training.batch_size=16", "training.verbose=true"]
    command += ["generations.max_generations=3", "--runs-dir", str(runs)]
    first_epoch_row = re.compile(r"^\s+1\s+(\x1b\[\d+m)?\d+\.\d+")
    second_epoch_row = re.compile(r"^\s+2\s+(\x1b\[\d+m)?\d+\.\d+")

    def in_generation_1(lines):
        starts = sum(bool(first_epoch_row.match(line)) for line in lines)
        return starts == 2 and second_epoch_row.match(lines[-1])

    status, _, err = _interrupt_in_generation_1(command, tmp_path, in_generation_1)
    assert status == 130, err
    (path,) = runs.iterdir()
    assert Lineage(path).finished() == [0]
    assert not (path / "generation_1.done").exists()
    assert f"generations 0..0 are saved in {path}" in err and "--resume" in err
    assert "Traceback" not in err
    # Generation 1's finished epochs are checkpointed (the one cut short is not).
    saved = json.loads((path / "generation_1.partial" / "manifest.json").read_text())
    assert 1 <= saved["epoch"] < 8
    resumed = subprocess.run(
        [sys.executable, "-m", "sklearn_selfdistill.cli", "train", "--resume", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "starting at generation 1" in resumed.stdout
    assert f"Generation 1: continuing after epoch {saved['epoch']} of 8" in resumed.stdout
    assert Lineage(path).finished() == [0, 1, 2]
    epochs = json.loads((path / "generation_1.json").read_text())["epochs"]
    assert [row["epoch"] for row in epochs] == list(range(1, 9))  # trained whole
    # On one thread, the lineage is bit for bit the one an uninterrupted run writes.
    full_runs = tmp_path / "full"
    full = subprocess.run(
        [*command[:-2], "--runs-dir", str(full_runs)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert full.returncode == 0, full.stderr
    (full_path,) = full_runs.iterdir()
    for generation in (0, 1, 2):
        ours = torch.load(path / f"generation_{generation}.pt", weights_only=True)
        theirs = torch.load(full_path / f"generation_{generation}.pt", weights_only=True)
        assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


def test_the_signal_handler_is_restored_and_other_interrupts_are_left_alone():
    before = signal.getsignal(signal.SIGINT)
    with noticing_interrupts():
        assert signal.getsignal(signal.SIGINT) is not before
        with noticing_interrupts():  # nested fits share the outer handler
            inner = signal.getsignal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is inner
        raise_if_interrupted("nothing")  # no signal came: no error
        with pytest.raises(KeyboardInterrupt):  # the signal still interrupts as before
            os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt, match="during a test"):
            raise_if_interrupted("a test")
    assert signal.getsignal(signal.SIGINT) is before
    raise_if_interrupted("after the block")  # the count ended with the block


def test_a_fit_in_another_thread_shares_neither_the_handler_nor_the_count():
    before = signal.getsignal(signal.SIGINT)
    inside, release, seen = threading.Event(), threading.Event(), []

    def worker():
        with noticing_interrupts():
            inside.set()
            release.wait(10)
            try:
                raise_if_interrupted("the worker's fit")
                seen.append("not interrupted")
            except KeyboardInterrupt:
                seen.append("interrupted")

    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(10)
    try:
        with noticing_interrupts():
            # The worker's block is open, yet the main thread's fit counts its own SIGINTs.
            assert signal.getsignal(signal.SIGINT) is not before
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
            with pytest.raises(KeyboardInterrupt, match="during the main fit"):
                raise_if_interrupted("the main fit")
    finally:
        release.set()
        thread.join(10)
    assert seen == ["not interrupted"]
    assert signal.getsignal(signal.SIGINT) is before
