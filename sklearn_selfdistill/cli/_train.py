"""``sklearn-selfdistill train``: fit the generations, writing each one as soon as it is fit.

The meta-estimator calls its ``on_generation_end(generation, model, history_row)`` after
every generation it fits; that is where a generation goes to disk. A resumed run restores
the finished generations from disk into ``generations_`` and ``history_`` and fits with
``warm_start=True``: the generation loop keeps them as they are and goes on with the
next one, its teacher the last of them.

Torch is seeded with ``seed + g`` just before generation ``g`` is built, so a run
interrupted and resumed trains the same generations as one that never stopped. A
cross-fit run writes, with each generation, the out-of-fold teacher outputs it was fit
on (``generation_<g>.teacher.npy``): the meta-estimator's ``cross_fit_outputs_``, from
which a resumed run refits the next generation's fold copies as an uninterrupted run
does.

Every process that trains in a run folder, the first and each one that resumes it,
adds its versions to ``processes.json``; each generation's metrics hold the versions
of the process that finished it.
"""

import contextlib
import io
import math
import platform
import sys
import time

import numpy as np
import sklearn
import skorch
import torch

from .. import __version__
from . import _run
from ._build import UNLABELED, build_classifier, build_net, load_split, training_rows
from ._checkpoint import EpochCheckpoint, discard_partial, supports_epoch_checkpoints
from ._config import to_yaml
from ._lineage import Lineage, LineageError
from ._untrusted import load_teacher_outputs, restore_generation

__all__ = ["print_generations", "train"]

_EPOCH_COLUMNS = ("epoch", "train_loss", "valid_loss", "valid_acc", "dur")


