"""The other libraries' private APIs the package relies on (sklearn_selfdistill._compat).

One test per private name (or private attribute the package overrides), exercising the
behaviour the package relies on: a release of scikit-learn, skorch, torch or torchvision
that changes one fails the test named after it. Run them alone with ``pytest -m compat``.
"""

import inspect
import sys
from numbers import Integral, Real
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill._compat import (
    HasMethods,
    Interval,
    InvalidParameterError,
    Options,
    RealNotInt,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    _safe_indexing,
    check_matplotlib_support,
    check_parameters,
    rand_augment_apply,
    rand_augment_space,
    validate_params,
)

pytestmark = pytest.mark.compat


# -- scikit-learn ---------------------------------------------------------------------------


def test_safe_indexing_picks_rows_of_arrays_frames_sparse_matrices_and_lists():
    pd = pytest.importorskip("pandas")
    X = np.arange(12).reshape(6, 2)
    rows = np.array([4, 0, 2])

    np.testing.assert_array_equal(_safe_indexing(X, rows), X[rows])

    frame = pd.DataFrame(X, columns=["a", "b"], index=list("uvwxyz"))
    picked = _safe_indexing(frame, rows)
    assert isinstance(picked, pd.DataFrame)
    assert list(picked.index) == ["y", "u", "w"]  # by position, index kept
    np.testing.assert_array_equal(picked.to_numpy(), X[rows])

    sparse = sp.csr_matrix(X)
    picked = _safe_indexing(sparse, rows)
    assert sp.issparse(picked)
    np.testing.assert_array_equal(picked.toarray(), X[rows])

    assert _safe_indexing(list("abcdef"), rows) == ["e", "a", "c"]


def test_check_sample_weight_gives_float64_of_len_X_and_refuses_the_wrong_length():
    X = np.zeros((5, 2))
    ones = _check_sample_weight(None, X, dtype=np.float64)
    assert ones.dtype == np.float64 and ones.shape == (5,)
    np.testing.assert_array_equal(ones, 1.0)

    scalar = _check_sample_weight(2.0, X, dtype=np.float64)
    np.testing.assert_array_equal(scalar, 2.0)

    ints = _check_sample_weight(np.array([1, 2, 3, 4, 5]), X, dtype=np.float64)
    assert ints.dtype == np.float64
    np.testing.assert_array_equal(ints, [1, 2, 3, 4, 5])

    with pytest.raises(ValueError, match="sample_weight"):
        _check_sample_weight(np.ones(4), X, dtype=np.float64)


def test_validate_params_raises_invalid_parameter_error_naming_the_parameter():
    @validate_params(
        {
            "fraction": [Interval(RealNotInt, 0, 1, closed="neither")],
            "count": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
            "split": [StrOptions({"train", "test"})],
            "estimator": [HasMethods(["fit"]), None],
        },
        prefer_skip_nested_validation=True,
    )
    def load(*, fraction=0.5, count=1, split="train", estimator=None):
        return fraction, count, split, estimator

    assert load(fraction=0.25, count=np.inf, split="test", estimator=LogisticRegression())
    assert load(count=3)[1] == 3

    bad = [
        ({"fraction": 1}, "'fraction' parameter of .*load must"),  # an int is not RealNotInt
        ({"fraction": 1.5}, "'fraction' parameter of .*load must"),
        ({"count": 0}, "'count' parameter of .*load must"),
        ({"count": 2.5}, "'count' parameter of .*load must"),
        ({"split": "valid"}, "'split' parameter of .*load must"),
        ({"estimator": object()}, "'estimator' parameter of .*load must"),
    ]
    for kwargs, message in bad:
        with pytest.raises(InvalidParameterError, match=message):
            load(**kwargs)
    # Callers catch it as either.
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)


def test_validate_params_requires_prefer_skip_nested_validation():
    # The keyword the package passes; it is keyword-only and required.
    parameter = inspect.signature(validate_params).parameters["prefer_skip_nested_validation"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is inspect.Parameter.empty


class _Constrained(BaseEstimator):
    _parameter_constraints: dict = {"alpha": [Interval(Real, 0, 1, closed="both")]}

    def __init__(self, alpha=0.5):
        self.alpha = alpha

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X=None, y=None):
        self.fitted_ = True
        return self


def test_fit_context_validates_parameter_constraints_at_fit():
    assert _Constrained(alpha=0.3).fit().fitted_
    with pytest.raises(InvalidParameterError, match="'alpha' parameter of _Constrained"):
        _Constrained(alpha=2.0).fit()


