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

from ._cifar import load_cifar10
from ._digits import load_digits
from ._hiding import hide_labels
from ._idx import load_fashion_mnist, load_mnist
from ._noise import flip_labels

__all__ = [
    "flip_labels",
    "hide_labels",
    "load_cifar10",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
]
