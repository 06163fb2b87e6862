"""Fit parameters and sample weights reach the wrapped estimator, routing on or off."""

import numpy as np
import pytest
from sklearn import config_context
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_selfdistill import SelfDistillationClassifier, SelfDistillationRegressor
from sklearn_selfdistill._routes import N_DRAWS


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    # Unscaled, so that a scaler inside a pipeline matters.
    return X * [1.0, 10.0, 0.1, 3.0], y


class TaggedLogisticRegression(LogisticRegression):
    """A consumer of one more fit parameter, ``tag``: it records what it was given."""

    def fit(self, X, y, sample_weight=None, tag=None):
        self.tag_ = tag
        return super().fit(X, y, sample_weight=sample_weight)


def test_pipeline_with_routing_enabled_equals_routing_disabled(iris):
    X, y = iris
    weights = np.random.RandomState(0).uniform(0.5, 2.0, size=y.shape[0])
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    fitted = {}
    for routing in (False, True):
        with config_context(enable_metadata_routing=routing):
            clf = SelfDistillationClassifier(pipeline, n_generations=3, random_state=0)
            # Without weights: the soft-target weights alone (once a TypeError).
            unweighted = clf.fit(X, y).predict_proba(X)
            fitted[routing] = (unweighted, clf.fit(X, y, sample_weight=weights).predict_proba(X))
    for a, b in zip(fitted[False], fitted[True], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    # The user's pipeline was not touched (no requests set on it).
    assert pipeline[-1].get_metadata_routing().fit.requests["sample_weight"] is None


def test_the_scaler_sees_the_weights_of_the_repeated_rows(iris):
    X, y = iris
    weights = np.random.RandomState(1).randint(1, 4, size=y.shape[0])
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    clf = SelfDistillationClassifier(pipeline, n_generations=2, random_state=0)
    clf.fit(X, y, sample_weight=weights)
    rows = np.repeat(np.arange(y.shape[0]), weights)
    for generation in clf.generations_:
        np.testing.assert_allclose(generation[0].mean_, X[rows].mean(axis=0), rtol=1e-12)


def test_transformed_target_regressor_takes_sample_weight():
    X, y = make_regression(n_samples=80, n_features=4, noise=5.0, random_state=0)
    weights = np.random.RandomState(0).uniform(0.1, 3.0, size=80)
    ttr = TransformedTargetRegressor(Ridge(alpha=2.0), func=np.arcsinh, inverse_func=np.sinh)
    for routing in (False, True):
        with config_context(enable_metadata_routing=routing):
            reg = SelfDistillationRegressor(ttr, n_generations=2, alpha=0.0)
            reg.fit(X, y, sample_weight=weights)
            reference = clone(ttr)
            if routing:
                reference.regressor.set_fit_request(sample_weight=True)
            reference.fit(X, y, sample_weight=weights)
            np.testing.assert_allclose(reg.predict(X), reference.predict(X), rtol=1e-12)


@pytest.mark.parametrize("routing", [False, True])
def test_fit_parameters_follow_the_rows_of_each_generation(iris, routing):
    X, y = iris
    tag = np.arange(y.shape[0])
    with config_context(enable_metadata_routing=routing):
        estimator = TaggedLogisticRegression(max_iter=1000)
        if routing:
            estimator.set_fit_request(tag=True)
        clf = SelfDistillationClassifier(
            estimator, n_generations=2, soft_targets="sampling", random_state=0
        ).fit(X, y, tag=tag)
    np.testing.assert_array_equal(clf.generations_[0].tag_, tag)
    # Generation 1 is fit on every row N_DRAWS times: its tags are those rows'.
    np.testing.assert_array_equal(clf.generations_[1].tag_, np.repeat(tag, N_DRAWS))


def test_an_unrequested_fit_parameter_is_refused_under_routing(iris):
    X, y = iris
    with config_context(enable_metadata_routing=True):
        clf = SelfDistillationClassifier(TaggedLogisticRegression(), n_generations=2)
        with pytest.raises(UnsetMetadataPassedError, match="tag"):
            clf.fit(X, y, tag=np.arange(y.shape[0]))


def test_grid_search_routes_sample_weight_to_the_meta_estimator(iris):
    X, y = iris
    weights = np.random.RandomState(2).uniform(0.5, 2.0, size=y.shape[0])
    with config_context(enable_metadata_routing=True):
        clf = SelfDistillationClassifier(LogisticRegression(max_iter=500), n_generations=2)
        clf.set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
        search = GridSearchCV(clf, {"alpha": [0.3, 0.9]}, cv=3).fit(X, y, sample_weight=weights)
    direct = SelfDistillationClassifier(
        LogisticRegression(max_iter=500), n_generations=2, alpha=search.best_params_["alpha"]
    ).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(search.predict_proba(X), direct.predict_proba(X), rtol=1e-10)
