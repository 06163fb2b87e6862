"""Self-distilled kernel ridge beyond memory: Nystroem features + Ridge at n = 100 000.

Exact kernel ridge on n = 100 000 rows needs the n-by-n kernel: 8e10 bytes (80 GB) of
float64 before any factorization. ``make_pipeline(Nystroem(n_components=1000), Ridge())``
approximates it with a 100 000-by-1000 feature matrix (0.8 GB), and the closed form of
``SelfDistillationRegressor`` applies to such a pipeline: Nystroem is fit and applied
once, and every generation (and the limit) is a solve with one 1000-by-1000 Cholesky
factor. Four fits on a smooth 8-D toy (``y = sin(3 x0) + x1^2 - cos(2 x2) / 2 +
x3 x4 / 2 + 0.3 noise``), each in a fresh process, interleaved (every other repeat in
reverse order), median over repeats, ratios to the plain fit of the same repeat:

- (c) one plain fit of the pipeline (the cost of generation 0);
- (a) ``SelfDistillationRegressor(pipeline, n_generations=5, alpha=0.5)`` (closed form);
- (a) the same with ``n_generations=numpy.inf`` (the limit);
- (b) a hand-written loop refitting the pipeline on ``alpha * teacher(X) + (1 - alpha)
  * y`` for 5 generations: what the generic path does (the generic path also scores
  each generation on the training rows, one more ``predict``; the loop does not).

Then once, for context, (d) exact ``KernelRidge`` (same kernel and penalty) through the
closed form, 5 generations, on the first ``--exact-n`` training rows. Test R² is on
10 000 fresh rows. Memory is the growth of the peak resident set size during the fit
(``VmHWM`` of ``/proc/self/status``, reset with ``/proc/self/clear_refs`` just before the
fit, minus ``VmRSS`` then), in a fresh process per fit, so LAPACK's and BLAS's own
buffers count. Not ``getrusage(RUSAGE_CHILDREN).ru_maxrss``: on Linux a child started
with fork/vfork + exec inherits the parent's peak in ``ru_maxrss`` (a child that only
imports ``resource`` reports the 1.5 GB a parent had touched before starting it), and
tracemalloc would miss the LAPACK workspace. BLAS and OpenMP run on ``--threads``
threads (``threadpoolctl.threadpool_limits``) in every fit and prediction.

Run: ``python benchmarks/bench_krr_nystroem.py [--quick] [--threads 1] [--repeats 3]``;
writes ``benchmarks/results/krr_nystroem.md`` (not with ``--quick``).
"""

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.kernel_approximation import Nystroem
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, footer, reset_peak_rss, status_bytes

from sklearn_selfdistill import SelfDistillationRegressor

N_FEATURES = 8
N_TEST = 10_000
GAMMA = 0.2
LAM = 0.1
ALPHA = 0.5
N_GENERATIONS = 5


def make_data(n, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, N_FEATURES))
    y = (
        np.sin(3 * X[:, 0])
        + X[:, 1] ** 2
        - 0.5 * np.cos(2 * X[:, 2])
        + 0.5 * X[:, 3] * X[:, 4]
        + 0.3 * rng.randn(n)
    )
    return X, y


def pipeline(n_components):
    return make_pipeline(
        Nystroem(kernel="rbf", gamma=GAMMA, n_components=n_components, random_state=0),
        Ridge(alpha=LAM),
    )


def fit_plain(X, y, n_components):
    return [clone(pipeline(n_components)).fit(X, y)]


def fit_ours(X, y, n_components):
    reg = SelfDistillationRegressor(
        pipeline(n_components), n_generations=N_GENERATIONS, alpha=ALPHA, random_state=0
    )
    return reg.fit(X, y).generations_


def fit_limit(X, y, n_components):
    reg = SelfDistillationRegressor(
        pipeline(n_components), n_generations=np.inf, alpha=ALPHA, random_state=0
    )
    return reg.fit(X, y).generations_


def fit_refit(X, y, n_components):
    models = [clone(pipeline(n_components)).fit(X, y)]
    for _ in range(1, N_GENERATIONS):
        targets = ALPHA * models[-1].predict(X) + (1 - ALPHA) * y
        models.append(clone(pipeline(n_components)).fit(X, targets))
    return models


def fit_exact(X, y, n_components):
    krr = KernelRidge(alpha=LAM, kernel="rbf", gamma=GAMMA)
    reg = SelfDistillationRegressor(krr, n_generations=N_GENERATIONS, alpha=ALPHA)
    return reg.fit(X, y).generations_


VARIANTS = {
    "plain": fit_plain,
    "ours": fit_ours,
    "limit": fit_limit,
    "refit": fit_refit,
    "exact": fit_exact,
}


def measure_in_this_process(config):
    """Seconds, peak RSS growth and test R² of one fit; run in a fresh process."""
    X_all, y_all = make_data(config["n"] + N_TEST)
    X, y = X_all[: config["n"]], y_all[: config["n"]]
    X_test, y_test = X_all[config["n"] :], y_all[config["n"] :]
    with threadpool_limits(limits=config["threads"]):
        gc.collect()
        before = status_bytes("VmRSS")
        if not reset_peak_rss():
            raise OSError("cannot reset VmHWM through /proc/self/clear_refs")
        start = time.perf_counter()
        models = VARIANTS[config["variant"]](X, y, config["n_components"])
        seconds = time.perf_counter() - start
        peak = status_bytes("VmHWM") - before
        r2 = (
            [float(r2_score(y_test, model.predict(X_test))) for model in models]
            if config["r2"]
            else None
        )
    return {"seconds": seconds, "peak_bytes": peak, "baseline_bytes": before, "r2": r2}


