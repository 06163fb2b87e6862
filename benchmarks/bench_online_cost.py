"""The cost of online self-distillation: a fit with OnlineSelfDistillation against without.

The MLP of the noisy-labels study (784-256-256-10, Adam 1e-3, batches of 128, shuffled)
is fit for EPOCHS epochs on N_TRAIN Fashion-MNIST training rows (flat), with no
validation split, on one torch thread, two ways each time:

- ``plain``: the net as it is;
- ``online``: the same net with ``OnlineSelfDistillation(alpha=0.5, momentum=0.9)``
  (a stored prediction per row, the online term from epoch 2).

Both through skorch's ``DataLoader`` (a ``NeuralNetClassifier``) and through the
library's in-memory batches (``TensorBatchNetClassifier``, what a generation of
``SelfDistillationClassifier`` trains on). The arms are interleaved (one fit of each,
in turn, REPEATS times) in one process, so that a busy machine slows them alike; the
table gives the median seconds per fit and, per repeat, the ratio of the online fit to
the plain fit just before it (median [min, max]).

Goal: a fit with online self-distillation costs at most 1.1x the plain fit.

Run: ``python benchmarks/bench_online_cost.py [--quick]``; writes
``benchmarks/results/online_cost.md`` (not with ``--quick``).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skorch import NeuralNetClassifier

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, fashion_mnist_flat, footer, markdown_table

from sklearn_selfdistill.nn import OnlineSelfDistillation
from sklearn_selfdistill.nn._fast import TensorBatchNetClassifier
from sklearn_selfdistill.nn.models import MLP

RESULTS = Path(__file__).parent / "results"
N_TRAIN = 5000
EPOCHS = 20
REPEATS = 7
THREADS = 1
GOAL = 1.1
PATHS = {
    "skorch's DataLoader (NeuralNetClassifier)": NeuralNetClassifier,
    "in-memory batches (TensorBatchNetClassifier)": TensorBatchNetClassifier,
}


def make_net(net_class, callbacks, epochs):
    return net_class(
        MLP,
        module__in_features=784,
        module__num_classes=10,
        module__hidden_units=256,
        module__num_hidden=2,
        max_epochs=epochs,
        batch_size=128,
        lr=1e-3,
        optimizer=torch.optim.Adam,
        iterator_train__shuffle=True,
        train_split=None,
        callbacks=callbacks,
        verbose=0,
    )


def timed_fit(net_class, online, X, y, epochs):
    callbacks = [OnlineSelfDistillation(alpha=0.5, momentum=0.9)] if online else []
    net = make_net(net_class, callbacks, epochs)
    torch.manual_seed(0)
    start = time.perf_counter()
    net.fit(X, y)
    return time.perf_counter() - start, net.history[-1, "train_loss"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run, no file")
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    start = time.perf_counter()
    n, epochs, repeats = (512, 2, 1) if args.quick else (N_TRAIN, EPOCHS, REPEATS)
    X, y, _, _ = fashion_mnist_flat()
    X, y = X[:n], y[:n].astype(np.int64)
    seconds = {(path, online): [] for path in PATHS for online in (False, True)}
    losses = {}
    for net_class in PATHS.values():  # warm-up: the first fits pay for imports and caches
        timed_fit(net_class, True, X[:256], y[:256], 1)
    for _ in range(repeats):
        for path, net_class in PATHS.items():
            for online in (False, True):
                elapsed, losses[path, online] = timed_fit(net_class, online, X, y, epochs)
                seconds[path, online].append(elapsed)
    body, worst = [], 0.0
    for path in PATHS:
        plain, online = np.array(seconds[path, False]), np.array(seconds[path, True])
        ratios = online / plain
        worst = max(worst, float(np.median(ratios)))
        body.append(
            [
                path,
                f"{statistics.median(plain):.2f}",
                f"{statistics.median(online):.2f}",
                f"{np.median(ratios):.3f}x [{ratios.min():.3f}, {ratios.max():.3f}]",
                f"{losses[path, False]:.4f} / {losses[path, True]:.4f}",
            ]
        )
    text = "\n".join(
        [
            "# The cost of online self-distillation",
            "",
            f"The MLP 784-256-256-10 (Adam 1e-3, batches of 128, shuffled) fit for {epochs} "
            f"epochs on {n} Fashion-MNIST rows, no validation split, {THREADS} torch thread; "
            "with and without `OnlineSelfDistillation(alpha=0.5, momentum=0.9)`, "
            f"{repeats} interleaved repeats: median seconds per fit, and the ratio of each "
            "online fit to the plain fit before it (median [min, max]). The last column is "
            "the last epoch's training loss (plain / online; the online one includes its "
            "term).",
            "",
            markdown_table(
                ["batches from", "plain s", "online s", "online / plain", "last train loss"],
                body,
            ),
            "",
            f"- Goal: at most {GOAL}x the plain fit: worst median {worst:.3f}x, "
            f"**{'met' if worst <= GOAL else 'not met'}**.",
            "",
            footer(
                command_line(),
                packages=("numpy", "torch", "skorch"),
                threads=THREADS,
                seconds=time.perf_counter() - start,
            ),
            "",
        ]
    )
    print(text)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "online_cost.md").write_text(text)


if __name__ == "__main__":
    main()
