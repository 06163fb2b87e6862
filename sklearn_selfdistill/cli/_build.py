"""From a configuration to the data, the skorch net and the meta-estimator."""

import pickle

import numpy as np
import torch
from sklearn.base import clone
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler

from .. import datasets
from .._classifier import SelfDistillationClassifier
from .._lineage import LineageError
from ..nn import EMATeacher, RandAugmentNoise
from ..nn.models import MLP, ResNet18, ResNet34, ViTSmall
from ._errors import DataUnavailableError

__all__ = ["build_classifier", "build_net", "load_split", "restore_net"]

MODULES = {"mlp": MLP, "resnet18": ResNet18, "resnet34": ResNet34, "vit_small": ViTSmall}
OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
# Noisy Student's model noise (dropout or stochastic depth), light enough for small nets
# and short runs.
_NOISE = 0.1
# Divides the 8x8 digits, the 28x28 (Fashion-)MNIST and the 32x32 CIFAR-10 images.
_VIT_PATCH_SIZE = 4


def load_split(config, split):
    """``(X, y)`` of ``split`` ("train" or "test"): flat rows for the MLP, images otherwise."""
    data = config.data
    kwargs = {"split": split, "flatten": config.model.name == "mlp"}
    if data.name != "digits":
        kwargs.update(data_home=data.data_home, download=data.download)
    try:
        return getattr(datasets, f"load_{data.name}")(**kwargs)
    # Missing files, a failed download (URLError is an OSError), damaged files.
    except (OSError, ValueError) as exc:
        raise DataUnavailableError(f"cannot load the {split} split of {data.name}: {exc}") from exc


def _module_parameters(config, X, n_classes):
    name = config.model.name
    noise = _NOISE if config.distillation.noisy_student else 0.0
    params = {"num_classes": n_classes, "autocast_dtype": config.model.autocast_dtype}
    if name == "mlp":
        params.update(in_features=X.shape[1], dropout=noise)
    elif name == "vit_small":
        params.update(
            in_channels=X.shape[1],
            image_size=X.shape[2],
            patch_size=_VIT_PATCH_SIZE,
            dropout=noise,
        )
    else:
        params.update(in_channels=X.shape[1], stochastic_depth=noise)
    return {f"module__{key}": value for key, value in params.items()}


def build_net(config, X, n_classes):
    """The skorch net that every generation is a fresh copy of (sets torch's threads)."""
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    training = config.training
    callbacks = []
    if config.distillation.noisy_student and config.model.name != "mlp":
        callbacks.append(RandAugmentNoise())
    if config.distillation.ema_decay is not None:
        callbacks.append(EMATeacher(decay=config.distillation.ema_decay))
    if training.lr_schedule == "cosine":
        callbacks.append(
            LRScheduler(policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=training.epochs)
        )
    optimizer = {"optimizer__weight_decay": training.weight_decay}
    if training.optimizer == "sgd":
        optimizer["optimizer__momentum"] = training.momentum
    return NeuralNetClassifier(
        MODULES[config.model.name],
        **_module_parameters(config, X, n_classes),
        optimizer=OPTIMIZERS[training.optimizer],
        **optimizer,
        lr=training.lr,
        max_epochs=training.epochs,
        batch_size=training.batch_size,
        iterator_train__shuffle=True,
        # Every training row trains; the meta-estimator holds out its own validation set.
        train_split=None,
        callbacks=callbacks,
        device=config.device,
        verbose=int(training.verbose or config.verbose >= 2),
    )


def build_classifier(config, net):
    """The SelfDistillationClassifier that trains the generations of ``net``."""
    distillation, generations = config.distillation, config.generations
    plateau = {}
    if generations.plateau_patience is not None:
        plateau = {"early_stopping": True, "n_iter_no_change": generations.plateau_patience}
    return SelfDistillationClassifier(
        net,
        n_generations=generations.max_generations,
        alpha=distillation.alpha,
        temperature=distillation.temperature,
        validation_fraction=generations.validation_fraction,
        random_state=config.seed,
        verbose=int(config.verbose >= 1),
        **plateau,
    )


def restore_net(net, n_classes, weights_path):
    """A fitted copy of ``net`` with the weights saved in ``weights_path``.

    It predicts and teaches as the generation that was saved: the library reads a
    generation only through its module (logits, probabilities), never through its
    optimizer or its skorch history.

    Weights files are untrusted input: they are read with ``torch.load(weights_only=True)``,
    which unpickles tensors and plain containers only and refuses anything that would run
    code; a refused or mismatched file is a :class:`LineageError` naming it.
    """
    restored = clone(net).set_params(classes=np.arange(n_classes)).initialize()
    try:
        state = torch.load(weights_path, weights_only=True, map_location=restored.device)
    except (pickle.UnpicklingError, EOFError, RuntimeError) as exc:
        raise LineageError(
            f"{weights_path} is not a file of weights that can be loaded safely, so it was "
            f"not loaded (only tensors and plain containers are read from a weights file; "
            f"anything else could run code): {str(exc).splitlines()[0]}"
        ) from exc
    if not isinstance(state, dict):
        raise LineageError(
            f"{weights_path} holds a {type(state).__name__}, not the state dict of a module."
        )
    try:
        restored.module_.load_state_dict(state)
    except RuntimeError as exc:
        raise LineageError(
            f"{weights_path} does not fit the configured model: {str(exc).splitlines()[0]}"
        ) from exc
    return restored
