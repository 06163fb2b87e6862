"""Test accuracy over self-distillation generations (issue 5), on the CPU.

Two studies, each reporting the test accuracy of every generation (mean and sample
standard deviation over seeds, gain over generation 0 in points) and of the
Born-Again ensemble (the average of all generations' probabilities, from
``staged_predict_proba``):

- ``fashion``: Fashion-MNIST (``apt-get install dataset-fashion-mnist``), an MLP
  784-256-256-10 in a skorch ``NeuralNetClassifier`` wrapped by
  ``SelfDistillationClassifier``, 5 generations, 3 seeds (``torch.manual_seed`` and the
  meta-estimator's ``random_state``). The 60 000 training images are split once
  (stratified, fixed) into 55 000 training rows and 5 000 validation rows; the
  published 10 000 test images are used only for the reported numbers. First a cheap
  proxy search (10 000 of the training rows, 1 seed, scored on the validation rows)
  over alpha, temperature and the training setup; then the full 3-seed study for the
  chosen configuration and for the library's defaults (alpha=0.7, T=4). The "best
  generation" is the one with the best mean validation accuracy, reported on test.
  Target (issue 5): best generation >= generation 0 + 0.5 points and ensemble >=
  generation 0 + 1.0 point, means over the seeds.
- ``digits``: scikit-learn's digits (X / 16), a stratified 75/25 train/test split,
  ``LogisticRegression`` and ``HistGradientBoostingClassifier`` wrapped by
  ``SelfDistillationClassifier`` with ``teacher_predictions="in_sample"`` and
  ``"cross_fit"``, 5 generations, alpha=0.7, T=4. Both models are deterministic on a
  given training set (gradient boosting with ``early_stopping=False``), so the seed
  is the split's ``random_state``.

Run: ``python benchmarks/bench_generations.py [--study fashion|digits|all] [--quick]``;
writes ``benchmarks/results/generations_fashion_mnist_mlp.md`` and
``generations_digits.md`` (and a ``.csv`` of every accuracy next to each). ``--quick``
runs a tiny version and writes nothing unless ``--out-dir`` is given.
"""

import argparse
import csv
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, machine, markdown_table

from sklearn_selfdistill import SelfDistillationClassifier, datasets
from sklearn_selfdistill.nn.models import MLP

RESULTS_DIR = Path(__file__).parent / "results"
DEFAULT_ALPHA, DEFAULT_TEMPERATURE = 0.7, 4.0
TARGET_BEST_GAIN, TARGET_ENSEMBLE_GAIN = 0.5, 1.0  # points over generation 0
BATCH_SIZE = 128
OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}

# Checks run by hand while writing this benchmark (not rerun by it), reported with its
# results because they shaped the search.
HAND_CHECKS_FASHION = (
    "Checks run by hand before the search (not rerun by this script): single nets, no "
    "distillation, seed 0, the 10000 proxy rows, validation accuracy after each of 20 "
    "epochs. SGD without momentum at lr 0.1, 0.05 and 0.02 with skorch's default last "
    "partial batch (16 rows): the accuracy swung by 10 to 20 points from one epoch to "
    "the next (from epoch 6 on, lows of 0.65-0.70 and highs of 0.79-0.85; 0.78, 0.76, "
    "0.78 after epoch 20); lr 0.01: steady but slow (0.75); SGD with momentum 0.9 at lr "
    "0.01: 0.83; Adam at lr 1e-3: 0.87; SGD at lr 0.1 with the partial batch dropped: "
    "0.86. Hence the partial batch is dropped in every configuration, and Adam is one of "
    "the step-2 changes. One torch thread ran an epoch of 10000 rows in 0.48 s, two "
    "threads in 2.9 s, on this shared two-core machine."
)
HAND_CHECKS_DIGITS = (
    "Before the scikit-learn students learnt the flexible student's distribution "
    "(they learnt the softened teacher itself, which softened again every generation), "
    "this script gave, for generation 4: LogisticRegression -1.24 points in_sample and "
    "-1.24 cross_fit, HistGradientBoosting -3.56 in_sample and -3.24 cross_fit; the mean "
    "largest predicted probability on the training rows (split 0) of logistic regression "
    "fell 0.91, 0.51, 0.35, 0.33, 0.33 over generations 0-4 at T=4. A memorising teacher "
    "in_sample (HistGradientBoosting) now hands its labels back: every generation is "
    "generation 0."
)


