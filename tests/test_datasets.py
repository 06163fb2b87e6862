"""The data set loaders, on tiny files written by the tests: nothing is downloaded."""

import gzip
import inspect
import pickle
import re
import subprocess
import sys
import tracemalloc
import types
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits as sklearn_load_digits

from sklearn_selfdistill.datasets import (
    _files,
    flip_labels,
    hide_labels,
    load_cifar10,
    load_digits,
    load_fashion_mnist,
    load_mnist,
)

IDX_LOADERS = {load_mnist: "MNIST/raw", load_fashion_mnist: "FashionMNIST/raw"}
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


@pytest.fixture(autouse=True)
def no_real_data(tmp_path, monkeypatch):
    """No test sees the machine's data: no env var, empty Debian and default folders."""
    monkeypatch.delenv("SKLEARN_SELFDISTILL_DATA", raising=False)
    monkeypatch.setattr(_files, "_DEBIAN_FASHION_MNIST_DIR", tmp_path / "debian")
    monkeypatch.setattr(_files, "_DEFAULT_DATA_HOME", tmp_path / "default")


def idx_bytes(array, type_code=0x08):
    shape = np.array(array.shape, dtype=">u4").tobytes()
    return bytes([0, 0, type_code, array.ndim]) + shape + array.tobytes()


def write_idx(folder, prefix="train", n=3, first_label=0, gz=False):
    """Tiny IDX images and labels; returns ``(images, labels)`` as written."""
    folder.mkdir(parents=True, exist_ok=True)
    images = np.arange(n * 28 * 28, dtype=np.int64).reshape(n, 28, 28) % 256
    images = images.astype(np.uint8)
    images[0] = 255
    labels = ((np.arange(n) + first_label) % 10).astype(np.uint8)
    suffix, pack = (".gz", gzip.compress) if gz else ("", bytes)
    (folder / f"{prefix}-images-idx3-ubyte{suffix}").write_bytes(pack(idx_bytes(images)))
    (folder / f"{prefix}-labels-idx1-ubyte{suffix}").write_bytes(pack(idx_bytes(labels)))
    return images, labels


