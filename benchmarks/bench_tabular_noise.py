"""Tabular data with noisy labels: self-distillation against a tuned plain model.

digits, breast_cancer and wine, with 0%, 20% and 40% of the training labels flipped to
another class drawn uniformly (seeded; the test labels stay clean). A stratified 70/30
split per seed, 5 seeds. Arms, each fit on the noisy training rows and scored on the
clean test rows:

- ``LR, C tuned``: ``StandardScaler`` + ``LogisticRegression``, ``C`` chosen by 3-fold
  ``GridSearchCV`` over 6 values (the strongest plain baseline with that budget);
- ``LR distilled, alpha and T tuned``: ``SelfDistillationClassifier`` around the same
  pipeline with the default ``C=1``, 3 generations, ``alpha`` in {0.3, 0.7, 1.0} and ``T``
  in {1, 4} chosen by the same 3-fold search (6 candidates: the same budget);
- ``LR distilled, cross-fit``: the same search with ``teacher_predictions="cross_fit"``;
- ``LR distilled on the tuned C``: what a user would do after the baseline, the
  distiller around the pipeline with the baseline's chosen ``C``, ``alpha`` and ``T``
  searched as above (12 candidates in all: this arm has twice the budget);
- ``HGB`` and ``RF``: ``HistGradientBoostingClassifier(max_iter=50)`` and
  ``RandomForestClassifier(100 trees)`` as they are, against their self-distillation
  with a cross-fit teacher (``cv=3``), 2 generations, alpha=0.7, T=1 (no search for
  either: the same budget);
- ``HGB, tuned`` and ``RF, tuned``: the plain models with their regulariser chosen by
  3-fold search over 6 candidates (HGB: ``min_samples_leaf`` in {5, 20, 50} and
  ``l2_regularization`` in {0, 1}; RF: ``min_samples_leaf`` in {1, 3, 10} and
  ``max_features`` in {"sqrt", 0.5}), against the same untuned distillation: six
  times its budget.

Against cleanlab (the ``bench`` extra), around each base model (``HGB``, ``RF`` and the
``LR`` pipeline with the C the baseline chose):

- ``<model>, CleanLearning``: ``cleanlab.classification.CleanLearning(model, seed=seed)``
  (``cv_n_folds=5``): out-of-fold probabilities, the rows confident learning flags as
  label issues dropped, the model refit on the rest (weighted per class where it takes
  ``sample_weight``);
- ``<model>, recipe``: the library's best recipe found on digits with 40% noise, fixed
  before the run, the same for every model and data set (``RECIPE``): ``alpha=0.7``,
  ``T=1``, ``teacher_predictions="cross_fit"`` with ``cv=5`` (the 5 folds CleanLearning
  uses), 2 generations. (``alpha=1`` with ``soft_targets="hard"``, relabelling each row
  with its out-of-fold teacher's most probable class, cleanlab's "fix" where it
  "drops", was as good on digits but fell 30 points on wine with HGB);
- ``<model>, multi-teacher``: ``n_teachers="all"``, 3 generations, cross-fit (``cv=3``),
  alpha=0.7, T=1: generation 2 learns the average of generations 0 and 1 out of fold;
- ``<model>, CleanLearning then recipe``: the rows CleanLearning keeps (its issues found
  with the plain model), then the recipe on those rows.

Fits of the base model per arm: ``FITS``, also the last table of the results and a
column of the csv (a soft-target fit is on the rows repeated per class, so it costs
more than a plain fit). The LR arms built on the baseline's C count its 19.

The table gives the mean test accuracy over the seeds (std in parentheses) and each
distilled arm's gain over its plain arm, in points; ``tabular_noise.csv`` has every
seed. BLAS/OpenMP on one thread. Run: ``python benchmarks/bench_tabular_noise.py
[--quick] [--seeds 0 1 2 3 4]``; writes ``benchmarks/results/tabular_noise.md`` and
``.csv`` (not with ``--quick``). A run can be split into parts that run side by side
(``--datasets``, ``--noises``, ``--arms``, each part writing its rows with ``--csv``)
and the tables made from the parts with ``--from-csv part1.csv part2.csv ...`` (a later
file's row replaces an earlier one's; the arms are seeded, so a row of an arm whose code
has not changed comes out the same in any run).
"""

import argparse
import csv
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, footer, markdown_table

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill.datasets import flip_labels

