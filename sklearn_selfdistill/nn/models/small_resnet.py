"""A ResNet small enough to train on a laptop CPU, for 28x28 and 32x32 images."""

from numbers import Integral, Real

import torch
from torch import nn

from ._output import OutputNonlinMixin
from ._precision import autocast_logits, check_autocast_dtype, check_channels_last
from .resnet import _BasicBlock, check_images, conv3x3

__all__ = ["SmallResNet"]

# Channels of the three stages, in multiples of ``width``, and their strides.
_STAGE_MULTIPLIERS = (1, 2, 4)
_STAGE_STRIDES = (1, 2, 2)


def _check_rate(name, value):
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value <= 1:
        raise ValueError(f"The {name!r} parameter must be a float in [0, 1]; got {value!r}.")


def _check_count(name, value, meaning):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"The {name!r} parameter must be an int >= 1 ({meaning}); got {value!r}.")


class SmallResNet(OutputNonlinMixin, nn.Module):
    """A CPU-sized CIFAR-style ResNet with stochastic depth and dropout, the student's noise.

    A 3x3 stem, three stages of BasicBlocks with ``width``, ``2 * width`` and
    ``4 * width`` channels (strides 1, 2, 2), global average pooling, dropout and a
    linear head: the ResNet-8 (``blocks_per_stage=1``) and ResNet-14
    (``blocks_per_stage=2``) of the CIFAR papers at ``width=16``. With the defaults it
    has 78 000 parameters and trains at several hundred 28x28 images a second on one
    CPU core, which makes Noisy Student with augmentation a laptop-sized study.

    Noisy Student's model noise (Xie et al. 2020) is both of its noises: stochastic
    depth on the residual branches (block ``i`` of ``B`` dropped with probability
    ``stochastic_depth * (i + 1) / B``, Huang et al. 2016) and dropout before the
    head. Both act in train mode only, so a teacher, which predicts in eval mode, is
    clean.

    Parameters
    ----------
    num_classes : int, default=10
        Number of outputs.
    in_channels : int, default=1
        Channels of the input images (1 for MNIST and Fashion-MNIST, 3 for CIFAR-10).
    width : int, default=16
        Channels of the stem and the first stage.
    blocks_per_stage : int, default=1
        BasicBlocks in each of the three stages.
    stem_stride : {1, 2}, default=1
        Stride of the stem: 2 halves the resolution before the first stage (28x28
        images then run at 14x14, 7x7 and 4x4), which makes training about three times
        faster on a CPU, for a little accuracy.
    stochastic_depth : float, default=0.0
        Drop rate of the last block, decaying linearly to the first; in ``[0, 1]``.
    dropout : float, default=0.0
        Dropout rate before the linear head; in ``[0, 1]``.
    output_nonlin : torch.nn.Module or None, default=torch.nn.Softmax(dim=-1)
        Applied to the logits by :meth:`forward`; ``None`` returns the logits (for
        ``CrossEntropyLoss``).
    autocast_dtype : {None, "bfloat16", "float16"} or torch.dtype, default=None
        Run :meth:`forward_logits` under ``torch.autocast`` and return float32 logits;
        see :class:`ResNet`.
    channels_last : bool, default=False
        Keep weights and inputs in ``torch.channels_last`` memory format; see
        :class:`ResNet`.

    See Also
    --------
    ResNet : the four-stage ResNets (ResNet-18, ResNet-34) for GPUs.

    References
    ----------
    K. He, X. Zhang, S. Ren and J. Sun, "Deep Residual Learning for Image
    Recognition", CVPR 2016.
    Q. Xie, M.-T. Luong, E. Hovy and Q. V. Le, "Self-training with Noisy Student
    improves ImageNet classification", CVPR 2020.

    Examples
    --------
    >>> import torch
    >>> from sklearn_selfdistill.nn.models import SmallResNet
    >>> model = SmallResNet(num_classes=10, in_channels=1, stochastic_depth=0.2, dropout=0.3)
    >>> model.eval()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> sum(p.numel() for p in model.parameters())
    77754

    With skorch: ``NeuralNetClassifier(SmallResNet, module__in_channels=1,
    module__dropout=0.3)``; from the command line: ``model.name=small_resnet``.
    """

    def __init__(
        self,
        num_classes=10,
        in_channels=1,
        width=16,
        blocks_per_stage=1,
        stem_stride=1,
        stochastic_depth=0.0,
        dropout=0.0,
        output_nonlin=nn.Softmax(dim=-1),  # noqa: B008 - stateless, skorch.toy's convention
        autocast_dtype=None,
        channels_last=False,
    ):
        super().__init__()
        _check_count("num_classes", num_classes, "outputs")
        _check_count("in_channels", in_channels, "channels of the input images")
        _check_count("width", width, "channels of the first stage")
        _check_count("blocks_per_stage", blocks_per_stage, "BasicBlocks per stage")
        if stem_stride not in (1, 2) or isinstance(stem_stride, bool):
            raise ValueError(f"The 'stem_stride' parameter must be 1 or 2; got {stem_stride!r}.")
        _check_rate("stochastic_depth", stochastic_depth)
        _check_rate("dropout", dropout)
        check_channels_last(channels_last)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.width = width
        self.blocks_per_stage = blocks_per_stage
        self.stem_stride = stem_stride
        self.stochastic_depth = stochastic_depth
        self.dropout = dropout
        self.output_nonlin = output_nonlin
        self.autocast_dtype = check_autocast_dtype(autocast_dtype)
        self.channels_last = channels_last
        self.stem = nn.Sequential(
            conv3x3(in_channels, width, stem_stride),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        total = 3 * blocks_per_stage
        blocks, channels = [], width
        for stage, (multiplier, stride) in enumerate(
            zip(_STAGE_MULTIPLIERS, _STAGE_STRIDES, strict=True)
        ):
            for b in range(blocks_per_stage):
                index = stage * blocks_per_stage + b
                rate = stochastic_depth * (index + 1) / total
                blocks.append(
                    _BasicBlock(channels, width * multiplier, stride if b == 0 else 1, rate)
                )
                channels = width * multiplier
        self.blocks = nn.Sequential(*blocks)
        self.head_dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if channels_last:
            self.to(memory_format=torch.channels_last)

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
        features = self.blocks(self.stem(x)).mean(dim=(2, 3))
        return self.fc(self.head_dropout(features))
