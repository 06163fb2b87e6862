"""Label noise: a seeded share of the labels moved to another class."""

from numbers import Real

import numpy as np
from sklearn.utils import check_random_state

from .._compat import Interval, validate_params


def _labels(y, name="y"):
    """``y`` as an array of one label per row; also the check of :func:`hide_labels`."""
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