RESULTS = Path(__file__).parent / "results"
DATASETS = {"digits": load_digits, "breast_cancer": load_breast_cancer, "wine": load_wine}
C_GRID = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
DISTILLATION_GRID = {"alpha": [0.3, 0.7, 1.0], "temperature": [1.0, 4.0]}
PAIRS = [
    ("LR distilled, alpha and T tuned", "LR, C tuned"),
    ("LR distilled, cross-fit, alpha and T tuned", "LR, C tuned"),
    ("LR distilled on the tuned C", "LR, C tuned"),
    ("HGB distilled, cross-fit", "HGB"),
    ("HGB distilled, cross-fit", "HGB, tuned"),
    ("RF distilled, cross-fit", "RF"),
    ("RF distilled, cross-fit", "RF, tuned"),
]
#: The library's best recipe found (fixed before the final run; the same for every model).
RECIPE = {"alpha": 0.7, "temperature": 1.0, "cv": 5, "n_generations": 2}
MULTI_TEACHER = {
    "n_teachers": "all",
    "n_generations": 3,
    "alpha": 0.7,
    "temperature": 1.0,
    "cv": 3,
}
CLEANLAB_FOLDS = 5
#: Fits of the base model per arm (a cross-fit generation: ``cv`` + 1).
FITS = {
    "LR, C tuned": 6 * 3 + 1,
    "LR distilled on the tuned C": 19 + 6 * 3 * 3 + 3,
    "LR distilled, alpha and T tuned": 6 * 3 * 3 + 3,
    "LR distilled, cross-fit, alpha and T tuned": 6 * 3 * 9 + 9,
    "HGB": 1,
    "HGB, tuned": 6 * 3 + 1,
    "HGB distilled, cross-fit": 1 + 3 + 1,
    "RF": 1,
    "RF, tuned": 6 * 3 + 1,
    "RF distilled, cross-fit": 1 + 3 + 1,
}
_RECIPE_FITS = 1 + RECIPE["cv"] + 1
for _model, _extra in (("HGB", 0), ("RF", 0), ("LR", 19)):
    FITS[f"{_model}, CleanLearning"] = _extra + CLEANLAB_FOLDS + 1
    FITS[f"{_model}, recipe"] = _extra + _RECIPE_FITS
    FITS[f"{_model}, multi-teacher"] = _extra + 1 + 2 * (MULTI_TEACHER["cv"] + 1)
    FITS[f"{_model}, CleanLearning then recipe"] = _extra + CLEANLAB_FOLDS + _RECIPE_FITS
MODELS = ("HGB", "RF", "LR")
LIBRARY_ARMS = ("recipe", "multi-teacher", "CleanLearning then recipe")
HGB_GRID = {"min_samples_leaf": [5, 20, 50], "l2_regularization": [0.0, 1.0]}
RF_GRID = {"min_samples_leaf": [1, 3, 10], "max_features": ["sqrt", 0.5]}


def logistic():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def recipe(model, seed):
    return SelfDistillationClassifier(
        model, teacher_predictions="cross_fit", random_state=seed, **RECIPE
    )


def multi_teacher(model, seed):
    return SelfDistillationClassifier(
        model, teacher_predictions="cross_fit", random_state=seed, **MULTI_TEACHER
    )


class CleanLearningThen:
    """The rows CleanLearning keeps around ``model``, then ``then`` fit on them."""

    def __init__(self, model, then, seed):
        self.model, self.then, self.seed = model, then, seed

    def fit(self, X, y):
        from cleanlab.classification import CleanLearning

        issues = CleanLearning(clone(self.model), seed=self.seed).find_label_issues(X, y)
        keep = ~issues["is_label_issue"].to_numpy()
        self.model_ = clone(self.then).fit(X[keep], y[keep])
        return self

    def score(self, X, y):
        return self.model_.score(X, y)


def against_cleanlab(name, model, seed):
    """The four arms around ``model`` that the CleanLearning table compares."""
    from cleanlab.classification import CleanLearning

    return {
        f"{name}, CleanLearning": CleanLearning(clone(model), seed=seed),
        f"{name}, recipe": recipe(model, seed),
        f"{name}, multi-teacher": multi_teacher(model, seed),
        f"{name}, CleanLearning then recipe": CleanLearningThen(model, recipe(model, seed), seed),
    }


