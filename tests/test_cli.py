"""The ``sklearn-selfdistill`` command: configuration, lineage, resume, evaluate."""

import errno
import hashlib
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from _cli_runs import TINY, _run_main, _torch_state  # noqa: F401 (autouse)

from sklearn_selfdistill.cli import _train
from sklearn_selfdistill.cli._build import build_classifier, build_net, training_rows
from sklearn_selfdistill.cli._config import ALIASES, SCHEMA, load_config, to_yaml
from sklearn_selfdistill.cli._lineage import Lineage, LineageError, atomic_write
from sklearn_selfdistill.datasets import load_digits
from sklearn_selfdistill.nn import BatchRandAugment
from sklearn_selfdistill.nn.models import MLP


def _run_folder(stdout):
    return Path(re.search(r"^Run folder: (\S+)", stdout, flags=re.MULTILINE).group(1))


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _fingerprint(path):
    """Content and modification time: both stay if the file is not written again."""
    return _sha256(path), Path(path).stat().st_mtime_ns


def _temporary_files(folder):
    return [p.name for p in Path(folder).iterdir() if p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One finished run of the tiny configuration: two generations."""
    runs = tmp_path_factory.mktemp("runs")
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        status, out, err = _run_main("train", *TINY, "--runs-dir", str(runs))
    torch.set_num_threads(threads)
    assert status == 0, err
    return _run_folder(out), out


# -- configuration -----------------------------------------------------------------------


def _dotted_keys(mapping, prefix=""):
    keys = set()
    for key, value in mapping.items():
        if isinstance(value, dict):
            keys |= _dotted_keys(value, f"{prefix}{key}.")
        else:
            keys.add(f"{prefix}{key}")
    return keys


def test_shipped_default_config_sets_every_key_and_is_the_main_job():
    shipped = files("sklearn_selfdistill") / "configs" / "default.yaml"
    assert _dotted_keys(yaml.safe_load(shipped.read_text())) == set(SCHEMA)
    config = load_config()
    assert (config.model.name, config.data.name, config.device) == ("mlp", "digits", "cpu")
    assert config.generations.max_generations == 3


def test_overrides_set_nested_keys_with_their_types_and_the_group_shorthand():
    config = load_config(
        overrides=[
            "model=resnet18",
            "data=fashion_mnist",
            "training.epochs=10",
            "training.batch_size=128",
            "training.lr=0.1",
            "distillation.alpha=0.7",
            "distillation.temperature=4",
            "generations.max_generations=5",
            "generations.plateau_patience=2",
            "distillation.noisy_student=true",
            "distillation.ema_decay=0.99",
            "seed=3",
        ]
    )
    assert config.model.name == "resnet18" and config.data.name == "fashion_mnist"
    assert config.training.epochs == 10 and config.training.lr == 0.1
    assert config.distillation.noisy_student is True
    assert config.distillation.ema_decay == 0.99
    assert config.generations.plateau_patience == 2 and config.seed == 3


def test_config_file_replaces_the_defaults_it_sets_and_overrides_come_last(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("model: vit_small\ntraining:\n  epochs: 7\n  lr: 0.2\n")
    config = load_config(path, ["training.lr=0.3"])
    assert config.model.name == "vit_small"
    assert config.training.epochs == 7 and config.training.lr == 0.3
    assert config.training.batch_size == load_config().training.batch_size


def test_unknown_key_exits_2_and_lists_the_valid_keys(tmp_path):
    status, out, err = _run_main("train", "training.epoch=3", "--runs-dir", str(tmp_path))
    assert status == 2
    assert "unknown config key 'training.epoch'" in err
    assert "did you mean 'training.epochs'" in err
    assert all(key in err for key in SCHEMA)
    assert "Traceback" not in err and out == ""
    assert list(tmp_path.iterdir()) == []


def test_unknown_key_in_a_config_file_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("training:\n  epocs: 3\n")
    status, _, err = _run_main("train", "--config", str(path))
    assert status == 2
    assert f"{path}: unknown config key 'training.epocs' (did you mean 'training.epochs'?)" in err


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.epochs=0", "training.epochs=0: must be an int from 1 to 100000"),
        ("training.epochs=abc", "training.epochs='abc': must be an int from 1 to 100000"),
        ("training.lr=-1", "training.lr=-1: must be a number in (0, 100]"),
        (
            "model=resnet50",
            "model.name='resnet50': must be mlp, small_resnet, resnet18, resnet34 or vit_small",
        ),
        ("data=svhn", "data.name='svhn': must be digits, fashion_mnist, mnist or cifar10"),
        ("verbose=true", "verbose=True: must be 0, 1 or 2"),
        ("distillation.noisy_student=1", "distillation.noisy_student=1: must be true or false"),
        # The library's own parameter validation.
        (
            "distillation.alpha=1.5",
            "distillation.alpha=1.5: The 'alpha' parameter of SelfDistillationClassifier "
            "must be a float in the range [0.0, 1.0]",
        ),
        ("distillation.temperature=0", "The 'temperature' parameter of SelfDistillationClass"),
        ("generations.plateau_patience=0", "The 'n_iter_no_change' parameter"),
        (
            "distillation.ema_decay=1.0",
            "The 'decay' parameter of EMATeacher must be a float in [0, 1)",
        ),
        ("device=tpu9", "device='tpu9'"),
        ("threads=100000", "threads=100000: must be null or an int from 1 to"),
    ],
)
def test_bad_value_exits_2_before_any_training(tmp_path, override, message):
    status, out, err = _run_main("train", override, "--runs-dir", str(tmp_path))
    assert status == 2
    assert message in err
    assert "Traceback" not in err and out == ""
    assert list(tmp_path.iterdir()) == []


def test_cuda_without_a_gpu_is_a_config_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    status, _, err = _run_main("train", "device=cuda", "--runs-dir", str(tmp_path))
    assert status == 2 and "torch finds 0 cuda device(s)" in err


def test_override_without_equals_sign_is_an_error():
    status, _, err = _run_main("train", "training.epochs")
    assert status == 2 and "overrides are key=value" in err


def test_print_config_prints_the_resolved_yaml_and_trains_nothing(tmp_path):
    status, out, _ = _run_main(
        "train", "--print-config", "--runs-dir", str(tmp_path), "training.epochs=7"
    )
    assert status == 0
    assert yaml.safe_load(out)["training"]["epochs"] == 7
    assert list(tmp_path.iterdir()) == []


# -- the study settings and the seed project's keys ----------------------------------------


def test_training_rows_subsample_flip_and_hide_labels_and_never_touch_the_test_split():
    X, y = load_digits(flatten=True)
    config = load_config(
        overrides=["data.n_train=500", "data.label_noise=0.4", "data.n_labeled=100", "seed=3"]
    )
    X_rows, y_rows = training_rows(config, X, y)
    assert X_rows.shape == (500, 64)
    labelled = y_rows != -1
    counts = np.bincount(y_rows[labelled])  # stratified on the (noisy) labels
    assert labelled.sum() == 100 and counts.min() >= 9 and counts.max() <= 11
    # The rows are digits rows; the labelled ones carry flipped labels at the asked rate.
    source = {row.tobytes(): label for row, label in zip(X, y, strict=True)}
    clean = np.array([source[row.tobytes()] for row in X_rows])
    assert np.mean(y_rows[labelled] != clean[labelled]) == pytest.approx(0.4, abs=0.15)
    again = training_rows(config, X, y)
    np.testing.assert_array_equal(again[1], y_rows)  # seeded
    other = training_rows(load_config(overrides=["data.n_train=500", "seed=4"]), X, y)
    assert not np.array_equal(other[0], X_rows)
    untouched = training_rows(load_config(), X, y)
    assert untouched[0] is X and untouched[1] is y


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.num_classes=5"], "model.num_classes=5, but digits has 10 classes"),
        (["data.n_train=5000"], "data.n_train=5000: digits has 1347 training rows"),
        (["data.n_labeled=5"], "data.n_labeled=5: the training set has 1347 rows"),
    ],
)
def test_study_keys_that_do_not_fit_the_data_exit_2_naming_key_and_data(
    tmp_path, overrides, message
):
    status, _, err = _run_main("train", *overrides, "--runs-dir", str(tmp_path))
    assert status == 2, err
    assert message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.label_noise=1.0"], "data.label_noise=1.0: must be a number in [0, 1)"),
        (["data.augmentation=autoaugment"], "must be null, randaugment, true or false"),
        (["data.augmentation=randaugment"], "RandAugment transforms images"),
        (["data.n_train=100", "data.n_labeled=100"], "must be less than data.n_train=100"),
        (["distillation.teacher_predictions=oof"], "must be in_sample or cross_fit"),
        (["distillation.dropout_rate=1"], "must be null or a number in [0, 1)"),
        (["training.early_stopping_patience=0"], "must be null or an int from 1 to 100000"),
        (["generations.final_generation=first"], "must be last, best or ensemble"),
        (["generations.plateau_threshold=-1"], "The 'tol' parameter"),
        (["distillation.cv=1"], "distillation.cv=1: must be an int from 2 to 100"),
    ],
)
def test_bad_study_values_exit_2_before_any_data_is_loaded(tmp_path, overrides, message):
    status, out, err = _run_main("train", *overrides, "--runs-dir", str(tmp_path))
    assert status == 2
    assert message in err and out == ""


def test_a_yaml_file_in_the_seed_projects_layout_loads_with_its_names(tmp_path):
    path = tmp_path / "seed.yaml"
    path.write_text(
        "model:\n  name: resnet18\n  num_classes: 10\n"
        "data:\n  name: cifar10\n  batch_size: 256\n  augmentation: randaugment\n"
        "distillation:\n  alpha: 0.5\n  temperature: 2.0\n  dropout_rate: 0.3\n"
        "generations:\n  max_generations: 4\n  plateau_patience: 2\n"
        "  plateau_threshold: 0.01\n"
    )
    config = load_config(path)
    assert config.training.batch_size == 256  # data.batch_size is an alias
    assert config.model.num_classes == 10 and config.data.augmentation == "randaugment"
    assert config.distillation.dropout_rate == 0.3
    X = np.zeros((4, 3, 32, 32), dtype=np.float32)
    net = build_net(config, X, 10)
    assert net.batch_size == 256 and net.module__stochastic_depth == 0.3
    assert any(isinstance(callback, BatchRandAugment) for callback in net.callbacks)
    clf = build_classifier(config, net)
    assert (clf.tol, clf.n_iter_no_change, clf.early_stopping) == (0.01, 2, True)
    assert (clf.alpha, clf.temperature, clf.n_generations) == (0.5, 2.0, 4)
    # The alias is said in --help, next to the key it stands for.
    status, out, _ = _run_main("train", "--help")
    assert status == 0
    assert all(re.search(rf"{a}\s+the same as {k}", out) for a, k in ALIASES.items())


# The seed project's own configuration files, verbatim (byte for byte, comments included):
# - seed_default.yaml is its configs/default.yaml, from the public repository
#   animewafu468-create/recursive-nn at commit ccf702c72b27e76708c98d6706bc9b6cef926025
#   (the Hydra config of its scripts/train.py);
# - seed_readme_config.yaml is the "Configuration" block of that commit's README.md, which
#   introduces it with "All parameters controlled via configs/default.yaml"; it is where
#   the line `augmentation: true      # RandAugment for Noisy Student` quoted in issue 23
#   comes from (the stored configs/default.yaml has `augmentation: true` with no comment).
SEED_FILES = Path(__file__).parent / "data"
# What the seed's keys resolve to here; the seed's names are mapped or ignored.
SEED_EXPECTED = {
    "model.name": "resnet18",
    "model.num_classes": 10,
    "data.name": "cifar10",
    "data.augmentation": "randaugment",  # augmentation: true
    "training.batch_size": 128,  # data.batch_size
    "distillation.temperature": 4.0,
    "distillation.alpha": 0.7,
    "distillation.noisy_student": True,
    "distillation.dropout_rate": 0.1,
    "generations.max_generations": 5,
    "generations.plateau_threshold": 0.001,
    "generations.plateau_patience": 3,
}
# Only in configs/default.yaml.
SEED_DEFAULT_ONLY = {
    "training.epochs": 100,
    "training.lr": 0.1,  # training.learning_rate
    "training.momentum": 0.9,
    "training.weight_decay": 0.0001,
    "training.lr_schedule": "cosine",  # training.scheduler
    "seed": 42,
    "device": "cuda",
}
SEED_IGNORED = (
    "data.num_workers",
    "training.warmup_epochs",
    "checkpoint.save_dir",
    "checkpoint.save_every",
    "logging.log_dir",
    "logging.log_every",
)


def _flat(mapping, prefix=""):
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@pytest.fixture
def one_cuda_device(monkeypatch):
    """torch sees one CUDA device: the seed's device: "cuda" resolves on any machine."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


@pytest.mark.parametrize(
    ("name", "expected", "ignored"),
    [
        ("seed_default.yaml", {**SEED_EXPECTED, **SEED_DEFAULT_ONLY}, SEED_IGNORED),
        ("seed_readme_config.yaml", SEED_EXPECTED, ()),
    ],
)
def test_the_seed_projects_configuration_file_loads_whole_with_config(
    tmp_path, one_cuda_device, name, expected, ignored
):
    status, out, err = _run_main(
        "train", "--config", str(SEED_FILES / name), "--print-config", "--runs-dir", str(tmp_path)
    )
    assert status == 0, err
    resolved = _flat(yaml.safe_load(out))
    assert {key: resolved[key] for key in expected} == expected
    # Its keys without a meaning here are accepted, each with a note saying why it is ignored.
    notes = [line for line in err.splitlines() if line.startswith("sklearn-selfdistill: note:")]
    assert len(notes) == len(ignored) and "Traceback" not in err
    assert all(any(f"{key}=" in n and "is ignored" in n for n in notes) for key in ignored)
    assert list(tmp_path.iterdir()) == []
    # What it resolves to reaches the net and the meta-estimator.
    config = load_config(SEED_FILES / name)
    net = build_net(config, np.zeros((4, 3, 32, 32), dtype=np.float32), 10)
    assert net.batch_size == 128 and net.module__stochastic_depth == 0.1
    assert sum(isinstance(c, BatchRandAugment) for c in net.callbacks) == 1
    clf = build_classifier(config, net)
    assert (clf.n_generations, clf.tol, clf.n_iter_no_change) == (5, 0.001, 3)
    assert (clf.alpha, clf.temperature, clf.early_stopping) == (0.7, 4.0, True)


def test_the_seed_projects_file_without_a_gpu_needs_only_device_cpu(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    seed = str(SEED_FILES / "seed_default.yaml")
    status, _, err = _run_main("train", "--config", seed, "--print-config")
    assert status == 2 and "Traceback" not in err
    errors = err.split("invalid configuration:")[1].strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("device='cuda': torch finds 0 cuda")
    status, out, err = _run_main("train", "--config", seed, "--print-config", "device=cpu")
    assert status == 0, err
    assert yaml.safe_load(out)["data"]["augmentation"] == "randaugment"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", "randaugment"), ("false", None), ("null", None), ("randaugment", "randaugment")],
)
def test_data_augmentation_takes_true_for_randaugment_and_false_for_none(
    tmp_path, value, expected
):
    config = load_config(overrides=["model=resnet18", f"data.augmentation={value}"])
    assert config.data.augmentation == expected
    # The same in a file, and in the resolved YAML that a run records.
    path = tmp_path / "mine.yaml"
    path.write_text(f"model: resnet18\ndata:\n  augmentation: {value}\n")
    assert yaml.safe_load(to_yaml(load_config(path)))["data"]["augmentation"] == expected
    net = build_net(config, np.zeros((4, 3, 32, 32), dtype=np.float32), 10)
    assert any(isinstance(c, BatchRandAugment) for c in net.callbacks) == (expected is not None)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.scheduler=step", "training.scheduler='step' (training.lr_schedule): must be"),
        ("training.learning_rate=0", "training.learning_rate=0 (training.lr): must be a number"),
        (
            "data.batch_size=0",
            "data.batch_size=0 (training.batch_size): must be an int from 1 to 1000000",
        ),
    ],
)
def test_a_bad_value_under_a_seed_name_is_reported_under_that_name(tmp_path, override, message):
    status, out, err = _run_main("train", override, "--runs-dir", str(tmp_path))
    assert status == 2 and message in err
    assert "Traceback" not in err and out == ""


