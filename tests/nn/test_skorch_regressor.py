"""skorch regression nets as generations: born-again regression, on the CPU."""

import warnings

import numpy as np
import pytest

pytest.importorskip("skorch")

import torch
from _net_weights import same, state
from sklearn.base import clone
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback

from sklearn_selfdistill import SelfDistillationRegressor
from sklearn_selfdistill.nn import _outputs
from sklearn_selfdistill.nn.models import MLP

N_ROWS, N_FEATURES = 96, 6


class SeedOnInitialize(Callback):
    """Seeds torch as the net initializes, before its module is built.

    Every clone of a net with this callback starts from the same weights and draws
    the same batches.
    """

    def initialize(self):
        torch.manual_seed(0)
        return super().initialize()


class Tiny(torch.nn.Module):
    """Input dropout and a linear layer: small enough for a few milliseconds a fit."""

    def __init__(self, in_features=N_FEATURES, num_outputs=1, dropout=0.0):
        super().__init__()
        self.dropout = torch.nn.Dropout(dropout)
        self.linear = torch.nn.Linear(in_features, num_outputs)

    def forward(self, x):
        return self.linear(self.dropout(x))


class Squeezed(torch.nn.Module):
    """A linear model that returns one prediction per row, shape (N,)."""

    def __init__(self, in_features=N_FEATURES):
        super().__init__()
        self.linear = torch.nn.Linear(in_features, 1)

    def forward(self, x):
        return self.linear(x).squeeze(-1)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(N_ROWS, N_FEATURES)
    y = X[:, 0] - 2 * X[:, 1] + 0.1 * rng.randn(N_ROWS)
    return X, y


def net(module=Tiny, **kwargs):
    params = {
        "max_epochs": 2,
        "lr": 0.05,
        "batch_size": 48,
        "train_split": None,
        "verbose": 0,
    }
    return NeuralNetRegressor(module, **{**params, **kwargs})


def as_net_input(X):
    return X.astype(np.float32)


def test_every_generation_is_a_separate_fitted_net(data):
    X, y = data
    reg = SelfDistillationRegressor(net(), n_generations=3).fit(X, y)
    assert all(type(g) is NeuralNetRegressor for g in reg.generations_)
    assert len({id(g.module_) for g in reg.generations_}) == 3
    assert len({id(g.optimizer_) for g in reg.generations_}) == 3
    # skorch's own history of each generation.
    assert [len(g.history) for g in reg.generations_] == [2, 2, 2]


def test_every_generation_starts_from_fresh_weights(data, monkeypatch):
    X, y = data
    initial = []
    original = NeuralNetRegressor.on_train_begin

    def recording(self, net, X=None, y=None, **kwargs):
        initial.append([p.detach().clone() for p in net.module_.parameters()])
        return original(self, net, X=X, y=y, **kwargs)

    monkeypatch.setattr(NeuralNetRegressor, "on_train_begin", recording)
    seeded = net(callbacks=[SeedOnInitialize()])
    reg = SelfDistillationRegressor(seeded, n_generations=3, alpha=0.5).fit(X, y)
    assert len(initial) == 3
    for generation in (1, 2):
        # The same seed gives the same fresh weights: a new init, not the teacher's.
        for fresh, first in zip(initial[generation], initial[0], strict=True):
            torch.testing.assert_close(fresh, first, rtol=0, atol=0)
        teacher = list(reg.generations_[generation - 1].module_.parameters())
        assert not all(
            torch.equal(fresh, trained)
            for fresh, trained in zip(initial[generation], teacher, strict=True)
        )


def test_students_are_fit_on_blended_float32_targets(data, monkeypatch):
    X, y = data
    seen = []
    original = NeuralNetRegressor.fit

    def recording(self, X_, y_, **fit_params):
        seen.append((np.array(X_), np.array(y_)))
        return original(self, X_, y_, **fit_params)

    monkeypatch.setattr(NeuralNetRegressor, "fit", recording)
    # Dropout: a teacher run in train mode would give other targets than its predict.
    reg = SelfDistillationRegressor(net(module__dropout=0.5), n_generations=3, alpha=0.7)
    reg.fit(X, y)
    assert len(seen) == 3
    column = as_net_input(y).reshape(-1, 1)
    for X_seen, y_seen in seen:
        assert X_seen.dtype == np.float32 and y_seen.dtype == np.float32
        np.testing.assert_array_equal(X_seen, as_net_input(X))
    np.testing.assert_array_equal(seen[0][1], column)
    for generation in (1, 2):
        teacher = reg.generations_[generation - 1].predict(as_net_input(X))
        expected = 0.7 * teacher.astype(np.float64) + 0.3 * column.astype(np.float64)
        np.testing.assert_allclose(seen[generation][1], expected, rtol=1e-6, atol=1e-6)


