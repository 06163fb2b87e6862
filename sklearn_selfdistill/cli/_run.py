"""A run folder as the command line reads it: bound to its configuration, metrics checked.

Every finished generation's marker records a digest of the configuration that trained
it (its keys but those a resume may change, :data:`~._config.RESUMABLE_KEYS`), and its
metrics file the configuration itself. A run whose ``config.yaml`` was edited after a
generation was trained is refused, with the keys that differ; a metrics file that does
not hold what the command line wrote is a :class:`LineageError` naming it.
"""

import hashlib
import json
from numbers import Integral, Real

import yaml

from ._config import RESUMABLE_KEYS, flat_config
from ._errors import shorten
from ._lineage import BindingMismatch, LineageError
from ._untrusted import check_yaml

__all__ = ["binding", "finished", "metrics"]


def binding(config):
    """The digest that binds a generation to ``config`` (resumable keys left out)."""
    bound = {k: v for k, v in flat_config(config).items() if k not in RESUMABLE_KEYS}
    return hashlib.sha256(json.dumps(bound, sort_keys=True).encode()).hexdigest()


# The most differences a message lists, each value quoted up to this many characters.
_MAX_DIFFERENCES = 5
_MAX_QUOTE = 60


def _differences(trained_yaml, config, source):
    """The keys whose values differ, as text; a reason why not, where it cannot be read."""
    try:
        trained = yaml.safe_load(check_yaml(trained_yaml, source))
        then = flat_config(trained)
    except LineageError as exc:
        return None, str(exc)
    except (yaml.YAMLError, AttributeError, TypeError, RecursionError):
        return None, None
    now = flat_config(config)
    keys = sorted((set(then) | set(now)) - set(RESUMABLE_KEYS))
    differences = [
        f"{key}: {shorten(repr(then.get(key, '(absent)')), _MAX_QUOTE)} then, "
        f"{shorten(repr(now.get(key, '(absent)')), _MAX_QUOTE)} now"
        for key in keys
        if then.get(key, "(absent)") != now.get(key, "(absent)")
    ]
    if len(differences) > _MAX_DIFFERENCES:
        more = len(differences) - _MAX_DIFFERENCES
        differences = [*differences[:_MAX_DIFFERENCES], f"and {more} more"]
    return differences, None


def finished(lineage, config):
    """``lineage.finished()`` for generations trained with ``config``; else LineageError."""
    try:
        return lineage.finished(binding(config))
    except BindingMismatch as exc:
        trained = metrics(lineage, exc.generation)["config"]
        source = f"the config of {lineage.path / f'generation_{exc.generation}.json'}"
        differences, unreadable = _differences(trained, config, source)
        what = (
            "; ".join(differences)
            if differences
            else "the configuration its generations were trained with"
        )
        if unreadable:
            what += f"; {unreadable}"
        raise LineageError(
            f"{lineage.path / 'config.yaml'} was changed after generation {exc.generation} "
            f"was trained ({what}). A lineage continues only with the configuration it was "
            f"trained with: restore those values, or start a new run."
        ) from None


def _is_real(value):
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def _optional_score(value):
    return value is None or (_is_real(value) and value == value)


_CHECKS = {
    "test_accuracy": (lambda v: _is_real(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "train_score": (_optional_score, "a number or null"),
    "validation_score": (_optional_score, "a number or null"),
    "fit_time": (lambda v: _is_real(v) and v >= 0, "a number >= 0"),
    "classes": (
        lambda v: (
            isinstance(v, list)
            and len(v) >= 2
            and all(_is_int(c) for c in v)
            and len(set(v)) == len(v)
        ),
        "a list of at least two distinct integer class labels",
    ),
    "history": (
        lambda v: (
            isinstance(v, dict)
            and {"generation", "train_score", "validation_score", "fit_time"} <= set(v)
        ),
        "an object with generation, train_score, validation_score and fit_time",
    ),
    "epochs": (lambda v: isinstance(v, list) and all(isinstance(e, dict) for e in v), "a list"),
    "config": (lambda v: isinstance(v, str), "the YAML text of the configuration"),
}


def metrics(lineage, generation):
    """The metrics of ``generation``, checked to hold what the command line wrote."""
    values = lineage.metrics(generation)
    path = lineage.path / f"generation_{generation}.json"
    problems = []
    if values.get("generation") != generation or not _is_int(values.get("generation")):
        problems.append(f"generation must be {generation}")
    for key, (accepts, allowed) in _CHECKS.items():
        if key not in values:
            problems.append(f"{key} is missing")
        elif not accepts(values[key]):
            problems.append(f"{key} must be {allowed}")
    if not problems and values["history"]["generation"] != generation:
        problems.append(f"history.generation must be {generation}")
    if problems:
        raise LineageError(f"{path} is not a valid metrics file: {'; '.join(problems)}.")
    return values
