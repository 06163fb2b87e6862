"""Noisy Student input noise: RandAugment on the student's training batches only."""

import torch
from skorch.callbacks import Callback
from torchvision.transforms import v2

from .._compat import rand_augment_apply, rand_augment_space


class RandAugmentNoise(Callback):
    """RandAugment on every training batch of the student, one draw per image.

    Noisy Student (Xie et al. 2020) noises the student, never the teacher: the
    teacher's logits are computed once per generation on clean inputs, and this
    callback changes only the images of the student's training batches, in place,
    just before the forward pass. Validation batches and predictions are untouched.
    Inputs are float images ``(N, C, H, W)`` with values in ``[0, 1]``.

    Each image gets its own ``num_ops`` operations and signs, drawn as torchvision's
    :class:`~torchvision.transforms.v2.RandAugment` draws them for one image, but the
    batch is transformed in groups: the images that drew the same operation with the
    same sign in the same place go through it together, as one batched call of
    torchvision's own operation. A batch then costs at most ``2 * 14 * num_ops`` calls
    instead of ``num_ops`` per image, on the device the batch is on, with no wait for
    the device (the draws are made on the CPU).

    Parameters
    ----------
    num_ops : int, default=2
        Transformations per image.
    magnitude : int, default=9
        Their strength, 0 to 30 (torchvision's scale).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn_selfdistill import SelfDistillationClassifier
    >>> from sklearn_selfdistill.nn.augment import RandAugmentNoise
    >>> class Tiny(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.linear = torch.nn.Linear(3 * 8 * 8, 2)
    ...     def forward(self, x):
    ...         return torch.softmax(self.linear(x.flatten(1)), dim=-1)
    >>> X = np.random.RandomState(0).rand(32, 3, 8, 8).astype(np.float32)
    >>> y = (X[:, 0].mean(axis=(1, 2)) > 0.5).astype(np.int64)
    >>> net = NeuralNetClassifier(Tiny, max_epochs=2, train_split=None, verbose=0,
    ...                           callbacks=[RandAugmentNoise(num_ops=1, magnitude=5)])
    >>> SelfDistillationClassifier(net, n_generations=2).fit(X, y).n_generations_
    2
    """

    def __init__(self, num_ops=2, magnitude=9):
        self.num_ops = num_ops
        self.magnitude = magnitude

    def initialize(self):
        self.transform_ = v2.RandAugment(num_ops=self.num_ops, magnitude=self.magnitude)
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        images = batch[0]
        if not (isinstance(images, torch.Tensor) and images.ndim == 4):
            raise ValueError(
                f"RandAugmentNoise needs image batches of shape (N, C, H, W); got "
                f"{type(images).__name__} of shape {tuple(getattr(images, 'shape', ()))}."
            )
        with torch.no_grad():
            rand_augment_batch(self.transform_, images)


def draw_operations(transform, n_images):
    """Each image's operations and signs: two ``(n_images, num_ops)`` CPU tensors.

    The operation's index in torchvision's RandAugment space, and whether its
    magnitude is negated (only for the signed operations).
    """
    n_ops = len(rand_augment_space(transform))
    operations = torch.randint(n_ops, (n_images, transform.num_ops))
    negated = torch.rand(n_images, transform.num_ops) <= 0.5
    return operations, negated


def apply_operation(transform, images, index, negated):
    """RandAugment's operation ``index`` (its sign ``negated``) on a batch of images."""
    name, (magnitudes_fn, signed) = list(rand_augment_space(transform).items())[index]
    height, width = images.shape[-2:]
    magnitudes = magnitudes_fn(transform.num_magnitude_bins, height, width)
    magnitude = 0.0 if magnitudes is None else float(magnitudes[transform.magnitude])
    if signed and negated:
        magnitude = -magnitude
    return rand_augment_apply(transform, images, name, magnitude)


def rand_augment_batch(transform, images, draws=None):
    """RandAugment on ``images`` in place, each image with its own draw, in groups.

    ``draws`` (from :func:`draw_operations`) fixes the operations; by default they are
    drawn from torch's generator.
    """
    operations, negated = (
        draws if draws is not None else draw_operations(transform, images.shape[0])
    )
    space = list(rand_augment_space(transform).values())
    for step in range(operations.shape[1]):
        chosen, signs = operations[:, step], negated[:, step]
        for index in chosen.unique().tolist():
            signed = space[index][1]
            for negative in (False, True) if signed else (None,):
                group = chosen == index
                if negative is not None:
                    group &= signs == negative
                rows = group.nonzero().squeeze(1)
                if rows.numel() == 0:
                    continue
                rows = rows.to(images.device, non_blocking=True)
                images[rows] = apply_operation(transform, images[rows], index, bool(negative))
    return images
