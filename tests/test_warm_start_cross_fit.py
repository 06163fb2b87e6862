"""warm_start with cross-fit teachers: a lineage continued equals one fit at once."""

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeRegressor

from sklearn_selfdistill import SelfDistillationClassifier, SelfDistillationRegressor


def _classifier(n_generations):
    return SelfDistillationClassifier(
        LogisticRegression(max_iter=500),
        n_generations=n_generations,
        teacher_predictions="cross_fit",
        cv=3,
        random_state=0,
    )


def _regressor(n_generations):
    return SelfDistillationRegressor(
        DecisionTreeRegressor(max_depth=3, random_state=0),
        n_generations=n_generations,
        teacher_predictions="cross_fit",
        cv=3,
        random_state=0,
    )


CASES = [(_classifier, load_iris, "predict_proba"), (_regressor, load_diabetes, "predict")]


@pytest.mark.parametrize(("make", "load", "method"), CASES, ids=["classifier", "regressor"])
def test_a_cross_fit_lineage_continued_with_warm_start_equals_one_fit_at_once(make, load, method):
    X, y = load(return_X_y=True)
    at_once = make(4).fit(X, y)
    continued = make(2).fit(X, y)
    continued.set_params(n_generations=4, warm_start=True).fit(X, y)
    for ours, theirs in zip(continued.generations_, at_once.generations_, strict=True):
        np.testing.assert_array_equal(getattr(ours, method)(X), getattr(theirs, method)(X))
    np.testing.assert_array_equal(continued.cross_fit_outputs_, at_once.cross_fit_outputs_)


def test_a_cross_fit_lineage_restored_by_hand_continues_as_one_fit_at_once():
    """What the command line does: generations, history and outputs set on a new estimator."""
    X, y = load_iris(return_X_y=True)
    at_once = _classifier(4).fit(X, y)
    first = _classifier(3).fit(X, y)
    restored = _classifier(4).set_params(warm_start=True)
    restored.generations_ = list(first.generations_)
    restored.history_ = [dict(row) for row in first.history_]
    restored.cross_fit_outputs_ = first.cross_fit_outputs_.copy()
    restored.fit(X, y)
    np.testing.assert_array_equal(restored.predict_proba(X), at_once.predict_proba(X))


def test_a_cross_fit_warm_start_without_the_outputs_says_what_it_needs():
    X, y = load_iris(return_X_y=True)
    first = _classifier(2).fit(X, y)
    restored = _classifier(3).set_params(warm_start=True)
    restored.generations_, restored.history_ = first.generations_, first.history_
    with pytest.raises(ValueError, match="cross_fit_outputs_"):
        restored.fit(X, y)


def test_a_cross_fit_warm_start_from_generation_0_needs_no_outputs():
    X, y = load_iris(return_X_y=True)
    at_once = _classifier(3).fit(X, y)
    first = _classifier(1).fit(X, y)
    assert first.cross_fit_outputs_ is None
    restored = _classifier(3).set_params(warm_start=True)
    restored.generations_, restored.history_ = first.generations_, first.history_
    restored.fit(X, y)
    np.testing.assert_array_equal(restored.predict_proba(X), at_once.predict_proba(X))
