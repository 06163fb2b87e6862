"""The adapter that trains a skorch net on its teacher's logits.

Generation 0 is the user's own net (the same class and parameters) fit on the labelled
rows. Generations ``g >= 1`` are nets of the user's class with
:class:`SoftTargetNetClassifier` behind it (see ``_fast.library_class``), built from the
same parameters with :class:`~sklearn_selfdistill.nn.DistillationLoss` as criterion.
Every generation is fed by the in-memory batches of ``_fast`` where it can be. Each
starts from fresh weights and a fresh optimizer (skorch re-initializes on ``fit``), and
its teacher is the previous generation's fitted net, a separate object used in eval
mode only. The teacher's logits on the training rows are computed once per generation,
in batches, under ``torch.inference_mode()``, kept on the CPU, and travel with ``y``: one
float32 array whose first column is the class index and whose other columns are the
logits, so that no teacher forward pass runs per student step. The student keeps them in
tensors for the time of its fit and its batches carry row numbers (see
:class:`SoftTargetNetClassifier`).

With ``sample_weight``, each row's loss is multiplied by its weight, rescaled to mean 1
over the rows of the fit (teacher term and label term alike; ``_sample_weights``), and
generation 0 too is a :class:`SoftTargetNetClassifier` of the user's class, with
``alpha=0`` and no teacher: its loss is the cross-entropy of the labels, which is the
user's ``NLLLoss`` or ``CrossEntropyLoss`` with its class weights and label smoothing,
weighted by row. Weights that are all one value are no weights: the fit is then the
unweighted one, bit for bit.
"""

import numpy as np
import torch
from sklearn.base import clone
from skorch import NeuralNetClassifier

from .._students import ClassifierStudent
from . import _outputs
from ._fast import TensorBatchNetClassifier, as_user_class, library_class
from ._sample_weights import weights_that_matter
from ._soft_target_net import SoftTargetNetClassifier, pack_targets
from .callbacks import AugmentedTeacher, EpochProgress
from .losses import UNLABELED, DistillationLoss


def _softmax(logits):
    return torch.softmax(logits, dim=-1)


def _check_module_is_a_class(net):
    if isinstance(net.module, torch.nn.Module):
        raise TypeError(
            f"Pass the module as a class with its arguments as module__* parameters, e.g. "
            f"{type(net).__name__}({type(net.module).__name__}, module__hidden_units=64), "
            f"not as an instance: every generation needs freshly initialised weights, and an "
            f"instance would be shared, so the teacher would be the student itself."
        )


def start_from_teacher(net, teacher):
    """With the user's ``warm_start=True``: ``net`` starts from the teacher's weights.

    The net is initialized (a fresh optimizer) and the teacher's module state is
    copied into it, so skorch's ``fit`` continues from there instead of re-initializing.
    Without ``warm_start``, or without a teacher (generation 0), ``net`` is unchanged.
    """
    if net.warm_start and teacher is not None:
        net.initialize()
        net.module_.load_state_dict(teacher.module_.state_dict())
    return net


def label_progress(net, generation):
    """Label the net's :class:`EpochProgress` bars with the generation about to be fit."""
    for callback in net.callbacks or ():
        callback = callback[1] if isinstance(callback, tuple) else callback
        if isinstance(callback, EpochProgress):
            callback.label = f"generation {generation}"


class _NetTargets:
    """Class indices (``-1`` unlabelled), teacher logits and the loss settings, by row."""

    def __init__(self, codes, logits=None, alpha=0.0, temperature=None):
        self.codes, self.logits = codes, logits
        self.alpha, self.temperature = alpha, temperature

    def __getitem__(self, rows):
        logits = None if self.logits is None else self.logits[rows]
        return _NetTargets(self.codes[rows], logits, self.alpha, self.temperature)


#: The parameters of the user's criterion that DistillationLoss takes too.
CARRIED_CRITERION_PARAMS = ("weight", "label_smoothing")


def _check_criterion_params(net):
    """Refuse, before any fit, criterion parameters that generations ``g >= 1`` would lose."""
    lost = sorted(set(net.get_params_for("criterion")) - set(CARRIED_CRITERION_PARAMS))
    if lost:
        raise ValueError(
            f"The net's {', '.join(f'criterion__{name}' for name in lost)} would hold in "
            f"generation 0 only: generations g >= 1 are trained with DistillationLoss, which "
            f"takes criterion__weight and criterion__label_smoothing (class weights and label "
            f"smoothing of its cross-entropy term) and nothing else. Remove the parameter."
        )


#: How the meta-estimators validate a net's X: images (n, C, H, W) go to the module as
#: they are; a net cannot take NaN; the module's weights are float32, and torch warns on
#: read-only arrays (pandas').
NET_X_VALIDATION = {
    "dtype": np.float32,
    "ensure_all_finite": True,
    "allow_nd": True,
    "force_writeable": True,
}


class NetStudent:
    """What the students of skorch nets share: X and sample weights as nets take them.

    A net honours ``sample_weight`` in its loss: each row's loss, teacher term included,
    is multiplied by the row's weight, the weights rescaled to mean 1 over the rows of
    each fit (see ``_sample_weights``).
    """

    x_validation = NET_X_VALIDATION
    takes_dataframes = False  # a module takes tensors: a frame becomes a float32 array

    @classmethod
    def check_sample_weight(cls, estimator, sample_weight):
        return sample_weight


