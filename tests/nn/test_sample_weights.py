"""sample_weight in skorch nets: each row's loss times its weight, teacher term included."""

import numpy as np
import pytest
import torch
from _net_weights import state
from sklearn.model_selection import KFold
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.dataset import ValidSplit

from sklearn_selfdistill import SelfDistillationClassifier, SelfDistillationRegressor
from sklearn_selfdistill.nn import DistillationLoss
from sklearn_selfdistill.nn._sample_weights import SampleWeightNetRegressor
from sklearn_selfdistill.nn._soft_target_net import SoftTargetNetClassifier, pack_targets

N_ROWS = 60


class Tiny(torch.nn.Module):
    """A linear softmax classifier, or (``num_classes=None``) a linear regressor."""

    def __init__(self, in_features=8, num_classes=3):
        super().__init__()
        self.classifies = num_classes is not None
        self.linear = torch.nn.Linear(in_features, num_classes or 1)

    def forward(self, x):
        z = self.linear(x)
        return torch.softmax(z, dim=-1) if self.classifies else z


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(N_ROWS, 8).astype(np.float32)
    codes = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
    values = (X @ rng.randn(8)).astype(np.float32)
    weights = rng.randint(0, 3, N_ROWS).astype(np.float64)  # 0, 1 or 2 copies
    return X, codes, values, weights


def meta(kind, **net_params):
    """A meta-estimator over a full-batch, unshuffled, plain-SGD net."""
    params = {"max_epochs": 5, "batch_size": -1, "train_split": None, "verbose": 0}
    params.update(net_params)
    if kind == "classifier":
        net = NeuralNetClassifier(Tiny, lr=0.5, iterator_train__shuffle=False, **params)
        return SelfDistillationClassifier(net, n_generations=3, alpha=0.6, temperature=2.0)
    net = NeuralNetRegressor(Tiny, module__num_classes=None, lr=0.1, **params)
    return SelfDistillationRegressor(net, n_generations=3, alpha=0.5)


def fitted(kind, X, y, sample_weight=None, **net_params):
    torch.manual_seed(0)
    return meta(kind, **net_params).fit(X, y, sample_weight=sample_weight)


def targets_of(kind, data):
    _, codes, values, _ = data
    return codes if kind == "classifier" else values


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_whole_number_weights_are_repeated_rows(data, kind):
    # Weights of 2: the row twice; weights of 0: the row left out. Full batches, plain SGD.
    X, _, _, weights = data
    y = targets_of(kind, data)
    rows = np.repeat(np.arange(N_ROWS), weights.astype(int))
    weighted = fitted(kind, X, y, weights)
    repeated = fitted(kind, X[rows], y[rows])
    for a, b in zip(weighted.generations_, repeated.generations_, strict=True):
        for name, tensor in state(a).items():
            torch.testing.assert_close(tensor, state(b)[name], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            a.history[:, "train_loss"], b.history[:, "train_loss"], rtol=1e-5
        )


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_equal_weights_are_the_unweighted_fit_bit_for_bit(data, kind):
    X, _, _, _ = data
    y = targets_of(kind, data)
    plain = fitted(kind, X, y, batch_size=16)
    for value in (1.0, 3.0):
        weighted = fitted(kind, X, y, np.full(N_ROWS, value), batch_size=16)
        for a, b in zip(weighted.generations_, plain.generations_, strict=True):
            assert type(a) is type(b)
            assert all(torch.equal(t, state(b)[k]) for k, t in state(a).items())
            assert a.history[:, "train_loss"] == b.history[:, "train_loss"]


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_weights_are_relative(data, kind):
    X, _, _, weights = data
    y = targets_of(kind, data)
    once = fitted(kind, X, y, weights, batch_size=16)
    scaled = fitted(kind, X, y, 2.5 * weights, batch_size=16)
    for a, b in zip(once.generations_, scaled.generations_, strict=True):
        for name, tensor in state(a).items():
            torch.testing.assert_close(tensor, state(b)[name])


def test_weighted_nets_with_unit_weights_take_the_unweighted_steps(data):
    # The weighted loss itself, not only the shortcut for equal weights, reduces to the
    # unweighted one: the same weights after minibatch training with shuffling.
    X, codes, values, _ = data
    logits = np.random.RandomState(1).randn(N_ROWS, 3).astype(np.float32)
    packed = pack_targets(codes, logits)
    params = {"max_epochs": 3, "batch_size": 16, "train_split": None, "lr": 0.3}
    nets = []
    for sample_weight in (None, np.ones(N_ROWS)):
        torch.manual_seed(0)
        clf = SoftTargetNetClassifier(Tiny, criterion__alpha=0.5, **params)
        nets.append(clf.fit(X, packed, sample_weight=sample_weight))
        torch.manual_seed(0)
        reg = SampleWeightNetRegressor(Tiny, module__num_classes=None, **params)
        nets.append(reg.fit(X, values[:, None], sample_weight=sample_weight))
    for a, b in zip(nets[:2], nets[2:], strict=True):
        for name, tensor in state(a).items():
            torch.testing.assert_close(tensor, state(b)[name], rtol=1e-6, atol=1e-7)


