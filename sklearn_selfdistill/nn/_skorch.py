"""The adapter that trains a skorch net on its teacher's logits.

Generation 0 is a clone of the user's own net fit on the labelled rows. Generations
``g >= 1`` are :class:`SoftTargetNetClassifier` nets built from the same parameters with
:class:`~sklearn_selfdistill.nn.DistillationLoss` as criterion: each starts from fresh
weights and a fresh optimizer (skorch re-initializes on ``fit``), and its teacher is the
previous generation's fitted net, a separate object used in eval mode only. The teacher's
logits on the training rows are computed once per generation, in batches, under
``torch.inference_mode()``, kept on the CPU, and travel with ``y``: one float32 array whose
first column is the class index and whose other columns are the logits, so that no
teacher forward pass runs per student step and skorch slices one array per sample, as
it does for plain labels.
"""

import numpy as np
import torch
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.utils import get_tags
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring
from skorch.utils import to_tensor

from .._students import Student
from .losses import UNLABELED, DistillationLoss


def _softmax(logits):
    return torch.softmax(logits, dim=-1)


def output_kind(net):
    """Whether the net's module returns ``"probabilities"`` or ``"logits"``.

    skorch's convention: a module trained with ``NLLLoss`` returns probabilities
    (skorch takes their log), one trained with ``CrossEntropyLoss`` returns logits.
    """
    criterion = net.criterion
    criterion_class = criterion if isinstance(criterion, type) else type(criterion)
    if issubclass(criterion_class, torch.nn.NLLLoss):
        return "probabilities"
    if issubclass(criterion_class, torch.nn.CrossEntropyLoss):
        return "logits"
    raise TypeError(
        f"The net's criterion must be torch.nn.NLLLoss (the module returns probabilities, "
        f"skorch's default) or torch.nn.CrossEntropyLoss (the module returns logits), so "
        f"that the library can read logits from it; got {criterion_class.__name__}."
    )


def as_logits(output, kind):
    """Logits from a module's output, without ever taking the log of a logit."""
    if kind == "logits":
        return output
    return torch.log(output.clamp_min(torch.finfo(output.dtype).tiny))


def pack_targets(codes, logits):
    """``y`` of a :class:`SoftTargetNetClassifier`: class index, then the teacher's logits."""
    return np.column_stack([codes.astype(np.float32), logits.astype(np.float32)])


class SoftTargetNetClassifier(NeuralNetClassifier):
    """A NeuralNetClassifier that learns from teacher logits carried in ``y``.

    Fit it with ``y = pack_targets(class_indices, teacher_logits)`` (``-1`` for
    unlabelled rows); predict as usual. The criterion gets
    ``(student_logits, y, teacher_logits)``; splits stratify on the class indices.

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

    def __init__(
        self, module, *args, criterion=DistillationLoss, output_kind="probabilities", **kwargs
    ):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.output_kind = output_kind

    @property
    def _default_callbacks(self):
        # skorch's validation accuracy must read the class column of the packed y.
        return [
            (
                name,
                EpochScoring(
                    "accuracy",
                    name="valid_acc",
                    lower_is_better=False,
                    on_train=False,
                    target_extractor=_codes,
                )
                if name == "valid_acc"
                else callback,
            )
            for name, callback in super()._default_callbacks
        ]

    def check_data(self, X, y):
        super().check_data(X, None if y is None else _codes(y))

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset = self.get_dataset(X, y)
        if not self.train_split:
            return dataset, None
        if y is None:
            return self.train_split(dataset, **fit_params)
        return self.train_split(dataset, _codes(y), **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        return self.criterion_(
            as_logits(y_pred, self.output_kind), y_true[:, 0].long(), y_true[:, 1:]
        )


def _codes(y):
    return np.asarray(y)[:, 0].astype(np.int64)


def _check_module_is_a_class(net):
    if isinstance(net.module, torch.nn.Module):
        raise TypeError(
            f"Pass the module as a class with its arguments as module__* parameters, e.g. "
            f"NeuralNetClassifier({type(net.module).__name__}, module__num_classes=10), not "
            f"as an instance: every generation needs freshly initialised weights, and an "
            f"instance would be shared, so the teacher would be the student itself."
        )


def teacher_logits(net, X, kind):
    """The net's logits on ``X``, on the CPU, in batches, under inference mode."""
    with torch.inference_mode():
        outputs = [
            as_logits(batch, kind).float()
            for batch in net.forward_iter(X, training=False, device="cpu")
        ]
    return torch.cat(outputs).numpy()


