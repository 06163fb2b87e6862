"""The spectral diagonals: how much of each eigendirection every generation keeps."""

import numpy as np
from sklearn.base import clone
from sklearn.utils import Bunch

from ._solvers import closed_form_system, scalar_penalty
from ._steps import closed_form_pipeline, prefix_features


def spectral_diagonals(estimator, X, sample_weight, alpha, n_generations):
    """Eigenvalues ``d`` of ``M`` and the diagonals ``b_g`` of every generation and the limit.

    For a pipeline (see ``closed_form_pipeline``) ``M`` is the system of its last step
    on the features of a fresh fit of its other steps on ``X`` (the same features the
    generations were fit on).
    """
    if closed_form_pipeline(estimator):
        _, _, X = prefix_features(clone(estimator), X, sample_weight)
        estimator = estimator.steps[-1][1]
        if X is None:
            raise AttributeError(
                "spectral_diagonals_ needs the closed form, which the pipeline's last "
                "step could not use on the features of its other steps."
            )
    system = closed_form_system(estimator, X)
    d = np.clip(system(estimator, X, sample_weight, 0.0, decompose=True).eigenvalues, 0.0, None)
    penalty = scalar_penalty(estimator)
    b = [d / (d + penalty)]
    for _ in range(1, n_generations):
        b.append(b[0] * ((1 - alpha) + alpha * b[-1]))
    limit = np.zeros_like(d) if alpha == 1.0 else d / (d + penalty / (1.0 - alpha))
    return Bunch(eigenvalues=d, generations=np.array(b), limit=limit)
