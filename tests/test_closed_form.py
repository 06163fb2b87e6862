"""KernelRidge / Ridge: the closed form equals refitting generation by generation."""

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.decomposition import PCA
from sklearn.feature_selection import SelectKBest, f_regression
from sklearn.kernel_approximation import Nystroem, RBFSampler
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.metrics.pairwise import pairwise_kernels, rbf_kernel
from sklearn.model_selection import KFold, cross_val_predict, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, SplineTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from sklearn_selfdistill import SelfDistillationRegressor
from sklearn_selfdistill._closed_form import ClosedFormStudent, PipelineClosedFormStudent
from sklearn_selfdistill._students import RegressorStudent


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


# -- pipelines of y-free transformers before KernelRidge / Ridge ---------------------


def weights_for_every_step(pipeline, sample_weight):
    """``step__sample_weight`` for each step whose fit takes it (a scaler too: weights
    stand for repeated rows, which the scaler sees as well)."""
    if sample_weight is None:
        return {}
    return {
        f"{name}__sample_weight": sample_weight
        for name, step in pipeline.steps
        if has_fit_parameter(step, "sample_weight")
    }


def refit_pipeline_generations(pipeline, X, y, alpha, n_generations, sample_weight=None):
    """A real fit of the pipeline per generation, sample weights to every step that weighs."""
    params = weights_for_every_step(pipeline, sample_weight)
    models = [clone(pipeline).fit(X, y, **params)]
    for _ in range(1, n_generations):
        targets = alpha * models[-1].predict(X) + (1 - alpha) * y
        models.append(clone(pipeline).fit(X, targets, **params))
    return models


@pytest.fixture(scope="module")
def surface():
    rng = np.random.RandomState(4)
    X = rng.uniform(-2, 2, size=(150, 3)) * [1.0, 5.0, 0.2] + [0.0, 10.0, -3.0]
    y = np.sin(2 * X[:, 0]) + 0.1 * X[:, 1] + 0.2 * rng.randn(150)
    X_new = rng.uniform(-2, 2, size=(30, 3)) * [1.0, 5.0, 0.2] + [0.0, 10.0, -3.0]
    return X, y, X_new


PIPELINES = {
    "nystroem_ridge": lambda: make_pipeline(
        Nystroem(gamma=0.05, n_components=40, random_state=0), Ridge(alpha=0.5)
    ),
    "scaler_kernel_ridge": lambda: make_pipeline(
        StandardScaler(), KernelRidge(alpha=0.3, kernel="rbf", gamma=0.4)
    ),
    "spline_pca_passthrough_ridge": lambda: Pipeline(
        [
            ("scale", MinMaxScaler()),
            ("splines", SplineTransformer(n_knots=6)),
            ("skip", "passthrough"),
            ("pca", PCA(n_components=10)),
            ("ridge", Ridge(alpha=2.0, fit_intercept=False)),
        ]
    ),
    "rbf_sampler_dual_ridge": lambda: make_pipeline(
        RBFSampler(gamma=0.05, n_components=200, random_state=1), Ridge(alpha=1.0)
    ),
}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name", list(PIPELINES))
def test_pipeline_closed_form_matches_pipeline_refits(surface, name, weighted):
    X, y, X_new = surface
    pipeline = PIPELINES[name]()
    w = np.random.RandomState(5).uniform(0.0, 3.0, size=y.shape[0]) if weighted else None
    reg = SelfDistillationRegressor(pipeline, n_generations=5, alpha=0.7, random_state=0)
    student, _, _ = reg._prepare_targets(X, y, clone(pipeline), w)
    assert isinstance(student, PipelineClosedFormStudent)
    reg.fit(X, y, sample_weight=w)
    expected = refit_pipeline_generations(pipeline, X, y, 0.7, 5, sample_weight=w)
    for g, (model, reference) in enumerate(zip(reg.generations_, expected, strict=True)):
        assert type(model) is Pipeline and check_is_fitted(model) is None
        assert type(model[-1]) is type(pipeline[-1])
        assert_close(model.predict(X_new), reference.predict(X_new))
        assert_close(model.predict(X), reference.predict(X))
        assert reg.history_[g]["train_score"] == pytest.approx(
            reference.score(X, y, sample_weight=w), rel=1e-9
        )
    # Each generation owns its fitted steps: refitting one leaves the others alone.
    assert reg.generations_[0][0] is not reg.generations_[1][0]
    before = reg.generations_[1].predict(X_new)
    reg.generations_[0].fit(X[:50], y[:50])
    np.testing.assert_array_equal(reg.generations_[1].predict(X_new), before)
    assert all(not isinstance(v, ClosedFormStudent) for v in vars(reg).values())


