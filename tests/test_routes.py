"""How a scikit-learn classifier learns its targets: routes, cost bounds, parallel folds."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_selection import SelectFromModel
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill._routes import (
    DEFAULT_TAIL,
    N_DRAWS,
    auto_route,
    expand,
    max_classes_per_row,
)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16, y


def explicit_splits(y):
    return list(StratifiedKFold(3).split(np.zeros_like(y), y))


@pytest.mark.parametrize(
    "estimator, route",
    [
        (LogisticRegression(), "sample_weight"),
        (HistGradientBoostingClassifier(), "sample_weight"),
        (make_pipeline(StandardScaler(), LogisticRegression()), "sample_weight"),
        (make_pipeline(PCA(3), LogisticRegression()), "sampling"),
        (LinearDiscriminantAnalysis(), "sampling"),
        (KNeighborsClassifier(), "hard"),
        (SVC(probability=True), "hard"),
        (CalibratedClassifierCV(LogisticRegression(), cv=[([0], [1])]), "hard"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_auto_takes_the_documented_route(estimator, route):
    assert auto_route(estimator)[0] == route
    assert f'``"{route}"``' in SelfDistillationClassifier.__doc__


@pytest.mark.parametrize(
    "estimator",
    [
        KNeighborsClassifier(),
        LinearDiscriminantAnalysis(),
        SVC(probability=True, random_state=0),
        make_pipeline(PCA(20, random_state=0), LogisticRegression(max_iter=500)),
    ],
    ids=["knn", "lda", "svc", "pca_pipeline"],
)
def test_estimators_that_ignore_or_lack_weights_distil_sensibly(digits, estimator):
    X, y = digits
    X_train, y_train, X_test, y_test = X[:1000], y[:1000], X[1000:], y[1000:]
    clf = SelfDistillationClassifier(estimator, n_generations=3, random_state=0)
    clf.fit(X_train, y_train)
    plain = clone(estimator).fit(X_train, y_train).score(X_test, y_test)
    for proba in clf.staged_predict_proba(X_test):
        # Probabilities that mean what they say: their argmax is mostly right ...
        assert np.mean(clf.classes_[proba.argmax(axis=1)] == y_test) > plain - 0.05
        # ... and they are confident where the model is (not ~1/2 or inverted, as
        # SVC's Platt scaling gave on rows repeated per class).
        assert proba.max(axis=1).mean() > 0.5


def test_explicit_cv_splits_keep_their_rows(iris):
    X, y = iris
    calibrated = CalibratedClassifierCV(LogisticRegression(), cv=explicit_splits(y))
    clf = SelfDistillationClassifier(calibrated, n_generations=3).fit(X, y)
    assert clf.soft_targets_ == "hard"
    assert clf.score(X, y) > 0.9
    with pytest.raises(ValueError, match=r"soft_targets='sample_weight' repeats rows.*\bcv\b"):
        SelfDistillationClassifier(calibrated, soft_targets="sample_weight").fit(X, y)


def test_explicit_cv_splits_with_unlabelled_rows_are_a_clear_error(iris):
    X, y = iris
    y_semi = np.where(np.arange(150) % 4 == 0, -1, y)
    calibrated = CalibratedClassifierCV(LogisticRegression(), cv=explicit_splits(y))
    clf = SelfDistillationClassifier(calibrated, unlabeled=-1)
    with pytest.raises(ValueError, match=r"unlabeled=-1 out.*\bcv\b.*splitter object"):
        clf.fit(X, y_semi)


def test_sample_weight_route_needs_the_argument(iris):
    X, y = iris
    with pytest.raises(ValueError, match="KNeighborsClassifier has none"):
        SelfDistillationClassifier(KNeighborsClassifier(), soft_targets="sample_weight").fit(X, y)


def test_each_route_can_be_chosen(iris):
    X, y = iris
    for route in ("sample_weight", "sampling", "hard"):
        clf = SelfDistillationClassifier(n_generations=2, soft_targets=route, random_state=0)
        assert clf.fit(X, y).soft_targets_ == route
        assert clf.score(X, y) > 0.9


def soft(n, n_classes, seed=0):
    return np.random.RandomState(seed).dirichlet(np.full(n_classes, 0.3), size=n)


def test_sampling_repeats_every_row_equally_with_systematic_labels():
    targets = soft(200, 4)
    rows, codes, weights = expand(targets, "sampling")
    assert weights is None
    np.testing.assert_array_equal(rows, np.repeat(np.arange(200), N_DRAWS))
    counts = np.zeros_like(targets)
    np.add.at(counts, (rows, codes), 1)
    # Systematic sampling: every class gets floor or ceil of N_DRAWS * r copies.
    expected = N_DRAWS * targets
    assert np.all(counts >= np.floor(expected) - 1e-9)
    assert np.all(counts <= np.ceil(expected) + 1e-9)
    # A copy of a row gets the labels of the row (no random numbers).
    doubled = expand(np.repeat(targets, 2, axis=0), "sampling")[1].reshape(400, N_DRAWS)
    np.testing.assert_array_equal(doubled[::2], codes.reshape(200, N_DRAWS))
    np.testing.assert_array_equal(doubled[1::2], codes.reshape(200, N_DRAWS))


@pytest.mark.parametrize("n_classes", [3, 10, 50, 1000])
def test_sample_weight_route_is_bounded_and_drops_only_the_tail(n_classes):
    n = 300
    targets = np.random.RandomState(n_classes).dirichlet(np.full(n_classes, 0.05), n)
    targets[::10] = np.eye(n_classes)[0] * (1 - 1e-3) + 1e-3 / n_classes  # near one-hot
    rows, codes, weights = expand(targets, "sample_weight")
    n_kept = np.bincount(rows, minlength=n)
    cap = max_classes_per_row(n_classes)
    assert cap == min(n_classes, max(2, 80 // n_classes))
    assert n_kept.min() >= 1 and n_kept.max() <= cap
    assert np.all(n_kept[::10] == 1)  # a tail below the default tail goes
    # Below the cap, a row keeps classes until at most the tail is left out.
    ranked = -np.sort(-targets, axis=1)
    left_out = 1 - np.take_along_axis(np.cumsum(ranked, axis=1), n_kept[:, None] - 1, axis=1)
    below_cap = n_kept < cap
    assert np.all(left_out[below_cap] <= DEFAULT_TAIL + 1e-8)
    if n_classes <= 10:
        assert n_kept.max() > 2  # the tail reaches the student beyond two classes
    np.testing.assert_allclose(np.bincount(rows, weights, minlength=n), 1.0)
    # Each row keeps its most probable classes, in order, renormalised.
    first = np.r_[0, np.cumsum(n_kept)[:-1]]
    np.testing.assert_array_equal(codes[first], targets.argmax(axis=1))
    second = np.sort(targets, axis=1)[:, -2]
    two = n_kept == 2
    np.testing.assert_array_equal(targets[np.flatnonzero(two), codes[first[two] + 1]], second[two])


def test_one_hot_targets_are_the_rows_as_they_are():
    targets = np.eye(3)[[0, 2, 1, 1]]
    for route in ("sample_weight", "sampling", "hard"):
        rows, codes, weights = expand(targets, route)
        np.testing.assert_array_equal(rows, np.arange(4))
        np.testing.assert_array_equal(codes, [0, 2, 1, 1])
        assert weights is None


def test_many_classes_cost_a_bounded_number_of_rows():
    X, y = make_classification(
        n_samples=2000,
        n_features=20,
        n_informative=15,
        n_classes=200,
        n_clusters_per_class=1,
        random_state=0,
    )
    seen = []

    class Recording(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            seen.append(X.shape[0])
            return super().fit(X, y, sample_weight=sample_weight)

    SelfDistillationClassifier(Recording(max_iter=50), n_generations=2).fit(X, y)
    assert seen[0] == 2000 and seen[1] <= max_classes_per_row(200) * 2000 == 4000


class ColdLogisticRegression(LogisticRegression):
    """A subclass, which the library does not warm-start (it might fit differently)."""


def test_warm_started_generations_reach_the_cold_optimum(iris):
    X, y = iris
    params = dict(tol=1e-10, max_iter=10_000)
    # LogisticRegression learns the whole distribution from its teacher's coefficients;
    # the subclass, from zero, the rows repeated for every class (no tail left out).
    warm = SelfDistillationClassifier(LogisticRegression(**params), n_generations=3).fit(X, y)
    cold = SelfDistillationClassifier(ColdLogisticRegression(**params), n_generations=3)
    cold.set_params(soft_target_tail=0.0).fit(X, y)
    np.testing.assert_allclose(warm.predict_proba(X), cold.predict_proba(X), atol=1e-6)
    # The user's warm_start=False is what the fitted generations say.
    assert all(g.warm_start is False for g in warm.generations_)


def test_warm_started_generations_need_fewer_iterations(digits):
    X, y = digits
    fitted = [
        SelfDistillationClassifier(estimator, n_generations=3, soft_target_tail=0.0).fit(X, y)
        for estimator in (LogisticRegression(max_iter=1000), ColdLogisticRegression(max_iter=1000))
    ]
    warm, cold = ([int(g.n_iter_.max()) for g in clf.generations_[1:]] for clf in fitted)
    assert sum(warm) < 0.7 * sum(cold)


def test_parallel_cross_fit_folds_equal_sequential(iris):
    X, y = iris
    params = dict(n_generations=3, teacher_predictions="cross_fit", cv=3, random_state=0)
    sequential = SelfDistillationClassifier(n_jobs=1, **params).fit(X, y)
    parallel = SelfDistillationClassifier(n_jobs=2, **params).fit(X, y)
    for a, b in zip(
        sequential.staged_predict_proba(X), parallel.staged_predict_proba(X), strict=True
    ):
        np.testing.assert_array_equal(a, b)


class _RecordingLogisticRegression(LogisticRegression):
    """Records, on the class, the weights each fit received."""

    received = []

    def fit(self, X, y, sample_weight=None):
        type(self).received.append(sample_weight)
        return super().fit(X, y, sample_weight=sample_weight)


def test_a_step_that_weighs_through_its_inner_estimator_gets_the_weights(iris):
    X, y = iris
    # SelectFromModel's fit takes **fit_params for its estimator: the route counts it as
    # a step that weighs, so the weights must reach it.
    pipeline = make_pipeline(
        SelectFromModel(_RecordingLogisticRegression(max_iter=500)),
        LogisticRegression(max_iter=500),
    )
    assert auto_route(pipeline)[0] == "sample_weight"
    _RecordingLogisticRegression.received = []
    clf = SelfDistillationClassifier(pipeline, n_generations=2, alpha=0.7, temperature=2.0)
    clf.fit(X, y)
    received = _RecordingLogisticRegression.received
    assert len(received) == 2 and received[0] is None  # generation 0: one row per row
    # Generation 1: the expanded rows, weighted by their soft targets.
    assert received[1] is not None and received[1].shape[0] > X.shape[0]
    assert np.all((received[1] > 0) & (received[1] <= 1))


def test_the_default_tail_keeps_the_student_near_the_student_of_the_whole_target(digits):
    from sklearn.model_selection import train_test_split

    from sklearn_selfdistill._soft_targets import distillation_targets

    X, y = digits
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.3, random_state=0)
    teacher = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    targets = distillation_targets(teacher.predict_proba(X_train), y_train, 0.7, 4.0)

    def student(rows, codes, weights):
        model = LogisticRegression(max_iter=2000, tol=1e-8)
        return model.fit(X_train[rows], codes, sample_weight=weights).predict_proba(X_test)

    n, k = targets.shape
    whole = student(np.repeat(np.arange(n), k), np.tile(np.arange(k), n), targets.ravel())
    ours = student(*expand(targets, "sample_weight"))
    assert np.abs(ours - whole).mean() < 1e-3
    # Two classes per row (the bound before soft_target_tail) is five times further.
    capped = student(*expand(targets, "sample_weight", tail=0.5))
    assert np.abs(capped - whole).mean() > 3e-3
