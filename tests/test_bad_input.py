"""Bad input at every public entry point: a clear error or a correct answer, one table.

Each case is (entry point, kind of bad input, call, expectation), plus an optional
``setup`` that fits what the call only predicts with, outside the call. A call takes a
context: ``tmp`` and ``monkeypatch`` (pytest's) and ``fitted`` (what ``setup`` built).
An expectation is ``Raises``: the exception type, a pattern its message must match (the
message names the argument and says what is allowed), and a check that a validation
step raised it rather than numpy or torch deep down; or ``Returns``: a check that the
result is right, and the warnings the call may emit (none by default).
"""

import contextlib
import functools
import io
import re
import warnings
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeRegressor
from skorch import NeuralNetClassifier
from test_datasets import idx_bytes, write_cifar, write_idx

from sklearn_selfdistill import SelfDistillationClassifier, SelfDistillationRegressor, datasets
from sklearn_selfdistill._compat import InvalidParameterError
from sklearn_selfdistill.cli import main
from sklearn_selfdistill.cli._lineage import Lineage
from sklearn_selfdistill.datasets import load_cifar10, load_digits, load_fashion_mnist, load_mnist
from sklearn_selfdistill.nn import DistillationLoss
from sklearn_selfdistill.nn.models import MLP

# -- the expectations ----------------------------------------------------------------------

# Where a clear error may come from: the library, or scikit-learn's own input validation
# (check_array, check_X_y, parameter constraints, label checks, splitters).
_VALIDATION_MODULES = (
    "sklearn/utils/validation.py",
    "sklearn/utils/_param_validation.py",
    "sklearn/utils/multiclass.py",
    "sklearn/model_selection/_split.py",
)
# Messages of numpy and torch that say neither which argument is wrong nor what it takes.
_BARE_MESSAGES = (
    "could not convert",
    "'<' not supported",
    "The size of tensor",
    "Target ",
    "mat1 and mat2",
    "array must not contain infs or NaNs",
)


@dataclass(frozen=True)
class Raises:
    """A clear error: its type, and a pattern that its message must match."""

    exception: type
    match: str

    def run(self, call, ctx):
        with pytest.raises(self.exception, match=self.match) as info:
            call(ctx)
        origin = _raised_from(info.value)
        assert "sklearn_selfdistill" in origin or origin.endswith(_VALIDATION_MODULES), (
            f"raised deep inside {origin}: {info.value}"
        )
        assert not str(info.value).startswith(_BARE_MESSAGES), str(info.value)


@dataclass(frozen=True)
class Returns:
    """A correct answer: ``check(result)`` passes; warnings match ``warns`` (None: none)."""

    check: object
    warns: str = None

    def run(self, call, ctx):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call(ctx)
        messages = [str(w.message) for w in caught]
        if self.warns is None:
            assert messages == [], messages
        else:
            assert messages, f"expected a warning matching {self.warns!r}"
            assert all(re.search(self.warns, m) for m in messages), messages
        self.check(result)


def _predicts_every_row(clf, X):
    assert clf.predict_proba(X).shape == (X.shape[0], clf.classes_.shape[0])
    assert set(clf.predict(X)) <= set(clf.classes_)


@dataclass(frozen=True)
class Case:
    entry: str
    kind: str
    call: object
    expect: object
    setup: object = None


def _raised_from(exc):
    traceback = exc.__traceback__
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    return traceback.tb_frame.f_code.co_filename.replace("\\", "/")


# -- data and estimators --------------------------------------------------------------------

_rng = np.random.RandomState(0)
X = _rng.randn(40, 3)
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
Y_REG = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * _rng.randn(40)
COLUMNS = ["age", "income", "score"]
DF = pd.DataFrame(X, columns=COLUMNS)
X_NAN, X_INF = X.copy(), X.copy()
X_NAN[0, 0], X_INF[0, 0] = np.nan, np.inf
Y_REG_NAN, Y_REG_INF = Y_REG.copy(), Y_REG.copy()
Y_REG_NAN[0], Y_REG_INF[0] = np.nan, np.inf


def _net(**params):
    return NeuralNetClassifier(
        MLP,
        **{
            "module__in_features": 3,
            "module__num_classes": 2,
            "module__hidden_units": 8,
            "module__num_hidden": 1,
            "max_epochs": 1,
            "lr": 0.1,
            "train_split": None,
            "verbose": 0,
            "batch_size": 64,
            **params,
        },
    )


