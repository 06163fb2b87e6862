"""Online self-distillation: a net learns, within one fit, from its own earlier predictions.

skorch's batches do not say which training rows they hold, so the callback learns the
order of the rows of every epoch from the sampler: when skorch builds the training
loader, the net's ``iterator_train`` is, for that one call, a recorder that builds the
user's loader around a sampler recording the epoch's order (the same sampler, drawing
torch's random numbers as ``DataLoader(shuffle=True)`` does), and puts the user's loader
class back on the net. The library's in-memory batches (``_fast.TensorBatches``) tell
the recorder their permutation instead. The k-th training batch of an epoch holds the
rows ``order[k * batch_size:(k + 1) * batch_size]``.

The loss is changed by a forward hook on the criterion (``NLLLoss``, ``CrossEntropyLoss``)
or, in the library's :class:`SoftTargetNetClassifier`, by :func:`blend` called from its
``get_loss``, where the batches carry row numbers.
"""

from numbers import Integral, Real

import torch
from skorch.callbacks import Callback
from torch.utils.data import RandomSampler, Sampler, SequentialSampler

__all__ = ["OnlineSelfDistillation", "blend"]


class _RecordingSampler(Sampler):
    """``sampler``, whose whole order of an epoch is handed to ``record`` when it starts."""

    def __init__(self, sampler, record):
        self.sampler = sampler
        self.record = record

    def __len__(self):
        return len(self.sampler)

    def __iter__(self):
        # A generator, as the wrapped samplers' __iter__ are: the order (and a random
        # sampler's draw of torch's global generator) happens at the first batch.
        order = list(self.sampler)
        self.record(torch.as_tensor(order, dtype=torch.long))
        yield from order


class _RowOrderRecorder:
    """What ``net.iterator_train`` is between ``on_train_begin`` and the training loader.

    Called as the loader class (skorch's path), it puts ``original`` back on the net
    and builds it around a :class:`_RecordingSampler`. The library's in-memory batches
    call :meth:`listen` instead (they read the loader's settings from ``stands_for``).
    """

    def __init__(self, callback, net, original):
        self.callback, self.net, self.original = callback, net, original
        self.stands_for = original

    def restore(self):
        if self.net.iterator_train is self:
            self.net.iterator_train = self.original

    def __call__(self, dataset, **kwargs):
        self.restore()
        shuffle = kwargs.pop("shuffle", False)
        if shuffle:
            base = RandomSampler(dataset, generator=kwargs.get("generator"))
        else:
            base = SequentialSampler(dataset)
        sampler = _RecordingSampler(base, self.callback._record_order)
        loader = self.original(dataset, sampler=sampler, **kwargs)
        self.callback._listen(len(dataset), getattr(loader, "batch_size", kwargs["batch_size"]))
        return loader

    def listen(self, n_rows, batch_size):
        """For batches that draw their own order: the callable to give each epoch's to.

        It takes the permutation of the rows (a tensor), or None for their own order.
        """
        self.restore()
        self.callback._listen(n_rows, batch_size)
        return self.callback._record_order


def _unwrap(iterator):
    """The user's loader class under any recorder a failed fit left on the net."""
    while isinstance(iterator, _RowOrderRecorder):
        iterator = iterator.original
    return iterator


def _label_distributions(labels, n_classes, dtype):
    """One-hot rows of class indices (zero rows for an index out of range, such as an
    ignored or unlabelled row), or the given distributions of probability targets."""
    if labels.is_floating_point() and labels.ndim == 2:
        return labels.to(dtype)
    valid = (labels >= 0) & (labels < n_classes)
    one_hot = torch.nn.functional.one_hot(labels.clamp(0, n_classes - 1).long(), n_classes)
    return (one_hot * valid.unsqueeze(1)).to(dtype)


def _reduce(per_row, reduction, sample_weight=None):
    if sample_weight is not None:
        per_row = per_row * sample_weight
    if reduction == "mean":
        return per_row.mean()
    if reduction == "sum":
        return per_row.sum()
    return per_row


