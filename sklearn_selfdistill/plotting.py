"""GenerationCurveDisplay: score per generation of a fitted self-distillation meta-estimator.

matplotlib is imported only when a plot is drawn, so this module imports without it.
"""

import copy

import numpy as np
from sklearn.base import is_classifier
from sklearn.metrics import check_scoring
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.validation import check_is_fitted

from ._base import BaseSelfDistillation


def _generation_view(estimator, index):
    """``estimator`` predicting with generation ``index`` (a shallow copy; nothing is refit).

    Going through the meta-estimator's own ``predict``/``predict_proba`` keeps what it
    does on top of a generation: labels for skorch nets that predict class indices,
    probability columns aligned to ``classes_``, the shape ``y`` had in ``fit``.
    """
    view = copy.copy(estimator)
    view.estimator_ = estimator.generations_[index]
    return view


def _default_score_name(estimator, scoring):
    if scoring is None:
        return "accuracy" if is_classifier(estimator) else "R^2"
    if isinstance(scoring, str):
        return scoring
    return "score"


class GenerationCurveDisplay:
    """Score per generation: train, validation and test curves, best generation marked.

    Build it with :meth:`from_estimator` from a fitted
    :class:`~sklearn_selfdistill.SelfDistillationClassifier` or
    :class:`~sklearn_selfdistill.SelfDistillationRegressor`, or directly from scores
    computed elsewhere, then call :meth:`plot`. Follows scikit-learn's Display API
    (as :class:`~sklearn.model_selection.LearningCurveDisplay`).

    Parameters
    ----------
    generations : array-like of shape (n_generations,)
        Generation numbers, generation 0 (the plain fit) first.
    train_scores : array-like of shape (n_generations,)
        Score of each generation on its training data.
    validation_scores : array-like of shape (n_generations,), default=None
        Score of each generation on the held-out validation set; None when there
        is none.
    test_scores : array-like of shape (n_generations,), default=None
        Score of each generation on a test set; None when there is none.
    best_generation : int, default=None
        The generation to mark (the best validation score); None for no marker.
    score_name : str, default="score"
        The y-axis label.
    estimator_name : str, default=None
        The legend's title; None for no title.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes the curves are drawn on.
    figure_ : matplotlib Figure
        Figure holding ``ax_``.
    lines_ : dict of str to matplotlib Line2D
        The curves drawn, keyed ``"train"``, ``"validation"`` and ``"test"`` (only
        those whose scores were given).
    best_marker_ : matplotlib Line2D or None
        Dashed vertical line at ``best_generation``; None when nothing is marked.

    See Also
    --------
    GenerationCurveDisplay.from_estimator : Plot the curves of a fitted meta-estimator.
    sklearn.model_selection.LearningCurveDisplay : Score against training set size.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn_selfdistill import SelfDistillationClassifier
    >>> from sklearn_selfdistill.plotting import GenerationCurveDisplay
    >>> X, y = load_digits(n_class=3, return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(
    ...     X[:300] / 16, y[:300], random_state=0
    ... )
    >>> clf = SelfDistillationClassifier(
    ...     LogisticRegression(max_iter=200), n_generations=3, final_generation="best",
    ...     random_state=0,
    ... ).fit(X_train, y_train)
    >>> display = GenerationCurveDisplay.from_estimator(clf, X_test, y_test)
    >>> sorted(display.lines_)
    ['test', 'train', 'validation']
    >>> display.best_generation == clf.best_generation_
    True
    """

    def __init__(
        self,
        *,
        generations,
        train_scores,
        validation_scores=None,
        test_scores=None,
        best_generation=None,
        score_name="score",
        estimator_name=None,
    ):
        self.generations = generations
        self.train_scores = train_scores
        self.validation_scores = validation_scores
        self.test_scores = test_scores
        self.best_generation = best_generation
        self.score_name = score_name
        self.estimator_name = estimator_name

    def _curves(self):
        """The curves to draw, name -> scores, each checked against ``generations``."""
        n_generations = len(self.generations)
        curves = {}
        for name, scores in (
            ("train", self.train_scores),
            ("validation", self.validation_scores),
            ("test", self.test_scores),
        ):
            if scores is None:
                continue
            if len(scores) != n_generations:
                raise ValueError(
                    f"{name}_scores has {len(scores)} values, but generations has "
                    f"{n_generations}; give one score per generation."
                )
            curves[name] = np.asarray(scores, dtype=float)
        return curves

    def plot(self, ax=None, *, mark_best=True, **line_kwargs):
        """Draw one line per available curve and mark the best generation.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a new figure and axes.
        mark_best : bool, default=True
            Whether to draw a dashed vertical line at ``best_generation`` (nothing
            is drawn when ``best_generation`` is None).
        **line_kwargs : dict
            Passed to every curve's ``ax.plot`` (``marker="o"`` unless given).

        Returns
        -------
        display : GenerationCurveDisplay
            This object, with ``ax_``, ``figure_``, ``lines_`` and ``best_marker_`` set.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        curves = self._curves()
        if ax is None:
            _, ax = plt.subplots()
        generations = np.asarray(self.generations)
        self.lines_ = {
            name: ax.plot(generations, scores, **{"marker": "o", "label": name, **line_kwargs})[0]
            for name, scores in curves.items()
        }
        self.best_marker_ = None
        if mark_best and self.best_generation is not None:
            self.best_marker_ = ax.axvline(
                self.best_generation,
                color="black",
                linestyle="--",
                linewidth=1,
                label=f"best generation ({self.best_generation})",
            )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("generation")
        ax.set_ylabel(self.score_name)
        ax.legend(title=self.estimator_name)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls, estimator, X_test=None, y_test=None, *, scoring=None, ax=None, mark_best=True
    ):
        """Plot the generation curves of a fitted self-distillation meta-estimator.

        Train and validation scores are read from ``estimator.history_`` (the
        validation curve exists only when ``fit`` held out a validation set:
        ``early_stopping=True`` or ``final_generation="best"``). Test scores, when
        ``X_test`` and ``y_test`` are given, are computed here: generation ``g`` is
        scored through the meta-estimator's own ``predict``/``predict_proba`` with
        ``estimator_`` set to ``generations_[g]``, by the scorer ``scoring`` names.
        With the default ``scoring=None`` and ``estimator.scoring=None`` that is
        ``score``: accuracy for classifiers, R^2 for regressors, as in ``history_``.

        Parameters
        ----------
        estimator : SelfDistillationClassifier or SelfDistillationRegressor
            Fitted meta-estimator.
        X_test : {array-like, sparse matrix} of shape (n_samples, n_features), default=None
            Test samples; None for no test curve.
        y_test : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Test targets; given exactly when ``X_test`` is.
        scoring : str or callable, default=None
            Scorer of the test curve (see :func:`sklearn.metrics.get_scorer`); None
            uses ``estimator.scoring``, the scorer of ``history_``. Only the test curve
            depends on it.
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a new figure and axes.
        mark_best : bool, default=True
            Whether to mark ``estimator.best_generation_`` (nothing is marked when
            it is None: no validation set).

        Returns
        -------
        display : GenerationCurveDisplay
            The display, plotted.
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        if not isinstance(estimator, BaseSelfDistillation):
            raise TypeError(
                f"estimator must be a fitted SelfDistillationClassifier or "
                f"SelfDistillationRegressor; got {type(estimator).__name__}."
            )
        check_is_fitted(estimator, "history_")
        if (X_test is None) != (y_test is None):
            raise ValueError(
                "X_test and y_test are given together or not at all; got "
                f"X_test={'None' if X_test is None else 'an array'} and "
                f"y_test={'None' if y_test is None else 'an array'}."
            )
        history = estimator.history_
        generations = [row["generation"] for row in history]
        if not np.all(np.isfinite(generations)):
            raise ValueError(
                "estimator was fit with n_generations=inf: it holds only the limit, "
                "there are no generations to plot. Fit a finite n_generations."
            )
        validation = [row["validation_score"] for row in history]
        validation_scores = None if any(score is None for score in validation) else validation

        test_scores = None
        if X_test is not None:
            scorer = check_scoring(
                estimator, scoring=estimator.scoring if scoring is None else scoring
            )
            test_scores = [
                float(scorer(_generation_view(estimator, index), X_test, y_test))
                for index in range(len(estimator.generations_))
            ]

        best = estimator.best_generation_
        display = cls(
            generations=generations,
            train_scores=[row["train_score"] for row in history],
            validation_scores=validation_scores,
            test_scores=test_scores,
            best_generation=None if best is None else generations[best],
            score_name=_default_score_name(
                estimator, estimator.scoring if scoring is None else scoring
            ),
            estimator_name=type(estimator.generations_[0]).__name__,
        )
        return display.plot(ax=ax, mark_best=mark_best)