def test_study_keys_reach_the_net_and_the_classifier():
    config = load_config(
        overrides=[
            "distillation.teacher_predictions=cross_fit",
            "distillation.cv=3",
            "data.n_labeled=200",
            "training.early_stopping_patience=4",
            "generations.final_generation=best",
            "distillation.dropout_rate=0.2",
        ]
    )
    net = build_net(config, np.zeros((4, 64), dtype=np.float32), 10)
    stop = [c for c in net.callbacks if type(c).__name__ == "EarlyStopping"]
    assert len(stop) == 1 and stop[0].patience == 4 and stop[0].load_best
    assert stop[0].monitor == "valid_acc" and net.train_split is not None
    assert net.module__dropout == 0.2
    clf = build_classifier(config, net)
    assert (clf.teacher_predictions, clf.cv, clf.unlabeled) == ("cross_fit", 3, -1)
    assert clf.final_generation == "best"
    plain = build_classifier(load_config(), build_net(load_config(), np.zeros((4, 64)), 10))
    assert plain.unlabeled is None and plain.estimator.train_split is None


def test_a_noisy_label_run_prints_its_ensemble_and_the_generation_chosen_on_validation(
    tmp_path,
):
    status, out, err = _run_main(
        "train",
        *TINY,
        "training.epochs=4",
        "data.label_noise=0.3",
        "data.n_train=600",
        "distillation.teacher_predictions=cross_fit",
        "distillation.cv=2",
        "training.early_stopping_patience=1",
        "--runs-dir",
        str(tmp_path),
    )
    assert status == 0, err
    assert "600 training, 30% of their labels flipped and 450 test samples" in out
    path = _run_folder(out)
    epochs = [json.loads((path / f"generation_{g}.json").read_text())["epochs"] for g in (0, 1)]
    held_out = [max(e["valid_acc"] for e in rows) for rows in epochs]
    best = int(np.argmax(held_out))
    assert f"Chosen on validation: generation {best} (best epoch's held-out accuracy" in out
    # The ensemble row is the generations' probabilities averaged, as evaluate computes it.
    ensemble = re.search(r"^\s+ensemble\s+(\d\.\d{4})\s+[+-]", out, re.M).group(1)
    status, evaluated, err = _run_main("evaluate", str(path), "--plot", str(tmp_path / "a.png"))
    assert status == 0, err
    assert re.search(rf"^\s+ensemble\s+{ensemble}$", evaluated, re.M)