ESTIMATORS = {
    "classifier": lambda: SelfDistillationClassifier(n_generations=2),
    "skorch-classifier": lambda: SelfDistillationClassifier(_net(), n_generations=2),
    "ridge": lambda: SelfDistillationRegressor(Ridge(), n_generations=2),
    "kernel-ridge": lambda: SelfDistillationRegressor(
        KernelRidge(alpha=0.1, kernel="rbf", gamma=0.5), n_generations=2
    ),
    "tree": lambda: SelfDistillationRegressor(
        DecisionTreeRegressor(max_depth=3, random_state=0), n_generations=2
    ),
}
CLASSIFIERS = ("classifier", "skorch-classifier")
REGRESSORS = ("ridge", "kernel-ridge", "tree")
ALL = (*CLASSIFIERS, *REGRESSORS)


def _y(name):
    return Y if name in CLASSIFIERS else Y_REG


def _class(name):
    return "SelfDistillationClassifier" if name in CLASSIFIERS else "SelfDistillationRegressor"


def _seeded(fit):
    """``fit()`` with torch seeded, leaving torch's random state as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return fit()


@functools.cache
def _fitted(name, frame=False):
    """``name`` fit on X (or on the DataFrame), shared by the cases that only predict."""
    return _seeded(lambda: ESTIMATORS[name]().fit(DF if frame else X, _y(name)))


def _output(model, X_eval):
    """What a correct answer is compared on: probabilities, or predictions."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X_eval)
    return model.predict(X_eval)


def _naive_generations(estimator, X_fit, y, n_generations, alpha):
    """Generations refit by hand: generation g is fit on alpha * teacher + (1 - alpha) * y."""
    model = clone(estimator).fit(X_fit, y)
    for _ in range(1, n_generations):
        model = clone(estimator).fit(X_fit, alpha * model.predict(X_fit) + (1 - alpha) * y)
    return model


# -- checks of correct answers --------------------------------------------------------------


def _same_as_dense(result):
    on_sparse, on_dense = result
    np.testing.assert_allclose(on_sparse, on_dense, rtol=1e-5, atol=1e-8)


def _keeps_feature_names(name):
    def check(result):
        model, on_frame = result
        np.testing.assert_array_equal(model.feature_names_in_, COLUMNS)
        np.testing.assert_allclose(on_frame, _output(_fitted(name), X), rtol=1e-6, atol=1e-8)

    return check


def _as_on_the_frame(on_array):
    np.testing.assert_allclose(on_array, _output(_fitted("classifier", frame=True), DF))


def _string_labels_round_trip(name):
    labels = np.array(["ham", "spam"])

    def check(result):
        model, prediction = result
        np.testing.assert_array_equal(model.classes_, labels)
        # "ham" < "spam" as 0 < 1: the same codes, hence the model fit on integer labels.
        np.testing.assert_array_equal(prediction, labels[_fitted(name).predict(X)])
        assert model.predict_proba(X).shape == (40, 2)

    return check


def _as_naive_generations(name, X_fit, y_fit):
    def check(result):
        model, prediction = result
        naive = _naive_generations(ESTIMATORS[name]().estimator, X_fit, y_fit, 2, model.alpha)
        np.testing.assert_allclose(prediction, naive.predict(X_fit), rtol=1e-7, atol=1e-10)
        assert np.isfinite(prediction).all()

    return check


def _same_probabilities(result):
    first, second = result
    np.testing.assert_allclose(first.predict_proba(X), second.predict_proba(X))


def _predicts(expected):
    def check(result):
        np.testing.assert_array_equal(result, expected)

    return check


# -- the meta-estimators --------------------------------------------------------------------


def _fit_call(name, X_fit, y_fit=None, **fit_params):
    """A call that fits a fresh ``name`` on ``X_fit`` (and its own y unless given)."""
    y_fit = _y(name) if y_fit is None else y_fit
    return lambda ctx: ESTIMATORS[name]().fit(X_fit, y_fit, **fit_params)


def _fit_then(name, X_fit, then, y_fit=None):
    """A call that fits ``name`` (torch seeded) and returns ``(model, then(model))``."""
    y_fit = _y(name) if y_fit is None else y_fit

    def call(ctx):
        model = _seeded(lambda: ESTIMATORS[name]().fit(X_fit, y_fit))
        return model, then(model)

    return call


