"""Helpers every benchmark script shares: the machine footer, tables, noise, memory.

Imported by the scripts next to it (``python benchmarks/bench_*.py`` puts this folder
on ``sys.path``) and by the tests that import those scripts.
"""

import os
import platform
import shlex
import sys
import tracemalloc
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version

import numpy as np

DEFAULT_PACKAGES = ("numpy", "scikit-learn")


def package_versions(packages=DEFAULT_PACKAGES):
    """``"numpy 2.1.0, scikit-learn 1.6.1"`` for the packages that are installed."""
    found = []
    for name in packages:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return ", ".join(found)


def machine(packages=DEFAULT_PACKAGES, threads=None):
    """One line naming the machine, Python and package versions (and threads if given)."""
    cpu = platform.processor() or platform.machine()
    line = (
        f"{platform.system()} {cpu}, {os.cpu_count()} cores (shared), "
        f"Python {platform.python_version()}, {package_versions(packages)}"
    )
    if threads is not None:
        line += f", {threads} thread(s)"
    return line


def footer(command, packages=DEFAULT_PACKAGES, threads=None, seconds=None):
    """The line every results file ends with: the command and the machine that ran it."""
    text = f"Command: `{command}`. Machine: {machine(packages, threads)}."
    if seconds is not None:
        text += f" Whole run: {seconds:.0f} s."
    return text


def command_line(argv=None):
    """The command that ran the current script, as a user would type it (shell-quoted)."""
    argv = sys.argv if argv is None else argv
    script = os.path.relpath(argv[0]) if os.path.isabs(argv[0]) else argv[0]
    return shlex.join(["python", script, *argv[1:]])


def markdown_table(header, rows):
    """A Markdown table from a header and rows of cells (each cell made a string)."""
    if any(len(row) != len(header) for row in rows):
        raise ValueError("every row must have as many cells as the header")
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def mean_std(values, digits=4):
    """``"0.8123 (0.0042)"``: mean and sample standard deviation ("n/a" for one value)."""
    values = np.asarray(values, dtype=float)
    std = f"{values.std(ddof=1):.{digits}f}" if values.size > 1 else "n/a"
    return f"{values.mean():.{digits}f} ({std})"


def status_bytes(field):
    """A memory field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``, ...) in bytes.

    Linux only: raises ``OSError`` where there is no ``/proc/self/status`` and
    ``RuntimeError`` where it has no such field.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss():
    """Reset this process's peak resident set size (VmHWM) to its current RSS.

    Writes ``5`` to ``/proc/self/clear_refs`` (Linux 4.0 and later), so that VmHWM read
    after some work is the peak of that work alone. Returns whether the reset was made:
    False off Linux, on older kernels or where the file may not be written.
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def peak_rss_mib():
    """This process's peak resident memory so far (VmHWM), in MiB; None off Linux.

    Unlike ``getrusage``'s ``ru_maxrss``, VmHWM starts afresh in an exec'd child.
    """
    try:
        return status_bytes("VmHWM") / 2**20
    except (OSError, RuntimeError):
        return None


@contextmanager
def traced_peak():
    """Peak of the memory Python allocators (numpy included) hand out inside the block.

    Yields a dict whose ``"mib"`` is set when the block ends. It misses memory that
    C libraries allocate themselves (BLAS workspaces, libsvm, torch's CPU allocator).
    """
    reading = {"mib": None}
    tracemalloc.start()
    try:
        yield reading
    finally:
        reading["mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()


def synthetic_images(n_per_class, spread, n_train):
    """A stand-in for flattened 28x28 images, for ``--quick`` runs: ten classes.

    Each class is a fixed random mean image plus Gaussian noise of std ``spread``,
    clipped to [0, 1] (seeded), so a net can learn it in a few epochs. Returns
    ``(X_train, y_train, X_test, y_test)``, the first ``n_train`` rows for training.
    """
    rng = np.random.default_rng(0)
    centers = rng.random((10, 784)).astype(np.float32)
    y = np.tile(np.arange(10), n_per_class)
    X = np.clip(centers[y] + spread * rng.standard_normal((y.size, 784)), 0, 1)
    X = X.astype(np.float32)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def fashion_mnist_flat():
    """Fashion-MNIST's published splits, flattened: ``(X_train, y_train, X_test, y_test)``."""
    from sklearn_selfdistill import datasets

    X, y = datasets.load_fashion_mnist(split="train", flatten=True)
    X_test, y_test = datasets.load_fashion_mnist(split="test", flatten=True)
    return X, y, X_test, y_test
