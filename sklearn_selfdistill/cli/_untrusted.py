"""Bounds on what is read from an untrusted file, checked before it is parsed or loaded.

A few hundred bytes of YAML whose aliases (``*a``) nest expand to billions of values, and a
16 MiB ``.pt`` file may declare a 16 GiB tensor (deflated zeros) that ``torch.load``
allocates before it reads a byte of it. So, before parsing or loading:

- YAML is composed into its graph of nodes (aliases stay shared, so this is linear in the
  text), and refused when the values it would expand to are too many
  (:func:`check_yaml`);
- a ``.npy`` file of teacher outputs must declare the shape and dtype the run needs
  (:func:`load_teacher_outputs`);
- a file of ``torch.save`` must be a zip archive whose entries, stored and declared, are
  no larger than the model's own tensors allow (:func:`check_torch_file`): the sizes its
  zip directory gives, and the size of every tensor storage its pickle declares, read
  with an unpickler that builds nothing and runs nothing.

Every refusal is a :class:`~._lineage.LineageError` naming the file and what it declares.
"""

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import yaml

from ._errors import shorten
from ._lineage import LineageError, _read_bounded

__all__ = [
    "MAX_YAML_VALUES",
    "check_torch_file",
    "check_yaml",
    "load_teacher_outputs",
    "restore_generation",
]

#: The most values (scalars, lists and mappings, aliases expanded) a configuration holds.
MAX_YAML_VALUES = 10_000
#: The most bytes of YAML text read as a configuration.
MAX_YAML_BYTES = 1 << 20

# Bytes per element of the storages a torch pickle names (the largest for any other).
_ELEMENT_SIZES = {
    "BoolStorage": 1,
    "ByteStorage": 1,
    "CharStorage": 1,
    "UntypedStorage": 1,
    "ShortStorage": 2,
    "HalfStorage": 2,
    "BFloat16Storage": 2,
    "IntStorage": 4,
    "FloatStorage": 4,
    "LongStorage": 8,
    "DoubleStorage": 8,
    "ComplexFloatStorage": 8,
    "ComplexDoubleStorage": 16,
}


