"""Images per second of a distillation generation on a GPU, against hand-written loops.

ResNet-18 on Fashion-MNIST (the 60000 training images, padded from 28x28 to 32x32),
SGD with momentum 0.9, the same epochs and batch size four ways, interleaved, median
of the ratios taken within each repeat:

- the library: ``SelfDistillationClassifier(NeuralNetClassifier(ResNet18, ...),
  n_generations=2).fit(X, y)``. ``history_[0]["fit_time"]`` is generation 0, a plain
  skorch fit; ``history_[1]["fit_time"]`` is generation 1, a distillation generation:
  the teacher's logits pass over the training images plus the student's fit (the
  scoring after each fit is not included);
- a hand-written plain loop: NLL of the model's log-probabilities;
- a hand-written distillation loop: the teacher's logits pass (batched, inference
  mode, kept on the device), then ``alpha * T**2 * KL + (1 - alpha) * CE`` in plain
  torch, the library's loss.

The hand-written loops use the same model class and options and draw shuffled batches
from tensors already on the device: copying the data set to the device is not timed,
which favours them (skorch copies every batch from host memory). With ``--autocast
bf16`` the library's nets get ``module__autocast_dtype="bfloat16"`` and the loops wrap
the forward pass in ``torch.autocast`` (the loss is taken in float32 in both).
``--channels-last`` sets ``channels_last=True`` on the model for all of them. Both
default to on for a CUDA device that supports bfloat16, where they help, and off
elsewhere (on a CPU they are usually slower).

Target (issue 4): distillation generation >= 0.9 of the images per second of the
hand-written distillation loop.

Run: ``python benchmarks/bench_nn_gpu.py [--quick]`` on a machine with a GPU; writes
``benchmarks/results/nn_gpu.md`` (``--out``) unless ``--quick``.
"""

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from skorch import NeuralNetClassifier

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, machine, markdown_table

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill.datasets import load_fashion_mnist
from sklearn_selfdistill.nn.models import ResNet, ResNet18

RESULTS = Path(__file__).parent / "results" / "nn_gpu.md"
NUM_CLASSES = 10
LR = 0.1
MOMENTUM = 0.9
ALPHA = 0.7
TEMPERATURE = 4.0  # SelfDistillationClassifier's default
TINY = torch.finfo(torch.float32).tiny


# -- data --------------------------------------------------------------------------------


def load_padded_fashion_mnist(data_dir=None, split="train"):
    """Images of shape (n, 1, 32, 32), float32 in [0, 1], and int64 labels.

    The 28x28 images get 2 zero pixels on every side, the input size of CIFAR nets.
    """
    images, labels = load_fashion_mnist(split=split, data_home=data_dir)
    return np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2))), labels


# -- the four measurements ---------------------------------------------------------------


def module_spec(args):
    """The module class and keyword arguments every measurement uses."""
    kwargs = {
        "num_classes": NUM_CLASSES,
        "in_channels": 1,
        "autocast_dtype": "bfloat16" if args.autocast == "bf16" else None,
        "channels_last": args.channels_last,
    }
    if tuple(args.num_blocks) == (2, 2, 2, 2) and args.width == 64:
        return ResNet18, kwargs
    return ResNet, {**kwargs, "num_blocks": tuple(args.num_blocks), "width": args.width}


def synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def library_fit(X, y, args):
    """Seconds of generation 0 (plain skorch fit) and generation 1 (distillation)."""
    module, kwargs = module_spec(args)
    net = NeuralNetClassifier(
        module,
        **{f"module__{key}": value for key, value in kwargs.items()},
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        lr=LR,
        optimizer=torch.optim.SGD,
        optimizer__momentum=MOMENTUM,
        train_split=None,
        device=args.device,
        iterator_train__shuffle=True,
        verbose=0,
    )
    model = SelfDistillationClassifier(
        net, alpha=ALPHA, temperature=TEMPERATURE, n_generations=2, random_state=0
    )
    synchronize(args.device)
    model.fit(X, y)
    return model.history_[0]["fit_time"], model.history_[1]["fit_time"]


