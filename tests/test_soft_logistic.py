"""LogisticRegression learns a distribution per row exactly, on the rows themselves."""

import numpy as np
import pytest
from scipy import sparse
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill._soft_logistic import fit_soft_logistic, takes_soft_targets
from sklearn_selfdistill._soft_targets import distillation_targets

TIGHT = {"tol": 1e-10, "max_iter": 10_000}


def _problem(load, seed=0):
    X, y = load(return_X_y=True)
    X, y = X[:600] / X.max(), y[:600]  # the repeated rows of every class are 10x as many
    teacher = LogisticRegression(max_iter=2000).fit(X, y)
    targets = distillation_targets(teacher.predict_proba(X), y, 0.7, 4.0)
    weights = np.random.RandomState(seed).uniform(0.2, 3.0, size=y.shape[0])
    return X, targets, weights


def _repeated_rows(estimator, X, targets, weights):
    """scikit-learn's own fit of the rows repeated once per class, weighted."""
    n, k = targets.shape
    return estimator.fit(
        np.repeat(X, k, axis=0),
        np.tile(np.arange(k), n),
        sample_weight=(targets * weights[:, None]).ravel(),
    )


@pytest.mark.parametrize(
    ("load", "params"),
    [
        (load_digits, {}),
        (load_digits, {"C": 0.05}),
        (load_digits, {"fit_intercept": False}),
        (load_breast_cancer, {}),
        (load_breast_cancer, {"fit_intercept": False}),
        # No penalty: a problem with an optimum (a few features, two classes).
        (load_breast_cancer, {"penalty": None}),
    ],
    ids=[
        "ten",
        "ten_strong_penalty",
        "ten_no_intercept",
        "two",
        "two_no_intercept",
        "two_no_penalty",
    ],
)
def test_the_whole_distribution_is_the_fit_of_the_rows_repeated_for_every_class(load, params):
    X, targets, weights = _problem(load)
    if params.get("penalty", "l2") is None:
        X = X[:, :5]
    theirs = _repeated_rows(LogisticRegression(**TIGHT, **params), X, targets, weights)
    ours = fit_soft_logistic(LogisticRegression(**TIGHT, **params), X, targets, weights)
    assert ours.coef_.shape == theirs.coef_.shape
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(ours.classes_, np.arange(targets.shape[1]))


def test_sparse_rows_and_a_teacher_to_start_from():
    X, targets, _ = _problem(load_digits)
    dense = fit_soft_logistic(LogisticRegression(**TIGHT), X, targets)
    teacher = LogisticRegression(max_iter=2000).fit(X, targets.argmax(axis=1))
    started = fit_soft_logistic(
        LogisticRegression(**TIGHT), sparse.csr_matrix(X), targets, None, teacher
    )
    np.testing.assert_allclose(started.predict_proba(X), dense.predict_proba(X), atol=1e-5)
    # From the teacher, the same optimum in fewer iterations.
    cold = fit_soft_logistic(LogisticRegression(max_iter=1000), X, targets)
    warm = fit_soft_logistic(LogisticRegression(max_iter=1000), X, targets, None, teacher)
    assert warm.n_iter_[0] < cold.n_iter_[0]


@pytest.mark.parametrize(
    ("estimator", "takes"),
    [
        (LogisticRegression(), True),
        (LogisticRegression(penalty=None), True),
        (LogisticRegression(class_weight="balanced"), False),
        (LogisticRegression(solver="saga", l1_ratio=1.0), False),
        (LogisticRegression(solver="liblinear"), False),
    ],
)
def test_what_the_whole_distribution_fit_takes(estimator, takes):
    assert takes_soft_targets(estimator, {}) is takes
    assert takes_soft_targets(estimator, {"check_input": False}) is False


def test_a_distilled_logistic_generation_is_one_fit_on_the_rows(monkeypatch):
    X, y = load_digits(return_X_y=True)
    X = X / 16
    rows_fit = []
    original = LogisticRegression.fit

    def recording(self, X_fit, y_fit, sample_weight=None):
        rows_fit.append(X_fit.shape[0])
        return original(self, X_fit, y_fit, sample_weight=sample_weight)

    monkeypatch.setattr(LogisticRegression, "fit", recording)
    clf = SelfDistillationClassifier(LogisticRegression(max_iter=1000), n_generations=3)
    clf.fit(X, y)
    assert rows_fit == [X.shape[0]]  # generation 0 only: the others fit the distribution
    assert clf.soft_targets_ == "sample_weight"
    assert all(g.n_iter_[0] > 0 for g in clf.generations_[1:])
    # A class_weight makes it take the repeated rows again.
    rows_fit.clear()
    weighted = LogisticRegression(max_iter=1000, class_weight="balanced")
    SelfDistillationClassifier(weighted, n_generations=2).fit(X, y)
    assert len(rows_fit) == 2 and rows_fit[1] > 2 * X.shape[0]
