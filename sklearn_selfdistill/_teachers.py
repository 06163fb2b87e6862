"""Where a generation's teacher outputs come from: in-sample or cross-fit."""

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.model_selection import check_cv

from ._compat import _safe_indexing
from ._interrupt import raise_if_interrupted
from ._rows import weights_at
from ._weights import index_params


def _fold_output(student, estimator, fit, targets, fold_train, fold_test):
    """What a copy of the teacher fit without one cross-fit fold predicts on that fold."""
    n = fit.y_train.shape[0]
    copy = student.fit(
        estimator,
        _safe_indexing(fit.X_train, fold_train),
        targets[fold_train],
        sample_weight=weights_at(fit.sw_train, fold_train),
        fit_params=index_params(fit.params_train, fold_train, n),
    )
    raise_if_interrupted("a cross-fit fold's fit")
    return student.output(copy, _safe_indexing(fit.X_train, fold_test))


def teacher_output(meta, student, estimator, fit, targets, teacher):
    """The teacher's outputs on the training rows (``meta``: the meta-estimator).

    In-sample, the previous generation predicts the rows it was fit on. Cross-fit,
    each row is predicted by a copy of the previous generation (fit on the same
    targets) that did not see that row's fold; the folds are fit in parallel
    (``n_jobs``), with the same result as one after the other.
    """
    if meta.teacher_predictions == "in_sample":
        return student.output(teacher, fit.X_train)
    y = fit.y_train
    try:
        folds = list(check_cv(meta.cv, y, classifier=is_classifier(meta)).split(fit.X_train, y))
    except ValueError as exc:
        raise ValueError(
            f"teacher_predictions='cross_fit' cannot split the {y.shape[0]} training rows "
            f"into the folds of cv={meta.cv!r}: {exc} Use a smaller cv, or "
            f"teacher_predictions='in_sample'."
        ) from exc
    predicted = np.bincount(np.concatenate([test for _, test in folds]), minlength=y.shape[0])
    if not np.all(predicted == 1):
        raise ValueError(
            f"teacher_predictions='cross_fit' needs a cv whose test folds cover every "
            f"training row exactly once (a partition, as in KFold); cv={meta.cv!r} "
            f"predicts {np.sum(predicted != 1)} of {y.shape[0]} rows zero or several times."
        )
    outputs = Parallel(n_jobs=meta.n_jobs)(
        delayed(_fold_output)(student, clone(estimator), fit, targets, fold_train, fold_test)
        for fold_train, fold_test in folds
    )
    output = np.empty((y.shape[0], *outputs[0].shape[1:]))
    for (_, fold_test), fold_output in zip(folds, outputs, strict=True):
        output[fold_test] = fold_output
    return output
