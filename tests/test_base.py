"""Behaviour shared by both meta-estimators: validation, search, persistence, stopping."""

import pickle

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris, make_regression
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

from sklearn_selfdistill import (
    SelfDistillationClassifier,
    SelfDistillationRegressor,
    TemperatureSchedule,
)
from sklearn_selfdistill._compat import InvalidParameterError
from sklearn_selfdistill._students import SoftTargetClassifierStudent


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def regression():
    return make_regression(n_samples=120, n_features=4, noise=5.0, random_state=0)


# -- bad parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, match",
    [
        ({"alpha": 1.5}, r"'alpha' parameter .* range \[0.0, 1.0\]\. Got 1\.5"),
        ({"alpha": -0.1}, r"'alpha' parameter .* Got -0\.1"),
        ({"temperature": 0.0}, r"'temperature' parameter .* Got 0\.0"),
        ({"temperature": -3}, r"'temperature' parameter .* Got -3"),
        ({"n_generations": 0}, r"'n_generations' parameter .* Got 0"),
        ({"validation_fraction": 1.0}, r"'validation_fraction' parameter .* Got 1\.0"),
        ({"validation_fraction": 0}, r"'validation_fraction' parameter .* Got 0"),
        ({"n_iter_no_change": 0}, r"'n_iter_no_change' parameter"),
        ({"final_generation": "first"}, r"'final_generation' parameter .* Got 'first'"),
        ({"teacher_predictions": "oof"}, r"'teacher_predictions' parameter .* Got 'oof'"),
        ({"scoring": "no_such_score"}, r"'scoring' parameter"),
    ],
)
def test_bad_parameter_names_parameter_value_and_range(iris, params, match):
    X, y = iris
    with pytest.raises(InvalidParameterError, match=match):
        SelfDistillationClassifier(**params).fit(X, y)


def test_schedule_with_non_positive_temperature_is_refused_before_any_fit(iris):
    X, y = iris
    clf = SelfDistillationClassifier(temperature=TemperatureSchedule(4.0, 0.0))
    with pytest.raises(ValueError, match="'final' parameter of TemperatureSchedule"):
        clf.fit(X, y)
    assert not hasattr(clf, "generations_")


def test_infinite_generations_need_a_closed_form(iris, regression):
    X, y = iris
    with pytest.raises(ValueError, match=r"n_generations=inf .* closed form.*LogisticRegression"):
        SelfDistillationClassifier(n_generations=np.inf).fit(X, y)
    X, y = regression
    with pytest.raises(ValueError, match=r"n_generations=inf .* KNeighborsRegressor"):
        SelfDistillationRegressor(KNeighborsRegressor(), n_generations=np.inf).fit(X, y)


def test_early_stopping_on_too_small_a_data_set(iris):
    X, y = iris
    rows = np.r_[0:3, 50:53, 100:103]  # 3 samples per class
    with pytest.raises(
        ValueError,
        match=r"early_stopping=True .*stratified validation set.*"
        r"validation_fraction=0\.1 of the 9 labelled",
    ):
        SelfDistillationClassifier(early_stopping=True).fit(X[rows], y[rows])


def test_best_generation_also_needs_room_for_validation(regression):
    X, y = regression
    with pytest.raises(ValueError, match=r'final_generation="best" holds out'):
        SelfDistillationRegressor(final_generation="best", validation_fraction=0.5).fit(
            X[:1], y[:1]
        )


@pytest.mark.parametrize(
    "meta, estimator",
    [
        (SelfDistillationClassifier, LogisticRegression(C=0.5)),
        (SelfDistillationRegressor, Ridge(alpha=2.0)),
    ],
)
def test_user_estimator_is_never_modified(iris, meta, estimator):
    X, y = iris
    before = pickle.dumps(estimator)
    meta(estimator, n_generations=3, random_state=0).fit(X, y)
    assert pickle.dumps(estimator) == before
    assert not hasattr(estimator, "coef_")


def test_random_states_left_at_none_are_not_set_on_the_user_estimator(regression):
    X, y = regression
    forest = RandomForestRegressor(n_estimators=3)
    reg = SelfDistillationRegressor(forest, n_generations=2, random_state=0).fit(X, y)
    assert forest.random_state is None
    assert reg.generations_[0].random_state == reg.generations_[1].random_state is not None


