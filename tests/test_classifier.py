import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import softmax
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn_selfdistill import SelfDistillationClassifier, TemperatureSchedule


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def flexible_student(proba, labels, alpha, temperature):
    """The documented target distribution, found by a general-purpose minimiser.

    Row by row, ``softmax(z*)`` with ``z*`` minimising ``alpha * T**2 * KL(q || softmax(z /
    T)) + (1 - alpha) * CE(y, softmax(z))``; a label of -1 (unlabelled) has no CE term.
    """
    q = softmax(np.log(proba) / temperature, axis=1)
    out = np.empty_like(proba)
    for i, (q_i, label) in enumerate(zip(q, labels, strict=True)):

        def loss(z, q_i=q_i, label=label):
            kl = np.sum(q_i * (np.log(q_i) - np.log(softmax(z / temperature))))
            ce = 0.0 if label < 0 else -np.log(softmax(z)[label])
            return alpha * temperature**2 * kl + (1 - alpha) * ce

        z = minimize(loss, np.log(proba[i]), method="BFGS", options={"gtol": 1e-10}).x
        out[i] = softmax(z)
    return out


# The bounds of the sample_weight route as the docstring states them.
DOCUMENTED_TAIL_MASS = 0.004  # soft_target_tail's default


def documented_max_classes(n_classes):
    return min(n_classes, max(2, 80 // n_classes))


def expand_soft_targets(X, targets, classes, sample_weight=None, every_class=False):
    """Reference of the sample_weight route: each row once per kept class, weighted.

    Per row the most probable classes are kept until they hold all but 0.4% of the row's
    distribution, at most max(2, 80 // n_classes) of them, and renormalised; then times
    the row's weight.
    """
    if sample_weight is None:
        sample_weight = np.ones(X.shape[0])
    X_rep, y_rep, w_rep = [], [], []
    for x, r, w in zip(X, targets, sample_weight, strict=True):
        order = np.argsort(-r, kind="stable")[: documented_max_classes(r.shape[0])]
        kept = [
            k
            for i, k in enumerate(order)
            if r[k] > 0 and r[order[:i]].sum() < 1 - DOCUMENTED_TAIL_MASS
        ]
        if every_class:
            kept = [k for k in range(r.shape[0]) if r[k] > 0]
        for k in kept:
            X_rep.append(x)
            y_rep.append(classes[k])
            w_rep.append(w * r[k] / r[kept].sum())
    return np.array(X_rep), np.array(y_rep), np.array(w_rep)


def fit_weighted(estimator, X, y, sample_weight):
    """A fresh copy of ``estimator`` fit with the weights reaching every step that weighs."""
    estimator = clone(estimator)
    if isinstance(estimator, Pipeline):
        params = {f"{name}__sample_weight": sample_weight for name, _ in estimator.steps}
        return estimator.fit(X, y, **params)
    return estimator.fit(X, y, sample_weight=sample_weight)


def fit_on_soft_targets(estimator, X, targets, classes, sample_weight=None):
    """``estimator`` refit by hand on the rows, labels and weights of the route.

    A LogisticRegression alone learns every class of every row: the library fits it on
    the whole distribution (``_soft_logistic``), as the rows repeated for every class.
    """
    every_class = type(estimator) is LogisticRegression
    expanded = expand_soft_targets(X, targets, classes, sample_weight, every_class)
    return fit_weighted(estimator, *expanded)


class RoutedLogisticRegression(LogisticRegression):
    """A subclass, which takes the route's repeated rows (no whole-distribution fit)."""


def onehot(y, n_classes=3):
    return np.eye(n_classes)[y]


@pytest.fixture
def logistic_fits(monkeypatch):
    """Every ``LogisticRegression.fit`` call of the test, as ``(X, y, sample_weight)``."""
    calls = []
    original = LogisticRegression.fit

    def recording_fit(self, X, y, sample_weight=None):
        calls.append((np.asarray(X).copy(), np.asarray(y).copy(), sample_weight))
        return original(self, X, y, sample_weight=sample_weight)

    monkeypatch.setattr(LogisticRegression, "fit", recording_fit)
    return calls


# A tight tolerance: the library starts LogisticRegression from its teacher, the
# references start from zero, and both must reach the same optimum.
TIGHT_LR = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_generation_one_learns_the_documented_soft_distribution(iris, temperature):
    X, y = iris
    clf = SelfDistillationClassifier(
        TIGHT_LR, n_generations=2, alpha=0.7, temperature=temperature
    ).fit(X, y)
    assert clf.soft_targets_ == "sample_weight"
    teacher = clone(TIGHT_LR).fit(X, y)
    targets = flexible_student(teacher.predict_proba(X), y, 0.7, temperature)
    reference = fit_on_soft_targets(TIGHT_LR, X, targets, clf.classes_)
    np.testing.assert_allclose(
        clf.generations_[1].predict_proba(X), reference.predict_proba(X), rtol=1e-5, atol=1e-6
    )


def test_temperature_changes_the_student(iris):
    X, y = iris
    cold = SelfDistillationClassifier(n_generations=2, temperature=1.0).fit(X, y)
    hot = SelfDistillationClassifier(n_generations=2, temperature=8.0).fit(X, y)
    # A hotter teacher gives the wrong classes more say, so its student is less confident.
    assert hot.predict_proba(X).max(axis=1).mean() < cold.predict_proba(X).max(axis=1).mean()


def test_documented_route_bounds_match_the_code(iris, logistic_fits):
    doc = " ".join(SelfDistillationClassifier.__doc__.split())
    assert "all but ``soft_target_tail`` of ``r``" in doc
    assert "at most ``max(2, 80 // n_classes)`` per row" in doc
    assert "soft_target_tail : float in [0, 1), default=0.004" in doc
    assert SelfDistillationClassifier().get_params()["soft_target_tail"] == DOCUMENTED_TAIL_MASS
    X, y = iris
    clf = SelfDistillationClassifier(
        RoutedLogisticRegression(C=10.0), n_generations=2, alpha=0.7, temperature=1.0
    ).fit(X, y)
    targets = 0.7 * clf.generations_[0].predict_proba(X) + 0.3 * onehot(y)
    ranked = -np.sort(-targets, axis=1)
    single = ranked[:, 0] >= 1 - DOCUMENTED_TAIL_MASS
    three = ranked[:, :2].sum(axis=1) < 1 - DOCUMENTED_TAIL_MASS
    # The data holds rows of each kind: one class above the tail, and all three classes
    # above it (iris's 3 classes are within the cap).
    assert single.sum() > 0 and three.sum() > 0
    X_fit, y_fit, w_fit = logistic_fits[1]
    assert y_fit.shape[0] == 2 * X.shape[0] - single.sum() + three.sum()
    X_ref, y_ref, w_ref = expand_soft_targets(X, targets, clf.classes_)
    np.testing.assert_array_equal(X_fit, X_ref)
    np.testing.assert_array_equal(y_fit, y_ref)
    np.testing.assert_allclose(w_fit, w_ref, rtol=1e-12)


@pytest.mark.parametrize(
    "estimator",
    [
        LogisticRegression(tol=1e-10, max_iter=10_000),
        SGDClassifier(loss="log_loss"),
        HistGradientBoostingClassifier(max_iter=15),
        RandomForestClassifier(n_estimators=10),
        # C=10: some rows keep one class, so the scaler sees the weights.
        make_pipeline(StandardScaler(), LogisticRegression(C=10.0, tol=1e-10, max_iter=10_000)),
    ],
    ids=["logistic", "sgd", "hgb", "forest", "pipeline"],
)
def test_any_probabilistic_classifier_with_sample_weight(iris, estimator):
    X, y = iris
    alpha = 0.7
    clf = SelfDistillationClassifier(
        estimator, n_generations=3, alpha=alpha, temperature=1.0, random_state=0
    ).fit(X, y)
    assert clf.soft_targets_ == "sample_weight"
    # A clone of a fitted generation has its parameters, the seeded random_state
    # included: the reference is that estimator refit by hand.
    plain = clone(clf.generations_[0]).fit(X, y)
    np.testing.assert_array_equal(clf.generations_[0].predict_proba(X), plain.predict_proba(X))
    for g in (1, 2):
        teacher = clf.generations_[g - 1].predict_proba(X)
        targets = alpha * teacher + (1 - alpha) * onehot(y)
        reference = fit_on_soft_targets(clf.generations_[g], X, targets, clf.classes_)
        np.testing.assert_allclose(
            clf.generations_[g].predict_proba(X),
            reference.predict_proba(X),
            rtol=1e-5,
            atol=1e-6,
        )


def test_each_generation_learns_from_the_one_before(iris):
    X, y = iris
    clf = SelfDistillationClassifier(TIGHT_LR, n_generations=4, alpha=0.8, temperature=1.0).fit(
        X, y
    )
    for g in (1, 2, 3):
        teacher = clf.generations_[g - 1].predict_proba(X)
        targets = 0.8 * teacher + 0.2 * onehot(y)
        reference = fit_on_soft_targets(TIGHT_LR, X, targets, clf.classes_)
        np.testing.assert_allclose(
            clf.generations_[g].predict_proba(X), reference.predict_proba(X), rtol=1e-5, atol=1e-6
        )
    # Generation 0 as the teacher of generation 3 would give another model.
    from_zero = 0.8 * clf.generations_[0].predict_proba(X) + 0.2 * onehot(y)
    other = fit_on_soft_targets(TIGHT_LR, X, from_zero, clf.classes_)
    assert not np.allclose(clf.generations_[3].predict_proba(X), other.predict_proba(X), atol=1e-4)


def test_alpha_one_learns_the_teachers_probabilities_at_any_temperature(iris):
    X, y = iris
    clf = SelfDistillationClassifier(TIGHT_LR, n_generations=2, alpha=1.0, temperature=4.0).fit(
        X, y
    )
    teacher = clf.generations_[0].predict_proba(X)
    reference = fit_on_soft_targets(TIGHT_LR, X, teacher, clf.classes_)
    np.testing.assert_allclose(
        clf.generations_[1].predict_proba(X), reference.predict_proba(X), rtol=1e-5, atol=1e-6
    )


def test_classifier_without_predict_proba_is_a_clear_error(iris):
    X, y = iris
    with pytest.raises(TypeError, match="needs a predict_proba method; SVC has none"):
        SelfDistillationClassifier(SVC()).fit(X, y)


def test_staged_outputs_are_the_generations(iris):
    X, y = iris
    clf = SelfDistillationClassifier(n_generations=4, alpha=0.8).fit(X, y)
    staged_proba = list(clf.staged_predict_proba(X))
    staged = list(clf.staged_predict(X))
    assert len(staged_proba) == len(staged) == 4
    for model, proba, pred in zip(clf.generations_, staged_proba, staged, strict=True):
        np.testing.assert_array_equal(proba, model.predict_proba(X))
        np.testing.assert_array_equal(pred, model.predict(X))
    np.testing.assert_array_equal(staged_proba[-1], clf.predict_proba(X))
    # Distillation moves the generations: they are not all the same model.
    assert not np.allclose(staged_proba[0], staged_proba[-1])


def test_alpha_zero_every_generation_is_the_plain_estimator(iris):
    X, y = iris
    plain = LogisticRegression(C=0.3).fit(X, y).predict_proba(X)
    clf = SelfDistillationClassifier(LogisticRegression(C=0.3), n_generations=4, alpha=0.0)
    for proba in clf.fit(X, y).staged_predict_proba(X):
        np.testing.assert_array_equal(proba, plain)


def test_alpha_zero_randomised_estimator_repeats_generation_zero(iris):
    X, y = iris
    clf = SelfDistillationClassifier(
        RandomForestClassifier(n_estimators=5), n_generations=3, alpha=0.0, random_state=1
    ).fit(X, y)
    staged = list(clf.staged_predict_proba(X))
    for proba in staged[1:]:
        np.testing.assert_array_equal(proba, staged[0])


def test_one_generation_is_the_plain_estimator(iris):
    X, y = iris
    clf = SelfDistillationClassifier(LogisticRegression(), n_generations=1).fit(X, y)
    np.testing.assert_array_equal(
        clf.predict_proba(X), LogisticRegression().fit(X, y).predict_proba(X)
    )


def test_same_random_state_same_predictions_and_seed_matters(iris):
    X, y = iris
    make = lambda seed: SelfDistillationClassifier(  # noqa: E731
        RandomForestClassifier(n_estimators=5), n_generations=3, random_state=seed
    )
    first = make(0).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, make(0).fit(X, y).predict_proba(X))
    assert not np.array_equal(first, make(1).fit(X, y).predict_proba(X))


def test_user_random_state_of_the_estimator_is_kept(iris):
    X, y = iris
    clf = SelfDistillationClassifier(
        RandomForestClassifier(n_estimators=5, random_state=7), n_generations=2, random_state=3
    ).fit(X, y)
    assert all(g.random_state == 7 for g in clf.generations_)
    plain = RandomForestClassifier(n_estimators=5, random_state=7).fit(X, y)
    np.testing.assert_array_equal(clf.generations_[0].predict_proba(X), plain.predict_proba(X))


def test_sample_weight_multiplies_the_soft_weights(iris):
    X, y = iris
    weights = np.random.RandomState(0).randint(0, 4, size=y.shape[0])
    clf = SelfDistillationClassifier(TIGHT_LR, n_generations=2, alpha=0.6, temperature=2.0).fit(
        X, y, sample_weight=weights
    )
    teacher = clone(TIGHT_LR).fit(X, y, sample_weight=weights)
    targets = flexible_student(teacher.predict_proba(X), y, 0.6, 2.0)
    reference = fit_on_soft_targets(TIGHT_LR, X, targets, clf.classes_, weights)
    np.testing.assert_allclose(
        clf.predict_proba(X), reference.predict_proba(X), rtol=1e-5, atol=1e-6
    )


def test_string_labels_give_the_model_of_their_codes(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])
    clf = SelfDistillationClassifier(n_generations=2).fit(X, names[y])
    coded = SelfDistillationClassifier(n_generations=2).fit(X, y)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    np.testing.assert_allclose(clf.predict_proba(X), coded.predict_proba(X), rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), names[coded.predict(X)])