# -- accuracies and tables (pure functions) ---------------------------------------------


def staged_accuracies(clf, X, y):
    """Accuracy of every generation, generation 0 first, then of the Born-Again ensemble."""
    probas = list(clf.staged_predict_proba(X))
    accuracies = [np.mean(clf.classes_[p.argmax(axis=1)] == y) for p in probas]
    ensemble = clf.classes_[np.mean(probas, axis=0).argmax(axis=1)]
    return np.array([*accuracies, np.mean(ensemble == y)])


def summarize(accuracies):
    """Mean, sample standard deviation and gain over generation 0 (points), per column.

    ``accuracies`` has one row per seed and one column per generation, the ensemble
    last. The standard deviation is NaN with a single seed.
    """
    accuracies = np.atleast_2d(np.asarray(accuracies, dtype=float))
    mean = accuracies.mean(axis=0)
    std = accuracies.std(axis=0, ddof=1) if accuracies.shape[0] > 1 else np.full_like(mean, np.nan)
    return {"mean": mean, "std": std, "gain": 100 * (mean - mean[0])}


def best_generation(test, validation=None):
    """``(generation, how)``: the best mean validation generation, else the best on test."""
    scores, how = (test, "best mean test accuracy: optimistic")
    if validation is not None:
        scores, how = (validation, "best mean validation accuracy")
    return int(np.argmax(summarize(scores)["mean"][:-1])), how


def generation_table(test, validation=None):
    """Markdown table: one row per generation, then the ensemble row."""
    summary = summarize(test)
    n_generations = summary["mean"].shape[0] - 1
    header = ["generation", "mean test accuracy", "std", "gain over gen 0 (points)"]
    if validation is not None:
        header.append("mean validation accuracy")
        val_mean = summarize(validation)["mean"]
    labels = [str(g) for g in range(n_generations)]
    labels.append(f"ensemble of 0-{n_generations - 1}")
    rows = []
    for i, label in enumerate(labels):
        std = "n/a" if np.isnan(summary["std"][i]) else f"{summary['std'][i]:.4f}"
        row = [label, f"{summary['mean'][i]:.4f}", std, f"{summary['gain'][i]:+.2f}"]
        if validation is not None:
            row.append(f"{val_mean[i]:.4f}")
        rows.append(row)
    return markdown_table(header, rows)


def verdict(test, validation=None):
    """The target line: best generation and ensemble gains against 0.5 and 1.0 points."""
    summary = summarize(test)
    n_seeds = np.atleast_2d(test).shape[0]
    generation, how = best_generation(test, validation)
    best_gain, ensemble_gain = summary["gain"][generation], summary["gain"][-1]
    best_met = best_gain >= TARGET_BEST_GAIN
    ensemble_met = ensemble_gain >= TARGET_ENSEMBLE_GAIN
    overall = "met" if best_met and ensemble_met else "not met"
    text = (
        f"Target (best generation >= gen 0 + {TARGET_BEST_GAIN} points, ensemble >= gen 0 + "
        f"{TARGET_ENSEMBLE_GAIN} point, test means over {n_seeds} seed(s)): **{overall}**. "
        f"Best generation: {generation} ({how}), {best_gain:+.2f} points "
        f"({'met' if best_met else 'not met'}); ensemble {ensemble_gain:+.2f} points "
        f"({'met' if ensemble_met else 'not met'})."
    )
    if validation is not None:
        on_test = int(np.argmax(summary["mean"][:-1]))
        text += (
            f" For reference, the best generation on test (optimistic) is {on_test}, "
            f"{summary['gain'][on_test]:+.2f} points."
        )
    return text