def test_pipeline_closed_form_multi_output(surface):
    X, y, X_new = surface
    Y = np.column_stack([y, np.cos(X[:, 0])])
    pipeline = PIPELINES["scaler_kernel_ridge"]()
    reg = SelfDistillationRegressor(pipeline, n_generations=3, alpha=0.5).fit(X, Y)
    expected = refit_pipeline_generations(pipeline, X, Y, 0.5, 3)
    for prediction, reference in zip(reg.staged_predict(X_new), expected, strict=True):
        assert prediction.shape == (30, 2)
        assert_close(prediction, reference.predict(X_new))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name", ["nystroem_ridge", "scaler_kernel_ridge"])
def test_pipeline_limit_is_the_pipeline_with_amplified_regulariser(surface, name, weighted):
    X, y, X_new = surface
    pipeline = PIPELINES[name]()
    w = np.random.RandomState(6).uniform(0.5, 2.0, size=y.shape[0]) if weighted else None
    alpha = 0.65
    reg = SelfDistillationRegressor(pipeline, n_generations=np.inf, alpha=alpha)
    reg.fit(X, y, sample_weight=w)
    lam, last = pipeline[-1].alpha, pipeline.steps[-1][0]
    amplified = clone(pipeline).set_params(**{f"{last}__alpha": lam / (1 - alpha)})
    amplified.fit(X, y, **weights_for_every_step(amplified, w))
    assert reg.n_generations_ == np.inf and type(reg.estimator_) is Pipeline
    assert reg.estimator_[-1].alpha == lam  # the limit, not a different estimator
    assert_close(reg.predict(X_new), amplified.predict(X_new))
    many = SelfDistillationRegressor(pipeline, n_generations=300, alpha=alpha)
    many.fit(X, y, sample_weight=w)
    assert_close(many.predict(X_new), reg.predict(X_new), rtol=1e-6)


def test_pipeline_pure_distillation_limit_warns(surface):
    X, y, X_new = surface
    with pytest.warns(UserWarning, match="weighted mean of y"):
        reg = SelfDistillationRegressor(
            PIPELINES["nystroem_ridge"](), n_generations=np.inf, alpha=1.0
        ).fit(X, y)
    np.testing.assert_allclose(reg.predict(X_new), y.mean())


def test_pipeline_random_prefix_uses_the_seed_a_refit_would_use(surface):
    X, y, X_new = surface
    unseeded = make_pipeline(Nystroem(gamma=0.05, n_components=30), Ridge(alpha=0.5))
    reg = SelfDistillationRegressor(unseeded, n_generations=3, alpha=0.6, random_state=7)
    reg.fit(X, y)
    # _base.py fills every random_state left at None with one seed drawn from random_state.
    seed = int(np.random.RandomState(7).randint(np.iinfo(np.int32).max))
    assert all(model[0].random_state == seed for model in reg.generations_)
    seeded = make_pipeline(Nystroem(gamma=0.05, n_components=30, random_state=seed), Ridge(0.5))
    expected = refit_pipeline_generations(seeded, X, y, 0.6, 3)
    for prediction, reference in zip(reg.staged_predict(X_new), expected, strict=True):
        assert_close(prediction, reference.predict(X_new))
    # random_state=None: a fresh seed per fit, shared by every generation of that fit.
    free = SelfDistillationRegressor(unseeded, n_generations=3, alpha=0.6).fit(X, y)
    components = [model[0].components_ for model in free.generations_]
    assert all(np.array_equal(c, components[0]) for c in components)
    seed = free.generations_[0][0].random_state
    expected = refit_pipeline_generations(free.generations_[0], X, y, 0.6, 3)
    assert expected[0][0].random_state == seed
    assert_close(free.predict(X_new), expected[-1].predict(X_new))


