"""The libraries users wrap most, through the meta-estimators: labels, missing classes_,
persistence with skops. Each library is skipped cleanly where it is not installed."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklearn_selfdistill import SelfDistillationClassifier, SelfDistillationRegressor


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize(
    "labels", [["setosa", "versicolor", "virginica"], [1, 2, 3]], ids=["strings", "one_to_three"]
)
def test_xgboost_gets_class_indices_and_the_user_gets_labels(iris, labels):
    xgboost = pytest.importorskip("xgboost")
    X, codes = iris
    y = np.asarray(labels)[codes]
    booster = xgboost.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1, random_state=0)
    clf = SelfDistillationClassifier(booster, n_generations=3).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.unique(y))
    assert set(clf.predict(X)) <= set(labels)
    for model in clf.generations_:
        np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    # Generation 0 is XGBoost fit on the indices, as a user of XGBoost would have to.
    plain = xgboost.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1, random_state=0)
    plain.fit(X, codes)
    np.testing.assert_allclose(next(clf.staged_predict_proba(X)), plain.predict_proba(X))
    np.testing.assert_array_equal(
        next(clf.staged_predict(X)), np.asarray(labels)[plain.predict(X)]
    )


class _NoClassesAttribute(LogisticRegression):
    """A classifier with predict_proba but no ``classes_`` (as cleanlab's CleanLearning)."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight=sample_weight)
        self._proba_classes = self.classes_
        del self.classes_
        return self

    def predict_proba(self, X):
        self.classes_ = self._proba_classes
        try:
            return super().predict_proba(X)
        finally:
            del self.classes_

    def predict(self, X):
        return np.argmax(self.predict_proba(X), axis=1)


def test_an_estimator_without_classes_is_distilled(iris):
    X, y = iris
    labels = np.array(["a", "b", "c"])[y]
    # Tight tolerances: the reference starts each generation from its teacher's
    # coefficients (warm start), the subclass from zero; both reach the optimum.
    tight = {"max_iter": 5000, "tol": 1e-10}
    # With no tail left out, the subclass's repeated rows are LogisticRegression's whole
    # distribution.
    clf = SelfDistillationClassifier(_NoClassesAttribute(**tight), n_generations=3)
    clf.set_params(soft_target_tail=0.0).fit(X, labels)
    assert not hasattr(clf.generations_[2], "classes_")
    reference = SelfDistillationClassifier(LogisticRegression(**tight), n_generations=3)
    reference.fit(X, labels)
    np.testing.assert_allclose(clf.predict_proba(X), reference.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), reference.predict(X))


def test_cleanlab_inside_the_meta_estimator(iris):
    cleanlab = pytest.importorskip("cleanlab.classification")
    X, y = iris
    inner = cleanlab.CleanLearning(LogisticRegression(max_iter=500), cv_n_folds=3, seed=0)
    clf = SelfDistillationClassifier(inner, n_generations=2).fit(X, np.array([5, 6, 7])[y])
    assert not hasattr(clf.generations_[1], "classes_")
    assert clf.score(X, np.array([5, 6, 7])[y]) > 0.9


def _untrusted_types_are_public(model):
    sio = pytest.importorskip("skops.io")
    untrusted = sio.get_untrusted_types(data=sio.dumps(model))
    ours = [name for name in untrusted if name.startswith("sklearn_selfdistill")]
    others = [name for name in untrusted if not name.startswith("sklearn_selfdistill")]
    for name in ours:
        module_name, _, class_name = name.rpartition(".")
        assert not class_name.startswith("_"), name
        module = __import__(module_name, fromlist=[class_name])
        assert getattr(module, class_name).__doc__, name
    return ours, others, sio.loads(sio.dumps(model), trusted=untrusted)


@pytest.mark.parametrize("final_generation", ["last", "ensemble"])
def test_skops_lists_only_documented_public_classes_of_ours(iris, final_generation):
    X, y = iris
    clf = SelfDistillationClassifier(
        LogisticRegression(max_iter=500), n_generations=3, final_generation=final_generation
    ).fit(X, y)
    ours, others, loaded = _untrusted_types_are_public(clf)
    assert "sklearn_selfdistill._classifier.SelfDistillationClassifier" in ours
    assert (final_generation == "ensemble") == (
        "sklearn_selfdistill.ensemble.GenerationEnsembleClassifier" in ours
    )
    assert others == []
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    reg = SelfDistillationRegressor(n_generations=2, final_generation=final_generation)
    reg.fit(X, y.astype(float))
    assert reg.spectral_diagonals_.eigenvalues.shape == (4,)  # computed at fit (Ridge)
    ours, others, loaded = _untrusted_types_are_public(reg)
    assert others == []
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    np.testing.assert_array_equal(
        loaded.spectral_diagonals_.generations, reg.spectral_diagonals_.generations
    )


