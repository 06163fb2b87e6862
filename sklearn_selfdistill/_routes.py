"""How a scikit-learn classifier learns a target distribution per row: the routes.

Every route turns ``(X, targets)``, one distribution per row, into rows, labels and
weights that an ordinary ``fit`` takes:

- ``"sample_weight"``: each row once per class it keeps, labelled with that class and
  weighted by the class's probability. Per row, the classes are taken from the most
  probable down until at most ``tail`` of the probability is left out (the
  meta-estimator's ``soft_target_tail``), and renormalised: the teacher's view of the
  wrong classes, its dark knowledge, reaches the student down to that share. At most
  :func:`max_classes_per_row` classes per row, so that the expanded data has at most
  ``max(2 * n_classes, 80)`` (row, class) pairs per row (the fit of a multinomial model
  costs rows times classes): 40 classes or more keep 2 per row, 10 classes up to 8. The rule
  looks at one row at a time, so a row weighted ``k`` and ``k`` copies of it keep the
  same classes.
- ``"sampling"``: each row ``N_DRAWS`` times, with labels drawn from its distribution
  by systematic sampling at the midpoints ``(i + 1/2) / N_DRAWS`` of its cumulative
  distribution, so a class of probability ``p`` gets ``floor(N_DRAWS * p)`` or one more
  of the copies. No random numbers: a row and its copies get the same labels, so a
  whole-number sample weight is a number of copies. Every row
  appears equally often, so statistics that ignore the labels (a scaler's mean, PCA)
  are those of the original rows.
- ``"hard"``: each row once, labelled with its most probable class.

Rows whose distribution is one-hot stay single under every route, and a data set of
one-hot rows is fit exactly as given: generation 0 is always the plain estimator.
"""

import numpy as np
from sklearn.discriminant_analysis import (
    LinearDiscriminantAnalysis,
    QuadraticDiscriminantAnalysis,
)
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC, NuSVC

from ._weights import accepts_sample_weight

ROUTES = ("sample_weight", "sampling", "hard")

#: The default share of each row's distribution the ``"sample_weight"`` route may leave
#: out (``soft_target_tail``): on digits, LogisticRegression at T=4 learns within a mean
#: ``|dp|`` of 1e-3 of the student of the whole distribution (benchmarks/results/
#: soft_target_cost.md).
DEFAULT_TAIL = 4e-3
#: (row, class) pairs per row of the ``"sample_weight"`` route, at most.
_PAIRS_PER_ROW = 80
# Probabilities are ranked at this precision (see _top_classes).
_RANK_DECIMALS = 8
#: Copies of each row on the ``"sampling"`` route.
N_DRAWS = 10

# Classifiers without sample_weight whose fit treats identical rows as a weight (class
# means and covariances): the sampling route gives them the distribution. Any other
# classifier without sample_weight gets hard labels (k-nearest neighbours would see
# copies of one row as its own neighbours).
_COPIES_ARE_WEIGHTS = (LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis)


def rows_indexing_params(estimator):
    """Names of parameters that hold indices into the rows of X (explicit cv splits)."""
    found = []
    for name, value in estimator.get_params(deep=True).items():
        if not (name == "cv" or name.endswith("__cv")):
            continue
        if value is None or isinstance(value, int | str) or hasattr(value, "split"):
            continue
        found.append(name)
    return found


def _weight_ignoring_steps(estimator):
    """Steps of a Pipeline, before its last, whose fit takes no ``sample_weight``."""
    if not isinstance(estimator, Pipeline):
        return []
    return [
        name
        for name, step in estimator.steps[:-1]
        if step not in (None, "passthrough") and not accepts_sample_weight(step)
    ]


def auto_route(estimator):
    """The route ``"auto"`` takes for ``estimator``, and why (for the docs and errors)."""
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    if rows_indexing_params(estimator):
        return "hard", "its cv splits index the rows of X, which only this route keeps"
    if isinstance(final, SVC | NuSVC) and final.probability:
        return "hard", "Platt scaling inside SVC ignores sample_weight"
    if not accepts_sample_weight(estimator):
        if isinstance(final, _COPIES_ARE_WEIGHTS):
            return "sampling", "it has no sample_weight, and copies of a row act as weights"
        return "hard", "it has no sample_weight"
    if _weight_ignoring_steps(estimator):
        return "sampling", "a step of the pipeline ignores sample_weight"
    return "sample_weight", "it takes sample_weight"


