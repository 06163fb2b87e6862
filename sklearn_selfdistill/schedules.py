"""Temperature schedules over the generations of a self-distillation run."""

import math
from numbers import Integral, Real

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


class TemperatureSchedule:
    """Temperature of the distillation loss as a function of the generation.

    Generation 0 is fit on the ground truth and has no teacher, so the schedule
    runs over the distilled generations ``1 .. n_generations - 1``: the first
    distilled generation uses ``initial``, the last one ``final`` (for the
    ``"linear"`` and ``"cosine"`` kinds).

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
    >>> step = TemperatureSchedule(initial=8.0, final=2.0, kind="step", gamma=0.5)
    >>> [step(g, n_generations=6) for g in range(1, 6)]
    [8.0, 4.0, 2.0, 2.0, 2.0]
    """

    def __init__(self, initial=4.0, final=1.0, kind="linear", step_size=1, gamma=0.5):
        _check_positive("initial", initial)
        _check_positive("final", final)
        _check_positive("gamma", gamma)
        if kind not in _KINDS:
            raise ValueError(
                f"The 'kind' parameter of TemperatureSchedule must be one of {_KINDS}; "
                f"got {kind!r}."
            )
        if isinstance(step_size, bool) or not isinstance(step_size, Integral) or step_size < 1:
            raise ValueError(
                "The 'step_size' parameter of TemperatureSchedule must be an int >= 1; "
                f"got {step_size!r}."
            )
        self.initial = initial
        self.final = final
        self.kind = kind
        self.step_size = step_size
        self.gamma = gamma

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
        """
        if generation < 1:
            raise ValueError(
                f"Generation {generation} has no teacher; temperatures start at generation 1."
            )
        if self.kind == "constant":
            return float(self.initial)
        if self.kind == "step":
            value = self.initial * self.gamma ** ((generation - 1) // self.step_size)
            clip = max if self.final <= self.initial else min
            return float(clip(value, self.final))
        n_distilled = n_generations - 1
        progress = 0.0 if n_distilled <= 1 else (generation - 1) / (n_distilled - 1)
        if self.kind == "linear":
            return float(self.initial + (self.final - self.initial) * progress)
        return float(
            self.final + (self.initial - self.final) * (1 + math.cos(math.pi * progress)) / 2
        )

    def get_params(self, deep=True):
        """Parameters of the schedule, as a dict (sklearn convention)."""
        return {
            "initial": self.initial,
            "final": self.final,
            "kind": self.kind,
            "step_size": self.step_size,
            "gamma": self.gamma,
        }

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"TemperatureSchedule({args})"

    def __eq__(self, other):
        return isinstance(other, TemperatureSchedule) and self.get_params() == other.get_params()

    def __hash__(self):
        return hash(tuple(self.get_params().items()))
