"""cleanlab's CleanLearning around the meta-estimators: it passes sample_weight to fit."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from sklearn_selfdistill import SelfDistillationClassifier

cleanlab = pytest.importorskip("cleanlab.classification")


@pytest.fixture(scope="module")
def noisy():
    X, y = make_classification(
        n_samples=150, n_features=8, n_informative=5, n_classes=3, random_state=0
    )
    rng = np.random.RandomState(0)
    flipped = rng.rand(y.shape[0]) < 0.15
    y = np.where(flipped, (y + rng.randint(1, 3, y.shape[0])) % 3, y)
    return X.astype(np.float32), y


def test_clean_learning_with_a_scikit_learn_classifier(noisy):
    X, y = noisy
    model = SelfDistillationClassifier(LogisticRegression(max_iter=200), n_generations=2)
    cl = cleanlab.CleanLearning(model, cv_n_folds=3, seed=0).fit(X, y)
    assert "sample_weight" in cl.label_issues_df  # the final fit was weighted
    assert cl.predict(X).shape == y.shape
    assert cl.score(X, y) > 0.5


def test_clean_learning_with_a_skorch_net(noisy):
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")

    class Tiny(torch.nn.Module):
        def __init__(self, in_features=8, num_classes=3):
            super().__init__()
            self.linear = torch.nn.Linear(in_features, num_classes)

        def forward(self, x):
            return torch.softmax(self.linear(x), dim=-1)

    X, y = noisy
    torch.manual_seed(0)
    net = skorch.NeuralNetClassifier(
        Tiny, max_epochs=5, lr=0.3, batch_size=32, train_split=None, verbose=0
    )
    model = SelfDistillationClassifier(net, n_generations=2)
    cl = cleanlab.CleanLearning(model, cv_n_folds=3, seed=0).fit(X, y)
    assert "sample_weight" in cl.label_issues_df  # the final fit was weighted
    assert cl.predict(X).shape == y.shape
    np.testing.assert_allclose(cl.predict_proba(X).sum(axis=1), 1.0, rtol=1e-5)
