import sys

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    mean_squared_error,
    r2_score,
)

from sklearn_selfdistill import SelfDistillationClassifier, SelfDistillationRegressor
from sklearn_selfdistill.plotting import GenerationCurveDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=160, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    return X[:120], X[120:], y[:120], y[120:]


@pytest.fixture(scope="module")
def fitted_best(data):
    """Fit with a validation set, so that history_ has validation scores."""
    X_train, _, y_train, _ = data
    return SelfDistillationClassifier(
        LogisticRegression(), n_generations=3, final_generation="best", random_state=0
    ).fit(X_train, y_train)


@pytest.fixture(scope="module")
def fitted_last(data):
    """Fit without a validation set: no validation scores, best_generation_ is None."""
    X_train, _, y_train, _ = data
    return SelfDistillationClassifier(LogisticRegression(), n_generations=3, random_state=0).fit(
        X_train, y_train
    )


def test_from_estimator_creates_figure(fitted_best):
    display = GenerationCurveDisplay.from_estimator(fitted_best)
    assert isinstance(display.figure_, matplotlib.figure.Figure)
    assert display.ax_.figure is display.figure_
    assert display.ax_.get_xlabel() == "generation"
    assert display.ax_.get_ylabel() == "accuracy"


def test_train_and_validation_lines_equal_history(fitted_best):
    display = GenerationCurveDisplay.from_estimator(fitted_best)
    assert sorted(display.lines_) == ["train", "validation"]
    history = fitted_best.history_
    for name, key in [("train", "train_score"), ("validation", "validation_score")]:
        x, y = display.lines_[name].get_data()
        np.testing.assert_array_equal(x, [row["generation"] for row in history])
        np.testing.assert_allclose(y, [row[key] for row in history])


def test_test_line_equals_staged_predict_accuracy(fitted_best, data):
    _, X_test, _, y_test = data
    display = GenerationCurveDisplay.from_estimator(fitted_best, X_test, y_test)
    assert sorted(display.lines_) == ["test", "train", "validation"]
    expected = [accuracy_score(y_test, pred) for pred in fitted_best.staged_predict(X_test)]
    np.testing.assert_allclose(display.lines_["test"].get_ydata(), expected)


def test_test_line_uses_given_scoring(fitted_best, data):
    _, X_test, _, y_test = data
    display = GenerationCurveDisplay.from_estimator(
        fitted_best, X_test, y_test, scoring="balanced_accuracy"
    )
    expected = [
        balanced_accuracy_score(y_test, pred) for pred in fitted_best.staged_predict(X_test)
    ]
    np.testing.assert_allclose(display.test_scores, expected)
    assert display.ax_.get_ylabel() == "balanced_accuracy"


def test_no_validation_set_gives_train_line_only(fitted_last):
    display = GenerationCurveDisplay.from_estimator(fitted_last)
    assert list(display.lines_) == ["train"]


def test_best_generation_marked(fitted_best):
    display = GenerationCurveDisplay.from_estimator(fitted_best)
    best = fitted_best.best_generation_
    assert display.best_generation == best
    np.testing.assert_array_equal(display.best_marker_.get_xdata(), [best, best])
    labels = display.ax_.get_legend_handles_labels()[1]
    assert f"best generation ({best})" in labels


def test_no_marker_without_best_generation(fitted_last):
    assert fitted_last.best_generation_ is None
    display = GenerationCurveDisplay.from_estimator(fitted_last)
    assert display.best_marker_ is None
    assert len(display.ax_.get_lines()) == 1


def test_mark_best_false_draws_no_marker(fitted_best):
    display = GenerationCurveDisplay.from_estimator(fitted_best, mark_best=False)
    assert display.best_marker_ is None
    assert len(display.ax_.get_lines()) == 2


def test_given_ax_is_used(fitted_best):
    fig, ax = plt.subplots()
    display = GenerationCurveDisplay.from_estimator(fitted_best, ax=ax)
    assert display.ax_ is ax
    assert display.figure_ is fig
    assert display.lines_["train"] in ax.get_lines()


def test_unfitted_estimator_raises():
    with pytest.raises(NotFittedError, match="not fitted"):
        GenerationCurveDisplay.from_estimator(SelfDistillationClassifier())


def test_not_a_self_distillation_estimator_raises(data):
    X_train, _, y_train, _ = data
    with pytest.raises(TypeError, match=r"SelfDistillationClassifier or.*got LogisticRegression"):
        GenerationCurveDisplay.from_estimator(LogisticRegression().fit(X_train, y_train))