def write_cifar(folder, names, rows=2, first_label=0):
    """Tiny CIFAR-10 batches; returns ``(data, labels)`` of all of them, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    all_data, all_labels = [], []
    for i, name in enumerate(names):
        data = np.full((rows, 3072), 10 * i, dtype=np.uint8)
        labels = [(first_label + i) % 10] * rows
        (folder / name).write_bytes(pickle.dumps({b"data": data, b"labels": labels}))
        all_data.append(data)
        all_labels += labels
    return np.concatenate(all_data), np.array(all_labels)


# IDX: MNIST and Fashion-MNIST


@pytest.mark.parametrize("loader", IDX_LOADERS)
@pytest.mark.parametrize("torchvision_layout", [False, True], ids=["direct", "torchvision"])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_idx_loader_reads_images_scaled_to_unit_interval(tmp_path, loader, torchvision_layout, gz):
    folder = tmp_path / "home" / IDX_LOADERS[loader] if torchvision_layout else tmp_path / "home"
    images, labels = write_idx(folder, gz=gz)
    X, y = loader(data_home=tmp_path / "home")
    assert X.shape == (3, 1, 28, 28)
    assert X.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(X[:, 0] * 255, images)
    assert X.max() == 1.0
    np.testing.assert_array_equal(y, labels)


@pytest.mark.parametrize("loader", IDX_LOADERS)
def test_idx_loader_test_split_reads_t10k_files(tmp_path, loader):
    write_idx(tmp_path, "train", n=4)
    _, test_labels = write_idx(tmp_path, "t10k", n=2, first_label=7)
    X, y = loader(split="test", data_home=tmp_path)
    assert X.shape == (2, 1, 28, 28)
    np.testing.assert_array_equal(y, test_labels)


@pytest.mark.parametrize("loader", IDX_LOADERS)
def test_idx_loader_flatten_gives_one_row_per_image(tmp_path, loader):
    write_idx(tmp_path)
    X_flat, _ = loader(data_home=tmp_path, flatten=True)
    X, _ = loader(data_home=tmp_path)
    assert X_flat.shape == (3, 784)
    np.testing.assert_array_equal(X_flat, X.reshape(3, -1))


def test_torchvision_subfolder_is_read_before_files_directly_in_the_folder(tmp_path):
    write_idx(tmp_path, first_label=1)
    write_idx(tmp_path / "FashionMNIST" / "raw", first_label=5)
    assert load_fashion_mnist(data_home=tmp_path)[1][0] == 5


def test_data_home_beats_env_var_beats_debian_folder(tmp_path, monkeypatch):
    write_idx(tmp_path / "home", first_label=1)
    write_idx(tmp_path / "env", first_label=2)
    write_idx(tmp_path / "debian", first_label=3)
    monkeypatch.setenv("SKLEARN_SELFDISTILL_DATA", str(tmp_path / "env"))
    assert load_fashion_mnist(data_home=tmp_path / "home")[1][0] == 1
    assert load_fashion_mnist()[1][0] == 2
    monkeypatch.delenv("SKLEARN_SELFDISTILL_DATA")
    assert load_fashion_mnist()[1][0] == 3


def test_folders_without_the_files_are_skipped(tmp_path, monkeypatch):
    (tmp_path / "home").mkdir()
    write_idx(tmp_path / "debian", first_label=3)
    monkeypatch.setenv("SKLEARN_SELFDISTILL_DATA", str(tmp_path / "nowhere"))
    assert load_fashion_mnist(data_home=tmp_path / "home")[1][0] == 3


def test_default_folder_is_searched_when_nothing_is_set(tmp_path):
    write_idx(tmp_path / "default" / "MNIST" / "raw", first_label=4)
    assert load_mnist()[1][0] == 4


def test_mnist_does_not_read_the_debian_fashion_mnist_files(tmp_path):
    write_idx(tmp_path / "debian")
    with pytest.raises(FileNotFoundError, match="No MNIST train files"):
        load_mnist()


def test_a_split_whose_files_are_missing_is_not_found(tmp_path):
    write_idx(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        load_mnist(split="test", data_home=tmp_path)


def test_not_found_lists_the_places_and_the_ways_to_get_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_SELFDISTILL_DATA", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(data_home=tmp_path / "home")
    message = str(info.value)
    places = re.search(r"in any of: (.*?)\. Pass", message).group(1).split(", ")
    expected = ["home/FashionMNIST/raw", "home", "env/FashionMNIST/raw", "env"]
    expected += ["debian/FashionMNIST/raw", "debian"]
    assert places == [str(tmp_path / place) for place in expected]
    assert "Pass download=True" in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_not_found_for_mnist_does_not_offer_the_fashion_mnist_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True") as info:
        load_mnist(data_home=tmp_path)
    assert "apt-get" not in str(info.value)


def _bad_magic(data):
    return b"\x12\x34" + data[2:]


def _float_elements(data):
    return data[:2] + b"\x0d" + data[3:]


def _truncated(data):
    return data[:-5]


def _trailing_bytes(data):
    return data + b"\x00"


def _header_cut_short(data):
    return data[:6]


def _empty(data):
    return b""


@pytest.mark.parametrize(
    "corrupt",
    [_bad_magic, _float_elements, _truncated, _trailing_bytes, _header_cut_short, _empty],
)
@pytest.mark.parametrize("name", ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"])
def test_corrupt_idx_file_is_a_value_error_naming_it(tmp_path, corrupt, name):
    write_idx(tmp_path)
    path = tmp_path / name
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_mnist(data_home=tmp_path)


@pytest.mark.parametrize(
    "damage",
    [lambda gz: gz[:-20], lambda gz: b"not gzip at all"],
    ids=["truncated", "not-gzip"],
)
def test_corrupt_gzip_file_is_a_value_error_naming_it(tmp_path, damage):
    write_idx(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_fashion_mnist(data_home=tmp_path)


def _gzip_bomb(path, header, zeros):
    """A .gz file: ``header``, then ``zeros`` zero bytes, compressed as it is written."""
    block = bytes(1 << 22)
    with gzip.open(path, "wb", compresslevel=1) as file:
        file.write(header)
        for _ in range(zeros // len(block)):
            file.write(block)


class _InflatedBytes(gzip.GzipFile):
    """A ``GzipFile`` that notes, as it closes, how many inflated bytes were taken from it."""

    taken = []

    def close(self):
        if self.mode == gzip.READ and not self.closed:
            type(self).taken.append(self.tell())
        super().close()


def test_a_gzip_bomb_is_refused_without_inflating_it(tmp_path, monkeypatch):
    write_idx(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    # A valid header declaring 3 images, then 512 MiB of zeros: 3 images' worth is read.
    header = bytes([0, 0, 8, 3]) + np.array([3, 28, 28], dtype=">u4").tobytes()
    _gzip_bomb(path, header, 512 << 20)
    assert path.stat().st_size < 4 << 20  # small on disk
    with gzip.open(path, "rb") as file:  # armed: the file does inflate past 100 MiB
        assert len(file.read(100 << 20)) == 100 << 20
    # Every gzip file the loader opens (gzip.open builds a GzipFile) notes how far it read.
    monkeypatch.setattr(_InflatedBytes, "taken", [])
    monkeypatch.setattr(gzip, "GzipFile", _InflatedBytes)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="more bytes than that follow it"):
            load_fashion_mnist(data_home=tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
    # At most the header, the 3 images it declares and one byte to see that more follow:
    # none of the 512 MiB behind them, whether read whole or chunk by chunk.
    taken = _InflatedBytes.taken
    assert taken and max(taken) <= len(header) + 3 * 28 * 28 + 1, taken


def test_an_idx_header_declaring_too_many_items_is_refused_before_reading_them(tmp_path):
    write_idx(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    header = bytes([0, 0, 8, 3]) + np.array([5_000_000, 28, 28], dtype=">u4").tobytes()
    path.write_bytes(header + bytes(100))
    with pytest.raises(ValueError, match="declares 5000000 items, more than the 1000000"):
        load_mnist(data_home=tmp_path)


def test_images_of_the_wrong_size_are_a_value_error(tmp_path):
    write_idx(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros((3, 27, 28), dtype=np.uint8)))
    with pytest.raises(
        ValueError, match=r"train-images-idx3-ubyte holds items of shape \(27, 28\)"
    ):
        load_mnist(data_home=tmp_path)


def test_image_and_label_counts_must_match(tmp_path):
    write_idx(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(2, dtype=np.uint8)))
    with pytest.raises(ValueError, match=r"holds 3 images but .*train-labels-idx1-ubyte holds 2"):
        load_mnist(data_home=tmp_path)


def test_idx_label_outside_the_ten_classes_is_a_value_error(tmp_path):
    write_idx(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(idx_bytes(np.array([0, 10, 1], dtype=np.uint8)))
    with pytest.raises(ValueError, match=re.escape(f"{path} holds labels from 0 to 10")):
        load_mnist(data_home=tmp_path)


# CIFAR-10


@pytest.mark.parametrize("torchvision_layout", [False, True], ids=["direct", "torchvision"])
def test_cifar10_reads_the_five_training_batches_in_order(tmp_path, torchvision_layout):
    folder = tmp_path / "cifar-10-batches-py" if torchvision_layout else tmp_path
    data, _ = write_cifar(folder, TRAIN_BATCHES)
    write_cifar(folder, ["test_batch"], rows=3, first_label=9)
    X, y = load_cifar10(data_home=tmp_path)
    assert X.shape == (10, 3, 32, 32)
    assert X.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(X.reshape(10, -1) * 255, data)
    np.testing.assert_array_equal(y, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])


def test_cifar10_rows_are_red_then_green_then_blue(tmp_path):
    write_cifar(tmp_path, TRAIN_BATCHES)
    row = np.zeros((1, 3072), dtype=np.uint8)
    row[0, :1024], row[0, 2048:] = 255, 51
    batch = {b"data": row, b"labels": [0]}
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps(batch))
    X, _ = load_cifar10(data_home=tmp_path)
    assert (X[0, 0] == 1.0).all()
    assert (X[0, 1] == 0.0).all()
    np.testing.assert_allclose(X[0, 2], 0.2)


def test_cifar10_test_split_and_flatten(tmp_path):
    write_cifar(tmp_path, TRAIN_BATCHES)
    data, labels = write_cifar(tmp_path, ["test_batch"], rows=3, first_label=9)
    X, y = load_cifar10(split="test", flatten=True, data_home=tmp_path)
    assert X.shape == (3, 3072)
    np.testing.assert_array_equal(X * 255, data)
    np.testing.assert_array_equal(y, labels)


def test_cifar10_needs_all_five_training_batches(tmp_path):
    write_cifar(tmp_path, [*TRAIN_BATCHES[:4], "test_batch"])
    with pytest.raises(FileNotFoundError, match="data_batch_5"):
        load_cifar10(data_home=tmp_path)


def _batch(data=None, labels=None):
    data = np.zeros((2, 3072), dtype=np.uint8) if data is None else data
    return pickle.dumps({b"data": data, b"labels": [1, 2] if labels is None else labels})


CIFAR_CORRUPTIONS = {
    "truncated": _batch()[:-30],
    "not-a-pickle": b"\x00garbage" * 10,
    "not-a-dict": pickle.dumps([1, 2]),
    "no-labels": pickle.dumps({b"data": np.zeros((2, 3072), dtype=np.uint8)}),
    "str-keys": pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [1, 2]}),
    "float-data": _batch(data=np.zeros((2, 3072))),
    "short-rows": _batch(data=np.zeros((2, 100), dtype=np.uint8)),
    "list-data": _batch(data=[[0] * 3072] * 2),
    "too-few-labels": _batch(labels=[1]),
    "text-labels": _batch(labels=["cat", "dog"]),
    "label-10": _batch(labels=[1, 10]),
    "label-minus-1": _batch(labels=[-1, 1]),
    "ragged-labels": _batch(labels=[[1, 2], [3]]),
}


@pytest.mark.parametrize("content", CIFAR_CORRUPTIONS.values(), ids=CIFAR_CORRUPTIONS)
def test_corrupt_cifar10_batch_is_a_value_error_naming_it(tmp_path, content):
    write_cifar(tmp_path, TRAIN_BATCHES)
    path = tmp_path / "data_batch_3"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_cifar10(data_home=tmp_path)


class _Payload:
    """Unpickled, it creates a file: a stand-in for code planted in a shared run folder."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce_ex__(self, protocol):
        # ``marker.touch`` itself, called with no arguments when the pickle is loaded.
        return (_call, (getattr, self.marker, "touch"))


