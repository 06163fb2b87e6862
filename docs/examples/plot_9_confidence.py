"""
Confidence across generations
=============================

Self-distillation changes how sure a model is, not only how accurate. A student
that learns its teacher's softened probabilities (``temperature > 1``) instead
of hard labels is pulled away from the one-hot targets that make a network
overconfident; over the generations that can make its probabilities more honest
(better calibrated), or, if it goes too far, too timid.

This example fits five generations of a small skorch MLP on the digits with the
library's defaults (``alpha=0.7``, ``temperature=4``) and shows, per generation,

- the mean top probability on the test images against the test accuracy (a
  calibrated model has the two equal),
- the expected calibration error (ECE, 10 equal-width bins of top probability),
- a reliability diagram: accuracy against confidence, bin by bin.
"""

# %%
# Five generations
# ----------------
import matplotlib.pyplot as plt
import numpy as np
import torch
from skorch import NeuralNetClassifier

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill.datasets import load_digits
from sklearn_selfdistill.nn.models import MLP

torch.set_num_threads(1)  # the fastest for a net this small
X, y = load_digits(flatten=True)
X_test, y_test = load_digits(split="test", flatten=True)

torch.manual_seed(0)
net = NeuralNetClassifier(
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
    train_split=None,
    verbose=0,
)
clf = SelfDistillationClassifier(net, n_generations=5, random_state=0).fit(X, y)
probas = list(clf.staged_predict_proba(X_test))

# %%
# Confidence, accuracy and calibration error
# ------------------------------------------
bins = np.linspace(0, 1, 11)


def reliability(proba):
    """Per bin of top probability: mean confidence, accuracy, share of the rows."""
    confidence = proba.max(axis=1)
    correct = clf.classes_[proba.argmax(axis=1)] == y_test
    which = np.clip(np.digitize(confidence, bins) - 1, 0, len(bins) - 2)
    rows = []
    for b in range(len(bins) - 1):
        inside = which == b
        if inside.any():
            rows.append((confidence[inside].mean(), correct[inside].mean(), inside.mean()))
    return np.array(rows)


print("generation  accuracy  mean top probability  ECE")
summary = []
for generation, proba in enumerate(probas):
    accuracy = np.mean(clf.classes_[proba.argmax(axis=1)] == y_test)
    table = reliability(proba)
    ece = float(np.sum(table[:, 2] * np.abs(table[:, 0] - table[:, 1])))
    summary.append((accuracy, proba.max(axis=1).mean(), ece))
    print(f"{generation:>10}  {accuracy:8.4f}  {summary[-1][1]:20.4f}  {ece:.4f}")

# %%
# The figure
# ----------
# Left: the mean top probability and the accuracy per generation, and the ECE.
# Right: the reliability diagram of generations 0, 2 and 4; points under the
# diagonal are overconfident bins, points above it underconfident ones. The
# size of a point is the share of the test images in its bin.
summary = np.array(summary)
generations = np.arange(len(probas))
fig, (ax_curve, ax_diagram) = plt.subplots(1, 2, figsize=(11, 4.2))
ax_curve.plot(generations, summary[:, 0], marker="o", label="test accuracy")
ax_curve.plot(generations, summary[:, 1], marker="s", label="mean top probability")
ax_curve.set_xlabel("generation")
ax_curve.set_xticks(generations)
ax_curve.set_ylabel("on the test images")
ax_ece = ax_curve.twinx()
ax_ece.bar(generations, summary[:, 2], alpha=0.2, color="tab:red", label="ECE (right axis)")
ax_ece.set_ylabel("expected calibration error")
lines, labels = ax_curve.get_legend_handles_labels()
bars, bar_labels = ax_ece.get_legend_handles_labels()
ax_curve.legend(lines + bars, labels + bar_labels, loc="center right")

ax_diagram.plot([0, 1], [0, 1], color="gray", linestyle="--", label="calibrated")
for generation in (0, 2, 4):
    table = reliability(probas[generation])
    ax_diagram.plot(table[:, 0], table[:, 1], marker="o", label=f"generation {generation}")
    ax_diagram.scatter(table[:, 0], table[:, 1], s=400 * table[:, 2], alpha=0.3)
ax_diagram.set_xlabel("confidence (top probability)")
ax_diagram.set_ylabel("accuracy")
ax_diagram.set_xlim(0, 1.02)
ax_diagram.set_ylim(0, 1.02)
ax_diagram.legend(loc="upper left")
fig.tight_layout()

# %%
# Reading it
# ----------
# The table printed above is this run's. A net trained on hard labels puts most
# of the test images in its top bin; its distilled generations learn the
# teacher's softened probabilities at ``T=4`` mixed with the labels, and their
# mean top probability moves away from 1. Whether that is closer to the accuracy
# (a smaller ECE) or overshoots into underconfidence depends on ``alpha`` and
# ``T``: calibration is one more thing to check, with a held-out set, before
# choosing a generation. scikit-learn's
# :class:`~sklearn.calibration.CalibratedClassifierCV` can recalibrate any
# generation afterwards.