class _NetTargets:
    """Class indices (``-1`` unlabelled), teacher logits and the loss settings, by row."""

    def __init__(self, codes, logits=None, alpha=0.0, temperature=None):
        self.codes, self.logits = codes, logits
        self.alpha, self.temperature = alpha, temperature

    def __getitem__(self, rows):
        logits = None if self.logits is None else self.logits[rows]
        return _NetTargets(self.codes[rows], logits, self.alpha, self.temperature)


class _LabelledView:
    """A fitted net seen with the meta-estimator's labels (skorch predicts class indices)."""

    def __init__(self, net, classes):
        self.net, self.classes_ = net, classes

    def predict_proba(self, X):
        return self.net.predict_proba(X)

    def predict(self, X):
        return self.classes_[self.net.predict_proba(X).argmax(axis=1)]

    def score(self, X, y, sample_weight=None):
        return accuracy_score(y, self.predict(X), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        return get_tags(self.net)


class SkorchClassifierStudent(Student):
    """Trains skorch ``NeuralNetClassifier`` generations with DistillationLoss."""

    def __init__(self, net, classes, X):
        if type(net) is not NeuralNetClassifier:
            raise TypeError(
                f"SelfDistillationClassifier trains skorch.NeuralNetClassifier nets; got "
                f"{type(net).__name__}. Subclasses are not supported yet: their overrides "
                f"would be lost in the distilled generations."
            )
        _check_module_is_a_class(net)
        self.classes = classes
        self.kind = output_kind(net)
        self._check_module_output(net, X)

    def _check_module_output(self, net, X):
        """One forward pass on two rows: shape errors before any training."""
        probe = clone(net).set_params(classes=np.arange(self.classes.shape[0])).initialize()
        probe.module_.eval()
        with torch.inference_mode():
            out = probe.infer(to_tensor(X[:2], device=probe.device))
        expected = (min(2, X.shape[0]), self.classes.shape[0])
        if tuple(out.shape) != expected:
            raise ValueError(
                f"The module {probe.module_.__class__.__name__} returns outputs of shape "
                f"{tuple(out.shape)} for 2 input rows; with {self.classes.shape[0]} classes "
                f"in y it must return {expected}. Set its number of outputs (for example "
                f"module__num_classes={self.classes.shape[0]})."
            )

    def base_targets(self, y_encoded):
        return _NetTargets(y_encoded)

    def targets(self, base, teacher_output, alpha, temperature):
        return _NetTargets(base.codes, teacher_output, alpha, temperature)

    def fit(self, estimator, X, targets, sample_weight):
        if sample_weight is not None:
            raise ValueError(
                "sample_weight is not supported for skorch nets; weight the loss instead."
            )
        n_classes = self.classes.shape[0]
        if targets.logits is None:
            labeled = targets.codes != UNLABELED
            net = estimator.set_params(classes=np.arange(n_classes))
            return net.fit(X[labeled], targets.codes[labeled])
        params = {
            key: value
            for key, value in estimator.get_params(deep=False).items()
            if key != "criterion" and not key.startswith("criterion__")
        }
        if params.get("predict_nonlinearity") == "auto" and self.kind == "logits":
            params["predict_nonlinearity"] = _softmax
        params.update(
            classes=np.arange(n_classes),
            criterion=DistillationLoss,
            criterion__alpha=targets.alpha,
            criterion__temperature=targets.temperature,
            output_kind=self.kind,
        )
        student = SoftTargetNetClassifier(**params)
        return student.fit(X, pack_targets(targets.codes, targets.logits))

    def output(self, estimator, X):
        return teacher_logits(estimator, X, self.kind)

    def scoring_view(self, model, X):
        return _LabelledView(model, self.classes)