def _expanded_size(node, sizes):
    """How many values ``node`` stands for once its aliases are expanded (memoized)."""
    key = id(node)
    if key not in sizes:
        sizes[key] = 0  # a node that contains itself counts once per visit
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(_expanded_size(child, sizes) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(
                _expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value
            )
        else:
            total = 1
        sizes[key] = total
    return sizes[key]


def check_yaml(text, source):
    """Refuse YAML ``text`` that is too long or expands to too many values; else return it.

    Raises
    ------
    LineageError
        Naming ``source``; the caller may turn it into its own kind of error.
    yaml.YAMLError
        Where ``text`` is not YAML.
    """
    if len(text) > MAX_YAML_BYTES:
        raise LineageError(
            f"{shorten(source)} holds {len(text)} characters of YAML; a configuration has "
            f"at most {MAX_YAML_BYTES}, so it was not parsed."
        )
    try:  # a yaml.YAMLError goes to the caller, who says what it was reading
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise LineageError(
            f"cannot read {shorten(source)} as YAML: it nests deeper than Python can follow."
        ) from None
    size = 0 if node is None else _expanded_size(node, {})
    if size > MAX_YAML_VALUES:
        raise LineageError(
            f"{shorten(source)} expands, through its YAML aliases (*name), to {size} values; "
            f"a configuration has at most {MAX_YAML_VALUES}, so it was refused without "
            f"expanding it. Write the values out, without anchors and aliases."
        )
    return text


class _Built:
    """What every class and function of a pickle becomes here: a record of its name."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    # What the pickle of a dict or list subclass (an OrderedDict) does to it.
    def __setitem__(self, key, value):
        pass

    def append(self, value):
        pass

    def extend(self, values):
        pass


class _StorageScanner(pickle.Unpickler):
    """Unpickles a torch pickle without building anything: it records the storages."""

    def __init__(self, data):
        super().__init__(io.BytesIO(data))
        self.storages = []

    def find_class(self, module, name):
        # A new class per name, never the real one: nothing of the pickle runs.
        return type(name, (_Built,), {"qualified": f"{module}.{name}"})

    def persistent_load(self, pid):
        self.storages.append(pid)


def _declared_storages(data, path):
    """``[(key, bytes)]`` of the storages the pickle ``data`` of ``path`` declares."""
    scanner = _StorageScanner(data)
    try:
        scanner.load()
    except Exception as exc:  # any malformed pickle: nothing was built, nothing ran
        raise LineageError(
            f"{shorten(path)} is not a file of torch.save: its pickle cannot be read "
            f"({shorten(type(exc).__name__ + ': ' + str(exc), 120)})."
        ) from None
    declared = []
    for pid in scanner.storages:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise LineageError(f"{shorten(path)} names a storage torch.save never writes.")
        _, storage_type, key, _, numel = pid
        if not isinstance(numel, int) or numel < 0 or not isinstance(key, str):
            raise LineageError(f"{shorten(path)} declares a storage of size {numel!r}.")
        element = _ELEMENT_SIZES.get(getattr(storage_type, "__name__", ""), 16)
        declared.append((key, numel * element))
    return declared


def check_torch_file(path, limit, data=None):
    """Refuse a ``torch.save`` file that declares more than ``limit`` bytes of tensors.

    Checked from the zip directory and the pickle alone, before ``torch.load`` allocates
    anything: the file's size, every entry's size once inflated, every storage the
    pickle declares (and that its record holds as many bytes), all against ``limit``.

    Parameters
    ----------
    path : path-like
        The file.
    limit : int
        The most bytes of tensors the file may hold: what the model's own parameters (or
        the state that goes with them) take, with some room.
    data : bytes or None, default=None
        The file's bytes, where they were read already (and checked against a hash).

    Raises
    ------
    LineageError
        Naming the file, the size it declares and the limit.
    """
    path = Path(path)

    def too_large(what, declared):
        return LineageError(
            f"{shorten(path)} declares {what} of {declared} bytes, more than the {limit} "
            f"bytes the configured model's tensors take; it was not loaded. Restore the file "
            f"from a copy of the run folder, or start a new run."
        )

    try:
        with zipfile.ZipFile(path if data is None else io.BytesIO(data)) as archive:
            entries = archive.infolist()
            for entry in entries:
                if entry.file_size > limit + (1 << 20):
                    raise too_large(f"an entry {shorten(entry.filename, 80)}", entry.file_size)
            total = sum(entry.file_size for entry in entries)
            if total > 2 * limit + (1 << 20):
                raise too_large("entries", total)
            pickles = [e for e in entries if e.filename.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise LineageError(f"{shorten(path)} is not a file of torch.save (no data.pkl).")
            prefix = pickles[0].filename[: -len("data.pkl")]
            records = {e.filename: e.file_size for e in entries}
            size = path.stat().st_size if data is None else len(data)
            if size > 2 * limit + (1 << 20):
                raise too_large("a file", size)
            declared = _declared_storages(archive.read(pickles[0]), path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise LineageError(
            f"{shorten(path)} is not a file of torch.save (a zip archive): {shorten(exc, 120)}"
        ) from None
    for key, nbytes in declared:
        if nbytes > limit:
            raise too_large(f"a tensor storage {shorten(key, 40)}", nbytes)
        record = records.get(f"{prefix}data/{key}")
        if record is None or record < nbytes:
            raise LineageError(
                f"{shorten(path)} declares a tensor storage of {nbytes} bytes whose record "
                f"holds {record or 0}; it was not loaded."
            )
    if sum(nbytes for _, nbytes in declared) > limit:
        raise too_large("tensors", sum(nbytes for _, nbytes in declared))


def restore_generation(net, n_classes, path):
    """A fitted copy of ``net`` with the weights of ``path``, its sizes checked first."""
    from sklearn.base import clone

    from ._build import restore_net
    from ._checkpoint import module_bytes

    fresh = clone(net).set_params(classes=np.arange(n_classes)).initialize()
    check_torch_file(path, module_bytes(fresh.module_) + 4096)
    return restore_net(net, n_classes, path)


def load_teacher_outputs(lineage, generation, shape):
    """The cross-fit teacher outputs of ``generation``: a float64 array of ``shape``.

    The header of the ``.npy`` file is read first: a file that declares another shape or
    dtype is refused before any array is allocated, and nothing is unpickled.
    """
    path = lineage.teacher_path(generation)
    if not lineage.has_teacher_file(generation):
        raise LineageError(
            f"generation {generation} of the cross-fit run {lineage.path} was written "
            f"without its teacher outputs ({path.name}), from which the next generation's "
            f"fold copies are refit; this run cannot be continued: start a new run."
        )
    expected = 8 * shape[0] * shape[1]
    data = _read_bounded(path, expected + 4096, "file of teacher outputs")
    buffer = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buffer)
        read_header = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }.get(version)
        if read_header is None:
            raise ValueError(f"unknown .npy format version {version}")
        declared, fortran, dtype = read_header(buffer)
    except (ValueError, SyntaxError, EOFError) as exc:
        raise LineageError(f"{path} is not a .npy file: {shorten(exc, 120)}") from None
    if tuple(declared) != tuple(shape) or dtype != np.float64 or fortran:
        raise LineageError(
            f"{path} declares an array of shape {shorten(declared, 60)} and dtype "
            f"{shorten(dtype, 40)}; the run's teacher outputs are float64 of shape "
            f"{tuple(shape)}. Start a new run."
        )
    buffer.seek(0)
    try:
        outputs = np.load(buffer, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise LineageError(f"cannot read {path}: {shorten(exc, 120)}") from None
    if not np.all(np.isfinite(outputs)):
        raise LineageError(f"{path} holds values that are not finite numbers.")
    return outputs
