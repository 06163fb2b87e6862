"""How one generation is fit on its teacher's outputs: one adapter per kind of estimator.

The generation loop in ``_base.py`` never asks what kind of estimator it holds: it asks
:func:`student_class` once, and from then on only speaks to a ``Student``:

- ``x_validation`` (a class attribute): how ``validate_data`` checks ``X`` for it;
- ``check_sample_weight(estimator, sample_weight)`` (a class method): the user's
  weights, or a clear error where the estimator cannot honour them;
- ``build(estimator, X, y, **settings)`` (a class method): the adapter for one fit;
- ``base_targets(y)`` and ``targets(base, teacher_output, alpha, temperature)``: the
  targets of generation 0, and those of the next generation from the ground truth and
  the teacher's outputs;
- ``fit(estimator, X, targets, sample_weight=..., fit_params=..., teacher=...)`` fits a
  fresh estimator on them (``teacher``: the previous fitted generation, None for
  generation 0);
- ``output(estimator, X)`` is what a fitted generation passes on as a teacher;
- ``announce(estimator, generation, alpha, temperature)`` tells the user, before a
  generation's fit, what its own progress output means (a verbose net's epoch table);
- ``scoring_view(model, X)`` is what the scorer sees.

A fitted meta-estimator keeps none of this: it predicts through the two small adapters
every student derives from, :class:`ClassifierStudent` (a classifier's generations are
fit on class indices ``0..K-1``, and predict them; ``classes`` turns them back into the
user's labels, as in ``BaggingClassifier``) and :class:`RegressorStudent` (predictions
with the shape of ``y``), built again from the meta-estimator's fitted attributes, so
that a fitted model holds only public types (for ``skops``).

A student declares what else it supports: ``supports_limit`` (``fit_limit``, the limit
of infinitely many generations) and ``supports_spectral_diagonals``. Targets always
live in one array (or an object sliced like one) with a row per sample, so the loop can
slice them for cross-fitting and validation without knowing what they mean.
"""

import numpy as np
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if

from ._compat import _safe_indexing
from ._routes import DEFAULT_TAIL, auto_route, check_route, expand, is_hard
from ._soft_logistic import fit_soft_logistic, takes_soft_targets
from ._soft_targets import distillation_targets
from ._weights import accepts_sample_weight, fit_estimator, index_params
from .ensemble import (
    GenerationEnsembleClassifier,
    GenerationEnsembleRegressor,
    aligned_decision,
    aligned_proba,
)


def is_skorch_net(estimator):
    """Whether ``estimator`` is a skorch net, without importing torch or skorch."""
    return any(cls.__module__.split(".")[0] == "skorch" for cls in type(estimator).__mro__)


def student_class(estimator, task):
    """The adapter class for ``estimator`` in a ``task`` ("classifier" or "regressor").

    The one place that looks at the kind of estimator.
    """
    if is_skorch_net(estimator):
        if task == "classifier":
            from .nn._skorch import SkorchClassifierStudent

            return SkorchClassifierStudent
        from .nn._skorch_regressor import SkorchRegressorStudent

        return SkorchRegressorStudent
    if task == "classifier":
        return SoftTargetClassifierStudent
    from ._closed_form import ClosedFormStudent, PipelineClosedFormStudent, closed_form_pipeline

    if closed_form_pipeline(estimator):
        return PipelineClosedFormStudent
    if type(estimator) in (KernelRidge, Ridge):
        return ClosedFormStudent
    return RegressorStudent


class Student:
    """What every student shares; the defaults are those of a scikit-learn estimator."""

    #: Whether ``fit_limit`` gives the limit of infinitely many generations.
    supports_limit = False
    #: Whether the spectral diagonals of the generations can be computed.
    supports_spectral_diagonals = False
    #: How ``validate_data`` checks X: dtype and NaN are the wrapped estimator's call.
    x_validation = {"dtype": None, "ensure_all_finite": False}
    #: The route a classifier learns distributions by (see ``_routes``); None elsewhere.
    route = None
    #: Whether a pandas or polars DataFrame reaches the estimator as it is (rows picked
    #: with ``_safe_indexing``), as in a Pipeline; otherwise it becomes an array.
    takes_dataframes = True

    @classmethod
    def check_sample_weight(cls, estimator, sample_weight):
        """``sample_weight``, where ``estimator`` can honour it (as repeated rows if need be)."""
        if accepts_sample_weight(estimator):
            return sample_weight
        if not np.array_equal(sample_weight, np.rint(sample_weight)):
            raise ValueError(
                f"sample_weight was passed, but the wrapped estimator "
                f"{type(estimator).__name__} does not accept sample_weight in fit, so a "
                f"weight can only be a whole number of copies of its row; got fractional "
                f"weights such as {sample_weight[sample_weight != np.rint(sample_weight)][0]:g}."
            )
        return sample_weight

    def scoring_view(self, model, X):
        """What the scorer should see for ``model`` scored on ``X``."""
        return model

    def average_outputs(self, outputs):
        """The average of several generations' outputs (``output``) on the same rows."""
        return np.mean(outputs, axis=0)

    def announce(self, estimator, generation, alpha, temperature):
        """Before the fit of ``generation``: nothing to say for most estimators."""


class StudentView:
    """A fitted generation as its student presents it (labels, flattened outputs)."""

    def __init__(self, student, model):
        self.student, self.model = student, model

    def predict(self, X):
        return self.student.predict(self.model, X)

    def score(self, X, y, sample_weight=None):
        return self.student.score(self.model, X, y, sample_weight)

    def __sklearn_tags__(self):
        return get_tags(self.model)

    @available_if(lambda self: hasattr(self.student, "classes"))
    def predict_proba(self, X):
        return self.student.predict_proba(self.model, X)

    @available_if(
        lambda self: hasattr(self.student, "classes") and hasattr(self.model, "decision_function")
    )
    def decision_function(self, X):
        return self.student.decision_function(self.model, X)

    @property
    def classes_(self):
        return self.student.classes


