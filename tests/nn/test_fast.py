"""The in-memory data path, the user's own net classes, and what a generation prints."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import ProgressBar
from skorch.dataset import Dataset

from sklearn_selfdistill import SelfDistillationClassifier, SelfDistillationRegressor
from sklearn_selfdistill.nn import _fast, _outputs
from sklearn_selfdistill.nn._fast import TensorBatches, data_device
from sklearn_selfdistill.nn._skorch import SkorchClassifierStudent
from sklearn_selfdistill.nn._soft_target_net import SoftTargetNetClassifier
from sklearn_selfdistill.nn.models import MLP


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:400] / 16).astype(np.float32), y[:400].astype(np.int64)


def classifier(**params):
    defaults = dict(
        module__in_features=64,
        module__num_classes=10,
        module__hidden_units=32,
        module__dropout=0.2,
        max_epochs=3,
        batch_size=32,
        optimizer=torch.optim.Adam,
        lr=0.01,
        iterator_train__shuffle=True,
        verbose=0,
        module=MLP,
    )
    return NeuralNetClassifier(**{**defaults, **params})


def regressor(**params):
    defaults = dict(
        module__in_features=64,
        module__num_classes=1,
        module__hidden_units=32,
        module__dropout=0.2,
        module__output_nonlin=None,
        max_epochs=3,
        batch_size=32,
        iterator_train__shuffle=True,
        verbose=0,
        module=MLP,
    )
    return NeuralNetRegressor(**{**defaults, **params})


@pytest.fixture
def fast_epochs(monkeypatch):
    """Counts the epochs (train and validation) served by TensorBatches."""
    counted = []
    serve = TensorBatches.__iter__

    def counting(self):
        counted.append(self.X.shape[0])
        return serve(self)

    monkeypatch.setattr(TensorBatches, "__iter__", counting)
    return counted


def same_weights(a, b):
    sa, sb = a.module_.state_dict(), b.module_.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def same_history(a, b, keys):
    return all(a.history[:, key] == b.history[:, key] for key in keys)


@pytest.mark.parametrize(
    "params",
    [
        {},  # skorch's default: a stratified 5-fold validation split, shuffled batches
        {"train_split": None, "iterator_train__drop_last": True},
        {"iterator_train__shuffle": False, "batch_size": -1},
        {"iterator_valid__batch_size": 7, "batch_size": 50},
    ],
    ids=["valid-split", "drop-last", "no-shuffle-full-batch", "own-valid-batch"],
)
def test_generation_0_is_a_plain_skorch_fit_bit_for_bit(digits, fast_epochs, params):
    X, y = digits
    net = classifier(**params)
    torch.manual_seed(0)
    plain = clone(net).fit(X, y)
    assert not fast_epochs  # skorch's own path
    torch.manual_seed(0)
    model = SelfDistillationClassifier(net, n_generations=1).fit(X, y)
    generation_0 = model.generations_[0]
    assert fast_epochs  # the library's path served it
    assert same_weights(plain, generation_0)
    keys = ["train_loss"] + (["valid_loss", "valid_acc"] if net.train_split else [])
    assert same_history(plain, generation_0, keys)
    assert type(generation_0) is NeuralNetClassifier  # the user's class, exactly


def test_an_alpha_0_generation_is_a_plain_fit_bit_for_bit(digits, fast_epochs):
    X, y = digits
    net = classifier()
    torch.manual_seed(0)
    teacher = clone(net).fit(X, y)
    student = SkorchClassifierStudent(net, np.arange(10), X)
    targets = student.targets(student.base_targets(y), student.output(teacher, X), 0.0, 4.0)
    fast_epochs.clear()
    torch.manual_seed(3)
    distilled = student.fit(clone(net), X, targets, teacher=teacher)
    assert isinstance(distilled, SoftTargetNetClassifier)
    assert len(fast_epochs) == 2 * net.max_epochs  # training and validation batches
    torch.manual_seed(3)
    plain = clone(net).fit(X, y)
    assert same_weights(plain, distilled)
    assert same_history(plain, distilled, ["train_loss", "valid_loss", "valid_acc"])


def test_regressor_generations_are_plain_fits_on_their_targets(digits, fast_epochs):
    X, y = digits
    y = y.astype(np.float32)
    net = regressor(train_split=None)
    torch.manual_seed(0)
    plain = clone(net).fit(X, y.reshape(-1, 1))
    torch.manual_seed(0)
    model = SelfDistillationRegressor(net, n_generations=2).fit(X, y)
    assert len(fast_epochs) == 2 * net.max_epochs
    assert same_weights(plain, model.generations_[0])


class OwnDataset(Dataset):
    """A data set of the user's: it changes each row, so the library must not slice."""

    def __getitem__(self, i):
        Xi, yi = super().__getitem__(i)
        return Xi * 0.5, yi