# -- search, pipelines, persistence ---------------------------------------------------


def test_grid_search_in_a_pipeline_with_two_jobs_matches_one_job(iris):
    X, y = iris
    pipe = make_pipeline(
        StandardScaler(), SelfDistillationClassifier(LogisticRegression(), random_state=0)
    )
    grid = {
        "selfdistillationclassifier__alpha": [0.0, 0.5],
        "selfdistillationclassifier__temperature": [1.0, 4.0],
        "selfdistillationclassifier__n_generations": [1, 3],
        "selfdistillationclassifier__estimator__C": [0.1, 1.0],
    }
    two = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
    one = GridSearchCV(pipe, grid, cv=3, n_jobs=1).fit(X, y)
    assert len(two.cv_results_["params"]) == 16
    np.testing.assert_array_equal(
        two.cv_results_["mean_test_score"], one.cv_results_["mean_test_score"]
    )
    # The wrapped estimator's own parameter reached the fitted generations.
    best_C = two.best_params_["selfdistillationclassifier__estimator__C"]
    final = two.best_estimator_[-1]
    assert all(g.C == best_C for g in final.generations_)


def test_randomized_search_over_alpha_and_generations(regression):
    X, y = regression
    search = RandomizedSearchCV(
        SelfDistillationRegressor(Ridge()),
        {"alpha": stats.uniform(0, 1), "n_generations": [1, 2, 4], "estimator__alpha": [0.1, 10]},
        n_iter=6,
        cv=3,
        n_jobs=2,
        random_state=0,
    ).fit(X, y)
    alphas = search.cv_results_["param_alpha"]
    assert len(alphas) == 6 and all(0 <= a <= 1 for a in alphas)
    assert search.best_estimator_.n_generations_ == search.best_params_["n_generations"]


@pytest.mark.parametrize("final_generation", ["last", "best", "ensemble"])
def test_pickle_round_trip_predicts_the_same(iris, final_generation):
    X, y = iris
    clf = SelfDistillationClassifier(
        n_generations=3, final_generation=final_generation, random_state=0
    ).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))


def test_clone_keeps_parameters_and_drops_fitted_state(iris):
    X, y = iris
    clf = SelfDistillationClassifier(
        LogisticRegression(C=0.2),
        alpha=0.3,
        temperature=TemperatureSchedule(3.0, 1.0),
        n_generations=2,
    ).fit(X, y)
    copy = clone(clf)
    assert copy.get_params()["estimator__C"] == 0.2
    assert copy.temperature == TemperatureSchedule(3.0, 1.0)
    assert not hasattr(copy, "generations_")


def test_input_tags_come_from_the_wrapped_estimator():
    assert get_tags(SelfDistillationClassifier(LogisticRegression())).input_tags.sparse
    hgb = SelfDistillationClassifier(HistGradientBoostingClassifier())
    assert not get_tags(hgb).input_tags.sparse
    assert get_tags(hgb).input_tags.allow_nan
    assert not get_tags(SelfDistillationClassifier()).input_tags.allow_nan


def test_nan_passes_through_to_an_estimator_that_takes_it(iris):
    X, y = iris
    X = X.copy()
    X[::7, 1] = np.nan
    clf = SelfDistillationClassifier(HistGradientBoostingClassifier(max_iter=10), n_generations=2)
    assert clf.fit(X, y).score(X, y) > 0.8


def test_sparse_input_where_the_estimator_takes_it(iris):
    from scipy import sparse

    X, y = iris
    dense = SelfDistillationClassifier(n_generations=2).fit(X, y).predict_proba(X)
    sparse_fit = SelfDistillationClassifier(n_generations=2).fit(sparse.coo_array(X), y)
    np.testing.assert_allclose(sparse_fit.predict_proba(sparse.csr_array(X)), dense, rtol=1e-5)


