"""LogisticRegression fit on a distribution per row, exactly, without repeating rows.

On the ``"sample_weight"`` route a classifier learns a row's distribution ``r`` as the
row repeated once per class, weighted by ``r``. For scikit-learn's LogisticRegression
(lbfgs, an l2 penalty or none, no ``class_weight``) that fit minimises, with ``s`` the
row weights and ``S`` their sum (``sum_c r_c = 1``, so the repeated rows weigh ``S``
too)::

    (1 / S) * sum_i s_i * (logsumexp(z_i) - r_i . z_i) + ||W||^2 / (2 * C * S)

``z_i = W x_i + b`` (the intercept unpenalised; one column of ``W`` for two classes,
the binomial loss, as scikit-learn fits them). This module minimises the same objective
with the same L-BFGS-B settings on the rows themselves: the student of the whole
distribution, every class of every row, at the cost of one plain fit, where the
repeated rows would cost one fit on several times the rows. The result is an ordinary
fitted ``LogisticRegression``.
"""

import numpy as np
from scipy import optimize
from scipy.special import expit, log_expit
from sklearn.linear_model import LogisticRegression
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import validate_data


def takes_soft_targets(estimator, fit_params):
    """Whether :func:`fit_soft_logistic` fits ``estimator`` as the repeated rows would."""
    if type(estimator) is not LogisticRegression or fit_params:
        return False
    params = estimator.get_params()
    l2 = params["penalty"] in ("deprecated", "l2") and params["l1_ratio"] in (0, 0.0, None)
    return (
        params["solver"] == "lbfgs"
        and (l2 or params["penalty"] is None)
        and params["class_weight"] is None
        and not params["dual"]
    )


def _objective(n_classes, X, targets, weights, l2, fit_intercept):
    """``(loss, gradient)`` of the parameters, flattened as ``(n_columns, n_features [+1])``."""
    n_features = X.shape[1]
    binary = n_classes == 2
    n_columns = 1 if binary else n_classes

    def loss_gradient(flat):
        coef = flat.reshape(n_columns, n_features + fit_intercept)
        W = coef[:, :n_features]
        z = safe_sparse_dot(X, W.T)
        if fit_intercept:
            z += coef[:, -1]
        if binary:
            z = z[:, 0]
            # log(1 + e^z) - r_1 z, the binomial loss of a soft label r_1
            pointwise = -log_expit(-z) - targets[:, 1] * z
            residual = (expit(z) - targets[:, 1])[:, None]
        else:
            # In place on z (rows x classes, the one large array): with many classes it
            # is what memory is spent on.
            pointwise = -np.einsum("ij,ij->i", targets, z)
            top = z.max(axis=1)
            z -= top[:, None]
            np.exp(z, out=z)
            total = z.sum(axis=1)
            pointwise += top + np.log(total)
            z /= total[:, None]
            z -= targets
            residual = z
        residual *= weights[:, None]
        grad = np.empty_like(coef)
        grad[:, :n_features] = safe_sparse_dot(residual.T, X, dense_output=True) + l2 * W
        if fit_intercept:
            grad[:, -1] = residual.sum(axis=0)
        loss = float(weights @ pointwise) + 0.5 * l2 * float(np.sum(W * W))
        return loss, grad.ravel()

    return n_columns, loss_gradient


def fit_soft_logistic(estimator, X, targets, sample_weight=None, teacher=None):
    """``estimator`` (a LogisticRegression, see :func:`takes_soft_targets`) fit on
    ``targets``, one distribution over the class indices per row.

    Starts from ``teacher``'s coefficients where it is a LogisticRegression of the same
    classes (the objective is convex: only the path changes). Returns ``estimator``.
    """
    X = validate_data(
        estimator, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=True
    )
    n_classes = targets.shape[1]
    weights = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight)
    total = float(weights.sum())
    weights = weights / total
    params = estimator.get_params()
    l2 = 0.0 if params["penalty"] is None else 1.0 / (params["C"] * total)
    fit_intercept = bool(params["fit_intercept"])
    n_columns, loss_gradient = _objective(n_classes, X, targets, weights, l2, fit_intercept)
    start = np.zeros((n_columns, X.shape[1] + fit_intercept))
    if (
        isinstance(teacher, LogisticRegression)
        and getattr(teacher, "coef_", None) is not None
        and teacher.coef_.shape == (n_columns, X.shape[1])
    ):
        start[:, : X.shape[1]] = teacher.coef_
        if fit_intercept:
            start[:, -1] = teacher.intercept_
    result = optimize.minimize(
        loss_gradient,
        start.ravel(),
        method="L-BFGS-B",
        jac=True,
        options={
            "maxiter": params["max_iter"],
            "maxls": 50,
            "gtol": params["tol"],
            "ftol": 64 * np.finfo(float).eps,
        },
    )
    coef = result.x.reshape(n_columns, -1)
    estimator.classes_ = np.arange(n_classes)
    estimator.coef_ = np.ascontiguousarray(coef[:, : X.shape[1]])
    estimator.intercept_ = coef[:, -1].copy() if fit_intercept else np.zeros(n_columns)
    estimator.n_iter_ = np.array([result.nit], dtype=np.int32)
    return estimator
