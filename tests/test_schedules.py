import copy
import math

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from sklearn_selfdistill import SelfDistillationClassifier, TemperatureSchedule


def test_constant_schedule_is_initial_everywhere():
    schedule = TemperatureSchedule(initial=3.0, final=1.0, kind="constant")
    assert [schedule(g, 6) for g in range(1, 6)] == [3.0] * 5


def test_linear_schedule_goes_from_initial_to_final():
    schedule = TemperatureSchedule(initial=5.0, final=1.0, kind="linear")
    assert [schedule(g, 6) for g in range(1, 6)] == [5.0, 4.0, 3.0, 2.0, 1.0]


def test_cosine_schedule_ends_and_middle():
    schedule = TemperatureSchedule(initial=5.0, final=1.0, kind="cosine")
    values = [schedule(g, 6) for g in range(1, 6)]
    assert values[0] == pytest.approx(5.0)
    assert values[2] == pytest.approx(3.0)
    assert values[-1] == pytest.approx(1.0)
    # Half a cosine: flatter at the ends than a straight line.
    assert values[1] > 4.0 and values[3] < 2.0


def test_step_schedule_multiplies_by_gamma_every_step_size_and_clips_at_final():
    schedule = TemperatureSchedule(initial=8.0, final=1.5, kind="step", step_size=2, gamma=0.5)
    assert [schedule(g, 9) for g in range(1, 9)] == [8.0, 8.0, 4.0, 4.0, 2.0, 2.0, 1.5, 1.5]


def test_step_schedule_can_grow_towards_final():
    schedule = TemperatureSchedule(initial=1.0, final=3.0, kind="step", gamma=2.0)
    assert [schedule(g, 5) for g in range(1, 5)] == [1.0, 2.0, 3.0, 3.0]


def test_single_distilled_generation_uses_initial():
    schedule = TemperatureSchedule(initial=4.0, final=1.0, kind="linear")
    assert schedule(1, 2) == 4.0


def test_infinite_generations_stay_at_initial():
    assert TemperatureSchedule(4.0, 1.0, "cosine")(3, math.inf) == pytest.approx(4.0)


def test_generation_zero_has_no_temperature():
    with pytest.raises(ValueError, match="Generation 0 has no teacher"):
        TemperatureSchedule()(0, 5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"initial": 0.0}, "'initial' parameter .* > 0 .* got 0.0"),
        ({"initial": -2}, "'initial' parameter .* got -2"),
        ({"final": -1.0}, "'final' parameter .* got -1.0"),
        ({"final": math.inf}, "'final' parameter .* finite"),
        ({"gamma": 0}, "'gamma' parameter"),
        ({"kind": "exp"}, "'kind' parameter .* one of .*'exp'"),
        ({"step_size": 0}, "'step_size' parameter .* >= 1; got 0"),
        ({"initial": "4"}, "'initial' parameter"),
    ],
)
def test_invalid_schedule_names_the_parameter_when_called(kwargs, match):
    schedule = TemperatureSchedule(**kwargs)  # sklearn convention: __init__ only stores
    for name, value in kwargs.items():
        assert getattr(schedule, name) is value
    with pytest.raises(ValueError, match=match):
        schedule(1, 5)


def test_schedule_survives_clone_and_deepcopy():
    schedule = TemperatureSchedule(6.0, 2.0, "step", step_size=2, gamma=0.25)
    clf = SelfDistillationClassifier(LogisticRegression(), temperature=schedule)
    assert clone(clf).temperature == schedule
    assert copy.deepcopy(schedule) == schedule
    assert repr(schedule).startswith("TemperatureSchedule(initial=6.0")


def test_schedule_is_a_sklearn_parameter_object():
    schedule = TemperatureSchedule(initial=6.0, final=2.0, kind="cosine")
    assert isinstance(schedule, BaseEstimator)
    assert schedule.get_params() == {
        "initial": 6.0,
        "final": 2.0,
        "kind": "cosine",
        "step_size": 1,
        "gamma": 0.5,
    }


def test_set_params_changes_the_temperatures():
    schedule = TemperatureSchedule(initial=5.0, final=1.0, kind="linear")
    assert schedule.set_params(initial=9.0, final=3.0) is schedule
    assert schedule.initial == 9.0
    assert [schedule(g, 5) for g in range(1, 5)] == [9.0, 7.0, 5.0, 3.0]
    assert schedule == TemperatureSchedule(initial=9.0, final=3.0, kind="linear")
    assert schedule != TemperatureSchedule(initial=5.0, final=1.0, kind="linear")
    schedule.set_params(kind="constant")
    assert schedule(4, 5) == 9.0