def test_feature_names_are_kept(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = SelfDistillationClassifier(n_generations=2).fit(frame, y)
    assert list(clf.feature_names_in_) == ["a", "b", "c", "d"]
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


# -- history, early stopping, verbosity -----------------------------------------------


def test_history_has_one_record_per_generation(iris):
    X, y = iris
    clf = SelfDistillationClassifier(n_generations=3, early_stopping=True, random_state=0)
    clf.fit(X, y)
    assert [h["generation"] for h in clf.history_] == [0, 1, 2]
    for record in clf.history_:
        assert set(record) == {
            "generation",
            "alpha",
            "temperature",
            "train_score",
            "validation_score",
            "fit_time",
        }
        assert 0 <= record["train_score"] <= 1 and 0 <= record["validation_score"] <= 1
        assert record["fit_time"] > 0


def test_plateau_stops_after_n_iter_no_change(iris):
    X, y = iris
    # With alpha=0 the generations never change, so the validation score plateaus at once.
    clf = SelfDistillationClassifier(
        n_generations=10, alpha=0.0, early_stopping=True, n_iter_no_change=2, random_state=0
    ).fit(X, y)
    assert clf.n_generations_ == 3 == len(clf.generations_)
    assert clf.termination_condition_ == "plateau"
    assert clf.best_generation_ == 0


def test_without_early_stopping_every_generation_runs(iris):
    X, y = iris
    clf = SelfDistillationClassifier(n_generations=4, alpha=0.0).fit(X, y)
    assert clf.n_generations_ == 4
    assert clf.termination_condition_ == "max_generations"
    assert clf.best_generation_ is None
    assert all(h["validation_score"] is None for h in clf.history_)


def test_improvement_larger_than_tol_resets_patience(regression):
    X, y = regression
    scores = iter([0.1, 0.2, 0.2, 0.35, 0.35, 0.35, 0.9])

    def scripted(estimator, X, y):
        return next(scores) if X.shape[0] < 50 else 0.0  # 24 validation rows, 96 train

    reg = SelfDistillationRegressor(
        n_generations=7,
        early_stopping=True,
        n_iter_no_change=2,
        tol=0.01,
        scoring=scripted,
        validation_fraction=0.2,
        random_state=0,
    ).fit(X, y)
    assert [h["validation_score"] for h in reg.history_] == [0.1, 0.2, 0.2, 0.35, 0.35, 0.35]
    assert reg.termination_condition_ == "plateau"
    assert reg.best_generation_ == 3


def test_final_generation_best_uses_the_best_validation_generation(regression):
    X, y = regression
    reg = SelfDistillationRegressor(
        Ridge(alpha=50.0), n_generations=4, alpha=1.0, final_generation="best", random_state=0
    ).fit(X, y)
    scores = [h["validation_score"] for h in reg.history_]
    assert reg.best_generation_ == int(np.argmax(scores))
    assert reg.estimator_ is reg.generations_[reg.best_generation_]
    assert reg.n_generations_ == 4  # "best" alone does not stop early


def test_validation_rows_are_held_out_of_training(regression):
    X, y = regression
    reg = SelfDistillationRegressor(
        Ridge(alpha=1.0),
        n_generations=1,
        early_stopping=True,
        validation_fraction=0.25,
        random_state=0,
    ).fit(X, y)
    full = Ridge(alpha=1.0).fit(X, y)
    assert not np.allclose(reg.estimator_.coef_, full.coef_)


def test_verbose_prints_one_line_per_generation(iris, capsys):
    X, y = iris
    SelfDistillationClassifier(n_generations=3, early_stopping=True, verbose=1).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("[SelfDistillationClassifier] generation 0/3")
    assert "T=4" in lines[1] and "train=" in lines[1] and "validation=" in lines[1]
    assert lines[2].endswith("s")


def test_verbose_zero_prints_nothing(iris, capsys):
    X, y = iris
    SelfDistillationClassifier(n_generations=3, early_stopping=True).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


class _FailsOnThirdFit(Ridge):
    """A regressor whose third fit raises, for the fault test."""

    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        if type(self).fits == 3:
            raise RuntimeError("disk full")
        return super().fit(X, y, sample_weight=sample_weight)


def test_a_failing_generation_keeps_the_fitted_ones(regression):
    X, y = regression
    _FailsOnThirdFit.fits = 0
    reg = SelfDistillationRegressor(_FailsOnThirdFit(), n_generations=5)
    with pytest.raises(RuntimeError, match="disk full") as info:
        reg.fit(X, y)
    partial = info.value.partial_generations
    assert len(partial) == 2 and len(info.value.partial_history) == 2
    np.testing.assert_allclose(partial[0].predict(X), Ridge().fit(X, y).predict(X))
    assert "generation 2 failed; generations 0..1 were fitted" in "".join(info.value.__notes__)


# -- the private hooks of the command line's resumable lineages -------------------------


def test_on_generation_end_sees_each_generation_as_it_is_fitted():
    X, y = load_digits(return_X_y=True)
    seen = []
    clf = SelfDistillationClassifier(LogisticRegression(max_iter=200), n_generations=3)

    def hook(generation, model, row):
        # Called before the next generation exists.
        seen.append((generation, model, row["generation"], len(clf.generations_)))

    clf.set_params(on_generation_end=hook).fit(X / 16, y)
    assert [s[0] for s in seen] == [0, 1, 2]
    assert [s[1] for s in seen] == clf.generations_
    assert [s[2] for s in seen] == [0, 1, 2]
    assert [s[3] for s in seen] == [1, 2, 3]
    assert clone(clf).get_params()["on_generation_end"] is hook


def test_warm_start_adds_generations_like_an_uninterrupted_fit(monkeypatch):
    X, y = load_digits(return_X_y=True)
    X = X / 16
    full = SelfDistillationClassifier(
        LogisticRegression(max_iter=200), n_generations=4, random_state=0
    ).fit(X, y)
    fits = []
    original_fit = SoftTargetClassifierStudent.fit

    def counting_fit(self, *args, **kwargs):
        fits.append(1)
        return original_fit(self, *args, **kwargs)

    # Every generation's fit goes through its student (LogisticRegression's distilled
    # generations learn the whole distribution without calling its fit).
    monkeypatch.setattr(SoftTargetClassifierStudent, "fit", counting_fit)
    clf = SelfDistillationClassifier(
        LogisticRegression(max_iter=200), n_generations=2, warm_start=True, random_state=0
    ).fit(X, y)
    first_two = list(clf.generations_)
    assert len(fits) == 2
    clf.set_params(n_generations=4).fit(X, y)
    assert len(fits) == 4  # generations 2 and 3 only
    assert clf.generations_[:2] == first_two and clf.n_generations_ == 4
    for ours, theirs in zip(clf.generations_, full.generations_, strict=True):
        np.testing.assert_allclose(ours.coef_, theirs.coef_)
    assert [row["generation"] for row in clf.history_] == [0, 1, 2, 3]
    clf.fit(X, y)  # as many generations as asked: nothing to add
    assert len(fits) == 4
    clf.set_params(warm_start=False).fit(X, y)  # starts again
    assert len(fits) == 8 and clf.generations_[0] is not first_two[0]


def test_warm_start_without_random_state_keeps_the_seed_and_the_validation_rows(iris):
    X, y = iris
    validation_rows = []

    def record_rows(estimator, X_scored, y_scored):
        validation_rows.append(X_scored.tobytes())
        return 0.0

    # alpha=0: every generation is generation 0's fit, a randomised one, on the same rows.
    clf = SelfDistillationClassifier(
        RandomForestClassifier(n_estimators=5),
        n_generations=2,
        alpha=0.0,
        final_generation="best",
        scoring=record_rows,
        warm_start=True,
    ).fit(X, y)
    clf.set_params(n_generations=4).fit(X, y)
    first = clf.generations_[0].predict_proba(X)
    for model in clf.generations_[2:]:
        np.testing.assert_array_equal(model.predict_proba(X), first)
    # Scored twice per generation (training rows, then validation rows).
    assert len(set(validation_rows[1::2])) == 1 and len(validation_rows) == 8
    assert validation_rows[0] == validation_rows[4]  # the training rows too


def test_warm_start_continues_from_generations_set_by_hand():
    """What the command line does with generations restored from a run folder."""
    X, y = load_digits(return_X_y=True)
    X = X / 16
    full = SelfDistillationClassifier(
        LogisticRegression(max_iter=200), n_generations=3, random_state=0
    ).fit(X, y)
    resumed = SelfDistillationClassifier(
        LogisticRegression(max_iter=200), n_generations=3, warm_start=True, random_state=0
    )
    resumed.generations_, resumed.history_ = full.generations_[:2], full.history_[:2]
    resumed.fit(X, y)
    assert resumed.generations_[:2] == full.generations_[:2]
    np.testing.assert_allclose(resumed.generations_[2].coef_, full.generations_[2].coef_)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_generations": 1}, "2 generations are fitted already, and a warm start can only add"),
        # In-sample generations kept no cross-fit outputs to refit the folds from.
        ({"teacher_predictions": "cross_fit"}, "come from cross_fit_outputs_"),
    ],
)
def test_warm_start_refuses_what_it_cannot_continue(params, message):
    X, y = load_digits(return_X_y=True)
    clf = SelfDistillationClassifier(
        LogisticRegression(max_iter=200), n_generations=2, warm_start=True
    ).fit(X / 16, y)
    with pytest.raises(ValueError, match=message):
        clf.set_params(**params).fit(X / 16, y)
    clf.history_ = clf.history_[:1]
    with pytest.raises(ValueError, match="one entry per generation"):
        clf.set_params(n_generations=3, teacher_predictions="in_sample").fit(X / 16, y)


