"""Noisy Student with skorch nets: what a generation learns from unlabelled rows."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill.nn import BatchRandAugment
from sklearn_selfdistill.nn.models import SmallResNet

SEEN = []


class _SeenTargets(Callback):
    """Keeps the class indices and softened teacher log-probabilities each generation's
    fit starts from (``-1`` unlabelled; None for generation 0's teacher)."""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        targets = getattr(net, "soft_targets_", None)
        if targets is None:  # generation 0: the labelled rows and their labels
            SEEN.append((np.asarray(y).copy(), None))
            return
        teacher = targets.teacher_log_probs
        SEEN.append((targets.codes_numpy.copy(), None if teacher is None else teacher.numpy()))


class _Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(6, 3)

    def forward(self, x):
        return torch.softmax(self.linear(x), dim=-1)


@pytest.fixture
def few_labels():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 6).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
    y_hidden = y.copy()
    y_hidden[30:] = -1
    SEEN.clear()
    return X, y_hidden


def _net():
    return NeuralNetClassifier(
        _Linear, max_epochs=5, lr=0.5, train_split=None, verbose=0, callbacks=[_SeenTargets()]
    )


def _teacher_proba(meta, X):
    return meta.generations_[0].predict_proba(X)


def test_hard_pseudo_labels_reach_the_net_as_labels(few_labels):
    X, y = few_labels
    meta = SelfDistillationClassifier(
        _net(), n_generations=2, alpha=0.0, unlabeled=-1, pseudo_labels="hard"
    ).fit(X, y)
    codes = SEEN[1][0]
    expected = np.where(y == -1, _teacher_proba(meta, X).argmax(axis=1), y)
    assert np.array_equal(codes, expected)


def test_soft_pseudo_labels_leave_the_rows_unlabelled(few_labels):
    X, y = few_labels
    SelfDistillationClassifier(_net(), n_generations=2, alpha=0.5, unlabeled=-1).fit(X, y)
    assert np.array_equal(SEEN[1][0], y)


def test_confidence_filter_and_balance_pick_the_rows_of_a_net(few_labels):
    X, y = few_labels
    meta = SelfDistillationClassifier(
        _net(),
        n_generations=2,
        alpha=0.0,
        unlabeled=-1,
        pseudo_labels="hard",
        pseudo_label_threshold=0.5,
        balance_pseudo_labels=True,
    ).fit(X, y)
    proba = _teacher_proba(meta, X)
    confident = (y == -1) & (proba.max(axis=1) >= 0.5)
    assert 0 < confident.sum() < (y == -1).sum()
    codes = SEEN[1][0]
    assert np.sum(codes >= 0) == codes.shape[0]
    pseudo = codes.shape[0] - 30
    counts = np.bincount(codes, minlength=3) - np.bincount(y[:30], minlength=3)
    assert np.all(counts == round(confident.sum() / 3))
    assert pseudo == 3 * round(confident.sum() / 3)


def test_the_teacher_predicts_clean_images_and_the_student_learns_noised_ones():
    """Generation 0 and every student train under the same noise; the teacher's logits
    on the unlabelled images come from the clean images in eval mode."""
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    X = rng.rand(80, 1, 8, 8).astype(np.float32)
    y = (X[:, 0, :4].mean(axis=(1, 2)) > 0.5).astype(np.int64)
    y[20:] = -1
    SEEN.clear()
    net = NeuralNetClassifier(
        SmallResNet,
        module__num_classes=2,
        module__width=4,
        module__dropout=0.5,
        module__stochastic_depth=0.5,
        max_epochs=1,
        train_split=None,
        verbose=0,
        callbacks=[BatchRandAugment(), _SeenTargets()],
    )
    meta = SelfDistillationClassifier(
        net, n_generations=2, alpha=0.5, temperature=1.0, unlabeled=-1, pseudo_labels="hard"
    ).fit(X, y)
    teacher = meta.generations_[0]
    teacher.module_.eval()
    with torch.no_grad():
        clean = teacher.module_.forward_logits(torch.as_tensor(X)).numpy()
    codes, teacher_log_probs = SEEN[1]
    expected = torch.log_softmax(torch.as_tensor(clean), dim=-1).numpy()
    np.testing.assert_allclose(teacher_log_probs, expected, atol=1e-5)
    assert np.array_equal(codes[20:], clean[20:].argmax(axis=1))