def check_route(estimator, route):
    """Refuse a route that ``estimator`` cannot follow, naming the parameter."""
    name = type(estimator).__name__
    if route == "sample_weight" and not accepts_sample_weight(estimator):
        raise ValueError(
            f"soft_targets='sample_weight' needs an estimator whose fit takes "
            f"sample_weight; {name} has none. Use soft_targets='sampling', 'hard' or 'auto'."
        )
    indexing = rows_indexing_params(estimator)
    if route != "hard" and indexing:
        raise ValueError(
            f"soft_targets={route!r} repeats rows of X, but the parameter(s) "
            f"{', '.join(indexing)} of {name} hold explicit cv splits, indices into the rows "
            f"of X that would then point at other rows. Use soft_targets='hard' (one row "
            f"per row), or a cv given as a number or a splitter object."
        )


def is_hard(targets):
    """Whether the targets are class indices (``-1`` unlabelled), or every row is one-hot
    or all zero."""
    return targets.ndim == 1 or bool(np.all((targets == 0.0) | (targets == 1.0)))


def _one_per_row(targets):
    if targets.ndim == 1:
        rows = np.flatnonzero(targets >= 0)
        return rows, targets[rows], None
    rows = np.flatnonzero(targets.max(axis=1) > 0)
    return rows, np.argmax(targets[rows], axis=1), None


def _top_classes(targets, n_keep):
    """Per row, the ``n_keep`` most probable classes and their probabilities, descending.

    Classes are ranked by their probability rounded to ``_RANK_DECIMALS`` decimals, ties
    by class: a teacher's outputs on copies of a row (or the same row fit with a weight)
    differ in their last bits, and trees often give two classes the same probability.
    """
    key = np.round(targets, _RANK_DECIMALS)
    n_classes = targets.shape[1]
    n_candidates = n_keep + 8
    if n_candidates < n_classes:
        # In blocks of rows: an argpartition of all classes costs 8 bytes per entry.
        block = max(1, 2**20 // n_classes)
        candidates = np.concatenate(
            [
                np.argpartition(-key[i : i + block], n_candidates - 1, axis=1)[:, :n_candidates]
                for i in range(0, targets.shape[0], block)
            ]
        )
        candidates.sort(axis=1)
    else:
        candidates = np.broadcast_to(np.arange(n_classes), targets.shape)
    ranked = np.argsort(-np.take_along_axis(key, candidates, axis=1), axis=1, kind="stable")
    order = np.take_along_axis(candidates, ranked[:, :n_keep], axis=1)
    return (
        order,
        np.take_along_axis(targets, order, axis=1),
        np.take_along_axis(key, order, axis=1),
    )


def max_classes_per_row(n_classes):
    """Classes a row keeps at most on the ``"sample_weight"`` route: ``max(2, 80 // K)``.

    The expanded fit then holds at most ``max(2 * K, 80)`` (row, class) pairs per row of
    X: twice a plain fit's for 40 classes or more (whose memory grows with rows times
    classes), a few more rows for a few classes, where that costs little.
    """
    return min(n_classes, max(2, _PAIRS_PER_ROW // n_classes))


def _per_class(targets, tail):
    """Rows, class codes and weights of the sample_weight route (see the module)."""
    order, top, top_key = _top_classes(targets, max_classes_per_row(targets.shape[1]))
    mass_before = np.cumsum(top_key, axis=1) - top_key
    keep = (top_key > 0) & (mass_before < 1.0 - tail)
    weights = np.where(keep, top, 0.0)
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), np.finfo(np.float64).tiny)
    rows, slot = np.nonzero(keep)
    return rows, order[rows, slot], weights[rows, slot]


def _sampled(targets):
    """Rows and class codes of the sampling route (see the module)."""
    rows = np.flatnonzero(targets.max(axis=1) > 0)
    cumulative = np.cumsum(targets[rows], axis=1)
    cumulative /= cumulative[:, -1:]
    codes = np.empty((rows.shape[0], N_DRAWS), dtype=np.int64)
    for draw in range(N_DRAWS):
        position = (draw + 0.5) / N_DRAWS
        codes[:, draw] = np.minimum(np.sum(cumulative <= position, axis=1), targets.shape[1] - 1)
    return np.repeat(rows, N_DRAWS), codes.reshape(-1), None


def expand(targets, route, tail=DEFAULT_TAIL):
    """``(rows, codes, weights)`` that teach ``targets`` by ``route``.

    ``targets`` are class indices (``-1`` unlabelled) or one distribution per row.
    ``rows`` index the rows of X, ``codes`` the classes; ``weights`` multiply any
    sample weight (None: all ones). Hard targets give each labelled row once. ``tail``:
    the share of a row's distribution the ``"sample_weight"`` route may leave out.
    """
    if is_hard(targets) or route == "hard":
        return _one_per_row(targets)
    if route == "sampling":
        return _sampled(targets)
    return _per_class(targets, tail)
