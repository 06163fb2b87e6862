"""Borup & Andersen's toy study: kernel ridge self-distillation on Mobahi et al.'s data.

Eleven points x = 0, 0.1, ..., 1 with the noisy targets of Mobahi et al. (2020), an RBF
kernel with gamma = 80 and lambda = 0.2; the loss is the mean squared error against
sin(2 pi x) on the 101 points 0, 0.01, ..., 1. Our alpha weights the teacher, theirs the
ground truth: our 1.0 and 0.65 are their 0 and 0.35.

Run: ``python benchmarks/bench_krr_toy.py``; writes ``benchmarks/results/krr_toy.md``.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.kernel_ridge import KernelRidge

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, footer, markdown_table

from sklearn_selfdistill import SelfDistillationRegressor

X = np.linspace(0, 1, 11).reshape(-1, 1)
Y = np.array([
    0.38476636465198066, 1.2333967683416893, 1.33232242218057, 0.6920159488889518,
    -0.29756145531871736, -0.24189291901377769, -0.7964485769175675, -0.9616480167034174,
    -0.49672509509916934, -0.3469066003991437, 0.5589512650600734,
])  # fmt: skip
X_EVAL = np.linspace(0, 1, 101).reshape(-1, 1)
Y_EVAL = np.sin(2 * np.pi * X_EVAL.ravel())
ALPHAS = (1.0, 0.65)
N_GENERATIONS = 6


def estimator():
    return KernelRidge(alpha=0.2, kernel="rbf", gamma=80)


def toy_table():
    """``{alpha: [loss of generation 0..5, loss of the limit]}``."""
    table = {}
    for alpha in ALPHAS:
        reg = SelfDistillationRegressor(estimator(), n_generations=N_GENERATIONS, alpha=alpha)
        losses = [np.mean((p - Y_EVAL) ** 2) for p in reg.fit(X, Y).staged_predict(X_EVAL)]
        limit = SelfDistillationRegressor(estimator(), n_generations=np.inf, alpha=alpha)
        with warnings.catch_warnings():
            # alpha=1: the limit is the zero function, as the warning says.
            warnings.simplefilter("ignore", UserWarning)
            limit.fit(X, Y)
        losses.append(np.mean((limit.predict(X_EVAL) - Y_EVAL) ** 2))
        table[alpha] = [float(v) for v in losses]
    return table


def to_markdown(table):
    header = ["generation", "ours alpha=1.0 (theirs 0)", "ours alpha=0.65 (theirs 0.35)"]
    labels = [str(g) for g in range(N_GENERATIONS)] + ["limit"]
    rows = [
        [label, f"{table[1.0][i]:.5f}", f"{table[0.65][i]:.5f}"] for i, label in enumerate(labels)
    ]
    return markdown_table(header, rows)


def main():
    markdown = to_markdown(toy_table())
    print(markdown)
    out = Path(__file__).parent / "results" / "krr_toy.md"
    out.write_text(
        "# Kernel ridge self-distillation, Mobahi toy data (MSE against sin(2 pi x))\n\n"
        f"{markdown}\n\n"
        f"{footer(command_line(), packages=('numpy', 'scipy', 'scikit-learn'))} "
        "The study is deterministic.\n"
    )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
