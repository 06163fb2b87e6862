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
"""

import numpy as np
import torch
from sklearn.base import clone
from skorch import NeuralNet, NeuralNetClassifier
from skorch.callbacks import EpochScoring
from skorch.dataset import Dataset
from skorch.utils import to_numpy, to_tensor
from torch.utils.data import DataLoader

from .._students import ClassifierStudent, StudentView
from ._fast import TensorBatchesMixin, TensorBatchNetClassifier, as_user_class, library_class
from .callbacks import AugmentedTeacher
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


def _log_probs(output, kind):
    """The student's log-probabilities; for probabilities, exactly what skorch takes."""
    if kind == "logits":
        return torch.log_softmax(output, dim=-1)
    return torch.log(output + torch.finfo(output.dtype).eps)


def _labelled_accuracy(net, X, codes):
    """Accuracy on the labelled rows only: an unlabelled row has no class to be right on.

    NaN where the rows hold no label at all.
    """
    codes = np.asarray(codes)
    predicted = net.predict(X)
    labelled = codes != UNLABELED
    if not labelled.any():
        return float("nan")
    return float(np.mean(predicted[labelled] == codes[labelled]))


def pack_targets(codes, logits):
    """``y`` of a :class:`SoftTargetNetClassifier`: class index, then the teacher's logits."""
    return np.column_stack([codes.astype(np.float32), logits.astype(np.float32)])


class _SoftTargets:
    """One generation's targets by row, on the net's device, for the time of a fit."""

    def __init__(self, codes, teacher_log_probs, device):
        self.codes_numpy = codes  # for skorch's splits and validation scores, on the CPU
        self.codes = torch.as_tensor(codes, dtype=torch.long, device=device)
        self.teacher_log_probs = teacher_log_probs.to(device)
        self.all_labeled = bool((codes != UNLABELED).all())

    def to(self, device):
        """On ``device`` (where an accelerator put the module), moved once."""
        if self.codes.device != device:
            self.codes = self.codes.to(device)
            self.teacher_log_probs = self.teacher_log_probs.to(device)
        return self


