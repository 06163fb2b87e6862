"""CIFAR-style ResNets (3x3 stem, no max-pool) with optional stochastic depth.

The layout follows the ResNets commonly trained on CIFAR-10 (kuangliu/pytorch-cifar):
unlike the ImageNet ResNets of torchvision, the stem keeps the full resolution of
small 28x28 or 32x32 images.
"""

from numbers import Integral, Real

import torch
from torch import nn
from torchvision.ops import StochasticDepth

from ._output import OutputNonlinMixin
from ._precision import autocast_logits, check_autocast_dtype, check_channels_last

__all__ = ["ResNet", "ResNet18", "ResNet34", "conv3x3"]

# Channels of the four stages, in multiples of the first stage's ``width``.
_STAGE_MULTIPLIERS = (1, 2, 4, 8)
_STAGE_STRIDES = (1, 2, 2, 2)


def conv3x3(in_channels, out_channels, stride=1):
    """3x3 convolution that keeps the spatial size at ``stride=1``.

    It has no bias because a BatchNorm follows it everywhere.

    Parameters
    ----------
    in_channels : int
        Channels of the input.
    out_channels : int
        Channels of the output.
    stride : int, default=1
        Stride; 2 halves the height and width.

    Returns
    -------
    conv : torch.nn.Conv2d

    Examples
    --------
    >>> import torch
    >>> from sklearn_selfdistill.nn.models.resnet import conv3x3
    >>> conv3x3(3, 16, stride=2)(torch.zeros(1, 3, 32, 32)).shape
    torch.Size([1, 16, 16, 16])
    """
    return nn.Conv2d(
        in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False
    )


def _check_num_blocks(num_blocks):
    try:
        valid = len(num_blocks) == 4 and all(
            isinstance(n, Integral) and not isinstance(n, bool) and n >= 1 for n in num_blocks
        )
    except TypeError:
        valid = False
    if not valid:
        raise ValueError(
            "The 'num_blocks' parameter must be 4 ints >= 1 (blocks per stage); "
            f"got {num_blocks!r}."
        )


def check_images(module, x):
    """Refuse, with a hint, inputs that are not ``(N, module.in_channels, H, W)`` images."""
    if x.ndim == 4 and x.shape[1] == module.in_channels:
        return
    hint = ""
    if x.ndim == 4:
        hint = f"; set in_channels={x.shape[1]} to take {x.shape[1]}-channel images"
    elif x.ndim == 3:
        hint = "; add a channel axis to single-channel images, e.g. X[:, None]"
        if module.in_channels != 1:
            hint += ", and set in_channels=1"
    raise ValueError(
        f"{type(module).__name__} was built with in_channels={module.in_channels} and "
        f"expects images of shape (N, {module.in_channels}, H, W); got a tensor of "
        f"shape {tuple(x.shape)}{hint}."
    )


