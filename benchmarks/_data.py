"""Data for the benchmarks: Fashion-MNIST from its IDX files (the Debian package).

``apt-get install dataset-fashion-mnist`` puts the four gzip IDX files under
``/usr/share/datasets/fashion-mnist/``. The library's own loaders (with download)
come with issue 5; the benchmarks only need to read what is on the disk.
"""

import gzip
from pathlib import Path

import numpy as np

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """An IDX file (gzip-compressed or not) as a numpy array of its shape and type.

    The header is two zero bytes, the element type (0x08 for unsigned bytes), the
    number of dimensions, then one big-endian uint32 per dimension.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as file:
        data = file.read()
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path} is not an IDX file: its header starts with {data[:4].hex()}, "
            f"expected two zero bytes, a type code and the number of dimensions."
        )
    ndim = data[3]
    shape = tuple(int(n) for n in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    values = np.frombuffer(data, dtype=_IDX_DTYPES[data[2]], offset=4 + 4 * ndim)
    if values.size != int(np.prod(shape)):
        raise ValueError(
            f"{path} declares shape {shape} ({int(np.prod(shape))} values) but holds "
            f"{values.size} values."
        )
    return values.reshape(shape)


def load_fashion_mnist(data_dir=FASHION_MNIST_DIR, split="train"):
    """``(images, labels)``: uint8 of shape ``(n, 28, 28)`` and int64 of shape ``(n,)``."""
    prefix = {"train": "train", "test": "t10k"}[split]
    data_dir = Path(data_dir)
    if not (data_dir / f"{prefix}-images-idx3-ubyte.gz").exists():
        raise FileNotFoundError(
            f"No Fashion-MNIST under {data_dir}: apt-get install dataset-fashion-mnist, "
            f"or pass the folder that holds {prefix}-images-idx3-ubyte.gz."
        )
    images = read_idx(data_dir / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(data_dir / f"{prefix}-labels-idx1-ubyte.gz")
    if images.ndim != 3 or labels.shape != images.shape[:1]:
        raise ValueError(
            f"Expected images of shape (n, 28, 28) and n labels in {data_dir}; got "
            f"{images.shape} and {labels.shape}."
        )
    return images, labels.astype(np.int64)
