import itertools

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.ensemble import RandomForestRegressor
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.neighbors import KNeighborsRegressor

from sklearn_selfdistill import SelfDistillationRegressor


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(n_samples=80, n_features=5, noise=10.0, random_state=0)
    return X, y


def iterate_by_hand(estimator, X, y, alpha, n_generations):
    """Refit generation by generation on alpha * teacher + (1 - alpha) * y."""
    models = [clone(estimator).fit(X, y)]
    for _ in range(1, n_generations):
        targets = alpha * models[-1].predict(X) + (1 - alpha) * y
        models.append(clone(estimator).fit(X, targets))
    return models


@pytest.mark.parametrize(
    "estimator",
    [Ridge(alpha=5.0), KernelRidge(alpha=0.5, kernel="rbf", gamma=0.1), KNeighborsRegressor(3)],
    ids=["ridge", "kernel_ridge", "knn"],
)
def test_generations_fit_the_blended_targets(data, estimator):
    X, y = data
    reg = SelfDistillationRegressor(estimator, n_generations=4, alpha=0.6).fit(X, y)
    expected = iterate_by_hand(estimator, X, y, 0.6, 4)
    for staged, model in zip(reg.staged_predict(X), expected, strict=True):
        np.testing.assert_allclose(staged, model.predict(X), rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(reg.predict(X), expected[-1].predict(X), rtol=1e-10)


def test_multi_output_targets(data):
    X, y = data
    Y = np.column_stack([y, -2 * y + 3])
    reg = SelfDistillationRegressor(Ridge(alpha=3.0), n_generations=3, alpha=0.5).fit(X, Y)
    expected = iterate_by_hand(Ridge(alpha=3.0), X, Y, 0.5, 3)
    assert reg.predict(X).shape == (80, 2)
    np.testing.assert_allclose(reg.predict(X), expected[-1].predict(X), rtol=1e-10)


def test_alpha_zero_every_generation_is_the_plain_estimator(data):
    X, y = data
    forest = RandomForestRegressor(n_estimators=5, random_state=0)
    plain = clone(forest).fit(X, y).predict(X)
    reg = SelfDistillationRegressor(forest, n_generations=4, alpha=0.0).fit(X, y)
    for staged in reg.staged_predict(X):
        np.testing.assert_array_equal(staged, plain)


def test_alpha_zero_closed_form_is_the_plain_estimator(data):
    X, y = data
    plain = Ridge(alpha=2.0).fit(X, y).predict(X)
    reg = SelfDistillationRegressor(Ridge(alpha=2.0), n_generations=4, alpha=0.0).fit(X, y)
    # The same linear system as Ridge's own solver, solved in another order of operations.
    for staged in reg.staged_predict(X):
        np.testing.assert_allclose(staged, plain, rtol=1e-12)


def test_alpha_one_shrinks_ridge_further_each_generation(data):
    X, y = data
    reg = SelfDistillationRegressor(Ridge(alpha=20.0), n_generations=4, alpha=1.0).fit(X, y)
    norms = [np.linalg.norm(g.coef_) for g in reg.generations_]
    assert all(a > b for a, b in itertools.pairwise(norms))


def test_cross_fit_teacher_is_cross_val_predict(data):
    X, y = data
    cv = KFold(4)
    reg = SelfDistillationRegressor(
        Ridge(alpha=1.0), n_generations=2, alpha=0.5, teacher_predictions="cross_fit", cv=cv
    ).fit(X, y)
    oof = cross_val_predict(Ridge(alpha=1.0), X, y, cv=cv)
    reference = Ridge(alpha=1.0).fit(X, 0.5 * oof + 0.5 * y)
    np.testing.assert_allclose(reg.predict(X), reference.predict(X), rtol=1e-10)


def test_sample_weight_reaches_every_generation(data):
    X, y = data
    w = np.random.RandomState(0).uniform(0.1, 3.0, size=y.shape[0])
    reg = SelfDistillationRegressor(Ridge(), n_generations=2, alpha=0.5).fit(X, y, w)
    teacher = Ridge().fit(X, y, sample_weight=w)
    reference = Ridge().fit(X, 0.5 * teacher.predict(X) + 0.5 * y, sample_weight=w)
    np.testing.assert_allclose(reg.predict(X), reference.predict(X), rtol=1e-10)


def test_fractional_sample_weight_with_an_estimator_that_cannot_take_it(data):
    X, y = data
    weights = np.full(80, 0.5)
    with pytest.raises(
        ValueError, match=r"KNeighborsRegressor does not accept sample_weight.*0\.5"
    ):
        SelfDistillationRegressor(KNeighborsRegressor()).fit(X, y, sample_weight=weights)


def test_whole_number_weights_are_repeated_rows_for_an_estimator_without_them(data):
    X, y = data
    counts = np.random.RandomState(0).randint(0, 3, size=80)
    reg = SelfDistillationRegressor(KNeighborsRegressor(), n_generations=3, alpha=0.5)
    reg.fit(X, y, sample_weight=counts)
    rows = np.repeat(np.arange(80), counts)
    repeated = SelfDistillationRegressor(KNeighborsRegressor(), n_generations=3, alpha=0.5)
    repeated.fit(X[rows], y[rows])
    np.testing.assert_array_equal(reg.predict(X), repeated.predict(X))


def test_ensemble_averages_the_generations(data):
    X, y = data
    reg = SelfDistillationRegressor(
        RandomForestRegressor(n_estimators=5),
        n_generations=3,
        final_generation="ensemble",
        random_state=0,
    ).fit(X, y)
    np.testing.assert_allclose(reg.predict(X), np.mean(list(reg.staged_predict(X)), axis=0))


def test_default_estimator_is_ridge(data):
    X, y = data
    reg = SelfDistillationRegressor(n_generations=1).fit(X, y)
    assert isinstance(reg.estimator_, Ridge)
    np.testing.assert_allclose(reg.predict(X), Ridge().fit(X, y).predict(X), rtol=1e-12)
