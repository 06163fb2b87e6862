"""``n_teachers``: a generation learns from the average of the last k generations."""

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_selfdistill import SelfDistillationClassifier, SelfDistillationRegressor

ALPHA = 0.6


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=80, n_features=6, noise=5.0, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300]


def _by_hand(X, y, n_generations, n_teachers):
    """Ridge generations fit on ``alpha * mean(last k predictions) + (1 - alpha) * y``."""
    models = [Ridge(alpha=3.0).fit(X, y)]
    predictions = []
    for _ in range(1, n_generations):
        predictions.append(models[-1].predict(X))
        kept = predictions if n_teachers == "all" else predictions[-n_teachers:]
        target = ALPHA * np.mean(kept, axis=0) + (1 - ALPHA) * y
        models.append(Ridge(alpha=3.0).fit(X, target))
    return models


@pytest.mark.parametrize(("n_teachers", "n_generations"), [("all", 4), (2, 5), (1, 3)])
def test_each_generation_learns_the_mean_of_its_teachers(regression, n_teachers, n_generations):
    X, y = regression
    reg = SelfDistillationRegressor(
        Ridge(alpha=3.0), n_generations=n_generations, alpha=ALPHA, n_teachers=n_teachers
    ).fit(X, y)
    expected = _by_hand(X, y, n_generations, n_teachers)
    for fitted, by_hand in zip(reg.generations_, expected, strict=True):
        np.testing.assert_allclose(fitted.coef_, by_hand.coef_, rtol=1e-10, atol=1e-10)
    if n_teachers == 1:
        assert reg.teacher_outputs_ is None
    else:
        assert len(reg.teacher_outputs_) == n_generations - 1
        np.testing.assert_allclose(reg.teacher_outputs_[1], expected[1].predict(X))


def test_all_teachers_differ_from_the_chain(regression):
    X, y = regression
    chain = SelfDistillationRegressor(Ridge(alpha=3.0), n_generations=4, alpha=ALPHA).fit(X, y)
    averaged = SelfDistillationRegressor(
        Ridge(alpha=3.0), n_generations=4, alpha=ALPHA, n_teachers="all"
    ).fit(X, y)
    # Generations 0 and 1 have one teacher at most either way; generation 2 differs.
    np.testing.assert_allclose(chain.generations_[1].coef_, averaged.generations_[1].coef_)
    assert not np.allclose(chain.generations_[2].coef_, averaged.generations_[2].coef_)


def test_cross_fit_averages_the_out_of_fold_probabilities(digits):
    X, y = digits
    clf = SelfDistillationClassifier(
        make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=300)),
        n_generations=3,
        teacher_predictions="cross_fit",
        cv=KFold(3),
        n_teachers="all",
        temperature=1.0,
    ).fit(X, y)
    first, second = clf.teacher_outputs_
    assert first.shape == second.shape == (X.shape[0], 10)
    np.testing.assert_allclose(first.sum(axis=1), 1.0)
    # Out of fold: generation 0's copies without the row's fold, not generation 0 itself.
    assert not np.allclose(first, clf.generations_[0].predict_proba(X))
    np.testing.assert_allclose(clf.cross_fit_outputs_, (first + second) / 2)


def test_a_warm_start_continues_the_average(regression):
    X, y = regression
    cold = SelfDistillationRegressor(
        Ridge(alpha=3.0), n_generations=4, alpha=ALPHA, n_teachers="all"
    ).fit(X, y)
    warm = SelfDistillationRegressor(
        Ridge(alpha=3.0), n_generations=2, alpha=ALPHA, n_teachers="all", warm_start=True
    ).fit(X, y)
    warm.set_params(n_generations=4).fit(X, y)
    for a, b in zip(cold.generations_, warm.generations_, strict=True):
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10)
    # In-sample, outputs that were lost are the generations' own predictions again.
    warm.teacher_outputs_ = None
    warm.set_params(n_generations=5).fit(X, y)
    cold.set_params(n_generations=5).fit(X, y)
    np.testing.assert_allclose(warm.generations_[4].coef_, cold.generations_[4].coef_)
    assert len(warm.teacher_outputs_) == 4


def test_a_cross_fit_warm_start_needs_the_kept_outputs(regression):
    X, y = regression
    reg = SelfDistillationRegressor(
        Ridge(),
        n_generations=2,
        n_teachers="all",
        teacher_predictions="cross_fit",
        warm_start=True,
    ).fit(X, y)
    reg.teacher_outputs_ = None
    with pytest.raises(ValueError, match=r"teacher_outputs_ .*got NoneType for 2 generations"):
        reg.set_params(n_generations=3).fit(X, y)


def test_a_warm_start_from_one_teacher_to_several(regression):
    X, y = regression
    reg = SelfDistillationRegressor(Ridge(), n_generations=1, warm_start=True).fit(X, y)
    reg.set_params(n_teachers="all", n_generations=3).fit(X, y)
    assert len(reg.teacher_outputs_) == 2


@pytest.mark.parametrize("bad", [0, -1, "some", 1.5])
def test_bad_n_teachers_is_refused_by_name(regression, bad):
    X, y = regression
    with pytest.raises(InvalidParameterError, match="'n_teachers' parameter"):
        SelfDistillationRegressor(Ridge(), n_teachers=bad).fit(X, y)


def test_the_closed_form_limit_needs_one_teacher(regression):
    X, y = regression
    reg = SelfDistillationRegressor(KernelRidge(), n_generations=np.inf, n_teachers=2)
    with pytest.raises(ValueError, match="needs n_teachers=1; got n_teachers=2"):
        reg.fit(X, y)
    reg = SelfDistillationRegressor(KernelRidge(), n_generations=3, n_teachers=2).fit(X, y)
    with pytest.raises(AttributeError, match="n_teachers=1"):
        reg.spectral_diagonals_  # noqa: B018


def test_net_teachers_average_probabilities_not_logits():
    pytest.importorskip("skorch")
    import torch
    from skorch import NeuralNetClassifier

    from sklearn_selfdistill.nn.models import MLP

    X, y = load_digits(return_X_y=True)
    X, y = (X[:200] / 16).astype(np.float32), y[:200]
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        MLP,
        module__in_features=64,
        module__num_classes=10,
        module__hidden_units=16,
        max_epochs=3,
        train_split=None,
        verbose=0,
    )
    clf = SelfDistillationClassifier(net, n_generations=3, n_teachers="all").fit(X, y)
    logits = clf.teacher_outputs_
    assert len(logits) == 2
    for generation, output in zip(clf.generations_, logits, strict=False):
        proba = np.exp(output - output.max(axis=1, keepdims=True))
        proba /= proba.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(proba, generation.predict_proba(X), atol=1e-5)
    from sklearn_selfdistill.nn._skorch import SkorchClassifierStudent

    student = object.__new__(SkorchClassifierStudent)  # the two methods use no state
    mixed = student.average_outputs(logits)
    expected = np.mean([student.teacher_proba(o) for o in logits], axis=0)
    np.testing.assert_allclose(student.teacher_proba(mixed), expected, atol=1e-12)
    assert not np.allclose(student.teacher_proba(np.mean(logits, axis=0)), expected)
