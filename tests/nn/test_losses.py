import numpy as np
import pytest
import torch

from sklearn_selfdistill.nn import DistillationLoss


def reference(student, y, teacher, alpha, T):
    """The formula of DESIGN.md, written out in numpy."""
    s, t = student.numpy().astype(np.float64), teacher.numpy().astype(np.float64)

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    p_t, p_s = softmax(t / T), softmax(s / T)
    kl = np.sum(p_t * (np.log(p_t) - np.log(p_s))) / s.shape[0]
    y = y.numpy()
    labeled = y != -1
    ce = -np.log(softmax(s)[np.flatnonzero(labeled), y[labeled]]).sum() / s.shape[0]
    return alpha * T**2 * kl + (1 - alpha) * ce


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(6, 4, generator=g) * 3,
        torch.tensor([0, 1, 2, 3, -1, 1]),
        torch.randn(6, 4, generator=g) * 3,
    )


@pytest.mark.parametrize("alpha, T", [(0.0, 1.0), (0.3, 1.0), (0.7, 4.0), (1.0, 20.0)])
def test_loss_matches_the_formula(batch, alpha, T):
    student, y, teacher = batch
    loss = DistillationLoss(alpha=alpha, temperature=T)(student, y, teacher)
    assert loss.ndim == 0
    assert float(loss) == pytest.approx(reference(student, y, teacher, alpha, T), rel=1e-5)


def test_without_teacher_it_is_the_cross_entropy_of_labelled_rows(batch):
    student, y, _ = batch
    loss = DistillationLoss(alpha=0.9)(student, y)
    ce = torch.nn.functional.cross_entropy(student[y != -1], y[y != -1], reduction="sum") / 6
    assert float(loss) == pytest.approx(float(ce), rel=1e-6)


def test_gradient_is_T_times_the_softened_difference(batch):
    student, y, teacher = batch
    student = student.clone().requires_grad_(True)
    T = 5.0
    DistillationLoss(alpha=1.0, temperature=T)(student, y, teacher).backward()
    expected = T * (torch.softmax(student / T, 1) - torch.softmax(teacher / T, 1)) / 6
    torch.testing.assert_close(student.grad, expected.detach(), rtol=1e-5, atol=1e-7)


def test_T_squared_keeps_the_gradient_scale_as_T_grows(batch):
    student, y, teacher = batch
    norms = []
    for T in (10.0, 20.0, 40.0):
        s = student.clone().requires_grad_(True)
        DistillationLoss(alpha=1.0, temperature=T)(s, y, teacher).backward()
        norms.append(float(s.grad.norm()))
    # Without the T**2 factor the gradient would shrink 4x per doubling of T.
    assert norms[0] == pytest.approx(norms[1], rel=0.05)
    assert norms[1] == pytest.approx(norms[2], rel=0.02)


def test_unlabelled_rows_only_see_the_teacher(batch):
    student, y, teacher = batch
    loss = DistillationLoss(alpha=0.5, temperature=2.0)
    changed = y.clone()
    changed[4] = 2  # label the unlabelled row: the loss changes
    assert float(loss(student, y, teacher)) != pytest.approx(
        float(loss(student, changed, teacher))
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"alpha": 1.5}, "'alpha' parameter of DistillationLoss .* got 1.5"),
        ({"alpha": -0.1}, "'alpha' parameter"),
        ({"temperature": 0}, "'temperature' parameter of DistillationLoss .* got 0"),
        ({"temperature": "4"}, "'temperature' parameter"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DistillationLoss(**kwargs)


@pytest.mark.parametrize(
    ("weight", "label_smoothing"), [([0.2, 1.0, 3.0], 0.0), (None, 0.1), ([0.2, 1.0, 3.0], 0.1)]
)
def test_class_weights_and_label_smoothing_are_those_of_cross_entropy(weight, label_smoothing):
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 3, generator=generator)
    y = torch.tensor([0, 1, 2, 2, 1, 0, 2, 1])
    weight_tensor = None if weight is None else torch.tensor(weight)
    loss = DistillationLoss(alpha=0.0, weight=weight, label_smoothing=label_smoothing)
    expected = torch.nn.CrossEntropyLoss(weight=weight_tensor, label_smoothing=label_smoothing)
    torch.testing.assert_close(loss(logits, y), expected(logits, y))
    # Unlabelled rows: the labelled rows' loss, times their share of the batch.
    y_partial = y.clone()
    y_partial[:2] = -1
    torch.testing.assert_close(
        loss(logits, y_partial), expected(logits[2:], y[2:]) * 6 / 8, rtol=1e-6, atol=1e-7
    )
    assert float(loss(logits, torch.full((8,), -1))) == 0.0
