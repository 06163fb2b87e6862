"""The closed-form student adapters: KernelRidge, Ridge, and pipelines ending in them."""

import copy
import warnings

import numpy as np
from scipy import linalg
from sklearn.metrics import r2_score
from sklearn.utils import get_tags

from .._students import RegressorStudent
from ._solvers import closed_form_system, constant_model, scalar_penalty
from ._steps import closed_form_pipeline, prefix_features


class _KnownPredictions:
    """A fitted model whose predictions on its own training rows are already known."""

    def __init__(self, model, X, predictions):
        self.model, self.X, self.predictions = model, X, predictions

    def predict(self, X):
        return self.predictions if X is self.X else self.model.predict(X)

    def score(self, X, y, sample_weight=None):
        return r2_score(y, self.predict(X), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        return get_tags(self.model)


class ClosedFormStudent(RegressorStudent):
    """KernelRidge and Ridge students that share one factorization across generations.

    They support the limit (``fit_limit``) and the spectral diagonals.

    The first ``fit`` call's ``X`` (the training rows of the generation loop) keeps its
    factorization; calls on other rows (cross-fit folds) factorize afresh, as refits
    would. A matrix that is not positive definite falls back to the estimator's own fit.
    """

    supports_limit = True
    supports_spectral_diagonals = True
    # The closed form computes with X itself: it must be numeric and finite.
    x_validation = {"dtype": "numeric", "ensure_all_finite": True}
    takes_dataframes = False

    @classmethod
    def build(cls, estimator, X, y, **settings):
        """The closed-form student, or a plain one where the closed form does not apply
        (``Ridge(positive=True)``, a penalty per target, ...)."""
        return make_closed_form_student(estimator, X, np.ndim(y)) or RegressorStudent(np.ndim(y))

    def __init__(self, target_ndim, system, estimator):
        super().__init__(target_ndim)
        self.system = system
        self.penalty = scalar_penalty(estimator)
        self._training = None
        self._singular = False
        self._last = None

    def _solve(self, estimator, X, targets, sample_weight, shift):
        if self._training is not None and self._training.X is X and shift == self.penalty:
            system = self._training
        else:
            system = self.system(estimator, X, sample_weight, shift)
            if self._training is None and shift == self.penalty:
                self._training = system
        return system.solve(targets)

    def fit(self, estimator, X, targets, *, sample_weight=None, fit_params=None, teacher=None):
        if not self._singular and not fit_params:
            try:
                model, predictions = self._solve(
                    estimator, X, targets, sample_weight, self.penalty
                )
            except linalg.LinAlgError:
                # Not positive definite: refit as the estimator would (it has its own
                # fallback), and do not try to factorize the training rows again.
                self._singular = self._training is None
            else:
                self._last = (model, X, predictions)
                return model
        return super().fit(
            estimator, X, targets, sample_weight=sample_weight, fit_params=fit_params
        )

    def _known_predictions(self, model, X):
        """Predictions of ``model`` on ``X`` if the solve already produced them."""
        if self._last is not None and self._last[0] is model and self._last[1] is X:
            return self._last[2]
        return None

    def output(self, estimator, X):
        predictions = self._known_predictions(estimator, X)
        return super().output(estimator, X) if predictions is None else predictions

    def scoring_view(self, model, X):
        predictions = self._known_predictions(model, X)
        return model if predictions is None else _KnownPredictions(model, X, predictions)

    def fit_limit(self, estimator, X, y, sample_weight, alpha):
        """The limit of infinitely many generations."""
        if alpha == 1.0:
            warnings.warn(
                "Pure distillation (alpha=1) of kernel ridge or ridge regression converges "
                "to the zero function (to the weighted mean of y where Ridge fits an "
                "intercept): n_generations=inf predicts that.",
                UserWarning,
                stacklevel=3,
            )
            return constant_model(estimator, X, y, sample_weight)
        shift = self.penalty / (1.0 - alpha)
        try:
            model, predictions = self._solve(estimator, X, y, sample_weight, shift)
        except linalg.LinAlgError as exc:
            raise ValueError(
                f"The limit (n_generations=inf) needs a positive definite system; with "
                f"{type(estimator).__name__}(alpha={estimator.alpha!r}) it is singular. "
                f"Use a positive regulariser or a finite n_generations."
            ) from exc
        self._last = (model, X, predictions)
        return model


class PipelineClosedFormStudent(ClosedFormStudent):
    """A Pipeline of y-free transformers before a KernelRidge / Ridge: the closed form
    on its features.

    The first ``X`` seen (the training rows of the generation loop) has its prefix
    fit and its features computed once; every generation (and the limit) is the
    closed form of the last step on those features, put back together with a copy of
    the fitted prefix into an ordinary fitted Pipeline. Other rows (cross-fit folds)
    get their own prefix fit, as a refit of the pipeline would. Features the closed
    form cannot take (see ``_steps.prefix_features``) are fit by the last step itself.

    Random prefix steps (Nystroem, RBFSampler, ...) use their ``random_state``; the
    meta-estimator has replaced a None there by one seed drawn for the whole fit, so
    the features are exactly those every refit of the pipeline would compute. With
    the meta-estimator's ``random_state=None`` that seed comes from NumPy's global
    random state: two calls to ``fit`` draw different features, but within one fit
    all generations share them, as they do when refitting.
    """

    # X goes to the pipeline's first steps, which validate it as the pipeline would; the
    # closed form checks their output as the last step would.
    x_validation = RegressorStudent.x_validation
    takes_dataframes = True  # the pipeline's first steps take frames as they are

    def __init__(self, target_ndim, system, estimator):
        super().__init__(target_ndim, system, estimator.steps[-1][1])
        self._prefix = None  # (X, fitted prefix steps, features) of the training rows
        self._pipeline_last = None  # (pipeline, X, last step, features) of the last fit

    def _features(self, estimator, X, sample_weight):
        """Fitted prefix steps, features, and whether the closed form takes them.

        The training rows' are kept; each later call gets its own copy of their
        fitted steps (one per generation, as refits would make).
        """
        if self._prefix is not None and self._prefix[0] is X:
            _, steps, features, closed = self._prefix
            return copy.deepcopy(steps), features, closed
        steps, features, checked = prefix_features(estimator, X, sample_weight)
        closed = checked is not None
        features = checked if closed else features
        if self._prefix is None:
            self._prefix = (X, copy.deepcopy(steps), features, closed)
        return steps, features, closed

    def _assemble(self, estimator, X, steps, final, features):
        """``estimator`` (a fresh clone of the pipeline) with fitted steps, as after fit."""
        estimator.steps = [*steps, (estimator.steps[-1][0], final)]
        self._pipeline_last = (estimator, X, final, features)
        return estimator

    def fit(self, estimator, X, targets, *, sample_weight=None, fit_params=None, teacher=None):
        if fit_params:
            # Parameters for the steps: a refit of the whole pipeline takes them.
            return RegressorStudent.fit(
                self, estimator, X, targets, sample_weight=sample_weight, fit_params=fit_params
            )
        steps, features, closed = self._features(estimator, X, sample_weight)
        final = estimator.steps[-1][1]
        if closed:
            model = super().fit(final, features, targets, sample_weight=sample_weight)
        else:
            model = RegressorStudent.fit(
                self, final, features, targets, sample_weight=sample_weight
            )
        return self._assemble(estimator, X, steps, model, features)

    def _known_predictions(self, model, X):
        last = self._pipeline_last
        if last is None or last[0] is not model or last[1] is not X:
            return None
        _, _, final, features = last
        predictions = super()._known_predictions(final, features)
        if predictions is None:
            # Ridge: predict from the features, without transforming X again.
            predictions = RegressorStudent.output(self, final, features)
            self._last = (final, features, predictions)
        return predictions

    def fit_limit(self, estimator, X, y, sample_weight, alpha):
        steps, features, closed = self._features(estimator, X, sample_weight)
        final = estimator.steps[-1][1]
        if not closed:
            raise ValueError(
                f"The limit (n_generations=inf) needs the closed form of the pipeline's "
                f"last step {type(final).__name__} on the features of its other steps, "
                f"which it cannot take here ({type(features).__name__} of shape "
                f"{getattr(features, 'shape', None)}). Use a finite n_generations."
            )
        model = super().fit_limit(final, features, y, sample_weight, alpha)
        return self._assemble(estimator, X, steps, model, features)


def make_closed_form_student(estimator, X, target_ndim):
    """The closed-form student for ``estimator`` on ``X``, or None where none applies."""
    if closed_form_pipeline(estimator):
        system = closed_form_system(estimator.steps[-1][1], None)
        return PipelineClosedFormStudent(target_ndim, system, estimator)
    system = closed_form_system(estimator, X)
    return None if system is None else ClosedFormStudent(target_ndim, system, estimator)
