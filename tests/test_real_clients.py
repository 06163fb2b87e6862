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
    clf = SelfDistillationClassifier(_NoClassesAttribute(**tight), n_generations=3)
    clf.fit(X, labels)
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
    _, _, loaded = _untrusted_types_are_public(reg)
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