class _Shift(TransformerMixin, BaseEstimator):
    """A user's transformer: unknown to the whitelist, so the pipeline is refit."""

    def fit(self, X, y=None):
        self.mean_ = np.mean(X, axis=0)
        return self

    def transform(self, X):
        return X - self.mean_


class _MyScaler(StandardScaler):
    pass


@pytest.mark.parametrize(
    "first",
    [SelectKBest(f_regression, k=2), _Shift(), _MyScaler()],
    ids=["select_k_best", "user_transformer", "subclass"],
)
def test_pipeline_with_unknown_or_y_dependent_step_refits(surface, first):
    X, y, X_new = surface
    pipeline = make_pipeline(first, KernelRidge(alpha=0.3, kernel="rbf", gamma=0.4))
    reg = SelfDistillationRegressor(pipeline, n_generations=3, alpha=0.5)
    student, _, _ = reg._prepare_targets(X, y, clone(pipeline), None)
    assert type(student) is RegressorStudent
    reg.fit(X, y)
    expected = refit_pipeline_generations(pipeline, X, y, 0.5, 3)
    for prediction, reference in zip(reg.staged_predict(X_new), expected, strict=True):
        np.testing.assert_allclose(prediction, reference.predict(X_new), rtol=1e-12)
    with pytest.raises(ValueError, match="n_generations=inf"):
        SelfDistillationRegressor(pipeline, n_generations=np.inf).fit(X, y)
    assert not hasattr(reg, "spectral_diagonals_")


def test_pipeline_with_positive_ridge_or_per_target_penalty_refits(surface):
    X, y, _ = surface
    for last in (Ridge(positive=True), KernelRidge(alpha=np.array([0.1, 1.0]))):
        reg = SelfDistillationRegressor(make_pipeline(StandardScaler(), last))
        student, _, _ = reg._prepare_targets(X, y, reg.estimator, None)
        assert type(student) is RegressorStudent


def test_pipeline_features_the_closed_form_cannot_take_go_to_the_last_step():
    rng = np.random.RandomState(8)
    X = rng.uniform(0, 1, size=(20, 1))
    y = np.sin(6 * X.ravel()) + 0.1 * rng.randn(20)
    # 32 sparse spline columns for 20 rows: wide sparse data, which Ridge fits itself.
    pipeline = make_pipeline(SplineTransformer(n_knots=30, sparse_output=True), Ridge(1.0))
    reg = SelfDistillationRegressor(pipeline, n_generations=3, alpha=0.5).fit(X, y)
    expected = refit_pipeline_generations(pipeline, X, y, 0.5, 3)
    assert_close(reg.predict(X), expected[-1].predict(X), rtol=1e-6)
    with pytest.raises(ValueError, match=r"limit \(n_generations=inf\) needs the closed form"):
        SelfDistillationRegressor(pipeline, n_generations=np.inf).fit(X, y)
    with pytest.raises(AttributeError, match="spectral_diagonals_ needs the closed form"):
        reg.spectral_diagonals_  # noqa: B018


def test_pipeline_pandas_output_goes_to_the_last_step(surface):
    pd = pytest.importorskip("pandas")
    X, y, X_new = surface
    pipeline = make_pipeline(StandardScaler().set_output(transform="pandas"), Ridge(1.0))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    reg = SelfDistillationRegressor(pipeline, n_generations=3, alpha=0.5).fit(frame, y)
    expected = refit_pipeline_generations(pipeline, frame, y, 0.5, 3)
    new = pd.DataFrame(X_new, columns=["a", "b", "c"])
    assert_close(reg.predict(new), expected[-1].predict(new))


