"""KernelRidge / Ridge: every generation and the limit from one factorization.

Both estimators solve ``(M + lam I) w = r(z)`` for targets ``z``, with ``M``
symmetric positive semi-definite and independent of ``z``:

- KernelRidge: ``M = S^1/2 K S^1/2`` (``S`` the sample weights), ``r = S^1/2 z``,
  dual coefficients ``S^1/2 w``;
- Ridge, primal: ``M = Xc^T S Xc`` (``Xc`` the weight-centred X when fitting an
  intercept), ``r = Xc^T S (z - mean z)``, coefficients ``w``;
- Ridge, dual (more features than rows): ``M = S^1/2 Xc Xc^T S^1/2``,
  ``r = S^1/2 (z - mean z)``, coefficients ``Xc^T S^1/2 w``.

One Cholesky factorization of ``M + lam I`` therefore serves every generation,
each of which costs a triangular solve. Generation ``g`` fits
``z_g = alpha * f_{g-1}(X) + (1 - alpha) * y``; its fixed point (``alpha < 1``) is the
same estimator with ``lam / (1 - alpha)``: one more factorization and nothing else.

A :class:`~sklearn.pipeline.Pipeline` of transformers that never look at ``y``
(Nystroem, random features, scalers, PCA, ...; see ``Y_FREE_TRANSFORMERS``) ending in
such a KernelRidge or Ridge is the same estimator on the features ``Phi = prefix(X)``:
refitting the pipeline on any targets refits the prefix to the same ``Phi`` (the
prefix is fit without ``y`` and without sample weights, and a random prefix uses the
seed the meta-estimator fixed for all generations). So the prefix is fit and applied
once, and every generation and the limit are the closed form on ``Phi``: with
``Nystroem(n_components=k)`` and Ridge that is one ``k``-by-``k`` factorization, the
way to self-distil kernel ridge on more rows than an ``n``-by-``n`` kernel fits in memory.
"""

import copy
import warnings

import numpy as np
from scipy import linalg, sparse
from sklearn.base import clone
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.kernel_approximation import (
    AdditiveChi2Sampler,
    Nystroem,
    PolynomialCountSketch,
    RBFSampler,
    SkewedChi2Sampler,
)
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    PolynomialFeatures,
    RobustScaler,
    SplineTransformer,
    StandardScaler,
)
from sklearn.utils import Bunch, get_tags
from sklearn.utils.validation import check_array, has_fit_parameter

from ._students import RegressorStudent


def _scalar_penalty(estimator):
    """The estimator's ``alpha`` as one float, or None (one penalty per target)."""
    penalty = np.atleast_1d(np.asarray(estimator.alpha, dtype=np.float64))
    if penalty.ndim != 1 or not np.all(penalty == penalty[0]):
        return None
    return float(penalty[0])


def _kernel(estimator, X, Y=None):
    """The kernel of a KernelRidge, as its own ``_get_kernel`` computes it."""
    if estimator.kernel == "precomputed":
        return np.array(X, dtype=np.float64, copy=True) if Y is None else Y
    if callable(estimator.kernel):
        params = estimator.kernel_params or {}
    else:
        params = {"gamma": estimator.gamma, "degree": estimator.degree, "coef0": estimator.coef0}
    return pairwise_kernels(X, Y, metric=estimator.kernel, filter_params=True, **params)


def _factor_in_place(M, shift):
    """Cholesky factor of ``M + shift I``, in M's own memory.

    LAPACK works in Fortran order and would copy a C-ordered M; M is symmetric, so
    its transpose (a Fortran-ordered view) is the same matrix and needs no copy.
    """
    M.flat[:: M.shape[0] + 1] += shift
    return linalg.cho_factor(M.T, lower=True, overwrite_a=True, check_finite=False)


def _eigenvalues_in_place(M):
    """Eigenvalues of the symmetric ``M``, descending, overwriting M."""
    return linalg.eigvalsh(M.T, overwrite_a=True, check_finite=False)[::-1]


def _as_2d(z):
    return z.reshape(-1, 1) if z.ndim == 1 else z


