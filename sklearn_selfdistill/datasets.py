"""Image classification data sets as numpy arrays: digits, MNIST, Fashion-MNIST, CIFAR-10.

Every loader returns ``(X, y)`` for one split: ``X`` float32 in ``[0, 1]`` of shape
``(n, channels, height, width)`` (or ``(n, channels * height * width)`` with
``flatten=True``), ``y`` int64 class labels in ``0 .. 9``.

The digits come with scikit-learn. The other three are read from the files their
authors publish, looked for, in this order, in

1. the ``data_home`` argument;
2. the folder named by the ``SKLEARN_SELFDISTILL_DATA`` environment variable;
3. for Fashion-MNIST, ``/usr/share/datasets/fashion-mnist/`` (the Debian package
   ``dataset-fashion-mnist``);
4. ``~/sklearn_selfdistill_data``, where neither ``data_home`` nor the environment
   variable is set (so that an earlier ``download=True`` is found again).

In each folder the files may lie in the sub-folder that torchvision writes
(``MNIST/raw/``, ``FashionMNIST/raw/``, ``cifar-10-batches-py/``) or directly in the
folder. Where none holds them, ``download=True`` has torchvision download them into
the first of ``data_home``, ``$SKLEARN_SELFDISTILL_DATA`` and
``~/sklearn_selfdistill_data``; torch and torchvision are imported for that only.
"""

import gzip
import os
import pickle
import zlib
from numbers import Integral, Real
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn import datasets as _sklearn_datasets
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    RealNotInt,
    StrOptions,
    validate_params,
)

__all__ = [
    "flip_labels",
    "hide_labels",
    "load_cifar10",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
]

_ENV_VAR = "SKLEARN_SELFDISTILL_DATA"
_DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_DEFAULT_DATA_HOME = Path("~/sklearn_selfdistill_data")
_N_CLASSES = 10
_CIFAR_ROW = 3 * 32 * 32
_CIFAR_BATCHES = {
    "train": [f"data_batch_{i}" for i in range(1, 6)],
    "test": ["test_batch"],
}
_IDX_PREFIX = {"train": "train", "test": "t10k"}
_UNSIGNED_BYTE = 0x08


class _Source(NamedTuple):
    """A data set that torchvision can download: its name and where torchvision puts it."""

    title: str
    torchvision_class: str
    subfolder: str


_MNIST = _Source("MNIST", "MNIST", "MNIST/raw")
_FASHION_MNIST = _Source("Fashion-MNIST", "FashionMNIST", "FashionMNIST/raw")
_CIFAR10 = _Source("CIFAR-10", "CIFAR10", "cifar-10-batches-py")

_LOADER_CONSTRAINTS = {
    "split": [StrOptions({"train", "test"})],
    "flatten": ["boolean"],
    "data_home": [str, os.PathLike, None],
    "download": ["boolean"],
}


def _to_features(images, flatten):
    """uint8 images as float32 in [0, 1], one row per image where ``flatten``."""
    X = np.divide(images, 255, dtype=np.float32)
    return X.reshape(len(X), -1) if flatten else X


def _download_root(data_home):
    root = data_home if data_home is not None else os.environ.get(_ENV_VAR) or _DEFAULT_DATA_HOME
    return Path(root).expanduser()


def _places(source, data_home, extra_roots):
    """The folders to look in, in order: each root's torchvision sub-folder, then the root."""
    roots = [] if data_home is None else [Path(data_home).expanduser()]
    if os.environ.get(_ENV_VAR):
        roots.append(Path(os.environ[_ENV_VAR]).expanduser())
    roots += [*extra_roots, _download_root(data_home)]
    # dict.fromkeys drops repeats (data_home also named by the env var) and keeps the order.
    return list(
        dict.fromkeys(place for root in roots for place in (root / source.subfolder, root))
    )


def _existing(folder, name, compressed):
    candidates = [name, f"{name}.gz"] if compressed else [name]
    return next((folder / n for n in candidates if (folder / n).is_file()), None)