def test_pipeline_x_validation_is_the_pipeline_s(surface):
    X, y, X_new = surface
    pipeline = PIPELINES["nystroem_ridge"]()
    # Sparse X and nested lists go to Nystroem, which takes them.
    reg = SelfDistillationRegressor(pipeline, n_generations=3, alpha=0.5)
    reg.fit(sparse.csr_array(X), y)
    expected = refit_pipeline_generations(pipeline, X, y, 0.5, 3)
    assert_close(reg.predict(sparse.csr_array(X_new)), expected[-1].predict(X_new))
    listed = clone(reg).fit(X.tolist(), y.tolist())
    assert_close(listed.predict(X_new), expected[-1].predict(X_new))
    # StandardScaler lets NaN through; the closed form refuses it as Ridge would.
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    scaled = make_pipeline(StandardScaler(), Ridge())
    with pytest.raises(ValueError, match="NaN") as ours:
        SelfDistillationRegressor(scaled, n_generations=2).fit(X_nan, y)
    with pytest.raises(ValueError, match="NaN") as theirs:
        clone(scaled).fit(X_nan, y)
    assert str(ours.value) == str(theirs.value) and "Ridge" in str(ours.value)


def test_pipeline_cross_fit_teacher(surface):
    X, y, X_new = surface
    pipeline = PIPELINES["nystroem_ridge"]()
    reg = SelfDistillationRegressor(
        pipeline, n_generations=2, alpha=0.5, teacher_predictions="cross_fit", cv=KFold(3)
    ).fit(X, y)
    oof = cross_val_predict(pipeline, X, y, cv=KFold(3))
    reference = clone(pipeline).fit(X, 0.5 * oof + 0.5 * y)
    assert_close(reg.predict(X_new), reference.predict(X_new))


def test_pipeline_validation_scores_on_held_out_rows(surface):
    X, y, _ = surface
    pipeline = PIPELINES["scaler_kernel_ridge"]()
    reg = SelfDistillationRegressor(
        pipeline, n_generations=4, alpha=0.5, final_generation="best", random_state=0
    ).fit(X, y)
    # The rows _base.py holds out: the second draw of random_state (the first seeds).
    rng = np.random.RandomState(0)
    rng.randint(np.iinfo(np.int32).max)
    train, held_out = train_test_split(
        np.arange(y.shape[0]), test_size=0.1, random_state=rng.randint(np.iinfo(np.int32).max)
    )
    expected = refit_pipeline_generations(pipeline, X[np.sort(train)], y[np.sort(train)], 0.5, 4)
    for record, model, reference in zip(reg.history_, reg.generations_, expected, strict=True):
        score = reference.score(X[held_out], y[held_out])
        assert record["validation_score"] == pytest.approx(score, rel=1e-9)
        assert model.score(X[held_out], y[held_out]) == pytest.approx(score, rel=1e-9)
    assert reg.estimator_ is reg.generations_[reg.best_generation_]


def test_pipeline_spectral_diagonals_are_those_of_the_features(surface):
    X, y, _ = surface
    lam, alpha = 0.5, 0.7
    pipeline = make_pipeline(Nystroem(gamma=0.05, n_components=40, random_state=0), Ridge(lam))
    reg = SelfDistillationRegressor(pipeline, n_generations=4, alpha=alpha).fit(X, y)
    diagonals = reg.spectral_diagonals_
    features = reg.generations_[0][:-1].transform(X)
    centred = features - features.mean(axis=0)
    d = np.clip(np.linalg.eigvalsh(centred.T @ centred)[::-1], 0, None)
    np.testing.assert_allclose(diagonals.eigenvalues, d, atol=1e-9 * d[0])
    assert diagonals.generations.shape == (4, 40)
    # In the eigenbasis of the features the fit of generation g is V diag(b_g) V^T.
    _, V = np.linalg.eigh(centred.T @ centred)
    V = V[:, ::-1]
    for b, model in zip(diagonals.generations, reg.generations_, strict=True):
        rhs = V.T @ (centred.T @ (y - y.mean()))
        coef = V @ (b / np.where(d > 0, d, 1.0) * rhs * (d > 1e-12))
        assert_close(model[-1].coef_, coef, rtol=1e-6)
    np.testing.assert_allclose(diagonals.limit, d / (d + lam / (1 - alpha)))


