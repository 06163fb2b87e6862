"""Few labels (Noisy Student): 1 000 labelled Fashion-MNIST images and 59 000 unlabelled.

Fashion-MNIST (``apt-get install dataset-fashion-mnist``). Per seed, 1 000 of the 60 000
training images keep their label (100 per class, a stratified draw,
:func:`~sklearn_selfdistill.datasets.hide_labels`); the other 59 000 are unlabelled
(``unlabeled=-1``). The published 10 000 test images score every arm. The net: MLP
784-256-256-10 with dropout (the student's noise in Noisy Student; the teacher predicts
in eval mode, without it), Adam lr 1e-3, batches of 128, the last partial batch dropped,
one torch thread. Every net is early-stopped: skorch's ``EarlyStopping`` on the
accuracy of a stratified fifth of its rows held out (only the labelled ones count), the
best epoch's weights kept, at most MAX_EPOCHS epochs.

Arms (nothing is chosen on the test set):

- ``plain, 1 000 labels, early-stopped (tuned)``: **the baseline**, a net trained on the
  labelled rows alone, its patience, dropout and input noise (none, or every training
  image shifted at random by up to 2 pixels, :class:`RandomShift`) chosen among
  PATIENCES x DROPOUTS x SHIFTS by the held-out accuracy (12 candidates, more than the
  recipes get);
- ``plain, ensemble of 3 seeds``: three such nets (the chosen setting) averaged, the
  compute of a recipe's ensemble;
- ``Noisy Student, <alpha, T>: gen g``: ``SelfDistillationClassifier(net,
  n_generations=3, unlabeled=-1)`` with the baseline's chosen patience, and its chosen
  dropout and input noise; ``T=0.5`` sharpens the teacher's predictions instead of
  softening them (entropy minimisation on the unlabelled rows).
  Generation 0 is the plain net on the labelled rows; each later generation learns every
  row, the unlabelled ones from its teacher's predictions only. Also its Born-Again
  ensemble and the generation chosen by the held-out accuracy.

Goals (issue 13): the last generation at least +2 points over generation 0 on every seed,
and above the early-stopped plain net. See HAND_CHECKS for what was tried and dropped.

Run: ``python benchmarks/bench_few_labels.py [--quick] [--seeds 0 1 2]``; writes
``benchmarks/results/few_labels.md`` and ``few_labels.csv`` (not with ``--quick``, which
runs a tiny version on synthetic images).
"""

import argparse
import csv
import itertools
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import ValidSplit

sys.path.insert(0, str(Path(__file__).parent))
from _common import (
    command_line,
    fashion_mnist_flat,
    footer,
    markdown_table,
    synthetic_images,
)

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill.datasets import hide_labels
from sklearn_selfdistill.nn.models import MLP

RESULTS = Path(__file__).parent / "results"
# Tried on seed 0 while writing this study (not rerun by it), reported with its results.
HAND_CHECKS = (
    "Tried on seed 0 and dropped from the recipes (not rerun by this script): the "
    "student noised with dropout 0.3 and every training image shifted at random by up to "
    "2 pixels (RandomShift), alpha=0.5, T=1: generation 0 75.57%, generation 1 75.83%, "
    "generation 2 75.34%, ensemble 75.86%, against 79.70% for the early-stopped plain "
    "net, whose tuning had not picked the shifts: on these centred images an MLP only "
    "loses by them. RandAugment with a small CNN was not run: its per-image augmentation "
    "on this CPU does not fit the budget."
)


class RandomShift(Callback):
    """Input noise for the student: every training image shifted by up to ``pixels``.

    One draw per image and batch, batched (no per-image Python work); the rows are
    28x28 images, flat or not, and the uncovered border is zero. Validation batches and
    predictions, the teacher's included, see the clean images.
    """

    def __init__(self, pixels=2):
        self.pixels = pixels

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        rows = batch[0]
        images = rows.reshape(-1, 28, 28)
        n, p = images.shape[0], self.pixels
        padded = torch.nn.functional.pad(images, (p, p, p, p))
        dy, dx = torch.randint(0, 2 * p + 1, (2, n, 1))
        index = torch.arange(28)
        shifted = padded[
            torch.arange(n)[:, None, None], (index + dy)[:, :, None], (index + dx)[:, None, :]
        ]
        rows.copy_(shifted.reshape(rows.shape))