def machine_line(command):
    packages = ("numpy", "scikit-learn", "torch", "skorch")
    return (
        f"Command: `{command}`; machine: "
        f"{machine(packages=packages, threads=torch.get_num_threads())}."
    )


def write_csv(path, rows):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["study", "configuration", "split", "seed", "generation", "accuracy"])
        writer.writerows(rows)


def csv_rows(study, configuration, split, seeds, accuracies):
    rows = []
    for seed, row in zip(seeds, np.atleast_2d(accuracies), strict=True):
        labels = [*range(row.shape[0] - 1), "ensemble"]
        rows += [
            [study, configuration, split, seed, g, repr(float(a))]
            for g, a in zip(labels, row, strict=True)
        ]
    return rows


# -- Fashion-MNIST MLP ------------------------------------------------------------------


@dataclass(frozen=True)
class NetConfig:
    """One configuration of the distilled MLP."""

    alpha: float = DEFAULT_ALPHA
    temperature: float = DEFAULT_TEMPERATURE
    epochs: int = 20
    dropout: float = 0.0
    optimizer: str = "sgd"
    lr: float = 0.1
    drop_last: bool = True

    def label(self):
        kept = "" if self.drop_last else ", last partial batch kept"
        return (
            f"alpha={self.alpha:g}, T={self.temperature:g}, {self.epochs} epochs, "
            f"dropout {self.dropout:g}, {self.optimizer} lr {self.lr:g}{kept}"
        )


@dataclass(frozen=True)
class FashionPlan:
    """Sizes and search of the Fashion-MNIST study."""

    n_validation: int = 5000
    n_train: int = 55000
    n_proxy: int = 10000
    n_generations: int = 5
    seeds: tuple = (0, 1, 2)
    proxy_seed: int = 0
    base: NetConfig = NetConfig()
    # Step 0: diagnostics of the base setup, reported but never chosen. skorch keeps
    # the last partial batch of an epoch (16 rows of the proxy's 10 000); with it, SGD
    # at lr 0.1 ended consecutive epochs up to 20 points of validation accuracy apart,
    # without it the swings mostly went away, so every other configuration drops it.
    diagnostics: tuple = ({"drop_last": False},)
    # Step 1 searches alpha and T on the base training setup; step 2 changes the
    # training setup of the best step-1 (alpha, T).
    alpha_temperature: tuple = ((0.7, 4.0), (0.5, 4.0), (0.9, 4.0), (0.7, 2.0), (0.7, 1.0))
    setup_changes: tuple = (
        {"dropout": 0.2},
        {"optimizer": "adam", "lr": 1e-3},
        {"epochs": 40},
    )
    # Changes the full study cannot afford in the time budget: tried, reported, not chosen.
    unaffordable: tuple = ({"epochs": 40},)


QUICK_FASHION = FashionPlan(
    n_validation=500,
    n_train=2000,
    n_proxy=1000,
    n_generations=2,
    seeds=(0,),
    base=NetConfig(epochs=1),
    diagnostics=(),
    alpha_temperature=((0.7, 4.0), (0.5, 2.0)),
    setup_changes=({"dropout": 0.2},),
    unaffordable=(),
)


def make_net(config):
    return NeuralNetClassifier(
        MLP,
        module__in_features=784,
        module__num_classes=10,
        module__hidden_units=256,
        module__num_hidden=2,
        module__dropout=config.dropout,
        max_epochs=config.epochs,
        batch_size=BATCH_SIZE,
        lr=config.lr,
        optimizer=OPTIMIZERS[config.optimizer],
        iterator_train__shuffle=True,
        iterator_train__drop_last=config.drop_last,
        train_split=None,
        verbose=0,
    )


