"""Other libraries' private APIs, in one place.

Every private name of scikit-learn the package imports is imported here and nowhere
else; the private attributes of skorch, torch and torchvision objects it touches are
either read through the small functions below or, where the package *overrides* them in a
subclass (which no import can route), listed in the second table. ``tests/test_compat.py``
exercises each one the way the package relies on it (``pytest -m compat``), so that a
release that changes one fails a test named after it. "Since" is the first release of the
library with the name in the form we rely on; "seen in X" where only the installed
release X was checked.

This module imports scikit-learn only: torch, skorch and torchvision are never imported
here (``import sklearn_selfdistill`` must work without them), the functions for them take
the object whose private attribute they read.

Imported from here
------------------

============================  ============  ===========  ===============================
Name                          Library       Since        What it is; what we use it for
============================  ============  ===========  ===============================
``validate_params``           scikit-learn  1.3          ``sklearn.utils._param_validation``:
                                                         decorator checking a function's
                                                         arguments against constraints
                                                         (``prefer_skip_nested_validation``
                                                         required since 1.3); the
                                                         data-set loaders, label noise
                                                         and label hiding.
``Interval``                  scikit-learn  1.2          Constraint: numbers of a type
                                                         in an interval; the estimators'
                                                         ``_parameter_constraints`` and
                                                         the loaders.
``StrOptions``                scikit-learn  1.2          Constraint: one of a set of
                                                         strings.
``Options``                   scikit-learn  1.2          Constraint: one of a set of
                                                         values of a type.
``HasMethods``                scikit-learn  1.2          Constraint: an object with the
                                                         named methods (the
                                                         ``estimator`` parameter).
``RealNotInt``                scikit-learn  1.3          The reals but not the ints, as
                                                         an ``Interval`` type (a
                                                         fraction of rows as a float, a
                                                         count as an int).
``InvalidParameterError``     scikit-learn  1.2          The error (a ``ValueError`` and
                                                         a ``TypeError``) the
                                                         constraints raise; the command
                                                         line turns it into a message
                                                         per config key.
``check_parameters``          scikit-learn  1.2          Ours: calls
                                                         ``BaseEstimator._validate_params``
                                                         (``get_params()`` against the
                                                         class's
                                                         ``_parameter_constraints``);
                                                         the command line checks a
                                                         config value without fitting.
``_fit_context``              scikit-learn  1.3          ``sklearn.base``: ``fit``
                                                         decorator that validates the
                                                         parameters once and runs
                                                         ``fit`` in scikit-learn's
                                                         config context.
``_safe_indexing``            scikit-learn  0.22         ``sklearn.utils``: rows of an
                                                         array, a sparse matrix, a
                                                         DataFrame or a list by index;
                                                         the validation split and the
                                                         cross-fitted folds.
``_check_sample_weight``      scikit-learn  0.22         ``sklearn.utils.validation``:
                                                         None, a scalar or an array to a
                                                         float array of ``len(X)``, or a
                                                         ValueError; ``sample_weight``.
``_check_y``                  scikit-learn  0.24         ``sklearn.utils.validation``:
                                                         ``y`` as ``check_X_y``
                                                         validates it (1-D or not,
                                                         finite, numeric), without X;
                                                         for a DataFrame X passed
                                                         through as it is.
``check_matplotlib_support``  scikit-learn  1.5          ``sklearn.utils._optional_dependencies``
                                                         (``sklearn.utils`` before 1.5):
                                                         an ImportError naming the
                                                         caller when matplotlib is
                                                         missing; ``plotting``.
``rand_augment_space``        torchvision   seen 0.29.1  Ours: reads
                                                         ``v2.RandAugment._AUGMENTATION_SPACE``,
                                                         the ordered ``{name:
                                                         (magnitudes_fn, signed)}`` of
                                                         its 14 operations;
                                                         ``nn.augment`` draws an
                                                         operation per image.
``rand_augment_apply``        torchvision   seen 0.29.1  Ours: calls RandAugment's
                                                         ``_apply_image_or_video_transform``
                                                         with its ``interpolation`` and
                                                         ``_fill``: one operation on a
                                                         whole batch; ``nn.augment``.
============================  ============  ===========  ===============================

Overridden or read in place (not importable)
--------------------------------------------

- ``NeuralNet._default_callbacks`` (skorch, seen in 1.4.0). ``nn/_soft_target_net.py``: a
  property listing ``(name, callback)`` pairs; ``NeuralNetClassifier``'s holds
  ``("valid_acc", EpochScoring)``, which ``SoftTargetNetClassifier`` overrides to replace.
- ``NeuralNet._set_training`` (skorch, since 0.9.0, seen in 1.4.0). ``nn/_fast.py``:
  called before every batch, ``.train(mode)`` on each module and criterion; overridden
  to skip the trees already in that mode.
- ``NeuralNet._modules``, ``NeuralNet._criteria`` (skorch, since 0.9.0).
  ``nn/_fast.py``: the names of the registered modules and criteria, each at
  ``getattr(net, name + "_")``.
- ``BaseEstimator._parameter_constraints`` (scikit-learn, since 1.2). ``_base.py``,
  ``_classifier.py``: the class attribute ``_fit_context`` and ``check_parameters``
  read.
- ``VisionTransformer.conv_proj`` (torchvision, seen in 0.29.1). ``nn/models/vit.py``:
  replaced after ``__init__`` for other than 3 channels; ``forward`` (through the
  private ``_process_input``) reads it from ``self``.
- ``torch.nn.Module.train``, what it does (torch, seen in 2.14.1). ``nn/_fast.py``:
  assumed to set only ``training`` on every module of the tree, so skipping it where all
  are in that mode changes nothing.

Public names with a contract read closely, checked too: skorch's ``NeuralNet.get_params_for``
(public since 0.8.0; the ``iterator_*``/``criterion`` parameters) and ``NeuralNet.notify``
(``nn/_fast.py`` calls the net's own hook, then the callbacks', as skorch does). Not
routed here: the names of numpy's pickled classes (``numpy._core.multiarray``...) that
``datasets/_cifar.py`` allows when unpickling CIFAR batches: they are strings in the files,
not imports.
"""

