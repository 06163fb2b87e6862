"""KernelRidge / Ridge: every generation and the limit from one factorization.

Both estimators solve ``(M + lam I) w = r(z)`` for targets ``z``, with ``M``
symmetric positive semi-definite and independent of ``z``:

- KernelRidge: ``M = S^1/2 K S^1/2`` (``S`` the sample weights), ``r = S^1/2 z``,
  dual coefficients ``S^1/2 w``;
- Ridge, primal: ``M = Xc^T S Xc`` (``Xc`` the weight-centred X when fitting an
  intercept), ``r = Xc^T S (z - mean z)``, coefficients ``w``;
- Ridge, dual (more features than rows): ``M = S^1/2 Xc Xc^T S^1/2``,
  ``r = S^1/2 (z - mean z)``, coefficients ``Xc^T S^1/2 w``.

One Cholesky factorization of ``M + lam I`` therefore serves every generation,
each of which costs a triangular solve. Generation ``g`` fits
``z_g = alpha * f_{g-1}(X) + (1 - alpha) * y``; its fixed point (``alpha < 1``) is the
same estimator with ``lam / (1 - alpha)``: one more factorization and nothing else.

A :class:`~sklearn.pipeline.Pipeline` of transformers that never look at ``y``
(Nystroem, random features, scalers, PCA, ...; see ``Y_FREE_TRANSFORMERS``) ending in
such a KernelRidge or Ridge is the same estimator on the features ``Phi = prefix(X)``:
refitting the pipeline on any targets refits the prefix to the same ``Phi`` (the
prefix is fit without ``y`` and without sample weights, and a random prefix uses the
seed the meta-estimator fixed for all generations). So the prefix is fit and applied
once, and every generation and the limit are the closed form on ``Phi``: with
``Nystroem(n_components=k)`` and Ridge that is one ``k``-by-``k`` factorization, the
way to self-distil kernel ridge on more rows than an ``n``-by-``n`` kernel fits in memory.

The modules:

- ``_solvers``: the factorized systems of KernelRidge and Ridge, and the fitted
  estimators they give;
- ``_steps``: which pipeline steps are y-free, and the features of a pipeline's prefix;
- ``_student``: the closed-form student adapters of the generation loop;
- ``_spectra``: the spectral diagonals of every generation and of the limit.
"""

from ._solvers import closed_form_system
from ._spectra import spectral_diagonals
from ._steps import Y_FREE_TRANSFORMERS, closed_form_pipeline
from ._student import ClosedFormStudent, PipelineClosedFormStudent, make_closed_form_student

__all__ = [
    "Y_FREE_TRANSFORMERS",
    "ClosedFormStudent",
    "PipelineClosedFormStudent",
    "closed_form_pipeline",
    "closed_form_system",
    "make_closed_form_student",
    "spectral_diagonals",
]