@dataclass(frozen=True)
class Plan:
    n_labeled: int = 1000
    max_epochs: int = 100
    seeds: tuple = (0, 1, 2)
    patiences: tuple = (5, 10, 20)
    dropouts: tuple = (0.0, 0.3)
    shifts: tuple = (0, 2)  # input noise: none, or random shifts of up to 2 pixels
    n_generations: int = 3
    # (alpha, T, dropout, shift); None: the baseline's chosen value
    recipes: tuple = ((0.7, 4.0, None, None), (0.5, 1.0, None, None), (0.5, 0.5, None, None))


QUICK = Plan(
    n_labeled=300,
    max_epochs=3,
    seeds=(0,),
    patiences=(1,),
    dropouts=(0.3,),
    shifts=(0,),
    n_generations=2,
    recipes=((0.5, 1.0, None, None), (0.5, 1.0, 0.3, 2)),
)


def make_net(plan, patience, dropout, shift):
    callbacks = [
        (
            "stop",
            EarlyStopping(
                monitor="valid_acc", lower_is_better=False, patience=patience, load_best=True
            ),
        )
    ]
    if shift:
        callbacks.append(("shift", RandomShift(shift)))
    return NeuralNetClassifier(
        MLP,
        module__in_features=784,
        module__num_classes=10,
        module__hidden_units=256,
        module__num_hidden=2,
        module__dropout=dropout,
        max_epochs=plan.max_epochs,
        batch_size=128,
        lr=1e-3,
        optimizer=torch.optim.Adam,
        iterator_train__shuffle=True,
        iterator_train__drop_last=True,
        train_split=ValidSplit(5, stratified=True),
        callbacks=callbacks,
        verbose=0,
    )


def held_out(net):
    """The best epoch's accuracy on the labelled held-out rows."""
    return float(np.nanmax(net.history[:, "valid_acc"]))


def one_seed(plan, data, seed, log):
    X, y_all, X_test, y_test = data
    y = hide_labels(y_all, plan.n_labeled, random_state=seed)
    labelled = y != -1
    scores = {}

    start = time.perf_counter()
    candidates = {}
    for setting in itertools.product(plan.patiences, plan.dropouts, plan.shifts):
        torch.manual_seed(seed)
        net = make_net(plan, *setting).fit(X[labelled], y[labelled])
        candidates[setting] = (held_out(net), float(net.score(X_test, y_test)))
    chosen = max(candidates, key=lambda c: candidates[c][0])  # first best on ties
    scores["plain, 1 000 labels, early-stopped (tuned)"] = candidates[chosen][1]
    probas = []
    for member in range(plan.n_generations):
        torch.manual_seed(seed + 1000 * member)
        net = make_net(plan, *chosen).fit(X[labelled], y[labelled])
        probas.append(net.predict_proba(X_test))
    scores[f"plain, ensemble of {plan.n_generations} seeds"] = float(
        np.mean(np.mean(probas, axis=0).argmax(axis=1) == y_test)
    )
    log(f"seed={seed} baseline {chosen}: {time.perf_counter() - start:.0f} s")

    for alpha, temperature, dropout, shift in plan.recipes:
        start = time.perf_counter()
        label = recipe_label(alpha, temperature, dropout, shift)
        patience, chosen_dropout, chosen_shift = chosen
        dropout = chosen_dropout if dropout is None else dropout
        shift = chosen_shift if shift is None else shift
        torch.manual_seed(seed)
        clf = SelfDistillationClassifier(
            make_net(plan, patience, dropout, shift),
            n_generations=plan.n_generations,
            alpha=alpha,
            temperature=temperature,
            unlabeled=-1,
            random_state=seed,
        ).fit(X, y)
        probas = list(clf.staged_predict_proba(X_test))
        generations = [float(np.mean(p.argmax(axis=1) == y_test)) for p in probas]
        for g, value in enumerate(generations):
            scores[f"{label}: gen {g}"] = value
        scores[f"{label}: ensemble"] = float(
            np.mean(np.mean(probas, axis=0).argmax(axis=1) == y_test)
        )
        choice = int(np.argmax([held_out(g) for g in clf.generations_]))
        scores[f"{label}: gen chosen on held-out"] = generations[choice]
        epochs = [len(g.history) for g in clf.generations_]
        log(f"seed={seed} {label}: epochs {epochs}, {time.perf_counter() - start:.0f} s")
    scores["chosen patience, dropout, shift"] = chosen
    log(f"seed={seed}: " + ", ".join(f"{k} {v}" for k, v in scores.items()))
    return scores