def test_teacher_outputs_are_batched_once_per_generation_in_inference_mode(data, monkeypatch):
    X, y = data
    forwards = []

    class Recording(Tiny):
        def forward(self, x):
            forwards.append((x.shape[0], self.training, torch.is_inference_mode_enabled()))
            return super().forward(x)

    calls = []
    original = _outputs.teacher_logits

    def counting(teacher, X_, kind):
        calls.append(X_.shape[0])
        return original(teacher, X_, kind)

    monkeypatch.setattr(_outputs, "teacher_logits", counting)
    SelfDistillationRegressor(net(module=Recording), n_generations=3).fit(X, y)
    assert calls == [N_ROWS, N_ROWS]
    inference = [(rows, training) for rows, training, inference in forwards if inference]
    # The shape probe (2 rows), then 2 batches of 48 rows per teacher, in eval mode.
    assert inference == [(2, False)] + [(48, False)] * 4


def test_teacher_is_not_modified_by_its_student(data):
    X, y = data
    torch.manual_seed(0)
    alone = SelfDistillationRegressor(net(), n_generations=1).fit(X, y)
    torch.manual_seed(0)
    taught = SelfDistillationRegressor(net(), n_generations=2).fit(X, y)
    for before, after in zip(
        alone.generations_[0].module_.parameters(),
        taught.generations_[0].module_.parameters(),
        strict=True,
    ):
        torch.testing.assert_close(before, after, rtol=0, atol=0)
    # ... and the student learned something else than its teacher.
    staged = list(taught.staged_predict(X))
    assert not np.allclose(staged[0], staged[1])


def test_alpha_zero_every_generation_is_the_plain_net(data):
    X, y = data
    seeded = net(callbacks=[SeedOnInitialize()])
    plain = clone(seeded).fit(as_net_input(X), as_net_input(y).reshape(-1, 1))
    expected = plain.predict(as_net_input(X)).reshape(-1)
    reg = SelfDistillationRegressor(seeded, n_generations=3, alpha=0.0).fit(X, y)
    for staged in reg.staged_predict(X):
        np.testing.assert_array_equal(staged, expected)


# The library's MLP as a linear regression with two outputs.
MLP_TWO_OUTPUTS = {
    "module__num_classes": 2,
    "module__num_hidden": 0,
    "module__output_nonlin": None,
}


@pytest.mark.parametrize(
    ("y_shape", "estimator"),
    [
        ((N_ROWS,), net()),
        ((N_ROWS, 1), net()),
        ((N_ROWS, 2), net(MLP, module__in_features=N_FEATURES, **MLP_TWO_OUTPUTS)),
        ((N_ROWS,), NeuralNetRegressor(Squeezed, max_epochs=2, train_split=None, verbose=0)),
    ],
    ids=["1d-y-column-output", "column-y", "two-outputs", "1d-y-1d-output"],
)
def test_predictions_have_the_shape_of_y_and_dtype_float32(data, y_shape, estimator):
    X, y = data
    Y = np.column_stack([y, -y])[:, : y_shape[1]] if len(y_shape) == 2 else y
    reg = SelfDistillationRegressor(estimator, n_generations=2).fit(X, Y)
    prediction = reg.predict(X[:10])
    assert prediction.shape == (10, *y_shape[1:])
    assert prediction.dtype == np.float32
    assert [p.shape for p in reg.staged_predict(X[:10])] == [(10, *y_shape[1:])] * 2
    assert np.isfinite(reg.score(X, Y))


def test_ensemble_averages_the_generations(data):
    X, y = data
    reg = SelfDistillationRegressor(net(), n_generations=3, final_generation="ensemble")
    reg.fit(X, y)
    staged = np.array(list(reg.staged_predict(X)))
    assert reg.predict(X).shape == (N_ROWS,)
    np.testing.assert_allclose(reg.predict(X), staged.mean(axis=0), rtol=1e-6, atol=1e-6)


def test_best_generation_is_the_best_on_validation(data):
    X, y = data
    reg = SelfDistillationRegressor(
        net(), n_generations=3, final_generation="best", random_state=0
    ).fit(X, y)
    scores = [h["validation_score"] for h in reg.history_]
    assert reg.best_generation_ == int(np.argmax(scores))
    assert reg.estimator_ is reg.generations_[reg.best_generation_]
    staged = list(reg.staged_predict(X))
    np.testing.assert_array_equal(reg.predict(X), staged[reg.best_generation_])