@pytest.mark.parametrize(
    "params, match",
    [
        ({"initial": -1.0}, "'initial' parameter of TemperatureSchedule .* > 0 .* got -1.0"),
        ({"final": math.nan}, "'final' parameter of TemperatureSchedule .* got nan"),
        ({"gamma": math.inf}, "'gamma' parameter of TemperatureSchedule .* finite"),
        ({"kind": "exp"}, "'kind' parameter of TemperatureSchedule .* got 'exp'"),
        ({"kind": ["linear"]}, "'kind' parameter of TemperatureSchedule"),
        ({"step_size": 1.5}, "'step_size' parameter of TemperatureSchedule .* got 1.5"),
    ],
)
def test_set_params_with_an_invalid_value_raises_when_called(params, match):
    schedule = TemperatureSchedule()
    schedule.set_params(**params)  # no error yet: set_params only stores
    with pytest.raises(ValueError, match=match):
        schedule(1, 5)


def test_set_params_with_an_unknown_name_is_refused():
    with pytest.raises(ValueError, match="Invalid parameter 'start'"):
        TemperatureSchedule().set_params(start=2.0)


def test_clone_gives_an_equal_independent_schedule():
    schedule = TemperatureSchedule(6.0, 2.0, "step", step_size=2, gamma=0.25)
    copied = clone(schedule)
    assert copied is not schedule
    assert type(copied) is TemperatureSchedule
    assert copied == schedule
    assert hash(copied) == hash(schedule)
    copied.set_params(initial=3.0)
    assert schedule.initial == 6.0
    assert copied(1, 5) == 3.0 and schedule(1, 5) == 6.0
    assert copied != schedule


def test_meta_estimator_set_params_reaches_the_schedule():
    schedule = TemperatureSchedule(initial=4.0, kind="constant")
    clf = SelfDistillationClassifier(LogisticRegression(), temperature=schedule)
    assert clf.get_params(deep=True)["temperature__initial"] == 4.0
    clf.set_params(temperature__initial=2.0)
    assert clf.temperature.initial == 2.0
    assert clf.get_params(deep=True)["temperature__initial"] == 2.0
    assert clf._temperature_at(1) == 2.0


def test_invalid_value_set_through_the_meta_estimator_fails_the_fit():
    X, y = load_iris(return_X_y=True)
    clf = SelfDistillationClassifier(
        LogisticRegression(max_iter=200),
        n_generations=2,
        temperature=TemperatureSchedule(initial=4.0, kind="constant"),
    )
    clf.set_params(temperature__initial=0.0)
    with pytest.raises(ValueError, match="'initial' parameter of TemperatureSchedule"):
        clf.fit(X, y)


def test_grid_search_over_the_schedule_initial_temperature():
    X, y = load_iris(return_X_y=True)
    clf = SelfDistillationClassifier(
        LogisticRegression(max_iter=200),
        n_generations=2,
        temperature=TemperatureSchedule(initial=4.0, kind="constant"),
    )
    search = GridSearchCV(clf, {"temperature__initial": [1.0, 4.0]}, cv=2).fit(X, y)
    assert "temperature__initial" in search.best_params_
    assert search.best_params_["temperature__initial"] in (1.0, 4.0)
    values = [float(v) for v in search.cv_results_["param_temperature__initial"]]
    assert sorted(values) == [1.0, 4.0]
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    best = search.best_estimator_
    assert best.temperature.initial == search.best_params_["temperature__initial"]
    assert [h["temperature"] for h in best.history_] == [
        None,
        search.best_params_["temperature__initial"],
    ]
    assert clf.temperature.initial == 4.0  # the search works on clones


def test_step_schedule_with_huge_gamma_is_clipped_at_final_without_overflow():
    schedule = TemperatureSchedule(initial=1.0, final=3.0, kind="step", gamma=1e200)
    values = [schedule(g, 6) for g in range(1, 6)]  # gamma ** 2 alone overflows a float
    assert values == [1.0, 3.0, 3.0, 3.0, 3.0]
    assert all(math.isfinite(v) for v in values)
    tiny = TemperatureSchedule(initial=4.0, final=1.0, kind="step", gamma=1e-200)
    assert [tiny(g, 6) for g in range(1, 6)] == [4.0, 1.0, 1.0, 1.0, 1.0]


def test_step_schedule_growing_away_from_final_to_infinity_is_refused():
    schedule = TemperatureSchedule(initial=4.0, final=1.0, kind="step", gamma=1e200)
    assert schedule(2, 6) == pytest.approx(4e200)
    with pytest.raises(ValueError, match=r"gamma=1e\+200.* generation 3 .* to inf") as info:
        schedule(3, 6)
    assert not isinstance(info.value, OverflowError)
    assert "initial=4.0" in str(info.value) and "final=1.0" in str(info.value)


def test_step_schedule_shrinking_away_from_final_to_zero_is_refused():
    schedule = TemperatureSchedule(initial=1.0, final=3.0, kind="step", gamma=1e-200)
    assert schedule(2, 6) == pytest.approx(1e-200)
    with pytest.raises(ValueError, match=r"gamma=1e-200.* generation 3 .* to 0.0"):
        schedule(3, 6)


def test_linear_schedule_past_its_last_generation_does_not_return_zero():
    schedule = TemperatureSchedule(initial=5.0, final=1.0, kind="linear")
    with pytest.raises(ValueError, match=r"generation 6 \(of n_generations=6\) to 0.0"):
        schedule(6, 6)