def _forward_context(args):
    """The hand-written loops' autocast: around the forward pass, as the library's."""
    if args.autocast == "bf16":
        return torch.autocast(device_type=torch.device(args.device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _new_model(args):
    module, kwargs = module_spec(args)
    # The loops open the autocast region themselves: the hand-written way.
    return module(**{**kwargs, "autocast_dtype": None}).to(args.device)


def _train(model, X, args, loss_fn):
    """SGD over shuffled batches of the device tensor ``X``; ``loss_fn(log_probs, rows)``."""
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    model.train()
    n = X.shape[0]
    for _ in range(args.epochs):
        order = torch.randperm(n, device=X.device)
        for start in range(0, n, args.batch_size):
            rows = order[start : start + args.batch_size]
            with _forward_context(args):
                probabilities = model(X[rows])
            log_probabilities = torch.log(probabilities.float().clamp_min(TINY))
            loss = loss_fn(log_probabilities, rows)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


def hand_written_plain(X, y, args):
    """The plain loop; returns the trained model (the next distillation's teacher)."""
    return _train(_new_model(args), X, args, lambda logp, rows: F.nll_loss(logp, y[rows]))


def teacher_logits(teacher, X, args):
    """The teacher's logits (log-probabilities) on ``X``, in batches, on the device."""
    teacher.eval()
    with torch.inference_mode(), _forward_context(args):
        batches = [
            teacher(X[start : start + args.batch_size]).float()
            for start in range(0, X.shape[0], args.batch_size)
        ]
    return torch.log(torch.cat(batches).clamp_min(TINY))


def hand_written_distillation(teacher, X, y, args):
    """The teacher's logits pass, then the student's loop with the library's loss."""
    targets = teacher_logits(teacher, X, args)
    T = TEMPERATURE

    def loss_fn(logp, rows):
        kl = F.kl_div(
            F.log_softmax(logp / T, dim=-1),
            F.log_softmax(targets[rows] / T, dim=-1),
            reduction="batchmean",
            log_target=True,
        )
        return ALPHA * T**2 * kl + (1 - ALPHA) * F.cross_entropy(logp, y[rows])

    return _train(_new_model(args), X, args, loss_fn)


def timed(device, fn, *args):
    """(seconds, result) of ``fn(*args)``, the device synchronized on both sides."""
    synchronize(device)
    start = time.perf_counter()
    result = fn(*args)
    synchronize(device)
    return time.perf_counter() - start, result


def run(X, y, args):
    """Seconds of the four measurements, one list entry per repeat, interleaved."""
    torch.manual_seed(0)
    X_device = torch.as_tensor(X, device=args.device)
    y_device = torch.as_tensor(y, device=args.device)
    # Warm-up (CUDA context, cuDNN kernel selection), not timed.
    warm = min(X.shape[0], 2 * args.batch_size)
    warm_args = argparse.Namespace(**{**vars(args), "epochs": 1})
    hand_written_plain(X_device[:warm], y_device[:warm], warm_args)
    times = {"generation": [], "plain": [], "hand_distillation": [], "hand_plain": []}
    for _ in range(args.repeats):
        plain, generation = library_fit(X, y, args)
        times["plain"].append(plain)
        times["generation"].append(generation)
        seconds, teacher = timed(args.device, hand_written_plain, X_device, y_device, args)
        times["hand_plain"].append(seconds)
        seconds, _ = timed(
            args.device, hand_written_distillation, teacher, X_device, y_device, args
        )
        times["hand_distillation"].append(seconds)
    return times


# -- report ------------------------------------------------------------------------------


def summarize(times, n_images):
    """Median seconds and images/s of each measurement, and the median within-repeat ratios.

    A ratio is images/s of the library over images/s of its hand-written loop, i.e.
    the loop's seconds over the library's.
    """
    summary = {
        name: {
            "seconds": statistics.median(values),
            "images_per_second": statistics.median(n_images / s for s in values),
        }
        for name, values in times.items()
    }
    for library, loop in (("generation", "hand_distillation"), ("plain", "hand_plain")):
        summary[library]["ratio"] = statistics.median(
            h / t for h, t in zip(times[loop], times[library], strict=True)
        )
    return summary


def machine_line(device):
    """The CUDA device (name, CUDA version) or "CPU", then the host, Python and packages."""
    host = machine(packages=("numpy", "scikit-learn", "torch", "skorch"))
    if torch.device(device).type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda}), {host}"
    return f"CPU, {host}"