def _call(function, obj, name):
    return function(obj, name)()


def test_planted_cifar10_batch_is_refused_without_running(tmp_path):
    marker = tmp_path / "payload-ran"
    payload = pickle.dumps({b"data": _Payload(marker), b"labels": [1, 2]}, protocol=2)
    pickle.loads(payload)  # armed: a plain unpickler runs it
    assert marker.exists()
    marker.unlink()
    write_cifar(tmp_path, TRAIN_BATCHES)
    planted = tmp_path / "data_batch_2"
    planted.write_bytes(payload)
    with pytest.raises(
        ValueError, match=re.escape(str(planted)) + r".*refused without being called"
    ):
        load_cifar10(data_home=tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar10_batches_of_any_pickle_protocol_load(tmp_path, protocol):
    write_cifar(tmp_path, TRAIN_BATCHES)
    data = np.arange(2 * 3072).astype(np.uint8).reshape(2, 3072)
    batch = {b"batch_label": b"x", b"data": data, b"labels": [np.int64(3), 4], b"filenames": []}
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=protocol))
    X, y = load_cifar10(data_home=tmp_path, flatten=True)
    np.testing.assert_allclose(X[:2], data / 255, rtol=1e-6)
    np.testing.assert_array_equal(y[:2], [3, 4])


