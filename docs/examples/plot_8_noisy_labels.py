"""
Noisy labels: a cross-fit teacher against a tuned plain net
===========================================================

When a share of the training labels is wrong, a network trained long enough
learns the wrong labels too. Self-distillation can help, but only if the
teacher's soft labels carry less of the noise than the labels themselves, and
only if it is compared with what a careful user would do without it: stop the
plain network early, on held-out rows.

On the digits data set with 40% of the training labels flipped to another class
(:func:`~sklearn_selfdistill.datasets.flip_labels`), this example compares

- a plain MLP trained for all its epochs,
- the same MLP early-stopped on a held-out fifth of the noisy rows (skorch's
  ``EarlyStopping``, best epoch kept): the **baseline**,
- three generations of self-distillation with the same early stopping in every
  generation, with the in-sample teacher and with
  ``teacher_predictions="cross_fit"`` (each row's soft label comes from a copy of
  the teacher that did not see it; three folds), and their Born-Again ensemble,
- three early-stopped plain nets averaged: an ensemble with the same compute as
  the Born-Again ensemble.

The project's full study of this setting (Fashion-MNIST, 5 seeds, 20% and 40%
noise) is ``benchmarks/bench_noisy_nets.py``.
"""

# %%
# The data and the nets
# ---------------------
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill.datasets import flip_labels, load_digits
from sklearn_selfdistill.nn.models import MLP

# One thread is the fastest for nets this small, and robust on a busy machine.
torch.set_num_threads(1)
X, y = load_digits(flatten=True)
X_test, y_test = load_digits(split="test", flatten=True)


def make_net(early_stopping):
    """An MLP 64-128-10, 40 epochs of Adam; with ``early_stopping``, stopped on a held-out
    fifth (patience 5, skorch's default)."""
    callbacks, split = [], None
    if early_stopping:
        callbacks = [EarlyStopping(monitor="valid_acc", lower_is_better=False, load_best=True)]
        split = ValidSplit(5, stratified=True)
    return NeuralNetClassifier(
        MLP,
        module__in_features=64,
        module__num_classes=10,
        module__hidden_units=128,
        module__num_hidden=1,
        max_epochs=40,
        lr=1e-3,
        optimizer=torch.optim.Adam,
        batch_size=32,
        iterator_train__shuffle=True,
        train_split=split,
        callbacks=callbacks,
        verbose=0,
    )


# %%
# Three seeds
# -----------
# Each seed draws a training subset of 900 rows, flips 40% of their labels and
# seeds the nets. The test labels stay clean.
arms = {}


def record(name, value):
    arms.setdefault(name, []).append(100 * value)


for seed in range(3):
    X_train, _, y_clean, _ = train_test_split(X, y, train_size=900, stratify=y, random_state=seed)
    y_noisy = flip_labels(y_clean, 0.4, random_state=seed)
    torch.manual_seed(seed)
    record("plain, 40 epochs", make_net(False).fit(X_train, y_noisy).score(X_test, y_test))
    members = []
    for member in range(3):
        torch.manual_seed(seed + 1000 * member)
        members.append(make_net(True).fit(X_train, y_noisy).predict_proba(X_test))
    record("plain, early-stopped", np.mean(members[0].argmax(axis=1) == y_test))
    ensemble = np.mean(members, axis=0).argmax(axis=1)
    record("3 plain early-stopped nets", np.mean(ensemble == y_test))
    for teacher in ("in_sample", "cross_fit"):
        torch.manual_seed(seed)
        clf = SelfDistillationClassifier(
            make_net(True),
            n_generations=3,
            teacher_predictions=teacher,
            cv=3,
            random_state=seed,
        ).fit(X_train, y_noisy)
        probas = list(clf.staged_predict_proba(X_test))
        record(f"{teacher}: generation 2", np.mean(probas[-1].argmax(axis=1) == y_test))
        ensemble = np.mean(probas, axis=0).argmax(axis=1)
        record(f"{teacher}: ensemble of 0-2", np.mean(ensemble == y_test))

# %%
# Test accuracy
# -------------
# Mean over the three seeds, with each seed as a dot. The dashed line is the
# early-stopped baseline.
names = list(arms)
means = [np.mean(arms[name]) for name in names]
fig, ax = plt.subplots(figsize=(8, 4))
ax.barh(names, means, color="tab:blue", alpha=0.6)
for i, name in enumerate(names):
    ax.plot(arms[name], [i] * len(arms[name]), "o", color="black", markersize=4)
ax.axvline(np.mean(arms["plain, early-stopped"]), color="gray", linestyle="--")
ax.set_xlabel("test accuracy (%), 40% of the training labels flipped")
ax.set_xlim(min(means) - 5, max(max(v) for v in arms.values()) + 2)
ax.invert_yaxis()
fig.tight_layout()

for name in names:
    print(f"{name:<28} {np.mean(arms[name]):6.2f}  per seed {np.round(arms[name], 2)}")

# %%
# What to take from it
# --------------------
# On this small data set, stopping early does most of the work, and nothing is
# clearly better than averaging a few early-stopped plain nets: the differences
# between the arms are about the size of the differences between seeds. This is
# the comparison to make before believing a gain. On the larger Fashion-MNIST
# study (the Quick start's "When does self-distillation help?"), with 5 000 rows and
# five seeds, the same recipes and baselines are measured with less noise.