def fit_generations(config, X, y, seed, n_generations):
    torch.manual_seed(seed)
    return SelfDistillationClassifier(
        make_net(config),
        n_generations=n_generations,
        alpha=config.alpha,
        temperature=config.temperature,
        random_state=seed,
    ).fit(X, y)


def load_fashion_mnist(data_dir, split):
    """Flattened float32 images in [0, 1] and int64 labels, from the library's loader."""
    return datasets.load_fashion_mnist(split=split, flatten=True, data_home=data_dir)


def fashion_data(load, data_dir, plan):
    """Flattened [0, 1] float32 splits: proxy, train, validation (from training), test."""
    X, labels = load(data_dir, "train")
    X_test, test_labels = load(data_dir, "test")
    X_train, X_val, y_train, y_val = train_test_split(
        X,
        labels,
        test_size=plan.n_validation,
        train_size=plan.n_train,
        stratify=labels,
        random_state=0,
    )
    X_proxy, _, y_proxy, _ = train_test_split(
        X_train, y_train, train_size=plan.n_proxy, stratify=y_train, random_state=0
    )
    return {
        "proxy": (X_proxy, y_proxy),
        "train": (X_train, y_train),
        "validation": (X_val, y_val),
        "test": (X_test, test_labels),
    }


def proxy_scores(accuracies):
    """Validation gains (points) of a proxy run: mean of gens 1+, best gen, ensemble."""
    gains = 100 * (accuracies - accuracies[0])
    return {
        "mean_gain": float(gains[1:-1].mean()),
        "best_gain": float(gains[1:-1].max()),
        "best": int(np.argmax(accuracies[1:-1])) + 1,
        "ensemble_gain": float(gains[-1]),
    }


def proxy_search(data, plan, log):
    """Coordinate search on the proxy; returns the tried rows and the chosen config.

    The score is the mean validation gain of generations 1+ over generation 0: less
    noisy than the best generation's gain, which picks the luckiest of several draws.
    """
    X, y = data["proxy"]
    X_val, y_val = data["validation"]
    tried = []

    def trial(step, config):
        start = time.perf_counter()
        clf = fit_generations(config, X, y, plan.proxy_seed, plan.n_generations)
        accuracies = staged_accuracies(clf, X_val, y_val)
        row = {
            "step": step,
            "config": config,
            "accuracies": accuracies,
            "seconds": time.perf_counter() - start,
            **proxy_scores(accuracies),
        }
        tried.append(row)
        log(
            f"proxy {step} {config.label()}: gen 0 {accuracies[0]:.4f}, mean gain "
            f"{row['mean_gain']:+.2f}, ensemble {row['ensemble_gain']:+.2f}, "
            f"{row['seconds']:.0f} s"
        )
        return row

    for change in plan.diagnostics:
        trial("0: diagnostic", replace(plan.base, **change))
    step1_rows = [
        trial("1: alpha, T", replace(plan.base, alpha=alpha, temperature=temperature))
        for alpha, temperature in plan.alpha_temperature
    ]
    step1 = max(step1_rows, key=lambda row: row["mean_gain"])["config"]
    affordable = [step1]
    for change in plan.setup_changes:
        row = trial("2: training", replace(step1, **change))
        if change not in plan.unaffordable:
            affordable.append(row["config"])
    scored = [row for row in tried if row["config"] in affordable]
    chosen = max(scored, key=lambda row: row["mean_gain"])["config"]
    return tried, chosen