# Download through torchvision (faked: nothing goes over the network)


class FakeTorchvisionDataset:
    """Stands for a torchvision data set class: records its arguments, writes tiny files."""

    calls = []

    def __init__(self, root, train=True, download=False):
        type(self).calls.append({"root": root, "train": train, "download": download})
        self.write(root)


class FakeMNIST(FakeTorchvisionDataset):
    subfolder = "MNIST/raw"

    @classmethod
    def write(cls, root):
        for prefix in ["train", "t10k"]:
            write_idx(Path(root, cls.subfolder), prefix, n=2, first_label=6, gz=True)


class FakeFashionMNIST(FakeMNIST):
    subfolder = "FashionMNIST/raw"


class FakeCIFAR10(FakeTorchvisionDataset):
    @classmethod
    def write(cls, root):
        write_cifar(Path(root, "cifar-10-batches-py"), TRAIN_BATCHES, first_label=6)
        write_cifar(Path(root, "cifar-10-batches-py"), ["test_batch"], first_label=6)


class FakeWritesNothing(FakeTorchvisionDataset):
    @classmethod
    def write(cls, root):
        pass


FAKES = {load_mnist: "MNIST", load_fashion_mnist: "FashionMNIST", load_cifar10: "CIFAR10"}
FAKE_CLASSES = {"MNIST": FakeMNIST, "FashionMNIST": FakeFashionMNIST, "CIFAR10": FakeCIFAR10}