def halving_collate(batch):
    X = torch.stack([torch.as_tensor(x) for x, _ in batch]) * 0.5
    return X, torch.as_tensor(np.array([y for _, y in batch]))


@pytest.mark.parametrize(
    "params",
    [
        {"dataset": OwnDataset},
        {"iterator_train__collate_fn": halving_collate},
        {"iterator_train__sampler": list(reversed(range(400)))},
    ],
    ids=["dataset", "collate", "sampler"],
)
def test_anything_but_plain_arrays_goes_through_skorchs_own_path(digits, fast_epochs, params):
    X, y = digits
    if "iterator_train__sampler" in params:
        params["iterator_train__shuffle"] = False
    net = classifier(train_split=None, **params)
    torch.manual_seed(0)
    plain = clone(net).fit(X, y)
    torch.manual_seed(0)
    model = SelfDistillationClassifier(net, n_generations=2, alpha=0.5).fit(X, y)
    assert not fast_epochs
    assert same_weights(plain, model.generations_[0])
    # The user's path really was taken: the same net without it learns other weights.
    torch.manual_seed(0)
    direct = classifier(train_split=None, iterator_train__shuffle=False).fit(X, y)
    assert not same_weights(plain, direct)


def test_a_batch_is_a_copy_that_a_callback_may_change(digits):
    X, y = digits
    X_t, y_t = torch.as_tensor(X.copy()), torch.as_tensor(y)
    for shuffle in (False, True):
        for Xi, _ in TensorBatches(X_t, y_t, 64, shuffle, False, torch.device("cpu")):
            Xi.fill_(-1.0)
    np.testing.assert_array_equal(X_t.numpy(), X)


def test_batches_are_the_data_loaders(digits):
    X, y = digits
    X_t, y_t = torch.as_tensor(X), torch.as_tensor(y)
    loader = torch.utils.data.DataLoader(Dataset(X, y), batch_size=48, shuffle=True)
    ours = TensorBatches(X_t, y_t, 48, True, False, torch.device("cpu"))
    assert len(ours) == len(loader)
    torch.manual_seed(1)
    expected = [(a.clone(), b.clone()) for a, b in loader]
    after_loader = torch.rand(1)
    torch.manual_seed(1)
    got = list(ours)
    assert torch.rand(1) == after_loader  # the same draws of torch's generator
    assert len(got) == len(expected)
    for (a, b), (c, d) in zip(expected, got, strict=True):
        assert torch.equal(a, c) and torch.equal(b, d)


def test_data_stays_on_the_host_when_the_gpu_lacks_room():
    assert data_device(10, "cpu") == torch.device("cpu")
    assert data_device(100, "cuda:0", free_bytes=1000) == torch.device("cuda:0")
    assert data_device(500, "cuda:0", free_bytes=1000) == torch.device("cpu")


def test_a_module_with_its_own_train_is_set_before_every_batch(digits):
    calls = []

    class CountingModule(MLP):
        def train(self, mode=True):
            calls.append(mode)
            return super().train(mode)

    X, y = digits
    SelfDistillationClassifier(
        classifier(module=CountingModule, train_split=None, max_epochs=2), n_generations=1
    ).fit(X, y)
    assert calls.count(True) >= 2 * int(np.ceil(X.shape[0] / 32))  # as skorch does