# -- lineage files -------------------------------------------------------------------------


def test_atomic_write_replaces_whole_files_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "file.bin"
    atomic_write(target, b"first")
    atomic_write(target, b"second")
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")
    assert target.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_a_generation_without_its_marker_does_not_count(tmp_path):
    lineage = Lineage.create(tmp_path, "seed: 0\n")
    lineage.write_generation(0, b"weights 0", {"generation": 0})
    # What a crash while writing generation 1 can leave behind.
    (lineage.path / "generation_1.pt").write_bytes(b"half")
    (lineage.path / ".generation_1.json.0123.tmp").write_bytes(b"{")
    assert lineage.finished() == [0]
    assert sorted(lineage.discard_unfinished()) == [
        ".generation_1.json.0123.tmp",
        "generation_1.pt",
    ]
    assert sorted(p.name for p in lineage.path.iterdir()) == [
        "config.yaml",
        "generation_0.done",
        "generation_0.json",
        "generation_0.pt",
    ]


def test_a_file_changed_after_its_marker_is_an_error(tmp_path):
    lineage = Lineage.create(tmp_path, "seed: 0\n")
    lineage.write_generation(0, b"weights 0", {"generation": 0})
    (lineage.path / "generation_0.pt").write_bytes(b"other weights")
    with pytest.raises(LineageError, match=r"generation_0\.pt was changed after generation 0"):
        lineage.finished()


