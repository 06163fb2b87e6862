"""What a net's module returns, read the same way everywhere in the nn layer.

skorch's convention decides what a classifier's module returns (probabilities with
``NLLLoss``, logits with ``CrossEntropyLoss``); :func:`as_logits` turns either into
logits. A teacher's logits on the training rows are computed once per generation, in
batches, under ``torch.inference_mode()``, and kept on the CPU (:func:`teacher_logits`);
:func:`probe_output` checks a module's output shape on two rows before any training;
:func:`generation_header` says, above a verbose net's epoch table, what its losses mean.
"""

import numpy as np
import torch
from sklearn.base import clone
from skorch.utils import to_tensor

from ._fast import sliced_batch_settings


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


def log_probs(output, kind):
    """The student's log-probabilities; for probabilities, exactly what skorch takes."""
    if kind == "logits":
        return torch.log_softmax(output, dim=-1)
    return torch.log(output + torch.finfo(output.dtype).eps)


def net_device(net):
    """The device of the net's module: its ``device``, or (None, as with an accelerator)
    that of its first parameter."""
    if net.device is not None:
        return torch.device(net.device)
    module = getattr(net, "module_", None)
    parameter = None if module is None else next(module.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device


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


def teacher_logits(net, X, kind):
    """The net's logits on ``X``, on the CPU, in batches, under inference mode.

    Where skorch would only cut ``X`` (a numpy array or tensor) into batches (the rule
    of ``_fast.sliced_batch_settings``, which the training batches follow too), the
    batches are sliced directly instead of fetched row by row; otherwise they come from
    skorch's ``forward_iter``.
    """
    settings = sliced_batch_settings(net, training=False)
    with torch.inference_mode():
        if settings is not None and isinstance(X, np.ndarray | torch.Tensor):
            net.check_is_fitted()
            net.module_.eval()
            size = settings.get("batch_size", net.batch_size)
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