def _estimator_cases():
    cases = []

    def add(names, kind, call_for, expect_for, setup_for=None):
        for name in names:
            setup = None if setup_for is None else functools.partial(setup_for, name)
            cases.append(Case(name, kind, call_for(name), expect_for(name), setup))

    def raises(exception, pattern):
        return lambda name: Raises(exception, pattern.format(cls=_class(name)))

    not_finite = "Input X contains {what}"
    add(
        ("classifier", "skorch-classifier", "ridge", "kernel-ridge"),
        "nan-in-X",
        lambda name: _fit_call(name, X_NAN),
        raises(ValueError, not_finite.format(what="NaN")),
    )
    # Trees take NaN natively, and so does the meta-estimator around one.
    add(
        ("tree",),
        "nan-in-X-taken-as-the-tree-takes-it",
        lambda name: _fit_then(name, X_NAN, lambda model: model.predict(X_NAN)),
        lambda name: Returns(_as_naive_generations(name, X_NAN, Y_REG)),
    )
    add(
        ("classifier", "ridge"),
        "nan-in-X-at-predict",
        lambda name: lambda ctx: ctx.fitted.predict(X_NAN),
        raises(ValueError, not_finite.format(what="NaN")),
        _fitted,
    )
    add(
        ("classifier", "skorch-classifier", "ridge", "tree"),
        "inf-in-X",
        lambda name: _fit_call(name, X_INF),
        raises(ValueError, not_finite.format(what="infinity")),
    )
    add(
        ("classifier", "skorch-classifier", "ridge"),
        "empty-X",
        lambda name: _fit_call(name, X[:0], _y(name)[:0]),
        raises(ValueError, r"0 sample\(s\) \(shape=\(0, 3\)\) while a minimum of 1 .* by {cls}"),
    )
    add(
        ("classifier", "ridge"),
        "lengths-of-X-and-y-differ",
        lambda name: _fit_call(name, X, _y(name)[:-1]),
        raises(ValueError, r"inconsistent numbers of samples: \[40, 39\]"),
    )
    add(
        ("classifier", "skorch-classifier", "ridge"),
        "wrong-feature-count-at-predict",
        lambda name: lambda ctx: ctx.fitted.predict(X[:, :2]),
        raises(ValueError, "X has 2 features, but {cls} is expecting 3 features as input"),
        _fitted,
    )
    add(
        ALL,
        "dataframe-keeps-feature-names",
        lambda name: _fit_then(name, DF, lambda model: _output(model, DF)),
        lambda name: Returns(_keeps_feature_names(name)),
    )
    add(
        ("classifier", "ridge"),
        "dataframe-with-other-columns-at-predict",
        lambda name: lambda ctx: ctx.fitted.predict(DF.rename(columns={"age": "years"})),
        raises(ValueError, "feature names should match those that were passed during fit"),
        functools.partial(_fitted, frame=True),
    )
    add(
        ("classifier",),
        "array-at-predict-after-dataframe-fit",
        lambda name: lambda ctx: _output(ctx.fitted, X),
        lambda name: Returns(_as_on_the_frame, warns="X does not have valid feature names"),
        functools.partial(_fitted, frame=True),
    )
    add(
        ("classifier", "ridge", "kernel-ridge", "tree"),
        "sparse-X-same-as-dense",
        lambda name: (
            lambda ctx: (
                _output(ESTIMATORS[name]().fit(sp.csr_matrix(X), _y(name)), sp.csr_matrix(X)),
                _output(_fitted(name), X),
            )
        ),
        lambda name: Returns(_same_as_dense),
    )
    add(
        ("skorch-classifier",),
        "sparse-X-refused-as-the-net-refuses-it",
        lambda name: _fit_call(name, sp.csr_matrix(X)),
        raises(TypeError, "Sparse data was passed for X, but dense data is required"),
    )
    add(
        ("classifier", "kernel-ridge"),
        "sample-weight-length-differs",
        lambda name: _fit_call(name, X, sample_weight=np.ones(39)),
        raises(ValueError, r"sample_weight.shape == \(39,\), expected \(40,\)"),
    )
    add(
        ("classifier", "ridge", "kernel-ridge", "tree"),
        "negative-sample-weight",
        lambda name: _fit_call(name, X, sample_weight=np.r_[-1.0, np.ones(39)]),
        raises(
            ValueError,
            "sample_weight must be non-negative.* negative weights, 1 of 40, the smallest -1",
        ),
    )

    # Classification targets.
    add(
        CLASSIFIERS,
        "string-labels-round-trip",
        lambda name: _fit_then(
            name, X, lambda model: model.predict(X), np.array(["ham", "spam"])[Y]
        ),
        lambda name: Returns(_string_labels_round_trip(name)),
    )
    add(
        CLASSIFIERS,
        "one-class",
        lambda name: _fit_call(name, X, np.zeros(40, dtype=int)),
        raises(ValueError, r"y needs at least 2 classes among its labelled rows; it has 1 class"),
    )
    add(
        CLASSIFIERS,
        "one-sample",
        lambda name: _fit_call(name, X[:1], Y[:1]),
        raises(ValueError, "y needs at least 2 classes"),
    )
    add(
        CLASSIFIERS,
        "labels-of-mixed-types",
        lambda name: _fit_call(name, X, np.array([1, "spam"] * 20, dtype=object)),
        raises(ValueError, "y mixes class labels of types int and str.* all numbers or all str"),
    )
    nan_y = np.where(Y == 1, 1.0, np.nan)
    classifier = ESTIMATORS["classifier"]
    cases += [
        Case(
            "classifier",
            "nan-in-y",
            lambda ctx: classifier().fit(X, nan_y),
            Raises(ValueError, "Input y contains NaN"),
        ),
        Case(
            "classifier",
            "continuous-y",
            lambda ctx: classifier().fit(X, Y_REG),
            Raises(ValueError, "Unknown label type: continuous"),
        ),
        Case(
            "classifier",
            "one-dimensional-X",
            lambda ctx: classifier().fit(X[:, 0], Y),
            Raises(ValueError, "Expected 2D array, got 1D array instead"),
        ),
        Case(
            "classifier",
            "predict-before-fit",
            lambda ctx: classifier().predict(X),
            Raises(NotFittedError, "This SelfDistillationClassifier instance is not fitted yet"),
        ),
        Case(
            "classifier",
            "all-sample-weights-zero",
            lambda ctx: classifier().fit(X, Y, sample_weight=np.zeros(40)),
            Raises(ValueError, "Sample weights must contain at least one non-zero number"),
        ),
        Case(
            "classifier",
            "nan-sample-weight",
            lambda ctx: classifier().fit(X, Y, sample_weight=np.r_[np.nan, np.ones(39)]),
            Raises(ValueError, "Input sample_weight contains NaN"),
        ),
        Case(
            "classifier",
            "every-row-unlabeled",
            lambda ctx: SelfDistillationClassifier(unlabeled=-1).fit(X, np.full(40, -1)),
            Raises(ValueError, r"Every row of y is marked unlabelled \(unlabeled=-1\)"),
        ),
        Case(
            "classifier",
            "too-few-rows-for-early-stopping",
            lambda ctx: SelfDistillationClassifier(early_stopping=True).fit(X[:4], [0, 1, 0, 1]),
            Raises(
                ValueError, "early_stopping=True holds out a stratified validation set .* small"
            ),
        ),
        Case(
            "classifier",
            "string-X-through-a-pipeline-that-encodes-it",
            lambda ctx: (
                SelfDistillationClassifier(
                    make_pipeline(OneHotEncoder(), LogisticRegression()), n_generations=2
                )
                .fit(np.array([["a"], ["b"]] * 10), ["a", "b"] * 10)
                .predict(np.array([["b"], ["a"]]))
            ),
            Returns(_predicts(["b", "a"])),
        ),
    ]

    # The skorch net.
    net_classifier = ESTIMATORS["skorch-classifier"]
    cases += [
        Case(
            "skorch-classifier",
            "float64-X-fit-as-float32",
            lambda ctx: (
                _seeded(lambda: net_classifier().fit(X, Y)),
                _seeded(lambda: net_classifier().fit(X.astype(np.float32), Y)),
            ),
            Returns(_same_probabilities),
        ),
        Case(
            "skorch-classifier",
            "module-built-for-another-feature-count",
            lambda ctx: SelfDistillationClassifier(_net(module__in_features=5)).fit(X, Y),
            Raises(ValueError, "MLP was built with in_features=5 .* set in_features=3"),
        ),
        Case(
            "skorch-classifier",
            "module-with-fewer-outputs-than-classes",
            lambda ctx: net_classifier().fit(X, np.arange(40) % 3),
            Raises(ValueError, r"outputs of shape \(2, 2\) .* 3 classes .* module__num_classes=3"),
        ),
        Case(
            "skorch-classifier",
            "sample-weight-of-zeros-and-twos",
            lambda ctx: net_classifier().fit(X, Y, sample_weight=np.arange(40) % 2 * 2.0),
            Returns(lambda clf: _predicts_every_row(clf, X)),
        ),
    ]

    # Regression targets.
    add(
        ("ridge", "tree"),
        "string-y",
        lambda name: _fit_call(name, X, np.array(["low", "high"] * 20)),
        raises(ValueError, "{cls} needs numeric y .* dtype <U4 .* SelfDistillationClassifier"),
    )
    add(
        ("ridge", "kernel-ridge"),
        "nan-in-y",
        lambda name: _fit_call(name, X, Y_REG_NAN),
        raises(ValueError, "Input y contains NaN"),
    )
    add(
        REGRESSORS,
        "one-sample",
        lambda name: _fit_then(name, X[:1], lambda model: model.predict(X[:1]), Y_REG[:1]),
        lambda name: Returns(
            _as_naive_generations(name, X[:1], Y_REG[:1]),
            warns=r"R\^2 score is not well-defined with less than two samples",
        ),
    )
    ridge = ESTIMATORS["ridge"]
    cases += [
        Case(
            "ridge",
            "inf-in-y",
            lambda ctx: ridge().fit(X, Y_REG_INF),
            Raises(ValueError, "Input y contains infinity"),
        ),
        Case(
            "ridge",
            "string-column-in-dataframe",
            lambda ctx: ridge().fit(DF.assign(income="high"), Y_REG),
            Raises(ValueError, "needs numeric X with a Ridge estimator; got X of dtype object"),
        ),
        Case(
            "kernel-ridge",
            "string-column-in-dataframe-at-predict",
            lambda ctx: ctx.fitted.predict(DF.assign(income="high")),
            Raises(ValueError, "needs numeric X with a KernelRidge .* OneHotEncoder or Ordinal"),
            lambda: _fitted("kernel-ridge", frame=True),
        ),
        Case(
            "tree",
            "n-generations-inf-without-a-closed-form",
            lambda ctx: SelfDistillationRegressor(
                DecisionTreeRegressor(), n_generations=np.inf
            ).fit(X, Y_REG),
            Raises(
                ValueError, "n_generations=inf .* needs a closed form.*; got DecisionTreeRegressor"
            ),
        ),
        Case(
            "tree",
            "fewer-rows-than-cross-fit-folds",
            lambda ctx: SelfDistillationRegressor(
                DecisionTreeRegressor(), n_generations=2, teacher_predictions="cross_fit"
            ).fit(X[:3], Y_REG[:3]),
            Raises(
                ValueError, "'cross_fit' cannot split the 3 training rows into the folds of cv=5"
            ),
        ),
    ]
    return cases


