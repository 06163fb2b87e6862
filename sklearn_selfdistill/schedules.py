"""Temperature schedules over the generations of a self-distillation run."""

import math
from numbers import Integral, Real

from sklearn.base import BaseEstimator

__all__ = ["TemperatureSchedule"]

_KINDS = ("constant", "linear", "cosine", "step")


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, Real) or not value > 0:
        raise ValueError(
            f"The {name!r} parameter of TemperatureSchedule must be a float > 0 "
            f"(a temperature); got {value!r}."
        )
    if not math.isfinite(value):
        raise ValueError(
            f"The {name!r} parameter of TemperatureSchedule must be finite; got {value!r}."
        )


class TemperatureSchedule(BaseEstimator):
    """Temperature of the distillation loss as a function of the generation.

    Generation 0 is fit on the ground truth and has no teacher, so the schedule
    runs over the distilled generations ``1 .. n_generations - 1``: the first
    distilled generation uses ``initial``, the last one ``final`` (for the
    ``"linear"`` and ``"cosine"`` kinds).

    A schedule is a scikit-learn parameter object: ``get_params``, ``set_params``
    and :func:`~sklearn.base.clone` work on it, so a search can tune its
    parameters through a meta-estimator, e.g. ``{"temperature__initial": [1.0, 4.0]}``
    for ``SelfDistillationClassifier(temperature=TemperatureSchedule(...))``. As in
    scikit-learn, the constructor only stores its arguments; they are validated
    each time the schedule is called, so values set with ``set_params`` are
    validated too.

    Parameters
    ----------
    initial : float, default=4.0
        Temperature of generation 1. Must be > 0.
    final : float, default=1.0
        Temperature of the last generation (``"linear"``, ``"cosine"``) or the
        bound that ``"step"`` never goes beyond. Ignored by ``"constant"``. Must be > 0.
    kind : {"constant", "linear", "cosine", "step"}, default="linear"
        ``"constant"``: always ``initial``. ``"linear"``: straight line from
        ``initial`` to ``final``. ``"cosine"``: half a cosine from ``initial`` to
        ``final``. ``"step"``: ``initial * gamma ** ((g - 1) // step_size)``,
        clipped at ``final``.
    step_size : int, default=1
        Generations per step of the ``"step"`` kind.
    gamma : float, default=0.5
        Factor applied at each step of the ``"step"`` kind. Must be > 0.

    See Also
    --------
    SelfDistillationClassifier : takes a schedule as its ``temperature``.

    Examples
    --------
    >>> from sklearn_selfdistill import TemperatureSchedule
    >>> schedule = TemperatureSchedule(initial=4.0, final=1.0, kind="linear")
    >>> [schedule(g, n_generations=5) for g in range(1, 5)]
    [4.0, 3.0, 2.0, 1.0]
    >>> [schedule.set_params(initial=7.0)(g, n_generations=5) for g in range(1, 5)]
    [7.0, 5.0, 3.0, 1.0]
    >>> step = TemperatureSchedule(initial=8.0, final=2.0, kind="step", gamma=0.5)
    >>> [step(g, n_generations=6) for g in range(1, 6)]
    [8.0, 4.0, 2.0, 2.0, 2.0]
    """

    def __init__(self, initial=4.0, final=1.0, kind="linear", step_size=1, gamma=0.5):
        self.initial = initial
        self.final = final
        self.kind = kind
        self.step_size = step_size
        self.gamma = gamma

    def _validate(self):
        """Check the parameters; raise a ValueError naming the first invalid one."""
        _check_positive("initial", self.initial)
        _check_positive("final", self.final)
        if not (isinstance(self.kind, str) and self.kind in _KINDS):
            raise ValueError(
                f"The 'kind' parameter of TemperatureSchedule must be one of {_KINDS}; "
                f"got {self.kind!r}."
            )
        step_size = self.step_size
        if isinstance(step_size, bool) or not isinstance(step_size, Integral) or step_size < 1:
            raise ValueError(
                "The 'step_size' parameter of TemperatureSchedule must be an int >= 1; "
                f"got {step_size!r}."
            )
        _check_positive("gamma", self.gamma)

    def __call__(self, generation, n_generations):
        """Temperature of ``generation`` in a run of ``n_generations``.

        Parameters
        ----------
        generation : int
            The generation, ``1 <= generation < n_generations``.
        n_generations : int or float
            Number of generations of the run, generation 0 included. With
            ``numpy.inf`` the ``"linear"`` and ``"cosine"`` kinds stay at ``initial``.

        Returns
        -------
        temperature : float
            A finite temperature > 0.

        Raises
        ------
        ValueError
            If a parameter is invalid, if ``generation < 1``, or if the schedule
            would drive the temperature of ``generation`` to 0 or to infinity
            (a ``"step"`` schedule whose ``gamma`` moves it away from ``final``).
        """
        self._validate()
        if generation < 1:
            raise ValueError(
                f"Generation {generation} has no teacher; temperatures start at generation 1."
            )
        initial, final = float(self.initial), float(self.final)
        if self.kind == "constant":
            value = initial
        elif self.kind == "step":
            value = self._step(generation, initial, final)
        else:
            n_distilled = n_generations - 1
            progress = 0.0 if n_distilled <= 1 else (generation - 1) / (n_distilled - 1)
            if self.kind == "linear":
                value = initial + (final - initial) * progress
            else:
                value = final + (initial - final) * (1 + math.cos(math.pi * progress)) / 2
        value = float(value)
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(
                f"{self!r} drives the temperature of generation "
                f"{generation} (of n_generations={n_generations}) to {value!r}; a "
                f"temperature must be a finite float > 0. Check 'initial', 'final', "
                f"'gamma' and 'step_size'."
            )
        return value

    def _step(self, generation, initial, final):
        """``initial * gamma ** k`` clipped at ``final``, without overflow."""
        k = (generation - 1) // self.step_size
        gamma = float(self.gamma)
        decreasing = final <= initial
        # Decide the clip in log space, where a huge gamma ** k cannot overflow.
        log_value = math.log(initial) + k * math.log(gamma)
        log_final = math.log(final)
        if (log_value <= log_final) if decreasing else (log_value >= log_final):
            return final
        try:
            value = initial * gamma**k
        except OverflowError:  # moving away from final: the __call__ check refuses it
            return math.inf
        return max(value, final) if decreasing else min(value, final)

    def __repr__(self, N_CHAR_MAX=700):
        # Every parameter, in signature order, on one line (BaseEstimator's repr
        # sorts them and shows only those that differ from the defaults).
        names = ("initial", "final", "kind", "step_size", "gamma")
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"TemperatureSchedule({args})"

    def __eq__(self, other):
        return isinstance(other, TemperatureSchedule) and self.get_params() == other.get_params()

    def __hash__(self):
        return hash(tuple(self.get_params().items()))
