"""The ``sklearn-selfdistill`` command (also ``python -m sklearn_selfdistill.cli``).

``sklearn-selfdistill train [key=value ...]`` trains the generations of a skorch net in a
:class:`~sklearn_selfdistill.SelfDistillationClassifier` and writes each one, as soon as it
is fit, into a new run folder ``runs/<timestamp>/`` (see :mod:`sklearn_selfdistill.cli._lineage`);
``train --resume RUN_DIR`` continues an interrupted run after its last finished generation.
``sklearn-selfdistill evaluate RUN_DIR [RUN_DIR ...]`` compares the generations of runs on
the test split and plots them. It needs the ``torch`` extra.

Exit status: 0 on success, 2 for a bad command line, configuration or run folder (with
a message on stderr), 1 when the data or a package is missing, 130 on Ctrl-C.
"""

import argparse
import errno
import os
import sys
from pathlib import Path

from ._errors import ConfigError, DataUnavailableError, shorten
from ._lineage import CONFIG, Lineage, LineageError

__all__ = ["main"]

_PROG = "sklearn-selfdistill"


def _parser():
    from ._config import describe_keys

    parser = argparse.ArgumentParser(
        prog=_PROG, description="Self-distillation of neural networks, generation by generation."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train",
        help="train the generations and write them to a run folder",
        description=(
            "Train the generations and write each one to a run folder as soon as it is fit.\n"
            "Without arguments: an MLP on digits, 3 generations, on the CPU."
        ),
        epilog=(
            "configuration keys (model=X and data=X set model.name and data.name):\n"
            + describe_keys()
            + "\n\nA value outside these ranges is refused before any run folder is made."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="set a configuration key, e.g. training.epochs=10 or model=resnet18",
    )
    train.add_argument("--config", metavar="FILE", help="YAML file replacing the defaults it sets")
    train.add_argument(
        "--runs-dir",
        metavar="DIR",
        help="folder in which the run folder <timestamp> is made (default: runs)",
    )
    train.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue this run after its last finished generation, with its configuration",
    )
    train.add_argument(
        "--print-config", action="store_true", help="print the resolved configuration and exit"
    )
    evaluate = commands.add_parser(
        "evaluate",
        help="compare the generations of runs on the test split and plot them",
        description=(
            "Print the test accuracy of every generation of the runs side by side, and of "
            "their Born-Again ensemble (the generations' probabilities averaged), and plot it."
        ),
    )
    evaluate.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders")
    evaluate.add_argument(
        "--plot",
        metavar="FILE",
        help="write one PNG with every run here (default: accuracy.png in each run folder)",
    )
    evaluate.add_argument(
        "--device", default="cpu", help="where the generations predict (default: cpu)"
    )
    return parser


def _check_path(option, path, *, must_exist=False):
    """Refuse, with a message, a path the file system cannot even look up (too long)."""
    if path is None:
        return
    try:
        os.stat(path)
    except FileNotFoundError:
        if must_exist:
            raise ConfigError(
                f"{option} {shorten(path)}: there is no such file or folder."
            ) from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise ConfigError(
                f"{option} {shorten(path)}: the path is too long for this file system "
                f"({len(os.fsencode(path))} bytes; a name may have up to 255 bytes, a path "
                f"about 4096). Use a shorter path."
            ) from None
        if exc.errno not in (errno.ENOTDIR, errno.ELOOP, errno.EACCES):
            raise ConfigError(
                f"{option} {shorten(path)}: cannot look it up ({exc.strerror or exc})."
            ) from None


def _train_command(args):
    from ._config import load_config, to_yaml

    _check_path("--config", args.config)
    _check_path("--runs-dir", args.runs_dir)
    _check_path("--resume", args.resume)
    if args.resume is None:
        config = load_config(args.config, args.overrides)
    else:
        if args.config is not None or args.runs_dir is not None:
            raise ConfigError(
                "--resume continues a run with the configuration saved in it; it takes "
                "neither --config nor --runs-dir."
            )
        resume = Lineage(args.resume)
        config = load_config(
            base=resume.read_config(),
            overrides=args.overrides,
            resumable_only=True,
            base_source=str(resume.path / CONFIG),
        )
    if args.print_config:
        print(to_yaml(config), end="")
        return 0
    runs_dir = Path("runs" if args.runs_dir is None else args.runs_dir)
    if args.resume is None and runs_dir.exists() and not runs_dir.is_dir():
        raise ConfigError(
            f"--runs-dir {runs_dir} is a file; it must be a folder (made if missing), in "
            f"which every run gets a folder of its own."
        )
    from ._train import train

    if args.resume is None:
        train(config, runs_dir=runs_dir)
    else:
        train(config, resume=resume)
    return 0


def _evaluate_command(args):
    from ._evaluate import evaluate

    for path in args.runs:
        _check_path("RUN_DIR", path)
    _check_path("--plot", args.plot)
    evaluate(args.runs, plot=args.plot, device=args.device)
    return 0


def main(argv=None):
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    try:
        parser = _parser()
    except ImportError as exc:  # omegaconf, torch: the torch extra
        print(
            f"{_PROG}: error: the command line needs the torch extra ({exc}): "
            f'pip install "sklearn_selfdistill[torch]"',
            file=sys.stderr,
        )
        return 1
    # key=value items may come after options too, which argparse's positionals do not allow.
    args, extras = parser.parse_known_args(argv)
    unknown = [item for item in extras if args.command != "train" or item.startswith("-")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "train":
        args.overrides += extras
    try:
        return _train_command(args) if args.command == "train" else _evaluate_command(args)
    except (ConfigError, LineageError) as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 2
    except (DataUnavailableError, ImportError) as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # what the file system refuses where no check names it first
        where = f" ({shorten(exc.filename)})" if exc.filename else ""
        print(f"{_PROG}: error: {exc.strerror or shorten(exc)}{where}.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
