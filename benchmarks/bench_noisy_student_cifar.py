"""Noisy Student on CIFAR-10 with ResNet-18 and 4 000 labels, for a GPU.

The few-labels recipe of ``bench_few_labels.py`` at the scale the semi-supervised
literature reports (CIFAR-10, 4 000 labels: WRN-28-2 supervised 20.3% error,
pseudo-labels 17.8%): 4 000 of the 50 000 training images keep their label (400 per
class, seeded), the other 46 000 are the unlabelled pool, the 10 000 test images score.

Every net is the CIFAR ResNet-18 of :mod:`sklearn_selfdistill.nn.models` with stochastic
depth 0.2, SGD (momentum 0.9, Nesterov, weight decay 5e-4, lr 0.1 annealed by a cosine),
batches of 256, :class:`~sklearn_selfdistill.nn.BatchRandAugment` (two operations,
magnitude 10, cutout) on every training batch; on a GPU in bfloat16 and channels-last.

- ``supervised``: the net on the 4 000 labelled images, ``--supervised-epochs`` epochs;
- ``Noisy Student gen g``: ``SelfDistillationClassifier(..., alpha=0,
  pseudo_labels="hard", pseudo_label_threshold=0.8, balance_pseudo_labels=True,
  unlabeled=-1)``, generation 0 the supervised net, generations 1.. learning the
  labelled images and the pool's pseudo-labels for ``--student-epochs`` epochs each.

Run on a GPU: ``python benchmarks/bench_noisy_student_cifar.py --device cuda
--data-home DIR`` (the python version of CIFAR-10 in DIR; ``--download`` fetches it);
writes ``benchmarks/results/noisy_student_cifar.md``. ``--quick`` runs the same code on
``--data-home``'s files with a tiny net and a few images (for the tests, on the CPU),
and writes nothing.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, footer, markdown_table

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill.datasets import hide_labels, load_cifar10
from sklearn_selfdistill.nn import BatchRandAugment, EpochProgress
from sklearn_selfdistill.nn.models import ResNet, ResNet18

RESULTS = Path(__file__).parent / "results"


def make_net(args, epochs):
    gpu = args.device.startswith("cuda")
    module = {"module": ResNet18}
    if args.quick:
        module = {"module": ResNet, "module__num_blocks": (1, 1, 1, 1), "module__width": 4}
    return NeuralNetClassifier(
        **module,
        module__num_classes=10,
        module__in_channels=3,
        module__stochastic_depth=0.2,
        module__autocast_dtype="bfloat16" if gpu else None,
        module__channels_last=gpu,
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        optimizer__nesterov=True,
        optimizer__weight_decay=5e-4,
        lr=0.1,
        max_epochs=epochs,
        batch_size=args.batch_size,
        iterator_train__shuffle=True,
        iterator_train__drop_last=True,
        train_split=None,
        callbacks=[
            ("augment", BatchRandAugment(num_ops=2, magnitude=10, cutout=0.5)),
            ("lr", LRScheduler(policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=epochs)),
            ("progress", EpochProgress()),
        ],
        device=args.device,
        verbose=0,
    )


def accuracy(proba, y):
    return float(np.mean(np.asarray(proba).argmax(axis=1) == y))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--download", action="store_true")
    parser.add_argument("--n-labeled", type=int, default=4000)
    parser.add_argument("--supervised-epochs", type=int, default=200)
    parser.add_argument("--student-epochs", type=int, default=60)
    parser.add_argument("--n-generations", type=int, default=3, help="generation 0 included")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny net and data, no file")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_labeled, args.supervised_epochs, args.student_epochs = 20, 2, 1
        args.batch_size = 8
        torch.set_num_threads(1)  # tiny tensors: more threads only wait for each other
    warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    X, y = load_cifar10(split="train", data_home=args.data_home, download=args.download)
    X_test, y_test = load_cifar10(split="test", data_home=args.data_home)
    y_hidden = hide_labels(y, args.n_labeled, random_state=args.seed)
    labelled = y_hidden != -1

    supervised = make_net(args, args.supervised_epochs).fit(X[labelled], y[labelled])
    supervised_time = time.perf_counter() - start
    clf = SelfDistillationClassifier(
        make_net(args, args.student_epochs),
        n_generations=args.n_generations,
        alpha=0.0,
        unlabeled=-1,
        pseudo_labels="hard",
        pseudo_label_threshold=0.8,
        balance_pseudo_labels=True,
        warm_start=True,
        random_state=args.seed,
        verbose=1,
    )
    clf.generations_ = [supervised]  # generation 0: the supervised net itself
    clf.history_ = [
        {
            "generation": 0,
            "alpha": 0.0,
            "temperature": None,
            "train_score": None,
            "validation_score": None,
            "fit_time": supervised_time,
        }
    ]
    clf.fit(X, y_hidden)
    rows = []
    for g, proba in enumerate(clf.staged_predict_proba(X_test)):
        name = "supervised (generation 0)" if g == 0 else f"Noisy Student gen {g}"
        rows.append(
            [name, f"{100 * accuracy(proba, y_test):.2f}", f"{clf.history_[g]['fit_time']:.0f}"]
        )
    text = "\n".join(
        [
            f"# Noisy Student on CIFAR-10, ResNet-18, {args.n_labeled} labels ({args.device})",
            "",
            f"Test accuracy % on the {y_test.shape[0]} test images, seed {args.seed}; "
            f"{int(labelled.sum())} labelled training images, {int((~labelled).sum())} "
            "unlabelled. See the script's docstring.",
            "",
            markdown_table(["arm", "test accuracy %", "fit seconds"], rows),
            "",
            footer(
                command_line(),
                packages=("numpy", "torch", "torchvision", "skorch"),
                seconds=time.perf_counter() - start,
            ),
            "",
        ]
    )
    print(text)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "noisy_student_cifar.md").write_text(text)


if __name__ == "__main__":
    main()
