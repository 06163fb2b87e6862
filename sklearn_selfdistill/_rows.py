"""The rows of one fit: training, validation and scored rows, and how they are scored."""

import inspect

import numpy as np
from sklearn import get_config
from sklearn.base import is_classifier
from sklearn.model_selection import train_test_split
from sklearn.utils.metadata_routing import get_routing_for_object

from ._compat import _safe_indexing
from ._weights import index_params


def routing_enabled():
    return get_config()["enable_metadata_routing"]


def weights_at(sample_weight, rows):
    return None if sample_weight is None else sample_weight[rows]


class FitData:
    """The rows of one fit: all of them, the training rows, the validation rows, and
    the labelled training rows the training score is computed on (with their weights:
    the scores weigh rows as the fit does)."""

    def __init__(self, X, y, base, sample_weight, fit_params, labeled, train, validation):
        n = y.shape[0]
        self.validation = validation
        if validation is None:
            self.X_train, self.base_train, self.sw_train = X, base, sample_weight
            self.params_train = fit_params
        else:
            self.X_train = _safe_indexing(X, train)
            self.base_train = base[train]
            self.sw_train = weights_at(sample_weight, train)
            self.params_train = index_params(fit_params, train, n)
            self.X_val, self.y_val = _safe_indexing(X, validation), y[validation]
            self.sw_val = weights_at(sample_weight, validation)
        self.y_train = y[train]
        if labeled[train].all():
            self.X_scored, self.y_scored = self.X_train, self.y_train
            self.sw_scored = self.sw_train
        else:
            scored = train[labeled[train]]
            self.X_scored, self.y_scored = _safe_indexing(X, scored), y[scored]
            self.sw_scored = weights_at(sample_weight, scored)

    def rows(self, rows, targets):
        """``(X, targets, sample_weight, fit_params)`` of the training rows ``rows``
        (indices, repeats allowed), or of every training row once for None."""
        if rows is None:
            return self.X_train, targets, self.sw_train, self.params_train
        n = self.y_train.shape[0]
        return (
            _safe_indexing(self.X_train, rows),
            targets[rows],
            weights_at(self.sw_train, rows),
            index_params(self.params_train, rows, n),
        )


def score(scorer, model, X, y, sample_weight):
    """``scorer(model, X, y)``, weighted where there are weights and the scorer takes them.

    A scorer made by scikit-learn (a name, ``None``, ``make_scorer``) takes
    ``sample_weight``; a plain function ``scoring(estimator, X, y)`` may not. With
    metadata routing enabled, the weights go where scikit-learn would send them: to a
    scorer (or, for ``scoring=None``, an estimator's ``score``) that requests them.
    """
    if sample_weight is None or not _takes_sample_weight(scorer):
        return float(scorer(model, X, y))
    if routing_enabled() and not get_routing_for_object(scorer).consumes(
        "score", ["sample_weight"]
    ):
        return float(scorer(model, X, y))
    return float(scorer(model, X, y, sample_weight=sample_weight))


def _takes_sample_weight(scorer):
    try:
        parameters = inspect.signature(scorer).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.name == "sample_weight" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters
    )


def split_validation(meta, y, labeled, seed):
    """Training and validation row indices; validation is None when not needed.

    The validation rows are drawn from the labelled rows only (stratified for
    classifiers); unlabelled rows always stay in training.
    """
    rows = np.arange(y.shape[0])
    if not (meta.early_stopping or meta.final_generation == "best"):
        return rows, None
    labeled_rows = rows[labeled]
    stratify = y[labeled_rows] if is_classifier(meta) else None
    try:
        train, validation = train_test_split(
            labeled_rows,
            test_size=meta.validation_fraction,
            stratify=stratify,
            random_state=seed,
        )
    except ValueError as exc:
        reason = "early_stopping=True" if meta.early_stopping else 'final_generation="best"'
        kind = "stratified " if stratify is not None else ""
        raise ValueError(
            f"{reason} holds out a {kind}validation set of validation_fraction="
            f"{meta.validation_fraction} of the {labeled_rows.shape[0]} labelled samples, "
            f"which this data set is too small for ({exc}). Use more data, a larger "
            f"validation_fraction, or early_stopping=False with final_generation='last'."
        ) from exc
    return np.sort(np.concatenate([train, rows[~labeled]])), np.sort(validation)
