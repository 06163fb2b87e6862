"""What a distilled generation of a scikit-learn classifier costs next to a plain fit.

For each classifier and data set, side by side in one process:

- time: a plain ``fit`` of the estimator, and generation 1 of
  ``SelfDistillationClassifier(estimator, n_generations=2)`` (its ``history_`` fit time:
  the teacher's probabilities, the soft targets, the route's rows and the fit).
  Repeats are interleaved (plain, distilled, plain, ...); the table gives the median
  ratio and its range, next to the median seconds of the plain fit;
- peak memory: ``tracemalloc``'s peak during a plain fit, and during the whole
  two-generation fit, in one more pass of each (numpy's arrays are traced; memory that
  compiled code allocates on its own, such as a forest's trees or libsvm's, is not);
- the route ``"auto"`` took and the rows the distilled generation was fit on, per row
  of X (1 for LogisticRegression, which learns the whole distribution on the rows
  themselves).

A second table checks what bounding the rows costs the student: LogisticRegression on
digits, alpha=0.7, T=4, over 5 split seeds. Generation 1 learns the soft targets of a
fitted generation 0 (a) with the default ``soft_target_tail`` (the classes holding all
but 0.4% of each row, at most ``max(2, 80 // n_classes)``), (b) with the bound before
it (two classes per row, the tail below 0.1% dropped) and (c) with every class of every
row: the table gives the mean |dp| of (a) and (b) from (c) on the test rows (tight
LogisticRegression fits, so that only the targets differ), and the test accuracy of the
last of 5 generations with (a) and (c).

BLAS/OpenMP run on one thread. Run: ``python benchmarks/bench_soft_target_cost.py
[--quick] [--repeats 5]``; writes ``benchmarks/results/soft_target_cost.md`` (not with
``--quick``).
"""

import argparse
import gc
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC
from sklearn.utils.validation import has_fit_parameter
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, footer, traced_peak

from sklearn_selfdistill import SelfDistillationClassifier, _routes
from sklearn_selfdistill._soft_logistic import takes_soft_targets
from sklearn_selfdistill._soft_targets import distillation_targets


def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16, y


def breast_cancer():
    return load_breast_cancer(return_X_y=True)


def many_classes(n_classes, per_class):
    def load():
        return make_classification(
            n_samples=n_classes * per_class,
            n_features=20,
            n_informative=15,
            n_classes=n_classes,
            n_clusters_per_class=1,
            random_state=0,
        )

    return load


