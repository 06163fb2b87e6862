"""The configuration of ``sklearn-selfdistill train``: the shipped YAML, a file, ``key=value``.

The shipped ``configs/default.yaml`` is also the schema: a key it does not have is an
error, except the names of the seed project's configuration (``configs/default.yaml`` of
the project this command line follows): those that mean one of our keys are aliases of it
(:data:`ALIASES`), and those with no meaning here are accepted and ignored, with a note
saying why (:data:`IGNORED`), so that the seed's file loads whole.

Every value is checked here, before any data is loaded or any net trained; the values
that end up as parameters of :class:`~sklearn_selfdistill.SelfDistillationClassifier` are
checked by the library's own parameter validation.
"""

import difflib
import io
import os
import sys
from dataclasses import dataclass
from importlib.resources import files
from numbers import Integral, Real

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ._errors import ConfigError, shorten

__all__ = [
    "ALIASES",
    "IGNORED",
    "RESUMABLE_KEYS",
    "SCHEMA",
    "describe_keys",
    "flat_config",
    "load_config",
    "to_yaml",
]

_CPUS = os.cpu_count() or 1
MODELS = ("mlp", "small_resnet", "resnet18", "resnet34", "vit_small")
DATASETS = ("digits", "fashion_mnist", "mnist", "cifar10")
# Sections whose ``name`` can be set as ``section=value``, as Hydra selects a config group.
_GROUPS = ("model", "data")
#: Keys that ``train --resume`` may change: they do not change what a generation is.
RESUMABLE_KEYS = (
    "generations.max_generations",
    "device",
    "threads",
    "verbose",
    "training.verbose",
    "training.progress",
    "data.data_home",
    "data.download",
)


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class _Key:
    """What one key takes: a test, its description, and the library parameter it becomes."""

    accepts: object
    allowed: str
    parameter: str = None


def _choice(*options):
    # Compared with their types, so that true is not taken for 1.
    names = ["null" if option is None else str(option) for option in options]
    return _Key(
        lambda v: any(v == option and type(v) is type(option) for option in options),
        ", ".join(names[:-1]) + f" or {names[-1]}",
    )


def _int_at_least(low, parameter=None):
    return _Key(lambda v: _is_int(v) and v >= low, f"an int >= {low}", parameter)


def _int_from(low, high, parameter=None):
    """An int in ``[low, high]``: larger ones pass every type check and then crash or run
    for ever (a float overflow, a seed numpy refuses, 10**11 epochs)."""
    return _Key(
        lambda v: _is_int(v) and low <= v <= high, f"an int from {low} to {high}", parameter
    )


def _number_in(low, high, allowed, parameter=None, low_open=False):
    def accepts(v):
        above = v > low if low_open else v >= low
        return _is_number(v) and above and v <= high

    return _Key(accepts, allowed, parameter)


_BOOLEAN = _Key(lambda v: isinstance(v, bool), "true or false")


def _optional(test, allowed, parameter=None):
    return _Key(lambda v: v is None or test(v), f"null or {allowed}", parameter)