def test_x_test_without_y_test_raises(fitted_best, data):
    _, X_test, _, _ = data
    with pytest.raises(ValueError, match="X_test and y_test are given together"):
        GenerationCurveDisplay.from_estimator(fitted_best, X_test)


def test_regressor_test_line_is_r2():
    X, y = make_regression(n_samples=80, n_features=4, noise=20.0, random_state=0)
    regressor = SelfDistillationRegressor(
        Ridge(), n_generations=3, early_stopping=True, n_iter_no_change=3, random_state=0
    ).fit(X[:60], y[:60])
    display = GenerationCurveDisplay.from_estimator(regressor, X[60:], y[60:])
    assert sorted(display.lines_) == ["test", "train", "validation"]
    assert display.ax_.get_ylabel() == "R^2"
    expected = [r2_score(y[60:], pred) for pred in regressor.staged_predict(X[60:])]
    np.testing.assert_allclose(display.lines_["test"].get_ydata(), expected)
    np.testing.assert_array_equal(
        display.best_marker_.get_xdata(), [regressor.best_generation_] * 2
    )


def test_plot_from_scores_passes_curve_kwargs_to_every_curve_or_per_curve():
    display = GenerationCurveDisplay(
        generations=[0, 1, 2],
        train_scores=[0.5, 0.6, 0.7],
        test_scores=[0.4, 0.5, 0.6],
        score_name="f1",
        name="mine",
    ).plot(curve_kwargs={"linestyle": ":"})
    assert {line.get_linestyle() for line in display.lines_.values()} == {":"}
    assert display.lines_["train"].get_marker() == "o"
    assert display.ax_.get_ylabel() == "f1"
    assert display.ax_.get_legend().get_title().get_text() == "mine"
    display.plot(curve_kwargs={"train": {"color": "red"}, "test": {"marker": "s"}}, name="other")
    assert display.lines_["train"].get_color() == "red"
    assert (display.lines_["train"].get_marker(), display.lines_["test"].get_marker()) == (
        "o",
        "s",
    )
    assert display.ax_.get_legend().get_title().get_text() == "other"
    with pytest.raises(TypeError, match="curve_kwargs must be a dict"):
        display.plot(curve_kwargs=[{"color": "red"}])


def test_neg_scorers_are_drawn_as_positive_errors():
    X, y = make_regression(n_samples=80, n_features=4, noise=20.0, random_state=0)
    regressor = SelfDistillationRegressor(
        Ridge(),
        n_generations=3,
        final_generation="best",
        scoring="neg_mean_squared_error",
        random_state=0,
    ).fit(X[:60], y[:60])
    display = GenerationCurveDisplay.from_estimator(regressor, X[60:], y[60:])
    assert display.ax_.get_ylabel() == "mean_squared_error"
    expected = [mean_squared_error(y[60:], p) for p in regressor.staged_predict(X[60:])]
    np.testing.assert_allclose(display.lines_["test"].get_ydata(), expected)
    history = [-row["validation_score"] for row in regressor.history_]
    np.testing.assert_allclose(display.lines_["validation"].get_ydata(), history)
    assert np.all(display.lines_["train"].get_ydata() > 0)
    kept = GenerationCurveDisplay.from_estimator(
        regressor, X[60:], y[60:], negate_score=False, name="Ridge, as scored"
    )
    assert kept.ax_.get_ylabel() == "neg_mean_squared_error"
    np.testing.assert_allclose(kept.lines_["test"].get_ydata(), -np.array(expected))
    assert kept.ax_.get_legend().get_title().get_text() == "Ridge, as scored"
    with pytest.raises(ValueError, match="negate_score must be True, False or 'auto'"):
        GenerationCurveDisplay.from_estimator(regressor, negate_score="yes")


def test_scores_of_wrong_length_raise():
    display = GenerationCurveDisplay(
        generations=[0, 1, 2], train_scores=[0.5, 0.6, 0.7], test_scores=[0.4, 0.5]
    )
    with pytest.raises(ValueError, match="test_scores has 2 values, but generations has 3"):
        display.plot()


def test_marker_at_given_best_generation():
    display = GenerationCurveDisplay(
        generations=[0, 1, 2],
        train_scores=[0.5, 0.6, 0.7],
        validation_scores=[0.5, 0.4, 0.6],
        best_generation=2,
    ).plot()
    np.testing.assert_array_equal(display.best_marker_.get_xdata(), [2, 2])


def test_plot_without_matplotlib_names_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    display = GenerationCurveDisplay(generations=[0], train_scores=[0.5])
    with pytest.raises(ImportError, match="pip install matplotlib"):
        display.plot()
