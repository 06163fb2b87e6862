"""A small vision transformer for 28x28 and 32x32 images, built on torchvision's."""

import math
from functools import partial
from numbers import Integral

from torch import nn
from torchvision.models import VisionTransformer

from ._output import OutputNonlinMixin
from ._precision import autocast_logits, check_autocast_dtype

__all__ = ["ViTSmall"]


class ViTSmall(OutputNonlinMixin, VisionTransformer):
    """Small vision transformer (torchvision's ``VisionTransformer``) for small images.

    The image is cut into ``(image_size // patch_size) ** 2`` patches (64 for 32x32
    images and 4x4 patches, 49 for 28x28); a class token and ``num_layers``
    transformer encoder blocks follow, and a linear head reads the class token.
    Unlike torchvision's, the patch projection takes ``in_channels`` channels.

    Parameters
    ----------
    num_classes : int, default=10
        Number of outputs.
    in_channels : int, default=3
        Channels of the input images (1 for MNIST and Fashion-MNIST).
    image_size : int, default=32
        Height and width of the (square) input images.
    patch_size : int, default=4
        Height and width of a patch. Must divide ``image_size``.
    hidden_dim : int, default=192
        Width of the token embeddings. Must be a multiple of ``num_heads``.
    num_layers : int, default=6
        Number of encoder blocks.
    num_heads : int, default=3
        Attention heads per block.
    mlp_dim : int, default=384
        Hidden width of the MLP in each block.
    dropout : float, default=0.0
        Dropout rate in the encoder, active in train mode only (Noisy Student's
        model noise).
    output_nonlin : torch.nn.Module or None, default=torch.nn.Softmax(dim=-1)
        Applied to the logits by :meth:`forward`. The default softmax suits
        :class:`skorch.NeuralNetClassifier` with its default ``NLLLoss`` criterion;
        pass ``None`` to return the logits (for ``CrossEntropyLoss``).
    autocast_dtype : {None, "bfloat16", "float16"} or torch.dtype, default=None
        Mixed precision: :meth:`forward_logits` runs under
        ``torch.autocast(device_type=x.device.type, dtype=autocast_dtype)`` and returns
        float32 logits, so that the softmax and the losses stay in float32; the weights
        stay float32. bfloat16 speeds up training on recent GPUs (NVIDIA Ampere and
        later); on a CPU it is usually slower than float32. float16 has a narrow range
        and skorch does no loss scaling, so prefer bfloat16 for training. None computes
        in the dtype of the weights. Stored as the torch dtype.

    Attributes
    ----------
    conv_proj : torch.nn.Conv2d
        The patch embedding, ``in_channels`` to ``hidden_dim`` channels.
    encoder : torch.nn.Module
        The transformer encoder, with learned position embeddings.
    heads : torch.nn.Sequential
        The head; ``heads.head`` starts at zero, as in torchvision, so an untrained
        model predicts the uniform distribution.

    See Also
    --------
    torchvision.models.VisionTransformer : the model this class configures.
    ResNet18 : convolutional network for the same images.

    References
    ----------
    A. Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image
    Recognition at Scale", ICLR 2021.

    Examples
    --------
    >>> import torch
    >>> from sklearn_selfdistill.nn.models import ViTSmall
    >>> model = ViTSmall(num_classes=10, in_channels=1, image_size=28, patch_size=4)
    >>> model(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> model.forward_logits(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        num_classes=10,
        in_channels=3,
        image_size=32,
        patch_size=4,
        hidden_dim=192,
        num_layers=6,
        num_heads=3,
        mlp_dim=384,
        dropout=0.0,
        output_nonlin=nn.Softmax(dim=-1),  # noqa: B008 - stateless, skorch.toy's convention
        autocast_dtype=None,
    ):
        _check_geometry(image_size, patch_size, hidden_dim, num_heads)
        autocast_dtype = check_autocast_dtype(autocast_dtype)
        super().__init__(
            image_size=image_size,
            patch_size=patch_size,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            mlp_dim=mlp_dim,
            dropout=dropout,
            num_classes=num_classes,
        )
        self.in_channels = in_channels
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.output_nonlin = output_nonlin
        self.autocast_dtype = autocast_dtype
        # torchvision hard-codes 3 input channels; rebuild the projection for
        # in_channels with torchvision's initialisation (truncated normal, 1 / fan_in).
        self.conv_proj = nn.Conv2d(
            in_channels, hidden_dim, kernel_size=patch_size, stride=patch_size
        )
        fan_in = in_channels * patch_size * patch_size
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
        nn.init.zeros_(self.conv_proj.bias)

    def forward_logits(self, x):
        """Return the logits, before ``output_nonlin``.

        Parameters
        ----------
        x : torch.Tensor of shape (N, in_channels, image_size, image_size)
            Images.

        Returns
        -------
        logits : torch.Tensor of shape (N, num_classes)
        """
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"ViTSmall was built with in_channels={self.in_channels} and "
                f"image_size={self.image_size} and expects images of shape (N, "
                f"{', '.join(map(str, expected))}); got a tensor of shape {tuple(x.shape)}."
            )
        # torchvision's forward, not the mixin's.
        return autocast_logits(partial(VisionTransformer.forward, self), x, self.autocast_dtype)


def _check_geometry(image_size, patch_size, hidden_dim, num_heads):
    named = (("image_size", image_size), ("patch_size", patch_size), ("num_heads", num_heads))
    for name, value in named:
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise ValueError(f"The {name!r} parameter must be an int >= 1; got {value!r}.")
    if image_size % patch_size:
        raise ValueError(
            f"The 'image_size' parameter ({image_size}) must be a multiple of the "
            f"'patch_size' parameter; got patch_size={patch_size}. The divisors of "
            f"{image_size} are {[p for p in range(1, image_size + 1) if image_size % p == 0]}."
        )
    if hidden_dim % num_heads:
        raise ValueError(
            f"The 'hidden_dim' parameter ({hidden_dim}) must be a multiple of the "
            f"'num_heads' parameter; got num_heads={num_heads}."
        )