class SkorchClassifierStudent(NetStudent, ClassifierStudent):
    """Trains skorch ``NeuralNetClassifier`` generations with DistillationLoss."""

    @classmethod
    def build(cls, estimator, X, y, *, classes, teacher_predictions="in_sample", **settings):
        return cls(estimator, classes, X, teacher_predictions)

    def __init__(self, net, classes, X, teacher_predictions="in_sample"):
        if not isinstance(net, NeuralNetClassifier):
            raise TypeError(
                f"SelfDistillationClassifier trains skorch.NeuralNetClassifier nets and "
                f"their subclasses; got {type(net).__name__}, which is not one."
            )
        _check_module_is_a_class(net)
        if teacher_predictions != "in_sample" and any(
            isinstance(cb, AugmentedTeacher) for cb in net.callbacks or ()
        ):
            raise ValueError(
                f"AugmentedTeacher needs teacher_predictions='in_sample': it runs the "
                f"previous generation on every training batch, and a "
                f"teacher_predictions={teacher_predictions!r} teacher is several nets."
            )
        super().__init__(classes)
        self.kind = _outputs.output_kind(net)
        _check_criterion_params(net)
        self._check_module_output(net, X)

    def _check_module_output(self, net, X):
        """One forward pass on two rows: shape errors before any training."""
        probe = clone(net).set_params(classes=np.arange(self.classes.shape[0]))
        out = _outputs.probe_output(probe, X)
        expected = (min(2, X.shape[0]), self.classes.shape[0])
        if tuple(out.shape) != expected:
            raise ValueError(
                f"The module {net.module.__name__} returns outputs of shape "
                f"{tuple(out.shape)} for 2 input rows; with {self.classes.shape[0]} classes "
                f"in y it must return {expected}. Set its number of outputs (for example "
                f"module__num_classes={self.classes.shape[0]})."
            )

    def base_targets(self, y_encoded):
        return _NetTargets(y_encoded)

    def targets(self, base, teacher_output, alpha, temperature):
        return _NetTargets(base.codes, teacher_output, alpha, temperature)

    def codes(self, base):
        return base.codes

    def with_codes(self, base, codes):
        return _NetTargets(codes, base.logits, base.alpha, base.temperature)

    def average_outputs(self, outputs):
        """The logits of the generations' average probabilities (at temperature 1)."""
        mean = np.mean([self.teacher_proba(output) for output in outputs], axis=0)
        with np.errstate(divide="ignore"):
            return np.log(mean)

    def teacher_proba(self, teacher_output):
        logits = np.asarray(teacher_output, dtype=np.float64)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def fit(self, estimator, X, targets, *, sample_weight=None, fit_params=None, teacher=None):
        fit_params = fit_params or {}
        n_classes = self.classes.shape[0]
        sample_weight = weights_that_matter(sample_weight)
        if targets.logits is None and sample_weight is not None:
            return self._fit_weighted_generation_zero(
                estimator, X, targets, sample_weight, fit_params
            )
        if targets.logits is None:
            # The user's class, fed by the library's in-memory batches where it can be.
            labeled = targets.codes != UNLABELED
            params = estimator.get_params(deep=False)
            params["classes"] = np.arange(n_classes)
            net = library_class(type(estimator), TensorBatchNetClassifier)(**params)
            if labeled.all():  # no copy of X (60 MB for 20 000 Fashion-MNIST images)
                net.fit(X, targets.codes, **fit_params)
            else:
                net.fit(X[labeled], targets.codes[labeled], **fit_params)
            return as_user_class(net, type(estimator))
        student = start_from_teacher(self._soft_target_net(estimator, targets), teacher)
        packed = pack_targets(targets.codes, targets.logits)
        if sample_weight is not None:
            fit_params = {**fit_params, "sample_weight": sample_weight}
        return student.fit(X, packed, teacher=teacher, **fit_params)

    def _soft_target_net(self, estimator, targets):
        """A :class:`SoftTargetNetClassifier` of the user's class for ``targets``."""
        # The user's criterion__weight and criterion__label_smoothing (the only ones
        # _check_criterion_params lets through) go on to DistillationLoss.
        params = estimator.get_params(deep=False)
        del params["criterion"]
        if params.get("predict_nonlinearity") == "auto" and self.kind == "logits":
            params["predict_nonlinearity"] = _softmax
        params.update(
            classes=np.arange(self.classes.shape[0]),
            criterion=DistillationLoss,
            criterion__alpha=targets.alpha,
            output_kind=self.kind,
        )
        if targets.temperature is not None:
            params["criterion__temperature"] = targets.temperature
        return library_class(type(estimator), SoftTargetNetClassifier)(**params)

    def _fit_weighted_generation_zero(self, estimator, X, targets, sample_weight, fit_params):
        """Generation 0 with row weights: the weighted cross-entropy of the labels.

        A plain net's loss has no weights by row, so generation 0 is trained as the
        distilled generations are, with ``alpha=0`` and no teacher: DistillationLoss is
        then the cross-entropy of the user's criterion (class weights and label
        smoothing included), each row's term weighted. The unlabelled rows are left
        out, as in the unweighted generation 0.
        """
        labeled = targets.codes != UNLABELED
        if not labeled.all():
            X, sample_weight = X[labeled], sample_weight[labeled]
        codes = targets.codes[labeled]
        no_teacher = np.zeros((codes.shape[0], self.classes.shape[0]), dtype=np.float32)
        net = self._soft_target_net(estimator, targets)
        return net.fit(
            X, pack_targets(codes, no_teacher), sample_weight=sample_weight, **fit_params
        )

    def announce(self, estimator, generation, alpha, temperature):
        label_progress(estimator, generation)
        if estimator.verbose:
            print(_outputs.generation_header(generation, alpha, temperature), flush=True)

    def output(self, estimator, X):
        return _outputs.teacher_logits(estimator, X, self.kind)
