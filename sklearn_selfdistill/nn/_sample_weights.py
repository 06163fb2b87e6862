"""Row weights in the nets the library trains: relative to their mean, in every row's loss.

A net's ``sample_weight`` multiplies each row's loss, as in scikit-learn's SGD
estimators, after the weights of a fit's rows are rescaled to mean 1
(:func:`relative_weights`): a batch's loss is then the mean over its rows of
``weight * row loss``, a net fit with whole-number weights on full batches takes the
steps of a net fit on each row repeated that many times, and multiplying every weight
by one constant changes nothing. The classifiers carry the weights by row beside their
soft targets (``SoftTargetNetClassifier``); :class:`SampleWeightNetRegressor` carries
them as a last column of ``y``.
"""

import copy
import inspect

import numpy as np
import torch
from skorch.utils import to_numpy, to_tensor

from ._fast import TensorBatchNetRegressor


def weights_that_matter(sample_weight):
    """``sample_weight``, or None where it cannot change a fit: absent, or all one value.

    Relative weights that are all equal are all 1: the unweighted fit, which then takes
    the unweighted path, bit for bit.
    """
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight)
    if weights.shape[0] and weights[0] > 0 and np.all(weights == weights[0]):
        return None
    return sample_weight


def relative_weights(sample_weight, n_rows):
    """``sample_weight`` rescaled to mean 1 over the ``n_rows`` rows of a fit, float32."""
    weights = np.asarray(
        to_numpy(sample_weight) if torch.is_tensor(sample_weight) else sample_weight
    )
    weights = weights.astype(np.float64)
    if weights.shape != (n_rows,):
        raise ValueError(
            f"sample_weight must hold one weight per row of X, shape ({n_rows},); got "
            f"shape {weights.shape}."
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(
            "sample_weight must be finite and non-negative: it multiplies each row's loss."
        )
    total = weights.sum()
    if total <= 0:
        raise ValueError(
            f"sample_weight weighs all {n_rows} rows of this fit 0: a net fit on them "
            f"would learn nothing. Give some of them a positive weight."
        )
    return torch.as_tensor(weights * (n_rows / total), dtype=torch.float32)


def takes_reduction(criterion):
    """Whether a criterion (a class or an instance) can compute one loss per row."""
    if isinstance(criterion, type):
        return "reduction" in inspect.signature(criterion).parameters
    return hasattr(criterion, "reduction")


class SampleWeightNetRegressor(TensorBatchNetRegressor):
    """A ``NeuralNetRegressor`` whose ``fit(X, y, sample_weight=w)`` weighs each row's loss.

    The weights are rescaled to mean 1 over the rows of the fit (see the module's
    docstring). The net's criterion (``MSELoss`` by default; any torch loss with a
    ``reduction`` parameter) is computed on a copy with ``reduction="none"``; each row's
    terms are multiplied by its weight and reduced as the criterion's own ``reduction``
    says (``"mean"``: over all terms, ``"sum"``). With whole-number weights, full batches
    (``batch_size=-1``, no shuffling) and plain SGD, the fit is the fit on each row
    repeated weight times, up to float rounding; a row of weight 0 contributes nothing.
    skorch's validation split picks rows as it does without weights, and ``valid_loss``
    is weighted the same way as ``train_loss``.

    The weights travel as a last column of ``y``, so that the batches are fed as
    without them. So during a weighted fit, ``y_true`` in ``get_loss`` (and in any
    override of it, which must pass it on unchanged to ``super().get_loss``) holds the
    targets flattened to one row each, then the weight. Without ``sample_weight`` the
    net is a plain ``NeuralNetRegressor``.
    """

    def partial_fit(self, X, y=None, classes=None, sample_weight=None, **fit_params):
        """Fit as skorch does; ``sample_weight``: one non-negative weight per row."""
        if sample_weight is None:
            return super().partial_fit(X, y, classes, **fit_params)
        if not self.initialized_:
            self.initialize()
        targets = to_numpy(y) if torch.is_tensor(y) else np.asarray(y)
        n_rows = targets.shape[0]
        weights = relative_weights(sample_weight, n_rows).numpy().astype(targets.dtype)
        if not takes_reduction(self.criterion_):
            raise TypeError(
                f"sample_weight needs one loss per row: the net's criterion "
                f"{type(self.criterion_).__name__} has no 'reduction' parameter (torch's "
                f"losses have one)."
            )
        per_row = copy.copy(self.criterion_)
        per_row.reduction = "none"
        packed = np.column_stack([targets.reshape(n_rows, -1), weights])
        self._weighted_fit = (targets.shape[1:], per_row)
        try:
            return super().partial_fit(X, packed, classes, **fit_params)
        finally:
            del self._weighted_fit

    def get_loss(self, y_pred, y_true, X=None, training=False):
        weighted_fit = self.__dict__.get("_weighted_fit")
        if weighted_fit is None:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        row_shape, per_row = weighted_fit
        y_true = to_tensor(y_true, device=y_pred.device)
        n_rows = y_true.shape[0]
        losses = per_row(y_pred, y_true[:, :-1].reshape(n_rows, *row_shape))
        if losses.ndim == 0 or losses.shape[0] != n_rows:
            raise ValueError(
                f"With sample_weight, the criterion {type(per_row).__name__} must give, "
                f"with reduction='none', losses with one row per sample ({n_rows}); got "
                f"shape {tuple(losses.shape)}."
            )
        weights = y_true[:, -1].to(losses.dtype).reshape(n_rows, *[1] * (losses.ndim - 1))
        # A row that weighs nothing adds 0, even where its loss is infinite (0 * inf = NaN).
        weighted = torch.where(weights > 0, losses * weights, 0.0)
        reduction = self.criterion_.reduction
        if reduction == "mean":
            return weighted.mean()
        if reduction == "sum":
            return weighted.sum()
        return weighted