def net_device(net):
    """The device of the net's module: its ``device``, or (None, as with an accelerator)
    that of its first parameter."""
    if net.device is not None:
        return torch.device(net.device)
    module = getattr(net, "module_", None)
    parameter = None if module is None else next(module.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device


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

    With an :class:`~sklearn_selfdistill.nn.callbacks.AugmentedTeacher` among its
    callbacks and a fitted net passed as ``fit(X, y, teacher=net)``, the teacher's
    logits are instead computed by that net on every training batch as the student
    sees it.

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
                    target_extractor=self._codes_of_rows,
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

    def partial_fit(self, X, y=None, classes=None, teacher=None, **fit_params):
        """Fit on ``y = pack_targets(class_indices, teacher_logits)``; see skorch.

        ``teacher``: the fitted net that computed the logits, used on every training
        batch where an ``AugmentedTeacher`` callback asks for it (``fit`` hands it on).
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
        self.soft_targets_ = _SoftTargets(packed[:, 0].astype(np.int64), softened, self.device)
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
        return self.criterion_.from_log_probs(
            _log_probs(y_pred, self.output_kind),
            targets.codes[rows],
            teacher,
            all_labeled=targets.all_labeled,
        )


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


def probe_output(net, X):
    """The output of a fresh copy of ``net`` on the first two rows of ``X``, in eval mode.

    Torch's random state is left as it was, so that seeding torch before ``fit`` gives
    generation 0 the weights a plain fit of the net would get.
    """
    with torch.random.fork_rng(devices=[]):
        probe = clone(net).initialize()
        probe.module_.eval()
        with torch.inference_mode():
            return probe.infer(to_tensor(X[:2], device=net_device(probe)))


def _plain_loading(net, X):
    """Whether skorch would only cut ``X`` into batches, with no transform of its own."""
    cls = type(net)
    return (
        isinstance(X, np.ndarray | torch.Tensor)
        and net.dataset is Dataset
        and net.iterator_valid is DataLoader
        and "collate_fn" not in net.get_params_for("iterator_valid")
        and cls.get_dataset is NeuralNet.get_dataset
        and cls.get_iterator in (NeuralNet.get_iterator, TensorBatchesMixin.get_iterator)
    )


def teacher_logits(net, X, kind):
    """The net's logits on ``X``, on the CPU, in batches, under inference mode.

    When skorch would only cut ``X`` into batches (a numpy array or tensor, the default
    data set and loader), the batches are sliced directly instead of fetched row by
    row; otherwise they come from skorch's ``forward_iter``.
    """
    with torch.inference_mode():
        if _plain_loading(net, X):
            net.check_is_fitted()
            net.module_.eval()
            size = net.get_params_for("iterator_valid").get("batch_size", net.batch_size)
            size = len(X) if size in (None, -1) else size
            device = net_device(net)
            batches = (
                net.infer(to_tensor(X[start : start + size], device=device))
                for start in range(0, len(X), size)
            )
        else:
            batches = net.forward_iter(X, training=False)
        outputs = [as_logits(batch, kind).float().cpu() for batch in batches]
    return torch.cat(outputs).numpy()


def generation_header(generation, alpha, temperature, loss=None, targets="the labels"):
    """The line above a verbose net's epoch table: which generation, what its loss is.

    ``loss`` names a regression net's criterion (None: a classifier's losses).
    """
    teacher = "" if generation == 0 else f", teacher: generation {generation - 1}"
    if loss is not None:
        if generation > 0 and alpha > 0:
            targets = f"{alpha:g} * teacher + {1 - alpha:g} * y"
        meaning = f"the net's {loss} against {targets}"
    elif generation == 0:
        meaning = "the cross-entropy of the labels (a plain fit)"
    elif alpha == 0:
        meaning = "the cross-entropy of the labels (alpha=0: no teacher term)"
    else:
        meaning = (
            f"{alpha:g} * T^2 * KL(teacher || student, both at T={temperature:g}) + "
            f"{1 - alpha:g} * cross-entropy of the labels, not on the scale of generation "
            f"0's cross-entropy"
        )
    return f"Generation {generation}{teacher}. train_loss and valid_loss: {meaning}."


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
    """What the students of skorch nets share: X and sample weights as nets take them."""

    x_validation = NET_X_VALIDATION

    @classmethod
    def check_sample_weight(cls, estimator, sample_weight):
        raise ValueError(
            f"sample_weight was passed, but the wrapped estimator {type(estimator).__name__} "
            f"does not accept sample_weight in fit; weight the loss instead."
        )


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
        self.kind = output_kind(net)
        _check_criterion_params(net)
        self._check_module_output(net, X)

    def _check_module_output(self, net, X):
        """One forward pass on two rows: shape errors before any training."""
        probe = clone(net).set_params(classes=np.arange(self.classes.shape[0]))
        out = probe_output(probe, X)
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

    def fit(self, estimator, X, targets, *, sample_weight=None, fit_params=None, teacher=None):
        # sample_weight is always None: check_sample_weight refused it before any fit.
        fit_params = fit_params or {}
        n_classes = self.classes.shape[0]
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
        # The user's criterion__weight and criterion__label_smoothing (the only ones
        # _check_criterion_params lets through) go on to DistillationLoss.
        params = estimator.get_params(deep=False)
        del params["criterion"]
        if params.get("predict_nonlinearity") == "auto" and self.kind == "logits":
            params["predict_nonlinearity"] = _softmax
        params.update(
            classes=np.arange(n_classes),
            criterion=DistillationLoss,
            criterion__alpha=targets.alpha,
            criterion__temperature=targets.temperature,
            output_kind=self.kind,
        )
        net_class = library_class(type(estimator), SoftTargetNetClassifier)
        student = start_from_teacher(net_class(**params), teacher)
        packed = pack_targets(targets.codes, targets.logits)
        return student.fit(X, packed, teacher=teacher, **fit_params)

    def announce(self, estimator, generation, alpha, temperature):
        if estimator.verbose:
            print(generation_header(generation, alpha, temperature), flush=True)

    def output(self, estimator, X):
        return teacher_logits(estimator, X, self.kind)

    def predict(self, model, X):
        # The net predicts class indices: the labels are the columns of its probabilities.
        return self.classes[np.argmax(model.predict_proba(X), axis=1)]

    def scoring_view(self, model, X):
        return StudentView(self, model)
