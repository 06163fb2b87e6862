"""Which pipeline steps are y-free, and the features a pipeline's other steps give.

A :class:`~sklearn.pipeline.Pipeline` whose steps before the last never look at ``y``
keeps the closed form of its last step: see ``closed_form_pipeline``.
"""

import numpy as np
from scipy import sparse
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.kernel_approximation import (
    AdditiveChi2Sampler,
    Nystroem,
    PolynomialCountSketch,
    RBFSampler,
    SkewedChi2Sampler,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    PolynomialFeatures,
    RobustScaler,
    SplineTransformer,
    StandardScaler,
)
from sklearn.utils.validation import check_array, has_fit_parameter

from ._solvers import closed_form_system

#: Transformers that never look at ``y`` (nor at sample weights) when fit: a pipeline
#: of these before a KernelRidge / Ridge keeps the closed form. Exact classes only (a
#: subclass may fit differently); anything else (SelectKBest, TargetEncoder, a
#: user's transformer, a ColumnTransformer) makes the pipeline refit every generation.
#: FunctionTransformer is assumed to apply a deterministic function.
Y_FREE_TRANSFORMERS = (
    Nystroem,
    RBFSampler,
    SkewedChi2Sampler,
    AdditiveChi2Sampler,
    PolynomialCountSketch,
    StandardScaler,
    MinMaxScaler,
    MaxAbsScaler,
    RobustScaler,
    Normalizer,
    PolynomialFeatures,
    SplineTransformer,
    FunctionTransformer,
    PCA,
    TruncatedSVD,
)


def _is_passthrough(step):
    return step is None or (isinstance(step, str) and step == "passthrough")


def closed_form_pipeline(estimator):
    """Whether ``estimator`` is a Pipeline of y-free transformers ending in a closed form.

    The last step must be a KernelRidge or Ridge with a closed form (one penalty,
    ``positive=False`` for Ridge); every earlier step one of ``Y_FREE_TRANSFORMERS``
    or ``"passthrough"`` / None. A pipeline that transforms its metadata
    (``transform_input``) does not qualify.
    """
    if type(estimator) is not Pipeline or getattr(estimator, "transform_input", None):
        return False
    steps = estimator.steps
    if not steps or closed_form_system(steps[-1][1], None) is None:
        return False
    return all(
        _is_passthrough(step) or type(step) in Y_FREE_TRANSFORMERS for _, step in steps[:-1]
    )


def _fit_prefix(pipeline, X, sample_weight=None):
    """Fit the pipeline's steps but the last on ``X``, as the meta-estimators' refit would.

    Returns the fitted steps (``(name, transformer)`` pairs, the pipeline's own step
    objects, now fitted) and the features they give for ``X``. No ``y``: the steps do
    not look at it. Sample weights go to each step whose fit takes them, as
    ``_weights.fit_estimator`` delivers them to a refit pipeline.
    """
    steps, features = [], X
    for name, step in pipeline.steps[:-1]:
        if not _is_passthrough(step):
            weights = {}
            if sample_weight is not None and has_fit_parameter(step, "sample_weight"):
                weights = {"sample_weight": sample_weight}
            if hasattr(step, "fit_transform"):
                features = step.fit_transform(features, **weights)
            else:
                features = step.fit(features, **weights).transform(features)
        steps.append((name, step))
    return steps, features


def _checked_features(final, features):
    """``features`` as the closed form needs them, or None where it cannot take them.

    Non-finite or non-numeric features raise the error the last step's own fit would.
    Features that are neither an array nor a sparse matrix (a pandas frame from
    ``set_output``), or wide sparse features for Ridge, are left to the last step's fit.
    """
    if not (isinstance(features, np.ndarray) or sparse.issparse(features)):
        return None
    features = check_array(
        features,
        accept_sparse=("csr", "csc"),
        dtype="numeric",
        ensure_all_finite=True,
        estimator=final,
        input_name="X",
    )
    return features if closed_form_system(final, features) is not None else None


def prefix_features(pipeline, X, sample_weight=None):
    """Fit the steps of ``pipeline`` but the last on ``X`` (see ``closed_form_pipeline``).

    Returns the fitted steps, the features they give for ``X``, and those features as
    the closed form of the last step takes them (None where it cannot take them).
    """
    steps, features = _fit_prefix(pipeline, X, sample_weight)
    return steps, features, _checked_features(pipeline.steps[-1][1], features)