def cases(quick):
    scale = 2 if quick else 1
    return [
        ("LogisticRegression", "digits", lambda: LogisticRegression(max_iter=1000), digits),
        (
            "HistGradientBoosting",
            "breast_cancer",
            lambda: HistGradientBoostingClassifier(random_state=0),
            breast_cancer,
        ),
        (
            "RandomForest",
            "breast_cancer",
            lambda: RandomForestClassifier(random_state=0),
            breast_cancer,
        ),
        ("CalibratedClassifierCV(SVC())", "digits", lambda: CalibratedClassifierCV(SVC()), digits),
        ("KNeighbors", "digits", KNeighborsClassifier, digits),
        (
            "LogisticRegression",
            "400 classes",
            lambda: LogisticRegression(max_iter=100),
            many_classes(400, 20 // scale),
        ),
        (
            "LogisticRegression",
            "1000 classes",
            lambda: LogisticRegression(max_iter=100),
            many_classes(1000, 10 // scale),
        ),
    ]


def timed_plain(make, X, y, **params):
    gc.collect()
    start = time.perf_counter()
    make().fit(X, y, **params)
    return time.perf_counter() - start


def timed_distilled(make, X, y):
    gc.collect()
    clf = SelfDistillationClassifier(make(), n_generations=2, random_state=0).fit(X, y)
    return clf.history_[1]["fit_time"], clf


def peak(fit):
    """tracemalloc's peak during ``fit()``, in MiB."""
    gc.collect()
    with traced_peak() as reading:
        fit()
    return reading["mib"]


def expanded_rows(clf, X, y):
    """Rows generation 1 was fit on, per row of X (the route applied to its targets).

    A LogisticRegression learns the whole distribution on the rows themselves: 1.
    """
    if takes_soft_targets(clf.generations_[1], {}):
        return 1.0
    teacher = clf.generations_[0].predict_proba(X)
    codes = np.searchsorted(clf.classes_, y)
    targets = distillation_targets(teacher, codes, clf.alpha, clf.temperature)
    rows, _, _ = _routes.expand(targets, clf.soft_targets_, clf.soft_target_tail)
    return rows.shape[0] / X.shape[0]


def cost_table(quick, repeats):
    lines = [
        "| estimator | data | rows x classes | route | rows fit per row | plain fit (s) "
        "| distilled generation / plain fit: median (range) | plain fit with sample_weight=1 "
        "/ plain fit | peak memory: two generations / plain fit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, data_name, make, load in cases(quick):
        X, y = load()
        plain, ratio, weighted = [], [], []
        takes_weights = has_fit_parameter(make(), "sample_weight")
        clf = None
        for _ in range(repeats):
            p = timed_plain(make, X, y)
            d, clf = timed_distilled(make, X, y)
            if takes_weights:
                weighted.append(timed_plain(make, X, y, sample_weight=np.ones(y.shape[0])) / p)
            plain.append(p)
            ratio.append(d / p)
        weighted_cell = f"{np.median(weighted):.2f}x" if takes_weights else "(no sample_weight)"
        per_row = expanded_rows(clf, X, y)
        distilled_peak = peak(lambda make=make, X=X, y=y: timed_distilled(make, X, y))
        plain_peak = peak(lambda make=make, X=X, y=y: make().fit(X, y))
        memory = (
            f"{distilled_peak / plain_peak:.2f}x ({plain_peak:.1f} MB to {distilled_peak:.1f} MB)"
        )
        n_classes = np.unique(y).shape[0]
        line = (
            f"| {name} | {data_name} | {X.shape[0]} x {n_classes} | {clf.soft_targets_} "
            f"| {per_row:.2f} | {np.median(plain):.3f} | {np.median(ratio):.2f}x "
            f"({min(ratio):.2f}-{max(ratio):.2f}) | {weighted_cell} | {memory} |"
        )
        print(line, flush=True)
        lines.append(line)
    return lines


def _bounded(pairs_per_row, fit):
    """``fit()`` with ``_routes._PAIRS_PER_ROW`` set for its time."""
    saved = _routes._PAIRS_PER_ROW
    _routes._PAIRS_PER_ROW = pairs_per_row
    try:
        return fit()
    finally:
        _routes._PAIRS_PER_ROW = saved


# (pairs per row, tail): the default, the bound before soft_target_tail, every class.
BOUNDS = {"default": (_routes._PAIRS_PER_ROW, _routes.DEFAULT_TAIL), "two": (0, 1e-3)}
EVERY_CLASS = (10**9, 0.0)


def accuracy_table(seeds):
    X, y = digits()
    lines = [
        "| split seed | rows per row: default / two classes | mean abs dp from every class: "
        "default / two classes | test accuracy %: generation 0 / last, default / last, "
        "every class |",
        "|---|---|---|---|",
    ]
    dp_all, acc_all = {"default": [], "two": []}, {"default": [], "full": []}
    for seed in seeds:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, stratify=y, random_state=seed
        )
        teacher = LogisticRegression(max_iter=1000).fit(X_train, y_train)
        targets = distillation_targets(teacher.predict_proba(X_train), y_train, 0.7, 4.0)

        def student(bound, targets=targets, X_train=X_train, X_test=X_test):
            rows, codes, weights = _bounded(
                bound[0], lambda: _routes.expand(targets, "sample_weight", bound[1])
            )
            model = LogisticRegression(max_iter=2000, tol=1e-8)
            proba = model.fit(X_train[rows], codes, sample_weight=weights).predict_proba(X_test)
            return proba, rows.shape[0] / X_train.shape[0]

        whole, _ = student(EVERY_CLASS)
        per_row, dp = {}, {}
        for label, bound in BOUNDS.items():
            proba, per_row[label] = student(bound)
            dp[label] = np.abs(proba - whole).mean()
            dp_all[label].append(dp[label])
        staged = {}
        for label, bound in (("default", BOUNDS["default"]), ("full", EVERY_CLASS)):
            clf = _bounded(
                bound[0],
                lambda bound=bound, X_train=X_train, y_train=y_train, seed=seed: (
                    SelfDistillationClassifier(
                        LogisticRegression(max_iter=1000),
                        n_generations=5,
                        soft_target_tail=bound[1],
                        random_state=seed,
                    ).fit(X_train, y_train)
                ),
            )
            staged[label] = [np.mean(p == y_test) for p in clf.staged_predict(X_test)]
            acc_all[label].append(staged[label][-1])
        line = (
            f"| {seed} | {per_row['default']:.2f} / {per_row['two']:.2f} "
            f"| {dp['default']:.5f} / {dp['two']:.5f} | {100 * staged['default'][0]:.2f} / "
            f"{100 * staged['default'][-1]:.2f} / {100 * staged['full'][-1]:.2f} |"
        )
        print(line, flush=True)
        lines.append(line)
    lines.append(
        f"| median | | {np.median(dp_all['default']):.5f} / {np.median(dp_all['two']):.5f} "
        f"| / {100 * np.median(acc_all['default']):.2f} / {100 * np.median(acc_all['full']):.2f} |"
    )
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, no results file")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    with threadpool_limits(1):
        cost = cost_table(args.quick, repeats)
        accuracy = accuracy_table([0] if args.quick else [0, 1, 2, 3, 4])
    text = "\n".join(
        [
            "# Soft targets for scikit-learn classifiers: cost of a distilled generation",
            "",
            f"{footer(command_line(), packages=('numpy', 'scipy', 'scikit-learn'))} Median "
            f"of {repeats} interleaved repeats; one BLAS/OpenMP thread.",
            "Targets (issues 12 and 23): a distilled LogisticRegression generation <= 2x a "
            "plain fit; 1000 classes finish with peak memory <= 3x one plain fit; the default "
            "soft_target_tail keeps the student within a mean |dp| of 1e-3 of the student of "
            "every class.",
            "",
            *cost,
            "",
            "Peak memory is tracemalloc's (numpy arrays); the forest's trees and libsvm's "
            "memory are not traced. A distilled generation includes the teacher's "
            "predict_proba on the training rows: for KNeighbors, whose fit only stores the "
            "data, that is nearly all of its cost and memory. The 'sample_weight=1' column "
            "is the estimator's own price for being fit with weights at all.",
            "",
            "## What bounding the rows costs the student (digits, LogisticRegression, "
            "alpha=0.7, T=4)",
            "",
            *accuracy,
            "",
        ]
    )
    print(text)
    if not args.quick:
        out = Path(__file__).parent / "results" / "soft_target_cost.md"
        out.write_text(text)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
