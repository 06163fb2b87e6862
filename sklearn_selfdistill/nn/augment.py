"""Noisy Student input noise: RandAugment on the student's training batches only."""

import torch
from skorch.callbacks import Callback
from torchvision.transforms import v2


class RandAugmentNoise(Callback):
    """RandAugment on every training batch of the student, one draw per image.

    Noisy Student (Xie et al. 2020) noises the student, never the teacher: the
    teacher's logits are computed once per generation on clean inputs, and this
    callback changes only the images of the student's training batches, in place,
    just before the forward pass. Validation batches and predictions are untouched.
    Inputs are float images ``(N, C, H, W)`` with values in ``[0, 1]``.

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
            for i in range(images.shape[0]):
                images[i] = self.transform_(images[i])