def test_precomputed_kernel_assembled_in_blocks_matches_rbf(curve):
    X, y, X_new = curve
    gamma, chunk = 12.0, 16

    def blockwise(A, B):
        """The kernel matrix built a block of rows at a time, as for big kernels."""
        K = np.empty((A.shape[0], B.shape[0]))
        for start in range(0, A.shape[0], chunk):
            stop = start + chunk
            K[start:stop] = pairwise_kernels(A[start:stop], B, metric="rbf", gamma=gamma)
        return K

    w = np.random.RandomState(9).uniform(0.5, 2.0, size=y.shape[0])
    rbf = SelfDistillationRegressor(
        KernelRidge(alpha=0.1, kernel="rbf", gamma=gamma), n_generations=4, alpha=0.6
    ).fit(X, y, sample_weight=w)
    precomputed = SelfDistillationRegressor(
        KernelRidge(alpha=0.1, kernel="precomputed"), n_generations=4, alpha=0.6
    ).fit(blockwise(X, X), y, sample_weight=w)
    K_new = blockwise(X_new, X)
    for a, b in zip(rbf.generations_, precomputed.generations_, strict=True):
        assert_close(b.dual_coef_, a.dual_coef_)
        assert_close(b.predict(K_new), a.predict(X_new))
    limit_rbf = clone(rbf).set_params(n_generations=np.inf).fit(X, y, sample_weight=w)
    limit_pre = clone(precomputed).set_params(n_generations=np.inf)
    limit_pre.fit(blockwise(X, X), y, sample_weight=w)
    assert_close(limit_pre.predict(K_new), limit_rbf.predict(X_new))


def test_a_pickled_ridge_lineage_keeps_only_what_prediction_needs():
    rng = np.random.RandomState(0)
    X, y = rng.randn(20_000, 50), rng.randn(20_000)
    reg = SelfDistillationRegressor(Ridge(), n_generations=3).fit(X, y)
    assert X.nbytes == 8_000_000
    assert len(pickle.dumps(reg)) < 20_000  # three Ridge models and the diagonals
    diagonals = reg.spectral_diagonals_
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(restored.spectral_diagonals_.generations, diagonals.generations)
    assert_close(restored.predict(X[:5]), reg.predict(X[:5]))


def test_a_pickled_kernel_ridge_lineage_stores_its_training_rows_once(curve):
    X, y, _ = curve
    reg = SelfDistillationRegressor(KernelRidge(alpha=0.1), n_generations=3).fit(X, y)
    # Every generation predicts from X_fit_; the spectra need nothing more.
    generations = len(pickle.dumps(reg.generations_))
    assert len(pickle.dumps(reg)) < generations + X.nbytes / 2 + 4_000
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(
        restored.spectral_diagonals_.eigenvalues, reg.spectral_diagonals_.eigenvalues
    )


@pytest.mark.parametrize("estimator", [KernelRidge(alpha=0.1), Ridge(alpha=0.1)])
def test_a_refit_on_other_data_never_reuses_the_spectra_of_the_first(curve, estimator):
    X, y, _ = curve
    reg = SelfDistillationRegressor(estimator, n_generations=2, alpha=0.5)
    first = reg.fit(X, y).spectral_diagonals_
    X_other = X[: X.shape[0] // 2] * 3.0
    second = reg.fit(X_other, y[: X.shape[0] // 2]).spectral_diagonals_
    fresh = clone(reg).fit(X_other, y[: X.shape[0] // 2]).spectral_diagonals_
    assert second.eigenvalues.shape != first.eigenvalues.shape or not np.allclose(
        second.eigenvalues, first.eigenvalues
    )
    assert_close(second.eigenvalues, fresh.eigenvalues)
    assert_close(second.generations, fresh.generations)
