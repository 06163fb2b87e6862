"""A grid search sent to a real dask cluster gives the local search's results.

Two worker processes on the loopback interface, joblib's ``"dask"`` backend around
``search.fit`` and nothing else changed: the results must equal those of the same search
run in this process with ``n_jobs=1``, and every candidate must have been scored in a
worker process, never in this one (the scorer writes its process id to a directory).
"""

import logging
import os
import uuid
from pathlib import Path

import joblib
import numpy as np
import pytest
from distributed import Client, LocalCluster
from sklearn.base import clone
from sklearn.datasets import load_digits, make_regression
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_selfdistill import SelfDistillationClassifier, SelfDistillationRegressor

N_SPLITS = 3


class PidRecordingScorer:
    """``metric(y, estimator.predict(X))``, leaving one empty file named after the process.

    Module level, so that it pickles; the files are how a worker process tells the test
    where the scoring (and so the fit before it) ran.
    """

    def __init__(self, metric, directory):
        self.metric = metric
        self.directory = directory

    def __call__(self, estimator, X, y):
        (Path(self.directory) / f"{os.getpid()}-{uuid.uuid4().hex}").touch()
        return self.metric(y, estimator.predict(X))


def scoring_pids(directory):
    return [int(path.name.split("-")[0]) for path in Path(directory).iterdir()]


@pytest.fixture(scope="module")
def client():
    # The nanny starts each worker with OMP/MKL/OPENBLAS_NUM_THREADS=1 (dask's
    # distributed.nanny.pre-spawn-environ), so two one-thread workers use two cores.
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(2, timeout=60)
        yield client  # both are closed when the module's tests are done, or on an error


def classification():
    X, y = load_digits(n_class=4, return_X_y=True)
    X = StandardScaler().fit_transform(X[:240])
    search = GridSearchCV(
        SelfDistillationClassifier(LogisticRegression(C=0.1, max_iter=300), random_state=0),
        {"alpha": [0.0, 0.7], "temperature": [1.0, 4.0], "n_generations": [1, 3]},
        cv=N_SPLITS,
    )
    return search, accuracy_score, X, y[:240]


def regression():
    X, y = make_regression(n_samples=120, n_features=8, noise=10.0, random_state=0)
    search = GridSearchCV(
        SelfDistillationRegressor(KernelRidge(kernel="rbf", gamma=0.05, alpha=0.1)),
        {"alpha": [0.0, 0.3, 0.6, 0.9], "n_generations": [2, 4, np.inf]},
        cv=N_SPLITS,
    )
    return search, r2_score, X, y


@pytest.mark.parametrize("make_search", [classification, regression])
def test_dask_search_equals_the_local_search(client, make_search, tmp_path):
    search, metric, X, y = make_search()
    local_dir, remote_dir = tmp_path / "local", tmp_path / "remote"
    local_dir.mkdir()
    remote_dir.mkdir()

    # One BLAS thread here too, as in the workers, so that both searches round alike (a
    # score has still been seen to differ in its last bit, hence the 1e-12 tolerance).
    local = clone(search).set_params(scoring=PidRecordingScorer(metric, local_dir), n_jobs=1)
    with threadpool_limits(limits=1):
        local.fit(X, y)
    remote = clone(search).set_params(scoring=PidRecordingScorer(metric, remote_dir), n_jobs=-1)
    with threadpool_limits(limits=1), joblib.parallel_backend("dask"):
        remote.fit(X, y)

    # Every (candidate, split) was fit and scored in a worker process, none here.
    n_fits = len(local.cv_results_["params"]) * N_SPLITS
    worker_pids = set(client.run(os.getpid).values())
    assert len(worker_pids) == 2
    assert os.getpid() not in worker_pids
    remote_pids = scoring_pids(remote_dir)
    assert len(remote_pids) == n_fits
    assert set(remote_pids) <= worker_pids
    assert scoring_pids(local_dir) == [os.getpid()] * n_fits

    # The same results, timings aside.
    assert len(set(local.cv_results_["mean_test_score"])) > 1  # the grid matters
    assert remote.cv_results_.keys() == local.cv_results_.keys()
    for key, expected in local.cv_results_.items():
        actual = remote.cv_results_[key]
        if key.endswith("_time"):
            continue
        if key == "params" or key.startswith(("param_", "rank_")):
            assert list(actual) == list(expected), key
        else:
            np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12, err_msg=key)
    assert remote.best_params_ == local.best_params_
    assert remote.best_index_ == local.best_index_
    np.testing.assert_allclose(
        remote.best_estimator_.predict(X), local.best_estimator_.predict(X), rtol=1e-12, atol=0
    )