def test_minus_one_is_an_ordinary_class_without_unlabeled(iris):
    X, y = iris
    signed = np.where(y == 0, -1, 1)
    clf = SelfDistillationClassifier(n_generations=2).fit(X, signed)
    np.testing.assert_array_equal(clf.classes_, [-1, 1])
    # No row is left out of generation 0: it is the plain fit on every row.
    plain = LogisticRegression().fit(X, signed)
    np.testing.assert_array_equal(clf.generations_[0].predict_proba(X), plain.predict_proba(X))


# -- cross-fit teachers ------------------------------------------------------------


def test_cross_fit_teacher_is_cross_val_predict(iris):
    X, y = iris
    base = TIGHT_LR
    cv = StratifiedKFold(5)
    clf = SelfDistillationClassifier(
        base, n_generations=2, alpha=0.5, temperature=1.0, teacher_predictions="cross_fit", cv=cv
    ).fit(X, y)
    oof = cross_val_predict(base, X, y, cv=cv, method="predict_proba")
    # At T = 1 the flexible student's distribution is the mixture itself.
    targets = 0.5 * oof + 0.5 * (y[:, None] == clf.classes_[None, :])
    reference = fit_on_soft_targets(base, X, targets, clf.classes_)
    np.testing.assert_allclose(
        clf.predict_proba(X), reference.predict_proba(X), rtol=1e-5, atol=1e-6
    )


