"""Hypothesis property tests of both meta-estimators, for random data and parameters.

Every test id ends in its number of Hypothesis cases (``[30-cases]``): ``cases(n)`` sets
``max_examples=n`` and puts ``n`` into the id from the same number. The cases are
derandomized (the same ones on every run, as CI needs) and no example database is kept.

Tolerances. Two fits that run the same code on the same arrays are compared exactly
(``assert_array_equal``): a plain fit against generation 0 or an ``alpha=0`` generation of
an estimator that is refit, clone-and-refit, pickle. Three cases get a tolerance:

- KernelRidge and Ridge generations come from the library's own Cholesky solve
  (``_closed_form.py``), the reference from scikit-learn's solver: the same linear system
  solved by different code, equal up to rounding times its condition number. The data
  below keep that number under about 1e6, so a relative 1e-7 of the targets' scale
  leaves a margin of 1e3 over the expected error.
- The Born-Again ensemble averages generations; a mean of k equal arrays is not always
  bit-equal to the array ((x + x + x) / 3 != x), and a mean taken in another order may
  differ in the last bit: relative 1e-12.
- The training score in ``history_``: the closed form scores KernelRidge on its training
  rows with the predictions its solve already has, the reference calls ``predict``;
  the two R^2 agree to rounding: 1e-6, relative or absolute.
- Probabilities sum to 1 within 1e-9 (the issue's bound; the estimators here are within
  a few ulp).
"""

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning, UndefinedMetricWarning
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from threadpoolctl import threadpool_limits

from sklearn_selfdistill import SelfDistillationClassifier, SelfDistillationRegressor

pytestmark = [
    pytest.mark.filterwarnings(f"ignore::{ConvergenceWarning.__module__}.ConvergenceWarning"),
    pytest.mark.filterwarnings(
        f"ignore::{UndefinedMetricWarning.__module__}.UndefinedMetricWarning"
    ),
]

EXAMPLES = 120  # Hypothesis cases per property test: about 30 s for the file on 2 cores
MAX_SEED = np.iinfo(np.int32).max
CV = 3  # folds of the cross-fit teacher: KFold for regressors, StratifiedKFold for classifiers
CLOSED_FORM = (KernelRidge, Ridge)


def cases(n):
    """Run the Hypothesis test on ``n`` cases and show ``n`` in its pytest id."""

    def decorate(test):
        test = settings(
            max_examples=n,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )(test)
        return pytest.mark.parametrize("examples", [n], ids=lambda k: f"{k}-cases")(test)

    return decorate


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    # Tiny problems: threads only cost time on a shared machine, and one thread makes
    # "the same computation" bit-reproducible.
    with threadpool_limits(limits=1):
        yield


# -- strategies ----------------------------------------------------------------------

# Temperatures below 1 sharpen the teacher; repeated over generations they can push a
# minority class under the soft-target threshold, so that a generation never sees it.
temperatures = st.floats(0.25, 8)
FLOATS = st.floats(-10, 10, allow_nan=False, allow_infinity=False, allow_subnormal=False)
seeds = st.integers(0, MAX_SEED - 1)
maybe_seeds = st.none() | seeds

# Penalties >= 0.1 and |X| <= 10 keep the closed form's condition number under 1e6.
closed_form_regressors = st.one_of(
    st.builds(Ridge, alpha=st.floats(0.1, 10), fit_intercept=st.booleans()),
    st.builds(
        KernelRidge,
        alpha=st.floats(0.1, 10),
        kernel=st.sampled_from(["rbf", "laplacian", "linear"]),
        gamma=st.just(0.1),
    ),
)
regressors = closed_form_regressors | st.builds(
    DecisionTreeRegressor, max_depth=st.none() | st.integers(1, 4), random_state=maybe_seeds
)
classifiers = st.one_of(
    st.builds(LogisticRegression, C=st.floats(0.01, 100)),
    st.builds(GaussianNB),
    st.builds(
        DecisionTreeClassifier,
        max_depth=st.none() | st.integers(1, 4),
        random_state=maybe_seeds,
    ),
)
LABEL_SETS = (
    np.array([0, 1, 2, 3]),
    np.array(["ant", "bee", "cat", "dog"]),
    np.array([-1, 5, 7, 10]),  # -1 is an ordinary class: unlabeled=None
)
# Each class has this many rows at least: a stratified 40 % validation split leaves
# 4 in training, enough for the 3 stratified folds of the cross-fit teacher.
MIN_PER_CLASS = 8