class _KernelRidgeSystem:
    """``S^1/2 K S^1/2 + shift I`` of a KernelRidge, factorized once."""

    def __init__(self, estimator, X, sample_weight, shift, decompose=False):
        self.estimator, self.X = estimator, X
        n = X.shape[0]
        sw = np.ones(n) if sample_weight is None else sample_weight
        # Zero-weight rows get zero dual coefficients: leave them out of the system.
        self.rows = np.flatnonzero(sw > 0)
        self.zero_rows = np.flatnonzero(sw <= 0)
        self.sqrt_sw = np.sqrt(sw[self.rows])
        self.shift = shift
        K = _kernel(estimator, X)
        if self.zero_rows.size:
            K = K[np.ix_(self.rows, self.rows)]
        if sample_weight is not None:
            K *= self.sqrt_sw[:, None]
            K *= self.sqrt_sw[None, :]
        if decompose:
            self.eigenvalues = _eigenvalues_in_place(K)
            return
        self.factor = _factor_in_place(K, shift)

    def solve(self, z):
        """A fitted KernelRidge for targets ``z``, and its predictions on the rows of X."""
        z2 = _as_2d(z)
        w = linalg.cho_solve(
            self.factor, self.sqrt_sw[:, None] * z2[self.rows], check_finite=False
        )
        dual = np.zeros((self.X.shape[0], z2.shape[1]))
        dual[self.rows] = self.sqrt_sw[:, None] * w
        predictions = np.empty_like(dual)
        # (M + shift I) w = S^1/2 z gives K c = z - shift S^-1/2 w on the weighted rows.
        predictions[self.rows] = z2[self.rows] - self.shift * w / self.sqrt_sw[:, None]
        if self.zero_rows.size:
            X_zero = self.X[self.zero_rows]
            X_rows = self.X[self.rows]
            if self.estimator.kernel == "precomputed":
                block = np.asarray(self.X[np.ix_(self.zero_rows, self.rows)])
            else:
                block = _kernel(self.estimator, X_zero, X_rows)
            predictions[self.zero_rows] = block @ dual[self.rows]
        return self._model(dual, z.ndim), predictions.reshape(z.shape)

    def _model(self, dual, ndim):
        model = clone(self.estimator)
        model.dual_coef_ = dual.ravel() if ndim == 1 else dual
        model.X_fit_ = self.X
        model.n_features_in_ = self.X.shape[1]
        return model


class _RidgeSystem:
    """``M + shift I`` of a Ridge (primal or dual form), factorized once."""

    def __init__(self, estimator, X, sample_weight, shift, decompose=False):
        self.estimator, self.X = estimator, X
        n, p = X.shape
        self.sw = np.ones(n) if sample_weight is None else sample_weight
        self.fit_intercept = estimator.fit_intercept
        if self.fit_intercept:
            self.x_mean = np.asarray(X.T @ self.sw).ravel() / self.sw.sum()
        else:
            self.x_mean = np.zeros(p)
        self.shift = shift
        self.dual = p > n and not sparse.issparse(X)
        if self.dual:
            root = np.sqrt(self.sw)[:, None] * (X - self.x_mean)
            self.root = root
            M = root @ root.T
        elif sparse.issparse(X):
            M = np.asarray((X.T @ X.multiply(self.sw[:, None])).todense())
            M -= self.sw.sum() * np.outer(self.x_mean, self.x_mean)
        else:
            # One n-by-p copy (the centred X, scaled in place), not two: with many
            # rows (Nystroem features of a large data set) X is what fills memory.
            Xc = X - self.x_mean
            if sample_weight is not None:
                Xc *= np.sqrt(self.sw)[:, None]
            M = Xc.T @ Xc
        if decompose:
            self.eigenvalues = _eigenvalues_in_place(M)
            return
        self.factor = _factor_in_place(M, shift)

    def solve(self, z):
        z2 = _as_2d(z)
        z_mean = self.sw @ z2 / self.sw.sum() if self.fit_intercept else np.zeros(z2.shape[1])
        zc = z2 - z_mean
        if self.dual:
            w = linalg.cho_solve(self.factor, np.sqrt(self.sw)[:, None] * zc, check_finite=False)
            coef = self.root.T @ w
        else:
            rhs = np.asarray(self.X.T @ (self.sw[:, None] * zc))
            coef = linalg.cho_solve(self.factor, rhs, check_finite=False)
        model = clone(self.estimator)
        intercept = z_mean - self.x_mean @ coef if self.fit_intercept else np.zeros(z2.shape[1])
        if z.ndim == 1:
            model.coef_ = coef.ravel()
            model.intercept_ = float(intercept[0]) if self.fit_intercept else 0.0
        else:
            model.coef_ = coef.T
            model.intercept_ = intercept if self.fit_intercept else 0.0
        model.n_features_in_ = self.X.shape[1]
        model.solver_ = "cholesky"
        model.n_iter_ = None
        return model, None


