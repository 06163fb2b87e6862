import math
import pickle
import re

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch import NeuralNetRegressor
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit
from skorch.exceptions import NotInitializedError

from sklearn_selfdistill.nn.callbacks import EMATeacher

# 40 samples in batches of 8 for 3 epochs: 15 training batches.
N_SAMPLES, BATCH_SIZE, MAX_EPOCHS = 40, 8, 3
N_BATCHES = N_SAMPLES // BATCH_SIZE * MAX_EPOCHS


class _Recorder(Callback):
    """Keeps a copy of the student's state after every training batch."""

    def initialize(self):
        self.states_ = []
        return self

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            state = net.module_.state_dict()
            self.states_.append({name: value.detach().clone() for name, value in state.items()})


class _BatchNormNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(3, 4)
        self.norm = torch.nn.BatchNorm1d(4)
        self.out = torch.nn.Linear(4, 2)

    def forward(self, X):
        return self.out(torch.relu(self.norm(self.hidden(X))))


def _data(n_samples=N_SAMPLES):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_samples, 3)).astype(np.float32)
    y = (X @ rng.normal(size=(3, 2)) + 1.0).astype(np.float32)
    return X, y


def _make_net(callbacks, module=torch.nn.Linear, **kwargs):
    params = {
        "optimizer": torch.optim.SGD,
        "lr": 0.1,
        "max_epochs": MAX_EPOCHS,
        "batch_size": BATCH_SIZE,
        "train_split": None,
        "verbose": 0,
    }
    if module is torch.nn.Linear:
        params.update(module__in_features=3, module__out_features=2)
    params.update(kwargs)
    return NeuralNetRegressor(module, callbacks=callbacks, **params)


def _fit(net, seed=0):
    torch.manual_seed(seed)
    return net.fit(*_data())


def _hand_ema(states, decay):
    """The EMA of floating-point tensors, the first state copied as AveragedModel does."""
    ema = {name: value.clone() for name, value in states[0].items() if value.is_floating_point()}
    for state in states[1:]:
        for name in ema:
            ema[name] = decay * ema[name] + (1 - decay) * state[name]
    return ema


def _assert_state_close(state, expected):
    for name, value in expected.items():
        torch.testing.assert_close(state[name], value, msg=name)


@pytest.mark.parametrize("decay", [0.5, 0.8])
def test_module_after_fit_is_hand_computed_ema(decay):
    recorder = _Recorder()
    ema = EMATeacher(decay=decay)
    net = _fit(_make_net([recorder, ema]))

    assert len(recorder.states_) == N_BATCHES
    assert ema.n_averaged_ == N_BATCHES
    _assert_state_close(net.module_.state_dict(), _hand_ema(recorder.states_, decay))


def test_ema_differs_from_last_student_weights():
    recorder = _Recorder()
    net = _fit(_make_net([recorder, EMATeacher(decay=0.8)]))

    last = recorder.states_[-1]
    assert not torch.allclose(net.module_.weight, last["weight"])
    assert not torch.allclose(net.module_.bias, last["bias"])


def test_student_is_untouched_until_training_ends():
    # A recorder placed after the callback must see what one placed before it sees.
    before, after = _Recorder(), _Recorder()
    _fit(_make_net([before, EMATeacher(decay=0.8), after]))

    for state_before, state_after in zip(before.states_, after.states_, strict=True):
        _assert_state_close(state_after, state_before)


def test_use_buffers_averages_batchnorm_statistics():
    recorder = _Recorder()
    net = _fit(_make_net([recorder, EMATeacher(decay=0.8, use_buffers=True)], _BatchNormNet))

    state = net.module_.state_dict()
    expected = _hand_ema(recorder.states_, 0.8)
    assert {"norm.running_mean", "norm.running_var"} <= expected.keys()
    _assert_state_close(state, expected)
    assert not torch.allclose(
        state["norm.running_mean"], recorder.states_[-1]["norm.running_mean"]
    )


