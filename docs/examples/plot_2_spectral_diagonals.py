"""
Self-distillation sparsifies: the spectral diagonals
====================================================

Kernel ridge regression fits the training rows through its smoother matrix
``K (K + lambda I)^-1``. In the eigenbasis of the Gram matrix ``K = V diag(d) V^T``
that matrix is diagonal, ``V diag(b_0) V^T`` with ``b_0 = d / (d + lambda)``: the
fit keeps a share ``b_0`` of the data along each eigendirection, more along
directions of large eigenvalues (smooth functions) than along directions of small
ones (wiggly functions).

Mobahi et al. (2020) showed that each generation of self-distillation multiplies
these shares again, so the directions of small eigenvalues die out faster than the
others: self-distillation *sparsifies* the fit in this basis. With our ``alpha``
(the weight of the teacher), generation ``g`` has
``b_g = b_0 * ((1 - alpha) + alpha * b_{g-1})``; for ``alpha=1`` that is
``b_0 ** (g + 1)``. Borup & Andersen (2021) showed that the ground-truth term
(``alpha < 1``) stops the decay at a limit.

:class:`~sklearn_selfdistill.SelfDistillationRegressor` around
:class:`~sklearn.kernel_ridge.KernelRidge` exposes these diagonals as
``spectral_diagonals_``. We look at them on Mobahi's toy problem (eleven points,
RBF kernel with ``gamma=80``, ``lambda=0.2``; see the kernel ridge toy example).
"""

# %%
# Fit six generations for both alphas
# -----------------------------------
# The diagonals do not depend on ``y``, only on the Gram matrix, ``lambda`` and
# ``alpha``; we fit the toy data anyway, as one would. ``spectral_diagonals_`` is
# computed on first access (an eigendecomposition) and holds the eigenvalues
# ``d`` in descending order, the diagonal of every generation and of the limit.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.kernel_ridge import KernelRidge

from sklearn_selfdistill import SelfDistillationRegressor

X = np.linspace(0, 1, 11).reshape(-1, 1)
y = np.array([
    0.38476636465198066, 1.2333967683416893, 1.33232242218057, 0.6920159488889518,
    -0.29756145531871736, -0.24189291901377769, -0.7964485769175675, -0.9616480167034174,
    -0.49672509509916934, -0.3469066003991437, 0.5589512650600734,
])  # fmt: skip

alphas = (1.0, 0.65)
diagonals = {}
for alpha in alphas:
    reg = SelfDistillationRegressor(
        KernelRidge(alpha=0.2, kernel="rbf", gamma=80), n_generations=6, alpha=alpha
    )
    diagonals[alpha] = reg.fit(X, y).spectral_diagonals_

eigenvalues = diagonals[1.0].eigenvalues
print("eigenvalues of the Gram matrix:", np.round(eigenvalues, 3))

# %%
# The diagonals per generation
# ----------------------------
# One curve per generation, the eigenvalue index on the x axis (0 is the largest
# eigenvalue, the smoothest direction), the share ``b_g`` on a log scale. With
# pure self-distillation (left) every generation lowers every share, the small
# eigenvalues' the most: after generation 5 the last direction keeps 1.6 % of
# the data, the first 56 %. With ``alpha=0.65`` (right) the curves pile up on
# the limit ``d / (d + lambda / (1 - alpha))`` (dashed) after three or four
# generations. The pure-distillation limit is zero everywhere, so it has no place
# on a log scale.
index = np.arange(len(eigenvalues))
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, alpha in zip(axes, alphas, strict=True):
    generations = diagonals[alpha].generations
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(generations)))
    for generation, (b, color) in enumerate(zip(generations, colors, strict=True)):
        ax.plot(index, b, marker="o", markersize=3, color=color, label=f"generation {generation}")
    if alpha < 1:
        ax.plot(index, diagonals[alpha].limit, "r--", label="limit")
    ax.set_yscale("log")
    ax.set_title(f"alpha={alpha}")
    ax.set_xlabel("eigenvalue index (largest first)")
axes[0].set_ylabel("shrinkage diagonal b_g")
axes[1].legend(fontsize="small")
fig.tight_layout()

# %%
# Sparsification: the shares relative to the top direction
# --------------------------------------------------------
# Shrinking every share would only be stronger regularisation. Sparsification is
# the change of *shape*: divide each generation's diagonal by its first entry.
# With ``alpha=1`` the profile steepens without end (``(b_0 / b_0[0]) ** (g + 1)``),
# so the fit concentrates on fewer and fewer of the smoothest directions. With
# ``alpha=0.65`` it steepens a little and stops: the ground truth keeps every
# direction alive.
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, alpha in zip(axes, alphas, strict=True):
    generations = diagonals[alpha].generations
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(generations)))
    for generation, (b, color) in enumerate(zip(generations, colors, strict=True)):
        ax.plot(index, b / b[0], marker="o", markersize=3, color=color, label=f"gen {generation}")
    ax.set_yscale("log")
    ax.set_title(f"alpha={alpha}")
    ax.set_xlabel("eigenvalue index (largest first)")
axes[0].set_ylabel("b_g / b_g[0]")
axes[1].legend(fontsize="small")
fig.tight_layout()

# %%
# Effective degrees of freedom
# ----------------------------
# The sum of a diagonal is the trace of the smoother matrix, the effective number
# of parameters of the fit. It falls with every generation of pure
# distillation, towards zero; with ``alpha=0.65`` it levels off at the limit's.
# Eleven points and a kernel this narrow give a spectrum that spans only one
# decade (1.94 to 0.20), so the effect here is gradual. A spectrum spanning more
# decades (more points, a wider kernel) gives shares ``b_0`` from near 1 to near
# 0, and their repeated products pull apart faster.
fig, ax = plt.subplots(figsize=(6, 4))
for alpha, marker in zip(alphas, "os", strict=True):
    dof = diagonals[alpha].generations.sum(axis=1)
    line = ax.plot(np.arange(len(dof)), dof, marker=marker, label=f"alpha={alpha}")[0]
    ax.axhline(diagonals[alpha].limit.sum(), color=line.get_color(), linestyle="--")
    print(
        f"alpha={alpha}: degrees of freedom per generation {np.round(dof, 2)}, "
        f"limit {diagonals[alpha].limit.sum():.2f}"
    )
ax.set_xlabel("generation")
ax.set_ylabel("sum of b_g (degrees of freedom)")
ax.set_title("dashed: the limits")
ax.legend()
fig.tight_layout()
plt.show()