def test_the_mode_is_set_where_it_would_change_something(monkeypatch):
    net = _fast.TensorBatchNetClassifier(MLP, module__in_features=64, module__num_classes=10)
    net.initialize()
    calls = []
    train = torch.nn.Module.train

    def spy(self, mode=True):
        calls.append(mode)
        return train(self, mode)

    monkeypatch.setattr(torch.nn.Module, "train", spy)
    net.module_.train()
    calls.clear()
    net._set_training(True)
    assert calls == []  # already in training mode: nothing to do
    list(net.module_.modules())[-1].eval()
    net._set_training(True)
    assert calls and all(m.training for m in net.module_.modules())
    net._set_training(False)
    assert not any(m.training for m in net.module_.modules())


class Regularised(NeuralNetClassifier):
    """A user's subclass: its own parameter, train_step and get_loss."""

    def __init__(self, *args, penalty=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.penalty = penalty

    def train_step(self, batch, **fit_params):
        self.steps_ = getattr(self, "steps_", 0) + 1
        return super().train_step(batch, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        self.losses_ = getattr(self, "losses_", 0) + 1
        return super().get_loss(y_pred, y_true, X=X, training=training) + self.penalty


def test_a_subclass_overrides_run_in_every_generation(digits):
    X, y = digits
    net = Regularised(penalty=10.0, **classifier().get_params())
    model = SelfDistillationClassifier(net, n_generations=3, alpha=0.7).fit(X, y)
    batches = int(np.ceil(0.8 * X.shape[0] / 32))
    for generation in model.generations_:
        assert isinstance(generation, Regularised)
        assert generation.penalty == 10.0
        assert generation.steps_ == batches * net.max_epochs
        assert generation.losses_ > generation.steps_  # validation batches too
        # The penalty was added to the library's loss in every generation.
        assert min(generation.history[:, "train_loss"]) > 10.0
    assert type(model.generations_[0]) is Regularised
    assert isinstance(model.generations_[1], SoftTargetNetClassifier)
    # The fitted lineage pickles (the classes made at run time are rebuilt) and predicts.
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    assert type(restored.generations_[1]) is type(model.generations_[1])
    assert clone(model.generations_[2]).penalty == 10.0


class RegressorWithStep(NeuralNetRegressor):
    def train_step(self, batch, **fit_params):
        self.steps_ = getattr(self, "steps_", 0) + 1
        return super().train_step(batch, **fit_params)


def test_a_regressor_subclass_runs_in_every_generation(digits):
    X, y = digits
    net = RegressorWithStep(**regressor(train_split=None).get_params())
    model = SelfDistillationRegressor(net, n_generations=2).fit(X, y.astype(np.float32))
    for generation in model.generations_:
        assert isinstance(generation, RegressorWithStep)
        assert generation.steps_ == int(np.ceil(X.shape[0] / 32)) * net.max_epochs


def test_accelerate_mixin_trains_two_generations(digits):
    accelerate = pytest.importorskip("accelerate")
    from skorch.hf import AccelerateMixin

    backward_calls = []

    class CountingAccelerator(accelerate.Accelerator):
        def backward(self, loss, **kwargs):
            backward_calls.append(float(loss.detach()))
            return super().backward(loss, **kwargs)

    class AcceleratedNet(AccelerateMixin, NeuralNetClassifier):
        pass

    X, y = digits
    params = classifier(max_epochs=4, module__dropout=0.0).get_params()
    params.pop("device")
    net = AcceleratedNet(accelerator=CountingAccelerator(cpu=True), device=None, **params)
    model = SelfDistillationClassifier(net, n_generations=2, alpha=0.5).fit(X, y)
    assert type(model.generations_[0]) is AcceleratedNet
    distilled = model.generations_[1]
    assert isinstance(distilled, AcceleratedNet) and isinstance(distilled, SoftTargetNetClassifier)
    batches = int(np.ceil(0.8 * X.shape[0] / 32))
    assert len(backward_calls) == 2 * batches * 4  # the mixin's step, every generation
    assert model.score(X, y) > 0.7  # it learnt (a tenth by chance)


def test_each_generation_says_what_its_loss_is(digits, capsys):
    X, y = digits
    net = classifier(verbose=1, train_split=None, max_epochs=1)
    SelfDistillationClassifier(net, n_generations=3, alpha=0.7, temperature=2.0).fit(X, y)
    out = capsys.readouterr().out
    assert "Generation 0. train_loss and valid_loss: the cross-entropy of the labels" in out
    assert (
        "Generation 2, teacher: generation 1. train_loss and valid_loss: 0.7 * T^2 * "
        "KL(teacher || student, both at T=2) + 0.3 * cross-entropy" in out
    )
    # Each header comes before its generation's epoch table.
    assert out.index("Generation 1,") < out.index("train_loss", out.index("Generation 1,") + 60)
    net = regressor(verbose=1, train_split=None, max_epochs=1)
    SelfDistillationRegressor(net, n_generations=2, alpha=0.25).fit(X, y.astype(np.float32))
    out = capsys.readouterr().out
    assert "Generation 0. train_loss and valid_loss: the net's MSELoss against y." in out
    assert "the net's MSELoss against 0.25 * teacher + 0.75 * y." in out


def test_a_progress_bar_runs_in_every_generation(digits, capsys):
    X, y = digits
    net = classifier(train_split=None, max_epochs=2, callbacks=[ProgressBar()])
    SelfDistillationClassifier(net, n_generations=2).fit(X, y)
    err = capsys.readouterr().err
    # tqdm starts one bar per epoch of each generation, its total known: 13 batches of
    # 32 rows (later frames are drawn only every 0.1 s, and these epochs are faster).
    assert err.count("| 0/13 [") == 2 * 2


@pytest.mark.slow  # 10-20 s; the default suite keeps under ten minutes
def test_accelerate_shares_the_generations_between_two_processes(tmp_path):
    """Two CPU processes (torch's launcher, gloo): each trains on half of every epoch."""
    pytest.importorskip("accelerate")
    script = Path(__file__).with_name("_accelerate_script.py")
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [*launch, "--nproc_per_node", "2", str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in reports] == [0, 1]
    assert all(r["processes"] == 2 for r in reports)
    # 1797 rows in batches of 32 make 57 batches; each process took its half, in both
    # generations.
    assert all(r["batches"] == [29, 29] for r in reports)
    # Gradients were averaged across processes: both hold the same nets, which learnt.
    assert reports[0]["proba"] == reports[1]["proba"]
    assert reports[0]["accuracy"] > 0.9


def test_rand_augment_in_groups_is_rand_augment_image_by_image():
    from torchvision.transforms import v2

    from sklearn_selfdistill.nn.augment import (
        apply_operation,
        draw_operations,
        rand_augment_batch,
    )

    transform = v2.RandAugment(num_ops=2, magnitude=9)
    torch.manual_seed(0)
    images = torch.rand(300, 3, 16, 16)
    operations, negated = draw_operations(transform, images.shape[0])
    grouped = rand_augment_batch(transform, images.clone(), (operations, negated))
    one_by_one = images.clone()
    for i in range(images.shape[0]):
        for step in range(2):
            one_by_one[i] = apply_operation(
                transform, one_by_one[i], int(operations[i, step]), bool(negated[i, step])
            )
    assert torch.equal(grouped, one_by_one)
    assert set(operations.flatten().tolist()) == set(range(14))  # every operation drawn
    changed = (grouped != images).flatten(1).any(dim=1).float().mean()
    assert changed > 0.8  # only Identity twice (1/196) or no-op draws leave an image


_USER_MODULE = """
import torch
from skorch import NeuralNetClassifier


class Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(64, 10)

    def forward(self, x):
        return torch.softmax(self.linear(x), dim=-1)


class UserNet(NeuralNetClassifier):
    def get_loss(self, y_pred, y_true, X=None, training=False):
        return super().get_loss(y_pred, y_true, X=X, training=training) * 1.0
"""

_FIT_AND_PICKLE = """
import pickle, sys
import numpy as np
from sklearn.datasets import load_digits
from sklearn_selfdistill import SelfDistillationClassifier
from usernets import Linear, UserNet

X, y = load_digits(return_X_y=True)
X = (X[:200] / 16).astype(np.float32)
net = UserNet(Linear, max_epochs=2, train_split=None, verbose=0)
model = SelfDistillationClassifier(net, n_generations=2).fit(X, y[:200])
with open("generation_class.pkl", "wb") as f:  # the class alone, by reference
    pickle.dump(type(model.generations_[1]), f)
with open("model.pkl", "wb") as f:
    pickle.dump(model, f)
np.save("proba.npy", model.predict_proba(X))
"""

_LOAD = """
import pickle
import numpy as np
from sklearn.datasets import load_digits
from sklearn_selfdistill.nn._soft_target_net import SoftTargetNetClassifier

X, y = load_digits(return_X_y=True)
with open("generation_class.pkl", "rb") as f:
    cls = pickle.load(f)
with open("model.pkl", "rb") as f:
    model = pickle.load(f)
assert cls is type(model.generations_[1]), (cls, type(model.generations_[1]))
assert cls.__name__ == "UserNet" and issubclass(cls, SoftTargetNetClassifier)
proba = model.predict_proba((X[:200] / 16).astype(np.float32))
np.testing.assert_array_equal(proba, np.load("proba.npy"))
print("loaded", cls.__name__)
"""


def test_a_generation_of_a_user_class_pickles_by_reference_into_a_fresh_process(tmp_path):
    (tmp_path / "usernets.py").write_text(_USER_MODULE)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "OMP_NUM_THREADS": "1"}
    for code in (_FIT_AND_PICKLE, _LOAD):
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "loaded UserNet"


def test_the_classes_made_at_run_time_are_not_kept_once_unused():
    import gc

    gc.collect()
    before = len(_fast._made)
    for i in range(30):
        user_class = type(f"Net{i}", (NeuralNetClassifier,), {})
        made = _fast.library_class(user_class, SoftTargetNetClassifier)
        assert _fast.library_class(user_class, SoftTargetNetClassifier) is made  # cached
        del user_class, made
    gc.collect()
    assert len(_fast._made) <= before


class _OwnDataset(NeuralNetClassifier):
    def get_dataset(self, X, y=None):
        return super().get_dataset(X, y)


def _first_row_only(batch):
    return torch.utils.data.default_collate(batch)


@pytest.mark.parametrize(
    ("make", "sliced"),
    [
        (lambda: classifier(), True),
        (lambda: classifier(iterator_valid__num_workers=0, batch_size=7), True),
        (lambda: classifier(iterator_valid__collate_fn=_first_row_only), False),
        (lambda: classifier(iterator_valid__sampler=None), False),
        (lambda: _OwnDataset(**classifier().get_params()), False),
        (lambda: classifier(dataset=type("MyDataset", (Dataset,), {})), False),
    ],
    ids=["plain", "speed_only", "collate_fn", "sampler", "get_dataset", "dataset"],
)
def test_teacher_predictions_and_training_batches_follow_one_rule(digits, make, sliced):
    X, y = digits
    net = make().fit(X, y)
    assert (_fast.sliced_batch_settings(net, training=False) is not None) is sliced
    fetched = []
    original = type(net).forward_iter

    def counting(self, *args, **kwargs):
        fetched.append(1)
        return original(self, *args, **kwargs)

    type(net).forward_iter = counting
    try:
        logits = _outputs.teacher_logits(net, X, "probabilities")
    finally:
        type(net).forward_iter = original
    assert bool(fetched) is not sliced  # skorch's own loading exactly where the rule says
    expected = torch.log(torch.as_tensor(net.predict_proba(X)).clamp_min(1e-38)).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