def _first_complete(places, names, compressed):
    """The paths of ``names`` in the first of ``places`` that holds them all, or None."""
    for place in places:
        paths = [_existing(place, name, compressed) for name in names]
        if all(paths):
            return paths
    return None


def _torchvision_class(name):
    # Imported here only: the core of the package works without torch and torchvision.
    try:
        import torchvision.datasets
    except ImportError as exc:
        raise ImportError(
            "download=True downloads the files with torchvision, which is not installed: "
            'pip install "sklearn_selfdistill[torch]"'
        ) from exc
    return getattr(torchvision.datasets, name)


def _check_root_is_a_folder(source, data_home):
    """``data_home`` (else the environment variable's folder) must be a folder where it exists."""
    if data_home is not None:
        label, root = "data_home", data_home
    elif os.environ.get(_ENV_VAR):
        label, root = f"the {_ENV_VAR} environment variable", os.environ[_ENV_VAR]
    else:
        return
    path = Path(root).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(
            f"{label} names {path}, which is a file; it must be a folder: the one that holds "
            f"the {source.title} files, or where download=True puts them."
        )


def _find_files(source, names, *, split, data_home, download, compressed, extra_roots=()):
    """Where ``names`` are, after a torchvision download where needed and allowed."""
    _check_root_is_a_folder(source, data_home)
    places = _places(source, data_home, extra_roots)
    paths = _first_complete(places, names, compressed)
    if paths is not None:
        return paths
    root = _download_root(data_home)
    if not download:
        either = ", each plain or gzip-compressed (.gz)" if compressed else ""
        debian = (
            " On Debian or Ubuntu, `apt-get install dataset-fashion-mnist` installs it under "
            f"{_DEBIAN_FASHION_MNIST_DIR}."
            if source is _FASHION_MNIST
            else ""
        )
        raise FileNotFoundError(
            f"No {source.title} {split} files ({', '.join(names)}{either}) in any of: "
            f"{', '.join(str(place) for place in places)}. Pass download=True to download "
            f"{source.title} with torchvision into {root}, or set data_home or the {_ENV_VAR} "
            f"environment variable to a folder that holds the files.{debian}"
        )
    _torchvision_class(source.torchvision_class)(
        root=str(root), train=split == "train", download=True
    )
    paths = _first_complete([root / source.subfolder, root], names, compressed)
    if paths is None:
        raise FileNotFoundError(
            f"torchvision downloaded {source.title} into {root}, but {', '.join(names)} "
            f"are not in {root / source.subfolder}."
        )
    return paths


def _check_labels(labels, path):
    if labels.size and (labels.min() < 0 or labels.max() >= _N_CLASSES):
        raise ValueError(
            f"{path} holds labels from {labels.min()} to {labels.max()}; "
            f"expected class labels in 0..{_N_CLASSES - 1}. The file is corrupt."
        )


#: The most items an IDX file may declare: MNIST has 70 000, EMNIST about 800 000.
_MAX_IDX_ITEMS = 1_000_000


