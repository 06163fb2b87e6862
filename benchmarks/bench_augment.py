"""Augmentation at the speed of training: images/s of a small CNN with and without it.

The net of the few-labels study (:class:`~sklearn_selfdistill.nn.models.SmallResNet`,
width 16, dropout 0.2, stochastic depth 0.1, Adam, batches of 128) trains one epoch
over N_IMAGES 28x28 single-channel images, in skorch, three ways:

- ``no augmentation``;
- ``BatchRandAugment``: :class:`~sklearn_selfdistill.nn.BatchRandAugment` (two
  operations per image, magnitude 10, cutout), a few tensor operations per batch;
- ``RandAugmentNoise``: :class:`~sklearn_selfdistill.nn.RandAugmentNoise`, torchvision's
  own RandAugment operations, one call per group of images that drew the same operation
  (the library's previous augmentation; torchvision's per-image transform in a Python
  loop is slower still).

The three are interleaved (one epoch of each, in turn, REPEATS times) on the same
process, so that a busy machine slows them alike; the table gives the median images/s
and, per repeat, the ratio to the epoch without augmentation (median and range). Also
the augmentation alone: milliseconds per batch of 128.

Goal (issue 24): training with augmentation at >= 0.8x the images/s without it.

Run: ``python benchmarks/bench_augment.py [--quick] [--device cuda]``; writes
``benchmarks/results/augment.md`` (``augment_cuda.md`` on a GPU; not with ``--quick``).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skorch import NeuralNetClassifier
from torchvision.transforms import v2

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, footer, markdown_table

from sklearn_selfdistill.nn import BatchRandAugment, RandAugmentNoise
from sklearn_selfdistill.nn.augment import rand_augment, rand_augment_batch
from sklearn_selfdistill.nn.models import SmallResNet

RESULTS = Path(__file__).parent / "results"
N_IMAGES = 2048
REPEATS = 15
THREADS = 1
ARMS = {
    "no augmentation": lambda: [],
    "BatchRandAugment": lambda: [BatchRandAugment(num_ops=2, magnitude=10, cutout=0.5)],
    "RandAugmentNoise": lambda: [RandAugmentNoise(num_ops=2, magnitude=10)],
}


def images(n, device):
    """Fashion-MNIST's first ``n`` training images where installed, else random ones."""
    try:
        from sklearn_selfdistill.datasets import load_fashion_mnist

        X, y = load_fashion_mnist(split="train")
        X, y = X[:n], y[:n]
    except OSError:
        rng = np.random.default_rng(0)
        X = rng.random((n, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, n)
    return X, y.astype(np.int64)


def one_epoch(callbacks, X, y, device):
    net = NeuralNetClassifier(
        SmallResNet,
        module__in_channels=1,
        module__stem_stride=2,
        module__dropout=0.2,
        module__stochastic_depth=0.1,
        optimizer=torch.optim.Adam,
        lr=2e-3,
        max_epochs=1,
        batch_size=128,
        iterator_train__shuffle=True,
        train_split=None,
        callbacks=callbacks,
        device=device,
        verbose=0,
    )
    torch.manual_seed(0)
    start = time.perf_counter()
    net.fit(X, y)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return X.shape[0] / (time.perf_counter() - start)


def augmentation_alone(device, repeats):
    """Milliseconds per batch of 128: batched, and torchvision's operations in groups."""
    batch = torch.rand(128, 1, 28, 28, device=device)
    transform = v2.RandAugment(num_ops=2, magnitude=10)

    def timed(fn):
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return 1000 * (time.perf_counter() - start) / repeats

    return {
        "BatchRandAugment": timed(
            lambda: rand_augment(batch, num_ops=2, magnitude=10, cutout=0.5)
        ),
        "RandAugmentNoise": timed(lambda: rand_augment_batch(transform, batch.clone())),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run, no file")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    n, repeats = (256, 1) if args.quick else (N_IMAGES, REPEATS)
    start = time.perf_counter()
    X, y = images(n, args.device)
    rates = {arm: [] for arm in ARMS}
    one_epoch([], X, y, args.device)  # warm-up: the first fit pays for imports and caches
    for _ in range(repeats):
        for arm, callbacks in ARMS.items():
            rates[arm].append(one_epoch(callbacks(), X, y, args.device))
    plain = np.array(rates["no augmentation"])
    body = []
    for arm, values in rates.items():
        ratios = np.array(values) / plain
        body.append(
            [
                arm,
                f"{statistics.median(values):.0f}",
                f"{np.median(ratios):.2f}x [{ratios.min():.2f}, {ratios.max():.2f}]",
            ]
        )
    alone = augmentation_alone(args.device, 5 if args.quick else 50)
    ratio = np.median(np.array(rates["BatchRandAugment"]) / plain)
    text = "\n".join(
        [
            f"# Augmentation at the speed of training ({args.device})",
            "",
            f"One epoch of SmallResNet over {n} Fashion-MNIST images (batches of 128), "
            f"{repeats} interleaved repeats: median images/s, and the ratio to the epoch "
            "without augmentation (median [min, max] over the repeats).",
            "",
            markdown_table(["training", "images/s", "vs no augmentation"], body),
            "",
            "The augmentation alone, milliseconds per batch of 128 (median of 50): "
            + ", ".join(f"{k} {v:.1f} ms" for k, v in alone.items())
            + ".",
            "",
            f"- Goal: training with BatchRandAugment at >= 0.8x the images/s without it: "
            f"{ratio:.2f}x, **{'met' if ratio >= 0.8 else 'not met'}**.",
            "",
            footer(
                command_line(),
                packages=("numpy", "torch", "torchvision", "skorch"),
                threads=THREADS,
                seconds=time.perf_counter() - start,
            ),
            "",
        ]
    )
    print(text)
    if not args.quick:
        suffix = "" if args.device == "cpu" else f"_{args.device.split(':')[0]}"
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"augment{suffix}.md").write_text(text)


if __name__ == "__main__":
    main()
