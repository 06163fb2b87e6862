"""GenerationCurveDisplay: score per generation of a fitted self-distillation meta-estimator.

matplotlib is imported only when a plot is drawn, so this module imports without it.
"""

import copy

import numpy as np
from sklearn.base import is_classifier
from sklearn.metrics import check_scoring
from sklearn.utils.validation import check_is_fitted

from ._base import BaseSelfDistillation
from ._compat import check_matplotlib_support


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


_CURVES = ("train", "validation", "test")


def _split_curve_kwargs(curve_kwargs):
    """``curve_kwargs`` as one dict of keyword arguments per curve name.

    A dict whose keys are all curve names and whose values are all dicts gives each
    curve its own arguments; any other dict is given to every curve.
    """
    if curve_kwargs is None:
        return {name: {} for name in _CURVES}
    if not isinstance(curve_kwargs, dict):
        raise TypeError(
            f"curve_kwargs must be a dict of Line2D properties, or a dict keyed by "
            f"{', '.join(_CURVES)} of such dicts; got {type(curve_kwargs).__name__}."
        )
    per_curve = bool(curve_kwargs) and all(
        key in _CURVES and isinstance(value, dict) for key, value in curve_kwargs.items()
    )
    if per_curve:
        return {name: dict(curve_kwargs.get(name, {})) for name in _CURVES}
    return {name: dict(curve_kwargs) for name in _CURVES}


def _positive_name(score_name):
    """The name of a ``neg_`` score once negated: ``neg_log_loss`` -> ``log_loss``."""
    return score_name[4:] if score_name.startswith("neg_") else score_name


class GenerationCurveDisplay:
    """Score per generation: train, validation and test curves, best generation marked.

    Build it with :meth:`from_estimator` from a fitted
    :class:`~sklearn_selfdistill.SelfDistillationClassifier` or
    :class:`~sklearn_selfdistill.SelfDistillationRegressor`, or directly from scores
    computed elsewhere, then call :meth:`plot`. Follows scikit-learn's Display API:
    ``name`` titles the legend and ``curve_kwargs`` styles the lines (as in
    :class:`~sklearn.metrics.RocCurveDisplay` since scikit-learn 1.7), and
    ``negate_score`` draws a ``neg_`` scorer as a positive error (as in
    :class:`~sklearn.model_selection.LearningCurveDisplay`).

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
    name : str, default=None
        The legend's title, usually the estimator's name; None for no title.

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
        name=None,
    ):
        self.generations = generations
        self.train_scores = train_scores
        self.validation_scores = validation_scores
        self.test_scores = test_scores
        self.best_generation = best_generation
        self.score_name = score_name
        self.name = name

    def _curves(self):
        """The curves to draw, name -> scores, each checked against ``generations``."""
        n_generations = len(self.generations)
        curves = {}
        for name, scores in zip(
            _CURVES, (self.train_scores, self.validation_scores, self.test_scores), strict=True
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

    def plot(
        self,
        ax=None,
        *,
        name=None,
        curve_kwargs=None,
        mark_best=True,
        negate_score=False,
        score_name=None,
    ):
        """Draw one line per available curve and mark the best generation.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a new figure and axes.
        name : str, default=None
            The legend's title; None uses the display's ``name``.
        curve_kwargs : dict, default=None
            Keyword arguments of matplotlib's ``plot`` for the curves (``marker="o"``
            unless given): one dict for every curve, or a dict keyed by ``"train"``,
            ``"validation"`` and ``"test"`` whose values are each curve's own dict.
        mark_best : bool, default=True
            Whether to draw a dashed vertical line at ``best_generation`` (nothing
            is drawn when ``best_generation`` is None).
        negate_score : bool, default=False
            Draw the negated scores, so that a ``neg_`` scorer (such as
            ``neg_mean_squared_error``) reads as a positive error; the y-axis label
            then drops the ``neg_`` prefix.
        score_name : str, default=None
            The y-axis label; None uses the display's ``score_name``.

        Returns
        -------
        display : GenerationCurveDisplay
            This object, with ``ax_``, ``figure_``, ``lines_`` and ``best_marker_`` set.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        per_curve = _split_curve_kwargs(curve_kwargs)
        curves = self._curves()
        if ax is None:
            _, ax = plt.subplots()
        sign = -1.0 if negate_score else 1.0
        generations = np.asarray(self.generations)
        self.lines_ = {
            curve: ax.plot(
                generations,
                sign * scores,
                **{"marker": "o", "label": curve, **per_curve[curve]},
            )[0]
            for curve, scores in curves.items()
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
        label = self.score_name if score_name is None else score_name
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("generation")
        ax.set_ylabel(_positive_name(label) if negate_score else label)
        ax.legend(title=self.name if name is None else name)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X_test=None,
        y_test=None,
        *,
        scoring=None,
        ax=None,
        name=None,
        curve_kwargs=None,
        mark_best=True,
        negate_score="auto",
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
        name : str, default=None
            The legend's title; None uses the class name of the wrapped estimator.
        curve_kwargs : dict, default=None
            Line properties, for every curve or per curve (see :meth:`plot`).
        mark_best : bool, default=True
            Whether to mark ``estimator.best_generation_`` (nothing is marked when
            it is None: no validation set).
        negate_score : bool or "auto", default="auto"
            Draw the negated scores (see :meth:`plot`). ``"auto"`` negates them when
            the scorer's name starts with ``neg_``, so that
            ``scoring="neg_mean_squared_error"`` is drawn as the mean squared error.

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
        score_name = _default_score_name(
            estimator, estimator.scoring if scoring is None else scoring
        )
        if isinstance(negate_score, str):
            if negate_score != "auto":
                raise ValueError(
                    f"negate_score must be True, False or 'auto'; got {negate_score!r}."
                )
            negate_score = score_name.startswith("neg_")
        display = cls(
            generations=generations,
            train_scores=[row["train_score"] for row in history],
            validation_scores=validation_scores,
            test_scores=test_scores,
            best_generation=None if best is None else generations[best],
            score_name=score_name,
            name=type(estimator.generations_[0]).__name__ if name is None else name,
        )
        return display.plot(
            ax=ax, curve_kwargs=curve_kwargs, mark_best=mark_best, negate_score=negate_score
        )
