"""Online self-distillation on clean labels: accuracy and calibration at equal compute.

Fashion-MNIST, all 60 000 training images with their (clean) labels, the 10 000 test
images. The net: MLP 784-256-256-10, Adam lr 1e-3 with a cosine schedule over EPOCHS
epochs, batches of 128, one torch thread; every arm trains for the same epochs over the
same rows, so the compute differs only by what a batch costs (the callback's share is
measured by ``bench_online_cost.py``). Arms:

- ``plain``: the cross-entropy of the labels;
- ``label smoothing 0.1``: ``CrossEntropyLoss(label_smoothing=0.1)``, the usual cheap
  remedy for over-confidence;
- ``online ...``: :class:`~sklearn_selfdistill.nn.OnlineSelfDistillation`, the row's own
  earlier predictions mixed into its target (PS-KD: last epoch's; or a running mean).

Reported: test accuracy and expected calibration error (ECE: 15 equal-width bins of the
top-class probability, the weighted mean gap between confidence and accuracy), mean over
seeds. Goal (issue 25): online self-distillation loses no accuracy and cuts the ECE of
plain training by at least half.

Run: ``python benchmarks/bench_online_clean.py [--quick] [--seeds 0 1 2]``; writes
``benchmarks/results/online_clean.md`` (not with ``--quick``, which runs a tiny version
on synthetic images).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler
from torch.optim.lr_scheduler import CosineAnnealingLR

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, fashion_mnist_flat, footer, markdown_table, synthetic_images

from sklearn_selfdistill.nn import OnlineSelfDistillation
from sklearn_selfdistill.nn.models import MLP

RESULTS = Path(__file__).parent / "results"
EPOCHS = 10
ARMS = {  # label: (criterion keyword arguments, online callback or None)
    "plain": ({}, None),
    "label smoothing 0.1": ({"criterion__label_smoothing": 0.1}, None),
    "online, alpha 0.5, last epoch (PS-KD)": ({}, dict(alpha=0.5, momentum=0.0)),
    "online, alpha 0.7, running mean 0.9": ({}, dict(alpha=0.7, momentum=0.9)),
}


def expected_calibration_error(proba, y, bins=15):
    """Weighted mean |accuracy - confidence| over equal-width confidence bins."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def make_net(epochs, criterion_params, online):
    callbacks = [("cosine", LRScheduler(policy=CosineAnnealingLR, T_max=epochs))]
    if online is not None:
        callbacks.append(("online", OnlineSelfDistillation(**online)))
    return NeuralNetClassifier(
        MLP,
        module__in_features=784,
        module__num_classes=10,
        module__hidden_units=256,
        module__num_hidden=2,
        module__output_nonlin=None,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=epochs,
        batch_size=128,
        lr=1e-3,
        optimizer=torch.optim.Adam,
        iterator_train__shuffle=True,
        train_split=None,
        callbacks=callbacks,
        verbose=0,
        **criterion_params,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny synthetic run, no file")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    if args.quick:
        X, y, X_test, y_test = synthetic_images(60, 0.4, 400)
        epochs, seeds = 3, [0]
    else:
        X, y, X_test, y_test = fashion_mnist_flat()
        epochs, seeds = EPOCHS, args.seeds
    results = {arm: {"accuracy": [], "ece": [], "seconds": []} for arm in ARMS}
    for seed in seeds:
        for arm, (criterion_params, online) in ARMS.items():  # interleaved
            torch.manual_seed(seed)
            began = time.perf_counter()
            net = make_net(epochs, criterion_params, online).fit(X, y)
            seconds = time.perf_counter() - began
            proba = torch.softmax(torch.as_tensor(net.forward(X_test)), dim=1).numpy()
            results[arm]["accuracy"].append(float(np.mean(proba.argmax(axis=1) == y_test)))
            results[arm]["ece"].append(expected_calibration_error(proba, y_test))
            results[arm]["seconds"].append(seconds)
            print(
                f"seed={seed} {arm}: accuracy {results[arm]['accuracy'][-1]:.4f} "
                f"ECE {results[arm]['ece'][-1]:.4f} {seconds:.0f} s",
                flush=True,
            )
    plain = results["plain"]
    body = []
    for arm, r in results.items():
        acc, ece = 100 * np.array(r["accuracy"]), 100 * np.array(r["ece"])
        d_acc = acc - 100 * np.array(plain["accuracy"])
        body.append(
            [
                arm,
                f"{acc.mean():.2f}",
                f"{d_acc.mean():+.2f} ({d_acc.min():+.2f} to {d_acc.max():+.2f})",
                f"{ece.mean():.2f}",
                f"{ece.mean() / (100 * np.mean(plain['ece'])):.2f}",
                f"{np.median(r['seconds']) / np.median(plain['seconds']):.2f}",
            ]
        )
    table = markdown_table(
        [
            "arm",
            "test accuracy %",
            "vs plain, points (range over seeds)",
            "ECE %",
            "ECE / plain's",
            "seconds / plain's (median)",
        ],
        body,
    )
    online = [a for a in results if a.startswith("online")]
    lines = []
    for arm in online:
        d_acc = 100 * (np.mean(results[arm]["accuracy"]) - np.mean(plain["accuracy"]))
        ratio = np.mean(results[arm]["ece"]) / np.mean(plain["ece"])
        met = d_acc >= -0.1 and ratio <= 0.5
        lines.append(
            f"- `{arm}`: {d_acc:+.2f} points, ECE {ratio:.2f}x plain's (goal: no loss, ECE "
            f"at most half: **{'met' if met else 'not met'}**)."
        )
    text = "\n".join(
        [
            "# Online self-distillation on clean Fashion-MNIST: accuracy and calibration",
            "",
            f"All {X.shape[0]} training images, {epochs} epochs for every arm, MLP; mean over "
            f"seeds {seeds}. ECE: expected calibration error, 15 bins, on the test images.",
            "",
            table,
            "",
            *lines,
            "",
            footer(
                command_line(),
                packages=("numpy", "torch", "skorch"),
                threads=1,
                seconds=time.perf_counter() - start,
            ),
            "",
        ]
    )
    print(text)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "online_clean.md").write_text(text)
    return results


if __name__ == "__main__":
    main()