def _read_idx(path, item_shape):
    """An IDX file of unsigned bytes, gzip-compressed or not, as a uint8 array.

    The header is the magic number (two zero bytes, the element type, the number of
    dimensions), then one big-endian uint32 per dimension; the values follow. The header
    is read and checked first, and no more than the values it declares (plus one byte,
    to find trailing data) is ever read or decompressed: a small ``.gz`` file that would
    inflate to gigabytes is refused after reading what its header promises.
    """
    ndim = 1 + len(item_shape)
    header_size = 4 + 4 * ndim
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as file:
            header = file.read(header_size)
            shape = _idx_shape(path, header, ndim, item_shape)
            n_values = int(np.prod(shape))
            data = file.read(n_values)
            trailing = len(file.read(1))
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"{path} is not a valid gzip file ({exc}).") from exc
    if len(data) != n_values or trailing:
        follows = f"{len(data)} bytes" if not trailing else "more bytes than that"
        raise ValueError(
            f"{path} is truncated or corrupt: its header declares shape {shape} "
            f"({n_values} bytes of values) but {follows} follow it."
        )
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _idx_shape(path, header, ndim, item_shape):
    """The shape an IDX header declares, checked against what the loader expects."""
    magic = bytes([0, 0, _UNSIGNED_BYTE, ndim])
    if header[:4] != magic:
        found = f"0x{header[:4].hex()}" if header else "missing: the file is empty"
        raise ValueError(
            f"{path} is not an IDX file of unsigned bytes in {ndim} dimensions: its magic "
            f"number is {found}, expected 0x{magic.hex()}."
        )
    if len(header) < 4 + 4 * ndim:
        raise ValueError(f"{path} is truncated: its header is cut short.")
    shape = tuple(int(n) for n in np.frombuffer(header, dtype=">u4", count=ndim, offset=4))
    if shape[1:] != item_shape:
        raise ValueError(f"{path} holds items of shape {shape[1:]}; expected {item_shape}.")
    if shape[0] > _MAX_IDX_ITEMS:
        raise ValueError(
            f"{path} declares {shape[0]} items, more than the {_MAX_IDX_ITEMS} this loader "
            f"reads; the file is corrupt or not one of the data sets it loads."
        )
    return shape


def _load_idx(source, split, flatten, data_home, download, extra_roots=()):
    prefix = _IDX_PREFIX[split]
    image_path, label_path = _find_files(
        source,
        [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"],
        split=split,
        data_home=data_home,
        download=download,
        compressed=True,
        extra_roots=extra_roots,
    )
    images = _read_idx(image_path, (28, 28))
    labels = _read_idx(label_path, ())
    if len(images) != len(labels):
        raise ValueError(
            f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} "
            "labels; one of them is corrupt or they belong to different data sets."
        )
    _check_labels(labels, label_path)
    return _to_features(images[:, np.newaxis], flatten), labels.astype(np.int64)


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


