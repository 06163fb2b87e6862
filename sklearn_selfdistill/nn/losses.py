"""DistillationLoss: Hinton's soft-target loss with the library's alpha convention."""

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
    by the batch size, so that every row weighs the same).

    Parameters
    ----------
    alpha : float in [0, 1], default=0.7
        Weight of the teacher term.
    temperature : float > 0, default=4.0
        Softmax temperature of both distributions in the teacher term.

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

    def __init__(self, alpha=0.7, temperature=4.0):
        super().__init__()
        if isinstance(alpha, bool) or not (isinstance(alpha, int | float) and 0 <= alpha <= 1):
            raise ValueError(
                f"The 'alpha' parameter of DistillationLoss must be a float in [0, 1] (the "
                f"weight of the teacher); got {alpha!r}."
            )
        if isinstance(temperature, bool) or not (
            isinstance(temperature, int | float) and temperature > 0
        ):
            raise ValueError(
                f"The 'temperature' parameter of DistillationLoss must be a float > 0; "
                f"got {temperature!r}."
            )
        self.alpha = float(alpha)
        self.temperature = float(temperature)

    def forward(self, student_logits, y, teacher_logits=None):
        """The loss of a batch, a scalar tensor.

        Parameters
        ----------
        student_logits : Tensor of shape (n_samples, n_classes)
        y : Tensor of shape (n_samples,)
            Class indices; ``-1`` marks an unlabelled row.
        teacher_logits : Tensor of shape (n_samples, n_classes) or None
            None (generation 0) leaves only the cross-entropy.
        """
        n = student_logits.shape[0]
        y = y.long()
        labeled = y != UNLABELED
        ce = F.cross_entropy(student_logits, y.clamp(min=0), reduction="none")
        ce = (ce * labeled).sum() / n
        if teacher_logits is None or self.alpha == 0.0:
            return ce
        T = self.temperature
        teacher_logits = teacher_logits.to(student_logits.device, student_logits.dtype)
        kl = F.kl_div(
            F.log_softmax(student_logits / T, dim=-1),
            F.log_softmax(teacher_logits / T, dim=-1),
            reduction="batchmean",
            log_target=True,
        )
        return self.alpha * T**2 * kl + (1.0 - self.alpha) * ce
