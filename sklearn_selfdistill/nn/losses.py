"""DistillationLoss: Hinton's soft-target loss with the library's alpha convention."""

import math

import torch
import torch.nn.functional as F

UNLABELED = -1


class DistillationLoss(torch.nn.Module):
    """``alpha * T**2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE(y, p_student)``.

    ``p^T = softmax(logits / T)``; the KL term is averaged per sample ("batchmean"),
    and the ``T**2`` factor keeps its gradients on the scale of the cross-entropy's as
    ``T`` grows (Hinton et al. 2015). ``alpha`` is the weight of the teacher, as
    everywhere in this library. Rows labelled ``-1`` are unlabelled: they contribute
    only the teacher term (the cross-entropy is summed over labelled rows and divided
    by the batch size, so that every row weighs the same). A teacher logit of ``-inf``
    rules its class out (probability 0, no share of the loss); NaN logits give a NaN
    loss, as in torch's own losses.

    Parameters
    ----------
    alpha : float in [0, 1], default=0.7
        Weight of the teacher term.
    temperature : float > 0, default=4.0
        Softmax temperature of both distributions in the teacher term.
    weight : Tensor of shape (n_classes,) or None, default=None
        Class weights of the cross-entropy term, as in
        :class:`torch.nn.CrossEntropyLoss` (the term is the weighted mean over the
        labelled rows, times their share of the batch).
    label_smoothing : float in [0, 1), default=0.0
        Label smoothing of the cross-entropy term, as in
        :class:`torch.nn.CrossEntropyLoss`.

    A net's ``criterion__weight`` and ``criterion__label_smoothing`` reach this loss in
    every distilled generation, so they mean in generation ``g >= 1`` what they meant
    in generation 0.

    Row weights (``sample_weight``, as in scikit-learn's SGD estimators) multiply each
    row's loss, teacher term and label term alike: the teacher term is
    ``sum_i w_i * KL_i / n`` and the label term ``sum_i w_i * CE_i / n`` over the
    labelled rows (with class weights: the sum of ``w_i * CE_i`` divided by that of
    ``w_i * weight[y_i]``, times the labelled rows' share ``sum_labelled w_i / n``). A row
    of weight 0 contributes nothing; weights of 1 give the unweighted loss. The nets of
    this library rescale a fit's weights to mean 1 first (see
    ``SoftTargetNetClassifier``).

    Examples
    --------
    >>> import torch
    >>> from sklearn_selfdistill.nn import DistillationLoss
    >>> student = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    >>> teacher = torch.tensor([[1.0, 0.5, -1.0], [0.0, 2.0, 0.0]])
    >>> y = torch.tensor([0, -1])  # the second row is unlabelled
    >>> loss = DistillationLoss(alpha=0.5, temperature=2.0)(student, y, teacher)
    >>> round(float(loss), 4)
    0.2004
    """

    def __init__(self, alpha=0.7, temperature=4.0, weight=None, label_smoothing=0.0):
        super().__init__()
        if isinstance(alpha, bool) or not (isinstance(alpha, int | float) and 0 <= alpha <= 1):
            raise ValueError(
                f"The 'alpha' parameter of DistillationLoss must be a float in [0, 1] (the "
                f"weight of the teacher); got {alpha!r}."
            )
        if isinstance(temperature, bool) or not (
            isinstance(temperature, int | float) and 0 < temperature < math.inf
        ):
            raise ValueError(
                f"The 'temperature' parameter of DistillationLoss must be a finite float > 0; "
                f"got {temperature!r}."
            )
        if isinstance(label_smoothing, bool) or not (
            isinstance(label_smoothing, int | float) and 0 <= label_smoothing < 1
        ):
            raise ValueError(
                f"The 'label_smoothing' parameter of DistillationLoss must be a float in "
                f"[0, 1); got {label_smoothing!r}."
            )
        self.alpha = float(alpha)
        self.temperature = float(temperature)
        self.label_smoothing = float(label_smoothing)
        # A buffer, so that it moves with the criterion to the net's device.
        self.register_buffer(
            "weight", None if weight is None else torch.as_tensor(weight, dtype=torch.float32)
        )

    def forward(self, student_logits, y, teacher_logits=None, sample_weight=None):
        """The loss of a batch, a scalar tensor.

        Parameters
        ----------
        student_logits : Tensor of shape (n_samples, n_classes)
        y : Tensor of shape (n_samples,)
            Class indices; ``-1`` marks an unlabelled row.
        teacher_logits : Tensor of shape (n_samples, n_classes) or None
            None (generation 0) leaves only the cross-entropy.
        sample_weight : Tensor of shape (n_samples,) or None
            Non-negative weight of each row's loss; None weighs every row 1.
        """
        _check_batch(student_logits, y, teacher_logits, sample_weight)
        teacher = None
        if teacher_logits is not None and self.alpha != 0.0:
            teacher_logits = teacher_logits.to(student_logits.device, student_logits.dtype)
            teacher = self.soften_teacher(teacher_logits)
        if sample_weight is not None:
            sample_weight = sample_weight.to(student_logits.device, student_logits.dtype)
        return self.from_log_probs(
            F.log_softmax(student_logits, dim=-1), y, teacher, sample_weight=sample_weight
        )

    def soften_teacher(self, teacher_logits):
        """``log softmax(teacher_logits / T)``: what :meth:`from_log_probs` takes.

        The teacher's part of the loss depends on its logits only through this, so a
        training loop can compute it once per generation instead of once per batch.
        """
        log_probs = F.log_softmax(teacher_logits.float() / self.temperature, dim=-1)
        # A class ruled out (-inf) must weigh 0 in the KL term, not 0 * inf = NaN.
        return log_probs.clamp_min(torch.finfo(log_probs.dtype).min)

    def from_log_probs(
        self, student_log_probs, y, teacher_log_probs=None, all_labeled=False, sample_weight=None
    ):
        """The same loss from the student's log-probabilities at temperature 1.

        The fast path of the training loop: ``student_log_probs`` is
        ``log_softmax(student_logits)`` (or the log of a module's probabilities) and
        ``teacher_log_probs`` is :meth:`soften_teacher` of the teacher's logits (None
        leaves only the cross-entropy). ``all_labeled=True`` promises that no row of
        ``y`` is ``-1``, which spares a mask. ``sample_weight`` (shape ``(n_samples,)``,
        on the device and in the dtype of ``student_log_probs``) weighs each row's loss.
        """
        ce = self._cross_entropy(student_log_probs, y.long(), all_labeled, sample_weight)
        if teacher_log_probs is None or self.alpha == 0.0:
            return ce
        T = self.temperature
        # log_softmax is shift-invariant: log_softmax(log p / T) = log_softmax(z / T).
        student_soft = student_log_probs if T == 1.0 else F.log_softmax(student_log_probs / T, -1)
        if sample_weight is None:
            kl = F.kl_div(student_soft, teacher_log_probs, reduction="batchmean", log_target=True)
        else:
            # "batchmean" is the pointwise terms' sum over the batch size: weigh them by row.
            pointwise = F.kl_div(
                student_soft, teacher_log_probs, reduction="none", log_target=True
            )
            kl = (pointwise * sample_weight[:, None]).sum() / student_soft.shape[0]
        return torch.add(kl * (self.alpha * T * T), ce, alpha=1.0 - self.alpha)

    def _cross_entropy(self, student_log_probs, y, all_labeled, sample_weight=None):
        """The labels' term: mean over the labelled rows, times their share of the batch.

        Without class weights or smoothing it is ``nll_loss`` itself, as skorch computes
        generation 0's loss; with them, ``cross_entropy`` on the log-probabilities (whose
        ``log_softmax`` changes nothing) applies them as torch does: the weighted sum
        over the labelled rows divided by the weights of their classes. Row weights
        multiply each row's term in the sums (and in the labelled rows' share).
        """
        n = student_log_probs.shape[0]
        if sample_weight is not None:
            return self._weighted_cross_entropy(student_log_probs, y, sample_weight)
        if self.weight is None and not self.label_smoothing:
            if all_labeled:
                return F.nll_loss(student_log_probs, y)
            return F.nll_loss(student_log_probs, y, ignore_index=UNLABELED, reduction="sum") / n
        return self._class_weighted(
            student_log_probs, y, (y != UNLABELED).to(student_log_probs.dtype)
        )

    def _weighted_cross_entropy(self, student_log_probs, y, sample_weight):
        """:meth:`_cross_entropy` with each row's term multiplied by its weight."""
        n = student_log_probs.shape[0]
        weighed = sample_weight * (y != UNLABELED).to(student_log_probs.dtype)
        if self.weight is None and not self.label_smoothing:
            # A row that weighs nothing adds 0, even where its term is infinite (0 * inf).
            picked = student_log_probs.gather(1, y.clamp_min(0)[:, None])[:, 0]
            return -torch.where(weighed > 0, picked * weighed, 0.0).sum() / n
        return self._class_weighted(student_log_probs, y, weighed)

    def _class_weighted(self, student_log_probs, y, weighed):
        """The term with class weights or smoothing, as ``cross_entropy`` applies them,
        each row's term times ``weighed`` (0 for an unlabelled row)."""
        n = student_log_probs.shape[0]
        counts = weighed > 0
        weight = None if self.weight is None else self.weight.to(student_log_probs.dtype)
        per_row = F.cross_entropy(
            student_log_probs,
            y,
            weight=weight,
            ignore_index=UNLABELED,
            reduction="none",
            label_smoothing=self.label_smoothing,
        )
        row_weights = weighed if weight is None else weight[y.clamp_min(0)] * weighed
        tiny = torch.finfo(per_row.dtype).tiny
        total = torch.where(counts, per_row * weighed, 0.0).sum()
        return total / row_weights.sum().clamp_min(tiny) * (weighed.sum() / n)


