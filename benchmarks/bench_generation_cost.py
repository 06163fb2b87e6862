"""How fit time grows with ``n_generations`` for each kind of student, on the CPU.

Three paths through the meta-estimators, each fit with ``n_generations`` = 1, 2, 3, 5
and 8 (1 is the plain estimator):

- closed form: ``SelfDistillationRegressor(KernelRidge(kernel="rbf"))`` on ``--n-krr``
  rows of a smooth 10-D toy, ``alpha=0.5``: one Cholesky factorization shared by all
  generations, then a triangular solve per generation;
- sample weight: ``SelfDistillationClassifier(LogisticRegression(max_iter=1000))`` on
  scikit-learn's digits (1797 rows, X / 16), ``alpha=0.7, T=4``: every generation after
  the first is a refit on each row repeated once per class with its soft probability
  as weight (pairs below 1e-6 dropped), so up to 10 times the rows of generation 0;
- skorch net: ``SelfDistillationClassifier`` of a skorch ``NeuralNetClassifier`` with
  the package's MLP (64-256-256-10, SGD lr 0.1, batch 64, ``--epochs`` epochs) on
  digits, ``alpha=0.7, T=4``: every generation is a full training run, after the
  teacher's logits on the training rows.

Every fit is timed in this process (``time.perf_counter``, after ``gc.collect()``),
training-set scoring of each generation included (the meta-estimators record it).
Repeats are interleaved: each repeat runs every path at every ``n_generations``, every
other repeat in reverse order. A time is reported as its ratio to the
``n_generations=1`` fit of the same path in the same repeat, median over repeats,
next to the median seconds of ``n_generations=1``. BLAS/OpenMP run on one thread
(``threadpoolctl.threadpool_limits``) and torch on one thread (``torch.set_num_threads``).

Run: ``python benchmarks/bench_generation_cost.py [--quick] [--repeats 7]``; writes
``benchmarks/results/generation_cost.md`` (not with ``--quick``).
"""

import argparse
import gc
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LogisticRegression
from skorch import NeuralNetClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, footer

from sklearn_selfdistill import SelfDistillationClassifier, SelfDistillationRegressor
from sklearn_selfdistill.nn.models import MLP

N_GENERATIONS = (1, 2, 3, 5, 8)
THREADS = 1


def krr_data(n, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, 10))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + 0.1 * rng.randn(n)
    return X, y


def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y.astype(np.int64)


def make_net(epochs):
    return NeuralNetClassifier(
        MLP,
        module__in_features=64,
        module__num_classes=10,
        module__hidden_units=256,
        module__num_hidden=2,
        max_epochs=epochs,
        batch_size=64,
        lr=0.1,
        optimizer=torch.optim.SGD,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
    )


def paths(n_krr, epochs):
    """Path name -> (function of n_generations that fits once, description)."""
    X_krr, y_krr = krr_data(n_krr)
    X_digits, y_digits = digits()

    def closed_form(n_generations):
        krr = KernelRidge(alpha=0.1, kernel="rbf", gamma=0.5)
        SelfDistillationRegressor(krr, n_generations=n_generations, alpha=0.5).fit(X_krr, y_krr)

    def sample_weight(n_generations):
        SelfDistillationClassifier(
            LogisticRegression(max_iter=1000),
            n_generations=n_generations,
            alpha=0.7,
            temperature=4.0,
            random_state=0,
        ).fit(X_digits, y_digits)

    def skorch_net(n_generations):
        torch.manual_seed(0)
        SelfDistillationClassifier(
            make_net(epochs),
            n_generations=n_generations,
            alpha=0.7,
            temperature=4.0,
            random_state=0,
        ).fit(X_digits, y_digits)

    return {
        "closed form": (
            closed_form,
            f'SelfDistillationRegressor(KernelRidge(alpha=0.1, kernel="rbf", gamma=0.5)), '
            f"n = {n_krr}, 10 features",
        ),
        "sample weight": (
            sample_weight,
            "SelfDistillationClassifier(LogisticRegression(max_iter=1000)), digits",
        ),
        "skorch net": (
            skorch_net,
            f"SelfDistillationClassifier(NeuralNetClassifier(MLP 64-256-256-10, "
            f"{epochs} epochs)), digits",
        ),
    }


