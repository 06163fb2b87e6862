"""skorch nets as generations: born-again training on teacher logits, on the CPU."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier

from sklearn_selfdistill import SelfDistillationClassifier, TemperatureSchedule
from sklearn_selfdistill.nn import _skorch
from sklearn_selfdistill.nn._skorch import SoftTargetNetClassifier, as_logits
from sklearn_selfdistill.nn.augment import RandAugmentNoise
from sklearn_selfdistill.nn.callbacks import EMATeacher

SOFTMAX = torch.nn.Softmax(dim=-1)


class Tiny(torch.nn.Module):
    """A linear softmax (or logit) model, as skorch's toy modules are written."""

    def __init__(self, in_features=8, num_classes=3, output_nonlin=SOFTMAX):
        super().__init__()
        self.linear = torch.nn.Linear(in_features, num_classes)
        self.output_nonlin = output_nonlin

    def forward(self, x):
        z = self.linear(x.flatten(1))
        return z if self.output_nonlin is None else self.output_nonlin(z)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 8).astype(np.float32)
    y = ((X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)).astype(np.int64)
    return X, y


def net(**kwargs):
    params = {"max_epochs": 3, "lr": 0.2, "train_split": None, "verbose": 0, "batch_size": 32}
    return NeuralNetClassifier(Tiny, **{**params, **kwargs})


def test_generations_are_born_again_with_distillation_loss(data):
    X, y = data
    clf = SelfDistillationClassifier(net(), n_generations=3, alpha=0.7, temperature=2.0).fit(X, y)
    assert type(clf.generations_[0]) is NeuralNetClassifier
    assert all(type(g) is SoftTargetNetClassifier for g in clf.generations_[1:])
    modules = [g.module_ for g in clf.generations_]
    assert len({id(m) for m in modules}) == 3
    assert clf.generations_[1].criterion_.alpha == 0.7
    assert clf.generations_[2].criterion_.temperature == 2.0
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert clf.predict(X).shape == (120,)
    assert len(clf.generations_[2].history) == 3  # skorch's own history of that generation


def test_teacher_is_not_modified_by_its_student(data):
    X, y = data
    torch.manual_seed(0)
    alone = SelfDistillationClassifier(net(), n_generations=1).fit(X, y)
    torch.manual_seed(0)
    taught = SelfDistillationClassifier(net(), n_generations=2).fit(X, y)
    for before, after in zip(
        alone.generations_[0].module_.parameters(),
        taught.generations_[0].module_.parameters(),
        strict=True,
    ):
        torch.testing.assert_close(before, after)
    # ... and the student learned something else than its teacher.
    assert not np.allclose(
        taught.generations_[1].predict_proba(X), taught.generations_[0].predict_proba(X)
    )


def test_teacher_logits_are_computed_once_per_generation(data, monkeypatch):
    X, y = data
    calls = []
    original = _skorch.teacher_logits

    def counting(teacher, X_, kind):
        calls.append(X_.shape[0])
        return original(teacher, X_, kind)

    monkeypatch.setattr(_skorch, "teacher_logits", counting)
    SelfDistillationClassifier(net(max_epochs=4), n_generations=3).fit(X, y)
    assert calls == [120, 120]


def test_student_sees_the_teacher_logits_of_the_clean_inputs(data, monkeypatch):
    X, y = data
    seen = []
    original = SoftTargetNetClassifier.get_loss

    def recording(self, y_pred, y_true, X=None, training=False):
        seen.append(torch.as_tensor(y_true)[:, 1:].clone())
        return original(self, y_pred, y_true, X=X, training=training)

    monkeypatch.setattr(SoftTargetNetClassifier, "get_loss", recording)
    clf = SelfDistillationClassifier(
        net(batch_size=120, max_epochs=1, iterator_train__shuffle=False), n_generations=2
    ).fit(X, y)
    expected = _skorch.teacher_logits(clf.generations_[0], X, "probabilities")
    torch.testing.assert_close(seen[0], torch.as_tensor(expected))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"criterion": torch.nn.CrossEntropyLoss, "module__output_nonlin": None}],
    ids=["softmax+NLLLoss", "logits+CrossEntropyLoss"],
)
def test_both_skorch_conventions_give_probabilities(data, kwargs):
    X, y = data
    clf = SelfDistillationClassifier(net(**kwargs), n_generations=2).fit(X, y)
    for proba in clf.staged_predict_proba(X):
        assert proba.min() >= 0
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_logits_are_never_logged_and_probabilities_are():
    z = torch.tensor([[2.0, -1.0]])
    assert torch.equal(as_logits(z, "logits"), z)
    p = torch.softmax(z, dim=-1)
    torch.testing.assert_close(torch.softmax(as_logits(p, "probabilities"), -1), p)


