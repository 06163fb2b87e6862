"""The factorized systems of KernelRidge and Ridge, and the fitted estimators they give.

Each system class factorizes ``M + shift I`` once (see the package's docstring for
``M``) and then fits the estimator for any targets ``z`` with one triangular solve.
"""

import numpy as np
from scipy import linalg, sparse
from sklearn.base import clone
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.metrics.pairwise import pairwise_kernels


def scalar_penalty(estimator):
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


def _weights(sample_weight, n_samples):
    """The sample weights, ones where there are none."""
    return np.ones(n_samples) if sample_weight is None else sample_weight


def _fitted_kernel_ridge(estimator, X, dual, ndim):
    """A clone of the KernelRidge ``estimator`` fitted on ``X`` with dual coefficients ``dual``.

    ``dual`` has one column per target; ``ndim`` is that of the targets.
    """
    model = clone(estimator)
    model.dual_coef_ = dual.ravel() if ndim == 1 else dual
    model.X_fit_ = X
    model.n_features_in_ = X.shape[1]
    return model


def _fitted_ridge(estimator, coef, intercept, ndim):
    """A clone of the Ridge ``estimator`` with ``coef`` (features by targets).

    ``intercept`` holds one value per target, or is None without an intercept;
    ``ndim`` is that of the targets. Shaped as Ridge's own Cholesky fit shapes them.
    """
    model = clone(estimator)
    if ndim == 1:
        model.coef_ = coef.ravel()
        model.intercept_ = 0.0 if intercept is None else float(intercept[0])
    else:
        model.coef_ = coef.T
        model.intercept_ = 0.0 if intercept is None else intercept
    model.n_features_in_ = coef.shape[0]
    model.solver_ = "cholesky"
    model.n_iter_ = None
    return model


class _KernelRidgeSystem:
    """``S^1/2 K S^1/2 + shift I`` of a KernelRidge, factorized once."""

    def __init__(self, estimator, X, sample_weight, shift, decompose=False):
        self.estimator, self.X = estimator, X
        sw = _weights(sample_weight, X.shape[0])
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
        model = _fitted_kernel_ridge(self.estimator, self.X, dual, z.ndim)
        return model, predictions.reshape(z.shape)


class _RidgeSystem:
    """``M + shift I`` of a Ridge (primal or dual form), factorized once."""

    def __init__(self, estimator, X, sample_weight, shift, decompose=False):
        self.estimator, self.X = estimator, X
        n, p = X.shape
        self.sw = _weights(sample_weight, n)
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
        """A fitted Ridge for targets ``z``; its predictions are not computed here."""
        z2 = _as_2d(z)
        z_mean = self.sw @ z2 / self.sw.sum() if self.fit_intercept else np.zeros(z2.shape[1])
        zc = z2 - z_mean
        if self.dual:
            w = linalg.cho_solve(self.factor, np.sqrt(self.sw)[:, None] * zc, check_finite=False)
            coef = self.root.T @ w
        else:
            rhs = np.asarray(self.X.T @ (self.sw[:, None] * zc))
            coef = linalg.cho_solve(self.factor, rhs, check_finite=False)
        intercept = z_mean - self.x_mean @ coef if self.fit_intercept else None
        return _fitted_ridge(self.estimator, coef, intercept, z.ndim), None


def closed_form_system(estimator, X):
    """The system class for ``estimator`` on ``X``, or None where no closed form applies.

    ``X=None`` asks without the data (the features of a pipeline are not known yet).
    """
    if type(estimator) is KernelRidge:
        return _KernelRidgeSystem if scalar_penalty(estimator) is not None else None
    if type(estimator) is Ridge:
        if estimator.positive or scalar_penalty(estimator) is None:
            return None
        if sparse.issparse(X) and X.shape[1] > X.shape[0]:
            return None  # the p-by-p scatter matrix of wide sparse data would not fit
        return _RidgeSystem
    return None


def constant_model(estimator, X, y, sample_weight):
    """The alpha=1 limit: zero, plus the weighted mean of y where Ridge fits an intercept."""
    if isinstance(estimator, KernelRidge):
        return _fitted_kernel_ridge(estimator, X, np.zeros(y.shape), y.ndim)
    n_outputs = _as_2d(y).shape[1]
    intercept = None
    if estimator.fit_intercept:
        sw = _weights(sample_weight, y.shape[0])
        intercept = sw @ _as_2d(y) / sw.sum()
    return _fitted_ridge(estimator, np.zeros((X.shape[1], n_outputs)), intercept, y.ndim)
