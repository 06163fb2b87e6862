"""
One model or an ensemble? Multi-teacher and online self-distillation at equal compute
=====================================================================================

A Born-Again ensemble averages every generation; ``n_teachers="all"`` teaches
that average to one more generation, which predicts at the cost of one net.
:class:`~sklearn_selfdistill.nn.OnlineSelfDistillation` distils a net from its
own earlier predictions inside a single fit. Either is only worth having if it
beats what the same compute buys without the library: several plain nets,
averaged.

This example counts the compute of every arm as the rows its nets were trained
on, over all their epochs and folds, divided by the training rows ("epochs over
the training rows"), on the digits with 40% of the training labels flipped:

- the plain MLP, early-stopped on a held-out fifth (the **baseline**),
- :class:`~sklearn_selfdistill.SelfDistillationClassifier` with cross-fit
  teachers (3 folds) and ``n_teachers="all"``: generation 2 learns the average
  of generations 0 and 1; one model,
- the early-stopped net with online self-distillation; one model,
- plain early-stopped nets averaged, as many as the multi-teacher recipe's
  compute pays for.

The project's study of this question (Fashion-MNIST and the digits, 5 seeds,
20% and 40% noise, cleanlab's ``CleanLearning`` as well) is
``benchmarks/bench_noisy_nets.py``.
"""

# %%
# Nets that count their rows
# --------------------------
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import ValidSplit, get_len

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill.datasets import flip_labels, load_digits
from sklearn_selfdistill.nn import OnlineSelfDistillation
from sklearn_selfdistill.nn.models import MLP

torch.set_num_threads(1)
X, y = load_digits(flatten=True)
X_test, y_test = load_digits(split="test", flatten=True)
SEEN = {"rows": 0}


class Rows(Callback):
    """Adds the rows of every training batch to ``SEEN`` (every copy of a net shares it)."""

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            SEEN["rows"] += get_len(batch[0])


def make_net(*callbacks):
    """An MLP 64-128-10, Adam, at most 40 epochs, early-stopped on a held-out fifth."""
    stop = EarlyStopping(monitor="valid_acc", lower_is_better=False, load_best=True)
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
        train_split=ValidSplit(5, stratified=True),
        callbacks=[Rows(), stop, *callbacks],
        verbose=0,
    )


def counted(model, X_fit, y_fit):
    """Fit ``model``; return its compute in epochs over the training rows."""
    before = SEEN["rows"]
    model.fit(X_fit, y_fit)
    return (SEEN["rows"] - before) / X_fit.shape[0]


# %%
# Two seeds
# ---------
accuracy, compute, n_members = {}, {}, []


def record(name, model_accuracy, model_compute):
    accuracy.setdefault(name, []).append(100 * model_accuracy)
    compute.setdefault(name, []).append(model_compute)


RECIPE = 'cross-fit, n_teachers="all": gen 2'
for seed in range(2):
    X_train, _, y_clean, _ = train_test_split(X, y, train_size=900, stratify=y, random_state=seed)
    y_noisy = flip_labels(y_clean, 0.4, random_state=seed)

    torch.manual_seed(seed)
    clf = SelfDistillationClassifier(
        make_net(),
        n_generations=3,
        teacher_predictions="cross_fit",
        cv=3,
        n_teachers="all",
        random_state=seed,
    )
    cost = counted(clf, X_train, y_noisy)
    record(RECIPE, clf.score(X_test, y_test), cost)

    torch.manual_seed(seed)
    net = make_net(OnlineSelfDistillation(alpha=0.5, momentum=0.0, ramp_epochs=5))
    cost = counted(net, X_train, y_noisy)
    record("online self-distillation", net.score(X_test, y_test), cost)

    # Plain nets until they have spent the recipe's compute.
    members, spent = [], 0.0
    while spent < compute[RECIPE][-1]:
        torch.manual_seed(seed + 1000 * len(members))
        net = make_net()
        cost = counted(net, X_train, y_noisy)
        if not members:
            record("plain, early-stopped", net.score(X_test, y_test), cost)
        members.append(net.predict_proba(X_test))
        spent += cost
    ensemble = np.mean(members, axis=0).argmax(axis=1)
    record("plain ensemble, equal compute", np.mean(ensemble == y_test), spent)
    n_members.append(len(members))

# %%
# Accuracy against compute
# ------------------------
# Each arm's mean over the seeds. Single models are circles, the ensemble a square.
fig, ax = plt.subplots(figsize=(7, 4))
for name in accuracy:
    marker = "s" if "ensemble" in name else "o"
    ax.plot(np.mean(compute[name]), np.mean(accuracy[name]), marker, markersize=9, label=name)
ax.set_xlabel("compute: epochs over the training rows")
ax.set_ylabel("test accuracy (%)")
ax.legend(fontsize=8)
fig.tight_layout()

print("nets in the equal-compute ensemble, per seed:", n_members)
for name in accuracy:
    print(
        f"{name:<44} {np.mean(accuracy[name]):6.2f}%  compute {np.mean(compute[name]):6.1f}"
        f"  per seed {np.round(accuracy[name], 2)}"
    )

# %%
# What to take from it
# --------------------
# The multi-teacher generation is one net, but it cost the compute of several:
# a plain ensemble given the same compute is the comparison that decides whether
# it is worth it. The online net costs what the plain net costs. On this small
# data set the differences are of the size of the differences between seeds; the
# benchmark's tables (the Quick start's "When does self-distillation help?") say
# what five seeds on Fashion-MNIST show.
