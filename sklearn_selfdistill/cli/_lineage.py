"""A run folder: the resolved configuration and every finished generation, written atomically.

Layout of a run folder::

    config.yaml            the resolved configuration, written before any training
    generation_0.pt        generation 0's weights (``torch.save(net.module_.state_dict())``)
    generation_0.json      its metrics, scores and the versions of the software that trained it
    generation_0.done      the marker, written last: the SHA-256 of the two files above
                           and the binding (the caller's digest of the configuration)
    generation_1.pt ...
    generation_1.teacher.npy  a cross-fit run's out-of-fold teacher outputs of a generation,
                           named in its marker too
    processes.json         every process that trained in the folder, with its versions

Every file is written to a temporary file in the same folder, flushed to disk, then renamed
over its final name (``os.replace``, atomic on POSIX and Windows), so a reader sees either
the old file or the whole new one. A generation counts as finished only once its marker is
there and the files it names have the hashes it records: a crash or Ctrl-C between two
writes leaves a generation without marker, which does not count and is written again.

A run folder is something people pass to each other, so every file in it is untrusted:
a marker must name exactly its own generation's files, each a regular file in the
folder (not a symbolic link, not a folder), every file is read up to a size fixed for
what it holds, and anything malformed is a :class:`LineageError` that names the file,
never a traceback. A generation whose marker is missing while a later generation's is
there is an error too: the later generations are never deleted for it.
What the command line writes there and finds in the way (a link or a file where its
checkpoint folder or lock goes) is set aside (:func:`set_aside`): renamed, never followed.

This module reads and writes bytes and JSON only; the caller serializes the weights.
"""

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import time
from pathlib import Path

__all__ = ["BindingMismatch", "Lineage", "LineageError", "atomic_write", "set_aside"]