def timed(fn, n_generations):
    gc.collect()
    start = time.perf_counter()
    fn(n_generations)
    return time.perf_counter() - start


def study(n_krr, epochs, repeats):
    """Seconds per path, as an array of shape (repeats, len(N_GENERATIONS))."""
    fits = paths(n_krr, epochs)
    runs = [(name, g) for name in fits for g in N_GENERATIONS]
    seconds = {name: np.zeros((repeats, len(N_GENERATIONS))) for name in fits}
    for fn, _ in fits.values():  # warm-up: imports, torch's first allocations
        fn(1)
    for repeat in range(repeats):
        for name, g in runs if repeat % 2 == 0 else runs[::-1]:
            column = N_GENERATIONS.index(g)
            seconds[name][repeat, column] = timed(fits[name][0], g)
        print(
            f"repeat {repeat}: "
            + "; ".join(
                f"{name} " + " ".join(f"{s:.2f}" for s in seconds[name][repeat]) for name in fits
            ),
            flush=True,
        )
    return seconds, {name: description for name, (_, description) in fits.items()}


def to_markdown(seconds, descriptions, repeats):
    header = " | ".join(f"n_generations={g}" for g in N_GENERATIONS[1:])
    lines = [
        f"| path | seconds at n_generations=1 | {header} | added per generation |",
        "|---|---|" + "---|" * len(N_GENERATIONS),
    ]
    for name, values in seconds.items():
        ratios = values / values[:, :1]
        median = np.median(ratios, axis=0)
        # Least-squares slope of the median ratios against the number of generations:
        # the cost of one more generation, in fits of n_generations=1.
        slope = np.polyfit(np.array(N_GENERATIONS, dtype=float), median, 1)[0]
        cells = " | ".join(
            f"{m:.2f}x ({r.min():.2f}-{r.max():.2f})"
            for m, r in zip(median[1:], ratios[:, 1:].T, strict=True)
        )
        one = np.median(values[:, 0])
        lines.append(f"| {name} | {one:.3f} | {cells} | {slope:.2f}x ({slope * one:.3f} s) |")
    lines.append(
        "| (linear: every generation costs one n_generations=1 fit) | | "
        + " | ".join(f"{g:.2f}x" for g in N_GENERATIONS[1:])
        + " | 1.00x |"
    )
    lines += ["", "Paths:", ""]
    lines += [f"- {name}: `{description}`" for name, description in descriptions.items()]
    lines += [
        "",
        f"Ratios: time of the fit / time of the n_generations=1 fit of the same path in the "
        f"same repeat; median over {repeats} interleaved repeats (range in parentheses). "
        "Added per generation: least-squares slope of the median ratio against "
        "n_generations (in seconds: times the median seconds of n_generations=1).",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run, no result file")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n-krr", type=int, default=4000, help="rows of the KRR path")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per net generation")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    n_krr, epochs = (500, 1) if args.quick else (args.n_krr, args.epochs)
    start = time.perf_counter()
    previous = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        with threadpool_limits(limits=THREADS):
            seconds, descriptions = study(n_krr, epochs, repeats)
    finally:
        torch.set_num_threads(previous)
    shared = footer(
        command_line(),
        packages=("numpy", "scipy", "scikit-learn", "torch", "skorch"),
        seconds=time.perf_counter() - start,
    )
    text = (
        "# Fit time against n_generations, per path\n\n"
        f"{to_markdown(seconds, descriptions, repeats)}\n\n"
        f"{shared} BLAS/OpenMP threads: {THREADS} (threadpoolctl), torch threads: "
        f"{THREADS}, CPU.\n"
    )
    print("\n" + text)
    if not args.quick:
        (Path(__file__).parent / "results" / "generation_cost.md").write_text(text)


if __name__ == "__main__":
    main()