def closed_form_system(estimator, X):
    """The system class for ``estimator`` on ``X``, or None where no closed form applies.

    ``X=None`` asks without the data (the features of a pipeline are not known yet).
    """
    if type(estimator) is KernelRidge:
        return _KernelRidgeSystem if _scalar_penalty(estimator) is not None else None
    if type(estimator) is Ridge:
        if estimator.positive or _scalar_penalty(estimator) is None:
            return None
        if sparse.issparse(X) and X.shape[1] > X.shape[0]:
            return None  # the p-by-p scatter matrix of wide sparse data would not fit
        return _RidgeSystem
    return None


#: Transformers that never look at ``y`` (nor at sample weights) when fit: a pipeline
#: of these before a KernelRidge / Ridge keeps the closed form. Exact classes only (a
#: subclass may fit differently); anything else (SelectKBest, TargetEncoder, a
#: user's transformer, a ColumnTransformer) makes the pipeline refit every generation.
#: FunctionTransformer is assumed to apply a deterministic function.
Y_FREE_TRANSFORMERS = (
    Nystroem,
    RBFSampler,
    SkewedChi2Sampler,
    AdditiveChi2Sampler,
    PolynomialCountSketch,
    StandardScaler,
    MinMaxScaler,
    MaxAbsScaler,
    RobustScaler,
    Normalizer,
    PolynomialFeatures,
    SplineTransformer,
    FunctionTransformer,
    PCA,
    TruncatedSVD,
)


def _is_passthrough(step):
    return step is None or (isinstance(step, str) and step == "passthrough")


def closed_form_pipeline(estimator):
    """Whether ``estimator`` is a Pipeline of y-free transformers ending in a closed form.

    The last step must be a KernelRidge or Ridge with a closed form (one penalty,
    ``positive=False`` for Ridge); every earlier step one of ``Y_FREE_TRANSFORMERS``
    or ``"passthrough"`` / None. A pipeline that transforms its metadata
    (``transform_input``) does not qualify.
    """
    if type(estimator) is not Pipeline or getattr(estimator, "transform_input", None):
        return False
    steps = estimator.steps
    if not steps or closed_form_system(steps[-1][1], None) is None:
        return False
    return all(
        _is_passthrough(step) or type(step) in Y_FREE_TRANSFORMERS for _, step in steps[:-1]
    )


def _fit_prefix(pipeline, X, sample_weight=None):
    """Fit the pipeline's steps but the last on ``X``, as the meta-estimators' refit would.

    Returns the fitted steps (``(name, transformer)`` pairs, the pipeline's own step
    objects, now fitted) and the features they give for ``X``. No ``y``: the steps do
    not look at it. Sample weights go to each step whose fit takes them, as
    ``_weights.fit_estimator`` delivers them to a refit pipeline.
    """
    steps, features = [], X
    for name, step in pipeline.steps[:-1]:
        if not _is_passthrough(step):
            weights = {}
            if sample_weight is not None and has_fit_parameter(step, "sample_weight"):
                weights = {"sample_weight": sample_weight}
            if hasattr(step, "fit_transform"):
                features = step.fit_transform(features, **weights)
            else:
                features = step.fit(features, **weights).transform(features)
        steps.append((name, step))
    return steps, features