from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    Options,
    RealNotInt,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import _check_sample_weight, _check_y

__all__ = [
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "Options",
    "RealNotInt",
    "StrOptions",
    "_check_sample_weight",
    "_check_y",
    "_fit_context",
    "_safe_indexing",
    "check_matplotlib_support",
    "check_parameters",
    "rand_augment_apply",
    "rand_augment_space",
    "validate_params",
]


def check_parameters(estimator):
    """Check ``estimator``'s parameters against its ``_parameter_constraints``.

    scikit-learn's private ``BaseEstimator._validate_params``, which ``fit`` runs through
    ``_fit_context``: here without fitting.

    Raises
    ------
    InvalidParameterError
        Naming the first parameter that breaks its constraints.
    """
    estimator._validate_params()


def rand_augment_space(transform):
    """The operations of a ``torchvision.transforms.v2.RandAugment``, in its order.

    Returns
    -------
    space : dict
        ``{name: (magnitudes_fn, signed)}``: ``magnitudes_fn(num_bins, height, width)``
        gives the magnitudes (a tensor, or None for operations without one) and ``signed``
        whether RandAugment negates the magnitude half of the time.
    """
    return transform._AUGMENTATION_SPACE


def rand_augment_apply(transform, images, name, magnitude):
    """RandAugment's operation ``name`` at ``magnitude`` on a batch ``(N, C, H, W)``.

    One call of torchvision's own operation for the whole batch, with the transform's
    interpolation and fill.
    """
    return transform._apply_image_or_video_transform(
        images, name, magnitude, interpolation=transform.interpolation, fill=transform._fill
    )
