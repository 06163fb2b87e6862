"""The distribution a fully flexible student reaches under the distillation loss."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import softmax
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill._soft_targets import distillation_gradient, distillation_targets


def teacher_and_labels(n=300, n_classes=6, seed=0, zeros=True):
    rng = np.random.RandomState(seed)
    proba = rng.dirichlet(np.full(n_classes, 0.4), size=n)
    if zeros:
        # Teachers that rule classes out entirely (a tree leaf, a generation that lost one).
        proba[::7, 0] = 0.0
        proba /= proba.sum(axis=1, keepdims=True)
    return proba, rng.randint(n_classes, size=n)


def test_temperature_one_is_exactly_the_mixture():
    proba, codes = teacher_and_labels()
    targets = distillation_targets(proba, codes, 0.7, 1.0)
    onehot = np.eye(proba.shape[1])[codes]
    np.testing.assert_allclose(targets, 0.7 * proba + 0.3 * onehot, rtol=0, atol=1e-15)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 4.0, 20.0])
def test_pure_distillation_learns_the_teacher_at_every_temperature(temperature):
    proba, codes = teacher_and_labels()
    np.testing.assert_allclose(
        distillation_targets(proba, codes, 1.0, temperature), proba, atol=1e-15
    )


@pytest.mark.parametrize("temperature", [0.5, 4.0])
def test_no_teacher_weight_is_the_labels(temperature):
    proba, codes = teacher_and_labels()
    codes[::5] = -1
    onehot = np.eye(proba.shape[1])[codes] * (codes >= 0)[:, None]
    np.testing.assert_array_equal(distillation_targets(proba, codes, 0.0, temperature), onehot)


@pytest.mark.parametrize("alpha", [0.3, 0.7, 0.99])
def test_unlabeled_rows_get_the_teacher(alpha):
    proba, codes = teacher_and_labels()
    codes[::3] = -1  # unlabelled: no ground-truth term
    targets = distillation_targets(proba, codes, alpha, 4.0)
    np.testing.assert_allclose(targets[::3], proba[::3], atol=1e-15)
    assert not np.allclose(targets[1::3], proba[1::3], atol=1e-3)


@pytest.mark.parametrize("n_classes", [2, 3, 10, 50])
@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("temperature", [0.25, 2.0, 4.0, 20.0])
def test_gradient_residual_at_the_solution_is_tiny(n_classes, alpha, temperature):
    proba, codes = teacher_and_labels(n_classes=n_classes, seed=n_classes)
    codes[::11] = -1
    targets = distillation_targets(proba, codes, alpha, temperature)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(targets >= 0)
    residual = distillation_gradient(targets, proba, codes, alpha, temperature)
    assert np.abs(residual).max() < 1e-8
    # A class the teacher rules out, other than the label, gets nothing.
    ruled_out = (proba == 0) & (np.arange(n_classes) != codes[:, None])
    assert ruled_out.any() and np.all(targets[ruled_out] == 0)


def test_solution_is_the_minimiser_found_by_a_general_purpose_optimiser():
    proba, codes = teacher_and_labels(n=20, n_classes=4, zeros=False)
    alpha, temperature = 0.6, 3.0
    targets = distillation_targets(proba, codes, alpha, temperature)
    q = softmax(np.log(proba) / temperature, axis=1)
    for i in range(20):
        label = codes[i]

        def loss(z, i=i, label=label):
            kl = np.sum(q[i] * (np.log(q[i]) - np.log(softmax(z / temperature))))
            return alpha * temperature**2 * kl - (1 - alpha) * np.log(softmax(z)[label])

        z = minimize(loss, np.zeros(4), method="BFGS", options={"gtol": 1e-11}).x
        np.testing.assert_allclose(targets[i], softmax(z), atol=1e-7)


def test_a_confident_teacher_can_overrule_a_label():
    # 91% sure of A against the label B: the old label-smoothing targets gave A 0.18, B 0.36.
    targets = distillation_targets(np.array([[0.91, 0.09]]), np.array([1]), 0.7, 4.0)
    assert targets[0, 0] > targets[0, 1]


def test_generations_of_a_flexible_student_do_not_flatten():
    rng = np.random.RandomState(0)
    proba = softmax(3 * rng.randn(500, 10), axis=1)
    codes = np.where(rng.uniform(size=500) < 0.8, proba.argmax(axis=1), rng.randint(10, size=500))
    # Each generation's teacher is the previous generation's targets, as for a student
    # that learns them exactly.
    top = [proba.max(axis=1).mean()]
    teacher = proba
    for _ in range(5):
        teacher = distillation_targets(teacher, codes, 0.7, 4.0)
        top.append(teacher.max(axis=1).mean())
    # Softening the teacher's own output again each generation drove it towards
    # 0.7 * uniform + 0.3 * onehot (a top probability near 0.4 here); the distillation
    # loss keeps the confidence the teacher had.
    assert min(top) > 0.9 * top[0]


def test_logistic_regression_generations_keep_their_confidence():
    X, y = load_digits(return_X_y=True)
    clf = SelfDistillationClassifier(
        LogisticRegression(max_iter=500), n_generations=5, alpha=0.7, temperature=4.0
    ).fit(X[:600] / 16, y[:600])
    top = [proba.max(axis=1).mean() for proba in clf.staged_predict_proba(X[600:] / 16)]
    # The first version fell 0.91 -> 0.50 -> 0.35 -> 0.33 here.
    assert top[-1] > 0.8 * top[0]
