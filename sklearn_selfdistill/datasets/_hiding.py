"""Label hiding: keep a stratified few labels and mark every other row unlabelled."""

from numbers import Integral

import numpy as np
from sklearn.model_selection import train_test_split

from .._compat import Interval, validate_params
from ._noise import _labels


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