def arms(seed):
    distiller = SelfDistillationClassifier(logistic(), n_generations=3, random_state=seed)
    cross_fit = SelfDistillationClassifier(
        logistic(), n_generations=3, teacher_predictions="cross_fit", cv=3, random_state=seed
    )
    hgb = HistGradientBoostingClassifier(max_iter=50, random_state=seed)
    rf = RandomForestClassifier(n_estimators=100, random_state=seed)

    def tree_distiller(model):
        return SelfDistillationClassifier(
            model,
            n_generations=2,
            alpha=0.7,
            temperature=1.0,
            teacher_predictions="cross_fit",
            cv=3,
            random_state=seed,
        )

    return {
        "LR, C tuned": GridSearchCV(logistic(), {"logisticregression__C": C_GRID}, cv=3),
        "LR distilled, alpha and T tuned": GridSearchCV(distiller, DISTILLATION_GRID, cv=3),
        "LR distilled, cross-fit, alpha and T tuned": GridSearchCV(
            cross_fit, DISTILLATION_GRID, cv=3
        ),
        "HGB": hgb,
        "HGB, tuned": GridSearchCV(hgb, HGB_GRID, cv=3),
        "HGB distilled, cross-fit": tree_distiller(hgb),
        "RF": rf,
        "RF, tuned": GridSearchCV(rf, RF_GRID, cv=3),
        "RF distilled, cross-fit": tree_distiller(rf),
        **against_cleanlab("HGB", hgb, seed),
        **against_cleanlab("RF", rf, seed),
    }


def fit_and_score(arm, model, X_train, y_train, X_test, y_test, key, extra=None):
    """Fit one arm on the noisy rows, score it on the clean test rows (a result row)."""
    start = time.perf_counter()
    model.fit(X_train, y_train)
    chosen = {**(extra or {}), **getattr(model, "best_params_", {})}
    return {
        **key,
        "arm": arm,
        "test_accuracy": float(model.score(X_test, y_test)),
        "fits": FITS[arm],
        "chosen": repr(chosen) if chosen else "",
        "seconds": time.perf_counter() - start,
    }


def on_tuned_c(baseline, seed):
    """The arms around the baseline's pipeline, with the C it chose."""
    tuned = logistic().set_params(**baseline.best_params_)
    return {
        "LR distilled on the tuned C": GridSearchCV(
            SelfDistillationClassifier(tuned, n_generations=3, random_state=seed),
            DISTILLATION_GRID,
            cv=3,
        ),
        **against_cleanlab("LR", tuned, seed),
    }


def run(seeds, noises, datasets, only=None, csv_path=None):
    """Result rows of every arm, or of the arms whose name contains one of ``only``.

    With ``csv_path``, the rows so far are written there after each seed (a part of a
    long run keeps what it has done if it is stopped).
    """
    rows = []
    for name in datasets:
        X, y = DATASETS[name](return_X_y=True)
        for noise in noises:
            for seed in seeds:
                X_train, X_test, y_train, y_test = train_test_split(
                    X, y, test_size=0.3, stratify=y, random_state=seed
                )
                noisy = flip_labels(y_train, noise, random_state=seed)
                key = {"dataset": name, "noise": noise, "seed": seed}
                data = (X_train, noisy, X_test, y_test, key)
                for arm, model in arms(seed).items():
                    # The LR arms on the tuned C need the baseline, chosen or not.
                    if chosen(arm, only) or arm == "LR, C tuned":
                        rows.append(fit_and_score(arm, model, *data))
                    if arm == "LR, C tuned":
                        for tuned_arm, tuned in on_tuned_c(model, seed).items():
                            if chosen(tuned_arm, only):
                                rows.append(
                                    fit_and_score(tuned_arm, tuned, *data, model.best_params_)
                                )
                if csv_path is not None:
                    write_rows(rows, csv_path)
                print(f"{name} noise={noise} seed={seed} done", flush=True)
    return rows


def chosen(arm, only):
    return only is None or any(part in arm for part in only)


def read_rows(paths):
    """The rows of earlier runs' csv files; a later file's row replaces an earlier one's."""
    rows = {}
    for path in paths:
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                row = {
                    **row,
                    "noise": float(row["noise"]),
                    "seed": int(row["seed"]),
                    "test_accuracy": float(row["test_accuracy"]),
                    "fits": FITS[row["arm"]],
                    "seconds": float(row["seconds"]),
                }
                rows[row["dataset"], row["noise"], row["seed"], row["arm"]] = row
    return list(rows.values())


