"""skorch callbacks for self-distillation."""

import sys
import time
from numbers import Real

import torch
from skorch.callbacks import Callback
from skorch.exceptions import NotInitializedError
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

__all__ = ["AugmentedTeacher", "EMATeacher", "EpochProgress"]


class EMATeacher(Callback):
    """Replace the trained network by the exponential moving average of its weights.

    The mean teacher of Tarvainen & Valpola: during training the callback keeps an
    exponential moving average (EMA) of the student's weights, updated after every
    training batch, and at the end of training it copies the average into
    ``net.module_``. After ``fit`` the net *is* the EMA model, which this library
    uses as the generation's model and as the next generation's teacher.

    The average is a :class:`torch.optim.swa_utils.AveragedModel` with
    :func:`torch.optim.swa_utils.get_ema_multi_avg_fn`:

    - at the beginning of training it deep-copies ``net.module_`` (on the module's
      device), so the average starts from the initial weights;
    - the first update copies the student's weights (``AveragedModel``'s convention:
      with nothing averaged yet, it copies), so ``ema_1 = w_1``, the weights after
      the first training batch;
    - every further training batch ``t`` updates
      ``ema_t = decay * ema_{t-1} + (1 - decay) * w_t``. Validation batches do not.

    Only ``net.module_`` is averaged. Every call to ``fit`` or ``partial_fit``
    starts a fresh average from the module's weights at that time.

    Parameters
    ----------
    decay : float, default=0.999
        Weight of the previous average at each training batch, in ``[0, 1)``. The
        average forgets with a time constant of about ``1 / (1 - decay)`` batches;
        ``decay=0`` keeps the student's last weights.
    use_buffers : bool, default=True
        If True, buffers (such as BatchNorm's running statistics) are averaged like
        the parameters. If False, the average's buffers are copied from the student
        at every update, so after ``fit`` they are the student's last buffers while
        the parameters are averaged.

    Attributes
    ----------
    averaged_model_ : torch.optim.swa_utils.AveragedModel or None
        The running average during training; None before and after. It is
        released at the end of training because its weights then live in
        ``net.module_`` and its update function cannot be pickled.
    n_averaged_ : int
        Number of training batches averaged by the last call to ``fit`` or
        ``partial_fit``; 0 until one ends.

    See Also
    --------
    torch.optim.swa_utils.AveragedModel : the running average this callback keeps.
    skorch.callbacks.Callback : the hooks this class implements.

    References
    ----------
    .. [1] A. Tarvainen and H. Valpola, "Mean teachers are better role models:
       Weight-averaged consistency targets improve semi-supervised deep learning
       results", NeurIPS 2017. https://arxiv.org/abs/1703.01780

    Examples
    --------
    >>> import torch
    >>> from skorch import NeuralNetRegressor
    >>> from sklearn_selfdistill.nn.callbacks import EMATeacher
    >>> X = torch.randn(64, 4)
    >>> y = X @ torch.ones(4, 2)
    >>> def make_net(callbacks):
    ...     return NeuralNetRegressor(
    ...         torch.nn.Linear, module__in_features=4, module__out_features=2,
    ...         max_epochs=3, batch_size=16, lr=0.1, train_split=None,
    ...         callbacks=callbacks, verbose=0)
    >>> ema = EMATeacher(decay=0.9)
    >>> _ = torch.manual_seed(0)
    >>> teacher = make_net([ema]).fit(X, y)
    >>> ema.n_averaged_  # 3 epochs of 4 batches
    12

    The same training without the callback ends at the student's last weights,
    which the average lags behind:

    >>> _ = torch.manual_seed(0)
    >>> student = make_net([]).fit(X, y)
    >>> torch.allclose(teacher.module_.weight, student.module_.weight)
    False
    """

    def __init__(self, decay=0.999, use_buffers=True):
        self.decay = decay
        self.use_buffers = use_buffers

    def initialize(self):
        """Check ``decay`` and forget any previous average.

        Returns
        -------
        self : EMATeacher
            This callback.
        """
        decay = self.decay
        if isinstance(decay, bool) or not isinstance(decay, Real) or not 0 <= decay < 1:
            raise ValueError(
                f"The 'decay' parameter of EMATeacher must be a float in [0, 1); got {decay!r}."
            )
        self.averaged_model_ = None
        self.n_averaged_ = 0
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Start the average from a copy of ``net.module_``."""
        module = getattr(net, "module_", None)
        if not isinstance(module, torch.nn.Module):
            raise NotInitializedError(
                "EMATeacher averages net.module_, which must be an initialized "
                f"torch.nn.Module; got {module!r}. Call net.initialize() or net.fit()."
            )
        self.averaged_model_ = AveragedModel(
            module,
            multi_avg_fn=get_ema_multi_avg_fn(float(self.decay)),
            use_buffers=self.use_buffers,
        )
        self.n_averaged_ = 0

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        """Fold the student's weights after a training batch into the average."""
        if not training:
            return
        self._check_started()
        self.averaged_model_.update_parameters(net.module_)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Copy the averaged parameters and buffers into ``net.module_``."""
        self._check_started()
        net.module_.load_state_dict(self.averaged_model_.module.state_dict())
        self.n_averaged_ = int(self.averaged_model_.n_averaged)
        self.averaged_model_ = None

    def _check_started(self):
        if getattr(self, "averaged_model_", None) is None:
            raise NotInitializedError(
                "EMATeacher has no running average: on_train_begin must run before "
                "on_batch_end and on_train_end; train the net with fit or partial_fit."
            )


class AugmentedTeacher(Callback):
    """Let the teacher see the student's augmented inputs, batch by batch.

    By default a distillation generation computes its teacher's logits once, on the
    clean training rows, and the student learns from them whatever noise its own
    inputs get (Noisy Student: the teacher sees clean inputs). With this callback in
    the net's callbacks, every training batch of a distillation generation gets the
    teacher's logits on the batch exactly as the student sees it (after
    :class:`~sklearn_selfdistill.nn.RandAugmentNoise` and any transform of the data
    set), the "consistent teaching" of Beyer et al. (2022). It costs one teacher
    forward pass per student step. Validation batches still use the clean logits.

    Generation 0, which has no teacher, ignores it. It needs an in-sample teacher
    (``teacher_predictions="in_sample"``): a cross-fit teacher is several nets.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn_selfdistill import SelfDistillationClassifier
    >>> from sklearn_selfdistill.nn import AugmentedTeacher, RandAugmentNoise
    >>> from sklearn_selfdistill.nn.models import ResNet
    >>> X = np.random.RandomState(0).rand(16, 3, 8, 8).astype(np.float32)
    >>> y = np.arange(16) % 2
    >>> net = NeuralNetClassifier(
    ...     ResNet, module__num_classes=2, module__num_blocks=(1, 1, 1, 1),
    ...     max_epochs=1, train_split=None, verbose=0,
    ...     callbacks=[RandAugmentNoise(num_ops=1), AugmentedTeacher()])
    >>> SelfDistillationClassifier(net, n_generations=2).fit(X, y).n_generations_
    2
    """


class EpochProgress(Callback):
    """Progress of a long fit, one update per epoch: epochs, images/s, time left.

    On a terminal it redraws one line, a bar of the epochs done; elsewhere (a log file,
    a pipe, CI) it prints one line per epoch, so that a log shows what a terminal
    showed. Each line gives the epoch, the training images per second of the fit so
    far, the time left at that pace (an upper bound under early stopping), and the
    last train loss and held-out accuracy where the net records them.

    Within :class:`~sklearn_selfdistill.SelfDistillationClassifier` every generation
    gets its own bar, labelled with its number (``label`` is set before each
    generation's fit).

    Parameters
    ----------
    mode : {"auto", "bar", "lines"}, default="auto"
        ``"auto"``: a bar when ``sys.stdout`` is a terminal, lines otherwise.
    label : str, default="fit"
        What the progress is of, at the start of each line.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn_selfdistill.nn import EpochProgress
    >>> X = np.random.RandomState(0).rand(64, 4).astype(np.float32)
    >>> y = (X[:, 0] > 0.5).astype(np.int64)
    >>> net = NeuralNetClassifier(torch.nn.Sequential(torch.nn.Linear(4, 2),
    ...                           torch.nn.Softmax(dim=-1)), max_epochs=3, verbose=0,
    ...                           train_split=None, callbacks=[EpochProgress(mode="lines")])
    >>> _ = net.fit(X, y)  # doctest: +ELLIPSIS
    fit: epoch 1/3, ... images/s, ... left, train_loss ...
    fit: epoch 2/3, ... images/s, ... left, train_loss ...
    fit: epoch 3/3, ... images/s, 0 s left, train_loss ...
    """

    _BAR_WIDTH = 20

    def __init__(self, mode="auto", label="fit"):
        self.mode = mode
        self.label = label

    def initialize(self):
        if self.mode not in ("auto", "bar", "lines"):
            raise ValueError(
                f"EpochProgress(mode={self.mode!r}): mode must be 'auto' (a bar on a "
                f"terminal, a line per epoch otherwise), 'bar' or 'lines'."
            )
        return self

    def _out(self):
        return sys.stdout

    def _bar(self):
        if self.mode != "auto":
            return self.mode == "bar"
        isatty = getattr(self._out(), "isatty", None)
        return bool(isatty and isatty())

    def on_train_begin(self, net, **kwargs):
        self.start_ = time.perf_counter()
        self.images_ = 0
        self.first_epoch_ = len(net.history)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training and batch is not None:
            self.images_ += len(batch[0])

    def on_epoch_end(self, net, **kwargs):
        done = len(net.history) - self.first_epoch_
        total = net.max_epochs
        elapsed = time.perf_counter() - self.start_
        rate = self.images_ / elapsed if elapsed > 0 else 0.0
        left = elapsed / done * (total - done) if done else 0.0
        row = net.history[-1]
        extras = [f"{key} {row[key]:.4f}" for key in ("train_loss", "valid_acc") if key in row]
        parts = [f"{self.label}: epoch {done}/{total}", f"{rate:.0f} images/s"]
        parts.append(f"{_duration(left)} left")
        out = self._out()
        if self._bar():
            filled = round(self._BAR_WIDTH * done / total) if total else self._BAR_WIDTH
            bar = "#" * filled + "-" * (self._BAR_WIDTH - filled)
            text = f"\r{self.label}: [{bar}] epoch {done}/{total}, " + ", ".join(
                parts[1:] + extras
            )
            out.write(text.ljust(getattr(self, "width_", 0)))
            self.width_ = len(text)
        else:
            out.write(", ".join(parts + extras) + "\n")
        out.flush()

    def on_train_end(self, net, **kwargs):
        if self._bar() and hasattr(self, "width_"):
            self._out().write("\n")
            self._out().flush()
            del self.width_


def _duration(seconds):
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}:{seconds:02d} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d} h"
