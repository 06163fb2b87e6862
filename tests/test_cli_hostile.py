"""The command line against hostile or unlucky run folders, values and machines (issue 26).

Each test does what an attacker or an unlucky user does: real subprocesses of
``python -m sklearn_selfdistill.cli``, real symbolic links, real bombs under a memory cap,
real damaged files, a file-size limit or a small file system for a full disk. Every
command ends with one message (no traceback) and never reads or writes outside the run
folder.
"""

import hashlib
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
from _cli_runs import TINY, _run_main, _torch_state  # noqa: F401 (autouse)

from sklearn_selfdistill.cli._lineage import Lineage

COMMAND = [sys.executable, "-m", "sklearn_selfdistill.cli"]
# What the command may print about one problem: a few lines, never a dump of the file.
MESSAGE_LIMIT = 1500
# Importing torch reserves about 4 GiB of address space; the bombs need 16 GiB.
MEMORY_CAP = 7 << 30
# Each command here is a process of its own (about 7 s, most of it importing torch): one
# variant of each case runs by default, the others with -m slow.
SLOW = pytest.mark.slow


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


# -- 1. links out of the run folder --------------------------------------------------------


def test_a_checkpoint_folder_linked_elsewhere_is_set_aside_and_nothing_there_is_touched(
    crashed_run, tmp_path
):
    partial = crashed_run / "generation_1.partial"
    elsewhere = tmp_path / "elsewhere"
    shutil.move(partial, elsewhere)
    partial.symlink_to(elsewhere, target_is_directory=True)
    before = _tree(elsewhere)
    done, _ = _cli("train", "--resume", crashed_run, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "generation_1.partial is a symbolic link" in done.stderr
    assert "starts over" in done.stderr
    assert _tree(elsewhere) == before  # nothing read into the run, nothing written there
    assert not partial.is_symlink() and Lineage(crashed_run).finished() == [0, 1]
    assert os.path.realpath(elsewhere) == str(elsewhere)


def test_a_lock_file_linked_elsewhere_is_not_followed(run, tmp_path):
    _drop_generation(run, 1)
    target = tmp_path / "not-yet-there"
    (run / ".lock").unlink()
    (run / ".lock").symlink_to(target)
    done, _ = _cli("train", "--resume", run, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not target.exists() and not (run / ".lock").is_symlink()
    assert Lineage(run).finished() == [0, 1]


# -- 2. a checkpoint that is a file --------------------------------------------------------


def test_a_checkpoint_that_is_a_regular_file_is_set_aside_and_the_run_goes_on(run, tmp_path):
    _drop_generation(run, 1)
    (run / "generation_1.partial").write_bytes(b"not a folder")
    done, _ = _cli("train", "--resume", run, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "generation_1.partial is not a folder" in done.stderr
    assert Lineage(run).finished() == [0, 1]
    # Set aside, not deleted: the bytes are still there under another name.
    (aside,) = run.glob("generation_1.partial.set-aside*")
    assert aside.read_bytes() == b"not a folder"


# -- 3. a checkpoint that does not load ---------------------------------------------------


def _random_module(folder):
    (folder / "module.pt").write_bytes(np.random.default_rng(0).bytes(4096))


def _module_of_another_shape(folder):
    state = torch.load(folder / "module.pt", weights_only=True)
    name = next(iter(state))
    state[name] = torch.zeros(3, 3)
    torch.save(state, folder / "module.pt")


def _scheduler_of_nonsense(folder):
    torch.save({"state": {"x": 1}, "lrs": ["fast"]}, folder / "scheduler.pt")


def _rng_of_nonsense(folder):
    torch.save(torch.zeros(7, dtype=torch.float64), folder / "rng.pt")


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(_random_module, id="random-bytes"),
        pytest.param(_module_of_another_shape, id="other-shapes", marks=SLOW),
        pytest.param(_scheduler_of_nonsense, id="scheduler", marks=SLOW),
        pytest.param(_rng_of_nonsense, id="rng", marks=SLOW),
    ],
)
def test_a_checkpoint_with_valid_hashes_that_does_not_load_is_set_aside(
    crashed_run, tmp_path, damage
):
    folder = crashed_run / "generation_1.partial"
    damage(folder)
    _reseal_checkpoint(folder)
    done, _ = _cli("train", "--resume", crashed_run, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "Generation 1: its epoch checkpoint is not usable" in done.stderr
    assert "starts over" in done.stderr and "continuing after" not in done.stdout
    assert Lineage(crashed_run).finished() == [0, 1]


# -- 4. a weights file that declares 16 GiB ------------------------------------------------


def _deflated_zeros(size, chunk=1 << 20):
    """A raw deflate stream of ``size`` zero bytes, about size / 1000 bytes long."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(chunk)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first + again * (size // chunk - 1) + compressor.flush()


def _zip_with_a_bomb(source, target, bomb_entry, declared):
    """``source``'s zip entries, written by hand, ``bomb_entry`` as ``declared`` deflated zeros.

    By hand, because the zip64 sizes of a 16 GiB entry cannot be written by zipfile
    without compressing 16 GiB.
    """
    with zipfile.ZipFile(source) as archive:
        entries = [(info.filename, archive.read(info)) for info in archive.infolist()]
    out, central = bytearray(), bytearray()
    for name, data in entries:
        encoded = name.encode()
        offset = len(out)
        if name == bomb_entry:
            stream = _deflated_zeros(declared)
            method, crc, size, packed = 8, 0, declared, len(stream)
            local_extra = struct.pack("<HHQQ", 1, 16, size, packed)
            central_extra = struct.pack("<HHQ", 1, 8, size)
            local_sizes, central_sizes = (0xFFFFFFFF, 0xFFFFFFFF), (packed, 0xFFFFFFFF)
        else:
            stream, method, crc = data, 0, zlib.crc32(data)
            local_extra = central_extra = b""
            local_sizes = central_sizes = (len(data), len(data))
        out += struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            45,
            0,
            method,
            0,
            0x21,
            crc,
            *local_sizes,
            len(encoded),
            len(local_extra),
        )
        out += encoded + local_extra + stream
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            45,
            45,
            0,
            method,
            0,
            0x21,
            crc,
            *central_sizes,
            len(encoded),
            len(central_extra),
            0,
            0,
            0,
            0,
            offset,
        )
        central += encoded + central_extra
    start = len(out)
    out += central
    out += struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), start, 0
    )
    Path(target).write_bytes(out)


SIXTEEN_GIB = 16 << 30


def _plant_bomb(path, entry="archive/data/0"):
    source = path.with_name(path.name + ".orig")
    shutil.copy(path, source)
    _zip_with_a_bomb(source, path, entry, SIXTEEN_GIB)
    source.unlink()
    with zipfile.ZipFile(path) as archive:  # armed: 16 GiB declared, 16 MiB on disk
        assert archive.getinfo(entry).file_size == SIXTEEN_GIB
    assert path.stat().st_size < 20 << 20


@pytest.mark.parametrize("where", ["weights", pytest.param("checkpoint", marks=SLOW)])
def test_a_pt_file_that_declares_16_gib_is_refused_before_loading(
    run, crashed_run, tmp_path, where
):
    if where == "weights":
        _plant_bomb(run / "generation_1.pt")
        _reseal(run, 1)
        argv, status = ["evaluate", run], 2
    else:
        folder = crashed_run / "generation_1.partial"
        _plant_bomb(folder / "module.pt")
        _reseal_checkpoint(folder)
        argv, status = ["train", "--resume", crashed_run], 0
    done, seconds = _cli(*argv, cwd=tmp_path, memory=MEMORY_CAP, timeout=120)
    assert done.returncode == status, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "declares" in done.stderr and "17179869184 bytes" in done.stderr
    assert "can't allocate" not in done.stderr  # refused before torch tried
    assert seconds < 60


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
    ("plant", "command"),
    [
        pytest.param(_bomb_in_the_recorded_configuration, "resume", id="json-resume"),
        pytest.param(_bomb_in_the_recorded_configuration, "evaluate", id="json-evaluate"),
        # OmegaConf caps the aliases of what it loads already: guards, with -m slow.
        pytest.param(_bomb_in_config_yaml, "resume", id="yaml-resume", marks=SLOW),
        pytest.param(_bomb_in_config_yaml, "evaluate", id="yaml-evaluate", marks=SLOW),
    ],
)
def test_a_yaml_alias_bomb_is_refused_at_once_with_a_short_message(run, tmp_path, plant, command):
    plant(run)
    argv = ["evaluate", run] if command == "evaluate" else ["train", "--resume", run]
    done, seconds = _cli(*argv, cwd=tmp_path, memory=MEMORY_CAP, timeout=60)
    _one_message(done, 2)
    assert "alias" in done.stderr
    assert seconds < 30


@SLOW
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


# -- 6. cross-fit runs resume --------------------------------------------------------------

# The command, killed at generation 2's first optimizer step (after generation 1 is written).
_KILLED_IN_GENERATION_2 = """
import os, signal, sys
from torch.optim.optimizer import register_optimizer_step_pre_hook
from sklearn_selfdistill.cli import main
from sklearn_selfdistill.cli._lineage import Lineage

write_generation = Lineage.write_generation

def write_then_arm(self, generation, *args, **kwargs):
    write_generation(self, generation, *args, **kwargs)
    if generation == 1:
        register_optimizer_step_pre_hook(lambda *_: os.kill(os.getpid(), signal.SIGKILL))

Lineage.write_generation = write_then_arm
sys.exit(main(sys.argv[1:]))
"""

CROSS_FIT = [
    "training.epochs=2",
    "training.batch_size=128",
    "generations.max_generations=3",
    "distillation.teacher_predictions=cross_fit",
    "distillation.cv=2",
    "threads=1",
]


@SLOW  # three runs (about 25 s); tests/test_warm_start_cross_fit.py is the fast check
def test_a_killed_cross_fit_run_resumes_as_the_uninterrupted_lineage(tmp_path):
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            _KILLED_IN_GENERATION_2,
            "train",
            *CROSS_FIT,
            "--runs-dir",
            str(tmp_path / "killed"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    path = _run_folder(killed.stdout)
    assert Lineage(path).finished() == [0, 1]
    done, _ = _cli("train", "--resume", path, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "starting at generation 2" in done.stdout
    assert Lineage(path).finished() == [0, 1, 2]
    full, _ = _cli("train", *CROSS_FIT, "--runs-dir", tmp_path / "full", cwd=tmp_path, timeout=300)
    assert full.returncode == 0, full.stderr
    full_path = _run_folder(full.stdout)
    for generation in (0, 1, 2):  # bit for bit the lineage of a run never killed
        ours = torch.load(path / f"generation_{generation}.pt", weights_only=True)
        theirs = torch.load(full_path / f"generation_{generation}.pt", weights_only=True)
        assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


# -- 7. a lost marker never deletes later generations -------------------------------------


@pytest.mark.parametrize("command", [pytest.param("evaluate", marks=SLOW), "resume"])
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


@pytest.mark.parametrize(
    "override",
    [
        "training.lr=[1,",
        pytest.param("training.epochs={", marks=SLOW),
        pytest.param("seed=*x", marks=SLOW),
    ],
)
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
        pytest.param("runs-dir", "n" * 300, id="runs-dir-name"),
        pytest.param("runs-dir", "/".join(["d" * 200] * 25), id="runs-dir-path", marks=SLOW),
        pytest.param("resume", "n" * 300, id="resume-name", marks=SLOW),
        pytest.param("resume", "/".join(["d" * 200] * 25), id="resume-path"),
        pytest.param("evaluate", "n" * 300, id="evaluate", marks=SLOW),
        pytest.param("evaluate-plot", "n" * 300 + ".png", id="plot", marks=SLOW),
    ],
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


# -- 12. versions --------------------------------------------------------------------------


def test_every_process_that_trains_in_a_run_records_its_versions(run, tmp_path):
    metrics = json.loads((run / "generation_0.json").read_text())
    assert metrics["versions"]["numpy"] == np.__version__
    _drop_generation(run, 1)
    done, _ = _cli("train", "--resume", run, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    processes = json.loads((run / "processes.json").read_text())
    assert [p["command"] for p in processes] == ["train", "train --resume"]
    assert processes[1]["first_generation"] == 1
    assert processes[1]["versions"]["numpy"] == np.__version__
    assert json.loads((run / "generation_1.json").read_text())["versions"]["numpy"]


# -- 13. a full disk -----------------------------------------------------------------------


def test_a_full_disk_while_writing_an_epoch_checkpoint_says_the_run_can_be_resumed(tmp_path):
    # A file may grow to 64 KiB: config.yaml fits, an epoch checkpoint's weights do not.
    done, _ = _cli(
        "train", *TINY, "--runs-dir", tmp_path / "runs", cwd=tmp_path, file_size=64 << 10
    )
    _one_message(done, 2)
    path = next((tmp_path / "runs").iterdir())
    assert "cannot write the epoch checkpoint" in done.stderr
    assert "module.pt" in done.stderr
    assert f"sklearn-selfdistill train --resume {path}" in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 3
    resumed, _ = _cli("train", "--resume", path, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert Lineage(path).finished() == [0, 1]


def _unshare_works():
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


@SLOW  # two runs on a real full file system (about 20 s)
@pytest.mark.skipif(not _unshare_works(), reason="no user namespaces for a small tmpfs")
def test_a_really_full_file_system_then_resume_once_there_is_space(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    script = f"""
set -u
mount -t tmpfs -o size=400k tmpfs {mount}
{" ".join(COMMAND)} train {" ".join(TINY)} --runs-dir {mount}/runs
echo "status=$?"
mount -o remount,size=16m {mount}
{" ".join(COMMAND)} train --resume $(ls -d {mount}/runs/*)
echo "status=$?"
ls {mount}/runs/*
"""
    done = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    statuses = re.findall(r"^status=(\d+)$", done.stdout, flags=re.MULTILINE)
    assert statuses == ["2", "0"], done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "No space left on device" in done.stderr
    assert "can be resumed" in done.stderr and "train --resume" in done.stderr
    assert "generation_1.done" in done.stdout