def measure(variant, n, n_components, threads, r2):
    config = {
        "variant": variant,
        "n": n,
        "n_components": n_components,
        "threads": threads,
        "r2": r2,
    }
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run(
        [sys.executable, __file__, "--measure", json.dumps(config)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


LABELS = {
    "plain": "(c) plain pipeline fit (= generation 0)",
    "ours": f"(a) ours, closed form, {N_GENERATIONS} generations",
    "limit": "(a) ours, closed form, limit (n_generations=inf)",
    "refit": f"(b) refit loop, {N_GENERATIONS} pipeline fits",
}


def run_study(n, n_components, exact_n, threads, repeats):
    results = {name: [] for name in LABELS}
    for repeat in range(repeats):
        order = list(LABELS) if repeat % 2 == 0 else list(LABELS)[::-1]
        for name in order:
            result = measure(name, n, n_components, threads, r2=repeat == 0)
            results[name].append(result)
            print(
                f"repeat {repeat} {name:6s} {result['seconds']:7.2f}s "
                f"{result['peak_bytes'] / 1e9:6.2f} GB",
                flush=True,
            )
    exact = measure("exact", exact_n, n_components, threads, r2=True)
    print(f"exact n={exact_n} {exact['seconds']:7.2f}s {exact['peak_bytes'] / 1e9:6.2f} GB")
    return results, exact


def to_markdown(results, exact, n, n_components, exact_n, repeats):
    plain_seconds = np.array([r["seconds"] for r in results["plain"]])
    lines = [
        f"## n = {n}, {N_FEATURES} features, Nystroem(n_components={n_components}, "
        f'kernel="rbf", gamma={GAMMA}) + Ridge(alpha={LAM}), alpha={ALPHA}',
        "",
        f"Median of {repeats} fresh processes per fit, interleaved; ratios to the plain fit "
        "of the same repeat. Peak memory: growth of the peak RSS during the fit.",
        "",
        "| fit | median seconds | median ratio to one plain fit (range) "
        "| peak RSS growth (GB) | test R² (last generation) |",
        "|---|---|---|---|---|",
    ]
    for name, label in LABELS.items():
        seconds = np.array([r["seconds"] for r in results[name]])
        peak = np.median([r["peak_bytes"] for r in results[name]]) / 1e9
        r2 = results[name][0]["r2"][-1]
        ratios = seconds / plain_seconds
        lines.append(
            f"| {label} | {np.median(seconds):.1f} | {np.median(ratios):.2f}x "
            f"({ratios.min():.2f}-{ratios.max():.2f}) | {peak:.2f} | {r2:.4f} |"
        )
    lines.append(
        f"| (d) exact KernelRidge, closed form, {N_GENERATIONS} generations, "
        f"n = {exact_n} (one run) | {exact['seconds']:.1f} | "
        f"{exact['seconds'] / np.median(plain_seconds):.2f}x | "
        f"{exact['peak_bytes'] / 1e9:.2f} | {exact['r2'][-1]:.4f} |"
    )
    gram = n * n * 8 / 1e9
    lines += [
        "",
        f"Exact kernel ridge at n = {n} would need the n-by-n float64 kernel alone: "
        f"{gram:.0f} GB (at n = {exact_n}: {exact_n**2 * 8 / 1e9:.1f} GB); the Nystroem "
        f"features are {n * n_components * 8 / 1e9:.1f} GB.",
        "",
        "### Test R² by generation (10 000 fresh rows)",
        "",
        "| fit | " + " | ".join(f"gen {g}" for g in range(N_GENERATIONS)) + " | limit |",
        "|---|" + "---|" * (N_GENERATIONS + 1),
    ]

    def cells(values):
        return " | ".join(f"{v:.4f}" for v in values)

    ours, limit = results["ours"][0]["r2"], results["limit"][0]["r2"][0]
    lines.append(f"| (a) ours, Nystroem, n = {n} | {cells(ours)} | {limit:.4f} |")
    lines.append(f"| (b) refit loop, Nystroem, n = {n} | {cells(results['refit'][0]['r2'])} | |")
    lines.append(f"| (d) exact KernelRidge, n = {exact_n} | {cells(exact['r2'])} | |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, no result file")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--exact-n", type=int, default=20_000, help="rows of exact KRR")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure_in_this_process(json.loads(args.measure))))
        return
    n, n_components, exact_n = (
        (5_000, 200, 2_000) if args.quick else (100_000, 1_000, args.exact_n)
    )
    repeats = 1 if args.quick else args.repeats
    start = time.perf_counter()
    results, exact = run_study(n, n_components, exact_n, args.threads, repeats)
    markdown = to_markdown(results, exact, n, n_components, exact_n, repeats)
    shared = footer(
        command_line(),
        packages=("numpy", "scipy", "scikit-learn"),
        seconds=time.perf_counter() - start,
    )
    text = (
        "# Kernel ridge beyond memory: Nystroem + Ridge, closed form vs refitting\n\n"
        f"{markdown}\n\n{shared} BLAS/OpenMP threads: {args.threads} (threadpoolctl). Peak "
        "memory: VmHWM growth in a fresh process per fit (not ru_maxrss, which a spawned "
        "child inherits from its parent).\n"
    )
    print("\n" + text)
    if not args.quick:
        (Path(__file__).parent / "results" / "krr_nystroem.md").write_text(text)


if __name__ == "__main__":
    main()