def test_generations_are_written_in_order(tmp_path):
    lineage = Lineage.create(tmp_path, "seed: 0\n")
    with pytest.raises(LineageError, match="the next generation there is 0"):
        lineage.write_generation(1, b"w", {})


def test_resume_of_a_folder_that_is_not_a_run_exits_2(tmp_path):
    status, _, err = _run_main("train", "--resume", str(tmp_path))
    assert status == 2 and "is not a run folder" in err


# -- train ---------------------------------------------------------------------------------


def test_train_prints_a_table_and_writes_every_generation(run_dir):
    path, out = run_dir
    rows = re.findall(r"^\s+(\d)\s+(\d\.\d{4})\s+([+-]\d+\.\d{2})\s+\d+\.\d{2}$", out, re.M)
    assert [r[0] for r in rows] == ["0", "1"] and rows[0][2] == "+0.00"
    assert out.count("[SelfDistillationClassifier] generation") == 2
    # (evaluate adds accuracy.png to this shared run folder)
    assert sorted(p.name for p in path.iterdir() if p.name != "accuracy.png") == [
        ".lock",
        "config.yaml",
        *(f"generation_{g}.{kind}" for g in (0, 1) for kind in ("done", "json", "pt")),
        "processes.json",
    ]
    saved = load_config(base=(path / "config.yaml").read_text())
    assert saved.training.epochs == 2 and saved.generations.max_generations == 2
    for generation, row in enumerate(rows):
        metrics = json.loads((path / f"generation_{generation}.json").read_text())
        assert metrics["test_accuracy"] == pytest.approx(float(row[1]), abs=5e-5)
        assert metrics["history"]["generation"] == generation
        assert metrics["history"]["alpha"] == (0.0 if generation == 0 else 0.7)
        assert metrics["fit_time"] > 0 and 0 < metrics["train_score"] <= 1
        assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
        assert metrics["versions"]["torch"] == torch.__version__
        assert set(metrics["versions"]) == {
            "sklearn_selfdistill",
            "torch",
            "skorch",
            "scikit-learn",
            "numpy",
            "python",
        }
        marker = json.loads((path / f"generation_{generation}.done").read_text())
        assert marker["sha256"][f"generation_{generation}.pt"] == _sha256(
            path / f"generation_{generation}.pt"
        )


def test_saved_weights_load_into_a_fresh_module_and_give_the_recorded_accuracy(run_dir):
    path, _ = run_dir
    X_test, y_test = load_digits(split="test", flatten=True)
    module = MLP(in_features=X_test.shape[1], num_classes=10)
    module.load_state_dict(torch.load(path / "generation_1.pt", weights_only=True))
    with torch.inference_mode():
        predicted = module.eval()(torch.from_numpy(X_test)).argmax(dim=1).numpy()
    metrics = json.loads((path / "generation_1.json").read_text())
    assert np.mean(predicted == y_test) == pytest.approx(metrics["test_accuracy"])


@pytest.mark.parametrize(
    ("verbosity", "generation_lines", "epoch_table"),
    [
        (["verbose=0"], False, False),
        (["verbose=1"], True, False),
        (["verbose=2"], True, True),
        (["verbose=0", "training.verbose=true"], False, True),
    ],
)
def test_verbosity_chooses_generation_lines_and_skorch_epoch_table(
    tmp_path, verbosity, generation_lines, epoch_table
):
    status, out, err = _run_main(
        "train", *TINY, "generations.max_generations=1", *verbosity, "--runs-dir", str(tmp_path)
    )
    assert status == 0, err
    assert ("[SelfDistillationClassifier] generation 0/1" in out) == generation_lines
    assert bool(re.search(r"epoch\s+train_loss\s+dur", out)) == epoch_table
    assert "generation  test accuracy  gain (points)  seconds" in out


def test_every_bad_value_is_reported_at_once():
    status, _, err = _run_main("train", "model=foo", "training.epochs=0", "distillation.alpha=2")
    assert status == 2
    assert err.count("\n  ") == 3 and "model.name='foo'" in err and "distillation.alpha=2" in err


def test_resume_trains_only_the_missing_generations_as_an_uninterrupted_run(run_dir, tmp_path):
    full, _ = run_dir
    status, out, err = _run_main(
        "train", *TINY, "generations.max_generations=1", "--runs-dir", str(tmp_path)
    )
    assert status == 0, err
    path = _run_folder(out)
    before = _fingerprint(path / "generation_0.pt")
    status, out, err = _run_main("train", "--resume", str(path), "generations.max_generations=2")
    assert status == 0, err
    assert "starting at generation 1" in out
    assert "generation 0/2" not in out and "generation 1/2" in out
    assert _fingerprint(path / "generation_0.pt") == before
    assert Lineage(path).finished() == [0, 1]
    # Torch is seeded per generation: the resumed generation is the one a run that
    # never stopped trained.
    resumed = torch.load(path / "generation_1.pt", weights_only=True)
    uninterrupted = torch.load(full / "generation_1.pt", weights_only=True)
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)


def test_resume_refuses_to_change_what_the_finished_generations_are(run_dir):
    path, _ = run_dir
    status, _, err = _run_main("train", "--resume", str(path), "distillation.alpha=0.3")
    assert status == 2
    assert "distillation.alpha cannot change" in err and "generations.max_generations" in err


