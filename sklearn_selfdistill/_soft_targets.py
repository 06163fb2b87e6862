"""The distribution a fully flexible student reaches under the distillation loss.

A scikit-learn classifier cannot minimise :class:`~sklearn_selfdistill.nn.DistillationLoss`
itself, but it can learn a target distribution. For each row, the distribution that a
student free to choose any logits ``z`` would reach under the loss is ``r = softmax(z*)``,

    z* = argmin_z  alpha * T**2 * KL(q || softmax(z / T)) + (1 - alpha) * CE(y, softmax(z)),
    q  = softmax(z_teacher / T) = p_teacher ** (1 / T), normalised.

The objective is convex in ``z`` (and invariant to adding a constant to ``z``). Its
gradient is ``alpha * T * (s_T - q) + (1 - alpha) * (s - onehot(y))`` with
``s_T = softmax(z / T)`` and ``s = softmax(z)``, so that

- ``T = 1`` gives exactly ``r = alpha * p_teacher + (1 - alpha) * onehot(y)``;
- ``alpha = 1``, or an unlabelled row (no ground-truth term), gives ``r = p_teacher``;
- ``alpha = 0`` gives ``r = onehot(y)`` (and nothing for an unlabelled row);
- a class with zero teacher probability other than ``y`` gets ``r = 0``.

Otherwise ``z*`` is found by Newton's method over all rows at once. The Hessian is a
diagonal matrix minus two rank-one terms (and singular along the all-ones direction), so
each step is a 3-by-3 solve per row (Woodbury), with ``O(n_classes)`` work and memory per
row; a backtracking line search keeps every step a descent step.
"""

import numpy as np
from scipy.special import logsumexp, softmax

#: Newton stops on a row when the largest entry of its gradient is below this.
GRADIENT_TOL = 1e-12
_MAX_ITER = 200
_QUADRATIC_REGION = 1e-10
_BLOCK_ENTRIES = 2**18
_TINY = np.finfo(np.float64).tiny


def _teacher_log_proba(teacher_proba):
    """Row-normalised log-probabilities; ``-inf`` where the teacher gives 0."""
    proba = np.asarray(teacher_proba, dtype=np.float64)
    proba = proba / proba.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        return np.log(proba)


def _objective(z, q, code, alpha, temperature):
    """Per-row loss at logits ``z`` (``-inf`` off the support), up to a constant."""
    log_s_T = z / temperature - logsumexp(z / temperature, axis=1, keepdims=True)
    # q is 0 wherever z is -inf, and 0 * -inf must count as 0.
    cross = -np.sum(q * np.where(q > 0, log_s_T, 0.0), axis=1)
    log_s_y = np.take_along_axis(z, code[:, None], axis=1)[:, 0] - logsumexp(z, axis=1)
    return alpha * temperature**2 * cross - (1 - alpha) * log_s_y


def _gradient(z, q, onehot, alpha, temperature):
    s_T = softmax(z / temperature, axis=1)
    s = softmax(z, axis=1)
    return alpha * temperature * (s_T - q) + (1 - alpha) * (s - onehot), s_T, s


def _newton_step(gradient, s_T, s, alpha, support):
    """``-(H + m m^T)^{-1} g`` by Woodbury, ``H = D - alpha s_T s_T^T - (1-alpha) s s^T``.

    ``D = diag(m)`` with ``m = alpha s_T + (1 - alpha) s``. ``H`` is singular along the
    all-ones vector (``H 1 = 0``), ``m m^T`` removes that (``m`` sums to 1), and the
    gradient is orthogonal to the ones, so the step is a Newton step of the convex loss.
    Every entry of the 3-by-3 capacitance matrix stays bounded however small ``m`` gets.
    """
    m = alpha * s_T + (1 - alpha) * s
    inv_d = np.where(support, 1.0 / np.maximum(m, _TINY), 0.0)
    V = np.stack([s_T, s, m], axis=2)  # (n, K, 3)
    inv_w = np.array([-1.0 / alpha, -1.0 / (1.0 - alpha), 1.0])
    capacitance = np.einsum("nki,nk,nkj->nij", V, inv_d, V) + np.diag(inv_w)
    d_g = inv_d * gradient
    correction = np.linalg.solve(capacitance, np.einsum("nki,nk->ni", V, d_g)[:, :, None])
    return -(d_g - inv_d * np.einsum("nki,ni->nk", V, correction[:, :, 0]))