@st.composite
def regression_data(draw):
    """``(X, y, sample_weight, X_test)``; y 1-D or two columns; weights may be 0 or None."""
    n = draw(st.integers(12, 40))
    n_features = draw(st.integers(1, 4))
    X = draw(arrays(np.float64, (n, n_features), elements=FLOATS))
    y_shape = draw(st.sampled_from([(n,), (n, 2)]))
    y = draw(arrays(np.float64, y_shape, elements=FLOATS))
    weights = draw(st.none() | arrays(np.float64, n, elements=st.just(0.0) | st.floats(0, 3)))
    if weights is not None:
        weights[::3] = np.maximum(weights[::3], 0.5)  # never all of the training rows
    X_test = draw(arrays(np.float64, (6, n_features), elements=FLOATS))
    return X, y, weights, X_test


@st.composite
def classification_data(draw):
    """``(X, y, sample_weight, X_test)`` with 2 to 4 classes of ``MIN_PER_CLASS`` rows or more."""
    n_classes = draw(st.integers(2, 4))
    labels = draw(st.sampled_from(LABEL_SETS))[:n_classes]
    extra = draw(
        arrays(np.int64, draw(st.integers(0, 12)), elements=st.integers(0, n_classes - 1))
    )
    codes = np.concatenate([np.repeat(np.arange(n_classes), MIN_PER_CLASS), extra])
    n = codes.shape[0]
    order = np.array(draw(st.permutations(range(n))))
    y = labels[codes[order]]
    n_features = draw(st.integers(1, 4))
    X = draw(arrays(np.float64, (n, n_features), elements=FLOATS))
    # No feature constant, even within a class. GaussianNB smooths variances by 1e-9
    # times the largest one: on an all-constant X it divides 0 by 0, and a feature
    # constant within a class gives log-likelihoods near 1e9 whose exp(jll - logsumexp)
    # rows sum to 1 only within 1e-7. That is GaussianNB's own arithmetic, not
    # distillation's, and would hide the 1e-9 bound checked here.
    X += np.linspace(-1.0, 1.0, n)[:, None]
    weights = draw(st.none() | arrays(np.float64, n, elements=st.floats(0.1, 3)))
    X_test = draw(arrays(np.float64, (6, n_features), elements=FLOATS))
    return X, y, weights, X_test


@st.composite
def meta_params(draw, random_state=maybe_seeds, final_generation=None):
    """Meta-estimator parameters; a seeded ``random_state`` wherever a reference needs it.

    ``random_state=None`` of the meta-estimator stays possible where nothing depends on
    which seed it draws: the generations share one seed, whatever it is.
    """
    final = draw(
        st.sampled_from(["last", "best", "ensemble"])
        if final_generation is None
        else st.just(final_generation)
    )
    return {
        "n_generations": draw(st.integers(1, 5)),
        "alpha": draw(st.floats(0, 1)),
        "final_generation": final,
        "teacher_predictions": draw(st.sampled_from(["in_sample", "cross_fit"])),
        "cv": CV,
        "validation_fraction": draw(st.floats(0.2, 0.4)),
        # The held-out rows of "best" are drawn from random_state: seed it to know them.
        "random_state": draw(seeds if final == "best" else random_state),
    }


# -- references and comparisons ------------------------------------------------------


