"""The 8x8 digits that come with scikit-learn, split and scaled like the other loaders."""

from numbers import Integral

import numpy as np
from sklearn import datasets as _sklearn_datasets
from sklearn.model_selection import train_test_split

from .._compat import Interval, RealNotInt, validate_params
from ._files import _SPLIT_CONSTRAINTS


@validate_params(
    {
        **_SPLIT_CONSTRAINTS,
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
