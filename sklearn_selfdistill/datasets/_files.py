"""Where the files of a data set are, and what every reader of those files shares.

The folders looked in, in order (``data_home``, ``$SKLEARN_SELFDISTILL_DATA``, any
extra folder such as Debian's, the default folder), each with torchvision's
sub-folder first; the download through torchvision where allowed; the parameters every
file loader validates; the scaling of uint8 images to ``[0, 1]``; the check that labels
are classes ``0 .. 9``.
"""

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._compat import StrOptions

_ENV_VAR = "SKLEARN_SELFDISTILL_DATA"
_DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_DEFAULT_DATA_HOME = Path("~/sklearn_selfdistill_data")
_N_CLASSES = 10


class _Source(NamedTuple):
    """A data set that torchvision can download: its name and where torchvision puts it."""

    title: str
    torchvision_class: str
    subfolder: str


_MNIST = _Source("MNIST", "MNIST", "MNIST/raw")
_FASHION_MNIST = _Source("Fashion-MNIST", "FashionMNIST", "FashionMNIST/raw")
_CIFAR10 = _Source("CIFAR-10", "CIFAR10", "cifar-10-batches-py")

#: The parameters of every loader, digits included.
_SPLIT_CONSTRAINTS = {"split": [StrOptions({"train", "test"})], "flatten": ["boolean"]}
#: The parameters of the loaders of files.
_LOADER_CONSTRAINTS = {
    **_SPLIT_CONSTRAINTS,
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


def _places(source, data_home):
    """The folders to look in, in order: each root's torchvision sub-folder, then the root.

    The roots: ``data_home``, the environment variable's folder, Debian's folder (for
    Fashion-MNIST only), the download folder.
    """
    roots = [] if data_home is None else [Path(data_home).expanduser()]
    if os.environ.get(_ENV_VAR):
        roots.append(Path(os.environ[_ENV_VAR]).expanduser())
    if source is _FASHION_MNIST:
        roots.append(_DEBIAN_FASHION_MNIST_DIR)
    roots.append(_download_root(data_home))
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


def _find_files(source, names, *, split, data_home, download, compressed):
    """Where ``names`` are, after a torchvision download where needed and allowed."""
    _check_root_is_a_folder(source, data_home)
    places = _places(source, data_home)
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
    dataset_class = _torchvision_class(source.torchvision_class)
    try:
        dataset_class(root=str(root), train=split == "train", download=True)
    # torchvision raises RuntimeError once every mirror failed; URLError is an OSError.
    except (RuntimeError, OSError) as exc:
        raise ConnectionError(_download_failed(source, dataset_class, names, root, exc)) from exc
    paths = _first_complete([root / source.subfolder, root], names, compressed)
    if paths is None:
        raise FileNotFoundError(
            f"torchvision downloaded {source.title} into {root}, but {', '.join(names)} "
            f"are not in {root / source.subfolder}."
        )
    return paths


def _download_failed(source, dataset_class, names, root, exc):
    """What to say when torchvision's download fails: from where, and how to do without."""
    mirrors = getattr(dataset_class, "mirrors", None)
    if mirrors:
        files = [name for name, _ in getattr(dataset_class, "resources", [])]
        where = " or ".join(mirrors)
        place = root / source.subfolder
    else:  # CIFAR-10: one archive, unpacked by torchvision into its folder
        files = [getattr(dataset_class, "filename", "the archive")]
        where = getattr(dataset_class, "url", "torchvision's address")
        place = root
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if len(reason) > 200:
        reason = reason[:200] + "..."
    return (
        f"the download of {source.title} failed ({reason}), from {where}. Without a "
        f"network, fetch {', '.join(files)} from there on a machine that has one, and "
        f"place them in {place} (torchvision unpacks them there), or place the unpacked "
        f"files ({', '.join(names)}) in a folder named by data_home or the {_ENV_VAR} "
        f"environment variable."
    )


def _check_labels(labels, path):
    if labels.size and (labels.min() < 0 or labels.max() >= _N_CLASSES):
        raise ValueError(
            f"{path} holds labels from {labels.min()} to {labels.max()}; "
            f"expected class labels in 0..{_N_CLASSES - 1}. The file is corrupt."
        )
