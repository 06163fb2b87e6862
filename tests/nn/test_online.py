import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import ValidSplit
from torch.utils.data import DataLoader, SequentialSampler

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill.nn import OnlineSelfDistillation
from sklearn_selfdistill.nn._fast import TensorBatchNetClassifier
from sklearn_selfdistill.nn.models import MLP

N_ROWS, BATCH_SIZE = 150, 32  # 5 batches an epoch, the last one of 22 rows
# What the probe module saw in train mode: (row ids, probabilities), one item a batch.
SEEN = []


class _RowProbe(torch.nn.Module):
    """A linear classifier of X[:, 1:] that records, in train mode, its probabilities
    by row id (X[:, 0]); it returns probabilities, or logits for CrossEntropyLoss."""

    def __init__(self, logits=False):
        super().__init__()
        self.linear = torch.nn.Linear(64, 10)
        self.logits = logits

    def forward(self, X):
        scores = self.linear(X[:, 1:])
        probabilities = torch.softmax(scores, dim=-1)
        if self.training:
            SEEN.append((X[:, 0].long().tolist(), probabilities.detach().double().numpy()))
        return scores if self.logits else probabilities


def _digits(n_rows=N_ROWS, with_ids=False):
    X, y = load_digits(return_X_y=True)
    X, y = (X[:n_rows] / 16).astype(np.float32), y[:n_rows].astype(np.int64)
    if with_ids:
        X = np.column_stack([np.arange(n_rows, dtype=np.float32), X])
    return X, y


def _mlp_net(callbacks=(), net_class=NeuralNetClassifier, **kwargs):
    params = {
        "module__in_features": 64,
        "module__hidden_units": 16,
        "module__dropout": 0.2,  # draws torch's random numbers in every batch
        "optimizer": torch.optim.Adam,
        "lr": 1e-2,
        "max_epochs": 3,
        "batch_size": BATCH_SIZE,
        "iterator_train__shuffle": True,
        "train_split": None,
        "verbose": 0,
        "callbacks": list(callbacks),
    }
    params.update(kwargs)
    return net_class(MLP, **params)


def _expected_losses(history, labels, alpha, momentum, ramp_epochs):
    """The batch losses the callback's definition gives, from the probe's records."""
    records = iter(SEEN)
    eps = torch.finfo(torch.float32).eps
    stored = {}
    expected = []
    for epoch, row in enumerate(history, start=1):
        weight = alpha * min(1.0, (epoch - 1) / ramp_epochs) if epoch > 1 else 0.0
        for _ in row["batches"]:
            ids, probabilities = next(records)
            log_p = np.log(probabilities + eps)
            onehot = np.eye(10)[labels[ids]]
            targets = np.array([stored.get(i, onehot[k]) for k, i in enumerate(ids)])
            plain = -(onehot * log_p).sum(axis=1).mean()
            online = -(targets * log_p).sum(axis=1).mean()
            expected.append((1 - weight) * plain + weight * online)
            for k, i in enumerate(ids):
                previous = stored.get(i)
                p = probabilities[k]
                stored[i] = p if previous is None else momentum * previous + (1 - momentum) * p
    return np.array(expected)


@pytest.mark.parametrize("net_class", [NeuralNetClassifier, TensorBatchNetClassifier])
@pytest.mark.parametrize(
    "momentum, shuffle, drop_last",
    [(0.0, True, False), (0.5, True, False), (0.0, False, False), (0.5, True, True)],
)
def test_each_row_learns_its_own_earlier_predictions(net_class, momentum, shuffle, drop_last):
    # Epoch e's target for a row is its prediction of epoch e - 1 (momentum 0) or the
    # running average of its predictions (a row never predicted yet: its label).
    X, y = _digits(with_ids=True)
    alpha, ramp_epochs = 0.6, 2
    online = OnlineSelfDistillation(alpha=alpha, momentum=momentum, ramp_epochs=ramp_epochs)
    net = net_class(
        _RowProbe,
        max_epochs=4,
        batch_size=BATCH_SIZE,
        lr=0.5,
        iterator_train__shuffle=shuffle,
        iterator_train__drop_last=drop_last,
        train_split=None,
        callbacks=[online],
        verbose=0,
    )
    SEEN.clear()
    torch.manual_seed(0)
    net.fit(X, y)
    losses = [batch["train_loss"] for row in net.history for batch in row["batches"]]
    expected = _expected_losses(net.history, y, alpha, momentum, ramp_epochs)
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    assert online.n_blended_ == 3 * len(net.history[-1]["batches"])


