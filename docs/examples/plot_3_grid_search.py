"""
Searching alpha and n_generations with GridSearchCV
===================================================

:class:`~sklearn_selfdistill.SelfDistillationClassifier` is an ordinary
scikit-learn estimator, so :class:`~sklearn.model_selection.GridSearchCV` can
choose how much to distil: ``alpha`` (the weight of the teacher in the soft
targets), ``n_generations`` (generation 0, the plain model, included) and the
``temperature``. Here it wraps a
:class:`~sklearn.linear_model.LogisticRegression` in a
:class:`~sklearn.pipeline.Pipeline` with a
:class:`~sklearn.preprocessing.StandardScaler`, on the digits.

The question is whether distillation buys anything for such a model. The
project's benchmarks (the accuracy section of the Benchmarks page) say: not much, and
often it costs accuracy. A search is how one would find out on one's own data.
"""

# %%
# The pipeline and the grid
# -------------------------
# Two temperatures: 4, the default, and 1, at which a scikit-learn student learns
# ``alpha`` times its teacher's probabilities plus ``1 - alpha`` times the labels.
# Three folds keep the
# search quick. Note the redundancy of the grid: ``n_generations=1`` is the plain
# model for every ``alpha``, and ``alpha=0`` is the plain model for every
# ``n_generations``.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_selfdistill import SelfDistillationClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

pipeline = make_pipeline(
    StandardScaler(),
    SelfDistillationClassifier(LogisticRegression(C=0.05, max_iter=1000), random_state=0),
)
temperatures = [1.0, 4.0]
alphas = [0.0, 0.3, 0.6, 0.9]
n_generations = [1, 2, 3, 5]
param_grid = {
    "selfdistillationclassifier__temperature": temperatures,
    "selfdistillationclassifier__alpha": alphas,
    "selfdistillationclassifier__n_generations": n_generations,
}
search = GridSearchCV(pipeline, param_grid, cv=3, n_jobs=1)
# Every fit here is tiny: BLAS threads cost more than they save, a lot more on a
# busy machine, so we run the search on one thread.
with threadpool_limits(limits=1):
    search.fit(X_train, y_train)

# %%
# Mean cross-validated accuracy
# -----------------------------
# One heatmap per temperature, ``alpha`` down, ``n_generations`` across.
results = search.cv_results_


def grid_of(key, temperature):
    grid = np.empty((len(alphas), len(n_generations)))
    for i, alpha in enumerate(alphas):
        for j, n in enumerate(n_generations):
            match = (
                (results["param_selfdistillationclassifier__temperature"] == temperature)
                & (results["param_selfdistillationclassifier__alpha"] == alpha)
                & (results["param_selfdistillationclassifier__n_generations"] == n)
            )
            grid[i, j] = results[key][match][0]
    return grid


means = {t: grid_of("mean_test_score", t) for t in temperatures}
stds = {t: grid_of("std_test_score", t) for t in temperatures}
low = min(m.min() for m in means.values())
high = max(m.max() for m in means.values())

fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, layout="constrained")
for ax, temperature in zip(axes, temperatures, strict=True):
    image = ax.imshow(means[temperature], cmap="viridis", vmin=low, vmax=high)
    for i in range(len(alphas)):
        for j in range(len(n_generations)):
            value = means[temperature][i, j]
            color = "black" if value > (low + high) / 2 else "white"
            ax.text(j, i, f"{value:.4f}", ha="center", va="center", color=color, fontsize=9)
    ax.set_xticks(range(len(n_generations)), n_generations)
    ax.set_yticks(range(len(alphas)), alphas)
    ax.set_xlabel("n_generations")
    ax.set_title(f"temperature={temperature}")
axes[0].set_ylabel("alpha (weight of the teacher)")
fig.colorbar(image, ax=axes, label="mean CV accuracy")

for temperature in temperatures:
    print(f"temperature={temperature}: mean CV accuracy (std), alpha down, n_generations across")
    print("alpha | " + " | ".join(f"{n:>15}" for n in n_generations))
    for i, alpha in enumerate(alphas):
        cells = " | ".join(
            f"{m:.4f} ({s:.4f})"
            for m, s in zip(means[temperature][i], stds[temperature][i], strict=True)
        )
        print(f"{alpha:5} | {cells}")

# %%
# What the search chose, and what it is worth
# --------------------------------------------
# The plain model scores the same in every cell of the first column and the
# first row. Distillation lowers the cross-validated accuracy in every other
# cell, the more the larger ``alpha`` and the more generations, and a little less
# at temperature 4 than at 1. The search picks the plain model (``alpha=0``), and
# the test set agrees. Read it as it is: with this model and data,
# self-distillation does not pay, and a search over ``alpha`` that includes 0 is
# what tells you so.
plain = means[1.0][0, 0]
best_std = results["std_test_score"][search.best_index_]
print("best parameters:", {k.split("__")[-1]: v for k, v in search.best_params_.items()})
print(
    f"best mean CV accuracy {search.best_score_:.4f}, plain model {plain:.4f}: "
    f"{100 * (search.best_score_ - plain):+.2f} points "
    f"(std over the folds of the best: {best_std:.4f})"
)

plain_model = clone(pipeline).set_params(selfdistillationclassifier__n_generations=1)
with threadpool_limits(limits=1):
    plain_test = plain_model.fit(X_train, y_train).score(X_test, y_test)
best_test = search.score(X_test, y_test)
print(
    f"test accuracy: best {best_test:.4f}, plain {plain_test:.4f} "
    f"({round((best_test - plain_test) * len(y_test)):+d} of {len(y_test)} test images)"
)

# %%
# The same numbers as lines: mean CV accuracy against ``n_generations``, one
# line per ``alpha``, the band one standard deviation over the folds.
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, temperature in zip(axes, temperatures, strict=True):
    for i, alpha in enumerate(alphas):
        mean, std = means[temperature][i], stds[temperature][i]
        line = ax.plot(n_generations, mean, marker="o", label=f"alpha={alpha}")[0]
        ax.fill_between(n_generations, mean - std, mean + std, alpha=0.15, color=line.get_color())
    ax.set_xticks(n_generations)
    ax.set_xlabel("n_generations")
    ax.set_title(f"temperature={temperature}")
axes[0].set_ylabel("mean CV accuracy")
axes[1].legend()
fig.tight_layout()
plt.show()