# -- DistillationLoss -----------------------------------------------------------------------

_g = torch.Generator().manual_seed(0)
STUDENT = torch.randn(4, 3, generator=_g) * 2
TEACHER = torch.randn(4, 3, generator=_g) * 2
LABELS = torch.tensor([0, 1, 2, -1])
LOSS = DistillationLoss(alpha=0.5, temperature=2.0)


def _first_logit(tensor, value):
    changed = tensor.clone()
    changed[0, 0] = value
    return changed


def _nan_as_in_torch(logits):
    """NaN, as torch's own cross-entropy gives on the same non-finite logits."""

    def check(loss):
        assert loss.ndim == 0 and torch.isnan(loss)
        assert torch.isnan(F.cross_entropy(logits[:3], LABELS[:3]))

    return check


def _ruled_out_class_weighs_nothing(loss):
    # A teacher logit of -1e4 is a probability that underflows to 0, as -inf's is.
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, LOSS(STUDENT, LABELS, _first_logit(TEACHER, -1e4)))


def _loss_cases():
    same_shape = r"teacher_logits must have the shape of student_logits, \(4, 3\)"
    nan_student, inf_student = _first_logit(STUDENT, np.nan), _first_logit(STUDENT, np.inf)
    nan_teacher = _first_logit(TEACHER, np.nan)
    rows = [
        (
            "nan-student-logits",
            lambda ctx: LOSS(nan_student, LABELS, TEACHER),
            Returns(_nan_as_in_torch(nan_student)),
        ),
        (
            "nan-teacher-logits",
            lambda ctx: LOSS(STUDENT, LABELS, nan_teacher),
            Returns(_nan_as_in_torch(nan_teacher)),
        ),
        (
            "inf-student-logit",
            lambda ctx: LOSS(inf_student, LABELS, TEACHER),
            Returns(_nan_as_in_torch(inf_student)),
        ),
        (
            "minus-inf-teacher-logit",
            lambda ctx: LOSS(STUDENT, LABELS, _first_logit(TEACHER, -np.inf)),
            Returns(_ruled_out_class_weighs_nothing),
        ),
        (
            "teacher-batch-size-differs",
            lambda ctx: LOSS(STUDENT, LABELS, TEACHER[:3]),
            Raises(ValueError, same_shape + r".*; got \(3, 3\)"),
        ),
        (
            "labels-batch-size-differs",
            lambda ctx: LOSS(STUDENT, LABELS[:3], TEACHER),
            Raises(ValueError, r"y must hold one class index per row .* \(4,\); got shape \(3,\)"),
        ),
        (
            "teacher-class-count-differs",
            lambda ctx: LOSS(STUDENT, LABELS, torch.zeros(4, 5)),
            Raises(ValueError, same_shape + r".*; got \(4, 5\)"),
        ),
        (
            "wrong-teacher-shape-even-with-alpha-0",
            lambda ctx: DistillationLoss(alpha=0.0)(STUDENT, LABELS, torch.zeros(4, 5)),
            Raises(ValueError, same_shape),
        ),
        (
            "empty-batch",
            lambda ctx: LOSS(STUDENT[:0], LABELS[:0], TEACHER[:0]),
            Raises(ValueError, r"needs at least one; got student_logits of shape \(0, 3\)"),
        ),
        (
            "label-out-of-range",
            lambda ctx: LOSS(STUDENT, torch.tensor([0, 1, 3, -1]), TEACHER),
            Raises(
                ValueError, r"y holds class indices from -1 to 3; with 3 classes .* 0\.\.2, or -1"
            ),
        ),
        (
            "float-labels",
            lambda ctx: LOSS(STUDENT, LABELS.float(), TEACHER),
            Raises(TypeError, "y must hold integer class indices .* got torch.float32"),
        ),
        (
            "one-hot-labels",
            lambda ctx: LOSS(STUDENT, torch.eye(3)[[0, 1, 2, 0]].long(), TEACHER),
            Raises(ValueError, r"one class index per row .* \(4,\); got shape \(4, 3\)"),
        ),
        (
            "numpy-arrays",
            lambda ctx: LOSS(STUDENT.numpy(), LABELS, TEACHER),
            Raises(TypeError, "DistillationLoss takes tensors; student_logits is a ndarray"),
        ),
        (
            "one-dimensional-logits",
            lambda ctx: LOSS(STUDENT[:, 0], LABELS, TEACHER[:, 0]),
            Raises(ValueError, r"tensor of shape \(n_samples, n_classes\); got .* shape \(4,\)"),
        ),
        (
            "integer-logits",
            lambda ctx: LOSS(STUDENT.long(), LABELS, TEACHER),
            Raises(ValueError, "student_logits must be a floating-point tensor .* torch.int64"),
        ),
        (
            "infinite-temperature",
            lambda ctx: DistillationLoss(temperature=np.inf),
            Raises(ValueError, "'temperature' parameter .* must be a finite float > 0; got inf"),
        ),
    ]
    return [Case("distillation-loss", kind, call, expect) for kind, call, expect in rows]


