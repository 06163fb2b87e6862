"""Overhead of a distillation generation over a plain skorch fit, on the CPU.

The same MLP and epochs four ways, interleaved, median of 7 repeats (ratios taken
within each repeat, every other repeat in reverse order), on two data sets:
Fashion-MNIST (the first 20 000 training images, flattened; ``apt-get install
dataset-fashion-mnist``) and scikit-learn's
digits (1797 images of 8x8, a net so small that per-batch costs dominate):

- one plain ``NeuralNetClassifier.fit``;
- one distillation generation: the teacher's logits on the training rows, then the
  student's fit with ``DistillationLoss`` (what ``SelfDistillationClassifier`` does for
  every generation after the first), at ``alpha=0.7, T=4``;
- the same generation at ``alpha=0`` (no teacher term: the cost of the data path);
- a hand-written PyTorch loop doing the same work as the plain fit (shuffled batches
  sliced from tensors, SGD, NLL of the log of the probabilities), for the cost of
  skorch itself.

Target (issue 4): distillation generation / plain fit <= 1.10 on the Fashion-MNIST MLP.

Run: ``python benchmarks/bench_nn_overhead.py [--quick] [--data-dir DIR]``; writes
``benchmarks/results/nn_overhead.md``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from skorch import NeuralNetClassifier

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, footer

from sklearn_selfdistill.datasets import load_fashion_mnist
from sklearn_selfdistill.nn._skorch import SkorchClassifierStudent
from sklearn_selfdistill.nn.models import MLP

LR = 0.1
ALPHA, TEMPERATURE = 0.7, 4.0


def make_net(in_features, epochs, batch_size):
    return NeuralNetClassifier(
        MLP,
        module__in_features=in_features,
        module__num_classes=10,
        module__hidden_units=256,
        module__num_hidden=2,
        max_epochs=epochs,
        batch_size=batch_size,
        lr=LR,
        optimizer=torch.optim.SGD,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
    )


def plain_fit(net, X, y):
    return clone(net).fit(X, y)


def distillation_generation(net, X, y, teacher, alpha):
    student = SkorchClassifierStudent(net, np.arange(10), X)
    targets = student.targets(
        student.base_targets(y), student.output(teacher, X), alpha, TEMPERATURE
    )
    return student.fit(clone(net), X, targets, None)


def hand_written(net, X, y):
    params = net.get_params_for("module")
    model = MLP(**params)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    X_t, y_t = torch.as_tensor(X), torch.as_tensor(y)
    eps = torch.finfo(torch.float32).eps
    model.train()
    for _ in range(net.max_epochs):
        order = torch.randperm(X_t.shape[0])
        for start in range(0, X_t.shape[0], net.batch_size):
            rows = order[start : start + net.batch_size]
            optimizer.zero_grad()
            probabilities = model(X_t[rows])
            loss = torch.nn.functional.nll_loss(torch.log(probabilities + eps), y_t[rows])
            loss.backward()
            optimizer.step()
    return model


def timed(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def study(X, y, epochs, batch_size, repeats):
    """Seconds of each way, one list per way, and the within-repeat ratios."""
    net = make_net(X.shape[1], epochs, batch_size)
    torch.manual_seed(0)
    teacher = plain_fit(net, X, y)
    ways = {
        "plain": lambda: plain_fit(net, X, y),
        "generation": lambda: distillation_generation(net, X, y, teacher, ALPHA),
        "alpha0": lambda: distillation_generation(net, X, y, teacher, 0.0),
        "hand": lambda: hand_written(net, X, y),
    }
    times = {name: [] for name in ways}
    for repeat in range(repeats):
        # Every other repeat runs the ways in reverse order, so that a drift of the
        # machine's speed within a repeat does not favour one of them.
        order = list(ways) if repeat % 2 == 0 else list(ways)[::-1]
        for name in order:
            times[name].append(timed(ways[name]))
    return {name: np.array(t) for name, t in times.items()}


def table(times, target):
    plain = times["plain"]

    def row(label, name, reference, note=""):
        ratios = times[name] / reference
        return (
            f"| {label} | {np.median(times[name]):.2f} | {np.median(ratios):.2f}{note} | "
            f"{ratios.min():.2f} to {ratios.max():.2f} |"
        )

    hand_ratio = float(np.median(plain / times["hand"]))
    lines = [
        "| measure | median seconds | median ratio to the plain skorch fit | range of the ratio |",
        "|---|---|---|---|",
        f"| plain skorch fit | {np.median(plain):.2f} | 1.00 | |",
        row(
            f"distillation generation, alpha={ALPHA}, T={TEMPERATURE:g}",
            "generation",
            plain,
            " (target <= 1.10)" if target else "",
        ),
        row("distillation generation, alpha=0", "alpha0", plain),
        f"| hand-written PyTorch loop | {np.median(times['hand']):.2f} | "
        f"{1 / hand_ratio:.2f} (plain skorch / loop: {hand_ratio:.2f}) | |",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run, no result file")
    parser.add_argument(
        "--data-dir", default=None, help="Fashion-MNIST folder (default: the library's search)"
    )
    args = parser.parse_args()
    repeats = 1 if args.quick else 7
    sections = ["# Overhead of a distillation generation (CPU)\n"]

    images, labels = load_fashion_mnist(flatten=True, data_home=args.data_dir)
    n_rows, epochs = (1000, 1) if args.quick else (20000, 10)
    X = images[:n_rows]
    times = study(X, labels[:n_rows], epochs, 128, repeats)
    sections.append(
        f"## Fashion-MNIST\n\nMLP 784-256-256-10 on the first {n_rows} training images, "
        f"{epochs} epochs, batch 128, SGD; median of {repeats}, interleaved.\n\n"
        f"{table(times, target=True)}\n"
    )

    X, y = load_digits(return_X_y=True)
    X, y = (X / 16).astype(np.float32), y.astype(np.int64)
    epochs = 1 if args.quick else 20
    times = study(X, y, epochs, 64, repeats)
    sections.append(
        f"## Digits\n\nMLP 64-256-256-10 on digits (1797 rows), {epochs} epochs, batch 64, "
        f"SGD; median of {repeats}, interleaved. With 8x8 inputs the net's own work is so "
        f"small that fixed per-batch costs dominate.\n\n{table(times, target=False)}\n"
    )
    packages = ("numpy", "scikit-learn", "torch", "skorch")
    sections.append(
        f"{footer(command_line(), packages=packages)} Torch threads: {torch.get_num_threads()}.\n"
    )
    text = "\n".join(sections)
    print(text)
    if not args.quick:
        (Path(__file__).parent / "results" / "nn_overhead.md").write_text(text)


if __name__ == "__main__":
    main()
