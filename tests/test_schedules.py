import copy
import math

import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

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
def test_invalid_schedule_names_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TemperatureSchedule(**kwargs)


def test_schedule_survives_clone_and_deepcopy():
    schedule = TemperatureSchedule(6.0, 2.0, "step", step_size=2, gamma=0.25)
    clf = SelfDistillationClassifier(LogisticRegression(), temperature=schedule)
    assert clone(clf).temperature == schedule
    assert copy.deepcopy(schedule) == schedule
    assert repr(schedule).startswith("TemperatureSchedule(initial=6.0")