def test_cross_fit_moves_boosting_that_in_sample_barely_moves():
    X, y = make_classification(
        n_samples=300, n_features=8, n_informative=4, flip_y=0.15, random_state=0
    )
    base = HistGradientBoostingClassifier(max_iter=60, learning_rate=0.3, random_state=0)
    change = {}
    for mode in ("in_sample", "cross_fit"):
        clf = SelfDistillationClassifier(
            base, n_generations=2, alpha=0.7, temperature=1.0, teacher_predictions=mode
        ).fit(X, y)
        gen0, gen1 = clf.staged_predict_proba(X)
        change[mode] = np.abs(gen1 - gen0).mean()
    # A memorising teacher repeats the labels in-sample: the student is generation 0
    # again. Out-of-fold it disagrees with noisy labels, and the student moves.
    assert change["in_sample"] < 0.03
    assert change["cross_fit"] > 5 * change["in_sample"]


def test_cross_fit_cv_must_partition_the_rows(iris):
    X, y = iris
    overlapping = [(np.arange(100), np.arange(100, 150)), (np.arange(50), np.arange(50, 150))]
    with pytest.raises(ValueError, match="cover every training row exactly once"):
        SelfDistillationClassifier(
            n_generations=2, teacher_predictions="cross_fit", cv=overlapping
        ).fit(X, y)