def training_rows(meta, y):
    """Rows the generations are fit on: all, or what ``final_generation="best"`` leaves.

    Mirrors ``BaseSelfDistillation``: its ``RandomState(random_state)`` first draws the
    seed of the wrapped estimator's unset random states, then the seed of the
    (stratified for classifiers) validation split, sorted rows kept in order.
    """
    rows = np.arange(y.shape[0])
    if not (meta.early_stopping or meta.final_generation == "best"):
        return rows
    rng = np.random.RandomState(meta.random_state)
    rng.randint(MAX_SEED)
    train, _ = train_test_split(
        rows,
        test_size=meta.validation_fraction,
        stratify=y if is_classifier(meta) else None,
        random_state=rng.randint(MAX_SEED),
    )
    return np.sort(train)


def random_state_keys(estimator):
    return [
        k for k in estimator.get_params() if k == "random_state" or k.endswith("__random_state")
    ]


def check_seeds(meta):
    """random_state of the wrapped estimator: kept where set, else one int for all generations."""
    for key in random_state_keys(meta.estimator):
        values = {g.get_params()[key] for g in meta.generations_}
        assert len(values) == 1, f"{key} differs between generations: {values}"
        (value,) = values
        given_value = meta.estimator.get_params()[key]
        if given_value is None:
            assert isinstance(value, int), f"{key}=None was not seeded: {value!r}"
        else:
            assert value == given_value


def plain_fit(meta, X, y, sample_weight):
    """``clone(estimator).fit`` on the rows and with the seeds the generations get."""
    check_seeds(meta)
    rows = training_rows(meta, y)
    reference = clone(meta.estimator)
    reference.set_params(
        **{k: meta.generations_[0].get_params()[k] for k in random_state_keys(reference)}
    )
    if sample_weight is None:
        return reference.fit(X[rows], y[rows])
    return reference.fit(X[rows], y[rows], sample_weight=sample_weight[rows])


def assert_regression_equal(actual, desired, exact, y_scale, rtol=1e-7):
    """Exact, or within ``rtol`` of the targets' scale (see the module docstring)."""
    assert np.shape(actual) == np.shape(desired)
    if exact:
        np.testing.assert_array_equal(actual, desired)
    else:
        scale = max(float(np.max(np.abs(desired), initial=0.0)), y_scale, 1.0)
        np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale)