# -- the data loaders -----------------------------------------------------------------------

FILE_LOADERS = {
    "load-mnist": (load_mnist, "MNIST"),
    "load-fashion-mnist": (load_fashion_mnist, "Fashion-MNIST"),
    "load-cifar10": (load_cifar10, "CIFAR-10"),
}


def _a_file(ctx):
    path = ctx.tmp / "not-a-folder"
    path.write_text("x")
    return path


def _cut_short(path, n_bytes):
    path.write_bytes(path.read_bytes()[:-n_bytes])


def _truncated_idx(ctx):
    write_idx(ctx.tmp)
    _cut_short(ctx.tmp / "train-images-idx3-ubyte", 10)
    return load_mnist(data_home=ctx.tmp)


def _truncated_gzip(ctx):
    write_idx(ctx.tmp, gz=True)
    _cut_short(ctx.tmp / "train-images-idx3-ubyte.gz", 10)
    return load_fashion_mnist(data_home=ctx.tmp)


def _truncated_pickle(ctx):
    write_cifar(ctx.tmp, ["test_batch"])
    _cut_short(ctx.tmp / "test_batch", 20)
    return load_cifar10(split="test", data_home=ctx.tmp)


def _more_labels_than_images(ctx):
    write_idx(ctx.tmp, n=3)
    (ctx.tmp / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4, dtype=np.uint8)))
    return load_mnist(data_home=ctx.tmp)