# -- unlabelled rows (Noisy Student without noise) ---------------------------------


def test_generation_zero_ignores_unlabeled_rows(iris):
    X, y = iris
    y_semi = y.copy()
    y_semi[::3] = -1
    clf = SelfDistillationClassifier(n_generations=2, unlabeled=-1).fit(X, y_semi)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    labeled = y_semi != -1
    plain = LogisticRegression().fit(X[labeled], y_semi[labeled])
    np.testing.assert_array_equal(clf.generations_[0].predict_proba(X), plain.predict_proba(X))


def test_later_generations_learn_the_teacher_on_unlabeled_rows(iris):
    X, y = iris
    y_semi = y.copy()
    y_semi[1::4] = -1
    alpha, temperature = 0.6, 2.0
    clf = SelfDistillationClassifier(
        TIGHT_LR, n_generations=2, alpha=alpha, temperature=temperature, unlabeled=-1
    ).fit(X, y_semi)
    teacher = clf.generations_[0]
    targets = flexible_student(teacher.predict_proba(X), y_semi, alpha, temperature)
    # An unlabelled row has no ground-truth term: its distribution is the teacher's.
    unlabeled = y_semi == -1
    np.testing.assert_allclose(targets[unlabeled], teacher.predict_proba(X)[unlabeled], atol=1e-6)
    reference = fit_on_soft_targets(TIGHT_LR, X, targets, clf.classes_)
    np.testing.assert_allclose(
        clf.predict_proba(X), reference.predict_proba(X), rtol=1e-5, atol=1e-6
    )
    # The unlabelled rows did take part: without them the student is another model.
    labeled = ~unlabeled
    without = fit_on_soft_targets(TIGHT_LR, X[labeled], targets[labeled], clf.classes_)
    assert not np.allclose(clf.predict_proba(X), without.predict_proba(X), atol=1e-4)