def _checked_features(final, features):
    """``features`` as the closed form needs them, or None where it cannot take them.

    Non-finite or non-numeric features raise the error the last step's own fit would.
    Features that are neither an array nor a sparse matrix (a pandas frame from
    ``set_output``), or wide sparse features for Ridge, are left to the last step's fit.
    """
    if not (isinstance(features, np.ndarray) or sparse.issparse(features)):
        return None
    features = check_array(
        features,
        accept_sparse=("csr", "csc"),
        dtype="numeric",
        ensure_all_finite=True,
        estimator=final,
        input_name="X",
    )
    return features if closed_form_system(final, features) is not None else None


def _constant_model(estimator, X, y, sample_weight):
    """The alpha=1 limit: zero, plus the weighted mean of y where Ridge fits an intercept."""
    model = clone(estimator)
    model.n_features_in_ = X.shape[1]
    if isinstance(model, KernelRidge):
        model.dual_coef_ = np.zeros(y.shape)
        model.X_fit_ = X
        return model
    n_outputs = 1 if y.ndim == 1 else y.shape[1]
    model.coef_ = np.zeros(X.shape[1]) if y.ndim == 1 else np.zeros((n_outputs, X.shape[1]))
    mean = np.zeros(n_outputs)
    if model.fit_intercept:
        sw = np.ones(y.shape[0]) if sample_weight is None else sample_weight
        mean = sw @ _as_2d(y) / sw.sum()
    model.intercept_ = float(mean[0]) if y.ndim == 1 else mean
    model.solver_, model.n_iter_ = "cholesky", None
    return model


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

    def __init__(self, target_ndim, system, estimator):
        super().__init__(target_ndim)
        self.system = system
        self.penalty = _scalar_penalty(estimator)
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
            return _constant_model(estimator, X, y, sample_weight)
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
    form cannot take (see ``_checked_features``) are fit by the last step itself.

    Random prefix steps (Nystroem, RBFSampler, ...) use their ``random_state``; the
    meta-estimator has replaced a None there by one seed drawn for the whole fit, so
    the features are exactly those every refit of the pipeline would compute. With
    the meta-estimator's ``random_state=None`` that seed comes from NumPy's global
    random state: two calls to ``fit`` draw different features, but within one fit
    all generations share them, as they do when refitting.
    """

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
        steps, features = _fit_prefix(estimator, X, sample_weight)
        checked = _checked_features(estimator.steps[-1][1], features)
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


def spectral_diagonals(estimator, X, sample_weight, alpha, n_generations):
    """Eigenvalues ``d`` of ``M`` and the diagonals ``b_g`` of every generation and the limit.

    For a pipeline (see ``closed_form_pipeline``) ``M`` is the system of its last step
    on the features of a fresh fit of its other steps on ``X`` (the same features the
    generations were fit on).
    """
    if closed_form_pipeline(estimator):
        _, features = _fit_prefix(clone(estimator), X, sample_weight)
        estimator = estimator.steps[-1][1]
        X = _checked_features(estimator, features)
        if X is None:
            raise AttributeError(
                "spectral_diagonals_ needs the closed form, which the pipeline's last "
                "step could not use on the features of its other steps."
            )
    system = closed_form_system(estimator, X)
    d = np.clip(system(estimator, X, sample_weight, 0.0, decompose=True).eigenvalues, 0.0, None)
    penalty = _scalar_penalty(estimator)
    b = [d / (d + penalty)]
    for _ in range(1, n_generations):
        b.append(b[0] * ((1 - alpha) + alpha * b[-1]))
    limit = np.zeros_like(d) if alpha == 1.0 else d / (d + penalty / (1.0 - alpha))
    return Bunch(eigenvalues=d, generations=np.array(b), limit=limit)


def make_closed_form_student(estimator, X, target_ndim):
    if closed_form_pipeline(estimator):
        system = closed_form_system(estimator.steps[-1][1], None)
        return PipelineClosedFormStudent(target_ndim, system, estimator)
    system = closed_form_system(estimator, X)
    return None if system is None else ClosedFormStudent(target_ndim, system, estimator)