def _check_batch(student_logits, y, teacher_logits, sample_weight=None):
    """Types, shapes and class indices of a batch, before torch's own errors."""
    for name, value in (("student_logits", student_logits), ("y", y)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"DistillationLoss takes tensors; {name} is a {type(value).__name__}. "
                f"Convert it with torch.as_tensor."
            )
    if teacher_logits is not None and not isinstance(teacher_logits, torch.Tensor):
        raise TypeError(
            f"DistillationLoss takes tensors; teacher_logits is a "
            f"{type(teacher_logits).__name__}. Convert it with torch.as_tensor."
        )
    if student_logits.ndim != 2 or not student_logits.is_floating_point():
        raise ValueError(
            f"student_logits must be a floating-point tensor of shape (n_samples, n_classes); "
            f"got {student_logits.dtype} of shape {tuple(student_logits.shape)}."
        )
    n, n_classes = student_logits.shape
    if n == 0:
        raise ValueError(
            f"DistillationLoss averages over the rows of a batch, which needs at least one; "
            f"got student_logits of shape {tuple(student_logits.shape)}."
        )
    if teacher_logits is not None and teacher_logits.shape != student_logits.shape:
        raise ValueError(
            f"teacher_logits must have the shape of student_logits, {(n, n_classes)} (a row "
            f"per sample, a column per class); got {tuple(teacher_logits.shape)}."
        )
    if tuple(y.shape) != (n,):
        raise ValueError(
            f"y must hold one class index per row of student_logits, shape ({n},); got "
            f"shape {tuple(y.shape)}."
        )
    if y.is_floating_point() or y.is_complex():
        raise TypeError(
            f"y must hold integer class indices (-1 for an unlabelled row); got {y.dtype}. "
            f"Soft targets go in teacher_logits."
        )
    codes = y.long()
    if ((codes < UNLABELED) | (codes >= n_classes)).any():
        raise ValueError(
            f"y holds class indices from {int(codes.min())} to {int(codes.max())}; with "
            f"{n_classes} classes (the columns of student_logits) they must be in "
            f"0..{n_classes - 1}, or -1 for an unlabelled row."
        )
    if sample_weight is not None and (
        not isinstance(sample_weight, torch.Tensor) or tuple(sample_weight.shape) != (n,)
    ):
        got = (
            f"shape {tuple(sample_weight.shape)}"
            if isinstance(sample_weight, torch.Tensor)
            else f"a {type(sample_weight).__name__}"
        )
        raise ValueError(
            f"sample_weight must be a tensor with one weight per row of student_logits, "
            f"shape ({n},); got {got}."
        )