def test_unlabeled_with_alpha_zero_is_plain_on_labeled_rows(iris):
    X, y = iris
    y_semi = np.where(np.arange(150) % 2 == 0, y, -1)
    clf = SelfDistillationClassifier(n_generations=3, alpha=0.0, unlabeled=-1).fit(X, y_semi)
    plain = LogisticRegression().fit(X[y_semi != -1], y[y_semi != -1]).predict_proba(X)
    for proba in clf.staged_predict_proba(X):
        np.testing.assert_array_equal(proba, plain)


def test_unlabeled_marker_can_be_a_string(iris):
    X, y = iris
    names = np.array(["a", "b", "c"])[y].astype(object)
    names[::5] = "?"
    clf = SelfDistillationClassifier(n_generations=2, unlabeled="?").fit(X, names)
    assert list(clf.classes_) == ["a", "b", "c"]
    # The same rows marked by -1 give the same model.
    marked = np.where(np.arange(150) % 5 == 0, -1, y)
    coded = SelfDistillationClassifier(n_generations=2, unlabeled=-1).fit(X, marked)
    for proba, coded_proba in zip(
        clf.staged_predict_proba(X), coded.staged_predict_proba(X), strict=True
    ):
        np.testing.assert_allclose(proba, coded_proba, rtol=1e-12)


def test_only_one_labeled_class_is_a_clear_error(iris):
    X, _ = iris
    y = np.where(np.arange(150) < 75, 1, -1)
    with pytest.raises(ValueError, match=r"at least 2 classes.*75 rows marked unlabeled=-1"):
        SelfDistillationClassifier(unlabeled=-1).fit(X, y)
    with pytest.raises(ValueError, match="Every row of y is marked unlabelled"):
        SelfDistillationClassifier(unlabeled=-1).fit(X, -np.ones(150, dtype=int))


# -- final generation ---------------------------------------------------------------


