"""A run folder: the resolved configuration and every finished generation, written atomically.

Layout of a run folder::

    config.yaml            the resolved configuration, written before any training
    generation_0.pt        generation 0's weights (``torch.save(net.module_.state_dict())``)
    generation_0.json      its metrics, scores and the versions of the software that trained it
    generation_0.done      the marker, written last: the SHA-256 of the two files above
    generation_1.pt ...

Every file is written to a temporary file in the same folder, flushed to disk, then renamed
over its final name (``os.replace``, atomic on POSIX and Windows), so a reader sees either
the old file or the whole new one. A generation counts as finished only once its marker is
there and the files it names have the hashes it records: a crash or Ctrl-C between two
writes leaves a generation without marker, which does not count and is written again.

This module reads and writes bytes and JSON only; the caller serializes the weights.
"""

import contextlib
import hashlib
import json
import os
import re
import secrets
import time
from pathlib import Path

__all__ = ["Lineage", "LineageError", "atomic_write"]

CONFIG = "config.yaml"
_GENERATION_FILE = re.compile(r"^generation_(\d+)\.(pt|json|done)$")
_TEMPORARY_FILE = re.compile(r"^\..+\.tmp$")


class LineageError(Exception):
    """A folder that is not a run folder, or a run folder whose files do not agree."""


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
    >>> from sklearn_selfdistill._lineage import atomic_write
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
        if not (self.path / CONFIG).is_file():
            raise LineageError(
                f"{self.path} is not a run folder of sklearn-selfdistill train: it has no "
                f"{CONFIG}."
            )

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
        runs_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for attempt in range(1, 1000):
            path = runs_dir / (stamp if attempt == 1 else f"{stamp}-{attempt}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            atomic_write(path / CONFIG, config_yaml.encode())
            return cls(path)
        raise LineageError(f"Could not make a new run folder named {stamp}-N in {runs_dir}.")

    def read_config(self):
        """The resolved configuration, as the YAML text it was written as."""
        return (self.path / CONFIG).read_text()

    def _file(self, generation, kind):
        return self.path / f"generation_{generation}.{kind}"

    def weights_path(self, generation):
        """Path of ``generation``'s weights file."""
        return self._file(generation, "pt")

    def write_generation(self, generation, weights, metrics):
        """Write a finished generation: weights, metrics, then the marker that makes it count.

        Parameters
        ----------
        generation : int
            Its number; generations are written in order, 0 first.
        weights : bytes
            The serialized weights.
        metrics : dict
            JSON-serializable metrics.
        """
        expected = len(self.finished())
        if generation != expected:
            raise LineageError(
                f"Generation {generation} cannot be written to {self.path}: the next "
                f"generation there is {expected}."
            )
        atomic_write(self._file(generation, "pt"), weights)
        atomic_write(
            self._file(generation, "json"), (json.dumps(metrics, indent=2) + "\n").encode()
        )
        marker = {
            "generation": generation,
            "sha256": {
                path.name: _sha256(path)
                for path in (self._file(generation, "pt"), self._file(generation, "json"))
            },
        }
        atomic_write(
            self._file(generation, "done"), (json.dumps(marker, indent=2) + "\n").encode()
        )

    def finished(self):
        """The finished generations, ``[0, 1, ..., k - 1]``: those with a valid marker.

        A generation counts only if every generation before it does.

        Raises
        ------
        LineageError
            If a marker is there but a file it names is missing or has changed since.
        """
        generations = []
        while self._file(len(generations), "done").is_file():
            generation = len(generations)
            marker = json.loads(self._file(generation, "done").read_text())
            for name, digest in marker["sha256"].items():
                path = self.path / name
                if not path.is_file() or _sha256(path) != digest:
                    raise LineageError(
                        f"{path} is missing or was changed after generation {generation} "
                        f"was written: it does not match {self._file(generation, 'done')}."
                    )
            generations.append(generation)
        return generations

    def metrics(self, generation):
        """The metrics written with ``generation``."""
        return json.loads(self._file(generation, "json").read_text())

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
