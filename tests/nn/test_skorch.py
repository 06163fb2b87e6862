"""skorch nets as generations: born-again training on teacher logits, on the CPU."""

import numpy as np
import pytest
import skorch
import torch
from _net_weights import same, state
from sklearn.base import clone
from skorch import NeuralNetClassifier

from sklearn_selfdistill import SelfDistillationClassifier, TemperatureSchedule
from sklearn_selfdistill.nn import DistillationLoss, _outputs, _skorch
from sklearn_selfdistill.nn._outputs import as_logits
from sklearn_selfdistill.nn._soft_target_net import SoftTargetNetClassifier
from sklearn_selfdistill.nn.augment import RandAugmentNoise
from sklearn_selfdistill.nn.callbacks import AugmentedTeacher, EMATeacher

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
    original = _outputs.teacher_logits

    def counting(teacher, X_, kind):
        calls.append(X_.shape[0])
        return original(teacher, X_, kind)

    monkeypatch.setattr(_outputs, "teacher_logits", counting)
    SelfDistillationClassifier(net(max_epochs=4), n_generations=3).fit(X, y)
    assert calls == [120, 120]


def test_student_sees_the_teacher_logits_of_the_clean_inputs(data, monkeypatch):
    X, y = data
    seen = []
    original = DistillationLoss.from_log_probs

    def recording(self, student_log_probs, y_, teacher_log_probs=None, all_labeled=False):
        seen.append((y_.clone(), teacher_log_probs.clone()))
        return original(self, student_log_probs, y_, teacher_log_probs, all_labeled)

    monkeypatch.setattr(DistillationLoss, "from_log_probs", recording)
    clf = SelfDistillationClassifier(
        net(batch_size=120, max_epochs=1, iterator_train__shuffle=False),
        n_generations=2,
        temperature=3.0,
    ).fit(X, y)
    expected = _outputs.teacher_logits(clf.generations_[0], X, "probabilities")
    codes, teacher = seen[0]
    torch.testing.assert_close(codes, torch.as_tensor(y))
    torch.testing.assert_close(teacher, torch.log_softmax(torch.as_tensor(expected) / 3.0, -1))


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


def test_valid_acc_of_a_distilled_generation_counts_only_labelled_rows(data):
    from sklearn.model_selection import StratifiedKFold
    from skorch.dataset import ValidSplit

    X, y = data
    labels = y.copy()
    labels[1::3] = -1  # a third of every validation fold is unlabelled
    clf = SelfDistillationClassifier(
        net(max_epochs=2, train_split=ValidSplit(4, stratified=True)),
        n_generations=2,
        unlabeled=-1,
    ).fit(X, labels)
    student = clf.generations_[1]
    # The held-out rows of the student: the first stratified fold of its class codes.
    codes = np.where(labels == -1, -1, labels)
    _, valid = next(StratifiedKFold(4).split(X, codes))
    assert np.sum(codes[valid] == -1) > 0
    labelled = valid[codes[valid] != -1]
    expected = np.mean(student.predict(X[labelled]) == codes[labelled])
    assert student.history[-1, "valid_acc"] == pytest.approx(expected)


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
    original = _outputs.teacher_logits

    def recording_teacher(teacher, X_, kind):
        teacher_inputs.append(np.array(X_))
        return original(teacher, X_, kind)

    monkeypatch.setattr(_outputs, "teacher_logits", recording_teacher)
    torch.manual_seed(0)
    SelfDistillationClassifier(augmented, n_generations=2).fit(X, y)
    assert len(seen) == 2  # one training batch per generation
    assert not torch.allclose(seen[1], torch.as_tensor(X))
    np.testing.assert_array_equal(teacher_inputs[0], X)


def _image_data():
    rng = np.random.RandomState(0)
    X = rng.rand(16, 3, 8, 8).astype(np.float32)
    return X, (X[:, 0].mean(axis=(1, 2)) > 0.5).astype(np.int64)


