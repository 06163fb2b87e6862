"""Overhead of a distillation generation over a plain skorch fit, on the CPU.

An MLP on scikit-learn's digits (1797 images of 8x8, flattened), the same net and epochs
three ways, interleaved, median of 3 repeats (ratios taken within each repeat):

- one plain ``NeuralNetClassifier.fit``;
- one distillation generation: the teacher's logits on the training rows, then the
  student's fit with ``DistillationLoss`` (what ``SelfDistillationClassifier`` does for
  every generation after the first);
- a hand-written PyTorch loop doing the same work as the plain fit (shuffled batches,
  SGD, NLL of the log-softmax), for the cost of skorch itself.

Target (issue 4): distillation generation / plain fit <= 1.10.

Run: ``python benchmarks/bench_nn_overhead.py [--quick]``; writes
``benchmarks/results/nn_overhead.md``.
"""

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from skorch import NeuralNetClassifier

from sklearn_selfdistill.nn._skorch import SkorchClassifierStudent
from sklearn_selfdistill.nn.models import MLP

BATCH_SIZE = 64
LR = 0.1


def make_net(epochs):
    return NeuralNetClassifier(
        MLP,
        module__in_features=64,
        module__num_classes=10,
        module__hidden_units=256,
        module__num_hidden=2,
        max_epochs=epochs,
        batch_size=BATCH_SIZE,
        lr=LR,
        optimizer=torch.optim.SGD,
        train_split=None,
        verbose=0,
    )


def plain_fit(net, X, y):
    return clone(net).fit(X, y)


def distillation_generation(net, X, y, teacher):
    student = SkorchClassifierStudent(net, np.arange(10), X)
    targets = student.targets(student.base_targets(y), student.output(teacher, X), 0.7, 4.0)
    return student.fit(clone(net), X, targets, None)


def hand_written(X, y, epochs):
    model = MLP(in_features=64, num_classes=10, hidden_units=256, num_hidden=2)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    X_t, y_t = torch.as_tensor(X), torch.as_tensor(y)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(X_t.shape[0])
        for start in range(0, X_t.shape[0], BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            optimizer.zero_grad()
            probabilities = model(X_t[rows])
            loss = torch.nn.functional.nll_loss(torch.log(probabilities + 1e-7), y_t[rows])
            loss.backward()
            optimizer.step()
    return model


def timed(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs, for a smoke run")
    args = parser.parse_args()
    epochs = 2 if args.quick else 20
    X, y = load_digits(return_X_y=True)
    X, y = (X / 16).astype(np.float32), y.astype(np.int64)
    torch.manual_seed(0)
    net = make_net(epochs)
    teacher = plain_fit(net, X, y)
    times = {"plain": [], "generation": [], "hand": []}
    for _ in range(3):
        times["plain"].append(timed(plain_fit, net, X, y))
        times["generation"].append(timed(distillation_generation, net, X, y, teacher))
        times["hand"].append(timed(hand_written, X, y, epochs))
    plain = np.array(times["plain"])
    gen_ratio = float(np.median(np.array(times["generation"]) / plain))
    skorch_ratio = float(np.median(plain / np.array(times["hand"])))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    table = "\n".join(
        [
            "| measure | median seconds | median ratio |",
            "|---|---|---|",
            f"| plain skorch fit | {np.median(plain):.2f} | 1.00 |",
            f"| distillation generation / plain skorch fit | "
            f"{np.median(times['generation']):.2f} | {gen_ratio:.2f} (target <= 1.10) |",
            f"| plain skorch fit / hand-written PyTorch loop | "
            f"{np.median(times['hand']):.2f} (loop) | {skorch_ratio:.2f} |",
        ]
    )
    text = (
        "# Overhead of a distillation generation (CPU)\n\n"
        f"MLP 64-256-256-10 on digits (1797 rows), {epochs} epochs, batch {BATCH_SIZE}, SGD; "
        f"median of 3, interleaved.\n\n{table}\n\n"
        f"Command: `python benchmarks/bench_nn_overhead.py`; machine: {machine}.\n"
    )
    print(text)
    if not args.quick:
        (Path(__file__).parent / "results" / "nn_overhead.md").write_text(text)


if __name__ == "__main__":
    main()