def test_warm_start_after_a_plateau_fits_nothing():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    params = {"n_generations": 6, "early_stopping": True, "n_iter_no_change": 1, "tol": 1.0}
    clf = SelfDistillationClassifier(
        LogisticRegression(max_iter=200), random_state=0, warm_start=True, **params
    ).fit(X, y)
    assert clf.termination_condition_ == "plateau"  # tol=1: no generation improves
    assert clf.n_generations_ == 2
    before = list(clf.generations_)
    clf.fit(X, y)
    assert clf.generations_ == before
    assert clf.termination_condition_ == "plateau"


@pytest.mark.parametrize("fitted_before", [False, True])
def test_a_fit_that_fails_part_way_leaves_an_unfitted_estimator(iris, fitted_before):
    X, y = iris

    def fail_at_generation_1(generation, model, row):
        if generation == 1:
            raise RuntimeError("stop here")

    clf = SelfDistillationClassifier(n_generations=3)
    if fitted_before:  # a refit that fails leaves nothing of the earlier fit to predict with
        clf.fit(X, y)
    with pytest.raises(RuntimeError, match="stop here"):
        clf.set_params(on_generation_end=fail_at_generation_1).fit(X, y)
    assert len(clf.generations_) == 2  # kept for a warm start
    for method in ("predict", "predict_proba", "decision_function", "score"):
        args = (X, y) if method == "score" else (X,)
        with pytest.raises(NotFittedError):
            getattr(clf, method)(*args)
    with pytest.raises(NotFittedError):
        next(clf.staged_predict(X))


