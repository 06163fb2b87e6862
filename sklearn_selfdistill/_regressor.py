"""SelfDistillationRegressor."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch, get_tags
from sklearn.utils.validation import check_is_fitted

from ._base import BaseSelfDistillation
from ._closed_form import spectral_diagonals
from ._students import RegressorStudent


class SelfDistillationRegressor(RegressorMixin, BaseSelfDistillation):
    """Self-distillation of any regressor over generations.

    Generation 0 is the wrapped estimator fit on ``y``. Generation ``g >= 1`` is a
    fresh clone fit on ``alpha * teacher(X) + (1 - alpha) * y``, where ``teacher`` is
    generation ``g - 1``. ``alpha`` is the weight of the teacher: ``alpha=0`` gives
    the plain estimator in every generation, ``alpha=1`` is pure distillation.
    Multi-output ``y`` works where the wrapped estimator takes it.

    :class:`~sklearn.kernel_ridge.KernelRidge` (any kernel, ``"precomputed"`` and
    callables included) and :class:`~sklearn.linear_model.Ridge` are not refit once
    per generation: every generation follows from one Cholesky factorization of the
    regularised Gram (or scatter) matrix, and ``n_generations=numpy.inf`` gives the
    limit of infinitely many generations, which for ``alpha < 1`` is the same estimator
    with regulariser ``lambda / (1 - alpha)`` (Mobahi et al. 2020; Borup & Andersen
    2021). ``generations_`` still holds fitted KernelRidge / Ridge objects. Ridge with
    ``positive=True``, one penalty per target, wide sparse data for Ridge, or a
    singular system fall back to refitting.

    The same holds for a :class:`~sklearn.pipeline.Pipeline` whose last step is such
    a KernelRidge or Ridge and whose other steps never look at ``y`` (kernel
    approximations such as :class:`~sklearn.kernel_approximation.Nystroem`, scalers,
    ``PolynomialFeatures``, ``SplineTransformer``, ``PCA``, ``TruncatedSVD``,
    ``FunctionTransformer``, ``"passthrough"``; exact classes): those steps are fit
    once, and the closed form runs on their output, so ``Nystroem`` + ``Ridge``
    self-distils kernel ridge on more rows than an ``n``-by-``n`` kernel would fit in
    memory, limit included. Each generation is an ordinary fitted Pipeline. A random
    step left at ``random_state=None`` gets the seed described under
    ``random_state``, so its features are those of a refit; with this estimator's
    ``random_state=None`` they change from one ``fit`` to the next (shared by all
    generations of one fit). Any other step (``SelectKBest``, your own transformer)
    makes the pipeline refit every generation.

    A :class:`skorch.NeuralNetRegressor` (the ``torch`` extra) is trained generation
    after generation (Born-Again regression): every generation is a clone of the net,
    so skorch starts it from fresh weights and a fresh optimizer, and its targets use
    the previous generation's outputs on the training rows, computed once per
    generation in eval mode. Pass the module as a class (``module__*`` parameters set
    its arguments). ``X`` and the targets reach the net as float32, and predictions
    are the net's float32 outputs. A 1-D ``y`` is fit as a column when the module
    returns ``(N, 1)`` (or as it is when the module returns ``(N,)``), and predictions
    are 1-D again; a 2-D ``y`` needs a module that returns its number of columns. One
    forward pass on two rows checks this before any training. ``sample_weight``
    and ``NaN`` are refused; a subclass of ``NeuralNetRegressor`` is kept (its
    overrides run in every generation); ``generations_[g].history`` is that
    generation's skorch history. With the net's
    ``warm_start=True``, generation ``g >= 1`` starts from its teacher's weights
    instead (with a fresh optimizer).

    Parameters
    ----------
    estimator : estimator object, default=None
        Regressor. Cloned, never modified. None means ``Ridge()``.
    n_generations : int or numpy.inf, default=5
        Number of generations, generation 0 included: ``1`` is the plain estimator.
        ``numpy.inf`` (KernelRidge and Ridge, alone or at the end of a pipeline
        of y-free transformers) fits the limit directly; with ``alpha=1`` that is
        the zero function (a warning says so).
    alpha : float in [0, 1], default=0.5
        Weight of the teacher in the targets of generations ``g >= 1``. Borup &
        Andersen (2021) weight the ground truth instead: their ``alpha`` is
        ``1 - alpha`` here (their 0.35 is our 0.65).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, score every generation on it,
        and stop when ``n_iter_no_change`` generations in a row do not improve the
        best validation score by more than ``tol``. The generations are then fit on
        the remaining rows only.
    validation_fraction : float in (0, 1), default=0.1
        Share of rows held out when ``early_stopping=True`` or
        ``final_generation="best"``.
    n_iter_no_change : int, default=2
        Generations without improvement before early stopping stops.
    tol : float, default=1e-3
        Improvement of the validation score that counts as one.
    scoring : str, callable or None, default=None
        Score for ``history_`` and early stopping; None is the estimator's ``score``
        (R²).
    final_generation : {"last", "best", "ensemble"}, default="last"
        What ``predict`` uses: the last generation, the one with the best validation
        score (holds out a validation set even without early stopping), or the
        average of every generation's predictions.
    teacher_predictions : {"in_sample", "cross_fit"}, default="in_sample"
        ``"in_sample"``: the teacher predicts the rows it was fit on. ``"cross_fit"``:
        each row's teacher prediction comes from a copy of the teacher fit without
        that row's ``cv`` fold; it costs ``cv`` extra fits per generation.
    cv : int, cross-validation generator or iterable, default=5
        Folds for ``teacher_predictions="cross_fit"``.
    n_teachers : int >= 1 or "all", default=1
        How many of the latest generations teach generation ``g``: ``1`` is the
        previous generation alone (Born-Again chains); ``k`` the average of the last
        ``k`` generations' predictions; ``"all"`` the average of every earlier generation's,
        the Born-Again ensemble taught to one model, which then predicts at one model's
        cost. With ``teacher_predictions="cross_fit"`` each generation's out-of-fold
        predictions are averaged. Each generation's outputs on the training rows are kept
        (``teacher_outputs_``) to be averaged.
    n_jobs : int or None, default=None
        Cross-fit folds fit in parallel (joblib; ``-1``: all cores); the result is
        that of ``n_jobs=1``.
    warm_start : bool, default=False
        If True, ``fit`` keeps the generations already fitted (``generations_`` and
        ``history_``, from an earlier ``fit`` on the same data, or restored by hand)
        and adds generations up to ``n_generations``, its teacher the last of them,
        as the gradient boosting and bagging estimators add trees. ``n_generations``
        can only grow; ``teacher_predictions`` must be ``"in_sample"``.
    on_generation_end : callable or None, default=None
        Called as ``on_generation_end(generation, model, history_row)`` as soon as
        each new generation is fitted and scored, ``history_row`` its row of
        ``history_``: to save each generation as it comes (the command line writes
        its run folder so), report progress or stop early by raising. Called in the
        process that runs ``fit``.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split and every ``random_state`` of the wrapped
        estimator that is left at None (one seed shared by all generations).
    verbose : int, default=0
        ``1`` prints a line per generation: train and validation score, seconds.

    Attributes
    ----------
    generations_ : list of estimators
        The fitted generations, generation 0 first.
    n_generations_ : int or float
        Number of generations fitted (fewer than ``n_generations`` after early
        stopping); ``inf`` for the limit, which is then the only entry of
        ``generations_`` and ``history_`` (with ``generation`` = ``inf``).
    history_ : list of dict
        One dict per generation with keys ``generation``, ``alpha`` (0.0 for
        generation 0), ``temperature`` (always None for a regressor),
        ``train_score``, ``validation_score`` (None without a validation set) and
        ``fit_time`` (seconds, teacher predictions included).
    best_generation_ : int or None
        Generation with the best validation score; None without a validation set.
    termination_condition_ : {"max_generations", "plateau"}
        Why the loop stopped.
    cross_fit_outputs_ : ndarray of shape (n_train_rows,) or (n_train_rows, n_outputs) or None
        With ``teacher_predictions="cross_fit"``, the out-of-fold teacher outputs the
        last generation was fit on (their average with several ``n_teachers``; what
        ``warm_start`` continues from); None otherwise
        or after generation 0 alone.
    teacher_outputs_ : list of ndarray or None
        With ``n_teachers`` other than 1, the outputs of every generation but the last
        on the training rows (predictions; out-of-fold with cross-fit teachers), generation 0
        first: what the averaged teachers are made of and what ``warm_start`` continues
        from. None with ``n_teachers=1``.
    estimator_ : estimator
        What ``predict`` uses (see ``final_generation``).
    spectral_diagonals_ : Bunch
        KernelRidge and Ridge (alone or at the end of a closed-form pipeline, then
        on its features) with a finite ``n_generations`` only: the eigenvalues of
        the system matrix and the diagonals ``b_g`` of every generation and of the
        limit; see the property. Computed during ``fit`` for Ridge, on first access
        for KernelRidge (an eigendecomposition of the kernel matrix).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column names.

    See Also
    --------
    SelfDistillationClassifier : the same for classifiers, with soft targets.

    References
    ----------
    .. [1] H. Mobahi, M. Farajtabar, P. Bartlett, "Self-Distillation Amplifies
       Regularization in Hilbert Space", NeurIPS 2020.
    .. [2] K. Borup, L. N. Andersen, "Even your Teacher Needs Guidance:
       Ground-Truth Targets Dampen Regularization Imposed by Self-Distillation",
       NeurIPS 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn_selfdistill import SelfDistillationRegressor
    >>> X = np.arange(10.0).reshape(-1, 1)
    >>> y = 2 * X.ravel() + 1
    >>> reg = SelfDistillationRegressor(Ridge(alpha=1.0), n_generations=4, alpha=0.5)
    >>> reg.fit(X, y).n_generations_
    4
    >>> [round(float(p[-1]), 3) for p in reg.staged_predict(X)]
    [18.892, 18.839, 18.813, 18.8]

    The limit of infinitely many generations of kernel ridge, in one factorization:

    >>> from sklearn.kernel_ridge import KernelRidge
    >>> krr = KernelRidge(alpha=0.2, kernel="rbf", gamma=0.5)
    >>> limit = SelfDistillationRegressor(krr, n_generations=np.inf, alpha=0.6).fit(X, y)
    >>> same = KernelRidge(alpha=0.2 / (1 - 0.6), kernel="rbf", gamma=0.5).fit(X, y)
    >>> bool(np.allclose(limit.predict(X), same.predict(X)))
    True

    Nystroem features and Ridge: one small factorization for any number of rows,
    and the limit is the same pipeline with Ridge's ``alpha / (1 - 0.6)``:

    >>> from sklearn.kernel_approximation import Nystroem
    >>> from sklearn.pipeline import make_pipeline
    >>> pipe = make_pipeline(Nystroem(gamma=0.5, n_components=5, random_state=0), Ridge(0.2))
    >>> limit = SelfDistillationRegressor(pipe, n_generations=np.inf, alpha=0.6).fit(X, y)
    >>> same = make_pipeline(Nystroem(gamma=0.5, n_components=5, random_state=0),
    ...                      Ridge(0.2 / (1 - 0.6))).fit(X, y)
    >>> bool(np.allclose(limit.predict(X), same.predict(X)))
    True
    """

    _y_validation = {"multi_output": True, "y_numeric": True}
    _task = "regressor"

    def __init__(
        self,
        estimator=None,
        *,
        n_generations=5,
        alpha=0.5,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=2,
        tol=1e-3,
        scoring=None,
        final_generation="last",
        teacher_predictions="in_sample",
        cv=5,
        n_teachers=1,
        n_jobs=None,
        warm_start=False,
        on_generation_end=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            estimator,
            n_generations=n_generations,
            alpha=alpha,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            scoring=scoring,
            final_generation=final_generation,
            teacher_predictions=teacher_predictions,
            cv=cv,
            n_teachers=n_teachers,
            n_jobs=n_jobs,
            warm_start=warm_start,
            on_generation_end=on_generation_end,
            random_state=random_state,
            verbose=verbose,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = get_tags(self._template()).target_tags.multi_output
        return tags

    def _default_estimator(self):
        return Ridge()

    def _predictor(self):
        return RegressorStudent(self._target_ndim)

    def _temperature_at(self, generation):
        return None

    def _prepare_targets(self, X, y, estimator, sample_weight):
        # Whatever this fit's spectra will be, none of an earlier fit's survives it.
        self._spectral_inputs = self._spectral_cache = None
        self._target_ndim = np.ndim(y)
        student = self._student_class().build(estimator, X, y)
        return student, student.base_targets(y), np.ones(y.shape[0], dtype=bool)

    def _fit_generations(self, student, estimator, fit, record):
        super()._fit_generations(student, estimator, fit, record)
        if not student.supports_spectral_diagonals or self.n_teachers != 1:
            return
        # The training rows, for the eigendecomposition on first access: KernelRidge
        # generations keep the same array as X_fit_, so this costs no memory and, in a
        # pickle, no bytes (pickle stores one object once).
        self._spectral_inputs = (estimator, fit.X_train, fit.sw_train)
        if isinstance(_last_step(estimator), KernelRidge):
            return
        # Ridge: the system is (features x features) or (rows x rows), whichever is
        # smaller, so its eigendecomposition costs no more than a Ridge fit; done now, it
        # spares keeping the training rows, which prediction does not need.
        try:
            self._spectral_cache = dict(
                spectral_diagonals(
                    estimator, fit.X_train, fit.sw_train, self.alpha, len(self.generations_)
                )
            )
        except AttributeError:
            return  # features the closed form could not take: access says so
        self._spectral_inputs = None

    @property
    def spectral_diagonals_(self):
        """Spectral diagonals ``b_g`` of the closed form.

        In the eigenbasis ``M = V diag(d) V^T`` of the system matrix (``S^1/2 K S^1/2``
        for KernelRidge, ``Xc^T S Xc`` for Ridge, ``S`` the sample weights) generation
        ``g`` fits the training rows as ``V diag(b_g) V^T``, with
        ``b_0 = d / (d + lambda)`` and ``b_g = b_0 * ((1 - alpha) + alpha * b_{g-1})``.
        Directions of small eigenvalues shrink faster: self-distillation sparsifies.
        An eigendecomposition costs several Cholesky factorizations: KernelRidge's
        (of the ``n``-by-``n`` kernel matrix) is computed on first access, from the
        training rows its generations keep anyway as ``X_fit_``; Ridge's (no larger than
        ``min(n, p)`` squared, no dearer than a Ridge fit) during ``fit``, so that a
        fitted Ridge lineage keeps only what prediction needs, not its training rows.
        Only for KernelRidge and Ridge with a finite ``n_generations`` and one teacher;
        for a pipeline of y-free transformers before them, ``M`` is the last step's
        system on the features (``Phi^T S Phi``, centred, for Ridge on Nystroem
        features ``Phi``), recomputed by fitting the other steps on the training rows.

        Returns
        -------
        diagonals : Bunch
            ``eigenvalues`` (``d``, descending, shape ``(m,)``), ``generations``
            (``b_g`` of every fitted generation, shape ``(n_generations_, m)``) and
            ``limit`` (``d / (d + lambda / (1 - alpha))``; zeros for ``alpha=1``).
        """
        check_is_fitted(self)
        # Kept as a plain dict (a fitted model holds only types skops trusts or ours).
        if getattr(self, "_spectral_cache", None) is not None:
            return Bunch(**self._spectral_cache)
        if getattr(self, "_spectral_inputs", None) is None:
            raise AttributeError(
                "spectral_diagonals_ exists only where the closed form was used: a "
                "KernelRidge or Ridge estimator (or a pipeline of y-free transformers "
                "ending in one) with a finite n_generations and n_teachers=1."
            )
        estimator, X, sample_weight = self._spectral_inputs
        self._spectral_cache = dict(
            spectral_diagonals(estimator, X, sample_weight, self.alpha, self.n_generations_)
        )
        return Bunch(**self._spectral_cache)


def _last_step(estimator):
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