@pytest.fixture
def fake_torchvision(monkeypatch):
    """A stand-in ``torchvision.datasets`` that holds the fakes (fast, and needs no torch)."""
    package = types.ModuleType("torchvision")
    package.datasets = types.ModuleType("torchvision.datasets")
    for name, fake in FAKE_CLASSES.items():
        setattr(package.datasets, name, fake)
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", package.datasets)
    monkeypatch.setattr(FakeTorchvisionDataset, "calls", [])
    return package.datasets


@pytest.mark.slow
@pytest.mark.parametrize("name", FAKE_CLASSES)
def test_the_faked_torchvision_classes_take_these_arguments_and_use_this_layout(name):
    torchvision_datasets = pytest.importorskip("torchvision.datasets")
    cls = getattr(torchvision_datasets, name)
    assert {"root", "train", "download"} <= inspect.signature(cls).parameters.keys()
    if name == "CIFAR10":
        assert cls.base_folder == "cifar-10-batches-py"
    else:
        instance = cls.__new__(cls)
        instance.root = "root"
        assert Path(instance.raw_folder) == Path("root", FAKE_CLASSES[name].subfolder)


@pytest.mark.parametrize("loader", FAKES)
@pytest.mark.parametrize("split", ["train", "test"])
def test_download_has_torchvision_fetch_into_data_home_and_reads_it(
    tmp_path, fake_torchvision, loader, split
):
    X, y = loader(split=split, data_home=tmp_path / "home", download=True)
    assert FakeTorchvisionDataset.calls == [
        {"root": str(tmp_path / "home"), "train": split == "train", "download": True}
    ]
    assert len(X) == len(y) > 0
    assert y[0] == 6


