"""Self-distillation as scikit-learn meta-estimators.

``alpha`` is the weight of the teacher everywhere: generation ``g >= 1`` learns
``alpha * teacher + (1 - alpha) * ground truth``. The torch part lives in
``sklearn_selfdistill.nn`` and is only imported from there.
"""

from ._classifier import SelfDistillationClassifier
from ._regressor import SelfDistillationRegressor
from .schedules import TemperatureSchedule

__version__ = "0.1.0.dev0"

__all__ = [
    "SelfDistillationClassifier",
    "SelfDistillationRegressor",
    "TemperatureSchedule",
    "__version__",
]