def versions():
    """The versions of the software that trains a generation."""
    return {
        "sklearn_selfdistill": __version__,
        "torch": torch.__version__,
        "skorch": skorch.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _record_process(lineage, resumed, first_generation):
    """Add this process and its versions to the run folder's ``processes.json``."""
    try:
        lineage.record_process(
            {
                "command": "train --resume" if resumed else "train",
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "first_generation": first_generation,
                "versions": versions(),
            }
        )
    except OSError as exc:
        raise LineageError(
            f"cannot write {lineage.path / 'processes.json'}: {exc.strerror or exc}; nothing "
            f"was trained."
        ) from None


def accuracy(proba, classes, y):
    """Accuracy of the class with the highest probability."""
    return float(np.mean(classes[np.argmax(proba, axis=1)] == y))


def _generation_writer(lineage, config, classes, X_test, y_test, test_probas):
    """The ``on_generation_end`` callback: write the generation, then seed the next one.

    Each generation's test probabilities go into ``test_probas`` (for the ensemble).
    """

    def on_generation_end(generation, model, history_row, teacher_outputs=None):
        teacher = None
        if teacher_outputs is not None:
            buffer = io.BytesIO()
            np.save(buffer, teacher_outputs, allow_pickle=False)
            teacher = buffer.getvalue()
        weights = io.BytesIO()
        torch.save(model.module_.state_dict(), weights)
        test_probas[generation] = model.predict_proba(X_test)
        metrics = {
            "generation": generation,
            "test_accuracy": accuracy(test_probas[generation], classes, y_test),
            "train_score": history_row["train_score"],
            "validation_score": history_row["validation_score"],
            "fit_time": history_row["fit_time"],
            "classes": classes.tolist(),
            "history": history_row,
            "epochs": [
                {key: row[key] for key in _EPOCH_COLUMNS if key in row} for row in model.history
            ],
            "versions": versions(),
            "config": to_yaml(config),
        }
        lineage.write_generation(
            generation, weights.getvalue(), metrics, binding=_run.binding(config), teacher=teacher
        )
        discard_partial(lineage.path, generation)
        torch.manual_seed(config.seed + generation + 1)

    return on_generation_end


def print_generations(lineage, config, ensemble_accuracy=None):
    """The table of the finished generations: test accuracy, gain, seconds.

    Then the Born-Again ensemble's test accuracy (when given), and the generation with
    the best validation accuracy, where the run held out a validation set.
    """
    rows = [_run.metrics(lineage, g) for g in _run.finished(lineage, config)]
    print("generation  test accuracy  gain (points)  seconds")
    for row in rows:
        gain = 100 * (row["test_accuracy"] - rows[0]["test_accuracy"])
        print(
            f"{row['generation']:>10}  {row['test_accuracy']:>13.4f}  {gain:>+13.2f}  "
            f"{row['fit_time']:>7.2f}"
        )
    if ensemble_accuracy is not None:
        gain = 100 * (ensemble_accuracy - rows[0]["test_accuracy"])
        print(f"{'ensemble':>10}  {ensemble_accuracy:>13.4f}  {gain:>+13.2f}")
    validation, source = _validation_scores(rows)
    if validation is None:
        print(
            "Chosen on validation: none, nothing was held out (generations.final_generation="
            "best, generations.plateau_patience or training.early_stopping_patience would)."
        )
        return
    best = int(np.argmax(validation))
    print(
        f"Chosen on validation: generation {best} ({source} {validation[best]:.4f}, test "
        f"accuracy {rows[best]['test_accuracy']:.4f})."
    )


def _validation_scores(rows):
    """Per generation, its validation accuracy and where it comes from; ``(None, None)``.

    The meta-estimator's held-out rows where it kept them; else the best epoch's
    ``valid_acc`` on the fifth each early-stopped generation held out.
    """
    scores = [row["validation_score"] for row in rows]
    if all(score is not None for score in scores):
        return scores, "validation accuracy"
    epochs = [[epoch.get("valid_acc") for epoch in row.get("epochs", [])] for row in rows]
    if all(e and all(isinstance(a, float) for a in e) for e in epochs):
        return [max(e) for e in epochs], "best epoch's held-out accuracy"
    return None, None


def _cross_fit_rows(config, y_train):
    """The rows the meta-estimator trains on (and cross-fits): all but its validation rows."""
    generations, labelled = config.generations, int(np.sum(y_train != UNLABELED))
    if generations.plateau_patience is None and generations.final_generation != "best":
        return y_train.shape[0]
    # train_test_split's share: ceil(fraction * rows) of the labelled rows are held out.
    return y_train.shape[0] - math.ceil(generations.validation_fraction * labelled)


def _stopped(lineage, config):
    """Which generations are saved, and the command that continues the run."""
    try:
        done = len(_run.finished(lineage, config))
    except LineageError:
        done = 0
    saved = f"generations 0..{done - 1} are saved" if done else "no generation is saved"
    return (
        f"Stopped: {saved} in {lineage.path}; the run can be resumed with\n"
        f"  sklearn-selfdistill train --resume {lineage.path}"
    )


def _fit_the_missing_generations(config, lineage, net, X_train, y_train, write_generation):
    """Fit the generations after the finished ones; ``write_generation`` writes each one."""
    finished = _run.finished(lineage, config)
    n_classes = np.unique(y_train[y_train != UNLABELED]).shape[0]
    clf = build_classifier(config, net).set_params(
        warm_start=True,
        on_generation_end=lambda generation, model, row: write_generation(
            generation, model, row, getattr(clf, "cross_fit_outputs_", None)
        ),
    )
    clf.generations_ = [
        restore_generation(net, n_classes, lineage.weights_path(g)) for g in finished
    ]
    clf.history_ = [_run.metrics(lineage, g)["history"] for g in finished]
    if clf.n_teachers != 1 and clf.teacher_predictions == "cross_fit" and len(finished) > 1:
        # The files keep each generation's averaged teacher, not the out-of-fold outputs
        # of every generation that the next average is made of.
        raise LineageError(
            f"{lineage.path} is a cross-fit run with distillation.n_teachers="
            f"{clf.n_teachers} and {len(finished)} finished generations: it cannot be "
            f"continued, as the run folder keeps only each generation's averaged teacher. "
            f"Start a new run (or use distillation.n_teachers=1)."
        )
    if config.distillation.teacher_predictions == "cross_fit" and len(finished) > 1:
        clf.cross_fit_outputs_ = load_teacher_outputs(
            lineage, finished[-1], (_cross_fit_rows(config, y_train), n_classes)
        )
    torch.manual_seed(config.seed + len(finished))
    try:
        clf.fit(X_train, y_train)
    except LineageError as exc:  # a file that cannot be written: one message, the way on
        raise LineageError(f"{exc}\n{_stopped(lineage, config)}") from None
    except BaseException:
        print(_stopped(lineage, config), file=sys.stderr, flush=True)
        raise
    if len(_run.finished(lineage, config)) != clf.n_generations_:
        raise RuntimeError(
            f"{clf.n_generations_} generations were fitted but "
            f"{len(_run.finished(lineage, config))} "
            f"written: this version of sklearn_selfdistill does not call "
            f"SelfDistillationClassifier's on_generation_end."
        )
    if clf.termination_condition_ == "plateau":
        print(
            f"Stopped after generation {clf.n_generations_ - 1}: no better validation "
            f"accuracy for {config.generations.plateau_patience} generations.",
            flush=True,
        )


def train(config, *, runs_dir="runs", resume=None):
    """Train the generations of ``config`` and write them to a run folder.

    Parameters
    ----------
    config : omegaconf.DictConfig
        The resolved configuration.
    runs_dir : path-like, default="runs"
        Where a new run folder is made.
    resume : Lineage or None
        The run to continue instead of starting a new one; ``config`` is its
        configuration.

    Returns
    -------
    lineage : Lineage
        The run folder.
    """
    with contextlib.ExitStack() as stack:
        if resume is not None:  # locked and checked before any data is loaded
            stack.enter_context(resume.locked())
            _run.finished(resume, config)
            resume.check_writable()
        return _train(config, runs_dir, resume, stack)


def _train(config, runs_dir, resume, stack):
    X_train, y_train = training_rows(config, *load_split(config, "train"))
    X_test, y_test = load_split(config, "test")
    labelled = y_train != UNLABELED
    classes = np.unique(y_train[labelled])
    net = build_net(config, X_train, classes.shape[0])
    if resume is None:
        lineage = Lineage.create(runs_dir, to_yaml(config))
        stack.enter_context(lineage.locked())
        print(f"Run folder: {lineage.path}", flush=True)
    else:
        lineage = resume
        lineage.discard_unfinished()
        print(f"Run folder: {lineage.path} (resumed)", flush=True)
    finished = _run.finished(lineage, config)
    _record_process(lineage, resume is not None, len(finished))
    for generation in finished:  # a checkpoint left by a crash just after the generation
        discard_partial(lineage.path, generation)
    if supports_epoch_checkpoints(config):
        checkpoint = EpochCheckpoint(
            str(lineage.path), _run.binding(config), config.training.epochs
        )
        # Last: an epoch's state is saved after every other callback's end of epoch
        # (the learning-rate scheduler's step included).
        net.set_params(callbacks=[*net.callbacks, ("epoch_checkpoint", checkpoint)])
    n_generations = config.generations.max_generations
    test_probas = {}
    data = config.data
    unlabelled = f" ({int((~labelled).sum())} unlabelled)" if not labelled.all() else ""
    noise = f", {data.label_noise:.0%} of their labels flipped" if data.label_noise else ""
    print(
        f"{config.model.name} on {data.name}: {X_train.shape[0]} training{unlabelled}"
        f"{noise} and {X_test.shape[0]} test samples, {classes.shape[0]} classes; "
        f"generations 0..{n_generations - 1} on {config.device}",
        flush=True,
    )
    if len(finished) >= n_generations:
        print(f"All {len(finished)} generations are finished; nothing to train.", flush=True)
    else:
        if finished:
            print(
                f"Generations 0..{len(finished) - 1} are finished and will not be trained "
                f"again; starting at generation {len(finished)}.",
                flush=True,
            )
        writer = _generation_writer(lineage, config, classes, X_test, y_test, test_probas)
        _fit_the_missing_generations(config, lineage, net, X_train, y_train, writer)
    finished = _run.finished(lineage, config)
    for generation in finished:  # generations trained by an earlier process
        if generation not in test_probas:
            restored = restore_generation(net, classes.shape[0], lineage.weights_path(generation))
            test_probas[generation] = restored.predict_proba(X_test)
    ensemble = np.mean([test_probas[g] for g in finished], axis=0)
    print()
    print_generations(lineage, config, accuracy(ensemble, classes, y_test))
    print(f"\nLineage written to {lineage.path}", flush=True)
    return lineage
