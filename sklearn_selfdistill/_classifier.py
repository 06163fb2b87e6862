"""SelfDistillationClassifier."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets

from ._base import BaseSelfDistillation, _estimator_has
from ._compat import Interval, StrOptions
from ._pseudo_labels import pseudo_label_rows, teacher_labels
from ._routes import DEFAULT_TAIL, ROUTES, rows_indexing_params
from ._students import ClassifierStudent
from .schedules import TemperatureSchedule


def _check_label_types(y):
    """Labels partly strings, partly not, cannot be sorted into ``classes_``: say so."""
    if y.dtype != object or len({isinstance(label, str) for label in y}) < 2:
        return
    kinds = sorted({type(label).__name__ for label in y})
    raise ValueError(
        f"y mixes class labels of types {' and '.join(kinds)}, which cannot be sorted "
        f"together; the labels must be all numbers or all strings."
    )


#: The smallest temperature the soft targets are computed with.
_MIN_TEMPERATURE = 1e-3


class SelfDistillationClassifier(ClassifierMixin, BaseSelfDistillation):
    """Self-distillation of any probabilistic classifier over generations.

    Generation 0 is the wrapped estimator fit on ``y``. Generation ``g >= 1``
    minimises, against generation ``g - 1`` as its teacher, the distillation loss
    ``alpha * T**2 * KL(softmax(z_teacher / T) || softmax(z / T)) + (1 - alpha) *
    CE(y, softmax(z))``. ``alpha`` is the weight of the teacher: ``alpha=0`` gives the
    plain estimator in every generation, ``alpha=1`` is pure distillation (Hinton et
    al. 2015; Furlanello et al. 2018).

    A scikit-learn classifier cannot take that loss, so it learns, row by row, the
    distribution ``r = softmax(z*)`` that a fully flexible student would reach under
    it, ``z*`` the minimiser over the logits ``z`` (one small convex problem per row,
    solved by Newton's method). At ``T=1`` that is exactly
    ``alpha * p_teacher + (1 - alpha) * onehot(y)``; at ``alpha=1`` it is ``p_teacher``
    for every ``T``; a larger ``T`` gives the teacher's view of the wrong classes more
    say, as it does for a net, without softening again in every generation. How the
    estimator learns ``r`` is the ``soft_targets`` route. The estimator must have
    ``predict_proba``.

    With ``unlabeled=-1`` (scikit-learn's semi-supervised convention, as in
    :class:`~sklearn.semi_supervised.SelfTrainingClassifier`), rows labelled ``-1``
    are unlabelled: generation 0 ignores them and later generations learn the
    teacher's distribution on them (the ground-truth term is absent there). This is
    Noisy Student without the noise.

    A :class:`skorch.NeuralNetClassifier` or a subclass of it (the ``torch`` extra;
    the module passed as a class; a subclass's overrides run in every generation) is
    trained as Born-Again networks: generation ``g >= 1`` starts from
    fresh weights and a fresh optimizer (from its teacher's weights if the net has
    ``warm_start=True``) and minimises
    :class:`~sklearn_selfdistill.nn.DistillationLoss`,
    ``alpha * T**2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE(y, p_student)``,
    against the teacher's logits on the training rows, computed once per generation in
    eval mode. The module may return probabilities (skorch's default ``NLLLoss``) or
    logits (``criterion=torch.nn.CrossEntropyLoss``). Noise for the student comes from
    the net: dropout, stochastic depth,
    :class:`~sklearn_selfdistill.nn.RandAugmentNoise`; the mean teacher from
    :class:`~sklearn_selfdistill.nn.EMATeacher`.

    Parameters
    ----------
    estimator : estimator object, default=None
        Classifier with ``fit(X, y, sample_weight)`` and ``predict_proba``. Cloned,
        never modified. None means ``LogisticRegression()``.
    n_generations : int, default=5
        Number of generations, generation 0 included: ``1`` is the plain estimator.
    alpha : float in [0, 1], default=0.7
        Weight of the teacher in the targets of generations ``g >= 1``. (Borup &
        Andersen 2021 and torchdistill's KDLoss weight the ground truth instead:
        their ``alpha`` is ``1 - alpha`` here.)
    temperature : float > 0 or TemperatureSchedule, default=4.0
        Softmax temperature applied to the teacher's log-probabilities; a
        :class:`TemperatureSchedule` changes it over the generations.
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the labelled rows, score
        every generation on it, and stop when ``n_iter_no_change`` generations in a
        row do not improve the best validation score by more than ``tol``. The
        generations are then fit on the remaining rows only.
    validation_fraction : float in (0, 1), default=0.1
        Share of labelled rows held out when ``early_stopping=True`` or
        ``final_generation="best"``.
    n_iter_no_change : int, default=2
        Generations without improvement before early stopping stops.
    tol : float, default=1e-3
        Improvement of the validation score that counts as one.
    scoring : str, callable or None, default=None
        Score for ``history_`` and early stopping; None is the estimator's ``score``
        (accuracy).
    final_generation : {"last", "best", "ensemble"}, default="last"
        What ``predict`` uses: the last generation, the one with the best validation
        score (holds out a validation set even without early stopping), or the
        average of every generation's probabilities (a Born-Again ensemble).
    teacher_predictions : {"in_sample", "cross_fit"}, default="in_sample"
        ``"in_sample"``: the teacher predicts the rows it was fit on (Born-Again).
        ``"cross_fit"``: each row's teacher prediction comes from a copy of the
        teacher fit without that row's ``cv`` fold, as ``cross_val_predict`` does.
        Cross-fitting is what lets distillation change models that memorise their
        training set (trees, boosting); it costs ``cv`` extra fits per generation.
    cv : int, cross-validation generator or iterable, default=5
        Folds for ``teacher_predictions="cross_fit"`` (stratified for an int).
    n_teachers : int >= 1 or "all", default=1
        How many of the latest generations teach generation ``g``: ``1`` is the
        previous generation alone (Born-Again chains); ``k`` the average of the last
        ``k`` generations' probabilities (at temperature 1; ``temperature`` then
        softens the average); ``"all"`` the average of every earlier generation's,
        the Born-Again ensemble taught to one model, which then predicts at one
        model's cost. With ``teacher_predictions="cross_fit"`` each generation's
        out-of-fold probabilities are averaged. Each generation's outputs on the
        training rows are kept (``teacher_outputs_``) to be averaged.
    soft_targets : {"auto", "sample_weight", "sampling", "hard"}, default="auto"
        How a scikit-learn classifier learns each row's target distribution ``r``
        (ignored by skorch nets, which take the loss itself).
        ``"sample_weight"``: the row once per class, weighted by ``r`` (the most
        probable classes holding all but ``soft_target_tail`` of ``r``, renormalised;
        at most ``max(2, 80 // n_classes)`` per row, so twice the rows with 40
        classes or more).
        ``"sampling"``: the row 10 times, with labels drawn from ``r`` by systematic
        sampling (at the midpoints of its cumulative distribution, so deterministic).
        ``"hard"``: the row once, labelled with the argmax of ``r``. ``"auto"`` takes
        ``"sample_weight"`` where the estimator takes ``sample_weight`` and honours it,
        otherwise a route that works: ``"hard"`` for ``SVC``/``NuSVC`` with
        ``probability=True`` (Platt scaling ignores the weights; deprecated in
        scikit-learn 1.9: wrap the SVC in ``CalibratedClassifierCV`` instead, which
        takes ``"sample_weight"``), for estimators with
        explicit cv splits (their indices must keep pointing at the same rows) and for
        classifiers without ``sample_weight`` (``KNeighborsClassifier``: copies of a
        row would be its own neighbours); ``"sampling"`` for
        ``LinearDiscriminantAnalysis`` and ``QuadraticDiscriminantAnalysis`` (copies
        act as weights) and for a Pipeline with a step that takes no ``sample_weight``
        (``PCA``, ``Nystroem``: every row appears equally often, so they see the data
        as it is). The route taken is ``soft_targets_``.
    soft_target_tail : float in [0, 1), default=0.004
        On the ``"sample_weight"`` route, the share of each row's distribution ``r``
        that may be left out, from its least probable classes (``0``: every class
        with a probability, up to the cap above). The default keeps a
        LogisticRegression fit on the repeated rows (digits, ``T=4``) within a mean
        absolute difference in probabilities of 1e-3 of the student of the whole
        ``r``. A ``LogisticRegression`` itself (lbfgs, an l2 penalty or none, no
        ``class_weight``) needs no bound: it learns the whole ``r``, every class of
        every row, in one fit on the rows themselves, exactly the fit of the rows
        repeated for every class.
    n_jobs : int or None, default=None
        Cross-fit folds fit in parallel (joblib; ``-1``: all cores); the result is
        that of ``n_jobs=1``.
    unlabeled : int, str or None, default=None
        The value of ``y`` that marks unlabelled rows (``-1`` in scikit-learn's
        semi-supervised convention). None: every row is labelled, so ``-1`` can be
        an ordinary class, as in ``{-1, 1}`` binary labels.
    pseudo_labels : {"soft", "hard"}, default="soft"
        What the unlabelled rows learn in generations ``g >= 1``: ``"soft"``, the
        teacher's distribution (the distillation term alone); ``"hard"``, the teacher's
        most probable class as their label, so that they take both terms as labelled
        rows do. With ``alpha=0``, ``"hard"`` is self-training with hard pseudo-labels
        (Noisy Student's hard variant, ``SelfTrainingClassifier``'s labels).
    pseudo_label_threshold : float in [0, 1] or None, default=None
        Keep only the unlabelled rows whose teacher's top probability (at ``T=1``) is
        at least this, in each generation (Noisy Student's confidence filter); None
        keeps them all.
    balance_pseudo_labels : bool, default=False
        Give every class, by the teacher's most probable class, as many unlabelled rows
        as the kept rows' mean per class: its most confident rows where it has more,
        its rows repeated where it has fewer (Noisy Student's data balancing).
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
        ``1`` prints a line per generation: temperature, train and validation
        score, seconds.

    Attributes
    ----------
    generations_ : list of estimators
        The fitted generations, generation 0 first.
    n_generations_ : int
        Number of generations fitted (fewer than ``n_generations`` after early stopping).
    history_ : list of dict
        One dict per generation with keys ``generation``, ``alpha`` (0.0 for
        generation 0), ``temperature`` (None for generation 0), ``train_score`` (on
        the labelled training rows), ``validation_score`` (None without a validation
        set) and ``fit_time`` (seconds, teacher predictions included).
    best_generation_ : int or None
        Generation with the best validation score; None without a validation set.
    termination_condition_ : {"max_generations", "plateau"}
        Why the loop stopped.
    cross_fit_outputs_ : ndarray of shape (n_train_rows, n_classes) or None
        With ``teacher_predictions="cross_fit"``, the out-of-fold teacher outputs the
        last generation was fit on (their average with several ``n_teachers``; what
        ``warm_start`` continues from); None otherwise
        or after generation 0 alone.
    teacher_outputs_ : list of ndarray or None
        With ``n_teachers`` other than 1, the outputs of every generation but the last
        on the training rows (probabilities; logits for a skorch net; out-of-fold
        with cross-fit teachers), generation 0 first: what the averaged teachers are
        made of and what ``warm_start`` continues from. None with ``n_teachers=1``.
    estimator_ : estimator
        What ``predict`` uses (see ``final_generation``).
    soft_targets_ : {"sample_weight", "sampling", "hard"} or None
        The route the generations learnt their distributions by (None for a skorch net).
    classes_ : ndarray of shape (n_classes,)
        Class labels (the ``unlabeled`` marker excluded).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column names.

    See Also
    --------
    SelfDistillationRegressor : the same for regressors.
    TemperatureSchedule : temperatures that change over the generations.
    sklearn.semi_supervised.SelfTrainingClassifier : self-training with hard pseudo-labels.

    References
    ----------
    .. [1] G. Hinton, O. Vinyals, J. Dean, "Distilling the Knowledge in a Neural
       Network", 2015.
    .. [2] T. Furlanello, Z. Lipton, M. Tschannen, L. Itti, A. Anandkumar,
       "Born-Again Neural Networks", ICML 2018.
    .. [3] Q. Xie, M.-T. Luong, E. Hovy, Q. V. Le, "Self-training with Noisy Student
       improves ImageNet classification", CVPR 2020.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_selfdistill import SelfDistillationClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SelfDistillationClassifier(LogisticRegression(max_iter=1000),
    ...                                  n_generations=3, alpha=0.7, temperature=2.0)
    >>> clf.fit(X, y).n_generations_
    3
    >>> [h["temperature"] for h in clf.history_]
    [None, 2.0, 2.0]
    >>> clf.predict_proba(X[:1]).round(2)
    array([[0.96, 0.04, 0.  ]])
    """

    _parameter_constraints: dict = {
        **BaseSelfDistillation._parameter_constraints,
        "temperature": [Interval(Real, 0, None, closed="neither"), TemperatureSchedule],
        "unlabeled": [None, Integral, str],
        "pseudo_labels": [StrOptions({"soft", "hard"})],
        "pseudo_label_threshold": [None, Interval(Real, 0, 1, closed="both")],
        "balance_pseudo_labels": ["boolean"],
        "soft_targets": [StrOptions({"auto", *ROUTES})],
        "soft_target_tail": [Interval(Real, 0, 1, closed="left")],
    }
    _y_validation = {"multi_output": False}
    _task = "classifier"

    def __init__(
        self,
        estimator=None,
        *,
        n_generations=5,
        alpha=0.7,
        temperature=4.0,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=2,
        tol=1e-3,
        scoring=None,
        final_generation="last",
        teacher_predictions="in_sample",
        cv=5,
        n_teachers=1,
        soft_targets="auto",
        soft_target_tail=DEFAULT_TAIL,
        n_jobs=None,
        unlabeled=None,
        pseudo_labels="soft",
        pseudo_label_threshold=None,
        balance_pseudo_labels=False,
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
        self.temperature = temperature
        self.soft_targets = soft_targets
        self.soft_target_tail = soft_target_tail
        self.unlabeled = unlabeled
        self.pseudo_labels = pseudo_labels
        self.pseudo_label_threshold = pseudo_label_threshold
        self.balance_pseudo_labels = balance_pseudo_labels

    def _default_estimator(self):
        return LogisticRegression()

    def _check_temperatures(self):
        """Refuse, before any fit, a temperature too small to compute with.

        Below ``_MIN_TEMPERATURE`` the softened teacher is its argmax to the last bit and
        ``log p / T`` overflows: the soft targets would be NaN, not a sharper teacher.
        """
        if not np.isfinite(self.n_generations):
            return
        for generation in range(1, int(self.n_generations)):
            value = self._temperature_at(generation)
            if value < _MIN_TEMPERATURE:
                raise ValueError(
                    f"temperature={self.temperature!r} gives T={value!r} at generation "
                    f"{generation}; a temperature below {_MIN_TEMPERATURE} turns the teacher "
                    f"into its argmax and overflows the softmax. Use T >= {_MIN_TEMPERATURE} "
                    f"(for hard labels from the teacher, soft_targets='hard')."
                )

    def _predictor(self):
        return ClassifierStudent(self.classes_)

    def _temperature_at(self, generation):
        if isinstance(self.temperature, TemperatureSchedule):
            return self.temperature(generation, self.n_generations)
        return float(self.temperature)

    def _prepare_targets(self, X, y, estimator, sample_weight):
        if isinstance(self.temperature, TemperatureSchedule):
            self.temperature._validate()
        self._check_temperatures()
        adapter = self._student_class()
        labeled = np.ones(y.shape[0], dtype=bool)
        if isinstance(self.unlabeled, bool | np.bool_):
            raise ValueError(
                f"unlabeled={self.unlabeled!r} is a boolean, which would mark the rows "
                f"labelled {int(self.unlabeled)} as unlabelled. unlabeled is the label that "
                f"marks an unlabelled row, e.g. unlabeled=-1 (scikit-learn's convention), "
                f"or None when every row is labelled."
            )
        self._check_pseudo_label_settings()
        if self.unlabeled is not None:
            labeled = np.asarray(y != self.unlabeled, dtype=bool).reshape(-1)
            if not labeled.any():
                raise ValueError(
                    f"Every row of y is marked unlabelled (unlabeled={self.unlabeled!r}); "
                    f"generation 0 needs labelled rows."
                )
            indexing = rows_indexing_params(estimator)
            if indexing and not labeled.all():
                raise ValueError(
                    f"Generation 0 leaves the rows marked unlabeled={self.unlabeled!r} out, "
                    f"but the parameter(s) {', '.join(indexing)} of "
                    f"{type(estimator).__name__} hold explicit cv splits, indices into the "
                    f"rows of X that would then point at other rows. Give cv as a number or "
                    f"a splitter object."
                )
        # The marker is no label: -1 may mark the unlabelled rows of string labels.
        _check_label_types(y[labeled])
        check_classification_targets(y[labeled])
        self.classes_ = np.unique(y[labeled])
        if self.classes_.shape[0] < 2:
            unlabeled_note = (
                f" ({np.sum(~labeled)} rows marked unlabeled={self.unlabeled!r} left out)"
                if not labeled.all()
                else ""
            )
            raise ValueError(
                f"y needs at least 2 classes among its labelled rows; it has "
                f"{self.classes_.shape[0]} class{unlabeled_note}: {self.classes_.tolist()}."
            )
        if sample_weight is not None:
            weighed = np.unique(y[labeled & (sample_weight > 0)])
            if weighed.shape[0] < 2:
                raise ValueError(
                    f"y needs at least 2 classes among its labelled rows of positive "
                    f"sample_weight; those rows have {weighed.shape[0]} class: "
                    f"{weighed.tolist()}."
                )
        encoded = np.full(y.shape[0], -1, dtype=np.int64)
        encoded[labeled] = np.searchsorted(self.classes_, y[labeled])
        student = adapter.build(
            estimator,
            X,
            encoded,
            classes=self.classes_,
            soft_targets=self.soft_targets,
            soft_target_tail=self.soft_target_tail,
            teacher_predictions=self.teacher_predictions,
        )
        self.soft_targets_ = student.route
        return student, student.base_targets(encoded), labeled

    def _check_pseudo_label_settings(self):
        settings = {
            "pseudo_labels": (self.pseudo_labels, "soft"),
            "pseudo_label_threshold": (self.pseudo_label_threshold, None),
            "balance_pseudo_labels": (self.balance_pseudo_labels, False),
        }
        changed = [
            f"{name}={value!r}" for name, (value, default) in settings.items() if value != default
        ]
        if changed and self.unlabeled is None:
            raise ValueError(
                f"{', '.join(changed)} set how unlabelled rows are learnt, but "
                f"unlabeled=None marks no row as unlabelled. Set unlabeled to the label of "
                f"the unlabelled rows (e.g. unlabeled=-1), or leave these at their defaults."
            )

    def _generation_rows(self, student, base, output):
        """Noisy Student's data step: hard pseudo-labels, filtering and balancing."""
        if self.unlabeled is None or (
            self.pseudo_labels == "soft"
            and self.pseudo_label_threshold is None
            and not self.balance_pseudo_labels
        ):
            return base, None
        codes = student.codes(base)
        unlabeled = codes < 0
        proba = student.teacher_proba(output)
        rows = pseudo_label_rows(
            proba, unlabeled, self.pseudo_label_threshold, self.balance_pseudo_labels
        )
        if self.verbose and rows is not None:
            kept = rows.shape[0] - int(np.sum(~unlabeled))
            print(
                f"[{type(self).__name__}] pseudo-labels: {kept} rows from "
                f"{int(unlabeled.sum())} unlabelled",
                flush=True,
            )
        if self.pseudo_labels == "hard":
            codes = codes.copy()
            codes[unlabeled] = teacher_labels(proba, unlabeled)
            base = student.with_codes(base, codes)
        return base, rows

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of ``estimator_``, one column per class of ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        X = self._validate_predict_data(X)
        return self._predictor().predict_proba(self.estimator_, X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Available where the wrapped estimator has ``predict_log_proba``, as a Pipeline
        offers it where its last step does.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of ``estimator_`` (averaged for the ensemble).

        One column per class of ``classes_`` (one score for a binary problem, as in
        scikit-learn). A class that a generation never saw (its route kept it for no
        row) scores ``-inf`` in that generation, and so in the ensemble.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        X = self._validate_predict_data(X)
        return self._predictor().decision_function(self.estimator_, X)

    @available_if(_estimator_has("predict_proba"))
    def staged_predict_proba(self, X):
        """Class probabilities of every generation, generation 0 first.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Yields
        ------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities of one generation.
        """
        X = self._validate_predict_data(X)
        predictor = self._predictor()
        for model in self.generations_:
            yield predictor.predict_proba(model, X)