def to_markdown(summary, args, n_train, command):
    def row(label, key, ratio):
        entry = summary[key]
        return [label, f"{entry['seconds']:.2f}", f"{entry['images_per_second']:.0f}", ratio]

    generation, plain = summary["generation"]["ratio"], summary["plain"]["ratio"]
    header = ["measure", "median seconds", "median images/s", "median ratio of images/s"]
    rows = [
        row(
            "distillation generation (generation 1)",
            "generation",
            f"{generation:.2f} of the hand-written distillation loop (target >= 0.90)",
        ),
        row("hand-written distillation loop", "hand_distillation", "1.00"),
        row(
            "plain skorch fit (generation 0)",
            "plain",
            f"{plain:.2f} of the hand-written plain loop",
        ),
        row("hand-written plain loop", "hand_plain", "1.00"),
    ]
    model = "ResNet-18"
    if module_spec(args)[0] is not ResNet18:
        model = f"ResNet(num_blocks={tuple(args.num_blocks)}, width={args.width})"
    settings = (
        f"{model} on Fashion-MNIST padded to 32x32, {n_train} training images, "
        f"{args.epochs} epoch(s), batch {args.batch_size}, SGD lr {LR} momentum {MOMENTUM}, "
        f"alpha {ALPHA}, T {TEMPERATURE}, autocast {args.autocast}, channels_last "
        f"{args.channels_last}, device {args.device}; median of {args.repeats}, interleaved"
    )
    kind = "GPU" if torch.device(args.device).type == "cuda" else "CPU"
    caption = (
        "Images/s = training images x epochs / seconds. Generation 1's time "
        "(`history_[1]['fit_time']`) covers the teacher's logits pass over the training "
        "images and the student's fit; the hand-written distillation loop's covers the "
        "same two. The hand-written loops read shuffled batches from tensors already on "
        "the device (the copy is not timed); skorch copies every batch from host memory. "
        "Ratios are taken within each repeat."
    )
    return (
        f"# Distillation generation against hand-written loops ({kind})\n\n"
        f"{settings}.\n\n{markdown_table(header, rows)}\n\n{caption}\n\n"
        f"Command: `{command}`; machine: {machine_line(args.device)}.\n"
    )


# -- command line ------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--n-train", type=int, default=None, help="default: all 60000")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--autocast",
        choices=["none", "bf16"],
        default=None,
        help="default: bf16 on a CUDA device that supports it, else none",
    )
    parser.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="default: on with a CUDA device that supports bf16, else off",
    )
    parser.add_argument("--num-blocks", type=int, nargs=4, default=[2, 2, 2, 2])
    parser.add_argument("--width", type=int, default=64, help="channels of the first stage")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 512 images, batch <= 64, 1 repeat, no result file",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    fast_gpu = torch.device(args.device).type == "cuda" and torch.cuda.is_bf16_supported()
    if args.autocast is None:
        args.autocast = "bf16" if fast_gpu else "none"
    if args.channels_last is None:
        args.channels_last = fast_gpu
    if args.quick:
        args.n_train, args.batch_size, args.repeats = 512, min(args.batch_size, 64), 1
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    X, y = load_padded_fashion_mnist(args.data_dir, "train")
    n_train = X.shape[0] if args.n_train is None else min(args.n_train, X.shape[0])
    X, y = X[:n_train], y[:n_train]
    summary = summarize(run(X, y, args), n_train * args.epochs)
    command = command_line(["benchmarks/bench_nn_gpu.py", *argv])
    text = to_markdown(summary, args, n_train, command)
    print(text)
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return summary


if __name__ == "__main__":
    main()
