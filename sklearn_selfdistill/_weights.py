"""Delivering sample weights and fit parameters to a wrapped estimator.

The meta-estimators hand every generation weights of their own (soft-target weights
times the user's) that stand for repeated rows: they must reach every part of the
wrapped estimator that can weigh, with or without scikit-learn's metadata routing.
"""

import inspect

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import has_fit_parameter

from ._compat import _safe_indexing

# Meta-estimators whose fit takes ``**fit_params`` and hands them to the estimator
# they wrap (scikit-learn calls that estimator by one of these names).
_INNER_ESTIMATOR_PARAMS = ("estimator", "regressor", "classifier", "base_estimator")


def _takes_kwargs(method):
    return any(
        p.kind is inspect.Parameter.VAR_KEYWORD
        for p in inspect.signature(method).parameters.values()
    )


def accepts_sample_weight(estimator):
    """Whether ``estimator.fit`` takes ``sample_weight`` and hands it to what learns.

    True for an estimator with a ``sample_weight`` argument, for a Pipeline whose last
    step takes one, and for a meta-estimator with ``fit(X, y, **fit_params)`` (such as
    ``TransformedTargetRegressor``) whose inner estimator takes one.
    """
    if isinstance(estimator, Pipeline):
        final = estimator.steps[-1][1]
        return final not in (None, "passthrough") and accepts_sample_weight(final)
    if has_fit_parameter(estimator, "sample_weight"):
        return True
    if not _takes_kwargs(estimator.fit):
        return False
    params = estimator.get_params(deep=False)
    return any(
        isinstance(params.get(name), BaseEstimator) and accepts_sample_weight(params[name])
        for name in _INNER_ESTIMATOR_PARAMS
    )


def _request_weights(estimator):
    """Under metadata routing, request ``sample_weight`` from every consumer inside.

    The meta-estimator's weights (soft-target weights times the user's) stand for
    repeated rows, so every step that can weigh must; a request the user set
    explicitly (True, False or an alias) is kept.
    """
    consumers = [estimator, *estimator.get_params(deep=True).values()]
    for obj in consumers:
        if not (isinstance(obj, BaseEstimator) and hasattr(obj, "set_fit_request")):
            continue
        if not has_fit_parameter(obj, "sample_weight"):
            continue
        if obj.get_metadata_routing().fit.requests.get("sample_weight") is None:
            obj.set_fit_request(sample_weight=True)


def index_params(params, rows, n_rows):
    """Fit parameters aligned with the rows of X, taken at ``rows``; others as they are."""
    return {
        key: _safe_indexing(value, rows)
        if hasattr(value, "__len__") and not isinstance(value, str) and len(value) == n_rows
        else value
        for key, value in params.items()
    }


def _repeat_rows(X, y, sample_weight, fit_params):
    """Whole-number ``sample_weight`` (the meta-estimators refuse fractions up front) as
    repeated rows, for an estimator without the argument."""
    counts = np.rint(sample_weight).astype(np.int64)
    rows = np.repeat(np.arange(X.shape[0]), counts)
    return _safe_indexing(X, rows), y[rows], index_params(fit_params, rows, X.shape[0])


def fit_estimator(estimator, X, y, sample_weight=None, fit_params=None):
    """Fit ``estimator`` with ``sample_weight`` delivered to everything that weighs.

    Under metadata routing, every consumer inside requests the weights. Without it, a
    Pipeline passes them to each step whose fit takes them (``step__sample_weight``),
    a meta-estimator with ``**fit_params`` passes them on, and an estimator without
    ``sample_weight`` gets integer weights as repeated rows.
    """
    fit_params = dict(fit_params or {})
    if sample_weight is None:
        return estimator.fit(X, y, **fit_params)
    if not accepts_sample_weight(estimator):
        X, y, fit_params = _repeat_rows(X, y, sample_weight, fit_params)
        return estimator.fit(X, y, **fit_params)
    if get_config()["enable_metadata_routing"]:
        _request_weights(estimator)
        return estimator.fit(X, y, sample_weight=sample_weight, **fit_params)
    if isinstance(estimator, Pipeline):
        # The same predicate the routes decide by: a step weighs if it accepts weights,
        # directly or through the estimator it wraps (SelectFromModel, ...).
        for name, step in estimator.steps:
            if step not in (None, "passthrough") and accepts_sample_weight(step):
                fit_params[f"{name}__sample_weight"] = sample_weight
        return estimator.fit(X, y, **fit_params)
    return estimator.fit(X, y, sample_weight=sample_weight, **fit_params)