def _env_var_names_a_file(ctx):
    ctx.monkeypatch.setenv("SKLEARN_SELFDISTILL_DATA", str(_a_file(ctx)))
    return load_mnist()


def _loader_cases():
    cases = [
        Case(
            name,
            "unknown-split",
            lambda ctx, loader=loader: loader(split="validation"),
            Raises(InvalidParameterError, f"'split' parameter of {loader.__name__} must be a str"),
        )
        for name, loader in (("load-digits", load_digits), ("load-cifar10", load_cifar10))
    ]
    for name, (loader, title) in FILE_LOADERS.items():
        cases.append(
            Case(
                name,
                "missing-files-without-download",
                lambda ctx, loader=loader: loader(data_home=ctx.tmp),
                Raises(FileNotFoundError, f"No {re.escape(title)} train files .* download=True"),
            )
        )
    for name in ("load-mnist", "load-cifar10"):
        loader, title = FILE_LOADERS[name]
        cases.append(
            Case(
                name,
                "data-home-is-a-file",
                lambda ctx, loader=loader: loader(data_home=_a_file(ctx)),
                Raises(
                    NotADirectoryError,
                    f"data_home names .*not-a-folder, which is a file; it must be a folder: "
                    f"the one that holds the {re.escape(title)} files",
                ),
            )
        )
    cases += [
        Case(
            "load-mnist",
            "environment-variable-names-a-file",
            _env_var_names_a_file,
            Raises(
                NotADirectoryError, "SKLEARN_SELFDISTILL_DATA environment variable names .*file"
            ),
        ),
        Case(
            "load-mnist",
            "truncated-idx-file",
            _truncated_idx,
            Raises(ValueError, r"idx3-ubyte is truncated or corrupt: .* shape \(3, 28, 28\)"),
        ),
        Case(
            "load-mnist",
            "more-labels-than-images",
            _more_labels_than_images,
            Raises(ValueError, "holds 3 images but .*train-labels-idx1-ubyte holds 4 labels"),
        ),
        Case(
            "load-fashion-mnist",
            "truncated-gzip-file",
            _truncated_gzip,
            Raises(ValueError, r"train-images-idx3-ubyte\.gz is not a valid gzip file"),
        ),
        Case(
            "load-cifar10",
            "truncated-pickle",
            _truncated_pickle,
            Raises(ValueError, "test_batch is not a readable pickle"),
        ),
        Case(
            "load-digits",
            "test-size-below-the-class-count",
            lambda ctx: load_digits(test_size=5),
            Raises(
                ValueError, "test_size = 5 should be greater or equal to the number of classes"
            ),
        ),
    ]
    return cases


