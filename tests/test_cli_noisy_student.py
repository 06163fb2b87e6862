"""The seed's Noisy Student keys drive the recipe from the command line."""

import os
import subprocess
import sys

import numpy as np
import pytest

from sklearn_selfdistill.cli._build import build_classifier, build_net
from sklearn_selfdistill.cli._config import load_config
from sklearn_selfdistill.nn import BatchRandAugment, EpochProgress
from sklearn_selfdistill.nn.models import SmallResNet

IMAGES = np.zeros((4, 1, 28, 28), dtype=np.float32)
SEED_KEYS = [
    "model=small_resnet",
    "data=fashion_mnist",
    "data.n_labeled=1000",
    "data.augmentation=true",
    "distillation.noisy_student=true",
    "distillation.dropout_rate=0.2",
]


def _callbacks(net, kind):
    return [c for c in net.callbacks if isinstance(c, kind)]


def test_the_seed_keys_build_noisy_student_with_a_small_resnet():
    config = load_config(overrides=SEED_KEYS)
    net = build_net(config, IMAGES, 10)
    assert net.module is SmallResNet
    assert (net.module__dropout, net.module__stochastic_depth, net.module__in_channels) == (
        0.2,
        0.2,
        1,
    )
    assert len(_callbacks(net, BatchRandAugment)) == 1
    clf = build_classifier(config, net)
    assert (clf.unlabeled, clf.pseudo_labels) == (-1, "hard")
    assert (clf.pseudo_label_threshold, clf.balance_pseudo_labels) == (0.7, True)


def test_pseudo_label_keys_set_override_the_noisy_student_defaults():
    config = load_config(
        overrides=[
            *SEED_KEYS,
            "distillation.pseudo_labels=soft",
            "distillation.pseudo_label_threshold=0.9",
            "distillation.balance_pseudo_labels=false",
        ]
    )
    clf = build_classifier(config, build_net(config, IMAGES, 10))
    assert (clf.pseudo_labels, clf.pseudo_label_threshold, clf.balance_pseudo_labels) == (
        "soft",
        0.9,
        False,
    )


def test_without_noisy_student_unlabelled_rows_are_soft_and_all_kept():
    config = load_config(overrides=["model=small_resnet", "data.n_labeled=100"])
    clf = build_classifier(config, build_net(config, IMAGES, 10))
    assert (clf.pseudo_labels, clf.pseudo_label_threshold, clf.balance_pseudo_labels) == (
        "soft",
        None,
        False,
    )
    assert not _callbacks(build_net(config, IMAGES, 10), BatchRandAugment)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ([], ["auto"]),
        (["training.progress=lines"], ["lines"]),
        (["training.progress=off"], []),
        (["verbose=0"], []),
    ],
)
def test_progress_is_on_by_default_and_can_be_turned_off(overrides, expected):
    net = build_net(load_config(overrides=overrides), np.zeros((4, 64), np.float32), 10)
    assert [c.mode for c in _callbacks(net, EpochProgress)] == expected


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("distillation.pseudo_label_threshold=1.5", "null or a number in [0, 1]"),
        ("distillation.pseudo_labels=argmax", "null, soft or hard"),
        ("training.progress=spinner", "auto, bar, lines or off"),
        ("model=resnet50", "small_resnet"),
    ],
)
def test_bad_values_are_named_before_anything_runs(override, message):
    process = subprocess.run(
        [sys.executable, "-m", "sklearn_selfdistill.cli", "train", override, "--print-config"],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=120,
    )
    assert process.returncode == 2 and "Traceback" not in process.stderr
    assert override.split("=")[0] in process.stderr and message in process.stderr


def test_a_noisy_student_run_prints_one_progress_line_per_epoch(tmp_path):
    """From the command line, its output a pipe: a line per epoch of every generation."""
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "sklearn_selfdistill.cli",
            "train",
            "model=small_resnet",
            "data=digits",
            "data.n_labeled=200",
            "distillation.noisy_student=true",
            "distillation.alpha=0",
            "generations.max_generations=2",
            "training.epochs=2",
            "training.batch_size=128",
            "--runs-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert process.returncode == 0, process.stderr
    progress = [line for line in process.stdout.splitlines() if ": epoch " in line]
    assert [line.split(",")[0] for line in progress] == [
        "generation 0: epoch 1/2",
        "generation 0: epoch 2/2",
        "generation 1: epoch 1/2",
        "generation 1: epoch 2/2",
    ]
    assert "pseudo-labels:" in process.stdout  # the data step's line: rows kept