def tried_table(tried, chosen, plan):
    lines = [
        "| step | alpha | T | epochs | dropout | optimizer, lr | last partial batch | "
        "gen 0 val | mean gain gens 1+ | best distilled gen: gain | ensemble gain | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in tried:
        c = row["config"]
        note = " **(chosen)**" if c == chosen else ""
        if any(all(getattr(c, k) == v for k, v in u.items()) for u in plan.unaffordable):
            note += " (outside the full study's time budget)"
        lines.append(
            f"| {row['step']}{note} | {c.alpha:g} | {c.temperature:g} | {c.epochs} | "
            f"{c.dropout:g} | {c.optimizer}, {c.lr:g} | {'dropped' if c.drop_last else 'kept'} | "
            f"{row['accuracies'][0]:.4f} | "
            f"{row['mean_gain']:+.2f} | {row['best']}: {row['best_gain']:+.2f} | "
            f"{row['ensemble_gain']:+.2f} | {row['seconds']:.1f} |"
        )
    return "\n".join(lines)


def full_study(config, data, plan, log):
    """Validation and test accuracies, one row per seed, of the full-size study."""
    X, y = data["train"]
    results = {"validation": [], "test": []}
    start = time.perf_counter()
    for seed in plan.seeds:
        clf = fit_generations(config, X, y, seed, plan.n_generations)
        for split in results:
            results[split].append(staged_accuracies(clf, *data[split]))
        log(f"full {config.label()} seed {seed}: test {np.round(results['test'][-1], 4)}")
    results = {split: np.array(rows) for split, rows in results.items()}
    results["seconds"] = time.perf_counter() - start
    return results


def fashion_study(quick=False, data_dir=None, load=load_fashion_mnist, log=print, command=""):
    """Run the Fashion-MNIST study; returns ``(markdown, csv rows, summary)``."""
    plan = QUICK_FASHION if quick else FashionPlan()
    start = time.perf_counter()
    data = fashion_data(load, data_dir, plan)
    tried, chosen = proxy_search(data, plan, log)
    proxy_seconds = time.perf_counter() - start
    defaults = replace(chosen, alpha=DEFAULT_ALPHA, temperature=DEFAULT_TEMPERATURE)
    runs = {"chosen": full_study(chosen, data, plan, log)}
    if defaults != chosen:
        runs["defaults"] = full_study(defaults, data, plan, log)
    total = time.perf_counter() - start

    n_train, n_val = len(data["train"][1]), len(data["validation"][1])
    n_test, n_proxy = len(data["test"][1]), len(data["proxy"][1])
    seeds = ", ".join(str(s) for s in plan.seeds)
    gen0 = max(row["accuracies"][0] for row in tried)
    standard_error = 100 * np.sqrt(gen0 * (1 - gen0) / n_val)
    sections = [
        "# Test accuracy over self-distillation generations: Fashion-MNIST MLP (CPU)\n",
        f"Setup: MLP 784-256-256-10 (ReLU) in skorch `NeuralNetClassifier` wrapped by "
        f"`SelfDistillationClassifier`, {plan.n_generations} generations (fresh weights "
        f"each), batch {BATCH_SIZE} (the last partial batch of each epoch dropped: see "
        f"step 0 of the tried configurations), inputs flattened and scaled to [0, 1]. Data: "
        f"{n_train} training rows and {n_val} validation rows (a fixed stratified split of "
        f"the training set), the published {n_test} test images. Seeds {seeds} "
        f"(`torch.manual_seed` and `random_state`); std is the sample standard deviation "
        f"over the seeds. The ensemble averages the probabilities of all generations.\n",
    ]
    for name, title in (("chosen", "Chosen configuration"), ("defaults", "Library defaults")):
        if name not in runs:
            continue
        config = chosen if name == "chosen" else defaults
        note = (
            " (these are also the library's defaults alpha=0.7, T=4)"
            if (name == "chosen" and defaults == chosen)
            else ""
        )
        run = runs[name]
        sections.append(
            f"## {title}: {config.label()}{note}\n\n"
            f"{generation_table(run['test'], run['validation'])}\n\n"
            f"{verdict(run['test'], run['validation'])}\n\n"
            f"{len(plan.seeds)} seed(s) in {run['seconds'] / 60:.1f} min.\n"
        )
    sections.append(
        f"## Configurations tried on the proxy\n\n"
        f"{n_proxy} training rows (a stratified subset of the {n_train}), seed "
        f"{plan.proxy_seed}, scored on the {n_val} validation rows (never on test). Step 0 "
        f"is a diagnostic of the base setup, never chosen: skorch's default keeps the last "
        f"partial batch of each epoch. Step 1 "
        f"varies alpha and T on the base setup ({plan.base.label()}); step 2 changes the "
        f"training setup of the best step-1 pair. The choice maximises the mean validation "
        f"gain of generations 1+ over generation 0 (points). One seed on {n_val} rows: the "
        f"standard error of one validation accuracy is about {standard_error:.2f} points "
        f"(differences between generations on the same rows are less noisy than that).\n\n"
        f"{tried_table(tried, chosen, plan)}\n\n{HAND_CHECKS_FASHION}\n\n"
        f"Proxy search: {proxy_seconds / 60:.1f} min; whole study: {total / 60:.1f} min.\n"
    )
    sections.append(machine_line(command) + "\n")
    rows = []
    for row in tried:
        label = "proxy " + row["config"].label()
        rows += csv_rows("fashion", label, "validation", [plan.proxy_seed], row["accuracies"])
    for name, run in runs.items():
        config = chosen if name == "chosen" else defaults
        for split in ("validation", "test"):
            rows += csv_rows("fashion", config.label(), split, plan.seeds, run[split])
    summary = {"tried": tried, "chosen": chosen, "runs": runs, "seconds": total}
    return "\n".join(sections), rows, summary


# -- digits -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DigitsPlan:
    n_generations: int = 5
    seeds: tuple = (0, 1, 2, 3, 4)
    hgb_max_iter: int = 100


QUICK_DIGITS = DigitsPlan(n_generations=2, seeds=(0,), hgb_max_iter=10)


def digits_estimators(plan):
    return {
        "LogisticRegression": LogisticRegression(max_iter=1000),
        "HistGradientBoostingClassifier": HistGradientBoostingClassifier(
            max_iter=plan.hgb_max_iter, early_stopping=False
        ),
    }


def digits_study(quick=False, log=print, command=""):
    """Run the digits study; returns ``(markdown, csv rows, summary)``."""
    plan = QUICK_DIGITS if quick else DigitsPlan()
    X, y = load_digits(return_X_y=True)
    X = X / 16
    start = time.perf_counter()
    runs = {}
    for name, estimator in digits_estimators(plan).items():
        for teacher in ("in_sample", "cross_fit"):
            accuracies, run_start = [], time.perf_counter()
            for seed in plan.seeds:
                X_train, X_test, y_train, y_test = train_test_split(
                    X, y, test_size=0.25, stratify=y, random_state=seed
                )
                clf = SelfDistillationClassifier(
                    estimator,
                    n_generations=plan.n_generations,
                    alpha=DEFAULT_ALPHA,
                    temperature=DEFAULT_TEMPERATURE,
                    teacher_predictions=teacher,
                    random_state=seed,
                ).fit(X_train, y_train)
                accuracies.append(staged_accuracies(clf, X_test, y_test))
            runs[name, teacher] = {
                "test": np.array(accuracies),
                "seconds": time.perf_counter() - run_start,
            }
            log(f"digits {name} {teacher}: {np.round(np.mean(accuracies, axis=0), 4)}")
    total = time.perf_counter() - start

    n_test = int(np.ceil(0.25 * len(y)))
    seeds = ", ".join(str(s) for s in plan.seeds)
    sections = [
        "# Test accuracy over self-distillation generations: digits\n",
        f"Setup: scikit-learn digits ({len(y)} images of 8x8, X / 16), stratified "
        f"train/test split {len(y) - n_test}/{n_test} with `random_state` = seed; seeds "
        f"{seeds}. `SelfDistillationClassifier(n_generations={plan.n_generations}, "
        f"alpha={DEFAULT_ALPHA}, temperature={DEFAULT_TEMPERATURE:g})` around "
        f"`LogisticRegression(max_iter=1000)` and `HistGradientBoostingClassifier("
        f"max_iter={plan.hgb_max_iter}, early_stopping=False)` (early stopping off so that "
        f"every generation trains the same way: 'auto' depends on the number of rows, and "
        f"the soft-target generations see up to two rows per image). Both models are "
        f"deterministic on a given training set, so the seed varies the split; the "
        f"cross-fit teacher uses `cv=5` (stratified, unshuffled). std is the sample "
        f"standard deviation over the seeds. No validation split here: the best generation "
        f"is the best on test, which is optimistic.\n",
    ]
    for (name, teacher), run in runs.items():
        sections.append(
            f'## {name}, teacher_predictions="{teacher}"\n\n'
            f"{generation_table(run['test'])}\n\n"
            f"{verdict(run['test'])} (The issue states this target for Fashion-MNIST; "
            f"it is applied here for comparison.)\n"
        )
    lines = [
        "| model | teacher_predictions | gen 0 | best generation (on test) | ensemble | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for (name, teacher), run in runs.items():
        summary = summarize(run["test"])
        best = int(np.argmax(summary["mean"][:-1]))
        lines.append(
            f"| {name} | {teacher} | {summary['mean'][0]:.4f} | {best}: "
            f"{summary['mean'][best]:.4f} ({summary['gain'][best]:+.2f}) | "
            f"{summary['mean'][-1]:.4f} ({summary['gain'][-1]:+.2f}) | {run['seconds']:.1f} |"
        )
    sections.append(
        "## Configurations tried\n\nEvery configuration this script runs, all at alpha=0.7, "
        "T=4 (no tuning on digits); mean test accuracy, gain over gen 0 in points.\n\n"
        + "\n".join(lines)
        + f"\n\n{HAND_CHECKS_DIGITS}\n\nWhole study: {total / 60:.1f} min.\n"
    )
    sections.append(machine_line(command) + "\n")
    rows = []
    for (name, teacher), run in runs.items():
        rows += csv_rows("digits", f"{name} {teacher}", "test", plan.seeds, run["test"])
    return "\n".join(sections), rows, {"runs": runs, "seconds": total}


# -- command line -----------------------------------------------------------------------


@contextmanager
def limited_threads(n_threads):
    """Torch, BLAS and OpenMP on ``n_threads`` threads; torch's setting restored after.

    On a shared two-core machine, threads fighting for the cores made torch and
    scikit-learn several times (LogisticRegression a hundred times) slower than one.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        torch.set_num_threads(previous)


OUTPUTS = {
    "fashion": "generations_fashion_mnist_mlp",
    "digits": "generations_digits",
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", choices=["fashion", "digits", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="a tiny run; writes no file")
    parser.add_argument("--out-dir", type=Path, default=None, help="where the results go")
    parser.add_argument(
        "--data-dir", default=None, help="Fashion-MNIST folder (default: the library's search)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        choices=[1, 2],
        default=1,
        help="threads of torch, BLAS and OpenMP (one was the faster on a shared 2-core machine)",
    )
    args = parser.parse_args(argv)
    command = command_line(
        ["benchmarks/bench_generations.py", *(sys.argv[1:] if argv is None else argv)]
    )
    out_dir = args.out_dir if args.out_dir is not None or args.quick else RESULTS_DIR
    studies = ["fashion", "digits"] if args.study == "all" else [args.study]
    summaries = {}
    with limited_threads(args.threads):
        for study in studies:
            if study == "fashion":
                text, rows, summary = fashion_study(args.quick, args.data_dir, command=command)
            else:
                text, rows, summary = digits_study(args.quick, command=command)
            print(text)
            summaries[study] = summary
            if out_dir is not None:
                out_dir.mkdir(parents=True, exist_ok=True)
                (out_dir / f"{OUTPUTS[study]}.md").write_text(text)
                write_csv(out_dir / f"{OUTPUTS[study]}.csv", rows)
                print(f"written to {out_dir / OUTPUTS[study]}.md and .csv")
    return summaries


if __name__ == "__main__":
    main()