def test_early_stopping_and_histories(data):
    X, y = data
    reg = SelfDistillationRegressor(
        net(),
        n_generations=5,
        early_stopping=True,
        n_iter_no_change=1,
        tol=1e9,  # no generation after the first counts as an improvement
        random_state=0,
    ).fit(X, y)
    assert reg.n_generations_ == 2
    assert reg.termination_condition_ == "plateau"
    assert [h["generation"] for h in reg.history_] == [0, 1]
    assert [h["alpha"] for h in reg.history_] == [0.0, 0.5]
    assert all(isinstance(h["validation_score"], float) for h in reg.history_)
    for generation in reg.generations_:
        assert len(generation.history) == 2
        assert all(np.isfinite(row["train_loss"]) for row in generation.history)


def test_cross_fit_teachers_predict_held_out_folds(data, monkeypatch):
    X, y = data
    calls = []
    original = _outputs.teacher_logits

    def counting(teacher, X_, kind):
        calls.append(X_.shape[0])
        return original(teacher, X_, kind)

    monkeypatch.setattr(_outputs, "teacher_logits", counting)
    reg = SelfDistillationRegressor(
        net(max_epochs=1), n_generations=2, teacher_predictions="cross_fit", cv=3
    ).fit(X, y)
    assert calls == [N_ROWS // 3] * 3
    assert reg.predict(X).shape == (N_ROWS,)


# -- bad input, before any training ----------------------------------------------------


def test_module_instance_is_refused(data):
    X, y = data
    instance = NeuralNetRegressor(Tiny(), max_epochs=1)
    with pytest.raises(TypeError, match=r"as a class.*every generation needs freshly init"):
        SelfDistillationRegressor(instance).fit(X, y)


def test_a_classifier_net_is_refused(data):
    X, y = data
    other = NeuralNetClassifier(Tiny, max_epochs=1)
    with pytest.raises(
        TypeError, match=r"NeuralNetRegressor nets and their subclasses; got NeuralNetClassifier"
    ):
        SelfDistillationRegressor(other).fit(X, y)


@pytest.mark.parametrize("where", ["X", "y"])
def test_nan_is_refused(data, where):
    X, y = data
    X, y = X.copy(), y.copy()
    if where == "X":
        X[3, 2] = np.nan
    else:
        y[3] = np.nan
    with pytest.raises(ValueError, match=f"Input {where} contains NaN"):
        SelfDistillationRegressor(net()).fit(X, y)


@pytest.mark.parametrize(
    ("n_outputs", "y_columns", "message"),
    [
        (
            3,
            None,
            r"returns outputs of shape \(2, 3\).*y of shape \(96,\) needs \(2,\) or \(2, 1\)",
        ),
        (1, 2, r"returns outputs of shape \(2, 1\).*y of shape \(96, 2\) needs \(2, 2\)"),
    ],
    ids=["1d-y", "2d-y"],
)
def test_wrong_number_of_outputs_is_found_before_training(
    data, capsys, n_outputs, y_columns, message
):
    X, y = data
    Y = y if y_columns is None else np.column_stack([y] * y_columns)
    with pytest.raises(ValueError, match=message):
        SelfDistillationRegressor(net(module__num_outputs=n_outputs), verbose=1).fit(X, Y)
    assert capsys.readouterr().out == ""  # no generation ran


def test_module_returning_a_tuple_is_refused(data):
    X, y = data

    class Pair(Tiny):
        def forward(self, x):
            out = super().forward(x)
            return out, out

    with pytest.raises(TypeError, match=r"returns a tuple.*one tensor of predictions"):
        SelfDistillationRegressor(net(Pair)).fit(X, y)


class _Weights(Callback):
    """Records every net's module weights when training begins and ends (class-wide)."""

    log = []

    def on_train_begin(self, net, **kwargs):
        _Weights.log.append(state(net))

    def on_train_end(self, net, **kwargs):
        _Weights.log.append(state(net))


@pytest.mark.parametrize("warm_start", [False, True])
def test_warm_start_starts_each_generation_from_its_teacher(data, warm_start):
    X, y = data
    _Weights.log = []
    reg = SelfDistillationRegressor(
        net(warm_start=warm_start, callbacks=[_Weights()]), n_generations=2
    ).fit(as_net_input(X), y)
    _begin0, end0, begin1, end1 = _Weights.log
    assert same(end0, state(reg.generations_[0]))
    assert same(begin1, end0) is warm_start
    assert not same(end1, end0)


def test_a_dataframe_fits_and_predicts_without_warnings_and_keeps_its_column_names(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    # float32 columns: validation makes no copy, so the array it hands on is read-only.
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"x{i}" for i in range(X.shape[1])])
    reg = SelfDistillationRegressor(net(), n_generations=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns on read-only arrays
        reg.fit(frame, y)
        prediction = reg.predict(frame)
    assert list(reg.feature_names_in_) == list(frame.columns)
    assert prediction.shape == (X.shape[0],)