SCHEMA = {
    "model.name": _choice(*MODELS),
    "model.num_classes": _optional(lambda v: _is_int(v) and v >= 2, "an int >= 2"),
    "model.autocast_dtype": _choice(None, "bfloat16", "float16"),
    "data.name": _choice(*DATASETS),
    "data.data_home": _Key(lambda v: v is None or isinstance(v, str), "null or a folder"),
    "data.download": _BOOLEAN,
    "data.n_train": _optional(lambda v: _is_int(v) and v >= 2, "an int >= 2"),
    "data.label_noise": _Key(lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "data.n_labeled": _optional(lambda v: _is_int(v) and v >= 1, "an int >= 1"),
    # true and false (the seed's values) are read as randaugment and null: see _BOOLEAN_CHOICES.
    "data.augmentation": _Key(
        lambda v: v is None or v == "randaugment", "null, randaugment, true or false"
    ),
    "training.epochs": _int_from(1, 100_000),
    "training.batch_size": _int_from(1, 1_000_000),
    "training.optimizer": _choice("sgd", "adam", "adamw"),
    "training.lr": _number_in(0, 100, "a number in (0, 100]", low_open=True),
    "training.momentum": _Key(lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "training.weight_decay": _number_in(0, 1, "a number in [0, 1]"),
    "training.lr_schedule": _choice("constant", "cosine"),
    "training.early_stopping_patience": _optional(
        lambda v: _is_int(v) and 1 <= v <= 100_000, "an int from 1 to 100000"
    ),
    "training.online_distillation": _optional(
        lambda v: _is_number(v) and 0 <= v <= 1, "a number in [0, 1]"
    ),
    "training.online_momentum": _Key(lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "training.online_ramp_epochs": _int_from(0, 100_000),
    "training.verbose": _BOOLEAN,
    "training.progress": _choice("auto", "bar", "lines", "off"),  # true, false: auto, off
    "distillation.alpha": _Key(_is_number, "a number in [0, 1]", "alpha"),
    "distillation.temperature": _Key(
        lambda v: _is_number(v) and v <= 1000, "a number in (0, 1000]", "temperature"
    ),
    "distillation.teacher_predictions": _Key(
        lambda v: v in ("in_sample", "cross_fit"), "in_sample or cross_fit", "teacher_predictions"
    ),
    "distillation.cv": _int_from(2, 100, "cv"),
    "distillation.n_teachers": _Key(
        lambda v: v is None or v == "all" or (_is_int(v) and 1 <= v <= 1000),
        "null (1), an int from 1 to 1000 or all",
        "n_teachers",
    ),
    "distillation.noisy_student": _BOOLEAN,
    "distillation.dropout_rate": _optional(
        lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"
    ),
    "distillation.pseudo_labels": _choice(None, "soft", "hard"),
    "distillation.pseudo_label_threshold": _optional(
        lambda v: _is_number(v) and 0 <= v <= 1, "a number in [0, 1]"
    ),
    "distillation.balance_pseudo_labels": _choice(None, True, False),
    "distillation.ema_decay": _Key(
        lambda v: v is None or _is_number(v), "null (off) or a number in [0, 1)"
    ),
    "generations.max_generations": _int_from(1, 1000, "n_generations"),
    "generations.plateau_patience": _Key(
        lambda v: v is None or (_is_int(v) and v <= 1000),
        "null (off) or an int from 1 to 1000",
        "n_iter_no_change",
    ),
    "generations.plateau_threshold": _Key(_is_number, "a number >= 0", "tol"),
    "generations.validation_fraction": _Key(
        _is_number, "a number in (0, 1)", "validation_fraction"
    ),
    "generations.final_generation": _Key(
        lambda v: v in ("last", "best", "ensemble"), "last, best or ensemble", "final_generation"
    ),
    "device": _Key(lambda v: isinstance(v, str), "cpu, cuda, cuda:N or mps"),
    "threads": _Key(
        lambda v: v is None or (_is_int(v) and 1 <= v <= _CPUS),
        f"null or an int from 1 to {_CPUS} (the CPUs of this machine)",
    ),
    "seed": _int_from(0, 2**32 - 1, "random_state"),
    "verbose": _choice(0, 1, 2),
}


#: Names of the seed project's configuration, accepted for ours (same values, same meaning).
ALIASES = {
    "data.batch_size": "training.batch_size",
    "training.learning_rate": "training.lr",
    "training.scheduler": "training.lr_schedule",
}

#: Keys whose true and false (the seed's values) stand for one of their values here.
_BOOLEAN_CHOICES = {
    "data.augmentation": {True: "randaugment", False: None},
    # YAML reads a bare off as false, on as true.
    "training.progress": {True: "auto", False: "off"},
}

#: Keys of the seed project's configuration that mean nothing here: accepted, not used,
#: and a note says why. Any other key that is not in the schema is an error.
IGNORED = {
    "data.num_workers": "batches are sliced from tensors in memory; there are no "
    "DataLoader workers to set",
    "training.warmup_epochs": "there is no learning-rate warmup here (training.lr_schedule "
    "is constant or cosine); the seed project's own trainer does not read this key either",
    "checkpoint.save_dir": "run folders are made under --runs-dir (default: runs); "
    "pass --runs-dir to choose where",
    "checkpoint.save_every": "every generation is written to the run folder as soon as it "
    "is fit, and every epoch is checkpointed (where an epoch's state is all the state) "
    "for train --resume",
    "logging.log_dir": "each generation's epochs (losses, held-out accuracy) are written "
    "to generation_<g>.json in the run folder",
    "logging.log_every": "verbose sets what is printed (1: a line per generation, 2: also "
    "skorch's table after every epoch)",
}


def describe_keys():
    """One line per key of the schema, the key and what it takes; then the seed's names."""
    width = max(map(len, [*SCHEMA, *ALIASES, *IGNORED]))
    lines = [f"  {key:<{width}}  {spec.allowed}" for key, spec in SCHEMA.items()]
    lines += [f"  {alias:<{width}}  the same as {key}" for alias, key in ALIASES.items()]
    lines += [
        f"  {key:<{width}}  ignored (the seed project's; a note says why)" for key in IGNORED
    ]
    return "\n".join(lines)


def _note(message):
    print(f"sklearn-selfdistill: note: {message}", file=sys.stderr)


def _flatten(mapping, prefix=""):
    flat = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def flat_config(config):
    """A configuration (DictConfig or nested dict) as ``{"section.key": value}``."""
    if not isinstance(config, dict):
        config = OmegaConf.to_container(config)
    return _flatten(config)


def _normalize(flat, source, written=None):
    """Check the keys of ``flat`` (from ``source``) and expand ``model=...``/``data=...``.

    Aliases become our keys (``written`` records, for the messages, the name each key was
    given last), ``true``/``false`` of :data:`_BOOLEAN_CHOICES` become the value they
    stand for, and :data:`IGNORED` keys are dropped with a note.
    """
    normalized = {}
    written = {} if written is None else written
    for key, value in flat.items():
        if key in IGNORED:
            _note(f"{source}: {key}={shorten(repr(value))} is ignored: {IGNORED[key]}.")
            continue
        if key in _GROUPS:
            key = f"{key}.name"
        name, key = key, ALIASES.get(key, key)
        if isinstance(value, bool) and key in _BOOLEAN_CHOICES:
            value = _BOOLEAN_CHOICES[key][value]
        if key not in SCHEMA:
            sections = {k.split(".")[0] for k in SCHEMA if "." in k}
            if key in sections:
                reason = f"{key!r} is a section; set one of its keys ({key}.<key>=value)"
            else:
                close = difflib.get_close_matches(key[:100], SCHEMA, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                reason = f"unknown config key {shorten(repr(key))}{hint}"
            raise ConfigError(f"{shorten(source)}: {reason}. Valid keys:\n{describe_keys()}")
        normalized[key] = value
        written[key] = name
    return normalized


def _read(container, source):
    """The plain values of ``container``; an interpolation (``${...}``) is refused.

    Resolving ``${oc.env:SECRET}`` would write the secret in clear into the run's
    ``config.yaml`` (and error messages), and a run folder's configuration is untrusted:
    no value is ever resolved, and the refusal names the key, not what it would become.
    """
    try:
        plain = OmegaConf.to_container(container, resolve=False)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"cannot read {source}: {exc}") from None
    flat = _flatten(plain) if isinstance(plain, dict) else {}
    interpolated = [key for key, value in flat.items() if isinstance(value, str) and "${" in value]
    if interpolated:
        raise ConfigError(
            f"{source}: {', '.join(interpolated)} is an interpolation (${{...}}); "
            f"interpolations are not resolved: the value (an environment variable, a "
            f"secret) would be written in clear into the run's config.yaml. Write the value "
            f"itself (in a shell, data.data_home=$HOME/data expands before the command runs)."
        )
    return plain


def _bounded_yaml(text, source):
    """``text``, refused where it is too long or its aliases expand too far."""
    from ._lineage import LineageError
    from ._untrusted import check_yaml

    try:
        return check_yaml(text, source)
    except LineageError as exc:
        raise ConfigError(str(exc)) from None


def _load_file(path, source, written=None):
    from ._untrusted import MAX_YAML_BYTES

    try:
        if hasattr(path, "read"):
            text = path.read(MAX_YAML_BYTES + 1)
        else:
            with open(path, encoding="utf-8") as file:
                text = file.read(MAX_YAML_BYTES + 1)
        loaded = OmegaConf.load(io.StringIO(_bounded_yaml(text, source)))
    except (OSError, OmegaConfBaseException, ValueError, yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(
            f"cannot read the config file {shorten(source)}: {shorten(exc, 300)}"
        ) from None
    content = _read(loaded, source)
    if not isinstance(content, dict):
        raise ConfigError(f"the config file {source} must hold a mapping of keys to values.")
    return _normalize(_flatten(content), source, written)


def _parse_overrides(overrides, written=None):
    values = {}
    for override in overrides:
        key, sep, value = override.partition("=")
        quoted = shorten(repr(override))
        if not sep or not key:
            raise ConfigError(
                f"cannot read the override {quoted}: overrides are key=value, e.g. "
                f"training.epochs=10. Valid keys:\n{describe_keys()}"
            )
        try:
            _bounded_yaml(value, f"the override {quoted}")
            parsed = OmegaConf.from_dotlist([override])
        except ConfigError as exc:
            raise ConfigError(f"cannot read the override {quoted}: {exc}") from None
        except (OmegaConfBaseException, yaml.YAMLError, ValueError, RecursionError) as exc:
            problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"cannot read the override {quoted}: its value is not valid YAML "
                f"({shorten(problem, 120)}). Write a number, true, false, null, a word, or "
                f"text in quotes ('{shorten(key, 60)}=\"...\"')."
            ) from None
        values.update(
            _normalize(_flatten(_read(parsed, override)), f"the override {quoted}", written)
        )
    return values


def _check_values(flat, written=None):
    written = written or {}

    def named(key):  # a key set under a seed name is reported under that name
        name = written.get(key, key)
        return f"{name}={shorten(repr(flat[key]), 80)}" + ("" if name == key else f" ({key})")

    errors = [
        f"{named(key)}: must be {spec.allowed}"
        for key, spec in SCHEMA.items()
        if not spec.accepts(flat[key])
    ]
    valid = {key: value for key, value in flat.items() if SCHEMA[key].accepts(value)}
    errors += _check_with_the_libraries(valid, named)
    errors += _check_together(valid)
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))


def _check_together(values):
    """Keys that are valid alone but not with each other."""
    errors = []
    if values.get("data.augmentation") is not None and values.get("model.name") == "mlp":
        errors.append(
            f"data.augmentation={values['data.augmentation']!r}: RandAugment transforms "
            f"images, and model.name='mlp' trains on flat rows; use a resnet or vit_small, "
            f"or data.augmentation=null."
        )
    n_train, n_labeled = values.get("data.n_train"), values.get("data.n_labeled")
    if n_train is not None and n_labeled is not None and n_labeled >= n_train:
        errors.append(
            f"data.n_labeled={n_labeled}: must be less than data.n_train={n_train}, so that "
            f"some training rows are left unlabelled."
        )
    return errors


def _check_with_the_libraries(values, named=None):
    """SelfDistillationClassifier's checks (one parameter at a time), EMATeacher's, torch's."""
    from .._classifier import SelfDistillationClassifier
    from .._compat import InvalidParameterError, check_parameters
    from ..nn.callbacks import EMATeacher

    named = named or (lambda key: f"{key}={values[key]!r}")
    errors = []
    for key, value in values.items():
        if SCHEMA[key].parameter is None or value is None:
            continue
        try:
            check_parameters(SelfDistillationClassifier(**{SCHEMA[key].parameter: value}))
        except InvalidParameterError as exc:
            errors.append(f"{named(key)}: {exc}")
    decay = values.get("distillation.ema_decay")
    if decay is not None:
        try:
            EMATeacher(decay=decay).initialize()
        except ValueError as exc:
            errors.append(f"distillation.ema_decay={decay!r}: {exc}")
    if "device" in values:
        errors += _check_device(values["device"])
    return errors


def _check_device(device):
    import torch

    try:
        device = torch.device(device)
    except RuntimeError as exc:
        return [f"device={device!r}: {exc}. Use {SCHEMA['device'].allowed}."]
    count = {
        "cpu": 1,
        "cuda": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "mps": int(torch.backends.mps.is_available()),
    }.get(device.type, 0)
    if count <= (device.index or 0):
        return [
            f"device={str(device)!r}: torch finds {count} {device.type} device(s) on this "
            f"machine; use device=cpu (or {SCHEMA['device'].allowed} where available)."
        ]
    return []


def _unflatten(flat):
    nested = {}
    for key, value in flat.items():
        *sections, leaf = key.split(".")
        target = nested
        for section in sections:
            target = target.setdefault(section, {})
        target[leaf] = value
    return nested


def default_config_path():
    """The shipped default configuration file."""
    return files("sklearn_selfdistill") / "configs" / "default.yaml"


def load_config(
    config_file=None, overrides=(), base=None, resumable_only=False, base_source="the run"
):
    """The resolved configuration: defaults, then ``config_file``, then ``overrides``.

    Parameters
    ----------
    config_file : path-like or None
        A YAML file; the keys it sets replace the defaults.
    overrides : sequence of str
        ``key=value`` items, applied last, in order.
    base : str or None
        YAML text of a resolved configuration to start from instead of the defaults
        (a run's ``config.yaml`` when resuming).
    resumable_only : bool
        Refuse overrides of keys outside ``RESUMABLE_KEYS``.
    base_source : str
        Where ``base`` was read from, for the error messages (the run's ``config.yaml``).

    Returns
    -------
    config : omegaconf.DictConfig
        Read-only; every key of the schema is present and valid.

    Raises
    ------
    ConfigError
        For an unknown key or a bad value, with the valid keys or the allowed values.
    """
    written = {}  # the name each key was set under last (ours or the seed's)
    with default_config_path().open() as file:
        flat = _load_file(file, "the default configuration", written)
    if base is not None:
        flat.update(_load_file(io.StringIO(base), base_source, written))
    if config_file is not None:
        flat.update(_load_file(config_file, str(config_file), written))
    changes = _parse_overrides(overrides, written)
    if resumable_only:
        fixed = sorted(key for key in changes if key not in RESUMABLE_KEYS)
        if fixed:
            raise ConfigError(
                f"a resumed run keeps the configuration of its finished generations; "
                f"{', '.join(fixed)} cannot change. Keys that can: {', '.join(RESUMABLE_KEYS)}."
            )
    flat.update(changes)
    _check_values(flat, written)
    config = OmegaConf.create(_unflatten(flat))
    OmegaConf.set_readonly(config, True)
    return config


def to_yaml(config):
    """The configuration as YAML text."""
    return OmegaConf.to_yaml(config)
