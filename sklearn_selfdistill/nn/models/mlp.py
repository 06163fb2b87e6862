"""Multi-layer perceptron for flat (or flattened image) inputs."""

from torch import nn

from ._output import OutputNonlinMixin
from ._precision import autocast_logits, check_autocast_dtype

__all__ = ["MLP"]


class MLP(OutputNonlinMixin, nn.Module):
    """Multi-layer perceptron: ``num_hidden`` Linear-ReLU-Dropout blocks and a linear head.

    Inputs of shape ``(N, F)`` are used as they are; inputs with more axes, such as
    images of shape ``(N, C, H, W)``, are flattened to ``(N, C * H * W)`` first, so
    the same image arrays that feed a convolutional net feed this one.

    Parameters
    ----------
    in_features : int, default=784
        Number of features per sample after flattening (784 is a 28x28 image).
    num_classes : int, default=10
        Number of outputs.
    hidden_units : int, default=256
        Width of every hidden layer.
    num_hidden : int, default=2
        Number of hidden layers. 0 gives a linear model (multinomial logistic
        regression with the default ``output_nonlin``).
    dropout : float, default=0.0
        Dropout rate after every hidden layer, active in train mode only. This is
        the model noise of Noisy Student training.
    output_nonlin : torch.nn.Module or None, default=torch.nn.Softmax(dim=-1)
        Applied to the logits by :meth:`forward`. The default softmax suits
        :class:`skorch.NeuralNetClassifier` with its default ``NLLLoss`` criterion;
        pass ``None`` to return the logits (for ``CrossEntropyLoss``).
    autocast_dtype : {None, "bfloat16", "float16"} or torch.dtype, default=None
        Mixed precision: :meth:`forward_logits` runs under
        ``torch.autocast(device_type=x.device.type, dtype=autocast_dtype)`` and returns
        float32 logits, so that the softmax and the losses stay in float32; the weights
        stay float32. bfloat16 helps on recent GPUs (NVIDIA Ampere and later), for wide
        layers; on a CPU it is usually slower than float32. float16 has a narrow range
        and skorch does no loss scaling, so prefer bfloat16 for training. None computes
        in the dtype of the weights. Stored as the torch dtype.

    Attributes
    ----------
    hidden : torch.nn.Sequential
        The hidden Linear-ReLU-Dropout blocks.
    head : torch.nn.Linear
        The output layer, which returns the logits.

    See Also
    --------
    ResNet18 : convolutional network for images.
    ViTSmall : vision transformer for images.

    Examples
    --------
    >>> import torch
    >>> from sklearn_selfdistill.nn.models import MLP
    >>> _ = torch.manual_seed(0)
    >>> model = MLP(in_features=64, num_classes=3, dropout=0.1)
    >>> model(torch.randn(5, 64)).shape
    torch.Size([5, 3])
    >>> model.forward_logits(torch.randn(5, 1, 8, 8)).shape
    torch.Size([5, 3])

    Through skorch, with the class (not an instance) and prefixed parameters:

    >>> import numpy as np
    >>> from skorch import NeuralNetClassifier
    >>> X = np.random.default_rng(0).normal(size=(32, 64)).astype(np.float32)
    >>> y = np.arange(32) % 3
    >>> net = NeuralNetClassifier(
    ...     MLP, module__in_features=64, module__num_classes=3,
    ...     max_epochs=2, train_split=None, verbose=0,
    ... )
    >>> net.fit(X, y).predict_proba(X[:2]).shape
    (2, 3)
    """

    def __init__(
        self,
        in_features=784,
        num_classes=10,
        hidden_units=256,
        num_hidden=2,
        dropout=0.0,
        output_nonlin=nn.Softmax(dim=-1),  # noqa: B008 - stateless, skorch.toy's convention
        autocast_dtype=None,
    ):
        super().__init__()
        self.in_features = in_features
        self.num_classes = num_classes
        self.hidden_units = hidden_units
        self.num_hidden = num_hidden
        self.dropout = dropout
        self.output_nonlin = output_nonlin
        self.autocast_dtype = check_autocast_dtype(autocast_dtype)

        blocks = []
        width = in_features
        for _ in range(num_hidden):
            blocks += [nn.Linear(width, hidden_units), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden_units
        self.hidden = nn.Sequential(*blocks)
        self.head = nn.Linear(width, num_classes)

    def forward_logits(self, x):
        """Return the logits, before ``output_nonlin``.

        Parameters
        ----------
        x : torch.Tensor of shape (N, in_features) or (N, ...)
            Inputs; every axis after the first is flattened.

        Returns
        -------
        logits : torch.Tensor of shape (N, num_classes)
        """
        if x.ndim < 2:
            raise ValueError(
                f"MLP expects a batch of shape (N, {self.in_features}) or (N, C, H, W); "
                f"got a tensor of shape {tuple(x.shape)}."
            )
        flat = x.flatten(start_dim=1)
        if flat.shape[1] != self.in_features:
            raise ValueError(
                f"MLP was built with in_features={self.in_features} but got inputs of shape "
                f"{tuple(x.shape)}, which flatten to {flat.shape[1]} features per sample; "
                f"set in_features={flat.shape[1]}."
            )
        return autocast_logits(self._logits, flat, self.autocast_dtype)

    def _logits(self, flat):
        return self.head(self.hidden(flat))
