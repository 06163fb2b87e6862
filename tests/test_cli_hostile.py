"""The command line against hostile or unlucky run folders, values and machines (issue 26).

Each test does what an attacker or an unlucky user does: real subprocesses of
``python -m sklearn_selfdistill.cli``, real symbolic links, real bombs under a memory cap,
real damaged files, a file-size limit or a small file system for a full disk. Every
command ends with one message (no traceback) and never reads or writes outside the run
folder.
"""

import contextlib
import hashlib
import io
import json
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from sklearn_selfdistill.cli import main
from sklearn_selfdistill.cli._lineage import Lineage

TINY = [
    "training.epochs=2",
    "training.batch_size=128",
    "generations.max_generations=2",
    "threads=1",
]
COMMAND = [sys.executable, "-m", "sklearn_selfdistill.cli"]
# What the command may print about one problem: a few lines, never a dump of the file.
MESSAGE_LIMIT = 1500
# Importing torch reserves about 4 GiB of address space; the bombs need 16 GiB.
MEMORY_CAP = 7 << 30


@pytest.fixture(autouse=True)
def _torch_state():
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        yield
    torch.set_num_threads(threads)


def _run_main(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exc:
            status = exc.code
    return status, out.getvalue(), err.getvalue()


def _run_folder(stdout):
    return Path(re.search(r"^Run folder: (\S+)", stdout, flags=re.MULTILINE).group(1))


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _tree(folder):
    """Every file under ``folder``: content and modification time."""
    return {
        str(p.relative_to(folder)): (_sha256(p), p.stat().st_mtime_ns)
        for p in sorted(Path(folder).rglob("*"))
        if p.is_file()
    }


def _limits(memory=None, file_size=None):
    def apply():
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if file_size is not None:
            # A write past the limit then fails with EFBIG instead of killing the process.
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    return apply


def _cli(*argv, cwd, timeout=180, memory=None, file_size=None, env=None, prefix=()):
    """The command in a process of its own: its result and its seconds."""
    start = time.perf_counter()
    done = subprocess.run(
        [*prefix, *COMMAND, *map(str, argv)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_limits(memory, file_size),
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )
    return done, time.perf_counter() - start


def _one_message(done, status):
    """Exit status ``status``, no traceback, and a short message."""
    assert done.returncode == status, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert len(done.stderr) < MESSAGE_LIMIT, done.stderr[:3000]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished run of the tiny configuration: generations 0 and 1."""
    runs = tmp_path_factory.mktemp("runs")
    status, out, err = _run_main("train", *TINY, "--runs-dir", str(runs))
    assert status == 0, err
    return _run_folder(out)


@pytest.fixture
def run(finished_run, tmp_path):
    """A copy of the finished run, to damage."""
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


def _drop_generation(run, generation):
    for suffix in ("done", "json", "pt"):
        (run / f"generation_{generation}.{suffix}").unlink()


def _reseal(run, generation):
    """Rewrite a marker's hashes for the files now there: what a forger does."""
    path = run / f"generation_{generation}.done"
    marker = json.loads(path.read_text())
    for name in marker["sha256"]:
        marker["sha256"][name] = _sha256(run / name)
    path.write_text(json.dumps(marker))


@pytest.fixture
def crashed_run(tmp_path, monkeypatch):
    """A run whose process died after generation 1's last epoch, before it was written."""
    write_generation = Lineage.write_generation

    def dies_at_generation_1(self, generation, weights, metrics, binding=None, **kwargs):
        if generation == 1:
            raise KeyboardInterrupt
        write_generation(self, generation, weights, metrics, binding, **kwargs)

    monkeypatch.setattr(Lineage, "write_generation", dies_at_generation_1)
    status, out, _ = _run_main("train", *TINY, "--runs-dir", str(tmp_path / "runs"))
    monkeypatch.undo()
    assert status == 130
    path = _run_folder(out)
    # Its last epoch left out: a checkpoint of 1 of 2 epochs, which a resume loads.
    folder = path / "generation_1.partial"
    history = json.loads((folder / "history.json").read_text())
    (folder / "history.json").write_text(json.dumps(history[:1]))
    _reseal_checkpoint(folder, epoch=1)
    return path


def _reseal_checkpoint(folder, epoch=None):
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in manifest["sha256"]:
        manifest["sha256"][name] = _sha256(folder / name)
    if epoch is not None:
        manifest["epoch"] = epoch
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_the_crashed_run_continues_from_its_checkpoint(crashed_run, tmp_path):
    """The checkpoint the tests below damage is one a resume loads."""
    done, _ = _cli("train", "--resume", crashed_run, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Generation 1: continuing after epoch 1 of 2" in done.stdout


# -- 5. a YAML alias bomb ------------------------------------------------------------------

_ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
)


def _bomb_in_the_recorded_configuration(run):
    path = run / "generation_0.json"
    metrics = json.loads(path.read_text())
    metrics["config"] = _ALIAS_BOMB + metrics["config"].replace("lr: 0.05", "lr: 0.06")
    path.write_text(json.dumps(metrics))
    _reseal(run, 0)
    config = run / "config.yaml"  # the run's configuration now differs from generation 0's
    config.write_text(config.read_text().replace("lr: 0.05", "lr: 0.07"))


def _bomb_in_config_yaml(run):
    config = run / "config.yaml"
    config.write_text(_ALIAS_BOMB.replace("a:", "training:\n  x:", 1) + config.read_text())


@pytest.mark.parametrize(
    "plant", [_bomb_in_the_recorded_configuration, _bomb_in_config_yaml], ids=["json", "yaml"]
)
@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_a_yaml_alias_bomb_is_refused_at_once_with_a_short_message(run, tmp_path, plant, command):
    plant(run)
    argv = ["evaluate", run] if command == "evaluate" else ["train", "--resume", run]
    done, seconds = _cli(*argv, cwd=tmp_path, memory=MEMORY_CAP, timeout=60)
    _one_message(done, 2)
    assert "alias" in done.stderr
    assert seconds < 30


def test_a_yaml_alias_bomb_in_a_config_file_is_refused(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_ALIAS_BOMB.replace("a:", "training:\n  x:", 1))
    done, _ = _cli(
        "train",
        "--config",
        path,
        "--runs-dir",
        tmp_path / "runs",
        cwd=tmp_path,
        memory=MEMORY_CAP,
        timeout=60,
    )
    _one_message(done, 2)
    assert str(path) in done.stderr and "alias" in done.stderr
    assert not (tmp_path / "runs").exists()


# -- 7. a lost marker never deletes later generations -------------------------------------


@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_a_lost_marker_of_generation_0_deletes_nothing_and_names_the_file(run, tmp_path, command):
    (run / "generation_0.done").unlink()
    before = _tree(run)
    argv = ["evaluate", run] if command == "evaluate" else ["train", "--resume", run]
    done, _ = _cli(*argv, cwd=tmp_path)
    _one_message(done, 2)
    assert f"{run / 'generation_0.done'} is missing" in done.stderr
    assert "generation_1.done" in done.stderr
    after = _tree(run)
    assert {k: v for k, v in after.items() if k in before} == before


# -- 8. malformed overrides ----------------------------------------------------------------


@pytest.mark.parametrize("override", ["training.lr=[1,", "training.epochs={", "seed=*x"])
def test_a_malformed_override_is_named_with_what_is_wrong(tmp_path, override):
    done, _ = _cli("train", override, "--runs-dir", tmp_path / "runs", cwd=tmp_path)
    _one_message(done, 2)
    assert f"cannot read the override {override!r}" in done.stderr
    assert not (tmp_path / "runs").exists()


# -- 9. values out of range ----------------------------------------------------------------


def test_values_out_of_range_are_refused_before_any_folder_is_made(tmp_path):
    done, _ = _cli(
        "train",
        "training.lr=1e308",
        "training.epochs=100000000000",
        f"generations.max_generations={10**30}",
        "--runs-dir",
        tmp_path / "runs",
        cwd=tmp_path,
    )
    _one_message(done, 2)
    assert "training.lr=1e+308: must be a number in (0, 100]" in done.stderr
    assert "training.epochs=100000000000: must be an int from 1 to 100000" in done.stderr
    assert (
        "generations.max_generations=1000000000000000000000000000000: must be an int "
        "from 1 to 1000" in done.stderr
    )
    assert not (tmp_path / "runs").exists()


def test_help_states_the_limits():
    done = subprocess.run([*COMMAND, "train", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    help_text = re.sub(r"\s+", " ", done.stdout)
    assert "training.lr a number in (0, 100]" in help_text
    assert "training.epochs an int from 1 to 100000" in help_text
    assert "generations.max_generations an int from 1 to 1000" in help_text
    assert "refused before any run folder is made" in help_text


# -- 10. long paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "path"),
    [
        ("runs-dir", "n" * 300),
        ("runs-dir", "/".join(["d" * 200] * 25)),
        ("resume", "n" * 300),
        ("resume", "/".join(["d" * 200] * 25)),
        ("evaluate", "n" * 300),
        ("evaluate-plot", "n" * 300 + ".png"),
    ],
    ids=["runs-dir-name", "runs-dir-path", "resume-name", "resume-path", "evaluate", "plot"],
)
def test_a_path_too_long_is_named_without_a_traceback(run, tmp_path, command, path):
    argv = {
        "runs-dir": ["train", *TINY, "--runs-dir", path],
        "resume": ["train", "--resume", path],
        "evaluate": ["evaluate", path],
        "evaluate-plot": ["evaluate", run, "--plot", path],
    }[command]
    done, _ = _cli(*argv, cwd=tmp_path)
    _one_message(done, 2)
    assert "too long" in done.stderr


# -- 11. no network ------------------------------------------------------------------------


def test_a_download_without_a_network_says_from_where_and_how_to_place_the_files(tmp_path):
    # Every request goes to a port where nothing listens: no network, whatever the machine.
    offline = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
    offline.update({k.upper(): v for k, v in offline.items()})
    offline["no_proxy"] = offline["NO_PROXY"] = ""
    done, _ = _cli(
        "train",
        "data=mnist",
        "data.download=true",
        f"data.data_home={tmp_path / 'data'}",
        "--runs-dir",
        tmp_path / "runs",
        cwd=tmp_path,
        env=offline,
    )
    _one_message(done, 1)
    assert "download of MNIST failed" in done.stderr
    assert "http" in done.stderr  # from where
    assert "train-images-idx3-ubyte" in done.stderr and str(tmp_path / "data") in done.stderr
    assert not (tmp_path / "runs").exists()