# -- the command line -----------------------------------------------------------------------


def _cli(*argv):
    """A call that runs ``main(argv)`` in this process: (exit status, stdout, stderr)."""

    def call(ctx):
        resolved = [arg.format(tmp=ctx.tmp) for arg in argv]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(resolved)
            except SystemExit as exc:  # argparse's own errors
                status = exc.code
        return status, out.getvalue(), err.getvalue()

    return call


def _after(prepare, call):
    """``call`` once ``prepare(ctx)`` has laid out the files it needs."""

    def run(ctx):
        prepare(ctx)
        return call(ctx)

    return run


def _exits(status, pattern):
    """The command stops with ``status`` and a one-line reason on stderr, no traceback."""

    def check(result):
        got, out, err = result
        assert got == status, err
        assert re.search(pattern, err), err
        assert "Traceback" not in err and out == ""

    return Returns(check)


def _run_folder(ctx, config="seed: 0\n"):
    folder = ctx.tmp / "run"
    folder.mkdir()
    (folder / "config.yaml").write_text(config)


def _bad_yaml(ctx):
    (ctx.tmp / "bad.yaml").write_text("training:\n  epochs: : :\n")


def _weights_changed_after_their_marker(ctx):
    _run_folder(ctx)
    lineage = Lineage(ctx.tmp / "run")
    lineage.write_generation(0, b"weights", {"classes": [0, 1]})
    lineage.weights_path(0).write_bytes(b"changed")


