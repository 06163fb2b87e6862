"""BaseSelfDistillation: validation, the generation loop, plateau stop, history, staging."""

import time
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing

from ._compat import HasMethods, Interval, Options, StrOptions, _fit_context
from ._input_checks import InputChecks
from ._interrupt import noticing_interrupts, raise_if_interrupted
from ._rows import FitData, routing_enabled, score, split_validation
from ._teachers import teacher_output

_MAX_SEED = np.iinfo(np.int32).max


def _estimator_has(attr):
    """For ``available_if``: ``estimator_`` (or, unfitted, the wrapped estimator) has ``attr``."""

    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self._template(), attr)

    return check


def _seed_unset_random_states(estimator, seed):
    """Give every ``random_state`` parameter left at None the same ``seed``.

    All generations share the seed, so that with ``alpha=0`` every generation is
    the same fit as generation 0 even for randomised estimators.
    """
    unset = {
        key: seed
        for key, value in estimator.get_params(deep=True).items()
        if value is None and (key == "random_state" or key.endswith("__random_state"))
    }
    if unset:
        estimator.set_params(**unset)
    return estimator


def _describe_outputs(outputs):
    if isinstance(outputs, list):
        return f"a list of {len(outputs)}"
    return type(outputs).__name__


class BaseSelfDistillation(InputChecks, MetaEstimatorMixin, BaseEstimator, metaclass=ABCMeta):
    """Shared logic of the self-distillation meta-estimators; not for direct use."""

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"]), None],
        "n_generations": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "alpha": [Interval(Real, 0, 1, closed="both")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "scoring": [None, StrOptions(set(get_scorer_names())), callable],
        "final_generation": [StrOptions({"last", "best", "ensemble"})],
        "teacher_predictions": [StrOptions({"in_sample", "cross_fit"})],
        "cv": ["cv_object"],
        "n_teachers": [Interval(Integral, 1, None, closed="left"), StrOptions({"all"})],
        "n_jobs": [None, Integral],
        "warm_start": ["boolean"],
        "on_generation_end": [None, callable],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    @abstractmethod
    def __init__(
        self,
        estimator=None,
        *,
        n_generations,
        alpha,
        early_stopping,
        validation_fraction,
        n_iter_no_change,
        tol,
        scoring,
        final_generation,
        teacher_predictions,
        cv,
        n_teachers,
        n_jobs,
        warm_start,
        on_generation_end,
        random_state,
        verbose,
    ):
        self.estimator = estimator
        self.n_generations = n_generations
        self.alpha = alpha
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.scoring = scoring
        self.final_generation = final_generation
        self.teacher_predictions = teacher_predictions
        self.cv = cv
        self.n_teachers = n_teachers
        self.n_jobs = n_jobs
        self.warm_start = warm_start
        self.on_generation_end = on_generation_end
        self.random_state = random_state
        self.verbose = verbose

    # -- hooks of the public classes -------------------------------------------------

    @abstractmethod
    def _default_estimator(self):
        """The estimator used when ``estimator=None``."""

    @abstractmethod
    def _prepare_targets(self, X, y, estimator, sample_weight):
        """Validate ``y``; return ``(student, base_targets, labeled_mask)``."""

    @abstractmethod
    def _predictor(self):
        """The adapter a fitted meta-estimator predicts through, from its fitted attributes.

        A fitted model keeps no student (its types would not be public, for skops).
        """

    @abstractmethod
    def _temperature_at(self, generation):
        """Temperature of ``generation`` (None where it does not apply)."""

    # -- fitting --------------------------------------------------------------------

    def _template(self):
        return self._default_estimator() if self.estimator is None else self.estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._template())
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.input_tags.pairwise = inner.input_tags.pairwise
        return tags

    def _routed_fit_params(self, fit_params):
        """The parameters for the wrapped estimator's fit (see ``get_metadata_routing``)."""
        if routing_enabled():
            return dict(process_routing(self, "fit", **fit_params).estimator.fit)
        return fit_params

    def get_metadata_routing(self):
        """How ``fit`` routes its parameters: all of them go to the estimator's ``fit``.

        ``sample_weight`` is the meta-estimator's own (multiplied with the soft-target
        weights and delivered to every step of the estimator that weighs); any other
        parameter goes to the wrapped estimator's ``fit`` where it requests it, row
        aligned: a parameter with one entry per row follows the rows each generation
        is fit on.

        Returns
        -------
        routing : MetadataRouter
            A :class:`~sklearn.utils.metadata_routing.MetadataRouter` with the routing
            information.
        """
        router = MetadataRouter(owner=type(self).__name__).add_self_request(self)
        return router.add(
            estimator=self._template(),
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit ``n_generations`` generations, each distilled from the one before.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (sparse only where the wrapped estimator takes it).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights, passed to every generation's fit (multiplied with
            the soft-target weights where a classifier learns through ``sample_weight``).
            An estimator whose fit takes no ``sample_weight`` gets whole-number weights as
            repeated rows.
        **fit_params : dict
            Parameters for the wrapped estimator's ``fit``: with metadata routing
            enabled (``sklearn.set_config(enable_metadata_routing=True)``) those it
            requests, otherwise all of them. A parameter with one entry per row follows
            the rows of each generation.

        Returns
        -------
        self : object
            Fitted meta-estimator.
        """
        self._forget_final_estimator()
        X, y = self._validate_fit_data(X, y)
        estimator = clone(self._template())
        sample_weight = self._check_fit_sample_weight(sample_weight, X, estimator)
        fit_params = self._routed_fit_params(fit_params)
        estimator_seed, split_seed = self._lineage_seeds()
        _seed_unset_random_states(estimator, estimator_seed)
        student, base, labeled = self._prepare_targets(X, y, estimator, sample_weight)
        if not np.isfinite(self.n_generations) and self.n_teachers != 1:
            raise ValueError(
                f"n_generations=inf (the closed-form limit of a chain of generations, each "
                f"the teacher of the next) needs n_teachers=1; got "
                f"n_teachers={self.n_teachers!r}. Use a finite n_generations."
            )
        if not np.isfinite(self.n_generations) and not student.supports_limit:
            raise ValueError(
                f"n_generations=inf (the limit of infinitely many generations) needs a "
                f"closed form, which exists only for KernelRidge and Ridge regressors "
                f"(alone, or at the end of a Pipeline whose other steps never look at y, "
                f"such as Nystroem or StandardScaler); got {type(estimator).__name__}. Use "
                f"a finite n_generations."
            )
        train, validation = split_validation(self, y, labeled, split_seed)
        fit = FitData(X, y, base, sample_weight, fit_params, labeled, train, validation)
        scorer = check_scoring(estimator, scoring=self.scoring)
        self._start_lineage()
        record = self._recorder(student, scorer, fit)
        if not np.isfinite(self.n_generations):
            start = time.perf_counter()
            model = student.fit_limit(
                clone(estimator), fit.X_train, fit.base_train, fit.sw_train, self.alpha
            )
            record(model, np.inf, None, start)
        else:
            try:
                with noticing_interrupts():
                    self._fit_generations(student, estimator, fit, record)
            except (Exception, KeyboardInterrupt) as exc:
                self._attach_partial(exc)
                raise
        self.n_generations_ = len(self.generations_) if np.isfinite(self.n_generations) else np.inf
        self.best_generation_ = (
            None
            if validation is None
            else int(np.argmax([h["validation_score"] for h in self.history_]))
        )
        self.estimator_ = self._final_estimator()
        return self

    def __sklearn_is_fitted__(self):
        # ``generations_`` alone does not make a fitted estimator: a fit that failed
        # part-way leaves its generations there for a warm start.
        return hasattr(self, "estimator_")

    def _forget_final_estimator(self):
        """A fit that fails leaves no ``estimator_`` of an earlier fit behind."""
        for name in ("estimator_", "n_generations_", "best_generation_"):
            self.__dict__.pop(name, None)

    def _lineage_seeds(self):
        """``(estimator seed, validation split seed)`` of this lineage.

        Drawn from ``random_state``; a warm start reuses those of the fit it continues,
        so that with ``random_state=None`` the added generations share the estimator's
        seed and the validation rows of the generations before them.
        """
        kept = getattr(self, "_lineage_seeds_", None)
        if self.warm_start and kept is not None and getattr(self, "generations_", None):
            return kept
        rng = check_random_state(self.random_state)
        self._lineage_seeds_ = (int(rng.randint(_MAX_SEED)), int(rng.randint(_MAX_SEED)))
        return self._lineage_seeds_

    def _start_lineage(self):
        """Empty lineage, or with ``warm_start=True`` the generations already there.

        ``generations_`` and ``history_`` come from an earlier ``fit``, or were set by
        hand (the command line restores them from a run folder) before this one.
        """
        initial = []
        if self.warm_start and getattr(self, "generations_", None):
            history = getattr(self, "history_", None)
            if not isinstance(history, list) or len(history) != len(self.generations_):
                raise ValueError(
                    f"warm_start=True continues from generations_ and history_, which must "
                    f"have one entry per generation; got {len(self.generations_)} "
                    f"generations and "
                    f"{len(history) if isinstance(history, list) else repr(history)} "
                    f"history rows."
                )
            if not np.isfinite(self.n_generations) or self.n_generations < len(history):
                raise ValueError(
                    f"n_generations={self.n_generations} with warm_start=True: "
                    f"{len(history)} generations are fitted already, and a warm start can "
                    f"only add generations. Set n_generations >= {len(history)}, or "
                    f"warm_start=False to start again."
                )
            if self.teacher_predictions == "cross_fit" and len(history) > 1:
                outputs = getattr(self, "cross_fit_outputs_", None)
                if not isinstance(outputs, np.ndarray):
                    raise ValueError(
                        "warm_start=True with teacher_predictions='cross_fit' refits the "
                        "next generation's fold copies on the targets the last generation "
                        "was fit on, which come from cross_fit_outputs_ (the out-of-fold "
                        f"teacher outputs a fit keeps); got {type(outputs).__name__}. Set "
                        "it with generations_ and history_, or fit with warm_start=False."
                    )
            if self.n_teachers != 1 and len(history) > 1:
                outputs = getattr(self, "teacher_outputs_", None)
                kept = isinstance(outputs, list) and len(outputs) == len(history) - 1
                if not kept and self.teacher_predictions == "in_sample":
                    # Rebuilt from the generations themselves in _fit_generations.
                    self.teacher_outputs_ = None
                elif not kept:
                    raise ValueError(
                        f"warm_start=True with n_teachers={self.n_teachers!r} and cross-fit "
                        f"teachers averages the out-of-fold outputs of the earlier "
                        f"generations, which come from teacher_outputs_ (one array per "
                        f"generation after the first); got "
                        f"{_describe_outputs(outputs)} for {len(history)} generations. Set "
                        f"it with generations_ and history_, or fit with warm_start=False."
                    )
            initial = list(zip(self.generations_, history, strict=True))
        if not initial:
            self.cross_fit_outputs_ = None
        if self.n_teachers == 1:
            self.teacher_outputs_ = None
        elif len(initial) <= 1:  # no generation has taught yet
            self.teacher_outputs_ = []
        self.generations_ = [model for model, _ in initial]
        self.history_ = [dict(row) for _, row in initial]
        self.termination_condition_ = "max_generations"

    def _recorder(self, student, scorer, fit):
        """``record(model, generation, temperature, start)``: score, keep and report a
        new generation; returns its validation score."""
        on_generation_end = self.on_generation_end

        def record(model, generation, temperature, start):
            fit_time = time.perf_counter() - start
            view = student.scoring_view(model, fit.X_scored)
            train_score = score(scorer, view, fit.X_scored, fit.y_scored, fit.sw_scored)
            validation_score = None
            if fit.validation is not None:
                view = student.scoring_view(model, fit.X_val)
                validation_score = score(scorer, view, fit.X_val, fit.y_val, fit.sw_val)
            self.generations_.append(model)
            self.history_.append(
                {
                    "generation": generation,
                    "alpha": 0.0 if generation == 0 else float(self.alpha),
                    "temperature": temperature,
                    "train_score": train_score,
                    "validation_score": validation_score,
                    "fit_time": fit_time,
                }
            )
            self._report(self.history_[-1])
            if on_generation_end is not None:
                on_generation_end(generation, model, self.history_[-1])
            return validation_score

        return record

    def _attach_partial(self, exc):
        """Nothing already fitted is lost: it travels with the error."""
        if not self.generations_:
            return
        exc.partial_generations = list(self.generations_)
        exc.partial_history = list(self.history_)
        stopped = "was interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        exc.add_note(
            f"{type(self).__name__}: generation {len(self.generations_)} {stopped}; "
            f"generations 0..{len(self.generations_) - 1} were fitted and are in this "
            f"exception's partial_generations (their history in partial_history)."
        )

    def _final_estimator(self):
        if self.final_generation == "ensemble":
            return self._predictor().ensemble(self.generations_)
        if self.final_generation == "best":
            return self.generations_[self.best_generation_]
        return self.generations_[-1]

    def _fit_generations(self, student, estimator, fit, record):
        """The generation loop, with the plateau stop."""
        best_score, stalled = -np.inf, 0

        def account(validation_score):
            nonlocal best_score, stalled
            if validation_score is None:
                return
            if validation_score > best_score + self.tol:
                best_score, stalled = validation_score, 0
            else:
                stalled += 1

        def plateau_reached():
            if self.early_stopping and stalled >= self.n_iter_no_change:
                self.termination_condition_ = "plateau"
                return True
            return False

        for row in self.history_:  # generations resumed from, if any
            account(row["validation_score"])
        if plateau_reached():  # the resumed run had stopped already
            return
        targets = self._resumed_targets(student, fit)
        if self.n_teachers != 1 and self.teacher_outputs_ is None:
            # An in-sample warm start without them: each generation's outputs on the
            # training rows, as teacher_output computed them.
            self.teacher_outputs_ = [
                student.output(model, fit.X_train) for model in self.generations_[:-1]
            ]
        for generation in range(len(self.generations_), self.n_generations):
            start = time.perf_counter()
            temperature, teacher, rows = None, None, None
            if generation > 0:
                temperature = self._temperature_at(generation)
                teacher = self.generations_[-1]
                # With one teacher, its outputs are not kept past the targets: with many
                # classes they are as large as the targets themselves.
                output = teacher_output(self, student, estimator, fit, targets, teacher)
                output = self._averaged_teachers(student, output)
                if self.teacher_predictions == "cross_fit":
                    self.cross_fit_outputs_ = output  # what a warm start continues from
                base, rows = self._generation_rows(student, fit.base_train, output)
                targets = student.targets(base, output, self.alpha, temperature)
                del output
            student.announce(estimator, generation, self.alpha, temperature)
            X_fit, targets_fit, sw_fit, params_fit = fit.rows(rows, targets)
            model = student.fit(
                clone(estimator),
                X_fit,
                targets_fit,
                sample_weight=sw_fit,
                fit_params=params_fit,
                teacher=teacher,
            )
            del X_fit, targets_fit
            raise_if_interrupted(f"the fit of generation {generation}")
            account(record(model, generation, temperature, start))
            if plateau_reached():
                return

    def _averaged_teachers(self, student, output):
        """The teacher output of the next generation, from the last generation's ``output``.

        With ``n_teachers=1``, ``output`` itself. Otherwise ``output`` joins
        ``teacher_outputs_`` and the result is the average of the last ``n_teachers``
        of them (all with ``"all"``), as the student averages outputs (probabilities for
        a classifier, predictions for a regressor).
        """
        if self.n_teachers == 1:
            return output
        self.teacher_outputs_.append(output)
        kept = self.teacher_outputs_
        if self.n_teachers != "all":
            kept = kept[-self.n_teachers :]
        return output if len(kept) == 1 else student.average_outputs(kept)

    def _generation_rows(self, student, base, output):
        """``(base targets, training rows)`` of a generation ``g >= 1`` from its teacher's
        ``output``: the rows are indices into the training rows (None: each once)."""
        return base, None

    def _resumed_targets(self, student, fit):
        """The targets of the last generation: what the next cross-fit teacher refits.

        Generation 0's are the ground truth; a warm start of a cross-fit lineage past
        generation 0 rebuilds its last generation's from ``cross_fit_outputs_``.
        """
        generation = len(self.generations_)
        if self.teacher_predictions != "cross_fit" or generation < 2:
            return fit.base_train
        outputs = self.cross_fit_outputs_
        if outputs.shape[0] != fit.y_train.shape[0]:
            raise ValueError(
                f"warm_start=True: cross_fit_outputs_ has {outputs.shape[0]} rows, but the "
                f"lineage trains on {fit.y_train.shape[0]}; it is not this lineage's. Fit "
                f"with warm_start=False."
            )
        base, _ = self._generation_rows(student, fit.base_train, outputs)
        return student.targets(base, outputs, self.alpha, self._temperature_at(generation - 1))

    def _report(self, record):
        if not self.verbose:
            return
        n_total = "inf" if not np.isfinite(self.n_generations) else self.n_generations
        parts = [f"[{type(self).__name__}] generation {record['generation']}/{n_total}"]
        if record["temperature"] is not None:
            parts.append(f"T={record['temperature']:.3g}")
        parts.append(f"train={record['train_score']:.4f}")
        if record["validation_score"] is not None:
            parts.append(f"validation={record['validation_score']:.4f}")
        parts.append(f"{record['fit_time']:.2f}s")
        print("  ".join(parts), flush=True)

    # -- prediction -----------------------------------------------------------------

    def predict(self, X):
        """Predict with ``estimator_`` (see ``final_generation``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples (any number of dimensions for a skorch net).

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted labels (a classifier), or predictions with the shape ``y`` had
            in ``fit`` (a regressor).
        """
        X = self._validate_predict_data(X)
        return self._predictor().predict(self.estimator_, X)

    def staged_predict(self, X):
        """Predictions of every generation, generation 0 first.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples (any number of dimensions for a skorch net).

        Yields
        ------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions of one generation, as :meth:`predict` gives them.
        """
        X = self._validate_predict_data(X)
        predictor = self._predictor()
        for model in self.generations_:
            yield predictor.predict(model, X)
