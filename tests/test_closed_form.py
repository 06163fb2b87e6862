"""KernelRidge / Ridge: the closed form equals refitting generation by generation."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.base import clone
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.metrics.pairwise import rbf_kernel

from sklearn_selfdistill import SelfDistillationRegressor
from sklearn_selfdistill._closed_form import ClosedFormStudent


def refit_generations(estimator, X, y, alpha, n_generations, sample_weight=None):
    """What the closed form replaces: a real fit of the estimator per generation."""
    models = [clone(estimator).fit(X, y, sample_weight=sample_weight)]
    for _ in range(1, n_generations):
        targets = alpha * models[-1].predict(X) + (1 - alpha) * y
        models.append(clone(estimator).fit(X, targets, sample_weight=sample_weight))
    return models


def assert_close(actual, desired, rtol=1e-8):
    scale = max(np.abs(desired).max(), 1e-12)
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale)


@pytest.fixture(scope="module")
def curve():
    rng = np.random.RandomState(0)
    X = rng.uniform(0, 1, size=(60, 1))
    y = np.sin(2 * np.pi * X.ravel()) + 0.3 * rng.randn(60)
    X_new = np.linspace(0, 1, 41).reshape(-1, 1)
    return X, y, X_new


def test_issue_example_matches_six_refits(curve):
    X, y, X_new = curve
    krr = KernelRidge(alpha=0.2, kernel="rbf", gamma=80)
    reg = SelfDistillationRegressor(krr, n_generations=6, alpha=0.65).fit(X, y)
    expected = refit_generations(krr, X, y, 0.65, 6)
    staged = list(reg.staged_predict(X_new))
    assert len(staged) == 6
    for g, (prediction, model) in enumerate(zip(staged, expected, strict=True)):
        assert isinstance(reg.generations_[g], KernelRidge)
        assert_close(prediction, model.predict(X_new))
        assert_close(reg.generations_[g].dual_coef_, model.dual_coef_)


def test_closed_form_student_is_used_and_not_kept(curve):
    X, y, _ = curve
    reg = SelfDistillationRegressor(KernelRidge(alpha=0.1), n_generations=3)
    student, _, _ = reg._prepare_targets(X, y, KernelRidge(alpha=0.1), None)
    assert isinstance(student, ClosedFormStudent)
    reg.fit(X, y)
    # No n-by-n factorization survives fit (it would go into every pickle).
    assert all(not isinstance(v, ClosedFormStudent) for v in vars(reg).values())


def test_history_scores_match_real_predictions(curve):
    X, y, _ = curve
    reg = SelfDistillationRegressor(
        KernelRidge(alpha=0.05, kernel="rbf", gamma=20), n_generations=4, alpha=0.8
    ).fit(X, y)
    for record, model in zip(reg.history_, reg.generations_, strict=True):
        assert record["train_score"] == pytest.approx(model.score(X, y), rel=1e-9)


@pytest.mark.parametrize("alpha", [0.3, 0.65, 0.9])
def test_limit_is_kernel_ridge_with_amplified_regulariser(curve, alpha):
    X, y, X_new = curve
    krr = KernelRidge(alpha=0.2, kernel="rbf", gamma=30)
    reg = SelfDistillationRegressor(krr, n_generations=np.inf, alpha=alpha).fit(X, y)
    limit = KernelRidge(alpha=0.2 / (1 - alpha), kernel="rbf", gamma=30).fit(X, y)
    assert_close(reg.predict(X_new), limit.predict(X_new))
    assert reg.n_generations_ == np.inf and len(reg.generations_) == 1
    assert reg.history_[0]["generation"] == np.inf


def test_generations_converge_to_the_limit(curve):
    X, y, X_new = curve
    krr = KernelRidge(alpha=0.5, kernel="rbf", gamma=10)
    many = SelfDistillationRegressor(krr, n_generations=400, alpha=0.5).fit(X, y)
    limit = SelfDistillationRegressor(krr, n_generations=np.inf, alpha=0.5).fit(X, y)
    assert_close(many.predict(X_new), limit.predict(X_new), rtol=1e-6)


def test_pure_distillation_limit_is_zero_with_a_warning(curve):
    X, y, X_new = curve
    with pytest.warns(UserWarning, match=r"Pure distillation \(alpha=1\).*zero function"):
        reg = SelfDistillationRegressor(
            KernelRidge(alpha=0.2), n_generations=np.inf, alpha=1.0
        ).fit(X, y)
    np.testing.assert_array_equal(reg.predict(X_new), 0.0)


def test_pure_distillation_limit_of_ridge_with_intercept_is_the_mean(curve):
    X, y, X_new = curve
    w = np.linspace(0.5, 2.0, y.shape[0])
    with pytest.warns(UserWarning, match="weighted mean of y"):
        reg = SelfDistillationRegressor(Ridge(), n_generations=np.inf, alpha=1.0)
        reg.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(reg.predict(X_new), np.average(y, weights=w))


def test_spectral_diagonals_reproduce_the_training_fit(curve):
    X, y, _ = curve
    lam, alpha = 0.1, 0.7
    krr = KernelRidge(alpha=lam, kernel="rbf", gamma=15)
    reg = SelfDistillationRegressor(krr, n_generations=5, alpha=alpha).fit(X, y)
    diagonals = reg.spectral_diagonals_
    d, V = np.linalg.eigh(rbf_kernel(X, gamma=15))
    d, V = d[::-1], V[:, ::-1]
    np.testing.assert_allclose(diagonals.eigenvalues, np.clip(d, 0, None), atol=1e-10)
    assert diagonals.generations.shape == (5, 60)
    for b, model in zip(diagonals.generations, reg.generations_, strict=True):
        assert_close(V @ (b * (V.T @ y)), model.predict(X), rtol=1e-6)
    np.testing.assert_allclose(
        diagonals.limit, diagonals.eigenvalues / (diagonals.eigenvalues + lam / (1 - alpha))
    )
    # Sparsification: each generation shrinks small-eigenvalue directions more.
    positive = diagonals.eigenvalues > 1e-8
    ratio = diagonals.generations[-1][positive] / diagonals.generations[0][positive]
    assert np.all(np.diff(ratio) <= 1e-12) and ratio[0] > ratio[-1]


def test_spectral_diagonals_only_for_the_closed_form(curve):
    X, y, _ = curve
    from sklearn.neighbors import KNeighborsRegressor

    reg = SelfDistillationRegressor(KNeighborsRegressor(), n_generations=2).fit(X, y)
    assert not hasattr(reg, "spectral_diagonals_")


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", [(50, 6), (12, 30)], ids=["primal", "dual"])
def test_ridge_with_and_without_intercept(shape, fit_intercept):
    rng = np.random.RandomState(1)
    X = rng.randn(*shape) + 3.0
    y = X @ rng.randn(shape[1]) + 5.0 + rng.randn(shape[0])
    w = rng.uniform(0.2, 3.0, size=shape[0])
    ridge = Ridge(alpha=2.0, fit_intercept=fit_intercept)
    reg = SelfDistillationRegressor(ridge, n_generations=4, alpha=0.6).fit(X, y, w)
    expected = refit_generations(ridge, X, y, 0.6, 4, sample_weight=w)
    for model, reference in zip(reg.generations_, expected, strict=True):
        assert isinstance(model, Ridge)
        assert_close(model.coef_, reference.coef_)
        assert model.intercept_ == pytest.approx(reference.intercept_, rel=1e-8, abs=1e-8)


def test_sparse_ridge(curve):
    rng = np.random.RandomState(2)
    dense = rng.binomial(1, 0.3, size=(80, 10)) * rng.randn(80, 10)
    y = dense @ rng.randn(10) + 1.0
    ridge = Ridge(alpha=1.0)
    reg = SelfDistillationRegressor(ridge, n_generations=3, alpha=0.5)
    reg.fit(sparse.csr_array(dense), y)
    expected = refit_generations(ridge, dense, y, 0.5, 3)
    assert_close(reg.predict(dense), expected[-1].predict(dense))


def test_zero_sample_weights_and_multi_output(curve):
    X, y, X_new = curve
    Y = np.column_stack([y, np.cos(3 * X.ravel())])
    w = np.random.RandomState(3).randint(0, 3, size=y.shape[0]).astype(float)
    krr = KernelRidge(alpha=0.3, kernel="rbf", gamma=25)
    reg = SelfDistillationRegressor(krr, n_generations=4, alpha=0.7).fit(X, Y, sample_weight=w)
    expected = refit_generations(krr, X, Y, 0.7, 4, sample_weight=w)
    for prediction, model in zip(reg.staged_predict(X_new), expected, strict=True):
        assert prediction.shape == (41, 2)
        assert_close(prediction, model.predict(X_new))


def test_precomputed_and_callable_kernels(curve):
    X, y, X_new = curve
    K = rbf_kernel(X, gamma=12)
    precomputed = SelfDistillationRegressor(
        KernelRidge(alpha=0.1, kernel="precomputed"), n_generations=3, alpha=0.5
    ).fit(K, y)
    reference = refit_generations(KernelRidge(alpha=0.1, kernel="precomputed"), K, y, 0.5, 3)
    assert_close(
        precomputed.predict(rbf_kernel(X_new, X, gamma=12)),
        reference[-1].predict(rbf_kernel(X_new, X, gamma=12)),
    )
    np.testing.assert_array_equal(K, rbf_kernel(X, gamma=12))  # the user's matrix untouched

    def laplacian(a, b):
        return np.exp(-np.abs(a - b).sum())

    callable_reg = SelfDistillationRegressor(
        KernelRidge(alpha=0.1, kernel=laplacian), n_generations=3, alpha=0.5
    ).fit(X[:20], y[:20])
    expected = refit_generations(KernelRidge(alpha=0.1, kernel=laplacian), X[:20], y[:20], 0.5, 3)
    assert_close(callable_reg.predict(X_new), expected[-1].predict(X_new))


def test_singular_system_falls_back_to_refits():
    X = np.repeat(np.arange(5.0), 2).reshape(-1, 1)  # duplicated rows: K is singular
    y = np.arange(10.0)
    krr = KernelRidge(alpha=0.0, kernel="linear")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = SelfDistillationRegressor(krr, n_generations=3, alpha=0.5).fit(X, y)
        expected = refit_generations(krr, X, y, 0.5, 3)
    assert_close(reg.predict(X), expected[-1].predict(X))
    with pytest.raises(ValueError, match=r"limit .* positive definite"):
        SelfDistillationRegressor(krr, n_generations=np.inf, alpha=0.5).fit(X, y)


def test_one_penalty_per_target_uses_plain_refits(curve):
    X, y, _ = curve
    Y = np.column_stack([y, y])
    krr = KernelRidge(alpha=np.array([0.1, 1.0]))
    reg = SelfDistillationRegressor(krr, n_generations=3, alpha=0.5).fit(X, Y)
    expected = refit_generations(krr, X, Y, 0.5, 3)
    assert_close(reg.predict(X), expected[-1].predict(X))
    with pytest.raises(ValueError, match="n_generations=inf"):
        SelfDistillationRegressor(krr, n_generations=np.inf).fit(X, Y)


def test_early_stopping_and_final_generation_on_the_closed_form(curve):
    X, y, _ = curve
    krr = KernelRidge(alpha=0.01, kernel="rbf", gamma=50)
    reg = SelfDistillationRegressor(
        krr,
        n_generations=30,
        alpha=0.0,
        early_stopping=True,
        n_iter_no_change=2,
        random_state=0,
    ).fit(X, y)
    assert reg.termination_condition_ == "plateau" and reg.n_generations_ == 3
    best = SelfDistillationRegressor(
        krr, n_generations=5, alpha=0.9, final_generation="best", random_state=0
    ).fit(X, y)
    assert best.estimator_ is best.generations_[best.best_generation_]
    ensemble = SelfDistillationRegressor(krr, n_generations=3, final_generation="ensemble")
    ensemble.fit(X, y)
    np.testing.assert_allclose(
        ensemble.predict(X), np.mean(list(ensemble.staged_predict(X)), axis=0)
    )


def test_cross_fit_teacher_on_the_closed_form(curve):
    X, y, _ = curve
    from sklearn.model_selection import KFold, cross_val_predict

    krr = KernelRidge(alpha=0.1, kernel="rbf", gamma=20)
    reg = SelfDistillationRegressor(
        krr, n_generations=2, alpha=0.5, teacher_predictions="cross_fit", cv=KFold(3)
    ).fit(X, y)
    oof = cross_val_predict(krr, X, y, cv=KFold(3))
    reference = clone(krr).fit(X, 0.5 * oof + 0.5 * y)
    assert_close(reg.predict(X), reference.predict(X))


KERNELS = [
    {"kernel": "rbf", "gamma": 0.5},
    {"kernel": "laplacian", "gamma": 0.3},
    {"kernel": "polynomial", "degree": 2, "coef0": 1.0},
    {"kernel": "linear"},
]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(4, 25),
    n_features=st.integers(1, 4),
    n_outputs=st.sampled_from([0, 1, 3]),
    kernel=st.sampled_from(range(len(KERNELS))),
    lam=st.floats(0.05, 5.0),
    alpha=st.floats(0.0, 1.0),
    n_generations=st.integers(1, 6),
    weighted=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_property_closed_form_equals_iterated_refits(
    n, n_features, n_outputs, kernel, lam, alpha, n_generations, weighted, seed
):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, n_features)
    y = rng.randn(n) if n_outputs == 0 else rng.randn(n, n_outputs)
    w = rng.uniform(0.0, 3.0, size=n) if weighted else None
    krr = KernelRidge(alpha=lam, **KERNELS[kernel])
    reg = SelfDistillationRegressor(krr, n_generations=n_generations, alpha=alpha)
    reg.fit(X, y, sample_weight=w)
    expected = refit_generations(krr, X, y, alpha, n_generations, sample_weight=w)
    X_new = rng.randn(7, n_features)
    for prediction, model in zip(reg.staged_predict(X_new), expected, strict=True):
        assert prediction.shape == model.predict(X_new).shape
        assert_close(prediction, model.predict(X_new), rtol=1e-7)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(3, 30),
    n_features=st.integers(1, 40),
    fit_intercept=st.booleans(),
    lam=st.floats(0.05, 10.0),
    alpha=st.floats(0.0, 1.0),
    n_generations=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_property_ridge_closed_form_equals_iterated_refits(
    n, n_features, fit_intercept, lam, alpha, n_generations, seed
):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, n_features) + rng.randn(n_features)
    y = rng.randn(n)
    w = rng.uniform(0.1, 3.0, size=n)
    ridge = Ridge(alpha=lam, fit_intercept=fit_intercept)
    reg = SelfDistillationRegressor(ridge, n_generations=n_generations, alpha=alpha)
    reg.fit(X, y, sample_weight=w)
    expected = refit_generations(ridge, X, y, alpha, n_generations, sample_weight=w)
    for model, reference in zip(reg.generations_, expected, strict=True):
        assert_close(model.predict(X), reference.predict(X), rtol=1e-7)


@pytest.mark.parametrize("scoring", ["neg_mean_squared_error", "r2", "explained_variance"])
def test_scoring_strings_see_the_right_train_predictions(curve, scoring):
    from sklearn.metrics import get_scorer

    X, y, _ = curve
    reg = SelfDistillationRegressor(
        KernelRidge(alpha=0.1, kernel="rbf", gamma=10), n_generations=3, scoring=scoring
    ).fit(X, y)
    for record, model in zip(reg.history_, reg.generations_, strict=True):
        expected = get_scorer(scoring)(model, X, y)
        assert record["train_score"] == pytest.approx(expected, rel=1e-9)