def _image_net(callbacks):
    return NeuralNetClassifier(
        Tiny,
        module__in_features=192,
        module__num_classes=2,
        max_epochs=1,
        batch_size=8,
        train_split=None,
        verbose=0,
        callbacks=callbacks,
    )


def _record_inputs(monkeypatch):
    """The students' training inputs, and what other nets see inside a student's loss."""
    seen = {"student": [], "teacher": []}
    in_loss = []
    student_infer, plain_infer = SoftTargetNetClassifier.infer, NeuralNetClassifier.infer
    student_loss = SoftTargetNetClassifier.get_loss

    def student(self, x, **kwargs):
        if self.module_.training:
            seen["student"].append(torch.as_tensor(x).clone())
        return student_infer(self, x, **kwargs)

    def teacher(self, x, **kwargs):
        if in_loss and type(self) is NeuralNetClassifier:
            seen["teacher"].append(torch.as_tensor(x).clone())
        return plain_infer(self, x, **kwargs)

    def loss(self, *args, **kwargs):
        in_loss.append(True)
        try:
            return student_loss(self, *args, **kwargs)
        finally:
            in_loss.pop()

    monkeypatch.setattr(SoftTargetNetClassifier, "infer", student)
    monkeypatch.setattr(SoftTargetNetClassifier, "get_loss", loss)
    monkeypatch.setattr(NeuralNetClassifier, "infer", teacher)
    return seen


def test_augmented_teacher_sees_the_student_batches(monkeypatch):
    X, y = _image_data()
    seen = _record_inputs(monkeypatch)
    torch.manual_seed(0)
    net = _image_net([RandAugmentNoise(num_ops=2, magnitude=15), AugmentedTeacher()])
    SelfDistillationClassifier(net, n_generations=2).fit(X, y)
    assert len(seen["teacher"]) == len(seen["student"]) == 2  # one per training batch
    for teacher_input, student_input in zip(seen["teacher"], seen["student"], strict=True):
        torch.testing.assert_close(teacher_input, student_input)
    assert not np.allclose(torch.cat(seen["student"]).numpy(), X)  # augmented


def test_without_augmented_teacher_no_teacher_pass_per_step(monkeypatch):
    X, y = _image_data()
    seen = _record_inputs(monkeypatch)
    torch.manual_seed(0)
    net = _image_net([RandAugmentNoise(num_ops=2, magnitude=15)])
    SelfDistillationClassifier(net, n_generations=2).fit(X, y)
    assert len(seen["student"]) == 2
    assert seen["teacher"] == []


def test_augmented_teacher_with_a_cross_fit_teacher_is_refused(capsys):
    X, y = _image_data()
    net = _image_net([AugmentedTeacher()])
    clf = SelfDistillationClassifier(net, teacher_predictions="cross_fit", cv=2, verbose=1)
    with pytest.raises(ValueError, match="AugmentedTeacher needs teacher_predictions='in_sa"):
        clf.fit(X, y)
    assert capsys.readouterr().out == ""  # refused before generation 0


def test_alpha_zero_generation_is_the_plain_skorch_fit_bit_for_bit(data):
    X, y = data
    plain = net(max_epochs=2, iterator_train__shuffle=True)
    torch.manual_seed(3)
    expected = clone(plain).fit(X, y)
    student = _skorch.SkorchClassifierStudent(plain, np.arange(3), X)
    targets = student.targets(student.base_targets(y), np.zeros((120, 3)), 0.0, 4.0)
    torch.manual_seed(3)
    generation = student.fit(clone(plain), X, targets)
    assert type(generation) is SoftTargetNetClassifier
    for a, b in zip(expected.module_.parameters(), generation.module_.parameters(), strict=True):
        assert torch.equal(a, b)
    assert generation.history[:, "train_loss"] == expected.history[:, "train_loss"]


