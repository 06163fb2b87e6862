"""Noisy Student's data step: hard pseudo-labels, confidence filtering, class balancing."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill._pseudo_labels import pseudo_label_rows
from sklearn_selfdistill.datasets import hide_labels


@pytest.fixture(scope="module")
def few_labels():
    X, y = load_digits(return_X_y=True)
    X = X[:600] / 16.0
    y_hidden = hide_labels(y[:600], 60, unlabeled=-1, random_state=0)
    return X, y_hidden


def _lr():
    return LogisticRegression(C=0.5, max_iter=3000)


def _assert_same_model(a, b, X):
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-6)


def test_hard_pseudo_labels_at_alpha_0_are_self_training(few_labels):
    X, y = few_labels
    meta = SelfDistillationClassifier(
        _lr(), n_generations=2, alpha=0.0, unlabeled=-1, pseudo_labels="hard"
    ).fit(X, y)
    teacher = meta.generations_[0]
    labels = y.copy()
    labels[y == -1] = teacher.predict(X[y == -1])
    reference = clone(_lr()).fit(X, labels)
    _assert_same_model(meta.generations_[1], reference, X)


def test_threshold_keeps_the_confident_unlabelled_rows_only(few_labels):
    X, y = few_labels
    meta = SelfDistillationClassifier(
        _lr(),
        n_generations=2,
        alpha=0.0,
        unlabeled=-1,
        pseudo_labels="hard",
        pseudo_label_threshold=0.6,
    ).fit(X, y)
    proba = meta.generations_[0].predict_proba(X)
    kept = (y != -1) | (proba.max(axis=1) >= 0.6)
    assert 0 < np.sum(kept & (y == -1)) < np.sum(y == -1)  # the filter did something
    labels = np.where(y == -1, proba.argmax(axis=1), y)
    reference = clone(_lr()).fit(X[kept], labels[kept])
    _assert_same_model(meta.generations_[1], reference, X)


def test_balanced_pseudo_labels_are_fit_on_the_balanced_rows(few_labels):
    X, y = few_labels
    meta = SelfDistillationClassifier(
        _lr(),
        n_generations=2,
        alpha=0.0,
        unlabeled=-1,
        pseudo_labels="hard",
        balance_pseudo_labels=True,
    ).fit(X, y)
    proba = meta.generations_[0].predict_proba(X)
    rows = pseudo_label_rows(proba, y == -1, balance=True)
    labels = np.where(y == -1, proba.argmax(axis=1), y)
    reference = clone(_lr()).fit(X[rows], labels[rows])
    _assert_same_model(meta.generations_[1], reference, X)


def test_soft_pseudo_labels_with_a_threshold_leave_the_unconfident_rows_out(few_labels):
    X, y = few_labels
    all_rows = SelfDistillationClassifier(
        _lr(), n_generations=2, alpha=0.5, temperature=1.0, unlabeled=-1
    ).fit(X, y)
    filtered = clone(all_rows).set_params(pseudo_label_threshold=0.99).fit(X, y)
    # Generation 0 is the same; generation 1 learns fewer rows, so it differs.
    _assert_same_model(all_rows.generations_[0], filtered.generations_[0], X)
    difference = np.abs(
        all_rows.generations_[1].predict_proba(X) - filtered.generations_[1].predict_proba(X)
    )
    assert difference.max() > 1e-3


def test_pseudo_label_rows_keep_the_labelled_rows_once_and_cut_or_repeat_classes():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3) * 0.3, size=200)
    proba[:150] = np.where(np.arange(3) == 0, 0.8, 0.1)
    unlabeled = np.ones(200, dtype=bool)
    unlabeled[:10] = False
    rows = pseudo_label_rows(proba, unlabeled, balance=True)
    assert np.array_equal(np.sort(rows[np.isin(rows, np.arange(10))]), np.arange(10))
    pseudo = rows[~np.isin(rows, np.arange(10))]
    counts = np.bincount(proba[pseudo].argmax(axis=1), minlength=3)
    assert counts.tolist() == [63, 63, 63]  # 190 rows over 3 classes
    # The rich class kept its most confident rows; the poor ones were repeated.
    assert np.unique(pseudo).shape[0] < pseudo.shape[0]


def test_pseudo_label_rows_without_a_setting_is_every_row_once():
    assert pseudo_label_rows(np.full((4, 2), 0.5), np.ones(4, dtype=bool)) is None


def test_threshold_that_keeps_nothing_leaves_the_labelled_rows():
    proba = np.full((5, 2), 0.5)
    unlabeled = np.array([False, False, True, True, True])
    assert pseudo_label_rows(proba, unlabeled, threshold=0.9).tolist() == [0, 1]
    assert pseudo_label_rows(proba, unlabeled, threshold=0.9, balance=True).tolist() == [0, 1]


@pytest.mark.parametrize(
    "params",
    [
        {"pseudo_labels": "hard"},
        {"pseudo_label_threshold": 0.8},
        {"balance_pseudo_labels": True},
    ],
)
def test_pseudo_label_settings_need_unlabelled_rows(few_labels, params):
    X, y = few_labels
    name, value = next(iter(params.items()))
    with pytest.raises(
        ValueError, match=rf"{name}={value!r} set how unlabelled rows.*unlabeled=None"
    ):
        SelfDistillationClassifier(_lr(), n_generations=2, **params).fit(X, np.abs(y))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"pseudo_labels": "argmax"}, "pseudo_labels"),
        ({"pseudo_label_threshold": 1.5}, "pseudo_label_threshold"),
        ({"balance_pseudo_labels": "yes"}, "balance_pseudo_labels"),
    ],
)
def test_bad_pseudo_label_settings_are_named(few_labels, params, match):
    X, y = few_labels
    with pytest.raises(InvalidParameterError, match=match):
        SelfDistillationClassifier(_lr(), unlabeled=-1, **params).fit(X, y)
