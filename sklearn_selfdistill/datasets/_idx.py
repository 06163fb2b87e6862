"""MNIST and Fashion-MNIST: the reader of IDX files (plain or gzip-compressed) and the
two loaders, which share it."""

import gzip
import zlib

import numpy as np

from .._compat import validate_params
from ._files import (
    _FASHION_MNIST,
    _LOADER_CONSTRAINTS,
    _MNIST,
    _check_labels,
    _find_files,
    _to_features,
)

_IDX_PREFIX = {"train": "train", "test": "t10k"}
_UNSIGNED_BYTE = 0x08

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


def _load_idx(source, split, flatten, data_home, download):
    prefix = _IDX_PREFIX[split]
    image_path, label_path = _find_files(
        source,
        [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"],
        split=split,
        data_home=data_home,
        download=download,
        compressed=True,
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
    return _load_idx(_FASHION_MNIST, split, flatten, data_home, download)


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