def test_logits_with_cross_entropy():
    X, y = _digits(with_ids=True)
    online = OnlineSelfDistillation(alpha=0.5, momentum=0.0, ramp_epochs=1)
    net = NeuralNetClassifier(
        _RowProbe,
        module__logits=True,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=3,
        batch_size=BATCH_SIZE,
        lr=0.5,
        iterator_train__shuffle=True,
        train_split=None,
        callbacks=[online],
        verbose=0,
    )
    SEEN.clear()
    torch.manual_seed(0)
    net.fit(X, y)
    losses = [batch["train_loss"] for row in net.history for batch in row["batches"]]
    np.testing.assert_allclose(
        losses, _expected_losses(net.history, y, 0.5, 0.0, 1), rtol=1e-5, atol=1e-6
    )


def _fit(net, X, y):
    torch.manual_seed(0)
    return net.fit(X, y)


@pytest.mark.parametrize("net_class", [NeuralNetClassifier, TensorBatchNetClassifier])
@pytest.mark.parametrize("shuffle", [True, False])
def test_alpha_zero_is_the_plain_fit_bit_for_bit(net_class, shuffle):
    X, y = _digits()
    kwargs = {"net_class": net_class, "iterator_train__shuffle": shuffle}
    plain = _fit(_mlp_net(**kwargs), X, y)
    online = _fit(_mlp_net([OnlineSelfDistillation(alpha=0.0)], **kwargs), X, y)
    for name, weights in plain.module_.state_dict().items():
        assert torch.equal(weights, online.module_.state_dict()[name]), name
    assert plain.history[:, "train_loss"] == online.history[:, "train_loss"]
    # And the callback does change the fit when alpha > 0.
    changed = _fit(_mlp_net([OnlineSelfDistillation(alpha=0.5, ramp_epochs=0)], **kwargs), X, y)
    assert plain.history[-1, "train_loss"] != changed.history[-1, "train_loss"]


def test_the_net_is_left_as_it_was():
    X, y = _digits()
    online = OnlineSelfDistillation(alpha=0.5, ramp_epochs=0)
    net = _fit(_mlp_net([online]), X, y)
    assert net.iterator_train is DataLoader
    assert not net.criterion_._forward_hooks
    # The loss outside the callback's batches is the plain loss.
    y_pred = net.forward(X[:BATCH_SIZE], training=True)
    loss = net.get_loss(y_pred, torch.as_tensor(y[:BATCH_SIZE]), training=True)
    plain = torch.nn.functional.nll_loss(
        torch.log(y_pred + torch.finfo(torch.float32).eps), torch.as_tensor(y[:BATCH_SIZE])
    )
    assert torch.equal(loss, plain)


class _FailAt(Callback):
    def __init__(self, epoch=2):
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise RuntimeError("failed on purpose")


def test_a_failed_fit_leaves_nothing_behind_for_the_next():
    X, y = _digits()
    online = OnlineSelfDistillation(alpha=0.5, ramp_epochs=0)

    def failing_split(dataset, y=None, **kwargs):
        raise RuntimeError("failed on purpose")

    # Failed between on_train_begin and the training loader: the recorder is left on the
    # net, and skorch calls no on_train_end.
    net = _mlp_net([online], train_split=failing_split)
    with pytest.raises(RuntimeError, match="failed on purpose"):
        _fit(net, X, y)
    assert net.iterator_train is not DataLoader
    net.set_params(train_split=None)
    _fit(net, X, y)
    assert net.iterator_train is DataLoader
    assert not net.criterion_._forward_hooks
    # Failed in the middle of training: a partial_fit of the same net starts clean.
    net = _mlp_net([online, _FailAt(2)])
    with pytest.raises(RuntimeError, match="failed on purpose"):
        _fit(net, X, y)
    net.callbacks_ = [(name, cb) for name, cb in net.callbacks_ if not isinstance(cb, _FailAt)]
    net.partial_fit(X, y)
    assert net.iterator_train is DataLoader
    assert not net.criterion_._forward_hooks
    assert online.epoch_ == 3 and online.n_blended_ == 10


