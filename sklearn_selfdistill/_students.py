"""How one generation is fit on its teacher's outputs: one adapter per kind of estimator.

The generation loop in ``_base.py`` only speaks to a ``Student``:

- ``targets(base, teacher_output, alpha, temperature)`` mixes the ground truth
  with the teacher's outputs into the targets of the next generation;
- ``fit(estimator, X, targets, sample_weight)`` fits a fresh estimator on them;
- ``output(estimator, X)`` is what a fitted generation passes on as a teacher;
- ``scoring_view(model, X)`` is what the scorer sees (a student that already knows
  the model's predictions on X can spare the scorer a predict).

Targets always live in one array with a row per sample, so the loop can slice
them for cross-fitting and validation without knowing what they mean.
"""

import numpy as np
from scipy.special import softmax
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import has_fit_parameter

# Expanded (row, class) pairs whose soft probability is below this are dropped:
# their share of the loss is under one millionth of a sample's.
MIN_SOFT_PROBABILITY = 1e-6


def _fit_with_weights(estimator, X, y, sample_weight):
    """Fit ``estimator``, routing ``sample_weight`` to a Pipeline's last step."""
    if sample_weight is None:
        return estimator.fit(X, y)
    if isinstance(estimator, Pipeline):
        last_step = estimator.steps[-1][0]
        return estimator.fit(X, y, **{f"{last_step}__sample_weight": sample_weight})
    return estimator.fit(X, y, sample_weight=sample_weight)


def accepts_sample_weight(estimator):
    """Whether ``estimator.fit`` (or a Pipeline's last step) takes ``sample_weight``."""
    if isinstance(estimator, Pipeline):
        final = estimator.steps[-1][1]
        return final not in (None, "passthrough") and accepts_sample_weight(final)
    return has_fit_parameter(estimator, "sample_weight")


def is_skorch_net(estimator):
    """Whether ``estimator`` is a skorch net, without importing torch or skorch."""
    return any(cls.__module__.split(".")[0] == "skorch" for cls in type(estimator).__mro__)


class Student:
    """What every student shares: scoring a fitted generation is scoring the model.

    ``teacher`` is set by the generation loop before each ``fit``: the previous
    fitted generation (whose outputs the targets hold, unless the teacher predictions
    are cross-fit), or None for generation 0.
    """

    teacher = None

    def scoring_view(self, model, X):
        """What the scorer should see for ``model`` scored on ``X``."""
        return model


class RegressorStudent(Student):
    """Generation g >= 1 is fit on ``alpha * teacher(X) + (1 - alpha) * y``."""

    def __init__(self, target_ndim):
        self.target_ndim = target_ndim

    def base_targets(self, y):
        return y

    def targets(self, base, teacher_output, alpha, temperature):
        return alpha * teacher_output + (1 - alpha) * base

    def fit(self, estimator, X, targets, sample_weight):
        return _fit_with_weights(estimator, X, targets, sample_weight)

    def output(self, estimator, X):
        prediction = np.asarray(estimator.predict(X), dtype=np.float64)
        return prediction.reshape((-1,) if self.target_ndim == 1 else (X.shape[0], -1))


def soften(proba, temperature):
    """``softmax(log(proba) / temperature)`` row by row; zeros stay (nearly) zero."""
    if temperature == 1.0:
        return proba / proba.sum(axis=1, keepdims=True)
    log_proba = np.log(np.clip(proba, np.finfo(np.float64).tiny, None))
    return softmax(log_proba / temperature, axis=1)


class SampleWeightClassifierStudent(Student):
    """A classifier that learns a soft distribution through ``sample_weight``.

    Each row is repeated once per class, labelled with that class and weighted by
    its soft probability (times the user's sample weight); pairs with a probability
    below ``MIN_SOFT_PROBABILITY`` are dropped. Targets are the soft distributions,
    one column per class; rows of unlabeled samples are all zero in generation 0.
    """

    def __init__(self, classes):
        self.classes = classes

    def base_targets(self, y_encoded):
        """One-hot rows for the labelled samples (code >= 0), zero rows for the others."""
        onehot = np.zeros((y_encoded.shape[0], self.classes.shape[0]))
        labeled = y_encoded >= 0
        onehot[np.flatnonzero(labeled), y_encoded[labeled]] = 1.0
        return onehot

    def targets(self, base, teacher_output, alpha, temperature):
        return alpha * soften(teacher_output, temperature) + (1 - alpha) * base

    def fit(self, estimator, X, targets, sample_weight):
        rows, cols = np.nonzero(targets >= MIN_SOFT_PROBABILITY)
        if np.unique(cols).shape[0] < 2:
            kept = self.classes[cols[0]] if cols.shape[0] else None
            raise ValueError(
                f"The soft targets keep a single class ({kept!r}): every other class's "
                f"probability is below {MIN_SOFT_PROBABILITY:g} on every row, so there is "
                f"nothing left to classify. A teacher sharpened by a temperature below 1 "
                f"with alpha=1 does that; use alpha < 1 or temperature >= 1."
            )
        soft = targets[rows, cols]
        hard = np.all(soft == 1.0)
        weight = None if hard else soft
        if sample_weight is not None:
            weight = sample_weight[rows] if hard else weight * sample_weight[rows]
        # Rows of a hard-labelled data set come out in their original order, so a
        # one-hot generation is exactly a plain fit (same rows, same weights).
        X_fit = X if rows.shape[0] == X.shape[0] and hard else _safe_indexing(X, rows)
        return _fit_with_weights(estimator, X_fit, self.classes[cols], weight)

    def output(self, estimator, X):
        return aligned_proba(estimator, X, self.classes)


def aligned_proba(estimator, X, classes):
    """``estimator.predict_proba(X)`` with one column per class of ``classes``.

    A generation that never saw a class (all its soft weight was dropped) gets a
    zero column for it.
    """
    proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    fitted_classes = estimator.classes_
    if fitted_classes.shape[0] == classes.shape[0]:
        return proba
    out = np.zeros((proba.shape[0], classes.shape[0]))
    out[:, np.searchsorted(classes, fitted_classes)] = proba
    return out


def aligned_decision(estimator, X, classes):
    """``estimator.decision_function(X)`` with one column per class of ``classes``.

    A generation that never saw some classes scores them ``-inf``; a binary generation
    of a multi-class problem (one score, for its second class) gets the columns
    ``-score / 2`` and ``score / 2``, which rank its two classes as it does.
    """
    scores = np.asarray(estimator.decision_function(X), dtype=np.float64)
    fitted_classes = estimator.classes_
    if fitted_classes.shape[0] == classes.shape[0]:
        return scores
    if scores.ndim == 1:
        scores = np.column_stack([-scores, scores]) / 2
    out = np.full((scores.shape[0], classes.shape[0]), -np.inf)
    out[:, np.searchsorted(classes, fitted_classes)] = scores
    return out