def test_check_parameters_reads_parameter_constraints_without_fitting():
    check_parameters(_Constrained(alpha=1.0))
    with pytest.raises(InvalidParameterError, match="'alpha' parameter"):
        check_parameters(_Constrained(alpha=-1.0))
    # The package's own constraints, as the command line checks them.
    assert isinstance(SelfDistillationClassifier._parameter_constraints, dict)
    check_parameters(SelfDistillationClassifier(n_generations=3))
    with pytest.raises(InvalidParameterError, match="'n_generations' parameter"):
        check_parameters(SelfDistillationClassifier(n_generations=0))


def test_check_matplotlib_support_names_the_caller_when_matplotlib_is_missing(monkeypatch):
    pytest.importorskip("matplotlib")
    assert check_matplotlib_support("Display.plot") is None
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError
    with pytest.raises(ImportError, match=r"Display\.plot requires matplotlib"):
        check_matplotlib_support("Display.plot")


# -- torchvision ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rand_augment():
    pytest.importorskip("torchvision")
    from torchvision.transforms import v2

    return v2.RandAugment(num_ops=2, magnitude=9)


def test_rand_augment_space_lists_the_operations_with_magnitudes_and_signs(rand_augment):
    import torch

    space = rand_augment_space(rand_augment)
    assert isinstance(space, dict) and len(space) == 14
    assert next(iter(space)) == "Identity"
    for name, (magnitudes_fn, signed) in space.items():
        assert isinstance(signed, bool), name
        magnitudes = magnitudes_fn(rand_augment.num_magnitude_bins, 8, 8)
        assert magnitudes is None or (
            isinstance(magnitudes, torch.Tensor)
            and magnitudes.shape == (rand_augment.num_magnitude_bins,)
        ), name


def test_rand_augment_apply_transforms_a_batch_as_each_image_alone(rand_augment):
    import torch

    images = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    space = rand_augment_space(rand_augment)
    for name, (magnitudes_fn, _) in space.items():
        magnitudes = magnitudes_fn(rand_augment.num_magnitude_bins, 8, 8)
        magnitude = 0.0 if magnitudes is None else float(magnitudes[rand_augment.magnitude])
        batch = rand_augment_apply(rand_augment, images.clone(), name, magnitude)
        assert batch.shape == images.shape and batch.dtype == images.dtype, name
        alone = torch.stack(
            [rand_augment_apply(rand_augment, image[None], name, magnitude)[0] for image in images]
        )
        torch.testing.assert_close(batch, alone, msg=name)
    identity = rand_augment_apply(rand_augment, images, "Identity", 0.0)
    torch.testing.assert_close(identity, images)


def test_vision_transformer_forward_reads_a_replaced_conv_proj():
    pytest.importorskip("torchvision")
    import torch
    from torchvision.models import VisionTransformer

    vit = VisionTransformer(
        image_size=8, patch_size=4, num_layers=1, num_heads=1, hidden_dim=4, mlp_dim=8,
        num_classes=2,
    )  # fmt: skip
    vit.conv_proj = torch.nn.Conv2d(1, 4, kernel_size=4, stride=4)
    assert vit(torch.rand(2, 1, 8, 8)).shape == (2, 2)


# -- torch ----------------------------------------------------------------------------------


def test_module_train_sets_only_training_on_every_module():
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Dropout(0.5)
    )
    before = [{k: v for k, v in vars(m).items() if k != "training"} for m in net.modules()]
    state = {k: v.clone() for k, v in net.state_dict().items()}
    for mode in (False, True):
        net.train(mode)
        assert all(m.training is mode for m in net.modules())
        after = [{k: v for k, v in vars(m).items() if k != "training"} for m in net.modules()]
        assert [d.keys() for d in after] == [d.keys() for d in before]
        for old, new in zip(before, after, strict=True):
            assert all(new[k] is old[k] or new[k] == old[k] for k in old)
        for key, value in net.state_dict().items():
            torch.testing.assert_close(value, state[key])


# -- skorch ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def skorch_parts():
    pytest.importorskip("skorch")
    import torch
    from skorch import NeuralNet, NeuralNetClassifier
    from skorch.callbacks import EpochScoring

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 2)

        def forward(self, x):
            return torch.softmax(self.linear(x), dim=-1)

    rng = np.random.RandomState(0)
    X = rng.rand(20, 2).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(np.int64)
    return SimpleNamespace(
        NeuralNet=NeuralNet,
        NeuralNetClassifier=NeuralNetClassifier,
        EpochScoring=EpochScoring,
        Tiny=Tiny,
        X=X,
        y=y,
    )


