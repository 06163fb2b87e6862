"""The adapter that trains skorch ``NeuralNetRegressor`` generations on blended targets.

Every generation, generation 0 included, is a clone of the user's own net: skorch
re-initializes the module and the optimizer on ``fit``, so each generation starts from
fresh weights, and its teacher is the previous generation's fitted net, a separate
object used in eval mode only. The teacher's outputs on the training rows are computed
once per generation, in batches, under ``torch.inference_mode()`` and kept on the CPU;
generation ``g >= 1`` is fit on ``alpha * teacher + (1 - alpha) * y``, in float32.

The targets take the shape of the module's output, found with one forward pass on two
rows before any training: a 1-D ``y`` becomes a column for a module that returns
``(N, 1)`` (skorch would otherwise broadcast the loss over ``(N, N)`` pairs), and
predictions are flattened back.

With ``sample_weight``, every generation is fit with each row's loss multiplied by its
weight, rescaled to mean 1 over the rows of the fit (``_sample_weights``): the user's
criterion with ``reduction="none"`` on a copy, then reduced as the criterion says.
Weights that are all one value are no weights: the fit is then the unweighted one, bit
for bit.
"""

import numpy as np
import torch
from skorch import NeuralNetRegressor

from .._students import RegressorStudent, StudentView
from . import _outputs, _skorch
from ._fast import as_user_class, library_class
from ._sample_weights import SampleWeightNetRegressor, takes_reduction, weights_that_matter
from ._skorch import _check_module_is_a_class, label_progress


class SkorchRegressorStudent(_skorch.NetStudent, RegressorStudent):
    """Trains skorch ``NeuralNetRegressor`` generations on blended float32 targets.

    Parameters
    ----------
    net : skorch.NeuralNetRegressor
        The user's net, with the module as a class.
    X : ndarray of shape (n_samples, ...)
        Training inputs, float32; two rows are used to probe the module's output.
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Targets as the user passed them.

    Attributes
    ----------
    flattens : bool
        Whether ``y`` is 1-D while the module returns ``(N, 1)``: the net is then fit on
        a column and its predictions must be flattened back to 1-D.
    """

    @classmethod
    def check_sample_weight(cls, estimator, sample_weight):
        """The weights, where the net's criterion can give one loss per row to weigh."""
        if weights_that_matter(sample_weight) is not None and not takes_reduction(
            estimator.criterion
        ):
            criterion = estimator.criterion
            name = getattr(criterion, "__name__", type(criterion).__name__)
            raise ValueError(
                f"sample_weight was passed, but the net's criterion {name} has no "
                f"'reduction' parameter, so its loss cannot be weighted by row. Use a torch "
                f"loss (they take reduction='none'), or one that takes 'reduction' too."
            )
        return sample_weight

    @classmethod
    def build(cls, estimator, X, y, **settings):
        return cls(estimator, X, y)

    def __init__(self, net, X, y):
        if not isinstance(net, NeuralNetRegressor):
            raise TypeError(
                f"SelfDistillationRegressor trains skorch.NeuralNetRegressor nets and their "
                f"subclasses; got {type(net).__name__}, which is not one (a "
                f"NeuralNetClassifier belongs in SelfDistillationClassifier)."
            )
        _check_module_is_a_class(net)
        super().__init__(y.ndim)
        self.target_shape = self._target_shape(net, X, y)
        self.flattens = y.ndim == 1 and self.target_shape == (1,)

    @staticmethod
    def _target_shape(net, X, y):
        """The shape of one row of the net's targets, from one forward pass on two rows."""
        out = _outputs.probe_output(net, X)
        name = net.module.__name__
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"The module {name} returns a {type(out).__name__}; SelfDistillationRegressor "
                f"needs one tensor of predictions per batch."
            )
        n_rows = min(2, X.shape[0])
        row_shape = tuple(out.shape[1:])
        allowed = [(), (1,)] if y.ndim == 1 else [y.shape[1:]]
        if out.shape[0] != n_rows or row_shape not in allowed:
            expected = " or ".join(str((n_rows, *shape)) for shape in allowed)
            raise ValueError(
                f"The module {name} returns outputs of shape {tuple(out.shape)} for "
                f"{n_rows} input rows; y of shape {y.shape} needs {expected}. Set its "
                f"number of outputs (for example module__num_classes="
                f"{1 if y.ndim == 1 else y.shape[1]} for sklearn_selfdistill.nn.models.MLP)."
            )
        return row_shape

    def base_targets(self, y):
        """``y`` in the net's target shape, float32."""
        return np.asarray(y, dtype=np.float32).reshape((y.shape[0], *self.target_shape))

    def targets(self, base, teacher_output, alpha, temperature):
        # Blended in float64, handed to the net in float32.
        teacher = np.asarray(teacher_output, dtype=np.float64)
        blended = alpha * teacher + (1 - alpha) * base.astype(np.float64)
        return blended.astype(np.float32)

    def fit(self, estimator, X, targets, *, sample_weight=None, fit_params=None, teacher=None):
        # The user's class, fed by the library's in-memory batches where it can be, its
        # loss weighted by row where the weights can change the fit.
        fit_params = dict(fit_params or {})
        sample_weight = weights_that_matter(sample_weight)
        if sample_weight is not None:
            fit_params["sample_weight"] = sample_weight
        net_class = library_class(type(estimator), SampleWeightNetRegressor)
        net = net_class(**estimator.get_params(deep=False))
        _skorch.start_from_teacher(net, teacher).fit(X, targets, **fit_params)
        return as_user_class(net, type(estimator))

    def announce(self, estimator, generation, alpha, temperature):
        label_progress(estimator, generation)
        if estimator.verbose:
            criterion = estimator.criterion
            name = getattr(criterion, "__name__", type(criterion).__name__)
            header = _outputs.generation_header(generation, alpha, None, loss=name, targets="y")
            print(header, flush=True)

    def output(self, estimator, X):
        # A regression net's raw outputs are left alone by ``as_logits(..., "logits")``.
        return _outputs.teacher_logits(estimator, X, "logits")

    def predict(self, model, X):
        # The net was fit on a column for a 1-D y: its predictions are flattened back.
        prediction = model.predict(X)
        return prediction.reshape(-1) if self.flattens else prediction

    def scoring_view(self, model, X):
        return StudentView(self, model) if self.flattens else model