def test_labels_are_mapped_back_and_unlabelled_rows_used(data):
    X, y = data
    labels = np.array([10, 20, 30])[y]
    labels[::4] = -1
    clf = SelfDistillationClassifier(net(), n_generations=2, unlabeled=-1).fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, [10, 20, 30])
    assert set(clf.predict(X)) <= {10, 20, 30}
    assert 0.0 <= clf.score(X[labels != -1], labels[labels != -1]) <= 1.0
    assert all(set(p) <= {10, 20, 30} for p in clf.staged_predict(X))


def test_temperature_schedule_reaches_each_generation_loss(data):
    X, y = data
    schedule = TemperatureSchedule(initial=6.0, final=2.0, kind="linear")
    clf = SelfDistillationClassifier(net(max_epochs=1), n_generations=3, temperature=schedule)
    clf.fit(X, y)
    assert [g.criterion_.temperature for g in clf.generations_[1:]] == [6.0, 2.0]


def test_early_stopping_and_history_with_nets(data):
    X, y = data
    clf = SelfDistillationClassifier(
        net(max_epochs=2), n_generations=3, early_stopping=True, random_state=0
    ).fit(X, y)
    assert all(0 <= h["validation_score"] <= 1 for h in clf.history_)


def test_ema_weights_are_the_generation_model(data):
    X, y = data
    torch.manual_seed(0)
    plain = SelfDistillationClassifier(net(), n_generations=2).fit(X, y)
    torch.manual_seed(0)
    ema = SelfDistillationClassifier(net(callbacks=[EMATeacher(decay=0.9)]), n_generations=2)
    ema.fit(X, y)
    # Same seed, same batches: only the averaging differs.
    for g in (0, 1):
        assert not np.allclose(
            ema.generations_[g].predict_proba(X), plain.generations_[g].predict_proba(X)
        )


def test_randaugment_changes_student_inputs_only(monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.rand(16, 3, 8, 8).astype(np.float32)
    y = (X[:, 0].mean(axis=(1, 2)) > 0.5).astype(np.int64)
    seen = []

    class Recording(Tiny):
        def forward(self, x):
            if self.training:
                seen.append(x.detach().clone())
            return super().forward(x)

    augmented = NeuralNetClassifier(
        Recording,
        module__in_features=192,
        module__num_classes=2,
        max_epochs=1,
        batch_size=16,
        train_split=None,
        verbose=0,
        iterator_train__shuffle=False,
        callbacks=[RandAugmentNoise(num_ops=2, magnitude=15)],
    )
    teacher_inputs = []
    original = _skorch.teacher_logits

    def recording_teacher(teacher, X_, kind):
        teacher_inputs.append(np.array(X_))
        return original(teacher, X_, kind)

    monkeypatch.setattr(_skorch, "teacher_logits", recording_teacher)
    torch.manual_seed(0)
    SelfDistillationClassifier(augmented, n_generations=2).fit(X, y)
    assert len(seen) == 2  # one training batch per generation
    assert not torch.allclose(seen[1], torch.as_tensor(X))
    np.testing.assert_array_equal(teacher_inputs[0], X)


# -- bad input, before any training ----------------------------------------------------


def test_module_instance_is_refused(data):
    X, y = data
    with pytest.raises(TypeError, match=r"as a class .* not as an instance"):
        SelfDistillationClassifier(NeuralNetClassifier(Tiny(), max_epochs=1)).fit(X, y)


def test_wrong_number_of_outputs_is_found_before_training(data, capsys):
    X, y = data
    with pytest.raises(ValueError, match=r"returns outputs of shape \(2, 5\).*module__num"):
        SelfDistillationClassifier(net(module__num_classes=5), verbose=1).fit(X, y)
    assert capsys.readouterr().out == ""  # no generation ran


def test_nan_and_continuous_labels_are_refused(data):
    X, y = data
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SelfDistillationClassifier(net()).fit(bad, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        SelfDistillationClassifier(net()).fit(X, X[:, 0])


def test_other_criteria_are_refused(data):
    X, y = data
    with pytest.raises(TypeError, match=r"NLLLoss.*CrossEntropyLoss"):
        SelfDistillationClassifier(net(criterion=torch.nn.MultiMarginLoss)).fit(X, y)


def test_issue_snippet_runs_as_written_on_cpu():
    from sklearn_selfdistill.nn.models import ResNet18

    rng = np.random.RandomState(0)
    X = rng.rand(50, 3, 32, 32).astype(np.float32)
    y = (np.arange(50) % 10).astype(np.int64)
    clf = SelfDistillationClassifier(
        NeuralNetClassifier(
            ResNet18, max_epochs=1, lr=0.1, optimizer=torch.optim.SGD, device="cpu", verbose=0
        ),
        alpha=0.7,
        n_generations=4,
    ).fit(X, y)
    assert clf.n_generations_ == 4
    # skorch's validation accuracy of a distilled generation reads the class indices.
    assert all(0 <= row["valid_acc"] <= 1 for row in clf.generations_[3].history)
    proba = clf.predict_proba(X)
    assert proba.shape == (50, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