def test_skorch_default_callbacks_is_a_property_with_valid_acc(skorch_parts):
    parts = skorch_parts
    assert isinstance(inspect.getattr_static(parts.NeuralNet, "_default_callbacks"), property)
    net = parts.NeuralNetClassifier(parts.Tiny, max_epochs=1, verbose=0)
    callbacks = dict(net._default_callbacks)
    assert isinstance(callbacks["valid_acc"], parts.EpochScoring)
    assert [name for name, _ in net.get_default_callbacks()] == list(callbacks)

    # A subclass's property is what the initialized net runs (DistillationNet's override).
    marker = parts.EpochScoring("accuracy", name="valid_acc", lower_is_better=False)

    class Replaced(parts.NeuralNetClassifier):
        @property
        def _default_callbacks(self):
            return [
                (name, marker if name == "valid_acc" else callback)
                for name, callback in super()._default_callbacks
            ]

    replaced = Replaced(parts.Tiny, max_epochs=1, verbose=0).initialize()
    assert dict(replaced.callbacks_)["valid_acc"] is marker


def test_skorch_modules_and_criteria_name_the_registered_attributes(skorch_parts):
    import torch

    parts = skorch_parts
    assert parts.NeuralNet._modules == [] and parts.NeuralNet._criteria == []  # class defaults
    net = parts.NeuralNetClassifier(parts.Tiny, max_epochs=1, verbose=0).initialize()
    assert net._modules == ["module"] and net._criteria == ["criterion"]
    for name in net._modules + net._criteria:
        assert isinstance(getattr(net, name + "_"), torch.nn.Module)


def test_skorch_set_training_sets_the_mode_and_runs_each_batch(skorch_parts):
    parts = skorch_parts
    calls = []

    class Recording(parts.NeuralNetClassifier):
        def _set_training(self, training=True):
            calls.append(training)
            return super()._set_training(training)

    net = Recording(parts.Tiny, max_epochs=1, batch_size=4, verbose=0).initialize()
    net._set_training(False)
    assert not net.module_.training and not net.criterion_.training
    net._set_training(True)
    assert net.module_.training and net.criterion_.training

    calls.clear()
    net.fit(parts.X, parts.y)  # 16 training rows in batches of 4, 4 validation rows in one batch
    assert calls.count(True) >= 4 and calls.count(False) >= 1


def test_skorch_get_params_for_and_notify_order(skorch_parts):
    parts = skorch_parts
    from skorch.callbacks import Callback

    order = []

    class Hook(Callback):
        def on_epoch_begin(self, net, **kwargs):
            order.append("callback")

    class Net(parts.NeuralNetClassifier):
        def on_epoch_begin(self, net, **kwargs):
            order.append("net")
            return super().on_epoch_begin(net, **kwargs)

    net = Net(
        parts.Tiny,
        max_epochs=1,
        verbose=0,
        callbacks=[Hook()],
        iterator_train__shuffle=True,
        criterion__reduction="sum",
    )
    assert net.get_params_for("iterator_train") == {"shuffle": True}
    assert net.get_params_for("criterion") == {"reduction": "sum"}
    net.fit(parts.X, parts.y)
    assert order == ["net", "callback"]  # the net's own hook first, as nn._fast assumes


def test_no_module_but_compat_imports_a_private_name_of_another_library():
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "sklearn_selfdistill"
    libraries = {"sklearn", "skorch", "torch", "torchvision"}

    def private(dotted):
        return any(part.startswith("_") for part in dotted.split("."))

    found = []
    for path in package.rglob("*.py"):
        if path.name == "_compat.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                module = node.module or ""
                if module.split(".")[0] not in libraries:
                    continue
                names = [alias.name for alias in node.names]
                if private(module) or any(private(name) for name in names):
                    found.append(f"{path.relative_to(package)}:{node.lineno} {module}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in libraries and private(alias.name):
                        found.append(f"{path.relative_to(package)}:{node.lineno} {alias.name}")
    assert found == []


def test_check_y_validates_y_as_check_X_y_does():
    from sklearn.exceptions import DataConversionWarning

    from sklearn_selfdistill._compat import _check_y

    with pytest.warns(DataConversionWarning, match="column-vector y"):
        column = _check_y(np.array([[1], [2], [3]]))  # a column becomes 1-D, with a warning
    assert column.shape == (3,)
    numeric = _check_y(np.array([1, 2], dtype=object), y_numeric=True)
    assert numeric.dtype == np.float64
    with pytest.raises(ValueError, match="NaN"):
        _check_y(np.array([1.0, np.nan]))
    assert _check_y(np.ones((3, 2)), multi_output=True).shape == (3, 2)