def test_ensemble_averages_the_generations_probabilities(iris):
    X, y = iris
    clf = SelfDistillationClassifier(n_generations=3, alpha=0.9, final_generation="ensemble").fit(
        X, y
    )
    mean = np.mean(list(clf.staged_predict_proba(X)), axis=0)
    np.testing.assert_allclose(clf.predict_proba(X), mean)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[mean.argmax(axis=1)])
    decision = np.mean([g.decision_function(X) for g in clf.generations_], axis=0)
    np.testing.assert_allclose(clf.decision_function(X), decision)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(mean))


def test_schedule_temperatures_are_recorded(iris):
    X, y = iris
    schedule = TemperatureSchedule(initial=5.0, final=1.0, kind="linear")
    clf = SelfDistillationClassifier(n_generations=5, temperature=schedule).fit(X, y)
    assert clf.history_[0]["temperature"] is None
    temperatures = [h["temperature"] for h in clf.history_[1:]]
    assert temperatures == pytest.approx([5.0, 11 / 3, 7 / 3, 1.0])
    assert [h["alpha"] for h in clf.history_] == [0.0, 0.7, 0.7, 0.7, 0.7]


def test_soft_targets_that_keep_one_class_are_a_clear_error_and_keep_the_finished_ones():
    # Hard pseudo-labels of a teacher that never predicts the minority class.
    X = np.linspace(-1, 1, 48).reshape(-1, 1)
    y = np.repeat([0, 1], [40, 8])
    clf = SelfDistillationClassifier(
        LogisticRegression(C=0.01), n_generations=4, alpha=1.0, soft_targets="hard"
    )
    with pytest.raises(ValueError, match="soft targets keep a single class") as info:
        clf.fit(X, y)
    assert "use a smaller alpha or another soft_targets route" in str(info.value)
    assert len(info.value.partial_generations) >= 1


def test_decision_function_has_a_column_per_class_when_a_generation_lost_one():
    X = np.linspace(-1, 1, 48).reshape(-1, 1)
    y = np.repeat([0, 1, 2], [20, 20, 8])
    for final in ("last", "ensemble"):
        clf = SelfDistillationClassifier(
            LogisticRegression(C=0.01),
            n_generations=3,
            alpha=1.0,
            soft_targets="hard",
            final_generation=final,
        ).fit(X, y)
        assert [g.classes_.tolist() for g in clf.generations_][-1] == [0, 1]  # lost class 2
        scores = clf.decision_function(X)
        assert scores.shape == (48, 3) and np.all(scores[:, 2] == -np.inf)
        if final == "last":
            np.testing.assert_array_equal(clf.classes_[np.argmax(scores, axis=1)], clf.predict(X))


@pytest.mark.parametrize("flag", [True, False])
def test_a_boolean_unlabeled_is_refused_not_taken_as_a_label(iris, flag):
    X, y = iris
    with pytest.raises(ValueError, match=r"is a boolean, which would mark the rows labelled"):
        SelfDistillationClassifier(n_generations=2, unlabeled=flag).fit(X, y)


@pytest.mark.parametrize(
    "temperature",
    [1e-5, TemperatureSchedule(initial=4.0, final=1e-300, kind="step", gamma=1e-200)],
    ids=["scalar", "schedule-to-a-tiny-final"],
)
def test_a_temperature_too_small_to_compute_with_is_refused_before_any_fit(
    iris, temperature, monkeypatch
):
    X, y = iris
    fits = []
    monkeypatch.setattr(LogisticRegression, "fit", lambda self, *a, **k: fits.append(1))
    with pytest.raises(ValueError, match=r"gives T=\d?e-\d+ at generation [12]; a temperature"):
        SelfDistillationClassifier(n_generations=3, temperature=temperature).fit(X, y)
    assert fits == []


def test_the_smallest_temperature_still_gives_finite_targets(iris, logistic_fits):
    X, y = iris
    clf = SelfDistillationClassifier(RoutedLogisticRegression(), n_generations=2)
    clf.set_params(temperature=1e-3).fit(X, y)
    _, _, weights = logistic_fits[1]
    # Each row's kept classes are its target renormalised: a finite distribution per row.
    assert np.all(np.isfinite(weights)) and np.all(weights > 0)
    assert weights.sum() == pytest.approx(X.shape[0])
    assert np.all(np.isfinite(clf.predict_proba(X)))