def test_seeding_torch_before_fit_gives_generation_zero_the_plain_weights(data):
    X, y = data
    torch.manual_seed(5)
    plain = net(iterator_train__shuffle=True).fit(X, y)
    torch.manual_seed(5)
    clf = SelfDistillationClassifier(net(iterator_train__shuffle=True), n_generations=1)
    first = clf.fit(X, y).generations_[0]
    for a, b in zip(plain.module_.parameters(), first.module_.parameters(), strict=True):
        assert torch.equal(a, b)


class _Weights(skorch.callbacks.Callback):
    """Records every net's module weights when training begins and ends (class-wide)."""

    log = []

    def on_train_begin(self, net, **kwargs):
        _Weights.log.append(("begin", state(net)))

    def on_train_end(self, net, **kwargs):
        _Weights.log.append(("end", state(net)))


@pytest.mark.parametrize("warm_start", [False, True])
def test_warm_start_starts_each_generation_from_its_teacher(data, warm_start):
    X, y = data
    _Weights.log = []
    clf = SelfDistillationClassifier(
        net(warm_start=warm_start, callbacks=[_Weights()]), n_generations=3
    ).fit(X, y)
    _, (_, end0), (_, begin1), (_, end1), (_, begin2), _ = _Weights.log
    assert same(end0, state(clf.generations_[0]))  # the teacher is left as it was
    assert same(begin1, end0) is warm_start
    assert same(begin2, end1) is warm_start
    assert not same(end1, end0)  # and the student trained from there
    assert clf.generations_[1].module_ is not clf.generations_[0].module_


@pytest.mark.parametrize("dataset", ["default", "custom"])
def test_teacher_logits_match_the_nets_own_outputs(data, dataset):
    X, y = data

    class Scaled(skorch.dataset.Dataset):
        def transform(self, X, y):
            Xt, yt = super().transform(X, y)
            return Xt * 2, yt

    kwargs = {"batch_size": 50} if dataset == "default" else {"dataset": Scaled}
    fitted = net(**kwargs).fit(X, y)
    proba = fitted.predict_proba(X)  # goes through the net's own data set
    logits = _outputs.teacher_logits(fitted, X, "probabilities")
    assert logits.dtype == np.float32 and logits.shape == (120, 3)
    np.testing.assert_allclose(torch.softmax(torch.as_tensor(logits), -1), proba, rtol=1e-5)


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


def test_class_weights_and_label_smoothing_hold_in_every_generation(data):
    X, y = data
    weight = torch.tensor([0.5, 1.0, 4.0])
    clf = SelfDistillationClassifier(
        net(
            criterion=torch.nn.CrossEntropyLoss,
            module__output_nonlin=None,
            criterion__weight=weight,
            criterion__label_smoothing=0.1,
        ),
        n_generations=3,
    ).fit(X, y)
    assert clf.generations_[0].criterion_.label_smoothing == 0.1
    for generation in clf.generations_[1:]:
        torch.testing.assert_close(generation.criterion_.weight, weight)
        assert generation.criterion_.label_smoothing == 0.1


def test_criterion_parameters_distillation_cannot_carry_are_refused(data):
    X, y = data
    with pytest.raises(ValueError, match=r"criterion__reduction would hold in generation 0"):
        SelfDistillationClassifier(net(criterion__reduction="sum")).fit(X, y)


@pytest.mark.slow  # 10-20 s; the default suite keeps under ten minutes
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


def test_the_teacher_is_an_argument_of_fit_never_an_attribute_of_the_student(monkeypatch):
    X, y = _image_data()
    seen = _record_inputs(monkeypatch)
    torch.manual_seed(0)
    clf = SelfDistillationClassifier(_image_net([AugmentedTeacher()]), n_generations=2)
    clf.fit(X, y)
    student = clf.generations_[1]
    assert not any("teacher" in name for name in vars(student))
    # The same net fit by hand with a teacher runs it on its batches.
    seen["teacher"].clear()
    packed = _skorch.pack_targets(y, np.zeros((y.shape[0], 3), dtype=np.float32))
    clone(student).fit(X, packed, teacher=clf.generations_[0])
    assert len(seen["teacher"]) == 2