def _solve_logits(log_p, codes, alpha, temperature):
    """``z*`` of labelled rows (``codes >= 0``) for ``0 < alpha < 1`` and ``T != 1``."""
    n, n_classes = log_p.shape
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), codes] = 1.0
    q = softmax(log_p / temperature, axis=1)
    support = (q > 0) | (onehot > 0)
    # Start from the exact answer at T = 1.
    with np.errstate(divide="ignore"):
        z = np.log(alpha * np.exp(log_p) + (1 - alpha) * onehot)
    z = np.where(support, np.maximum(z, np.log(_TINY) / 2), -np.inf)
    active = np.arange(n)
    for _ in range(_MAX_ITER):
        za, qa, ea, sa = z[active], q[active], onehot[active], support[active]
        gradient, s_T, s = _gradient(za, qa, ea, alpha, temperature)
        gradient = np.where(sa, gradient, 0.0)
        done = np.abs(gradient).max(axis=1) < GRADIENT_TOL
        active, za, qa, ea, sa = (a[~done] for a in (active, za, qa, ea, sa))
        if active.size == 0:
            break
        gradient, s_T, s = gradient[~done], s_T[~done], s[~done]
        step = np.where(sa, _newton_step(gradient, s_T, s, alpha, sa), 0.0)
        code = codes[active]
        f0 = _objective(za, qa, code, alpha, temperature)
        slope = np.sum(gradient * step, axis=1)
        t = np.ones(active.size)
        # Close to the optimum the decrease is below the rounding error of the loss,
        # which no line search can see; there the full Newton step is safe.
        accepted = -slope < _QUADRATIC_REGION
        for _ in range(40):
            trial = za + t[:, None] * step
            good = _objective(trial, qa, code, alpha, temperature) <= f0 + 1e-4 * t * slope
            accepted |= good
            if accepted.all():
                break
            t = np.where(accepted, t, t / 2)
        # A row whose line search found nothing is at the limit of float precision.
        stuck = ~accepted
        z[active] = np.where(accepted[:, None], za + t[:, None] * step, za)
        active = active[~stuck]
        if active.size == 0:
            break
    return z


def distillation_targets(teacher_proba, codes, alpha, temperature):
    """Row by row, the distribution a fully flexible student reaches (see the module).

    Parameters
    ----------
    teacher_proba : ndarray of shape (n_samples, n_classes)
        The teacher's probabilities (``softmax(z_teacher)``).
    codes : ndarray of shape (n_samples,)
        Each row's class index, ``-1`` for an unlabelled row.
    alpha : float in [0, 1]
        Weight of the teacher.
    temperature : float > 0
        Softmax temperature of the distillation term.

    Returns
    -------
    targets : ndarray of shape (n_samples, n_classes)
        Row-stochastic target distributions (all-zero rows for unlabelled samples at
        ``alpha=0``).
    """
    rows = np.flatnonzero(codes >= 0)
    if alpha == 0:
        targets = np.zeros(teacher_proba.shape)
        targets[rows, codes[rows]] = 1.0
        return targets
    log_p = _teacher_log_proba(teacher_proba)
    targets = np.exp(log_p)
    if alpha == 1:
        return targets
    labeled_codes = codes[rows]
    if temperature == 1:
        targets[rows] *= alpha
        targets[rows, labeled_codes] += 1 - alpha
        return targets
    # In blocks of rows, so that the solver's work arrays stay small next to the data.
    block = max(1, _BLOCK_ENTRIES // log_p.shape[1])
    for start in range(0, rows.shape[0], block):
        part = rows[start : start + block]
        z = _solve_logits(log_p[part], labeled_codes[start : start + block], alpha, temperature)
        targets[part] = softmax(z, axis=1)
    return targets


def distillation_gradient(targets, teacher_proba, codes, alpha, temperature):
    """Gradient of the per-row loss at ``z = log(targets)`` (zero at the solution).

    Entries off the support (zero target, zero teacher probability, not the label)
    are left out: the loss is flat towards ``-inf`` there.
    """
    q = softmax(_teacher_log_proba(teacher_proba) / temperature, axis=1)
    with np.errstate(divide="ignore"):
        z = np.log(targets)
    onehot = np.zeros(targets.shape)
    rows = np.flatnonzero(codes >= 0)
    onehot[rows, codes[rows]] = 1.0
    gradient = alpha * temperature * (softmax(z / temperature, axis=1) - q)
    gradient += (1 - alpha) * (codes >= 0)[:, None] * (softmax(z, axis=1) - onehot)
    return np.where(np.isfinite(z), gradient, 0.0)
