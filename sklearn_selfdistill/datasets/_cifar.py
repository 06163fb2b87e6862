"""CIFAR-10: the reader of its pickled python batches, which runs no code, and the loader."""

import pickle

import numpy as np

from .._compat import validate_params
from ._files import _CIFAR10, _LOADER_CONSTRAINTS, _check_labels, _find_files, _to_features

_CIFAR_ROW = 3 * 32 * 32
_CIFAR_BATCHES = {
    "train": [f"data_batch_{i}" for i in range(1, 6)],
    "test": ["test_batch"],
}


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    return f"a {type(value).__name__}"


# What a CIFAR-10 batch needs to be unpickled: numpy arrays, dtypes and scalars (as
# numpy 1 and 2 write them) and bytes as Python 2 pickles write them. Nothing else can
# be named by a batch, so a planted batch cannot call a function of its choosing.
_CIFAR_PICKLE_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles the builtin containers, bytes, str and numpy arrays; refuses the rest."""

    def find_class(self, module, name):
        if (module, name) not in _CIFAR_PICKLE_GLOBALS:
            raise pickle.UnpicklingError(
                f"a CIFAR-10 batch holds only arrays, lists and bytes; this one names "
                f"{module}.{name}, which is refused without being called"
            )
        # numpy 2 moved numpy.core to numpy._core (the old name warns).
        if module.startswith("numpy.core.") and hasattr(np, "_core"):
            module = "numpy._core." + module.removeprefix("numpy.core.")
        return super().find_class(module, name)


def _read_cifar_batch(path):
    """``(data, labels)`` of one CIFAR-10 python batch: uint8 (n, 3072) and int64 (n,).

    Read with ``_CifarUnpickler``: a batch can build arrays, lists, dicts and bytes,
    and cannot run code.
    """
    with open(path, "rb") as file:
        try:
            batch = _CifarUnpickler(file, encoding="bytes").load()
        # A damaged pickle can fail in many ways (EOFError, UnpicklingError, ImportError...).
        except Exception as exc:
            raise ValueError(f"{path} is not a readable pickle ({exc!r}).") from exc
    if not isinstance(batch, dict) or not {b"data", b"labels"} <= batch.keys():
        found = sorted(map(repr, batch)) if isinstance(batch, dict) else _describe(batch)
        raise ValueError(
            f"{path} is not a CIFAR-10 python batch: expected a dict with the keys "
            f"b'data' and b'labels'; found {found}."
        )
    data = batch[b"data"]
    if not (
        isinstance(data, np.ndarray)
        and data.dtype == np.uint8
        and data.ndim == 2
        and data.shape[1] == _CIFAR_ROW
    ):
        raise ValueError(
            f"{path}: b'data' must be a uint8 array of shape (n, {_CIFAR_ROW}); "
            f"found {_describe(data)}."
        )
    try:
        labels = np.asarray(batch[b"labels"])
    except (ValueError, TypeError) as exc:  # a ragged list, objects numpy cannot stack
        raise ValueError(
            f"{path}: b'labels' must hold {len(data)} integers, one per row of b'data'; "
            f"it cannot be read as an array ({exc})."
        ) from None
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{path}: b'labels' must hold {len(data)} integers, one per row of b'data'; "
            f"found {_describe(labels)}."
        )
    _check_labels(labels, path)
    return data, labels.astype(np.int64)


@validate_params(_LOADER_CONSTRAINTS, prefer_skip_nested_validation=True)
def load_cifar10(*, split="train", flatten=False, data_home=None, download=False):
    """CIFAR-10 (32x32 colour images of ten classes), one of its published splits.

    50000 training and 10000 test images (0 airplane, 1 automobile, 2 bird, 3 cat,
    4 deer, 5 dog, 6 frog, 7 horse, 8 ship, 9 truck), read from the python version of
    the data set: the pickled batches ``data_batch_1`` to ``data_batch_5`` (training)
    and ``test_batch``.

    Parameters
    ----------
    split : {"train", "test"}, default="train"
        The published training (50000 images) or test (10000 images) split.
    flatten : bool, default=False
        Return ``X`` as rows of 3072 features (the 1024 red values, then green, then
        blue) instead of ``(n, 3, 32, 32)`` images.
    data_home : str or path-like, default=None
        Folder looked in first, and where ``download=True`` puts the files. Holds them
        directly or under ``cifar-10-batches-py/``, as torchvision writes them.
    download : bool, default=False
        Where no folder holds the files, download them with
        ``torchvision.datasets.CIFAR10`` (needs the ``torch`` extra) into ``data_home``,
        else ``$SKLEARN_SELFDISTILL_DATA``, else ``~/sklearn_selfdistill_data``.

    Returns
    -------
    X : ndarray of shape (n, 3, 32, 32) or (n, 3072), dtype float32
        Pixel intensities divided by 255, in ``[0, 1]``, channels first.
    y : ndarray of shape (n,), dtype int64
        Classes, ``0`` to ``9``.

    Raises
    ------
    NotADirectoryError
        ``data_home`` (or ``$SKLEARN_SELFDISTILL_DATA``) names a file.
    FileNotFoundError
        No folder holds all the batches of the split and ``download`` is False.
    ValueError
        A batch is not a readable pickle, not a dict with ``b"data"`` (uint8, 3072
        columns) and as many ``b"labels"``, or a label is outside ``0 .. 9``; or it
        names anything but numpy arrays, dtypes and scalars (a planted payload).

    See Also
    --------
    load_fashion_mnist : grey 28x28 images, smaller and faster to learn.

    Notes
    -----
    The batches are pickles. They are read by an unpickler that builds only the
    builtin containers, bytes, str and numpy arrays, so a planted batch cannot run
    code: it is a ``ValueError`` naming the file and what it asked for.

    The files are looked for in ``data_home``, then in ``$SKLEARN_SELFDISTILL_DATA``,
    then in ``~/sklearn_selfdistill_data`` when neither of the two is set.

    References
    ----------
    A. Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", technical
    report, University of Toronto, 2009.

    Examples
    --------
    A batch is a pickled dict of ``b"data"`` (uint8 rows of 3072 values) and
    ``b"labels"``; here six tiny ones, written on the spot:

    >>> import pickle, shutil, tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from sklearn_selfdistill.datasets import load_cifar10
    >>> folder = Path(tempfile.mkdtemp())
    >>> batch = {b"data": np.zeros((2, 3072), dtype=np.uint8), b"labels": [3, 8]}
    >>> for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
    ...     _ = (folder / name).write_bytes(pickle.dumps(batch))
    >>> X, y = load_cifar10(data_home=folder)
    >>> X.shape, X.dtype, y.shape
    ((10, 3, 32, 32), dtype('float32'), (10,))
    >>> shutil.rmtree(folder)
    """
    paths = _find_files(
        _CIFAR10,
        _CIFAR_BATCHES[split],
        split=split,
        data_home=data_home,
        download=download,
        compressed=False,
    )
    batches = [_read_cifar_batch(path) for path in paths]
    images = np.concatenate([data for data, _ in batches]).reshape(-1, 3, 32, 32)
    return _to_features(images, flatten), np.concatenate([labels for _, labels in batches])