def _frame(n=240, seed=0):
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(seed)
    a, b = rng.randn(n), rng.randn(n)
    c = rng.choice(["red", "green", "blue"], size=n)
    score = a + 0.5 * b + np.select([c == "red", c == "green"], [1.5, -1.5], 0.0)
    y = np.where(score > 0.8, "high", np.where(score < -0.8, "low", "mid"))
    X = pd.DataFrame({"a": a, "b": b, "c": pd.Categorical(c)})
    return X, y


def _column_pipeline():
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    columns = ColumnTransformer(
        [("num", StandardScaler(), ["a", "b"]), ("cat", OneHotEncoder(), ["c"])]
    )
    return make_pipeline(columns, LogisticRegression(max_iter=1000))


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"soft_targets": "sampling"},
        {"teacher_predictions": "cross_fit", "cv": 3},
        {"early_stopping": True, "random_state": 0},
    ],
    ids=["sample_weight_route", "repeated_rows", "cross_fit", "validation_split"],
)
def test_a_column_transformer_by_column_name_gets_the_frame_in_every_route(params):
    X, y = _frame()
    clf = SelfDistillationClassifier(_column_pipeline(), n_generations=3, **params).fit(X, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["a", "b", "c"])
    assert clf.n_features_in_ == 3
    for model in clf.generations_:
        np.testing.assert_array_equal(model.feature_names_in_, ["a", "b", "c"])
    # Generation 0 is the pipeline fit on the frame (on the training rows).
    if not params:
        plain = _column_pipeline().fit(X, np.searchsorted(clf.classes_, y))
        np.testing.assert_allclose(next(clf.staged_predict_proba(X)), plain.predict_proba(X))
    assert clf.score(X, y) > 0.8
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(X[["b", "a", "c"]])


def test_unlabelled_rows_of_a_frame():
    X, y = _frame()
    y = y.astype(object)
    y[::3] = -1
    clf = SelfDistillationClassifier(_column_pipeline(), n_generations=2, unlabeled=-1)
    clf.fit(X, y)
    np.testing.assert_array_equal(clf.classes_, ["high", "low", "mid"])
    assert clf.predict(X).shape == (X.shape[0],)


def test_native_categoricals_reach_histgradientboosting():
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = _frame()
    booster = HistGradientBoostingClassifier(
        categorical_features="from_dtype", max_iter=20, random_state=0
    )
    clf = SelfDistillationClassifier(booster, n_generations=2).fit(X, y)
    assert clf.generations_[0].is_categorical_.tolist() == [False, False, True]
    assert clf.score(X, y) > 0.8


def test_lightgbm_keeps_the_column_names():
    lightgbm = pytest.importorskip("lightgbm")
    X, y = _frame()
    X = X.assign(c=X["c"].cat.codes)
    model = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1, random_state=0, n_jobs=1)
    clf = SelfDistillationClassifier(model, n_generations=2).fit(X, y)
    for generation in clf.generations_:
        assert generation.booster_.feature_name() == ["a", "b", "c"]


def test_a_polars_frame_reaches_the_pipeline():
    pl = pytest.importorskip("polars")
    X, y = _frame()
    frame = pl.DataFrame(
        {"a": X["a"].to_numpy(), "b": X["b"].to_numpy(), "c": X["c"].astype(str).to_list()}
    )
    clf = SelfDistillationClassifier(_column_pipeline(), n_generations=2)
    clf.set_params(teacher_predictions="cross_fit", cv=3).fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["a", "b", "c"])
    np.testing.assert_array_equal(clf.predict(frame), clf.predict(X.assign(c=X["c"].astype(str))))


def test_a_regressor_pipeline_gets_the_frame():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, _ = _frame()
    target = X["a"].to_numpy() * 2 + (X["c"] == "red").to_numpy()
    columns = ColumnTransformer(
        [("num", "passthrough", ["a", "b"]), ("cat", OneHotEncoder(), ["c"])]
    )
    reg = SelfDistillationRegressor(make_pipeline(columns, Ridge()), n_generations=3)
    reg.fit(X, target)
    np.testing.assert_array_equal(reg.generations_[2].feature_names_in_, ["a", "b", "c"])
    assert reg.score(X, target) > 0.9
