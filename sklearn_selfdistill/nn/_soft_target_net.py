"""SoftTargetNetClassifier: a skorch classifier that learns from teacher logits in ``y``.

The distilled generations of a ``NeuralNetClassifier`` are nets of the user's class with
this class behind it (see ``_fast.library_class``). Their packed ``y`` (class index, then
the teacher's logits) does not go through skorch's data loading: ``fit`` keeps the class
indices and the teacher's softened log-probabilities in tensors on the net's device for
the time of the fit, and the batches carry row numbers. The rows' weights, where
``fit`` is given ``sample_weight``, are kept beside them.
"""

import numpy as np
import torch
from skorch.callbacks import EpochScoring
from skorch.utils import to_numpy

from ._fast import TensorBatchNetClassifier
from ._outputs import as_logits, log_probs
from ._sample_weights import relative_weights
from .callbacks import AugmentedTeacher
from .losses import UNLABELED, DistillationLoss
from .online import blend


def _labelled_accuracy(net, X, rows):
    """Accuracy on the labelled rows only: an unlabelled row has no class to be right on.

    ``rows`` are the rows' numbers in the training set; with sample weights, the
    accuracy is weighted by them. NaN where the rows hold no label (or no weight) at all.
    """
    rows = to_numpy(torch.as_tensor(rows)).astype(np.int64)
    targets = net.soft_targets_
    codes = targets.codes_numpy[rows]
    predicted = net.predict(X)
    labelled = codes != UNLABELED
    weights = None if targets.weights_numpy is None else targets.weights_numpy[rows][labelled]
    if not labelled.any() or (weights is not None and not weights.sum() > 0):
        return float("nan")
    return float(np.average(predicted[labelled] == codes[labelled], weights=weights))


def _row_numbers(rows):
    """What skorch's validation accuracy reads of a batch's ``y``: the row numbers."""
    return rows


def pack_targets(codes, logits):
    """``y`` of a :class:`SoftTargetNetClassifier`: class index, then the teacher's logits."""
    return np.column_stack([codes.astype(np.float32), logits.astype(np.float32)])


class _SoftTargets:
    """One generation's targets (and weights) by row, on the net's device, during a fit."""

    def __init__(self, codes, teacher_log_probs, device, weights=None):
        # For skorch's splits and validation scores, on the CPU.
        self.codes_numpy = codes
        self.weights_numpy = None if weights is None else weights.numpy()
        self.codes = torch.as_tensor(codes, dtype=torch.long, device=device)
        self.teacher_log_probs = teacher_log_probs.to(device)
        self.weights = None if weights is None else weights.to(device)
        self.all_labeled = bool((codes != UNLABELED).all())

    def to(self, device):
        """On ``device`` (where an accelerator put the module), moved once."""
        if self.codes.device != device:
            self.codes = self.codes.to(device)
            self.teacher_log_probs = self.teacher_log_probs.to(device)
            if self.weights is not None:
                self.weights = self.weights.to(device)
        return self