def test_ctrl_c_while_writing_a_generation_leaves_it_uncounted(tmp_path, monkeypatch):
    write_generation = Lineage.write_generation

    def interrupted(self, generation, weights, metrics, binding=None, **kwargs):
        if generation == 1:
            atomic_write(self.weights_path(1), weights)  # weights written, no marker yet
            raise KeyboardInterrupt
        write_generation(self, generation, weights, metrics, binding, **kwargs)

    monkeypatch.setattr(Lineage, "write_generation", interrupted)
    status, out, err = _run_main("train", *TINY, "--runs-dir", str(tmp_path))
    path = _run_folder(out)
    assert status == 130
    assert f"generations 0..0 are saved in {path}" in err and "--resume" in err
    assert Lineage(path).finished() == [0] and (path / "generation_1.pt").exists()
    monkeypatch.undo()
    status, out, err = _run_main("train", "--resume", str(path))
    assert status == 0, err
    assert "starting at generation 1" in out and Lineage(path).finished() == [0, 1]


def test_a_second_train_in_a_locked_run_folder_exits_2_at_once(run_dir, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(run_dir[0], run)
    for suffix in ("done", "json", "pt"):
        (run / f"generation_1.{suffix}").unlink()
    # Another process holds the run folder, as a training run does for its whole length.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from sklearn_selfdistill.cli._lineage import Lineage\n"
            "with Lineage(sys.argv[1]).locked():\n"
            "    print('locked', flush=True)\n"
            "    time.sleep(120)\n",
            str(run),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    # Every split the command loads: the refusal must come before the first.
    loaded = []
    load_split = _train.load_split
    monkeypatch.setattr(
        _train,
        "load_split",
        lambda config, split: loaded.append(split) or load_split(config, split),
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        status, out, err = _run_main("train", "--resume", str(run))
        # A lock that waited for the holder (120 s) would then train: status 0, not 2.
        assert status == 2, err
        assert f"another process is training in {run}" in err
        assert loaded == [] and out == ""  # refused before any data
        assert Lineage(run).finished() == [0] and not (run / "generation_1.pt").exists()
    finally:
        holder.kill()
        holder.wait()
    # The lock went with the process: nothing stale is left to clean up.
    status, out, err = _run_main("train", "--resume", str(run))
    assert status == 0, err
    assert Lineage(run).finished() == [0, 1]
    assert loaded == ["train", "test"]  # the count above sees the loads it looks for


def _checkpoint_left_by_a_crash(tmp_path, monkeypatch, settings):
    """A run whose process died after generation 1's last epoch, before it was written."""
    write_generation = Lineage.write_generation

    def dies_at_generation_1(self, generation, weights, metrics, binding=None, **kwargs):
        if generation == 1:
            raise KeyboardInterrupt
        write_generation(self, generation, weights, metrics, binding, **kwargs)

    monkeypatch.setattr(Lineage, "write_generation", dies_at_generation_1)
    status, out, _ = _run_main("train", *settings, "--runs-dir", str(tmp_path))
    monkeypatch.undo()
    assert status == 130
    return _run_folder(out)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda folder: None, "it holds 2 of 2 epochs"),
        (
            lambda folder: (folder / "history.json").write_text("[]"),
            "history.json does not match the manifest",
        ),
        (
            lambda folder: (folder / "module.pt").unlink(),
            "module.pt is not a regular file",
        ),
    ],
    ids=["complete", "tampered", "missing-file"],
)
def test_an_unusable_epoch_checkpoint_is_set_aside_and_the_generation_starts_over(
    tmp_path, monkeypatch, damage, message
):
    path = _checkpoint_left_by_a_crash(tmp_path, monkeypatch, TINY)
    folder = path / "generation_1.partial"
    assert json.loads((folder / "manifest.json").read_text())["epoch"] == 2
    damage(folder)
    status, out, err = _run_main("train", "--resume", str(path))
    assert status == 0, err
    assert "Generation 1: its epoch checkpoint is not usable (" in err and message in err
    assert "starts over" in err and "continuing after" not in out
    assert Lineage(path).finished() == [0, 1] and not folder.exists()


def test_no_epoch_checkpoint_where_an_epoch_is_not_all_the_state(tmp_path, monkeypatch):
    settings = [*TINY, "training.early_stopping_patience=1"]
    path = _checkpoint_left_by_a_crash(tmp_path, monkeypatch, settings)
    assert not (path / "generation_1.partial").exists()
    assert not list(path.glob("generation_0.partial"))


def test_resuming_a_finished_run_trains_nothing(run_dir):
    path, _ = run_dir
    before = [_fingerprint(p) for p in sorted(path.glob("generation_*"))]
    status, out, err = _run_main("train", "--resume", str(path))
    assert status == 0, err
    assert "All 2 generations are finished; nothing to train." in out
    assert [_fingerprint(p) for p in sorted(path.glob("generation_*"))] == before


def test_missing_data_set_exits_1_with_the_loader_message(tmp_path, monkeypatch):
    monkeypatch.delenv("SKLEARN_SELFDISTILL_DATA", raising=False)
    status, _, err = _run_main(
        "train", "data=mnist", f"data.data_home={tmp_path}", "--runs-dir", str(tmp_path / "runs")
    )
    assert status == 1
    assert "cannot load the train split of mnist" in err and "download=True" in err
    assert "Traceback" not in err and not (tmp_path / "runs").exists()