class RegressorStudent(Student):
    """Generation g >= 1 is fit on ``alpha * teacher(X) + (1 - alpha) * y``."""

    def __init__(self, target_ndim):
        self.target_ndim = target_ndim

    @classmethod
    def build(cls, estimator, X, y, **settings):
        return cls(np.ndim(y))

    def base_targets(self, y):
        return np.asarray(y, dtype=np.float64)

    def targets(self, base, teacher_output, alpha, temperature):
        return alpha * teacher_output + (1 - alpha) * base

    def fit(self, estimator, X, targets, *, sample_weight=None, fit_params=None, teacher=None):
        return fit_estimator(estimator, X, targets, sample_weight, fit_params)

    def output(self, estimator, X):
        prediction = np.asarray(estimator.predict(X), dtype=np.float64)
        return prediction.reshape((-1,) if self.target_ndim == 1 else (X.shape[0], -1))

    def predict(self, model, X):
        """A generation's predictions with the shape ``y`` had (a net may return a column)."""
        prediction = model.predict(X)
        return prediction.reshape(-1) if self.target_ndim == 1 else prediction

    def score(self, model, X, y, sample_weight=None):
        return r2_score(y, self.predict(model, X), sample_weight=sample_weight)

    def ensemble(self, generations):
        return GenerationEnsembleRegressor(generations)


class ClassifierStudent(Student):
    """What classifier students share: ``classes`` (the user's labels; the generations
    are fit on their indices), probabilities and scores with one column per class,
    accuracy."""

    def __init__(self, classes):
        self.classes = classes

    def predict(self, model, X):
        """The user's labels of the class indices a generation predicts."""
        return self.classes[np.asarray(model.predict(X), dtype=np.intp)]

    def predict_proba(self, model, X):
        return aligned_proba(model, X, self.classes.shape[0])

    def decision_function(self, model, X):
        return aligned_decision(model, X, self.classes.shape[0])

    def score(self, model, X, y, sample_weight=None):
        return accuracy_score(y, self.predict(model, X), sample_weight=sample_weight)

    def scoring_view(self, model, X):
        # The scorer compares with the user's labels: it must see them, not indices.
        return StudentView(self, model)

    def ensemble(self, generations):
        return GenerationEnsembleClassifier(generations, self.classes.shape[0])


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


class SoftTargetClassifierStudent(ClassifierStudent):
    """A scikit-learn classifier that learns a distribution per row through a route.

    The targets of generation 0 are class indices (``-1`` unlabelled); later ones are
    distributions, one column per class: the distribution a fully flexible student
    reaches under the distillation loss (``_soft_targets``).
    The route (``_routes``) turns them into rows, labels and weights.
    """

    def __init__(self, classes, route, tail=DEFAULT_TAIL):
        super().__init__(classes)
        self.route = route
        self.tail = tail

    @classmethod
    def build(
        cls,
        estimator,
        X,
        y,
        *,
        classes,
        soft_targets="auto",
        soft_target_tail=DEFAULT_TAIL,
        **settings,
    ):
        """The adapter, with the route ``soft_targets`` names (``"auto"``: one that works)."""
        if not hasattr(estimator, "predict_proba"):
            raise TypeError(
                f"SelfDistillationClassifier passes each generation's probabilities on to "
                f"the next, so the wrapped estimator needs a predict_proba method; "
                f"{type(estimator).__name__} has none. For SVC, wrap it: "
                f"CalibratedClassifierCV(SVC())."
            )
        if soft_targets == "auto":
            return cls(classes, auto_route(estimator)[0], soft_target_tail)
        check_route(estimator, soft_targets)
        return cls(classes, soft_targets, soft_target_tail)

    def base_targets(self, y_encoded):
        """The class indices themselves (``-1`` unlabelled): a hard target per row.

        Kept as indices rather than one-hot rows, which with many classes would be as
        large as the soft targets.
        """
        return y_encoded

    def targets(self, base, teacher_output, alpha, temperature):
        return distillation_targets(teacher_output, base, alpha, temperature)

    def codes(self, base):
        """The class index of each row of ``base`` (``-1`` unlabelled)."""
        return base

    def with_codes(self, base, codes):
        """``base`` with these class indices (hard pseudo-labels)."""
        return codes

    def teacher_proba(self, teacher_output):
        """The teacher's probabilities at temperature 1."""
        return teacher_output

    def fit(self, estimator, X, targets, *, sample_weight=None, fit_params=None, teacher=None):
        if (
            self.route == "sample_weight"
            and not is_hard(targets)
            and takes_soft_targets(estimator, fit_params)
            and np.all(targets.sum(axis=0) > 0)
        ):
            # The whole distribution, tail included, in one fit on the rows themselves.
            return fit_soft_logistic(estimator, X, targets, sample_weight, teacher)
        rows, codes, weight = expand(targets, self.route, self.tail)
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
        # The class indices, not the user's labels: XGBoost and others take only 0..K-1.
        restore = lambda: None  # noqa: E731
        if teacher is not None and not is_hard(targets):
            restore = _warm_start_from(estimator, teacher, np.unique(codes))
        try:
            return fit_estimator(estimator, X, codes, weight, fit_params)
        finally:
            restore()

    def output(self, estimator, X):
        return self.predict_proba(estimator, X)
