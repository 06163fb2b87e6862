"""scikit-learn's own estimator checks over wrapped estimators, no expected failures.

Classifiers and regressors, with and without ``sample_weight`` (an estimator without it
learns its soft targets by another route and takes whole-number weights as repeated
rows), and each route of a classifier; a second set runs with metadata routing enabled.
"""

import pytest
from sklearn import config_context
from sklearn.compose import TransformedTargetRegressor
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_selfdistill import SelfDistillationClassifier, SelfDistillationRegressor

# Two generations are enough for every check to see a distilled one, and keep the run short.
GENERATIONS = {"n_generations": 2}

# min_samples_leaf=1: HGB counts rows, not weight, for min_samples_leaf, so with the
# default it is not weight-equivalent itself (sklearn lists that check as an expected
# failure of HistGradientBoosting*); with 1, the wrapper passes every check.
ESTIMATORS = [
    SelfDistillationClassifier(LogisticRegression(), **GENERATIONS),
    SelfDistillationClassifier(
        HistGradientBoostingClassifier(max_iter=20, min_samples_leaf=1), **GENERATIONS
    ),
    SelfDistillationClassifier(
        make_pipeline(StandardScaler(), LogisticRegression()), **GENERATIONS
    ),
    SelfDistillationClassifier(GaussianNB(), **GENERATIONS),
    SelfDistillationClassifier(DecisionTreeClassifier(), **GENERATIONS),
    SelfDistillationClassifier(KNeighborsClassifier(), **GENERATIONS),
    SelfDistillationClassifier(LinearDiscriminantAnalysis(), **GENERATIONS),
    SelfDistillationClassifier(LogisticRegression(), soft_targets="sampling", **GENERATIONS),
    SelfDistillationClassifier(LogisticRegression(), soft_targets="hard", **GENERATIONS),
    SelfDistillationClassifier(
        LogisticRegression(), teacher_predictions="cross_fit", cv=2, **GENERATIONS
    ),
    SelfDistillationRegressor(Ridge(), **GENERATIONS),
    SelfDistillationRegressor(KernelRidge(), **GENERATIONS),
    SelfDistillationRegressor(make_pipeline(StandardScaler(), Ridge()), **GENERATIONS),
    SelfDistillationRegressor(TransformedTargetRegressor(Ridge()), **GENERATIONS),
    SelfDistillationRegressor(KNeighborsRegressor(), **GENERATIONS),
    SelfDistillationRegressor(DecisionTreeRegressor(), **GENERATIONS),
    SelfDistillationRegressor(
        HistGradientBoostingRegressor(max_iter=20, min_samples_leaf=1), **GENERATIONS
    ),
]

ROUTED = [
    SelfDistillationClassifier(
        make_pipeline(StandardScaler(), LogisticRegression()), **GENERATIONS
    ),
    SelfDistillationClassifier(KNeighborsClassifier(), **GENERATIONS),
    SelfDistillationRegressor(make_pipeline(StandardScaler(), Ridge()), **GENERATIONS),
    SelfDistillationRegressor(TransformedTargetRegressor(Ridge()), **GENERATIONS),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda estimator: {})
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@parametrize_with_checks(ROUTED, expected_failed_checks=lambda estimator: {})
def test_sklearn_compatible_with_metadata_routing(estimator, check):
    with config_context(enable_metadata_routing=True):
        check(estimator)


def test_enough_estimators_are_checked():
    assert len(ESTIMATORS) >= 15
    assert {type(e.estimator).__name__ for e in ESTIMATORS} >= {
        "KNeighborsClassifier",
        "KNeighborsRegressor",
        "LinearDiscriminantAnalysis",
    }


pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