@pytest.mark.parametrize("env_var_set", [True, False], ids=["env-var", "default"])
def test_download_goes_to_the_env_var_folder_else_the_default_one(
    tmp_path, monkeypatch, fake_torchvision, env_var_set
):
    if env_var_set:
        monkeypatch.setenv("SKLEARN_SELFDISTILL_DATA", str(tmp_path / "env"))
    load_mnist(download=True)
    expected = tmp_path / ("env" if env_var_set else "default")
    assert FakeTorchvisionDataset.calls[0]["root"] == str(expected)
    assert (expected / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file()


def test_download_is_skipped_when_the_files_are_there(tmp_path, fake_torchvision):
    write_cifar(tmp_path, [*TRAIN_BATCHES, "test_batch"], first_label=3)
    _, y = load_cifar10(data_home=tmp_path, download=True)
    assert FakeTorchvisionDataset.calls == []
    assert y[0] == 3


def test_a_download_without_the_files_is_a_file_not_found_error(
    tmp_path, monkeypatch, fake_torchvision
):
    monkeypatch.setattr(fake_torchvision, "FashionMNIST", FakeWritesNothing)
    with pytest.raises(FileNotFoundError, match="torchvision downloaded Fashion-MNIST"):
        load_fashion_mnist(data_home=tmp_path, download=True)


def test_download_without_torchvision_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(ImportError, match=re.escape('pip install "sklearn_selfdistill[torch]"')):
        load_mnist(data_home=tmp_path, download=True)


def test_importing_the_module_imports_no_torch():
    code = (
        "import sys, sklearn_selfdistill.datasets; "
        "print(sorted(m for m in ('torch', 'torchvision') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("loader", [load_digits, load_mnist, load_fashion_mnist, load_cifar10])
def test_unknown_split_is_rejected(loader):
    with pytest.raises(ValueError, match=r"'split' parameter of .* must be a str among"):
        loader(split="validation")


# Digits


def test_digits_split_sizes_shapes_and_scaling():
    X_train, y_train = load_digits()
    X_test, y_test = load_digits(split="test", flatten=True)
    assert X_train.shape == (1347, 1, 8, 8)
    assert X_test.shape == (450, 64)
    assert X_train.dtype == X_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    assert X_train.min() == 0.0
    assert X_train.max() == 1.0


def test_digits_train_and_test_partition_the_data_set():
    X, _ = sklearn_load_digits(return_X_y=True)
    X_train, _ = load_digits(flatten=True)
    X_test, _ = load_digits(split="test", flatten=True)
    both = np.concatenate([X_train, X_test]) * 16
    np.testing.assert_array_equal(both[np.lexsort(both.T)], X[np.lexsort(X.T)])


def test_digits_split_is_stratified():
    _, y = sklearn_load_digits(return_X_y=True)
    _, y_test = load_digits(split="test", test_size=0.5)
    assert np.abs(np.bincount(y_test) - np.bincount(y) / 2).max() <= 1


def test_digits_int_test_size_is_a_number_of_images():
    assert load_digits(split="test", test_size=100)[0].shape[0] == 100
    assert load_digits(split="train", test_size=100)[0].shape[0] == 1697


def test_digits_split_is_fixed_by_random_state():
    first, again = load_digits(split="test")[1], load_digits(split="test")[1]
    other = load_digits(split="test", random_state=1)[1]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


# -- label noise and hidden labels -------------------------------------------------------


def test_flip_labels_moves_exactly_the_share_to_another_class_and_is_seeded():
    y = np.repeat(np.arange(5), 40)
    noisy = flip_labels(y, 0.4, random_state=0)
    assert np.sum(noisy != y) == 80  # exactly the share, never to the same class
    assert set(noisy) == set(y)
    np.testing.assert_array_equal(noisy, flip_labels(y, 0.4, random_state=0))
    assert not np.array_equal(noisy, flip_labels(y, 0.4, random_state=1))
    np.testing.assert_array_equal(flip_labels(y, 0.0, random_state=0), y)
    # every wrong class is reached, about equally often (80 flips over 4 other classes)
    moved = (noisy - y)[noisy != y] % 5
    assert set(moved) == {1, 2, 3, 4}
    assert y.tolist() == np.repeat(np.arange(5), 40).tolist()  # the input is left alone


def test_flip_labels_keeps_string_labels_and_refuses_bad_input():
    y = np.array(["a", "b", "c"] * 10)
    noisy = flip_labels(y, 1.0, random_state=0)
    assert noisy.dtype == y.dtype and np.all(noisy != y)
    with pytest.raises(ValueError, match="share"):
        flip_labels(y, 1.5)
    with pytest.raises(ValueError, match="at least two classes"):
        flip_labels(np.zeros(5, dtype=int), 0.2)
    with pytest.raises(ValueError, match="1-d"):
        flip_labels(np.zeros((5, 2), dtype=int), 0.2)


def test_hide_labels_keeps_a_stratified_draw_and_marks_the_rest():
    y = np.repeat([0, 1, 2, 3], [100, 100, 50, 50])
    kept = hide_labels(y, 30, random_state=0)
    assert kept.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(kept[kept >= 0]), [10, 10, 5, 5])
    labeled = kept != -1
    np.testing.assert_array_equal(kept[labeled], y[labeled])
    np.testing.assert_array_equal(kept, hide_labels(y, 30, random_state=0))
    assert np.all(hide_labels(y, 30, unlabeled=99, random_state=0)[~labeled] == 99)


@pytest.mark.parametrize(
    ("y", "n_labeled", "kwargs", "match"),
    [
        (np.repeat([0, 1], 5), 1, {}, "at least the number of classes"),
        (np.repeat([0, 1], 5), 10, {}, "less than the number of rows"),
        (np.repeat([0, 1], 5), 4, {"unlabeled": 1}, "one of the classes"),
        (np.repeat(["a", "b"], 5), 4, {}, "integer class labels"),
    ],
)
def test_hide_labels_refuses_what_it_cannot_do(y, n_labeled, kwargs, match):
    with pytest.raises(ValueError, match=match):
        hide_labels(y, n_labeled, **kwargs)