def write_rows(rows, path):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def table(rows, datasets, noises):
    arm_names = list(dict.fromkeys(r["arm"] for r in rows))

    def scores(name, noise, arm):
        """The arm's accuracies, seed by seed (empty where the arm was not run)."""
        by_seed = {
            r["seed"]: r["test_accuracy"]
            for r in rows
            if (r["dataset"], r["noise"], r["arm"]) == (name, noise, arm)
        }
        return np.array([by_seed[seed] for seed in sorted(by_seed)])

    def mean(name, noise, arm, std=False):
        s = 100 * scores(name, noise, arm)
        if s.size == 0:
            return "n/a"
        return f"{s.mean():.2f} ({s.std(ddof=1):.2f})" if std else f"{s.mean():.2f}"

    def gain(name, noise, arm, reference, suffix=""):
        a, b = scores(name, noise, arm), scores(name, noise, reference)
        if a.size == 0 or a.size != b.size:
            return "n/a"
        diff = 100 * (a - b)
        return f"{diff.mean():+.2f} ({(diff > 0).sum()}/{diff.size}{suffix})"

    accuracy = [
        [name, f"{int(100 * noise)}%", *(mean(name, noise, arm, std=True) for arm in arm_names)]
        for name in datasets
        for noise in noises
    ]
    gains = [
        [
            name,
            f"{int(100 * noise)}%",
            *(gain(name, noise, a, b, " seeds up") for a, b in PAIRS),
        ]
        for name in datasets
        for noise in noises
    ]

    cleanlab = []
    for name in datasets:
        for noise in noises:
            for model in MODELS:
                plain = "LR, C tuned" if model == "LR" else model
                reference = f"{model}, CleanLearning"
                library = [f"{model}, {arm}" for arm in LIBRARY_ARMS]
                cells = [mean(name, noise, arm) for arm in (plain, reference, *library)]
                gains_over = [gain(name, noise, arm, reference) for arm in library]
                cleanlab.append([name, f"{int(100 * noise)}%", model, *cells, *gains_over])
    return (
        markdown_table(["data", "label noise", *arm_names], accuracy),
        markdown_table(["data", "label noise", *(f"{a} - {b}" for a, b in PAIRS)], gains),
        markdown_table(
            [
                "data",
                "label noise",
                "model",
                "plain",
                "CleanLearning",
                *LIBRARY_ARMS,
                *(f"{arm} - CleanLearning" for arm in LIBRARY_ARMS),
            ],
            cleanlab,
        ),
        markdown_table(["arm", "fits"], [[arm, str(FITS[arm])] for arm in arm_names]),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="one seed, wine at 40%% noise only, no file"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 to 4")
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=None)
    parser.add_argument("--noises", type=float, nargs="+", default=None)
    parser.add_argument(
        "--arms", nargs="+", default=None, help="only the arms whose name contains one of these"
    )
    parser.add_argument(
        "--csv", type=Path, default=None, help="write this run's rows here, and no table"
    )
    parser.add_argument(
        "--from-csv",
        type=Path,
        nargs="+",
        default=None,
        help="fit nothing: the tables of these runs' rows (parts of one run, split to run "
        "side by side), written to the results",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    if args.from_csv:
        rows = read_rows(args.from_csv)
        seeds = sorted({r["seed"] for r in rows})
        noises = sorted({r["noise"] for r in rows})
        datasets = [name for name in DATASETS if name in {r["dataset"] for r in rows}]
    else:
        seeds = args.seeds or ([0] if args.quick else [0, 1, 2, 3, 4])
        noises = args.noises or ([0.4] if args.quick else [0.0, 0.2, 0.4])
        datasets = args.datasets or (["wine"] if args.quick else list(DATASETS))
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            rows = run(seeds, noises, datasets, args.arms, args.csv)
        if args.csv:
            return
    accuracy, gains, cleanlab, fits = table(rows, datasets, noises)
    text = "\n".join(
        [
            "# Tabular data with noisy labels: self-distillation against a tuned plain model",
            "",
            f"Test accuracy % on clean test labels, mean over seeds {seeds} (std); training "
            "labels flipped to another class at the given rate. See the script's docstring "
            "for the arms: the LR baseline's C and the distiller's alpha and T are each "
            "chosen by 3-fold cross-validation over 6 candidates on the noisy training rows "
            "('on the tuned C' adds the distiller's 6 to the baseline's 6).",
            "",
            accuracy,
            "",
            "## Gain of each distilled arm over its plain arm (points; seeds where it gained)",
            "",
            gains,
            "",
            "## The library against cleanlab's CleanLearning around the same model",
            "",
            "Mean test accuracy % (plain: the model alone; for LR the C-tuned pipeline), "
            "and each library arm minus CleanLearning in points (seeds where it is ahead). "
            "recipe: "
            + repr(RECIPE)
            + ", cross-fit; multi-teacher: "
            + repr(MULTI_TEACHER)
            + ", cross-fit.",
            "",
            cleanlab,
            "",
            "## Fits of the base model per arm",
            "",
            fits,
            "",
            footer(
                command_line(),
                packages=("numpy", "scipy", "scikit-learn", "cleanlab"),
                seconds=time.perf_counter() - start,
            )
            + " One BLAS/OpenMP thread; the arms' fits took "
            + f"{sum(r['seconds'] for r in rows):.0f} s in all.",
            "",
        ]
    )
    print(text)
    if not args.quick:
        (RESULTS / "tabular_noise.md").write_text(text)
        write_rows(rows, RESULTS / "tabular_noise.csv")


if __name__ == "__main__":
    main()