class _BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut; stochastic depth on the residual branch."""

    def __init__(self, in_channels, out_channels, stride, drop_rate):
        super().__init__()
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        # Identity rather than StochasticDepth(0.0), so that listing the modules shows
        # only the blocks that can actually be dropped.
        self.stochastic_depth = (
            StochasticDepth(drop_rate, mode="row") if drop_rate > 0 else nn.Identity()
        )
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(self.stochastic_depth(out) + self.shortcut(x))


class ResNet(OutputNonlinMixin, nn.Module):
    """CIFAR-style ResNet of BasicBlocks, for 28x28 or 32x32 images.

    A 3x3 stride-1 stem (no max-pool), four stages of 64, 128, 256 and 512 channels
    (``width`` times 1, 2, 4 and 8) with strides 1, 2, 2, 2, global average pooling
    and a linear head.
    :class:`ResNet18` and :class:`ResNet34` fix ``num_blocks``.

    Parameters
    ----------
    num_blocks : tuple of 4 int, default=(2, 2, 2, 2)
        Number of BasicBlocks in each stage.
    num_classes : int, default=10
        Number of outputs.
    in_channels : int, default=3
        Channels of the input images (1 for MNIST and Fashion-MNIST).
    stochastic_depth : float, default=0.0
        Drop rate of the last block; block ``i`` of ``B`` (counted over all stages,
        from 0) drops its residual branch for a sample with probability
        ``stochastic_depth * (i + 1) / B`` in train mode, the linear decay rule of
        Huang et al. (2016) used by Noisy Student. 0 disables it. In ``[0, 1]``.
    output_nonlin : torch.nn.Module or None, default=torch.nn.Softmax(dim=-1)
        Applied to the logits by :meth:`forward`. The default softmax suits
        :class:`skorch.NeuralNetClassifier` with its default ``NLLLoss`` criterion;
        pass ``None`` to return the logits (for ``CrossEntropyLoss``).
    width : int, default=64
        Channels of the stem and the first stage; the next stages have 2, 4 and 8
        times as many. 64 is the standard ResNet; a small width (such as 8) makes a
        quick model for tests and smoke runs.
    autocast_dtype : {None, "bfloat16", "float16"} or torch.dtype, default=None
        Mixed precision: :meth:`forward_logits` runs under
        ``torch.autocast(device_type=x.device.type, dtype=autocast_dtype)`` and returns
        float32 logits, so that the softmax and the losses stay in float32; the weights
        stay float32. bfloat16 speeds up training on recent GPUs (NVIDIA Ampere and
        later); on a CPU it is usually slower than float32. float16 has a narrow range
        and skorch does no loss scaling, so small gradients can underflow: prefer
        bfloat16 for training. None computes in the dtype of the weights and leaves any
        autocast region opened by the caller in force. Stored as the torch dtype.
    channels_last : bool, default=False
        Put the convolution weights in ``torch.channels_last`` memory format when the
        module is built, and convert the input with
        ``x.contiguous(memory_format=torch.channels_last)`` in :meth:`forward_logits`.
        On recent GPUs, together with ``autocast_dtype``, this lets cuDNN use its
        faster NHWC kernels; on a CPU it rarely helps.

    Attributes
    ----------
    layer1, layer2, layer3, layer4 : torch.nn.Sequential
        The four stages; ``len(layer1)`` is ``num_blocks[0]``.
    fc : torch.nn.Linear
        The head, which returns the logits.

    See Also
    --------
    ResNet18, ResNet34 : the two standard depths.

    References
    ----------
    K. He, X. Zhang, S. Ren and J. Sun, "Deep Residual Learning for Image
    Recognition", CVPR 2016.

    G. Huang, Y. Sun, Z. Liu, D. Sedra and K. Weinberger, "Deep Networks with
    Stochastic Depth", ECCV 2016.

    Examples
    --------
    >>> import torch
    >>> from sklearn_selfdistill.nn.models import ResNet
    >>> model = ResNet(num_blocks=(1, 1, 1, 1), num_classes=5, in_channels=1)
    >>> model(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 5])

    Mixed precision and NHWC layout for fast GPU training (shown here on the CPU):

    >>> model = ResNet(
    ...     num_blocks=(1, 1, 1, 1), in_channels=1, autocast_dtype="bfloat16",
    ...     channels_last=True,
    ... )
    >>> model.forward_logits(torch.zeros(2, 1, 28, 28)).dtype
    torch.float32
    >>> model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    True
    """

    def __init__(
        self,
        num_blocks=(2, 2, 2, 2),
        num_classes=10,
        in_channels=3,
        stochastic_depth=0.0,
        output_nonlin=nn.Softmax(dim=-1),  # noqa: B008 - stateless, skorch.toy's convention
        width=64,
        autocast_dtype=None,
        channels_last=False,
    ):
        super().__init__()
        _check_num_blocks(num_blocks)
        if isinstance(width, bool) or not isinstance(width, Integral) or width < 1:
            raise ValueError(
                "The 'width' parameter must be an int >= 1 (channels of the first stage); "
                f"got {width!r}."
            )
        check_channels_last(channels_last)
        if (
            isinstance(stochastic_depth, bool)
            or not isinstance(stochastic_depth, Real)
            or not 0 <= stochastic_depth <= 1
        ):
            raise ValueError(
                "The 'stochastic_depth' parameter must be a float in [0, 1] (the drop rate "
                f"of the last block; 0 disables it); got {stochastic_depth!r}."
            )
        self.num_blocks = tuple(num_blocks)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.stochastic_depth = stochastic_depth
        self.output_nonlin = output_nonlin
        self.width = width
        self.autocast_dtype = check_autocast_dtype(autocast_dtype)
        self.channels_last = channels_last

        self.conv1 = conv3x3(in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)

        total = sum(self.num_blocks)
        drop_rates = [stochastic_depth * (i + 1) / total for i in range(total)]
        stages = []
        channels = width
        first = 0
        for n_blocks, multiplier, stride in zip(
            self.num_blocks, _STAGE_MULTIPLIERS, _STAGE_STRIDES, strict=True
        ):
            rates = drop_rates[first : first + n_blocks]
            stages.append(self._make_layer(channels, width * multiplier, stride, rates))
            channels = width * multiplier
            first += n_blocks
        self.layer1, self.layer2, self.layer3, self.layer4 = stages

        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if channels_last:
            self.to(memory_format=torch.channels_last)

    @staticmethod
    def _make_layer(in_channels, out_channels, stride, drop_rates):
        # Only the first block of a stage changes the width and resolution.
        blocks = [_BasicBlock(in_channels, out_channels, stride, drop_rates[0])]
        blocks += [_BasicBlock(out_channels, out_channels, 1, rate) for rate in drop_rates[1:]]
        return nn.Sequential(*blocks)

    def forward_logits(self, x):
        """Return the logits, before ``output_nonlin``.

        Parameters
        ----------
        x : torch.Tensor of shape (N, in_channels, H, W)
            Images.

        Returns
        -------
        logits : torch.Tensor of shape (N, num_classes)
        """
        check_images(self, x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return autocast_logits(self._logits, x, self.autocast_dtype)

    def _logits(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.fc(self.avgpool(out).flatten(start_dim=1))


class ResNet18(ResNet):
    """CIFAR-style ResNet-18: :class:`ResNet` with ``num_blocks=(2, 2, 2, 2)``.

    Parameters
    ----------
    num_classes : int, default=10
        Number of outputs.
    in_channels : int, default=3
        Channels of the input images (1 for MNIST and Fashion-MNIST).
    stochastic_depth : float, default=0.0
        Drop rate of the last block, decaying linearly to the first; see
        :class:`ResNet`. 0 disables it.
    output_nonlin : torch.nn.Module or None, default=torch.nn.Softmax(dim=-1)
        Applied to the logits by :meth:`forward`; ``None`` returns the logits.
    autocast_dtype : {None, "bfloat16", "float16"} or torch.dtype, default=None
        Run :meth:`forward_logits` under ``torch.autocast`` to this dtype and return
        float32 logits; see :class:`ResNet`. bfloat16 helps on recent GPUs; on a CPU
        it is usually slower.
    channels_last : bool, default=False
        Keep the convolution weights and inputs in ``torch.channels_last`` memory
        format; see :class:`ResNet`. Helps on recent GPUs with ``autocast_dtype``.

    See Also
    --------
    ResNet : the general class and its attributes.
    ResNet34 : the deeper variant.

    Examples
    --------
    >>> import torch
    >>> from sklearn_selfdistill.nn.models import ResNet18
    >>> model = ResNet18(num_classes=10, in_channels=3, stochastic_depth=0.2).eval()
    >>> probabilities = model(torch.zeros(2, 3, 32, 32))
    >>> probabilities.shape
    torch.Size([2, 10])
    >>> torch.allclose(probabilities.sum(dim=1), torch.ones(2))
    True

    With skorch, pass the class and set its parameters with the ``module__`` prefix:
    ``NeuralNetClassifier(ResNet18, module__num_classes=10, module__in_channels=1)``.
    """

    def __init__(
        self,
        num_classes=10,
        in_channels=3,
        stochastic_depth=0.0,
        output_nonlin=nn.Softmax(dim=-1),  # noqa: B008 - stateless, skorch.toy's convention
        autocast_dtype=None,
        channels_last=False,
    ):
        super().__init__(
            num_blocks=(2, 2, 2, 2),
            num_classes=num_classes,
            in_channels=in_channels,
            stochastic_depth=stochastic_depth,
            output_nonlin=output_nonlin,
            autocast_dtype=autocast_dtype,
            channels_last=channels_last,
        )


class ResNet34(ResNet):
    """CIFAR-style ResNet-34: :class:`ResNet` with ``num_blocks=(3, 4, 6, 3)``.

    Parameters
    ----------
    num_classes : int, default=10
        Number of outputs.
    in_channels : int, default=3
        Channels of the input images (1 for MNIST and Fashion-MNIST).
    stochastic_depth : float, default=0.0
        Drop rate of the last block, decaying linearly to the first; see
        :class:`ResNet`. 0 disables it.
    output_nonlin : torch.nn.Module or None, default=torch.nn.Softmax(dim=-1)
        Applied to the logits by :meth:`forward`; ``None`` returns the logits.
    autocast_dtype : {None, "bfloat16", "float16"} or torch.dtype, default=None
        Run :meth:`forward_logits` under ``torch.autocast`` to this dtype and return
        float32 logits; see :class:`ResNet`. bfloat16 helps on recent GPUs; on a CPU
        it is usually slower.
    channels_last : bool, default=False
        Keep the convolution weights and inputs in ``torch.channels_last`` memory
        format; see :class:`ResNet`. Helps on recent GPUs with ``autocast_dtype``.

    See Also
    --------
    ResNet : the general class and its attributes.
    ResNet18 : the shallower variant.

    Examples
    --------
    >>> import torch
    >>> from sklearn_selfdistill.nn.models import ResNet34
    >>> model = ResNet34(num_classes=10, in_channels=1, output_nonlin=None).eval()
    >>> model(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> [len(stage) for stage in (model.layer1, model.layer2, model.layer3, model.layer4)]
    [3, 4, 6, 3]
    """

    def __init__(
        self,
        num_classes=10,
        in_channels=3,
        stochastic_depth=0.0,
        output_nonlin=nn.Softmax(dim=-1),  # noqa: B008 - stateless, skorch.toy's convention
        autocast_dtype=None,
        channels_last=False,
    ):
        super().__init__(
            num_blocks=(3, 4, 6, 3),
            num_classes=num_classes,
            in_channels=in_channels,
            stochastic_depth=stochastic_depth,
            output_nonlin=output_nonlin,
            autocast_dtype=autocast_dtype,
            channels_last=channels_last,
        )