@validate_params(
    {
        "split": [StrOptions({"train", "test"})],
        "flatten": ["boolean"],
        "test_size": [
            Interval(RealNotInt, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_digits(*, split="train", flatten=False, test_size=0.25, random_state=0):
    """The 8x8 handwritten digits of scikit-learn, one split, as images in [0, 1].

    The digits have no published train/test split: this one is a stratified
    :func:`~sklearn.model_selection.train_test_split` of the 1797 images with the given
    ``test_size`` and ``random_state``, so the same arguments always give the same split,
    and ``"train"`` and ``"test"`` with the same arguments never share an image.

    Parameters
    ----------
    split : {"train", "test"}, default="train"
        Which part of the split to return.
    flatten : bool, default=False
        Return ``X`` as rows of 64 features instead of ``(n, 1, 8, 8)`` images.
    test_size : float or int, default=0.25
        Fraction of the images (float in ``(0, 1)``) or number of images (int) in the
        test part.
    random_state : int, RandomState instance or None, default=0
        Seed of the shuffle before the split. None gives a different split at each call.

    Returns
    -------
    X : ndarray of shape (n, 1, 8, 8) or (n, 64), dtype float32
        Pixel intensities divided by 16, in ``[0, 1]``.
    y : ndarray of shape (n,), dtype int64
        Digits, ``0`` to ``9``.

    See Also
    --------
    sklearn.datasets.load_digits : the whole data set, unsplit and unscaled.
    load_mnist : the 28x28 handwritten digits.

    Examples
    --------
    >>> from sklearn_selfdistill.datasets import load_digits
    >>> X_train, y_train = load_digits()
    >>> X_train.shape, X_train.dtype, y_train.dtype
    ((1347, 1, 8, 8), dtype('float32'), dtype('int64'))
    >>> X_test, y_test = load_digits(split="test", flatten=True)
    >>> X_test.shape, float(X_test.min()), float(X_test.max())
    ((450, 64), 0.0, 1.0)
    """
    X, y = _sklearn_datasets.load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state, stratify=y
    )
    X, y = (X_train, y_train) if split == "train" else (X_test, y_test)
    X = np.divide(X, 16, dtype=np.float32)
    return (X if flatten else X.reshape(-1, 1, 8, 8)), y.astype(np.int64)


@validate_params(_LOADER_CONSTRAINTS, prefer_skip_nested_validation=True)
def load_fashion_mnist(*, split="train", flatten=False, data_home=None, download=False):
    """Fashion-MNIST (Zalando's 28x28 clothing images), one of its published splits.

    60000 training and 10000 test images of ten classes of clothing (0 T-shirt/top,
    1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt, 7 sneaker, 8 bag,
    9 ankle boot), read from the four IDX files ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
    ``t10k-labels-idx1-ubyte``, each plain or gzip-compressed (``.gz``).

    Parameters
    ----------
    split : {"train", "test"}, default="train"
        The published training (60000 images) or test (10000 images) split.
    flatten : bool, default=False
        Return ``X`` as rows of 784 features instead of ``(n, 1, 28, 28)`` images.
    data_home : str or path-like, default=None
        Folder looked in first, and where ``download=True`` puts the files. Holds them
        directly or under ``FashionMNIST/raw/``, as torchvision writes them.
    download : bool, default=False
        Where no folder holds the files, download them with
        ``torchvision.datasets.FashionMNIST`` (needs the ``torch`` extra) into
        ``data_home``, else ``$SKLEARN_SELFDISTILL_DATA``, else
        ``~/sklearn_selfdistill_data``.

    Returns
    -------
    X : ndarray of shape (n, 1, 28, 28) or (n, 784), dtype float32
        Pixel intensities divided by 255, in ``[0, 1]``.
    y : ndarray of shape (n,), dtype int64
        Classes, ``0`` to ``9``.

    Raises
    ------
    NotADirectoryError
        ``data_home`` (or ``$SKLEARN_SELFDISTILL_DATA``) names a file.
    FileNotFoundError
        No folder holds the files and ``download`` is False.
    ValueError
        A file is not a valid IDX file of the expected shape (truncated, corrupt), the
        image and label files differ in length, or a label is outside ``0 .. 9``.

    See Also
    --------
    load_mnist : the same format, handwritten digits.

    Notes
    -----
    The files are looked for in ``data_home``, then in ``$SKLEARN_SELFDISTILL_DATA``,
    then in ``/usr/share/datasets/fashion-mnist/``, where the Debian package
    (``apt-get install dataset-fashion-mnist``) installs them, then in
    ``~/sklearn_selfdistill_data`` when neither of the first two is set.

    References
    ----------
    H. Xiao, K. Rasul and R. Vollgraf, "Fashion-MNIST: a Novel Image Dataset for
    Benchmarking Machine Learning Algorithms", arXiv:1708.07747, 2017.

    Examples
    --------
    Any folder of IDX files will do; here, two tiny files written on the spot. An IDX
    file is its magic number (``0, 0, 8`` for unsigned bytes, then the number of
    dimensions), one big-endian uint32 per dimension, and the values.

    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from sklearn_selfdistill.datasets import load_fashion_mnist
    >>> def idx(array):
    ...     shape = np.array(array.shape, dtype=">u4").tobytes()
    ...     return bytes([0, 0, 8, array.ndim]) + shape + array.tobytes()
    >>> folder = Path(tempfile.mkdtemp())
    >>> images = np.full((3, 28, 28), 255, dtype=np.uint8)
    >>> _ = (folder / "t10k-images-idx3-ubyte").write_bytes(idx(images))
    >>> labels = np.array([9, 0, 7], dtype=np.uint8)
    >>> _ = (folder / "t10k-labels-idx1-ubyte").write_bytes(idx(labels))
    >>> X, y = load_fashion_mnist(split="test", data_home=folder)
    >>> X.shape, float(X.max()), y
    ((3, 1, 28, 28), 1.0, array([9, 0, 7]))
    >>> shutil.rmtree(folder)
    """
    return _load_idx(
        _FASHION_MNIST,
        split,
        flatten,
        data_home,
        download,
        extra_roots=[_DEBIAN_FASHION_MNIST_DIR],
    )


@validate_params(_LOADER_CONSTRAINTS, prefer_skip_nested_validation=True)
def load_mnist(*, split="train", flatten=False, data_home=None, download=False):
    """MNIST (28x28 handwritten digits), one of its published splits.

    60000 training and 10000 test images, read from the four IDX files
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each plain or
    gzip-compressed (``.gz``).

    Parameters
    ----------
    split : {"train", "test"}, default="train"
        The published training (60000 images) or test (10000 images) split.
    flatten : bool, default=False
        Return ``X`` as rows of 784 features instead of ``(n, 1, 28, 28)`` images.
    data_home : str or path-like, default=None
        Folder looked in first, and where ``download=True`` puts the files. Holds them
        directly or under ``MNIST/raw/``, as torchvision writes them.
    download : bool, default=False
        Where no folder holds the files, download them with
        ``torchvision.datasets.MNIST`` (needs the ``torch`` extra) into ``data_home``,
        else ``$SKLEARN_SELFDISTILL_DATA``, else ``~/sklearn_selfdistill_data``.

    Returns
    -------
    X : ndarray of shape (n, 1, 28, 28) or (n, 784), dtype float32
        Pixel intensities divided by 255, in ``[0, 1]``.
    y : ndarray of shape (n,), dtype int64
        Digits, ``0`` to ``9``.

    Raises
    ------
    NotADirectoryError
        ``data_home`` (or ``$SKLEARN_SELFDISTILL_DATA``) names a file.
    FileNotFoundError
        No folder holds the files and ``download`` is False.
    ValueError
        A file is not a valid IDX file of the expected shape (truncated, corrupt), the
        image and label files differ in length, or a label is outside ``0 .. 9``.

    See Also
    --------
    load_digits : 8x8 digits that come with scikit-learn, no files needed.
    load_fashion_mnist : the same format, clothing.

    Notes
    -----
    The files are looked for in ``data_home``, then in ``$SKLEARN_SELFDISTILL_DATA``,
    then in ``~/sklearn_selfdistill_data`` when neither of the two is set. A folder
    that holds the files directly should hold only MNIST: Fashion-MNIST's files have
    the same names.

    References
    ----------
    Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning applied to
    document recognition", Proceedings of the IEEE, 86(11), 1998.

    Examples
    --------
    torchvision's layout (``MNIST/raw/`` under ``data_home``) with gzip-compressed
    files, two tiny ones written on the spot:

    >>> import gzip, shutil, tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from sklearn_selfdistill.datasets import load_mnist
    >>> def idx(array):
    ...     shape = np.array(array.shape, dtype=">u4").tobytes()
    ...     return gzip.compress(bytes([0, 0, 8, array.ndim]) + shape + array.tobytes())
    >>> home = Path(tempfile.mkdtemp())
    >>> raw = home / "MNIST" / "raw"
    >>> raw.mkdir(parents=True)
    >>> images = np.zeros((2, 28, 28), dtype=np.uint8)
    >>> _ = (raw / "train-images-idx3-ubyte.gz").write_bytes(idx(images))
    >>> _ = (raw / "train-labels-idx1-ubyte.gz").write_bytes(idx(np.array([5, 0], np.uint8)))
    >>> X, y = load_mnist(data_home=home, flatten=True)
    >>> X.shape, X.dtype, y
    ((2, 784), dtype('float32'), array([5, 0]))
    >>> shutil.rmtree(home)
    """
    return _load_idx(_MNIST, split, flatten, data_home, download)


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


def _labels(y, name="y"):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be one label per row (1-d); got shape {y.shape}.")
    return y


@validate_params(
    {
        "y": ["array-like"],
        "share": [Interval(Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def flip_labels(y, share, *, random_state=None):
    """Symmetric label noise: ``share`` of the labels moved to another class at random.

    ``round(share * len(y))`` rows, drawn without replacement, each get a class drawn
    uniformly among the classes of ``y`` other than its own; the other rows keep
    theirs. This is the noise of the project's noisy-label studies and of the
    command line's ``data.label_noise``. Flip the training labels only: a test set
    scored against flipped labels measures the noise, not the model.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels, at least two distinct ones.
    share : float in [0, 1]
        The share of rows whose label changes.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws; the same seed flips the same rows to the same classes.

    Returns
    -------
    noisy : ndarray of shape (n_samples,)
        A copy of ``y`` with the flipped labels.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_selfdistill.datasets import flip_labels
    >>> y = np.repeat([0, 1, 2], 10)
    >>> noisy = flip_labels(y, 0.4, random_state=0)
    >>> int((noisy != y).sum())
    12
    """
    y = _labels(y).copy()
    classes = np.unique(y)
    if share > 0 and classes.shape[0] < 2:
        raise ValueError(
            f"flip_labels needs at least two classes to move a label to another; y has "
            f"{classes.shape[0]}."
        )
    rng = check_random_state(random_state)
    flipped = rng.choice(y.shape[0], size=round(share * y.shape[0]), replace=False)
    for row in flipped:
        y[row] = rng.choice(classes[classes != y[row]])
    return y


@validate_params(
    {
        "y": ["array-like"],
        "n_labeled": [Interval(Integral, 1, None, closed="left")],
        "unlabeled": [Integral],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def hide_labels(y, n_labeled, *, unlabeled=-1, random_state=None):
    """Keep ``n_labeled`` labels, a stratified draw, and mark every other row unlabelled.

    The few-labels setting of Noisy Student: fit
    ``SelfDistillationClassifier(..., unlabeled=-1)`` on the result, and generation 0
    learns the labelled rows while the later generations also learn the teacher's
    predictions on the others.

    Parameters
    ----------
    y : array-like of int of shape (n_samples,)
        Class labels.
    n_labeled : int >= 1
        How many rows keep their label; at least one per class and fewer than
        ``n_samples``. The classes keep their proportions, as in a stratified split.
    unlabeled : int, default=-1
        The marker of an unlabelled row; it must not be one of the classes.
    random_state : int, RandomState instance or None, default=None
        Seed of the draw.

    Returns
    -------
    partly_labeled : ndarray of shape (n_samples,)
        A copy of ``y`` in which the rows not drawn hold ``unlabeled``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_selfdistill.datasets import hide_labels
    >>> y = np.repeat([0, 1], 50)
    >>> kept = hide_labels(y, 10, random_state=0)
    >>> int((kept == 0).sum()), int((kept == 1).sum()), int((kept == -1).sum())
    (5, 5, 90)
    """
    y = _labels(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"hide_labels needs integer class labels, to mark unlabelled rows with "
            f"unlabeled={unlabeled!r}; y has dtype {y.dtype}."
        )
    classes = np.unique(y)
    if unlabeled in classes:
        raise ValueError(f"unlabeled={unlabeled!r} is one of the classes of y; pick another.")
    if not classes.shape[0] <= n_labeled < y.shape[0]:
        raise ValueError(
            f"n_labeled={n_labeled} must be at least the number of classes "
            f"({classes.shape[0]}) and less than the number of rows ({y.shape[0]})."
        )
    kept, _ = train_test_split(
        np.arange(y.shape[0]), train_size=n_labeled, stratify=y, random_state=random_state
    )
    partly = np.full(y.shape[0], unlabeled, dtype=np.int64)
    partly[kept] = y[kept]
    return partly
