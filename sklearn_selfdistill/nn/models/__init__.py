"""Networks for skorch: pass the class, set its parameters with ``module__``.

Every model applies ``output_nonlin`` (softmax by default, as skorch's
``NeuralNetClassifier`` with ``NLLLoss`` expects) in ``forward`` and returns the logits
from ``forward_logits``, which is what distillation reads.
"""

from .mlp import MLP
from .resnet import ResNet, ResNet18, ResNet34
from .small_resnet import SmallResNet
from .vit import ViTSmall

__all__ = ["MLP", "ResNet", "ResNet18", "ResNet34", "SmallResNet", "ViTSmall"]