def test_without_use_buffers_buffers_are_the_students_last():
    # AveragedModel(use_buffers=False) copies the student's buffers at every update,
    # while the parameters are still averaged.
    recorder = _Recorder()
    net = _fit(_make_net([recorder, EMATeacher(decay=0.8, use_buffers=False)], _BatchNormNet))

    state = net.module_.state_dict()
    last = recorder.states_[-1]
    for name in ("norm.running_mean", "norm.running_var", "norm.num_batches_tracked"):
        torch.testing.assert_close(state[name], last[name], msg=name)
    expected = _hand_ema(recorder.states_, 0.8)
    parameter_names = dict(net.module_.named_parameters()).keys()
    _assert_state_close(state, {name: expected[name] for name in parameter_names})
    assert not torch.allclose(state["out.weight"], last["out.weight"])


def test_decay_zero_keeps_last_weights():
    recorder = _Recorder()
    net = _fit(_make_net([recorder, EMATeacher(decay=0)]))

    _assert_state_close(net.module_.state_dict(), recorder.states_[-1])


@pytest.mark.parametrize("decay", [1.0, -0.1, "a", math.nan, True, None])
def test_invalid_decay_raises(decay):
    net = _make_net([EMATeacher(decay=decay)])
    with pytest.raises(ValueError, match=r"'decay'.*\[0, 1\); got " + re.escape(repr(decay))):
        _fit(net)


def test_validation_batches_do_not_update_the_average():
    ema = EMATeacher(decay=0.8)
    # skorch's default split keeps 40 of 50 samples for training: 5 batches an epoch.
    net = _make_net([ema], train_split=ValidSplit(5))
    torch.manual_seed(0)
    net.fit(*_data(n_samples=50))

    assert sum(net.history[:, "valid_batch_count"]) > 0
    assert sum(net.history[:, "train_batch_count"]) == N_BATCHES
    assert ema.n_averaged_ == N_BATCHES


def test_second_fit_starts_a_fresh_average():
    ema = EMATeacher(decay=0.8)
    net = _fit(_make_net([ema], max_epochs=2), seed=1)
    net.set_params(max_epochs=MAX_EPOCHS)
    _fit(net)

    assert ema.n_averaged_ == N_BATCHES
    single = _fit(_make_net([EMATeacher(decay=0.8)]))
    _assert_state_close(net.module_.state_dict(), single.module_.state_dict())


def test_partial_fit_restarts_from_current_weights():
    recorder = _Recorder()
    ema = EMATeacher(decay=0.8)
    net = _fit(_make_net([recorder, ema]))
    net.partial_fit(*_data(), epochs=1)

    assert ema.n_averaged_ == N_SAMPLES // BATCH_SIZE
    expected = _hand_ema(recorder.states_[-ema.n_averaged_ :], 0.8)
    _assert_state_close(net.module_.state_dict(), expected)


def test_clone_gives_an_unfitted_callback_with_the_same_parameters():
    net = _fit(_make_net([EMATeacher(decay=0.8, use_buffers=False)]))
    cloned = clone(net)
    ema = cloned.callbacks[0]

    assert ema is not net.callbacks[0]
    assert ema.get_params() == {"decay": 0.8, "use_buffers": False}
    assert not hasattr(ema, "n_averaged_")
    _fit(cloned)
    assert ema.n_averaged_ == N_BATCHES
    _assert_state_close(cloned.module_.state_dict(), net.module_.state_dict())


def test_pickled_fitted_net_predicts_the_same():
    net = _fit(_make_net([EMATeacher(decay=0.8)], _BatchNormNet))
    loaded = pickle.loads(pickle.dumps(net))
    X, _ = _data()

    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    ema = dict(loaded.callbacks_)["EMATeacher"]
    assert ema.n_averaged_ == N_BATCHES
    assert ema.averaged_model_ is None


def test_uninitialized_module_raises():
    ema = EMATeacher().initialize()
    with pytest.raises(NotInitializedError, match=r"net\.module_.*got None"):
        ema.on_train_begin(_make_net([ema]))


def test_batch_end_before_train_begin_raises():
    net = _make_net([]).initialize()
    ema = EMATeacher().initialize()
    with pytest.raises(NotInitializedError, match="on_train_begin must run"):
        ema.on_batch_end(net, training=True)