def test_weighted_generation_zero_is_the_weighted_cross_entropy(data):
    X, codes, _, weights = data
    clf = fitted("classifier", X, codes, weights)
    first = clf.generations_[0]
    assert isinstance(first, SoftTargetNetClassifier)
    assert isinstance(first, NeuralNetClassifier)
    assert first.criterion_.alpha == 0.0
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("class_weights", [None, [1.0, 2.0, 0.5]])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_distillation_loss_weights_each_row_as_its_copies(class_weights, label_smoothing):
    rng = np.random.RandomState(2)
    student = torch.as_tensor(rng.randn(7, 3), dtype=torch.float32)
    teacher = torch.as_tensor(rng.randn(7, 3), dtype=torch.float32)
    y = torch.tensor([0, 1, 2, -1, 1, 0, -1])
    weights = torch.tensor([2.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0])
    loss = DistillationLoss(
        alpha=0.4, temperature=2.0, weight=class_weights, label_smoothing=label_smoothing
    )
    rows = torch.repeat_interleave(torch.arange(7), weights.long())
    repeated = loss(student[rows], y[rows], teacher[rows])
    weighted = loss(student, y, teacher, sample_weight=weights)
    # The loss is a mean over the batch's rows of weight * row loss; the copies' batch
    # has sum(weights) rows.
    torch.testing.assert_close(weighted * 7 / weights.sum(), repeated)
    unit = loss(student, y, teacher, sample_weight=torch.ones(7))
    torch.testing.assert_close(unit, loss(student, y, teacher))


def test_rows_of_weight_zero_contribute_nothing():
    student = torch.tensor([[2.0, 0.0], [-1e30, 1e30]], requires_grad=True)
    loss = DistillationLoss(alpha=0.5, temperature=1.0)
    value = loss(student, torch.tensor([0, 0]), torch.zeros(2, 2), torch.tensor([1.0, 0.0]))
    value.backward()
    assert torch.isfinite(value)
    assert torch.equal(student.grad[1], torch.zeros(2))


def test_sample_weight_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"sample_weight must be a tensor.*shape \(2,\)"):
        DistillationLoss()(torch.zeros(2, 3), torch.tensor([0, 1]), None, torch.ones(3))


def test_valid_loss_and_valid_acc_are_weighted(data):
    X, codes, _, weights = data
    net = SoftTargetNetClassifier(
        Tiny, criterion__alpha=0.0, max_epochs=2, batch_size=-1, train_split=ValidSplit(3)
    )
    packed = pack_targets(codes, np.zeros((N_ROWS, 3), np.float32))
    net.fit(X, packed, sample_weight=weights)
    _, valid = next(KFold(3).split(X))  # skorch's ValidSplit(3), not stratified
    proba = torch.as_tensor(net.predict_proba(X[valid]))
    relative = weights * N_ROWS / weights.sum()
    w = relative[valid]
    expected_loss = -np.sum(w * np.log(proba.numpy()[np.arange(len(valid)), codes[valid]]))
    assert net.history[-1, "valid_loss"] == pytest.approx(expected_loss / len(valid), rel=1e-4)
    right = net.predict(X[valid]) == codes[valid]
    assert net.history[-1, "valid_acc"] == pytest.approx(np.average(right, weights=w))


def test_regressor_valid_loss_is_weighted(data):
    X, _, values, weights = data
    net = SampleWeightNetRegressor(
        Tiny, module__num_classes=None, max_epochs=2, batch_size=-1, train_split=ValidSplit(3)
    )
    net.fit(X, values[:, None], sample_weight=weights)
    _, valid = next(KFold(3).split(X))
    errors = (net.predict(X[valid])[:, 0] - values[valid]) ** 2
    relative = weights * N_ROWS / weights.sum()
    expected = np.mean(relative[valid] * errors)
    assert net.history[-1, "valid_loss"] == pytest.approx(expected, rel=1e-4)


def test_unlabelled_rows_and_weights_together(data):
    X, codes, _, weights = data
    labels = codes.copy()
    labels[::4] = -1
    clf = SelfDistillationClassifier(
        NeuralNetClassifier(Tiny, max_epochs=2, train_split=None, verbose=0),
        n_generations=2,
        unlabeled=-1,
    ).fit(X, labels, sample_weight=weights + 0.5)
    assert clf.predict(X).shape == (N_ROWS,)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_cross_fit_teachers_and_early_stopping_take_weights(data, kind):
    X, _, _, weights = data
    y = targets_of(kind, data)
    est = meta(kind, max_epochs=2).set_params(
        teacher_predictions="cross_fit", cv=2, early_stopping=True
    )
    est.fit(X, y, sample_weight=weights + 0.5)
    assert len(est.history_) >= 2


def test_a_fit_whose_rows_all_weigh_zero_is_refused(data):
    X, _, values, _ = data
    net = SampleWeightNetRegressor(Tiny, module__num_classes=None, max_epochs=1)
    with pytest.raises(ValueError, match=r"sample_weight weighs all 60 rows of this fit 0"):
        net.fit(X, values[:, None], sample_weight=np.zeros(N_ROWS))


class NoReduction(torch.nn.Module):
    def forward(self, y_pred, y_true):
        return ((y_pred - y_true) ** 2).mean()


def test_a_criterion_without_reduction_is_refused_before_training(data):
    X, _, values, weights = data
    net = NeuralNetRegressor(Tiny, module__num_classes=None, criterion=NoReduction, max_epochs=1)
    with pytest.raises(ValueError, match=r"criterion NoReduction has no 'reduction' parameter"):
        SelfDistillationRegressor(net).fit(X, values, sample_weight=weights)