def fit_quietly(meta, X, y, sample_weight):
    """Fit, or reject the case where the library refuses it as documented: a teacher
    that gives every row (nearly) all of its mass on one class leaves a scikit-learn
    student nothing to classify (alpha=1 after a constant generation)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            return meta.fit(X, y, sample_weight=sample_weight)
        except ValueError as exc:
            if "The soft targets keep a single class" in str(exc):
                reject()
            raise


def check_regressor_is_plain(reg, X, y, weights, X_test):
    reference = plain_fit(reg, X, y, weights)
    exact = not isinstance(reg.estimator, CLOSED_FORM)
    y_scale = float(np.max(np.abs(y), initial=0.0))
    expected = reference.predict(X_test)
    staged = list(reg.staged_predict(X_test))
    assert len(staged) == reg.n_generations_ == reg.n_generations
    for prediction in staged:
        assert_regression_equal(prediction, expected, exact, y_scale)
    # The ensemble's mean of equal arrays may differ from them in the last bit.
    ensemble = reg.final_generation == "ensemble"
    rtol = 1e-7 if not exact else 1e-12
    assert_regression_equal(reg.predict(X_test), expected, exact and not ensemble, y_scale, rtol)


def check_classifier_is_plain(clf, X, y, weights, X_test):
    reference = plain_fit(clf, X, y, weights)
    np.testing.assert_array_equal(clf.classes_, reference.classes_)
    expected_labels = reference.predict(X_test)
    expected_proba = reference.predict_proba(X_test)
    staged_labels = list(clf.staged_predict(X_test))
    staged_proba = list(clf.staged_predict_proba(X_test))
    assert len(staged_labels) == len(staged_proba) == clf.n_generations_ == clf.n_generations
    for labels, proba in zip(staged_labels, staged_proba, strict=True):
        np.testing.assert_array_equal(labels, expected_labels)
        np.testing.assert_array_equal(proba, expected_proba)
    if clf.final_generation == "ensemble":
        np.testing.assert_allclose(
            clf.predict_proba(X_test), expected_proba, rtol=1e-12, atol=1e-15
        )
    else:
        np.testing.assert_array_equal(clf.predict_proba(X_test), expected_proba)
        np.testing.assert_array_equal(clf.predict(X_test), expected_labels)


# -- 1. alpha=0 is the plain estimator -------------------------------------------------


@cases(EXAMPLES)
@given(data=regression_data(), estimator=regressors, params=meta_params())
def test_alpha_zero_regressor_is_the_plain_estimator(examples, data, estimator, params):
    X, y, weights, X_test = data
    params["alpha"] = 0.0
    reg = SelfDistillationRegressor(estimator, **params).fit(X, y, sample_weight=weights)
    check_regressor_is_plain(reg, X, y, weights, X_test)


@cases(EXAMPLES)
@given(
    data=classification_data(),
    estimator=classifiers,
    params=meta_params(),
    temperature=temperatures,
)
def test_alpha_zero_classifier_is_the_plain_estimator(
    examples, data, estimator, params, temperature
):
    X, y, weights, X_test = data
    params["alpha"] = 0.0
    clf = SelfDistillationClassifier(estimator, temperature=temperature, **params)
    fit_quietly(clf, X, y, weights)
    check_classifier_is_plain(clf, X, y, weights, X_test)


# -- 2. one generation is the plain estimator, whatever alpha ----------------------------


@cases(EXAMPLES)
@given(data=regression_data(), estimator=regressors, params=meta_params())
def test_one_generation_regressor_is_the_plain_estimator(examples, data, estimator, params):
    X, y, weights, X_test = data
    params["n_generations"] = 1
    reg = SelfDistillationRegressor(estimator, **params).fit(X, y, sample_weight=weights)
    check_regressor_is_plain(reg, X, y, weights, X_test)


@cases(EXAMPLES)
@given(
    data=classification_data(),
    estimator=classifiers,
    params=meta_params(),
    temperature=temperatures,
)
def test_one_generation_classifier_is_the_plain_estimator(
    examples, data, estimator, params, temperature
):
    X, y, weights, X_test = data
    params["n_generations"] = 1
    clf = SelfDistillationClassifier(estimator, temperature=temperature, **params)
    fit_quietly(clf, X, y, weights)
    check_classifier_is_plain(clf, X, y, weights, X_test)


# -- 3. staged outputs are the generations' outputs ------------------------------------


@cases(EXAMPLES)
@given(data=regression_data(), estimator=regressors, params=meta_params())
def test_staged_predict_regressor_is_each_generation(examples, data, estimator, params):
    X, y, weights, X_test = data
    reg = SelfDistillationRegressor(estimator, **params).fit(X, y, sample_weight=weights)
    staged = list(reg.staged_predict(X_test))
    assert len(staged) == len(reg.generations_) == reg.n_generations_ == reg.n_generations
    for prediction, model in zip(staged, reg.generations_, strict=True):
        np.testing.assert_array_equal(prediction, model.predict(X_test))
    if reg.final_generation == "last":
        np.testing.assert_array_equal(reg.predict(X_test), staged[-1])
    elif reg.final_generation == "best":
        np.testing.assert_array_equal(reg.predict(X_test), staged[reg.best_generation_])
    # The closed form scores KernelRidge on its training rows from the solve, not from
    # predict: the recorded training R^2 must still be the fitted model's R^2 there.
    rows = training_rows(reg, y)
    for record, model in zip(reg.history_, reg.generations_, strict=True):
        # Scored as fit: with the rows' weights.
        expected = model.score(X[rows], y[rows], sample_weight=_at(weights, rows))
        assert record["train_score"] == pytest.approx(expected, rel=1e-6, abs=1e-6)


@cases(EXAMPLES)
@given(
    data=classification_data(),
    estimator=classifiers,
    params=meta_params(),
    temperature=temperatures,
)
def test_staged_predict_classifier_is_each_generation(
    examples, data, estimator, params, temperature
):
    X, y, weights, X_test = data
    clf = SelfDistillationClassifier(estimator, temperature=temperature, **params)
    fit_quietly(clf, X, y, weights)
    staged_labels = list(clf.staged_predict(X_test))
    staged_proba = list(clf.staged_predict_proba(X_test))
    assert len(staged_labels) == len(staged_proba) == len(clf.generations_) == clf.n_generations
    for labels, proba, model in zip(staged_labels, staged_proba, clf.generations_, strict=True):
        # The generations are fit on the class indices: their predictions are indices.
        np.testing.assert_array_equal(labels, clf.classes_[model.predict(X_test)])
        # A generation that never saw a class has no column for it: predict_proba aligns.
        own = model.predict_proba(X_test)
        seen = np.isin(np.arange(clf.classes_.shape[0]), model.classes_)
        np.testing.assert_array_equal(proba[:, seen], own)
        assert np.all(proba[:, ~seen] == 0)
    final = {"last": -1, "best": clf.best_generation_}.get(clf.final_generation)
    if final is not None:
        np.testing.assert_array_equal(clf.predict(X_test), staged_labels[final])
        np.testing.assert_array_equal(clf.predict_proba(X_test), staged_proba[final])
    rows = training_rows(clf, y)
    codes = np.searchsorted(clf.classes_, y)
    for record, model in zip(clf.history_, clf.generations_, strict=True):
        expected = model.score(X[rows], codes[rows], sample_weight=_at(weights, rows))
        assert record["train_score"] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def _at(weights, rows):
    return None if weights is None else np.asarray(weights)[rows]


# -- 4. the Born-Again ensemble is the mean of the generations ------------------------


@cases(EXAMPLES)
@given(
    data=regression_data(), estimator=regressors, params=meta_params(final_generation="ensemble")
)
def test_ensemble_regressor_is_the_mean_of_the_generations(examples, data, estimator, params):
    X, y, weights, X_test = data
    reg = SelfDistillationRegressor(estimator, **params).fit(X, y, sample_weight=weights)
    staged = np.stack(list(reg.staged_predict(X_test)))
    mean = staged.sum(axis=0) / staged.shape[0]
    assert_regression_equal(reg.predict(X_test), mean, False, 0.0, rtol=1e-12)


@cases(EXAMPLES)
@given(
    data=classification_data(),
    estimator=classifiers,
    params=meta_params(final_generation="ensemble"),
    temperature=temperatures,
)
def test_ensemble_classifier_is_the_mean_of_the_generations(
    examples, data, estimator, params, temperature
):
    X, y, weights, X_test = data
    clf = SelfDistillationClassifier(estimator, temperature=temperature, **params)
    fit_quietly(clf, X, y, weights)
    staged = np.stack(list(clf.staged_predict_proba(X_test)))
    proba = clf.predict_proba(X_test)
    np.testing.assert_allclose(proba, staged.sum(axis=0) / staged.shape[0], rtol=1e-12, atol=1e-15)
    # (A generation that lost a class: test_sharpening_teacher_keeps_one_score_column_...)
    every_class = all(g.classes_.shape == clf.classes_.shape for g in clf.generations_)
    if hasattr(clf, "decision_function") and every_class:
        scores = np.stack([g.decision_function(X_test) for g in clf.generations_])
        np.testing.assert_allclose(
            clf.decision_function(X_test), scores.mean(axis=0), rtol=1e-12, atol=1e-12
        )


# -- 5. clone-and-refit and pickle predict the same -------------------------------------


@cases(EXAMPLES)
@given(data=regression_data(), estimator=regressors, params=meta_params(random_state=seeds))
def test_regressor_clone_refit_and_pickle_predict_the_same(examples, data, estimator, params):
    X, y, weights, X_test = data
    reg = SelfDistillationRegressor(estimator, **params).fit(X, y, sample_weight=weights)
    twin = clone(reg)
    assert not hasattr(twin, "generations_")
    twin.fit(X, y, sample_weight=weights)
    unpickled = pickle.loads(pickle.dumps(reg))
    expected = reg.predict(X_test)
    for other in (twin, unpickled):
        np.testing.assert_array_equal(other.predict(X_test), expected)
        for a, b in zip(other.staged_predict(X_test), reg.staged_predict(X_test), strict=True):
            np.testing.assert_array_equal(a, b)


@cases(EXAMPLES)
@given(
    data=classification_data(),
    estimator=classifiers,
    params=meta_params(random_state=seeds),
    temperature=temperatures,
)
def test_classifier_clone_refit_and_pickle_predict_the_same(
    examples, data, estimator, params, temperature
):
    X, y, weights, X_test = data
    clf = SelfDistillationClassifier(estimator, temperature=temperature, **params)
    fit_quietly(clf, X, y, weights)
    twin = fit_quietly(clone(clf), X, y, weights)
    unpickled = pickle.loads(pickle.dumps(clf))
    for other in (twin, unpickled):
        np.testing.assert_array_equal(other.classes_, clf.classes_)
        np.testing.assert_array_equal(other.predict(X_test), clf.predict(X_test))
        np.testing.assert_array_equal(other.predict_proba(X_test), clf.predict_proba(X_test))
        for a, b in zip(
            other.staged_predict_proba(X_test), clf.staged_predict_proba(X_test), strict=True
        ):
            np.testing.assert_array_equal(a, b)


# -- 6. the classifier's probabilities are probabilities -----------------------------


def assert_probabilities(proba, n_rows, n_classes):
    assert proba.shape == (n_rows, n_classes)
    assert np.all(np.isfinite(proba))
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-9)


@cases(EXAMPLES)
@given(
    data=classification_data(),
    estimator=classifiers,
    params=meta_params(),
    temperature=temperatures,
)
def test_classifier_probabilities_are_distributions_over_classes(
    examples, data, estimator, params, temperature
):
    X, y, weights, X_test = data
    clf = SelfDistillationClassifier(estimator, temperature=temperature, **params)
    fit_quietly(clf, X, y, weights)
    np.testing.assert_array_equal(clf.classes_, np.unique(y))
    X_all = np.vstack([X, X_test])
    proba = clf.predict_proba(X_all)
    assert_probabilities(proba, X_all.shape[0], clf.classes_.shape[0])
    for staged in clf.staged_predict_proba(X_all):
        assert_probabilities(staged, X_all.shape[0], clf.classes_.shape[0])
    labels = clf.predict(X_all)
    assert np.all(np.isin(labels, clf.classes_))
    if clf.final_generation == "ensemble":
        np.testing.assert_array_equal(labels, clf.classes_[np.argmax(proba, axis=1)])
    if hasattr(clf, "decision_function"):
        # scikit-learn's shape: one column per class, one score for a binary problem.
        n_classes = clf.classes_.shape[0]
        shape = (X_all.shape[0],) if n_classes == 2 else (X_all.shape[0], n_classes)
        assert clf.decision_function(X_all).shape == shape
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(clf.predict_log_proba(X_all), np.log(proba))


# -- 6b. ... also when a generation never saw a class ---------------------------------


@st.composite
def minority_class_data(draw):
    """Random X, two or three classes of 20 rows and one of 8: a minority class that a
    strongly regularised model predicts with about its prior, and no better."""
    n_majority = draw(st.integers(2, 3))
    counts = [20] * n_majority + [MIN_PER_CLASS]
    codes = np.repeat(np.arange(len(counts)), counts)
    order = np.array(draw(st.permutations(range(codes.shape[0]))))
    labels = draw(st.sampled_from(LABEL_SETS))[: len(counts)]
    n_features = draw(st.integers(1, 3))
    X = draw(arrays(np.float64, (codes.shape[0], n_features), elements=FLOATS))
    X += np.linspace(-1.0, 1.0, codes.shape[0])[:, None]
    return X, labels[codes[order]]


@cases(20)
@given(
    data=minority_class_data(),
    C=st.floats(1e-3, 1e-2),
    temperature=st.floats(0.2, 0.4),
    n_generations=st.integers(3, 4),
    final_generation=st.sampled_from(["last", "ensemble"]),
)
def test_sharpening_teacher_keeps_one_score_column_per_class(
    examples, data, C, temperature, n_generations, final_generation
):
    # Pure distillation (alpha=1) with T < 1 sharpens the teacher every generation, so
    # the minority class falls under the soft-target threshold and a generation never
    # sees it. predict_proba gives that generation a zero column (aligned_proba); the
    # decision function must keep scikit-learn's shape too, and the ensemble average it.
    X, y = data
    clf = SelfDistillationClassifier(
        LogisticRegression(C=C),
        n_generations=n_generations,
        alpha=1.0,
        temperature=temperature,
        final_generation=final_generation,
    )
    fit_quietly(clf, X, y, None)
    n_classes = clf.classes_.shape[0]
    assert_probabilities(clf.predict_proba(X), X.shape[0], n_classes)
    for proba in clf.staged_predict_proba(X):
        assert_probabilities(proba, X.shape[0], n_classes)
    scores = clf.decision_function(X)
    assert scores.shape == (X.shape[0], n_classes)
    if final_generation == "last":
        np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(scores, axis=1)])


# -- 7. the closed form with a cross-fit teacher and held-out rows -----------------------
# tests/test_closed_form.py already checks the closed form against refits for in-sample
# teachers on all rows (kernels, weights, multi-output, Ridge primal and dual). Here:
# the cross-fit teacher (fold copies fit on other rows than the cached factorization) and
# the rows left after final_generation="best".


def refit_generations(estimator, X, y, weights, alpha, n_generations, cross_fit):
    """Generation by generation with scikit-learn's own fit, as DESIGN.md defines them."""
    models, targets = [], y
    for generation in range(n_generations):
        if generation > 0:
            if cross_fit:
                # Each row predicted by a copy of the teacher (fit on the teacher's own
                # targets) that did not see the row's fold.
                teacher = np.empty_like(y)
                for train, test in KFold(CV).split(X):
                    w = None if weights is None else weights[train]
                    copy = clone(estimator).fit(X[train], targets[train], sample_weight=w)
                    teacher[test] = copy.predict(X[test])
            else:
                teacher = models[-1].predict(X)
            targets = alpha * teacher + (1 - alpha) * y
        models.append(clone(estimator).fit(X, targets, sample_weight=weights))
    return models


@cases(EXAMPLES)
@given(data=regression_data(), estimator=closed_form_regressors, params=meta_params())
def test_closed_form_generations_equal_refits_on_the_blended_targets(
    examples, data, estimator, params
):
    X, y, weights, X_test = data
    reg = SelfDistillationRegressor(estimator, **params).fit(X, y, sample_weight=weights)
    rows = training_rows(reg, y)
    expected = refit_generations(
        estimator,
        X[rows],
        y[rows],
        None if weights is None else weights[rows],
        reg.alpha,
        reg.n_generations,
        reg.teacher_predictions == "cross_fit",
    )
    y_scale = float(np.max(np.abs(y), initial=0.0))
    for model, reference in zip(reg.generations_, expected, strict=True):
        assert type(model) is type(estimator)
        assert_regression_equal(model.predict(X_test), reference.predict(X_test), False, y_scale)
