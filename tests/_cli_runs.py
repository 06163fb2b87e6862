"""What the command-line tests share: a tiny configuration, ``main`` in this process, and
torch's state given back after each test."""

import contextlib
import io

import pytest
import torch

from sklearn_selfdistill.cli import main

# Small enough for a few seconds per run; one torch thread is the fastest for this net.
TINY = [
    "training.epochs=2",
    "training.batch_size=128",
    "generations.max_generations=2",
    "threads=1",
]


@pytest.fixture(autouse=True)
def _torch_state():
    """The command seeds torch and sets its threads: give the other tests theirs back.

    Autouse in every test module that imports it.
    """
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        yield
    torch.set_num_threads(threads)


def _run_main(*argv):
    """``main(argv)`` in this process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exc:  # argparse's own errors
            status = exc.code
    return status, out.getvalue(), err.getvalue()