CONFIG = "config.yaml"
#: The lock file of a run folder, held by the process that trains in it.
LOCK = ".lock"
#: The record of the processes that trained in a run folder.
PROCESSES = "processes.json"
#: The most bytes of a marker, a metrics file, a configuration, the record of processes.
MAX_MARKER_BYTES = 1 << 16
MAX_METRICS_BYTES = 64 << 20
MAX_CONFIG_BYTES = 1 << 20
MAX_PROCESSES_BYTES = 1 << 20
_GENERATION_FILE = re.compile(r"^generation_(\d+)\.(pt|json|done|teacher\.npy)$")
_MARKER_FILE = re.compile(r"^generation_(\d+)\.done$")
_TEMPORARY_FILE = re.compile(r"^\..+\.tmp$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class LineageError(Exception):
    """A folder that is not a run folder, or a run folder whose files do not agree."""


class BindingMismatch(LineageError):
    """A finished generation was written under another binding (another configuration).

    Attributes
    ----------
    generation : int
        The first generation whose marker records another binding.
    """

    def __init__(self, message, generation):
        super().__init__(message)
        self.generation = generation


def _regular_file(path, what):
    """``path``, checked to be a regular file and not a symbolic link."""
    if path.is_symlink():
        raise LineageError(
            f"{path} is a symbolic link; the {what} of a run folder must be a regular file "
            f"inside it, so it is not followed."
        )
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "missing"
        raise LineageError(f"{path} is {kind}; the {what} must be a regular file.")
    return path


def set_aside(path, why):
    """Rename ``path`` (a link is renamed, never followed) out of the way; say so on stderr.

    It becomes ``<name>.set-aside`` (``-2``, ``-3``... where taken) in the same folder, so
    that nothing a user may want back is deleted. Returns the new path.
    """
    path = Path(path)
    for attempt in range(1, 1000):
        aside = path.with_name(f"{path.name}.set-aside" + ("" if attempt == 1 else f"-{attempt}"))
        if not (aside.exists() or aside.is_symlink()):
            break
    try:
        os.rename(path, aside)
    except OSError as exc:
        raise LineageError(
            f"{path} {why}, and it cannot be set aside ({exc.strerror or exc}); move it out "
            f"of the run folder and run the command again."
        ) from None
    print(f"sklearn-selfdistill: {path} {why}; set aside as {aside.name}.", file=sys.stderr)
    return aside


def atomic_write(path, data):
    """Write ``data`` (bytes) to ``path`` so that ``path`` is never seen half-written.

    The bytes go to a temporary file in the same folder (hidden, ending in ``.tmp``),
    which is flushed and fsync-ed, then renamed over ``path`` with ``os.replace``; the
    folder is fsync-ed too where the platform allows it, so that the rename survives a
    power cut. On any error, Ctrl-C included, the temporary file is removed.

    Parameters
    ----------
    path : str or path-like
        Where the file ends up.
    data : bytes
        Its whole content.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_selfdistill.cli._lineage import atomic_write
    >>> folder = Path(tempfile.mkdtemp())
    >>> atomic_write(folder / "a.txt", b"hello")
    >>> [p.name for p in folder.iterdir()], (folder / "a.txt").read_bytes()
    (['a.txt'], b'hello')
    """
    path = Path(path)
    # Not tempfile.mkstemp: its files are private (0600); these get the umask's mode.
    temporary = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        with open(temporary, "xb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder):
    # Folders cannot be opened for fsync on Windows, where os.replace is durable anyway.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _lock(handle):
    """Take the OS lock on ``handle`` without waiting; OSError if another process has it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _read_bounded(path, limit, what):
    """The bytes of ``path``; LineageError past ``limit`` bytes (never read whole)."""
    try:
        with open(path, "rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise LineageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise LineageError(
            f"{path} is larger than the {limit} bytes a {what} can be; it was not read. "
            f"Restore it from a copy of the run folder, or start a new run."
        )
    return data


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Lineage:
    """The run folder of one ``sklearn-selfdistill train`` run.

    Parameters
    ----------
    path : str or path-like
        An existing run folder (one with a ``config.yaml``); see :meth:`create` for a
        new one.

    Raises
    ------
    LineageError
        If ``path`` has no ``config.yaml``.
    """

    def __init__(self, path):
        self.path = Path(path)
        config = self.path / CONFIG
        if not (config.is_file() or config.is_symlink()):
            raise LineageError(
                f"{self.path} is not a run folder of sklearn-selfdistill train: it has no "
                f"{CONFIG}."
            )
        _regular_file(config, "configuration")

    @classmethod
    def create(cls, runs_dir, config_yaml):
        """Make a new run folder ``runs_dir/<YYYYmmdd-HHMMSS>`` holding ``config_yaml``.

        Two runs started in the same second get ``-2``, ``-3``... appended.

        Parameters
        ----------
        runs_dir : str or path-like
            The folder of all runs; created if missing.
        config_yaml : str
            The resolved configuration.

        Returns
        -------
        lineage : Lineage
        """
        runs_dir = Path(runs_dir)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
            for attempt in range(1, 1000):
                path = runs_dir / (stamp if attempt == 1 else f"{stamp}-{attempt}")
                try:
                    path.mkdir()
                except FileExistsError:
                    continue
                try:
                    atomic_write(path / CONFIG, config_yaml.encode())
                except BaseException:
                    shutil.rmtree(path, ignore_errors=True)  # no empty run folder is left
                    raise
                return cls(path)
        except OSError as exc:
            raise LineageError(
                f"cannot make a run folder in {runs_dir}: {exc.strerror or exc}; nothing was "
                f"trained."
            ) from None
        raise LineageError(f"Could not make a new run folder named {stamp}-N in {runs_dir}.")

    def check_writable(self):
        """Raise :class:`LineageError` now, before any training, if the folder takes no file."""
        probe = self.path / ".write-probe"
        try:
            atomic_write(probe, b"")
            probe.unlink()
        except OSError as exc:
            raise LineageError(
                f"cannot write in {self.path}: {exc.strerror or exc}; nothing was trained."
            ) from None

    @contextlib.contextmanager
    def locked(self):
        """Hold the run folder's OS lock (``.lock``) for the time of the block.

        One process at a time trains in a run folder: a second one gets a
        :class:`LineageError` at once instead of training a generation that the first
        also writes. The lock is the operating system's (``fcntl.flock``, or
        ``msvcrt.locking`` on Windows): it goes with the process, so a crashed or killed
        run never leaves the folder locked.
        """
        path = self.path / LOCK
        if path.is_symlink() or (path.exists() and not path.is_file()):
            set_aside(path, "is not a regular file (the lock file is one, in the run folder)")
        try:
            # O_NOFOLLOW: a link put there in the meantime is not followed either.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
            handle = os.fdopen(fd, "a+b")  # held open for the whole block
        except OSError as exc:
            raise LineageError(
                f"cannot open the lock file {path}: {exc.strerror or exc}"
            ) from None
        try:
            try:
                _lock(handle)
            except OSError:
                raise LineageError(
                    f"another process is training in {self.path} (it holds {path}); wait "
                    f"for it to end, or stop it, before training there."
                ) from None
            yield self
        finally:
            handle.close()  # releases the lock

    def read_config(self):
        """The resolved configuration, as the YAML text it was written as."""
        path = _regular_file(self.path / CONFIG, "configuration")
        data = _read_bounded(path, MAX_CONFIG_BYTES, "configuration")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LineageError(f"cannot read {path}: {exc}") from None

    def _file(self, generation, kind):
        return self.path / f"generation_{generation}.{kind}"

    def weights_path(self, generation):
        """Path of ``generation``'s weights file."""
        return self._file(generation, "pt")

    def teacher_path(self, generation):
        """Path of ``generation``'s cross-fit teacher outputs, where its marker names one."""
        return self._file(generation, "teacher.npy")

    def has_teacher_file(self, generation):
        """Whether the marker of finished ``generation`` names a teacher outputs file."""
        return self.teacher_path(generation).name in self._marker(generation)["sha256"]

    def write_generation(self, generation, weights, metrics, binding=None, teacher=None):
        """Write a finished generation: weights, metrics, then the marker that makes it count.

        Parameters
        ----------
        generation : int
            Its number; generations are written in order, 0 first.
        weights : bytes
            The serialized weights.
        metrics : dict
            JSON-serializable metrics.
        binding : str or None, default=None
            What the generation is bound to (the command line: a digest of the
            configuration that trained it), recorded in the marker; see :meth:`finished`.
        teacher : bytes or None, default=None
            The serialized cross-fit teacher outputs the generation was fit on, written
            as ``generation_<g>.teacher.npy`` and named in the marker.
        """
        expected = len(self.finished(binding))
        if generation != expected:
            raise LineageError(
                f"Generation {generation} cannot be written to {self.path}: the next "
                f"generation there is {expected}."
            )
        try:
            self._write_files(generation, weights, metrics, binding, teacher)
        except OSError as exc:
            raise LineageError(
                f"cannot write generation {generation} to {self.path}: {exc.strerror or exc}."
            ) from None

    def _write_files(self, generation, weights, metrics, binding, teacher=None):
        files = [self._file(generation, "pt"), self._file(generation, "json")]
        atomic_write(files[0], weights)
        atomic_write(files[1], (json.dumps(metrics, indent=2) + "\n").encode())
        if teacher is not None:
            files.append(self.teacher_path(generation))
            atomic_write(files[2], teacher)
        marker = {
            "generation": generation,
            "sha256": {path.name: _sha256(path) for path in files},
            "binding": binding,
        }
        atomic_write(
            self._file(generation, "done"), (json.dumps(marker, indent=2) + "\n").encode()
        )

    def finished(self, binding=None):
        """The finished generations, ``[0, 1, ..., k - 1]``: those with a valid marker.

        A generation counts only if every generation before it does.

        Parameters
        ----------
        binding : str or None, default=None
            If given, every finished generation must have been written with this
            binding; None checks nothing of the bindings.

        Raises
        ------
        LineageError
            If a marker is malformed, names other files than its generation's, or a file
            it names is missing, not a regular file, or has changed since; or if the
            marker of a generation is missing while a later one's is there.
        BindingMismatch
            If a generation was written with another binding.
        """
        generations = []
        while True:
            generation = len(generations)
            path = self._file(generation, "done")
            if not (path.exists() or path.is_symlink()):
                self._check_no_later_marker(generation)
                return generations
            marker = self._marker(generation)
            for name, digest in marker["sha256"].items():
                file = _regular_file(self.path / name, f"file of generation {generation}")
                if _sha256(file) != digest:
                    raise LineageError(
                        f"{file} was changed after generation {generation} was written: "
                        f"it does not match {path}."
                    )
            if binding is not None and marker["binding"] != binding:
                raise BindingMismatch(
                    f"generation {generation} of {self.path} was trained with another "
                    f"configuration than the one its {CONFIG} now holds.",
                    generation,
                )
            generations.append(generation)

    def _check_no_later_marker(self, generation):
        """A missing marker with a later one there: refuse, so that nothing is deleted."""
        later = sorted(
            int(match[1])
            for match in map(_MARKER_FILE.match, os.listdir(self.path))
            if match and int(match[1]) > generation
        )
        if later:
            missing = self._file(generation, "done")
            raise LineageError(
                f"{missing} is missing, but {self._file(later[0], 'done').name} is there: "
                f"generation {generation} looks unfinished while generation {later[0]} "
                f"looks finished, so nothing was trained or deleted. Restore {missing.name} "
                f"from a copy of the run folder, or move the files of generations "
                f"{generation + 1} and later out of {self.path} to continue after "
                f"generation {generation - 1}."
                if generation
                else f"{missing} is missing, but {self._file(later[0], 'done').name} is "
                f"there: generation 0 looks unfinished while generation {later[0]} looks "
                f"finished, so nothing was trained or deleted. Restore {missing.name} from a "
                f"copy of the run folder, or start a new run."
            )

    def _marker(self, generation):
        """The marker of ``generation``, checked: its own two files, hex digests."""
        path = _regular_file(self._file(generation, "done"), f"marker of generation {generation}")
        marker = self._json(path, MAX_MARKER_BYTES, "marker")
        names = {f"generation_{generation}.pt", f"generation_{generation}.json"}
        teacher = f"generation_{generation}.teacher.npy"
        problem = None
        if not isinstance(marker, dict) or set(marker) != {"generation", "sha256", "binding"}:
            problem = "it must be an object with the keys generation, sha256 and binding"
        elif marker["generation"] != generation or isinstance(marker["generation"], bool):
            problem = f"its generation is {marker['generation']!r}, not {generation}"
        elif not isinstance(marker["sha256"], dict) or set(marker["sha256"]) - {teacher} != names:
            problem = (
                f"its sha256 must name exactly {' and '.join(sorted(names))} (and {teacher} "
                f"in a cross-fit run)"
            )
        elif not all(isinstance(d, str) and _SHA256.match(d) for d in marker["sha256"].values()):
            problem = "its sha256 values must be SHA-256 digests (64 hexadecimal digits)"
        elif marker["binding"] is not None and not isinstance(marker["binding"], str):
            problem = "its binding must be a string or null"
        if problem:
            raise LineageError(f"{path} is not a valid marker: {problem}.")
        return marker

    @staticmethod
    def _json(path, limit, what):
        data = _read_bounded(path, limit, what)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise LineageError(f"cannot read {path} as JSON: {exc}") from None
        except RecursionError:
            raise LineageError(
                f"cannot read {path} as JSON: it nests deeper than Python can follow."
            ) from None

    def metrics(self, generation):
        """The metrics written with ``generation`` (a JSON object; the caller checks it)."""
        path = _regular_file(self._file(generation, "json"), f"metrics of generation {generation}")
        metrics = self._json(path, MAX_METRICS_BYTES, "metrics file")
        if not isinstance(metrics, dict):
            raise LineageError(f"{path} must hold a JSON object of metrics.")
        return metrics

    def record_process(self, entry):
        """Add ``entry`` (a JSON object: a process that trains here) to ``processes.json``.

        A record that is not a regular file or not a JSON list is set aside first.
        """
        path = self.path / PROCESSES
        processes = []
        if path.exists() or path.is_symlink():
            try:
                processes = self._json(
                    _regular_file(path, "record of processes"),
                    MAX_PROCESSES_BYTES,
                    "record of processes",
                )
            except LineageError as exc:
                set_aside(path, f"cannot be read ({exc})")
            if not isinstance(processes, list) or not all(isinstance(p, dict) for p in processes):
                if path.exists():
                    set_aside(path, "is not a JSON list of processes")
                processes = []
        processes.append(entry)
        atomic_write(path, (json.dumps(processes, indent=2) + "\n").encode())

    def discard_unfinished(self):
        """Remove temporary files and the files of generations that have no marker.

        Returns
        -------
        removed : list of str
            Names of the removed files.
        """
        n_finished = len(self.finished())
        removed = []
        for path in sorted(self.path.iterdir()):
            match = _GENERATION_FILE.match(path.name)
            if _TEMPORARY_FILE.match(path.name) or (match and int(match[1]) >= n_finished):
                path.unlink()
                removed.append(path.name)
        return removed
