"""Self-distillation of PyTorch networks through skorch (needs the ``torch`` extra).

Nothing outside this subpackage imports torch or skorch, so ``import
sklearn_selfdistill`` works without them.
"""

try:
    import skorch  # noqa: F401
    import torch  # noqa: F401
    import torchvision  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a torch-free environment
    raise ImportError(
        "sklearn_selfdistill.nn needs PyTorch, torchvision and skorch: "
        'pip install "sklearn_selfdistill[torch]"'
    ) from exc

from .augment import BatchRandAugment, RandAugmentNoise
from .callbacks import AugmentedTeacher, EMATeacher, EpochProgress
from .losses import DistillationLoss
from .online import OnlineSelfDistillation

__all__ = [
    "AugmentedTeacher",
    "BatchRandAugment",
    "DistillationLoss",
    "EMATeacher",
    "EpochProgress",
    "OnlineSelfDistillation",
    "RandAugmentNoise",
]