def _cli_cases():
    rows = [
        ("unknown-command", _cli("fit"), _exits(2, "invalid choice: 'fit'")),
        (
            "unknown-key",
            _cli("train", "training.epoch=3", "--runs-dir", "{tmp}"),
            _exits(2, r"unknown config key 'training.epoch' \(did you mean 'training.epochs'\?\)"),
        ),
        (
            "section-as-key",
            _cli("train", "training=3"),
            _exits(2, "'training' is a section; set one of its keys"),
        ),
        (
            "override-without-value",
            _cli("train", "training.epochs"),
            _exits(2, "overrides are key=value"),
        ),
        (
            "infinite-learning-rate",
            _cli("train", "training.lr=.inf"),
            _exits(2, r"training.lr=inf: must be a number in \(0, 100\]"),
        ),
        (
            "infinite-weight-decay",
            _cli("train", "training.weight_decay=.inf"),
            _exits(2, r"training.weight_decay=inf: must be a number in \[0, 1\]"),
        ),
        (
            "alpha-outside-0-1",
            _cli("train", "distillation.alpha=1.5"),
            _exits(2, r"'alpha' parameter of SelfDistillationClassifier .* range \[0.0, 1.0\]"),
        ),
        (
            "infinite-temperature",
            _cli("train", "distillation.temperature=.inf"),
            _exits(2, r"distillation.temperature=inf: must be a number in \(0, 1000\]"),
        ),
        (
            "missing-config-file",
            _cli("train", "--config", "{tmp}/missing.yaml"),
            _exits(2, "cannot read the config file .*missing.yaml: .*No such file"),
        ),
        (
            "config-file-not-yaml",
            _after(_bad_yaml, _cli("train", "--config", "{tmp}/bad.yaml")),
            _exits(2, "cannot read the config file .*bad.yaml: mapping values are not allowed"),
        ),
        (
            "runs-dir-is-a-file",
            _after(_a_file, _cli("train", "--runs-dir", "{tmp}/not-a-folder")),
            _exits(2, "--runs-dir .*not-a-folder is a file; it must be a folder"),
        ),
        (
            "resume-folder-does-not-exist",
            _cli("train", "--resume", "{tmp}/nowhere"),
            _exits(
                2, "nowhere is not a run folder of sklearn-selfdistill train: it has no config"
            ),
        ),
        (
            "resume-with-unreadable-config",
            _after(
                lambda ctx: _run_folder(ctx, ": : [\n"), _cli("train", "--resume", "{tmp}/run")
            ),
            _exits(2, "cannot read the config file .*run/config.yaml"),
        ),
        (
            "resume-changing-a-fixed-key",
            _after(_run_folder, _cli("train", "--resume", "{tmp}/run", "training.epochs=3")),
            _exits(2, "training.epochs cannot change. Keys that can:"),
        ),
        (
            "evaluate-a-folder-that-is-not-a-run",
            _cli("evaluate", "{tmp}"),
            _exits(2, "is not a run folder of sklearn-selfdistill train"),
        ),
        (
            "evaluate-a-run-without-generations",
            _after(_run_folder, _cli("evaluate", "{tmp}/run")),
            _exits(2, "run has no finished generation to evaluate yet"),
        ),
        (
            "evaluate-a-run-whose-weights-changed",
            _after(_weights_changed_after_their_marker, _cli("evaluate", "{tmp}/run")),
            _exits(2, "generation_0.pt was changed after generation 0 was written"),
        ),
        (
            "interpolation-in-an-override",
            _cli("train", "data.data_home=${{oc.env:HOME}}", "--runs-dir", "{tmp}/runs"),
            _exits(2, r"data.data_home is an interpolation \(\$\{...\}\); interpolations"),
        ),
        (
            "threads-beyond-the-cpus",
            _cli("train", "threads=100000", "--runs-dir", "{tmp}/runs"),
            _exits(2, "threads=100000: must be null or an int from 1 to"),
        ),
        (
            "plot-into-a-missing-folder",
            _after(
                _weights_changed_after_their_marker,
                _cli("evaluate", "{tmp}/run", "--plot", "{tmp}/no/such/a.png"),
            ),
            _exits(2, "--plot .*a.png is in .*no/such, which is not an existing folder"),
        ),
        (
            "data-set-files-missing",
            _cli("train", "data=mnist", "data.data_home={tmp}", "--runs-dir", "{tmp}/runs"),
            _exits(
                1, "cannot load the train split of mnist: No MNIST train files .*download=True"
            ),
        ),
        (
            "data-home-is-a-file",
            _after(
                _a_file,
                _cli("train", "data=cifar10", "data.data_home={tmp}/not-a-folder"),
            ),
            _exits(
                1, "cannot load the train split of cifar10: data_home names .* which is a file"
            ),
        ),
    ]
    return [Case("cli", kind, call, expect) for kind, call, expect in rows]


CASES = [*_estimator_cases(), *_loss_cases(), *_loader_cases(), *_cli_cases()]
IDS = [f"{i:03d}/{len(CASES):03d}-{case.entry}-{case.kind}" for i, case in enumerate(CASES, 1)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bad_input(case, tmp_path, monkeypatch):
    # No case sees the machine's data sets or writes outside tmp_path.
    monkeypatch.delenv("SKLEARN_SELFDISTILL_DATA", raising=False)
    monkeypatch.setattr(datasets._files, "_DEBIAN_FASHION_MNIST_DIR", tmp_path / "debian")
    monkeypatch.setattr(datasets._files, "_DEFAULT_DATA_HOME", tmp_path / "default")
    monkeypatch.chdir(tmp_path)
    fitted = None if case.setup is None else case.setup()
    ctx = SimpleNamespace(tmp=tmp_path, monkeypatch=monkeypatch, fitted=fitted)
    case.expect.run(case.call, ctx)