class OnlineSelfDistillation(Callback):
    """Self-distillation inside one fit: each row also learns the net's earlier predictions.

    Within a single training run, each training row's target mixes its label with the
    net's own earlier predictions for that row: last epoch's prediction (progressive
    self-knowledge distillation, PS-KD [1]_) or, with ``momentum``, a running average
    of them (temporal ensembling [2]_, early-learning regularization [3]_). The loss of
    a training batch is

    .. code-block:: text

        (1 - w_e) * loss + w_e * mean_over_rows(-sum_c pbar[row, c] * log p[row, c])

    where ``loss`` is the criterion's, ``p`` the net's probabilities on the batch and
    ``pbar`` the stored predictions of its rows, read before this batch updates them.
    The weight at epoch ``e`` (1-based, counted from the start of each ``fit`` or
    ``partial_fit``) is ``w_e = alpha * min(1, (e - 1) / ramp_epochs)`` (``ramp_epochs=0``:
    ``alpha`` from epoch 2 on). A row with no stored prediction yet (in the first
    epoch, or a row ``drop_last`` left out) has its one-hot label as ``pbar``.

    The stored prediction of a row is the softmax (temperature 1) of its training
    forward pass, detached, in float32, on the net's device: one buffer of
    ``(n_training_rows, n_classes)`` for the time of the fit. Validation batches,
    ``predict`` and the valid loss are unchanged. With ``alpha=0`` the fit is the plain
    fit bit for bit (same batches, random numbers and weights).

    It works with any :class:`skorch.NeuralNetClassifier` whose criterion is
    ``torch.nn.NLLLoss`` (skorch's default; the module returns probabilities) or
    ``torch.nn.CrossEntropyLoss`` (the module returns logits), through a forward hook
    on the criterion, and with the distilled generations of
    :class:`~sklearn_selfdistill.SelfDistillationClassifier`, whose loss calls it
    directly (rows weighted by ``sample_weight`` where the fit has one). Any other
    criterion is refused. The callback learns which rows a batch holds from the
    training loader's sampler: it builds the loader (``iterator_train``, a
    ``DataLoader`` by default, with its ``iterator_train__*`` settings) around its own
    sampler, so a sampler or batch sampler of the user's is refused; the library's
    in-memory batches report their order to it directly.

    Parameters
    ----------
    alpha : float, default=0.5
        Final weight of the net's own earlier predictions, in ``[0, 1]`` (as
        everywhere in this library, ``alpha`` is the teacher's weight). 0 is the
        plain fit.
    momentum : float, default=0.0
        In ``[0, 1)``. 0: ``pbar`` is the row's prediction of the previous epoch.
        Above 0: ``pbar = momentum * pbar + (1 - momentum) * p`` after each prediction
        (the first one initialises it).
    ramp_epochs : int, default=5
        Number of epochs over which the weight rises linearly from 0 (epoch 1) to
        ``alpha`` (epoch ``ramp_epochs + 1``).

    Attributes
    ----------
    epoch_ : int
        Epochs of the current (or last) fit begun so far.
    weight_ : float
        The online weight ``w_e`` of the current (or last) epoch.
    n_blended_ : int
        Training batches of the current (or last) fit whose loss had the online term
        with a weight above 0.

    See Also
    --------
    sklearn_selfdistill.SelfDistillationClassifier : distillation across generations.
    EMATeacher : the moving average of the weights as the generation's model.

    References
    ----------
    .. [1] K. Kim, B. Ji, D. Yoon and S. Hwang, "Self-Knowledge Distillation with
       Progressive Refinement of Targets", ICCV 2021. https://arxiv.org/abs/2006.12000
    .. [2] S. Laine and T. Aila, "Temporal Ensembling for Semi-Supervised Learning",
       ICLR 2017. https://arxiv.org/abs/1610.02242
    .. [3] S. Liu, J. Niles-Weed, N. Razavian and C. Fernandez-Granda, "Early-Learning
       Regularization Prevents Memorization of Noisy Labels", NeurIPS 2020.
       https://arxiv.org/abs/2007.00151

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import load_digits
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn_selfdistill.nn import OnlineSelfDistillation
    >>> from sklearn_selfdistill.nn.models import MLP
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16).astype("float32")
    >>> online = OnlineSelfDistillation(alpha=0.5, momentum=0.9, ramp_epochs=2)
    >>> net = NeuralNetClassifier(
    ...     MLP, module__in_features=64, module__hidden_units=32, max_epochs=4,
    ...     optimizer=torch.optim.Adam, lr=1e-2, iterator_train__shuffle=True,
    ...     train_split=None, callbacks=[online], verbose=0)
    >>> _ = torch.manual_seed(0)
    >>> _ = net.fit(X, y)
    >>> online.weight_, online.n_blended_  # 15 batches in epochs 2 (w=0.25), 3 and 4
    (0.5, 45)
    >>> bool(net.score(X, y) > 0.9)
    True
    """

    def __init__(self, alpha=0.5, momentum=0.0, ramp_epochs=5):
        self.alpha = alpha
        self.momentum = momentum
        self.ramp_epochs = ramp_epochs

    def initialize(self):
        """Check the parameters and forget any previous fit.

        Returns
        -------
        self : OnlineSelfDistillation
            This callback.
        """
        self._check_params()
        self._release()
        self._hook = None
        self.epoch_, self.weight_, self.n_blended_ = 0, 0.0, 0
        return self

    def _check_params(self):
        def number(value):
            return isinstance(value, Real) and not isinstance(value, bool)

        if not (number(self.alpha) and 0 <= self.alpha <= 1):
            raise ValueError(
                f"The 'alpha' parameter of OnlineSelfDistillation must be a float in "
                f"[0, 1]; got {self.alpha!r}."
            )
        if not (number(self.momentum) and 0 <= self.momentum < 1):
            raise ValueError(
                f"The 'momentum' parameter of OnlineSelfDistillation must be a float in "
                f"[0, 1); got {self.momentum!r}."
            )
        ramp = self.ramp_epochs
        if isinstance(ramp, bool) or not isinstance(ramp, Integral) or ramp < 0:
            raise ValueError(
                f"The 'ramp_epochs' parameter of OnlineSelfDistillation must be an int "
                f">= 0; got {ramp!r}."
            )

    def weight(self, epoch):
        """The online weight ``w_e`` at ``epoch`` (1-based) of a fit."""
        if epoch <= 1:
            return 0.0
        if self.ramp_epochs == 0:
            return float(self.alpha)
        return float(self.alpha) * min(1.0, (epoch - 1) / self.ramp_epochs)

    def _release(self):
        """Drop the per-fit state: buffers, the order of the rows, a pending update."""
        self._predictions = self._seen = None
        self._order = self._pending = None
        self._n_rows = self._batch_size = None
        self._batch_index = 0
        # Whether the rows of this epoch's batches have stored predictions: "none", "some"
        # or "all". A sampler gives every row at most once an epoch, so it holds for the
        # whole epoch, and only "some" (after an epoch that drop_last cut) costs a mask.
        self._stored = "none"
        self._armed = False

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Check the net, hook its criterion and record the order of its training rows."""
        self._check_params()
        self._remove_hook()
        net.iterator_train = _unwrap(net.iterator_train)
        self._release()
        self.epoch_, self.weight_, self.n_blended_ = 0, 0.0, 0
        # The library's distilled generations call blend() in get_loss with row numbers.
        self._in_loss = bool(getattr(net, "calls_online_blend", False))
        if self._in_loss:
            return
        criterion = net.criterion_
        if isinstance(criterion, torch.nn.CrossEntropyLoss):
            self._takes_logits = True
        elif isinstance(criterion, torch.nn.NLLLoss):
            self._takes_logits = False
        else:
            raise TypeError(
                f"OnlineSelfDistillation needs the net's criterion to be torch.nn.NLLLoss "
                f"(the module returns probabilities, skorch's default) or "
                f"torch.nn.CrossEntropyLoss (the module returns logits); got "
                f"{type(criterion).__name__}."
            )
        user_sampler = sorted(
            {"sampler", "batch_sampler"} & set(net.get_params_for("iterator_train"))
        )
        if user_sampler:
            raise ValueError(
                f"OnlineSelfDistillation learns which rows a batch holds from its own "
                f"sampler of the training rows (shuffled or not, as "
                f"iterator_train__shuffle says); the net sets "
                f"{', '.join(f'iterator_train__{name}' for name in user_sampler)}, which "
                f"would replace it. Remove it, or the callback."
            )
        self._hook = criterion.register_forward_hook(self._criterion_hook)
        net.iterator_train = _RowOrderRecorder(self, net, net.iterator_train)

    def _listen(self, n_rows, batch_size):
        self._n_rows, self._batch_size = int(n_rows), int(batch_size)

    def _record_order(self, order):
        """The order of this epoch's training rows (None: their own order)."""
        if order is None:
            order = torch.arange(self._n_rows)
        self._order, self._batch_index = order, 0

    def on_epoch_begin(self, net, **kwargs):
        """The epoch's weight; skorch has built its training loader by now."""
        if isinstance(net.iterator_train, _RowOrderRecorder):
            net.iterator_train = _unwrap(net.iterator_train)
        self.epoch_ += 1
        self.weight_ = self.weight(self.epoch_)
        self._order = None
        if self._seen is not None and self._stored != "all":
            seen = int(self._seen.sum())
            self._stored = "all" if seen == self._seen.shape[0] else "some" if seen else "none"

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        """Arm the loss for a training batch."""
        self._armed = bool(training)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        """Store the batch's predictions: after every loss of the step has read them."""
        self._armed = False
        if self._pending is None:
            return
        rows, probabilities, stored = self._pending
        self._pending = None
        if self.momentum > 0 and self._stored != "none":
            if stored is None:
                stored = self._predictions.index_select(0, rows)
            # momentum * stored + (1 - momentum) * probabilities
            averaged = torch.lerp(probabilities, stored, self.momentum)
            if self._stored == "some":
                averaged = torch.where(self._seen[rows].unsqueeze(1), averaged, probabilities)
            probabilities = averaged
        self._predictions.index_copy_(0, rows, probabilities)
        if self._stored != "all":
            self._seen[rows] = True

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Remove the hook, give the net its loader class back, free the buffers."""
        self._remove_hook()
        net.iterator_train = _unwrap(net.iterator_train)
        self._release()

    def _remove_hook(self):
        hook = getattr(self, "_hook", None)
        if hook is not None:
            hook.remove()
        self._hook = None

    def _batch_rows(self, n_batch, device):
        if self._order is None:
            raise RuntimeError(
                "OnlineSelfDistillation does not know which rows this training batch "
                "holds: the net's training batches did not come from the loader its "
                "iterator_train builds (a get_iterator of the net's own?)."
            )
        if self._order.device != device:
            self._order = self._order.to(device)
        start = self._batch_index * self._batch_size
        rows = self._order[start : start + self._batch_size]
        if rows.shape[0] != n_batch:
            raise RuntimeError(
                f"OnlineSelfDistillation expected training batch {self._batch_index} of "
                f"this epoch to hold {rows.shape[0]} rows (batches of {self._batch_size} "
                f"in the sampler's order); the loss got {n_batch}. A collate function "
                f"or a train_step that changes the batches' rows is not supported."
            )
        return rows

    def _criterion_hook(self, criterion, inputs, loss):
        if not self._armed or not torch.is_grad_enabled():
            return None
        scores, target = inputs[0], inputs[1]
        log_probs = torch.log_softmax(scores, dim=-1) if self._takes_logits else scores
        if self._pending is None:  # the batch's first loss (an LBFGS step computes several)
            self._batch_rows_now = self._batch_rows(scores.shape[0], scores.device)
            self._batch_index += 1
        blended = self._blend(
            loss, log_probs, self._batch_rows_now, target, self._n_rows, criterion.reduction
        )
        return None if blended is loss else blended

    def _blend(self, loss, log_probs, rows, labels, n_rows, reduction="mean", sample_weight=None):
        n_classes = log_probs.shape[-1]
        if self._predictions is None:
            self._predictions = torch.zeros(
                (n_rows, n_classes), dtype=torch.float32, device=log_probs.device
            )
            self._seen = torch.zeros(n_rows, dtype=torch.bool, device=log_probs.device)
        probabilities = torch.softmax(log_probs.detach().float(), dim=-1)
        weight = self.weight_
        if weight == 0:
            self._pending = (rows, probabilities, None)
            return loss
        stored = self._predictions.index_select(0, rows)
        self._pending = (rows, probabilities, stored)
        targets = stored
        if self._stored != "all":
            labelled = _label_distributions(labels, n_classes, targets.dtype)
            if self._stored == "some":
                labelled = torch.where(self._seen[rows].unsqueeze(1), targets, labelled)
            targets = labelled
        targets = targets.to(log_probs.dtype)
        if reduction == "mean" and sample_weight is None:
            # The mean over rows of -sum_c targets * log_probs.
            online = (targets * log_probs).sum() * (-1 / rows.shape[0])
        else:
            online = _reduce(-(targets * log_probs).sum(dim=-1), reduction, sample_weight)
        self.n_blended_ += 1
        return torch.lerp(loss, online.to(loss.dtype), weight)


def blend(net, loss, log_probs, rows, labels, n_rows, sample_weight=None):
    """``loss`` with the online term of the net's :class:`OnlineSelfDistillation`, if any.

    For a net whose ``get_loss`` knows the batch's rows (its class sets
    ``calls_online_blend = True``): ``log_probs`` are the batch's log-probabilities,
    ``rows`` its rows' numbers (``0 <= rows < n_rows``), ``labels`` their class
    indices (-1: unlabelled, a row that has no one-hot label), ``sample_weight`` the
    rows' weights or None. Outside training batches, or without the callback, ``loss``
    is returned as it is.
    """
    for _, callback in net.callbacks_:
        if isinstance(callback, OnlineSelfDistillation) and callback._armed:
            return callback._blend(
                loss, log_probs, rows, labels, n_rows, sample_weight=sample_weight
            )
    return loss