# The command, in a process that SIGKILLs itself at generation 1's first optimizer step:
# after generation 0 is written, early in generation 1, whatever the machine's load.
_KILLED_IN_GENERATION_1 = """
import os, signal, sys
from torch.optim.optimizer import register_optimizer_step_pre_hook
from sklearn_selfdistill.cli import main
from sklearn_selfdistill.cli._lineage import Lineage

write_generation = Lineage.write_generation

def write_then_arm(self, generation, *args, **kwargs):
    write_generation(self, generation, *args, **kwargs)
    if generation == 0:
        register_optimizer_step_pre_hook(lambda *_: os.kill(os.getpid(), signal.SIGKILL))

Lineage.write_generation = write_then_arm
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_between_generations_then_resume_retrains_no_finished_generation(tmp_path):
    settings = [*TINY, "--runs-dir", str(tmp_path)]
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_IN_GENERATION_1, "train", *settings],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    path = _run_folder(killed.stdout)
    assert Lineage(path).finished() == [0]
    # Killed in generation 1's first epoch: before its first epoch checkpoint.
    assert not (path / "generation_1.partial").exists()
    before = _fingerprint(path / "generation_0.pt")

    command = [sys.executable, "-m", "sklearn_selfdistill.cli", "train"]
    resumed = subprocess.run(
        [*command, "--resume", str(path)], cwd=tmp_path, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "starting at generation 1" in resumed.stdout
    assert "generation 0/2" not in resumed.stdout
    assert _fingerprint(path / "generation_0.pt") == before
    assert Lineage(path).finished() == [0, 1]
    assert _temporary_files(path) == []


# 25 s each (the cosine variant also checks the scheduler's state across the kill); a
# SIGKILL of a real process stays in the default suite with the test above.
@pytest.mark.slow
@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_sigkill_during_an_epoch_then_resume_continues_it_as_the_uninterrupted_lineage(
    tmp_path, schedule
):
    # skorch's epoch table (training.verbose=true) tells when generation 1 is training:
    # the kill lands in its fourth epoch or later, between two batches, after epoch
    # checkpoints were written.
    settings = ["training.epochs=8", "training.batch_size=16", "training.verbose=true"]
    settings += ["threads=1", "generations.max_generations=2"]
    settings += [f"training.lr_schedule={schedule}"]
    command = [sys.executable, "-m", "sklearn_selfdistill.cli", "train"]
    killed_runs, full_runs = tmp_path / "killed", tmp_path / "full"
    process = subprocess.Popen(
        [*command, *settings, "--runs-dir", str(killed_runs)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    # skorch's rows for epochs 1 and 4 (a loss may be coloured); the second 1 is
    # generation 1's.
    first_epoch_row = re.compile(r"^\s+1\s+(\x1b\[\d+m)?\d+\.\d+")
    fourth_epoch_row = re.compile(r"^\s+4\s+(\x1b\[\d+m)?\d+\.\d+")
    first_epochs, killed = 0, False
    for line in process.stdout:  # the process writes line by line, unbuffered
        first_epochs += bool(first_epoch_row.match(line))
        if first_epochs == 2 and fourth_epoch_row.match(line):
            process.send_signal(signal.SIGKILL)  # generation 1 is in its fifth epoch
            killed = True
            break
    process.communicate()
    assert killed, "generation 1 never reached its fourth epoch"
    (path,) = killed_runs.glob("*")
    assert Lineage(path).finished() == [0]
    assert not (path / "generation_1.pt").exists()  # no generation file mid-generation
    saved = json.loads((path / "generation_1.partial" / "manifest.json").read_text())
    assert saved["generation"] == 1 and 4 <= saved["epoch"] < 8
    before = _fingerprint(path / "generation_0.pt")

    resumed = subprocess.run(
        [*command, "--resume", str(path)], cwd=tmp_path, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "starting at generation 1" in resumed.stdout
    assert f"Generation 1: continuing after epoch {saved['epoch']} of 8" in resumed.stdout
    assert _fingerprint(path / "generation_0.pt") == before
    assert Lineage(path).finished() == [0, 1] and _temporary_files(path) == []
    assert not (path / "generation_1.partial").exists()  # gone once the generation is
    epochs = json.loads((path / "generation_1.json").read_text())["epochs"]
    assert [row["epoch"] for row in epochs] == list(range(1, 9))

    # One CPU thread, seeds per generation and torch's random state in the checkpoint:
    # the resumed lineage is, bit for bit, the one a run that was never killed writes.
    full = subprocess.run(
        [*command, *settings, "--runs-dir", str(full_runs)], capture_output=True, text=True
    )
    assert full.returncode == 0, full.stderr
    (full_path,) = full_runs.glob("*")
    for generation in (0, 1):
        ours = torch.load(path / f"generation_{generation}.pt", weights_only=True)
        theirs = torch.load(full_path / f"generation_{generation}.pt", weights_only=True)
        assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


# -- untrusted files -----------------------------------------------------------------------


SECRET = "hunter2-do-not-leak"


@pytest.mark.parametrize("where", ["config-file", "override", "run-folder"])
def test_interpolations_are_refused_and_never_resolved(run_dir, tmp_path, monkeypatch, where):
    monkeypatch.setenv("SELFDISTILL_TEST_SECRET", SECRET)
    value = "${oc.env:SELFDISTILL_TEST_SECRET}"
    # Armed: OmegaConf resolves this to the secret when asked to.
    from omegaconf import OmegaConf

    assert OmegaConf.create({"a": value}).a == SECRET
    runs = tmp_path / "runs"
    if where == "config-file":
        path = tmp_path / "mine.yaml"
        path.write_text(f"data:\n  data_home: '{value}'\n")
        argv = ["train", "--config", str(path), "--runs-dir", str(runs)]
    elif where == "override":
        argv = ["train", f"data.data_home={value}", "--runs-dir", str(runs)]
    else:
        run = tmp_path / "run"
        shutil.copytree(run_dir[0], run)
        config = run / "config.yaml"
        config.write_text(config.read_text().replace("data_home: null", f"data_home: '{value}'"))
        argv = ["evaluate", str(run)]
    status, out, err = _run_main(*argv)
    assert status == 2, err
    assert "data.data_home is an interpolation" in err
    assert SECRET not in err and SECRET not in out
    assert not runs.exists()


class _RunsShell:
    """Unpickling this runs a shell command through os.system (a stdlib callable)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_a_run_folder_that_points_its_data_at_planted_cifar_batches_runs_nothing(
    run_dir, tmp_path, command
):
    """A crafted folder: config.yaml says cifar10 from inside the folder, bindings redone."""
    from sklearn_selfdistill.cli import _run as run_module

    run = tmp_path / "run"
    shutil.copytree(run_dir[0], run)
    sentinel = tmp_path / "sentinel"
    payload = pickle.dumps({b"data": _RunsShell(f"touch {sentinel}"), b"labels": [0]}, protocol=2)
    pickle.loads(payload)  # armed: a plain unpickler runs the shell command
    assert sentinel.exists()
    sentinel.unlink()
    for name in ["test_batch", *(f"data_batch_{i}" for i in range(1, 6))]:
        (run / name).write_bytes(payload)
    config = load_config(
        base=(run / "config.yaml").read_text(),
        overrides=["data.name=cifar10", f"data.data_home={run}"],
    )
    (run / "config.yaml").write_text(to_yaml(config))
    for generation in (0, 1):  # what a forger recomputes: the binding is no secret
        marker_path = run / f"generation_{generation}.done"
        marker = json.loads(marker_path.read_text())
        marker["binding"] = run_module.binding(config)
        marker_path.write_text(json.dumps(marker))
    argv = ["evaluate", str(run)] if command == "evaluate" else ["train", "--resume", str(run)]
    if command == "resume":
        argv.append("generations.max_generations=3")
    done = subprocess.run(
        [sys.executable, "-m", "sklearn_selfdistill.cli", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    assert "cannot load the" in done.stderr and "split of cifar10" in done.stderr
    assert "Traceback" not in done.stderr
    assert not sentinel.exists()


def _reseal(run, generation):
    """Rewrite a marker's hashes for the files now there: what a forger does."""
    marker_path = run / f"generation_{generation}.done"
    marker = json.loads(marker_path.read_text())
    for name in marker["sha256"]:
        marker["sha256"][name] = _sha256(run / name)
    marker_path.write_text(json.dumps(marker))


def _edit_json(path, change):
    value = json.loads(path.read_text())
    path.write_text(json.dumps(change(value)))


def _set(key, value):
    def change(metrics):
        metrics[key] = value
        return metrics

    return change


def _drop(key):
    def change(metrics):
        del metrics[key]
        return metrics

    return change


def _marker_of_generation_0(run):
    shutil.copy(run / "generation_0.done", run / "generation_1.done")


def _empty_sha256(run):
    _edit_json(run / "generation_1.done", _set("sha256", {}))


def _names_another_file(run):
    def change(marker):
        marker["sha256"]["/etc/passwd"] = marker["sha256"].pop("generation_1.json")
        return marker

    _edit_json(run / "generation_1.done", change)


def _metrics(change):
    def tamper(run):
        _edit_json(run / "generation_1.json", change)
        _reseal(run, 1)

    return tamper


def _weights_replaced_by(kind):
    def tamper(run):
        weights = run / "generation_1.pt"
        elsewhere = run.parent / "elsewhere.pt"
        shutil.move(weights, elsewhere)
        if kind == "folder":
            weights.mkdir()
        else:
            weights.symlink_to(elsewhere)  # the same bytes, so the hash would match

    return tamper


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (_marker_of_generation_0, "generation_1.done is not a valid marker: its generation is 0"),
        (_empty_sha256, "its sha256 must name exactly generation_1.json and generation_1.pt"),
        (_names_another_file, "its sha256 must name exactly generation_1.json and"),
        (lambda run: (run / "generation_1.done").write_text(""), "cannot read .* as JSON"),
        (
            lambda run: (run / "generation_1.done").write_text("[]"),
            "generation_1.done is not a valid marker: it must be an object",
        ),
        (_metrics(_drop("classes")), "generation_1.json is not a valid metrics file: classes"),
        (_metrics(_set("fit_time", None)), "fit_time must be a number >= 0"),
        (_metrics(_set("test_accuracy", "high")), "test_accuracy must be a number in"),
        (_metrics(lambda m: []), "generation_1.json must hold a JSON object"),
        (_metrics(_set("classes", list("abcdefghij"))), "classes must be a list of at least"),
        (_weights_replaced_by("folder"), "generation_1.pt is a folder"),
        (_weights_replaced_by("symlink"), "generation_1.pt is a symbolic link"),
    ],
    ids=[
        "marker-of-gen-0",
        "empty-sha256",
        "names-etc-passwd",
        "empty-marker",
        "marker-is-a-list",
        "no-classes",
        "fit-time-null",
        "string-score",
        "metrics-a-list",
        "letter-classes",
        "weights-a-folder",
        "weights-a-symlink",
    ],
)
@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_a_damaged_generation_is_a_lineage_error_naming_the_file(
    run_dir, tmp_path, tamper, message, command
):
    run = tmp_path / "run"
    shutil.copytree(run_dir[0], run)
    tamper(run)
    argv = ["evaluate", str(run)] if command == "evaluate" else ["train", "--resume", str(run)]
    status, _, err = _run_main(*argv)
    assert status == 2, err
    assert re.search(message, err), err
    assert "Traceback" not in err


