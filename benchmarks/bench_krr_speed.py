"""Speed and memory of the kernel ridge closed form against refitting.

At n = 4000 (RBF kernel, 10 features) four fits run side by side, interleaved, median of
3 repeats: one plain ``KernelRidge.fit``; our 10-generation fit; our limit
(``n_generations=inf``); the naive loop of 10 ``KernelRidge`` refits. Times are reported
as ratios to the plain fit of the same repeat. Then time and peak memory from n = 1000 to
n = 16000, one run each; memory is the growth of the peak resident set size during the fit,
measured in a fresh process per fit (it sees LAPACK's and SciPy's own allocations too).

Run: ``python benchmarks/bench_krr_speed.py [--quick]``; writes
``benchmarks/results/krr_speed.md``.
"""

import argparse
import gc
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.kernel_ridge import KernelRidge

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, footer, markdown_table, reset_peak_rss, status_bytes

from sklearn_selfdistill import SelfDistillationRegressor

N_FEATURES = 10
N_GENERATIONS = 10
ALPHA = 0.5
KRR_PACKAGES = ("numpy", "scipy", "scikit-learn")


def make_data(n, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, N_FEATURES))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + 0.1 * rng.randn(n)
    return X, y


def estimator():
    return KernelRidge(alpha=0.1, kernel="rbf", gamma=0.5)


def plain(X, y):
    return clone(estimator()).fit(X, y)


def generations(X, y):
    return SelfDistillationRegressor(estimator(), n_generations=N_GENERATIONS, alpha=ALPHA).fit(
        X, y
    )


def limit(X, y):
    return SelfDistillationRegressor(estimator(), n_generations=np.inf, alpha=ALPHA).fit(X, y)


def naive(X, y):
    model = clone(estimator()).fit(X, y)
    for _ in range(1, N_GENERATIONS):
        targets = ALPHA * model.predict(X) + (1 - ALPHA) * y
        model = clone(estimator()).fit(X, targets)
    return model


VARIANTS = {"plain": plain, "generations": generations, "limit": limit, "naive": naive}


def timed(fit, X, y):
    gc.collect()
    start = time.perf_counter()
    fit(X, y)
    return time.perf_counter() - start


def measure_in_this_process(variant, n):
    """Peak RSS growth of one fit (bytes); run in a fresh process by ``peak_memory``."""
    X, y = make_data(n)
    gc.collect()
    # VmHWM, unlike ru_maxrss, starts afresh in an exec'd process: it does not inherit
    # the peak of the benchmark process that started this one.
    before = status_bytes("VmRSS")
    if status_bytes("VmHWM") > before and not reset_peak_rss():
        raise OSError("cannot reset VmHWM through /proc/self/clear_refs")
    VARIANTS[variant](X, y)
    return status_bytes("VmHWM") - before


def peak_memory(variant, n):
    out = subprocess.run(
        [sys.executable, __file__, "--measure", variant, str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def side_by_side(n, repeats):
    X, y = make_data(n)
    variants = {
        "plain KernelRidge.fit": plain,
        f"ours, {N_GENERATIONS} generations": generations,
        "ours, limit": limit,
        f"naive loop of {N_GENERATIONS} refits": naive,
    }
    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fit in variants.items():
            times[name].append(timed(fit, X, y))
    plain_times = np.array(times["plain KernelRidge.fit"])
    rows = []
    for name, values in times.items():
        ratios = np.array(values) / plain_times
        rows.append((name, float(np.median(values)), float(np.median(ratios))))
    return rows


def scaling(sizes, naive_up_to):
    rows = []
    gram_gb = lambda n: n * n * 8 / 1e9  # noqa: E731
    for n in sizes:
        X, y = make_data(n)
        row = {"n": n, "gram": gram_gb(n)}
        for name in ("plain", "generations", "limit"):
            row[f"{name}_s"] = timed(VARIANTS[name], X, y)
            row[f"{name}_gb"] = peak_memory(name, n) / 1e9
        row["naive_s"] = timed(naive, X, y) if n <= naive_up_to else None
        rows.append(row)
        print(row, flush=True)
    return rows


def to_markdown(side, scale, n_side, repeats):
    lines = [
        f"## n = {n_side}, RBF, {N_FEATURES} features, median of {repeats} "
        "(ratios to the plain fit of the same repeat)",
        "",
        markdown_table(
            ["fit", "median seconds", "median ratio to one plain fit"],
            [[name, f"{sec:.2f}", f"{ratio:.2f}x"] for name, sec, ratio in side],
        ),
        "",
        "## Growth with n (one run each; peak memory: RSS growth during the fit, fresh process)",
        "",
    ]
    header = [
        "n",
        "Gram matrix (GB)",
        "plain fit s (peak GB)",
        "10 generations s (peak GB)",
        "limit s (peak GB)",
        "naive 10 refits s",
    ]
    rows = [
        [
            r["n"],
            f"{r['gram']:.2f}",
            f"{r['plain_s']:.2f} ({r['plain_gb']:.2f})",
            f"{r['generations_s']:.2f} ({r['generations_gb']:.2f})",
            f"{r['limit_s']:.2f} ({r['limit_gb']:.2f})",
            "not run" if r["naive_s"] is None else f"{r['naive_s']:.1f}",
        ]
        for r in scale
    ]
    lines.append(markdown_table(header, rows))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--measure", nargs=2, metavar=("VARIANT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(measure_in_this_process(args.measure[0], int(args.measure[1])))
        return
    n_side, repeats = (800, 3) if args.quick else (4000, 3)
    sizes = [250, 500, 1000] if args.quick else [1000, 2000, 4000, 8000, 16000]
    side = side_by_side(n_side, repeats)
    for name, sec, ratio in side:
        print(f"{name:32s} {sec:8.2f}s  {ratio:5.2f}x", flush=True)
    scale = scaling(sizes, naive_up_to=4000)
    markdown = to_markdown(side, scale, n_side, repeats)
    text = (
        "# Kernel ridge closed form: speed and memory\n\n"
        f"{markdown}\n\n{footer(command_line(), packages=KRR_PACKAGES)}\n"
    )
    print("\n" + text)
    if not args.quick:
        (Path(__file__).parent / "results" / "krr_speed.md").write_text(text)


if __name__ == "__main__":
    main()
