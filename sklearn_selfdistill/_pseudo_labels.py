"""Which unlabelled rows a generation learns, and as what: Noisy Student's data step.

Xie et al. (2020) filter the teacher's pseudo-labels by confidence and balance them
across classes before each student learns them; scikit-learn's
``SelfTrainingClassifier`` keeps the rows above a threshold. Here a generation's
unlabelled training rows are, in this order:

- labelled with the teacher's most probable class (``pseudo_labels="hard"``) or left
  to the teacher's distribution alone (``"soft"``, the distillation term only);
- kept when the teacher's top probability (at temperature 1) is at least
  ``threshold``;
- balanced: each class keeps as many rows as the kept rows' mean per class, its most
  confident ones where it has more, its rows repeated (most confident first) where it
  has fewer, as the paper duplicates them.

Labelled rows are always kept, once each.
"""

import numpy as np


def pseudo_label_rows(proba, unlabeled, threshold=None, balance=False):
    """Training rows of one generation (indices, with repeats), or None for all once.

    Parameters
    ----------
    proba : ndarray of shape (n_rows, n_classes)
        The teacher's probabilities at temperature 1 on the training rows.
    unlabeled : ndarray of bool of shape (n_rows,)
        Which rows are unlabelled.
    threshold : float or None
        Smallest top probability of a kept unlabelled row; None keeps them all.
    balance : bool
        Give every class the same number of unlabelled rows.

    Returns
    -------
    rows : ndarray of int or None

    Examples
    --------
    >>> import numpy as np
    >>> proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.95, 0.05], [0.5, 0.5]])
    >>> unlabeled = np.array([False, True, True, True, True])
    >>> pseudo_label_rows(proba, unlabeled, threshold=0.7)
    array([0, 2, 3])
    >>> pseudo_label_rows(proba, unlabeled, balance=True)
    array([0, 1, 2, 2, 3])
    """
    if threshold is None and not balance:
        return None
    rows = np.flatnonzero(unlabeled)
    confidence = proba[rows].max(axis=1)
    if threshold is not None:
        keep = confidence >= threshold
        rows, confidence = rows[keep], confidence[keep]
    if balance and rows.shape[0]:
        rows = _balanced(rows, confidence, proba[rows].argmax(axis=1), proba.shape[1])
    return np.sort(np.concatenate([np.flatnonzero(~unlabeled), rows]))


def _balanced(rows, confidence, predicted, n_classes):
    """Each class's most confident rows, cut or repeated to the mean count per class."""
    target = round(rows.shape[0] / n_classes)
    kept = []
    for k in range(n_classes):
        members = np.flatnonzero(predicted == k)
        if members.shape[0] == 0 or target == 0:
            continue
        # Most confident first; ties in row order, so the result is deterministic.
        ordered = members[np.argsort(-confidence[members], kind="stable")]
        kept.append(rows[np.resize(ordered, target)])
    return np.concatenate(kept) if kept else rows[:0]


def teacher_labels(proba, unlabeled):
    """The teacher's most probable class of each unlabelled row (hard pseudo-labels)."""
    return proba[unlabeled].argmax(axis=1)