BASELINE = "plain, 1 000 labels, early-stopped (tuned)"


def recipe_label(alpha, temperature, dropout, shift):
    """The arm's name; ``None`` noise settings are the baseline's chosen ones."""
    noise = "the baseline's dropout" if dropout is None else f"dropout {dropout:g}"
    if shift is None:
        noise += " and input noise"
    elif shift:
        noise += f", shifts {shift} px"
    return f"Noisy Student, alpha={alpha:g}, T={temperature:g}, {noise}"


def tables(rows, plan):
    arms = [k for k in rows[0] if k != "chosen patience, dropout, shift"]

    def per_seed(arm):
        return 100 * np.array([r[arm] for r in rows])

    body = []
    for arm in arms:
        s, diff = per_seed(arm), per_seed(arm) - per_seed(BASELINE)
        body.append(
            [
                arm,
                f"{s.mean():.2f}" + (f" ({s.std(ddof=1):.2f})" if s.size > 1 else ""),
                " / ".join(f"{v:.2f}" for v in s),
                f"{diff.mean():+.2f} ({(diff > 0).sum()}/{diff.size})",
            ]
        )
    header = ["arm", "mean (std)", "per seed", "vs early-stopped plain (seeds above)"]
    goals = []
    last = plan.n_generations - 1
    labels = list(dict.fromkeys(a.rsplit(": ", 1)[0] for a in arms if a.startswith("Noisy")))
    for label in labels:
        gain = per_seed(f"{label}: gen {last}") - per_seed(f"{label}: gen 0")
        over = per_seed(f"{label}: gen {last}") - per_seed(BASELINE)
        goals.append(
            f"- `{label}`: gen {last} over gen 0 per seed "
            f"{', '.join(f'{d:+.2f}' for d in gain)} (goal >= +2 on every seed: "
            f"**{'met' if (gain >= 2).all() else 'not met'}**); over the early-stopped "
            f"plain net {over.mean():+.2f} on the mean (goal > 0: "
            f"**{'met' if over.mean() > 0 else 'not met'}**)."
        )
    chosen = [r["chosen patience, dropout, shift"] for r in rows]
    goals.append(f"- Baseline's chosen (patience, dropout, shift) per seed: {chosen}.")
    return markdown_table(header, body), "\n".join(goals)


def load(quick):
    """Fashion-MNIST, or for ``--quick`` synthetic images a net can learn."""
    return synthetic_images(100, 0.4, 700) if quick else fashion_mnist_flat()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny synthetic run, no file")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    if args.seeds:
        plan = replace(plan, seeds=tuple(args.seeds))
    torch.set_num_threads(1)
    start = time.perf_counter()
    data = load(args.quick)
    rows = [one_seed(plan, data, seed, lambda m: print(m, flush=True)) for seed in plan.seeds]
    if not args.quick:  # every accuracy is kept first, whatever happens to the tables
        RESULTS.mkdir(exist_ok=True)
        with open(RESULTS / "few_labels.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["seed", "arm", "test_accuracy"])
            for seed, row in zip(plan.seeds, rows, strict=True):
                for arm, value in row.items():
                    writer.writerow([seed, arm, repr(value)])
    table, goals = tables(rows, plan)
    text = "\n".join(
        [
            "# Few labels (Noisy Student): Fashion-MNIST MLP, 1 000 labels",
            "",
            f"Test accuracy % on the 10 000 test images, seeds {list(plan.seeds)}; "
            f"{plan.n_labeled} labelled training images, the other "
            f"{data[1].shape[0] - plan.n_labeled} unlabelled. Right: each arm minus the "
            "early-stopped plain net, points (seeds where the arm is above it). Arms: see "
            "the script's docstring.",
            "",
            table,
            "",
            goals,
            "",
            HAND_CHECKS,
            "",
            footer(
                command_line(),
                packages=("numpy", "scikit-learn", "torch", "skorch"),
                threads=1,
                seconds=time.perf_counter() - start,
            ),
            "",
        ]
    )
    print(text)
    if not args.quick:
        (RESULTS / "few_labels.md").write_text(text)
    return rows


if __name__ == "__main__":
    main()