@pytest.mark.parametrize("scoring", [None, "accuracy", "neg_log_loss"])
def test_history_scores_weigh_rows_as_the_fit_does(iris, scoring):
    X, y = iris
    weights = np.random.RandomState(0).choice([0.1, 1.0, 5.0], size=y.shape[0])
    clf = SelfDistillationClassifier(n_generations=2, scoring=scoring, alpha=0.9)
    clf.fit(X, y, sample_weight=weights)
    scorer = get_scorer(scoring or "accuracy")
    for model, row in zip(clf.generations_, clf.history_, strict=True):
        assert row["train_score"] == pytest.approx(scorer(model, X, y, sample_weight=weights))
        assert row["train_score"] != pytest.approx(scorer(model, X, y))


def test_validation_scores_get_the_weights_of_the_validation_rows(iris):
    X, y = iris
    weights = np.random.RandomState(0).rand(y.shape[0]) + 0.5

    def total_weight(estimator, X, y, sample_weight=None):
        return float(np.sum(sample_weight))

    clf = SelfDistillationClassifier(n_generations=2, scoring=total_weight, random_state=0)
    clf.set_params(final_generation="best", validation_fraction=0.2)
    clf.fit(X, y, sample_weight=weights)
    for row in clf.history_:
        assert row["train_score"] + row["validation_score"] == pytest.approx(weights.sum())
        assert 0.1 * weights.sum() < row["validation_score"] < 0.3 * weights.sum()


def test_a_scoring_function_without_sample_weight_still_scores(iris):
    X, y = iris

    def accuracy(estimator, X, y):
        return float(np.mean(estimator.predict(X) == y))

    clf = SelfDistillationClassifier(n_generations=2, scoring=accuracy)
    clf.fit(X, y, sample_weight=np.full(y.shape[0], 2.0))
    assert clf.history_[1]["train_score"] == pytest.approx(accuracy(clf.generations_[1], X, y))