def test_letter_classes_that_pass_as_integers_are_refused_against_the_test_labels(
    run_dir, tmp_path
):
    run = tmp_path / "run"
    shutil.copytree(run_dir[0], run)
    for generation in (0, 1):  # classes 10..19: integers, but not the digits' labels
        _edit_json(run / f"generation_{generation}.json", _set("classes", list(range(10, 20))))
        _reseal(run, generation)
    status, out, err = _run_main("evaluate", str(run))
    assert status == 2 and "do not include the test labels [0, 1, 2" in err
    assert "ensemble" not in out  # no wrong accuracy printed


def test_resume_after_config_yaml_was_edited_is_refused_saying_what_differs(run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir[0], run)
    for suffix in ("done", "json", "pt"):
        (run / f"generation_1.{suffix}").unlink()
    config = run / "config.yaml"
    text = config.read_text()
    assert "alpha: 0.7" in text and "epochs: 2" in text
    config.write_text(text.replace("alpha: 0.7", "alpha: 0.0").replace("epochs: 2", "epochs: 7"))
    status, out, err = _run_main("train", "--resume", str(run))
    assert status == 2, err
    assert "config.yaml was changed after generation 0 was trained" in err
    assert "distillation.alpha: 0.7 then, 0.0 now" in err
    assert "training.epochs: 2 then, 7 now" in err
    assert not (run / "generation_1.pt").exists() and "generation 1/" not in out
    # Keys a resume may change do not break the binding.
    config.write_text(text.replace("max_generations: 2", "max_generations: 3"))
    status, out, err = _run_main("evaluate", str(run), "--plot", str(tmp_path / "p.png"))
    assert status == 0, err


def test_a_symlinked_config_yaml_is_refused_without_reading_it(run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir[0], run)
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:do-not-print-me\n")
    (run / "config.yaml").unlink()
    (run / "config.yaml").symlink_to(secret)
    status, _, err = _run_main("evaluate", str(run))
    assert status == 2 and "config.yaml is a symbolic link" in err
    assert "do-not-print-me" not in err


class _RunsCode:
    """Unpickling this runs code: it writes the file it names."""

    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return exec, (f"open({self.sentinel!r}, 'w').write('code ran')",)


def _plant_code(run, generation, sentinel, *, forge_marker):
    """Replace a generation's weights with a pickle that runs code when loaded."""
    weights = run / f"generation_{generation}.pt"
    torch.save({"weight": _RunsCode(sentinel)}, weights)
    if forge_marker:  # whoever replaced the file rewrote the marker's hash too
        marker_path = run / f"generation_{generation}.done"
        marker = json.loads(marker_path.read_text())
        marker["sha256"][weights.name] = _sha256(weights)
        marker_path.write_text(json.dumps(marker))