class SoftTargetNetClassifier(TensorBatchNetClassifier):
    """A NeuralNetClassifier that learns from teacher logits carried in ``y``.

    Fit it with ``y = pack_targets(class_indices, teacher_logits)`` (``-1`` for
    unlabelled rows); predict as usual. The criterion is a
    :class:`~sklearn_selfdistill.nn.DistillationLoss`; splits stratify on the class
    indices.

    For speed, the packed ``y`` does not go through skorch's data loading: ``fit``
    keeps the class indices and the teacher's softened log-probabilities (computed
    once, at the criterion's temperature) in tensors on the net's device, and the
    batches carry row numbers, so that a batch costs what a batch of plain labels
    costs plus two lookups. The tensors are released when ``fit`` returns. So in
    ``get_loss`` (and in any override of it, which must pass it on unchanged to
    ``super().get_loss``), ``y_true`` holds the rows' numbers in the training set;
    :meth:`codes_of_rows` gives their class indices.

    ``fit(X, y, sample_weight=w)`` weighs each row's loss, teacher term and label term
    alike (see :class:`~sklearn_selfdistill.nn.DistillationLoss`), with the weights
    rescaled to mean 1 over the rows of the fit: a batch's loss is the mean over its
    rows of ``weight * row loss``, so that with whole-number weights, full batches and
    plain SGD the fit is the fit on each row repeated weight times, and a row of weight
    0 contributes nothing. skorch's validation split picks its rows as without weights
    (stratified by class); ``valid_loss`` and ``valid_acc`` are weighted as
    ``train_loss`` is.

    With an :class:`~sklearn_selfdistill.nn.callbacks.AugmentedTeacher` among its
    callbacks and a fitted net passed as ``fit(X, y, teacher=net)``, the teacher's
    logits are instead computed by that net on every training batch as the student
    sees it.

    With an :class:`~sklearn_selfdistill.nn.OnlineSelfDistillation` among its callbacks,
    each training batch's loss also mixes in the net's own earlier predictions of its
    rows (weighted by the rows' weights where ``fit`` has them).

    Parameters
    ----------
    module : torch.nn.Module class
        As for :class:`skorch.NeuralNetClassifier`.
    output_kind : {"probabilities", "logits"}, default="probabilities"
        What the module returns.
    **kwargs
        Everything :class:`skorch.NeuralNetClassifier` takes; the criterion defaults to
        :class:`~sklearn_selfdistill.nn.DistillationLoss`.
    """

    #: get_loss hands its loss to online.blend with the batch's row numbers.
    calls_online_blend = True

    def __init__(
        self, module, *args, criterion=DistillationLoss, output_kind="probabilities", **kwargs
    ):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.output_kind = output_kind

    @property
    def _default_callbacks(self):
        # skorch's validation accuracy must read the class of each row number, and skip the
        # unlabelled rows.
        return [
            (
                name,
                EpochScoring(
                    _labelled_accuracy,
                    name="valid_acc",
                    lower_is_better=False,
                    on_train=False,
                    target_extractor=_row_numbers,
                )
                if name == "valid_acc"
                else callback,
            )
            for name, callback in super()._default_callbacks
        ]

    def _codes_of_rows(self, rows):
        return self.soft_targets_.codes_numpy[to_numpy(torch.as_tensor(rows)).astype(np.int64)]

    def codes_of_rows(self, y_true):
        """The class indices (``-1``: unlabelled) of the rows a batch's ``y_true`` numbers.

        For a subclass's ``get_loss`` that needs the labels, during ``fit`` only.
        """
        targets = self.soft_targets_
        return targets.codes[torch.as_tensor(y_true, device=targets.codes.device)]

    def partial_fit(self, X, y=None, classes=None, teacher=None, sample_weight=None, **fit_params):
        """Fit on ``y = pack_targets(class_indices, teacher_logits)``; see skorch.

        ``teacher``: the fitted net that computed the logits, used on every training
        batch where an ``AugmentedTeacher`` callback asks for it (``fit`` hands it on).
        ``sample_weight``: one non-negative weight per row, or None.
        """
        packed = np.asarray(y, dtype=np.float32)
        if packed.ndim != 2 or packed.shape[1] < 2:
            raise ValueError(
                f"SoftTargetNetClassifier is fit on y = pack_targets(class_indices, "
                f"teacher_logits), shape (n_samples, 1 + n_classes); got shape {packed.shape}."
            )
        if not self.initialized_:
            self.initialize()
        softened = self.criterion_.soften_teacher(torch.from_numpy(packed[:, 1:]))
        weights = None
        if sample_weight is not None:
            weights = relative_weights(sample_weight, packed.shape[0])
        self.soft_targets_ = _SoftTargets(
            packed[:, 0].astype(np.int64), softened, self.device, weights
        )
        self._batch_teacher = None
        if teacher is not None and any(
            isinstance(cb, AugmentedTeacher) for _, cb in self.callbacks_
        ):
            self._batch_teacher = teacher
            teacher.module_.eval()
        try:
            return super().partial_fit(X, np.arange(packed.shape[0]), classes, **fit_params)
        finally:
            del self.soft_targets_, self._batch_teacher

    def check_data(self, X, y):
        super().check_data(X, None if y is None else self._codes_of_rows(y))

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset = self.get_dataset(X, y)
        if not self.train_split:
            return dataset, None
        if y is None:
            return self.train_split(dataset, **fit_params)
        return self.train_split(dataset, self._codes_of_rows(y), **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        targets = self.soft_targets_.to(y_pred.device)
        rows = torch.as_tensor(y_true, device=targets.codes.device)
        if self.criterion_.alpha == 0.0:
            teacher = None
        elif training and self._batch_teacher is not None:
            with torch.no_grad():
                logits = as_logits(self._batch_teacher.infer(X), self.output_kind)
                teacher = self.criterion_.soften_teacher(logits)
        else:
            teacher = targets.teacher_log_probs[rows]
        student_log_probs = log_probs(y_pred, self.output_kind)
        weighted = {}
        if targets.weights is not None:
            weighted["sample_weight"] = targets.weights[rows].to(student_log_probs.dtype)
        codes = targets.codes[rows]
        loss = self.criterion_.from_log_probs(
            student_log_probs,
            codes,
            teacher,
            all_labeled=targets.all_labeled,
            **weighted,
        )
        if not training:
            return loss
        return blend(
            self, loss, student_log_probs, rows, codes, targets.codes.shape[0], **weighted
        )
