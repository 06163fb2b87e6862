"""From a configuration to the data, the skorch net and the meta-estimator."""

import pickle

import numpy as np
import torch
from sklearn.base import clone
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from skorch.callbacks import EarlyStopping, LRScheduler
from skorch.dataset import ValidSplit

from .. import datasets
from .._classifier import SelfDistillationClassifier
from ..nn import BatchRandAugment, EMATeacher, EpochProgress, OnlineSelfDistillation
from ..nn.models import MLP, ResNet18, ResNet34, SmallResNet, ViTSmall
from ._errors import ConfigError, DataUnavailableError
from ._lineage import LineageError

__all__ = [
    "build_classifier",
    "build_net",
    "load_split",
    "pseudo_label_settings",
    "restore_net",
    "training_rows",
]

MODULES = {
    "mlp": MLP,
    "small_resnet": SmallResNet,
    "resnet18": ResNet18,
    "resnet34": ResNet34,
    "vit_small": ViTSmall,
}
OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
# Noisy Student's model noise (dropout or stochastic depth), light enough for small nets
# and short runs.
_NOISE = 0.1
# Noisy Student's data step, with distillation.noisy_student and the keys left null.
_NOISY_STUDENT_PSEUDO_LABELS = {
    "pseudo_labels": "hard",
    "pseudo_label_threshold": 0.7,
    "balance_pseudo_labels": True,
}
_PLAIN_PSEUDO_LABELS = {
    "pseudo_labels": "soft",
    "pseudo_label_threshold": None,
    "balance_pseudo_labels": False,
}
#: The label of an unlabelled training row (``data.n_labeled``).
UNLABELED = -1
# The held-out share of each generation's rows under training.early_stopping_patience.
_EARLY_STOPPING_FOLDS = 5
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


def training_rows(config, X, y):
    """The training rows as configured: ``data.n_train``, ``data.label_noise``, ``data.n_labeled``.

    In that order, each drawn with ``seed``: a stratified subset, then that share of its
    labels flipped to another class, then all but a stratified ``n_labeled`` of them
    marked :data:`UNLABELED`. The test split is never touched.
    """
    data = config.data
    n_classes = np.unique(y).shape[0]
    if config.model.num_classes is not None and config.model.num_classes != n_classes:
        raise ConfigError(
            f"model.num_classes={config.model.num_classes}, but {data.name} has "
            f"{n_classes} classes; set model.num_classes={n_classes} or null."
        )
    if data.n_train is not None:
        if not n_classes <= data.n_train < y.shape[0]:
            raise ConfigError(
                f"data.n_train={data.n_train}: {data.name} has {y.shape[0]} training rows "
                f"and {n_classes} classes; use a number from {n_classes} to "
                f"{y.shape[0] - 1}, or null for all of them."
            )
        X, _, y, _ = train_test_split(
            X, y, train_size=data.n_train, stratify=y, random_state=config.seed
        )
    if data.label_noise > 0:
        y = datasets.flip_labels(y, data.label_noise, random_state=config.seed)
    if data.n_labeled is not None:
        if not n_classes <= data.n_labeled < y.shape[0]:
            raise ConfigError(
                f"data.n_labeled={data.n_labeled}: the training set has {y.shape[0]} rows "
                f"and {n_classes} classes; use a number from {n_classes} to "
                f"{y.shape[0] - 1}, or null for all labelled."
            )
        y = datasets.hide_labels(y, data.n_labeled, unlabeled=UNLABELED, random_state=config.seed)
    return X, y


def _module_parameters(config, X, n_classes):
    name = config.model.name
    noise = config.distillation.dropout_rate
    if noise is None:
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
    elif name == "small_resnet":
        params.update(in_channels=X.shape[1], stochastic_depth=noise, dropout=noise)
    else:
        params.update(in_channels=X.shape[1], stochastic_depth=noise)
    return {f"module__{key}": value for key, value in params.items()}


def build_net(config, X, n_classes):
    """The skorch net that every generation is a fresh copy of (sets torch's threads)."""
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    training = config.training
    callbacks = []
    images = config.model.name != "mlp"
    if images and (config.distillation.noisy_student or config.data.augmentation):
        callbacks.append(BatchRandAugment())
    if config.verbose >= 1 and training.progress != "off":
        callbacks.append(EpochProgress(mode=training.progress))
    if config.distillation.ema_decay is not None:
        callbacks.append(EMATeacher(decay=config.distillation.ema_decay))
    if training.online_distillation is not None:
        callbacks.append(
            OnlineSelfDistillation(
                alpha=training.online_distillation,
                momentum=training.online_momentum,
                ramp_epochs=training.online_ramp_epochs,
            )
        )
    if training.lr_schedule == "cosine":
        callbacks.append(
            LRScheduler(policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=training.epochs)
        )
    split = None  # every training row trains; the meta-estimator holds out its own
    if training.early_stopping_patience is not None:
        split = ValidSplit(_EARLY_STOPPING_FOLDS, stratified=True)
        callbacks.append(
            EarlyStopping(
                monitor="valid_acc",
                lower_is_better=False,
                patience=training.early_stopping_patience,
                load_best=True,
            )
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
        train_split=split,
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
        teacher_predictions=distillation.teacher_predictions,
        cv=distillation.cv,
        n_teachers=1 if distillation.n_teachers is None else distillation.n_teachers,
        tol=generations.plateau_threshold,
        final_generation=generations.final_generation,
        unlabeled=None if config.data.n_labeled is None else UNLABELED,
        **pseudo_label_settings(config),
        validation_fraction=generations.validation_fraction,
        random_state=config.seed,
        verbose=int(config.verbose >= 1),
        **plateau,
    )


def pseudo_label_settings(config):
    """How unlabelled rows are learnt: the keys set, the rest from ``noisy_student``."""
    if config.data.n_labeled is None:
        return {}
    distillation = config.distillation
    defaults = _NOISY_STUDENT_PSEUDO_LABELS if distillation.noisy_student else _PLAIN_PSEUDO_LABELS
    return {
        key: default if getattr(distillation, key) is None else getattr(distillation, key)
        for key, default in defaults.items()
    }


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
