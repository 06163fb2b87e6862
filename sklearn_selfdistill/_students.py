"""How one generation is fit on its teacher's outputs: one adapter per kind of estimator.

The generation loop in ``_base.py`` only speaks to a ``Student``:

- ``targets(base, teacher_output, alpha, temperature)`` mixes the ground truth
  with the teacher's outputs into the targets of the next generation;
- ``fit(estimator, X, targets, sample_weight=..., fit_params=..., teacher=...)`` fits a
  fresh estimator on them (``teacher``: the previous fitted generation, None for
  generation 0);
- ``output(estimator, X)`` is what a fitted generation passes on as a teacher;
- ``announce(estimator, generation, alpha, temperature)`` tells the user, before a
  generation's fit, what its own progress output means (a verbose net's epoch table);
- ``scoring_view(model, X)`` is what the scorer sees (a student that already knows
  the model's predictions on X can spare the scorer a predict).

A student declares what else it supports: ``supports_limit`` (``fit_limit``, the limit
of infinitely many generations) and ``supports_spectral_diagonals``. Targets always
live in one array with a row per sample, so the loop can slice them for cross-fitting
and validation without knowing what they mean.
"""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing

from ._routes import expand, is_hard
from ._soft_targets import distillation_targets
from ._weights import fit_estimator, index_params


def is_skorch_net(estimator):
    """Whether ``estimator`` is a skorch net, without importing torch or skorch."""
    return any(cls.__module__.split(".")[0] == "skorch" for cls in type(estimator).__mro__)


class Student:
    """What every student shares: scoring a fitted generation is scoring the model."""

    #: Whether ``fit_limit`` gives the limit of infinitely many generations.
    supports_limit = False
    #: Whether the spectral diagonals of the generations can be computed.
    supports_spectral_diagonals = False

    def scoring_view(self, model, X):
        """What the scorer should see for ``model`` scored on ``X``."""
        return model

    def announce(self, estimator, generation, alpha, temperature):
        """Before the fit of ``generation``: nothing to say for most estimators."""


class RegressorStudent(Student):
    """Generation g >= 1 is fit on ``alpha * teacher(X) + (1 - alpha) * y``."""

    def __init__(self, target_ndim):
        self.target_ndim = target_ndim

    def base_targets(self, y):
        return y

    def targets(self, base, teacher_output, alpha, temperature):
        return alpha * teacher_output + (1 - alpha) * base

    def fit(self, estimator, X, targets, *, sample_weight=None, fit_params=None, teacher=None):
        return fit_estimator(estimator, X, targets, sample_weight, fit_params)

    def output(self, estimator, X):
        prediction = np.asarray(estimator.predict(X), dtype=np.float64)
        return prediction.reshape((-1,) if self.target_ndim == 1 else (X.shape[0], -1))


def _warm_start_from(estimator, teacher, classes):
    """Start a LogisticRegression (alone or last in a Pipeline) from its teacher.

    Its loss is convex, so the starting point moves only the path to the optimum, and
    the solvers that honour ``warm_start`` stop sooner. Returns a callable that puts
    ``warm_start`` back to the user's value once the fit is done.
    """
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    final_teacher = teacher.steps[-1][1] if isinstance(teacher, Pipeline) else teacher
    if not (
        type(final) is LogisticRegression
        and type(final_teacher) is LogisticRegression
        and final.solver != "liblinear"
        and not final.warm_start
        and hasattr(final_teacher, "coef_")
        and np.array_equal(final_teacher.classes_, classes)
    ):
        return lambda: None
    final.set_params(warm_start=True)
    final.coef_ = final_teacher.coef_.copy()
    final.intercept_ = np.array(final_teacher.intercept_, copy=True)
    return lambda: final.set_params(warm_start=False)


class SoftTargetClassifierStudent(Student):
    """A scikit-learn classifier that learns a distribution per row through a route.

    The targets of generation 0 are class indices (``-1`` unlabelled); later ones are
    distributions, one column per class: the distribution a fully flexible student
    reaches under the distillation loss (``_soft_targets``).
    The route (``_routes``) turns them into rows, labels and weights.
    """

    def __init__(self, classes, route):
        self.classes = classes
        self.route = route

    def base_targets(self, y_encoded):
        """The class indices themselves (``-1`` unlabelled): a hard target per row.

        Kept as indices rather than one-hot rows, which with many classes would be as
        large as the soft targets.
        """
        return y_encoded

    def targets(self, base, teacher_output, alpha, temperature):
        return distillation_targets(teacher_output, base, alpha, temperature)

    def fit(self, estimator, X, targets, *, sample_weight=None, fit_params=None, teacher=None):
        rows, codes, weight = expand(targets, self.route)
        if np.unique(codes).shape[0] < 2:
            kept = self.classes[codes[0]] if codes.shape[0] else None
            raise ValueError(
                f"The soft targets keep a single class ({kept!r}) on the {self.route!r} "
                f"route: every row's distribution puts (nearly) all of its mass there, so "
                f"there is nothing left to classify. A teacher that predicts one class "
                f"everywhere does that; use a smaller alpha or another soft_targets route."
            )
        if sample_weight is not None:
            weight = sample_weight[rows] if weight is None else weight * sample_weight[rows]
        n_rows = X.shape[0]
        if rows.shape[0] != n_rows or np.any(rows != np.arange(n_rows)):
            X = _safe_indexing(X, rows)
            fit_params = index_params(fit_params or {}, rows, n_rows)
        labels = self.classes[codes]
        restore = lambda: None  # noqa: E731
        if teacher is not None and not is_hard(targets):
            restore = _warm_start_from(estimator, teacher, np.unique(labels))
        try:
            return fit_estimator(estimator, X, labels, weight, fit_params)
        finally:
            restore()

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
