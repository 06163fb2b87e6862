"""Born-Again ensembles: the average of a lineage's generations, as one estimator.

A :class:`~sklearn_selfdistill.SelfDistillationClassifier` or
:class:`~sklearn_selfdistill.SelfDistillationRegressor` with
``final_generation="ensemble"`` predicts with one of these (its ``estimator_``). They are
public and documented because a fitted model holds them: a user loading a model with
``skops.io`` sees their names among the types to trust.
"""

import numpy as np
from sklearn.utils.metaestimators import available_if

__all__ = ["GenerationEnsembleClassifier", "GenerationEnsembleRegressor"]


def _fitted_codes(estimator, n_columns, n_classes):
    """The class indices of a generation's columns when it has fewer than ``n_classes``."""
    codes = getattr(estimator, "classes_", None)
    if codes is None:
        raise ValueError(
            f"{type(estimator).__name__} returns {n_columns} columns of probabilities for "
            f"{n_classes} classes and has no classes_ attribute saying which classes they "
            f"are (a generation that saw fewer classes than y has, on the 'hard' route). "
            f"Use soft_targets='sample_weight' or 'sampling', which keep every class."
        )
    return np.asarray(codes, dtype=np.intp)


def aligned_proba(estimator, X, n_classes):
    """``estimator.predict_proba(X)`` with one column per class index ``0..n_classes-1``.

    A generation that never saw a class (all its soft weight was dropped) gets a
    zero column for it. A generation with every column needs no ``classes_`` (cleanlab's
    ``CleanLearning`` has none).
    """
    proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    if proba.shape[1] == n_classes:
        return proba
    out = np.zeros((proba.shape[0], n_classes))
    out[:, _fitted_codes(estimator, proba.shape[1], n_classes)] = proba
    return out


def aligned_decision(estimator, X, n_classes):
    """``estimator.decision_function(X)`` with one column per class index.

    A generation that never saw some classes scores them ``-inf``; a binary generation
    of a multi-class problem (one score, for its second class) gets the columns
    ``-score / 2`` and ``score / 2``, which rank its two classes as it does.
    """
    scores = np.asarray(estimator.decision_function(X), dtype=np.float64)
    n_columns = 2 if scores.ndim == 1 else scores.shape[1]
    if n_columns == n_classes:
        return scores
    if scores.ndim == 1:
        scores = np.column_stack([-scores, scores]) / 2
    out = np.full((scores.shape[0], n_classes), -np.inf)
    out[:, _fitted_codes(estimator, n_columns, n_classes)] = scores
    return out


class GenerationEnsembleClassifier:
    """Born-Again ensemble of classifier generations: the mean of their probabilities.

    What ``predict`` of a :class:`SelfDistillationClassifier` with
    ``final_generation="ensemble"`` uses (its ``estimator_``). Like the generations it
    averages, which are fit on the class indices ``0..n_classes-1`` of the
    meta-estimator's ``classes_``, it predicts class indices; the meta-estimator turns
    them into labels.

    Parameters
    ----------
    generations : list of fitted classifiers
        Generation 0 first.
    n_classes : int
        Number of classes.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        ``arange(n_classes)``: the class indices.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_selfdistill import SelfDistillationClassifier
    >>> from sklearn_selfdistill.ensemble import GenerationEnsembleClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SelfDistillationClassifier(LogisticRegression(max_iter=1000), n_generations=3,
    ...                                  final_generation="ensemble")
    >>> ensemble = clf.fit(X, y).estimator_
    >>> isinstance(ensemble, GenerationEnsembleClassifier), len(ensemble.generations)
    (True, 3)
    >>> ensemble.predict(X[:3]), clf.predict(X[:3])
    (array([0, 0, 0]), array([0, 0, 0]))
    """

    def __init__(self, generations, n_classes):
        self.generations = generations
        self.n_classes = n_classes

    @property
    def classes_(self):
        return np.arange(self.n_classes)

    def predict_proba(self, X):
        """Mean of the generations' probabilities, one column per class index."""
        return np.mean([aligned_proba(g, X, self.n_classes) for g in self.generations], axis=0)

    @available_if(lambda self: all(hasattr(g, "predict_log_proba") for g in self.generations))
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The class index of the largest mean probability."""
        return np.argmax(self.predict_proba(X), axis=1)

    @available_if(lambda self: all(hasattr(g, "decision_function") for g in self.generations))
    def decision_function(self, X):
        """Mean of the generations' decision functions, one column per class index."""
        scores = [aligned_decision(g, X, self.n_classes) for g in self.generations]
        return np.mean(scores, axis=0)


class GenerationEnsembleRegressor:
    """Born-Again ensemble of regressor generations: the mean of their predictions.

    What ``predict`` of a :class:`SelfDistillationRegressor` with
    ``final_generation="ensemble"`` uses (its ``estimator_``).

    Parameters
    ----------
    generations : list of fitted regressors
        Generation 0 first.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_selfdistill import SelfDistillationRegressor
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> reg = SelfDistillationRegressor(n_generations=3, final_generation="ensemble")
    >>> ensemble = reg.fit(X, 2 * X.ravel()).estimator_
    >>> bool(np.allclose(ensemble.predict(X), np.mean(list(reg.staged_predict(X)), axis=0)))
    True
    """

    def __init__(self, generations):
        self.generations = generations

    def predict(self, X):
        """Mean of the generations' predictions."""
        return np.mean([g.predict(X) for g in self.generations], axis=0)
