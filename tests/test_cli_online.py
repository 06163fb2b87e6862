"""The command line's online self-distillation keys and ``distillation.n_teachers``."""

import json
import re

import numpy as np
import pytest
from _cli_runs import TINY, _run_main, _torch_state  # noqa: F401 (autouse)

from sklearn_selfdistill.cli._build import build_classifier, build_net
from sklearn_selfdistill.cli._checkpoint import supports_epoch_checkpoints
from sklearn_selfdistill.cli._config import describe_keys, load_config
from sklearn_selfdistill.nn import OnlineSelfDistillation


def _online(net):
    return [cb for cb in net.callbacks if isinstance(cb, OnlineSelfDistillation)]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "training.online_distillation=1.5",
            "training.online_distillation=1.5: must be null or a number in [0, 1]",
        ),
        (
            "training.online_distillation=true",
            "training.online_distillation=True: must be null or a number in [0, 1]",
        ),
        (
            "training.online_momentum=1.0",
            "training.online_momentum=1.0: must be a number in [0, 1)",
        ),
        (
            "training.online_ramp_epochs=-1",
            "training.online_ramp_epochs=-1: must be an int from 0 to 100000",
        ),
        (
            "training.online_ramp_epochs=1000000",
            "training.online_ramp_epochs=1000000: must be an int from 0 to 100000",
        ),
        (
            "distillation.n_teachers=0",
            "distillation.n_teachers=0: must be null (1), an int from 1 to 1000 or all",
        ),
        (
            "distillation.n_teachers=last",
            "distillation.n_teachers='last': must be null (1), an int from 1 to 1000 or all",
        ),
    ],
)
def test_an_out_of_range_value_exits_2_naming_the_key(tmp_path, override, message):
    status, out, err = _run_main("train", override, "--runs-dir", str(tmp_path))
    assert status == 2
    assert message in err
    assert "Traceback" not in err and out == ""
    assert list(tmp_path.iterdir()) == []


def test_the_keys_are_in_the_help_table():
    table = describe_keys()
    for key in (
        "training.online_distillation",
        "training.online_momentum",
        "training.online_ramp_epochs",
        "distillation.n_teachers",
    ):
        assert re.search(rf"^  {re.escape(key)} ", table, flags=re.MULTILINE), key


def test_the_keys_reach_the_callback_and_the_classifier():
    X = np.zeros((4, 64), dtype=np.float32)
    config = load_config(
        overrides=[
            "training.online_distillation=0.4",
            "training.online_momentum=0.9",
            "training.online_ramp_epochs=0",
            "distillation.n_teachers=all",
        ]
    )
    net = build_net(config, X, 10)
    (online,) = _online(net)
    assert (online.alpha, online.momentum, online.ramp_epochs) == (0.4, 0.9, 0)
    assert build_classifier(config, net).n_teachers == "all"
    # An epoch's state is not all the state: the stored predictions are not checkpointed.
    assert not supports_epoch_checkpoints(config)
    default = load_config()
    assert _online(build_net(default, X, 10)) == []
    assert build_classifier(default, build_net(default, X, 10)).n_teachers == 1
    assert supports_epoch_checkpoints(default)
    three = load_config(overrides=["distillation.n_teachers=3"])
    assert build_classifier(three, build_net(three, X, 10)).n_teachers == 3


def _epoch_losses(run, generation):
    record = json.loads((run / f"generation_{generation}.json").read_text())
    return [epoch["train_loss"] for epoch in record["epochs"]]


def test_a_tiny_run_with_online_distillation_and_two_teachers_trains(tmp_path):
    runs = {}
    for online in ("null", "0.5"):
        folder = tmp_path / online
        status, _, err = _run_main(
            "train",
            *TINY,
            "generations.max_generations=3",
            f"training.online_distillation={online}",
            "training.online_ramp_epochs=0",
            "distillation.n_teachers=2",
            "--runs-dir",
            str(folder),
        )
        assert status == 0, err
        (runs[online],) = folder.iterdir()
    plain, online = ([_epoch_losses(runs[key], g) for g in range(3)] for key in ("null", "0.5"))
    # Generation 0's first epoch has no earlier predictions to learn (the later generations
    # learn from other teachers); every generation's second epoch has them at weight 0.5.
    assert plain[0][0] == online[0][0]
    assert all(plain[g][1] != online[g][1] for g in range(3))


@pytest.mark.parametrize("teacher", ["in_sample", "cross_fit"])
def test_a_run_with_all_teachers_resumes_in_sample_and_refuses_cross_fit(tmp_path, teacher):
    settings = [
        *TINY,
        "distillation.n_teachers=all",
        f"distillation.teacher_predictions={teacher}",
    ]
    status, _, err = _run_main("train", *settings, "--runs-dir", str(tmp_path))
    assert status == 0, err
    (run,) = tmp_path.iterdir()
    status, _, err = _run_main("train", "--resume", str(run), "generations.max_generations=3")
    if teacher == "in_sample":  # the averaged teacher is rebuilt from the generations
        assert status == 0, err
        assert (run / "generation_2.done").exists()
    else:
        assert status == 2 and "Traceback" not in err
        assert "cannot be continued" in err and "distillation.n_teachers=1" in err
        assert not (run / "generation_2.done").exists()