def test_early_stopping_with_load_best():
    X, y = _digits(400)
    online = OnlineSelfDistillation(alpha=0.5, ramp_epochs=0)
    stop = EarlyStopping(monitor="train_loss", patience=1, threshold=0.5, load_best=True)
    net = _fit(
        _mlp_net([online, stop], max_epochs=30, train_split=ValidSplit(4, stratified=True)),
        X,
        y,
    )
    assert len(net.history) < 30
    assert online.n_blended_ > 0
    assert net.iterator_train is DataLoader
    assert not net.criterion_._forward_hooks


@pytest.mark.parametrize(
    "params, match",
    [
        ({"alpha": 1.5}, r"'alpha' .* \[0, 1\]; got 1.5"),
        ({"alpha": True}, r"'alpha' .*got True"),
        ({"momentum": 1.0}, r"'momentum' .* \[0, 1\); got 1.0"),
        ({"momentum": -0.1}, r"'momentum' .*got -0.1"),
        ({"ramp_epochs": -1}, r"'ramp_epochs' .* >= 0; got -1"),
        ({"ramp_epochs": 2.5}, r"'ramp_epochs' .*an int >= 0; got 2.5"),
    ],
)
def test_bad_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        _mlp_net([OnlineSelfDistillation(**params)]).initialize()


def test_weights_ramp_up():
    online = OnlineSelfDistillation(alpha=0.8, ramp_epochs=4)
    assert [online.weight(e) for e in range(1, 7)] == [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 0.8]
    assert [OnlineSelfDistillation(ramp_epochs=0).weight(e) for e in (1, 2, 3)] == [0, 0.5, 0.5]


def test_an_unsupported_criterion_is_refused():
    X, y = _digits()
    net = _mlp_net([OnlineSelfDistillation()], criterion=torch.nn.MultiMarginLoss)
    with pytest.raises(TypeError, match=r"NLLLoss .*CrossEntropyLoss .*got MultiMarginLoss"):
        net.fit(X, y)


@pytest.mark.parametrize("name", ["sampler", "batch_sampler"])
def test_a_sampler_of_the_users_is_refused(name):
    X, y = _digits()
    sampler = SequentialSampler(range(N_ROWS))
    net = _mlp_net([OnlineSelfDistillation()], **{f"iterator_train__{name}": sampler})
    with pytest.raises(ValueError, match=f"sets iterator_train__{name}, which"):
        net.fit(X, y)


@pytest.mark.parametrize("sample_weight", [None, "weighted"])
def test_every_generation_of_self_distillation_learns_online(sample_weight):
    X, y = _digits(200)
    net = _mlp_net([OnlineSelfDistillation(alpha=0.5, ramp_epochs=1)], max_epochs=2)
    weights = None if sample_weight is None else np.where(np.arange(200) % 2, 1.0, 2.0)
    model = SelfDistillationClassifier(net, n_generations=2, alpha=0.5, random_state=0)
    model.fit(X, y, sample_weight=weights)
    callbacks = [
        next(cb for _, cb in generation.callbacks_ if isinstance(cb, OnlineSelfDistillation))
        for generation in model.generations_
    ]
    assert callbacks[0] is not callbacks[1]
    n_batches = [len(generation.history[-1]["batches"]) for generation in model.generations_]
    # Epoch 2 of each generation has the online term in every batch.
    assert [cb.n_blended_ for cb in callbacks] == n_batches
    assert all(cb.weight_ == 0.5 for cb in callbacks)