@pytest.mark.parametrize("forge_marker", [False, True], ids=["marker-kept", "marker-forged"])
@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_a_weights_file_that_runs_code_is_refused_and_never_run(
    run_dir, tmp_path, command, forge_marker
):
    run = tmp_path / "run"
    shutil.copytree(run_dir[0], run)
    sentinel = tmp_path / "sentinel"
    if command == "resume":  # generation 1 is to be trained again, from generation 0
        for suffix in ("done", "json", "pt"):
            (run / f"generation_1.{suffix}").unlink()
    _plant_code(run, 0, sentinel, forge_marker=forge_marker)

    # The payload is armed: an unsafe load runs it.
    torch.load(run / "generation_0.pt", weights_only=False)
    assert sentinel.read_text() == "code ran"
    sentinel.unlink()

    argv = ["evaluate", str(run)] if command == "evaluate" else ["train", "--resume", str(run)]
    status, _out, err = _run_main(*argv)
    assert status == 2 and not sentinel.exists()
    if forge_marker:
        assert "generation_0.pt is not a file of weights that can be loaded safely" in err
    else:
        assert "generation_0.pt was changed after generation 0 was written" in err
    assert "Traceback" not in err


# -- evaluate ------------------------------------------------------------------------------


def test_evaluate_prints_generations_and_ensemble_and_writes_a_png(run_dir):
    path, _ = run_dir
    status, out, err = _run_main("evaluate", str(path))
    assert status == 0, err
    rows = dict(re.findall(r"^\s+(\d|ensemble)\s+(\d\.\d{4})$", out, flags=re.MULTILINE))
    assert list(rows) == ["0", "1", "ensemble"]
    for generation in (0, 1):
        recorded = json.loads((path / f"generation_{generation}.json").read_text())
        assert float(rows[str(generation)]) == pytest.approx(recorded["test_accuracy"], abs=5e-5)
    assert (path / "accuracy.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_evaluate_puts_runs_side_by_side_in_one_plot(run_dir, tmp_path):
    path, _ = run_dir
    plot = tmp_path / "both.png"
    status, out, err = _run_main("evaluate", str(path), str(path), "--plot", str(plot))
    assert status == 0, err
    header = out.splitlines()[0].split()
    assert header == ["generation", str(path), str(path)]  # equal names: full paths
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_evaluate_plot_is_a_generation_curve_display_per_run(run_dir, tmp_path):
    from sklearn_selfdistill.cli import _evaluate

    path, _ = run_dir
    results = [_evaluate._evaluate_run(path, "cpu")] * 2
    displays = _evaluate._plot(results, ["a", "b"], tmp_path / "two.png")
    assert len(displays) == 2 and displays[0].ax_ is not displays[1].ax_  # one panel each
    recorded = [json.loads((path / f"generation_{g}.json").read_text()) for g in (0, 1)]
    display = displays[0]
    np.testing.assert_allclose(display.lines_["test"].get_ydata(), results[0]["accuracies"])
    np.testing.assert_allclose(
        display.lines_["train"].get_ydata(), [r["train_score"] for r in recorded]
    )
    # The tiny run holds out no validation rows: no validation curve, nothing marked.
    assert [r["validation_score"] for r in recorded] == [None, None]
    assert "validation" not in display.lines_ and display.best_marker_ is None
    assert _evaluate._best_generation([0.5, 0.7, 0.6]) == 1
    ensemble = [line for line in display.ax_.lines if line.get_label() == "test, ensemble"]
    assert ensemble[0].get_ydata()[0] == pytest.approx(results[0]["ensemble"])
    assert (tmp_path / "two.png").read_bytes().startswith(b"\x89PNG")


def test_evaluate_without_matplotlib_prints_the_table_then_names_the_package(run_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    status, out, err = _run_main("evaluate", str(run_dir[0]))
    assert status == 1 and "pip install matplotlib" in err
    assert re.search(r"^\s+ensemble\s+\d\.\d{4}$", out, re.M)  # the table came first


@pytest.mark.parametrize(
    ("plot", "message"),
    [
        ("{tmp}", "is a folder"),
        ("{tmp}/missing/a.png", "which is not an existing folder"),
    ],
)
def test_evaluate_refuses_a_bad_plot_path_before_any_evaluation(
    run_dir, tmp_path, monkeypatch, plot, message
):
    evaluated = []
    monkeypatch.setattr("sklearn_selfdistill.cli._evaluate._evaluate_run", evaluated.append)
    status, out, err = _run_main("evaluate", str(run_dir[0]), "--plot", plot.format(tmp=tmp_path))
    assert status == 2 and message in err and out == ""
    assert evaluated == []


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_while_writing_a_generation_says_which_generations_are_saved(
    tmp_path, monkeypatch
):
    write_files = Lineage._write_files

    def full_at_generation_1(self, generation, *args):
        if generation == 1:
            _disk_full()
        write_files(self, generation, *args)

    monkeypatch.setattr(Lineage, "_write_files", full_at_generation_1)
    status, out, err = _run_main("train", *TINY, "--runs-dir", str(tmp_path))
    assert status == 2, err
    path = _run_folder(out)
    assert f"cannot write generation 1 to {path}: No space left on device" in err
    assert f"Stopped: generations 0..0 are saved in {path}" in err
    assert "were fitted" not in err and "Traceback" not in err
    assert Lineage(path).finished() == [0]


def test_a_full_disk_when_the_run_folder_is_made_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr("sklearn_selfdistill.cli._lineage.atomic_write", _disk_full)
    status, _, err = _run_main("train", *TINY, "--runs-dir", str(tmp_path / "runs"))
    assert status == 2
    assert f"cannot make a run folder in {tmp_path / 'runs'}: No space left on device" in err
    assert list((tmp_path / "runs").iterdir()) == []  # no empty run folder left behind


def test_a_resume_into_a_folder_that_takes_no_file_trains_nothing(run_dir, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(run_dir[0], run)
    for suffix in ("done", "json", "pt"):
        (run / f"generation_1.{suffix}").unlink()
    fits = []
    monkeypatch.setattr(
        "sklearn_selfdistill.SelfDistillationClassifier.fit", lambda *a, **k: fits.append(a)
    )
    monkeypatch.setattr("sklearn_selfdistill.cli._lineage.atomic_write", _disk_full)
    status, _, err = _run_main("train", "--resume", str(run))
    assert status == 2 and f"cannot write in {run}: No space left on device" in err
    assert fits == []


def test_console_script_reports_a_config_error_without_a_traceback():
    script = Path(sys.executable).with_name("sklearn-selfdistill")
    result = subprocess.run([script, "train", "nope=1"], capture_output=True, text=True)
    assert result.returncode == 2 and "unknown config key 'nope'" in result.stderr
    assert "Traceback" not in result.stderr
