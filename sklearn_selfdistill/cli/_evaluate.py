"""``sklearn-selfdistill evaluate``: the generations of runs side by side on the test split."""

import io
import os
from pathlib import Path

import numpy as np

from . import _run
from ._build import build_net, load_split
from ._config import load_config
from ._errors import ConfigError, shorten
from ._lineage import CONFIG, Lineage, LineageError, atomic_write
from ._train import accuracy
from ._untrusted import restore_generation

__all__ = ["PLOT_NAME", "evaluate", "require_matplotlib"]

#: The plot's file name in each run folder.
PLOT_NAME = "accuracy.png"


def require_matplotlib():
    """Fail early, before any evaluation, when the plot cannot be drawn."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "sklearn-selfdistill evaluate draws its plot with matplotlib, which is not "
            "installed: pip install matplotlib"
        ) from exc


def _check_plot_path(path):
    """Refuse, before any evaluation, a plot path that cannot be written."""
    folder = path.parent
    if path.is_dir():
        problem = "is a folder"
    elif not folder.is_dir():
        problem = f"is in {folder}, which is not an existing folder"
    elif not os.access(folder, os.W_OK):
        problem = f"is in {folder}, which this process cannot write to"
    else:
        return
    raise ConfigError(f"--plot {path} {problem}; give the path of a PNG file to write.")


def _evaluate_run(path, device):
    """Test accuracy of every finished generation of a run and of their ensemble."""
    lineage = Lineage(path)
    config = load_config(
        base=lineage.read_config(),
        overrides=[f"device={device}"],
        resumable_only=True,
        base_source=str(lineage.path / CONFIG),
    )
    finished = _run.finished(lineage, config)
    if not finished:
        raise LineageError(f"{lineage.path} has no finished generation to evaluate yet.")
    rows = [_run.metrics(lineage, g) for g in finished]
    classes = np.asarray(rows[0]["classes"])
    changed = [row["generation"] for row in rows if row["classes"] != rows[0]["classes"]]
    if changed:
        raise LineageError(
            f"generation {changed[0]} of {lineage.path} records other classes than "
            f"generation 0; every generation of a lineage has the same classes."
        )
    X_test, y_test = load_split(config, "test")
    unknown = np.setdiff1d(np.unique(y_test), classes)
    if unknown.size:
        raise LineageError(
            f"{lineage.path / 'generation_0.json'} records the classes {classes.tolist()}, "
            f"which do not include the test labels {unknown.tolist()} of {config.data.name}."
        )
    net = build_net(config, X_test, classes.shape[0])
    probas = [
        restore_generation(net, classes.shape[0], lineage.weights_path(g)).predict_proba(X_test)
        for g in finished
    ]
    return {
        "lineage": lineage,
        "metrics": rows,
        "accuracies": [accuracy(proba, classes, y_test) for proba in probas],
        # The Born-Again ensemble: the generations' probabilities averaged.
        "ensemble": accuracy(np.mean(probas, axis=0), classes, y_test),
    }


def _print_table(results, names):
    width = max(8, *map(len, names))
    print("generation  " + "  ".join(f"{name:>{width}}" for name in names))
    for generation in range(max(len(r["accuracies"]) for r in results)):
        cells = [
            f"{r['accuracies'][generation]:.4f}" if generation < len(r["accuracies"]) else "-"
            for r in results
        ]
        print(f"{generation:>10}  " + "  ".join(f"{cell:>{width}}" for cell in cells))
    print("  ensemble  " + "  ".join(f"{r['ensemble']:>{width}.4f}" for r in results))


def _best_generation(validation_scores):
    """The generation with the best validation accuracy, or None without validation rows."""
    if any(score is None for score in validation_scores):
        return None
    return int(np.argmax(validation_scores))


def _plot(results, names, path):
    """One panel per run: train, validation and test accuracy per generation.

    Each panel is a :class:`~sklearn_selfdistill.plotting.GenerationCurveDisplay` (the
    best validation generation marked) with the run's Born-Again ensemble as a dotted
    line. Returns the displays.
    """
    from matplotlib.figure import Figure

    from ..plotting import GenerationCurveDisplay

    figure = Figure(figsize=(5 * len(results), 5), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(results), sharey=True, squeeze=False)[0])
    displays = []
    for result, name, ax in zip(results, names, axes, strict=True):
        metrics = result["metrics"]
        validation = [m["validation_score"] for m in metrics]
        has_validation = not any(score is None for score in validation)
        display = GenerationCurveDisplay(
            generations=[m["generation"] for m in metrics],
            train_scores=[m["train_score"] for m in metrics],
            validation_scores=validation if has_validation else None,
            test_scores=result["accuracies"],
            best_generation=_best_generation(validation),
            score_name="accuracy",
            name=name,
        ).plot(ax=ax)
        test_color = display.lines_["test"].get_color()
        ax.axhline(result["ensemble"], color=test_color, linestyle=":", label="test, ensemble")
        # Below the panel, where it hides no curve.
        ax.legend(title=name, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=2)
        displays.append(display)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    try:
        atomic_write(path, buffer.getvalue())
    except OSError as exc:
        raise LineageError(
            f"cannot write the plot {shorten(path)}: {exc.strerror or exc}."
        ) from None
    return displays


def evaluate(run_paths, *, plot=None, device="cpu"):
    """Print the test accuracy of every generation of every run, and plot it.

    Parameters
    ----------
    run_paths : sequence of path-like
        Run folders of ``sklearn-selfdistill train``.
    plot : path-like or None, default=None
        One PNG with every run; None writes ``accuracy.png`` into each run folder,
        with that run alone.
    device : str, default="cpu"
        Where the generations predict.

    Returns
    -------
    plots : list of pathlib.Path
        The PNG files written.
    """
    if plot is not None:
        _check_plot_path(Path(plot))
    else:
        for path in run_paths:  # each run folder takes its plot
            Lineage(path).check_writable()
    results = [_evaluate_run(path, device) for path in run_paths]
    names = [r["lineage"].path.name for r in results]
    if len(set(names)) < len(names):
        names = [str(r["lineage"].path) for r in results]
    _print_table(results, names)  # before the plot, which may still fail
    require_matplotlib()
    if plot is not None:
        _plot(results, names, plot)
        plots = [plot]
    else:
        plots = []
        for result, name in zip(results, names, strict=True):
            _plot([result], [name], result["lineage"].path / PLOT_NAME)
            plots.append(result["lineage"].path / PLOT_NAME)
    for path in plots:
        print(f"Plot written to {path}")
    return plots
