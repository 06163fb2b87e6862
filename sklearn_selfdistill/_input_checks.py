"""What the meta-estimators check of X, y and sample_weight, before any fit and at predict.

How X is validated is the student's call (``Student.x_validation``); what else a wrapped
estimator can honour (sample weights) too. Where X or y had to become numbers and could
not, the error says so in words instead of numpy's conversion error.
"""

import numpy as np
from scipy.sparse import issparse
from sklearn.utils import get_tags
from sklearn.utils.validation import check_consistent_length, check_is_fitted, validate_data

from ._compat import _check_sample_weight, _check_y
from ._students import student_class


def _not_numbers(data):
    """``(dtype, conversion error)`` where ``data`` holds values that are not numbers.

    None for sparse or numeric data, and for ragged data (whose own validation error
    already says what is wrong).
    """
    if issparse(data):
        return None
    try:
        values = np.asarray(data)
    except (TypeError, ValueError):
        return None
    if values.dtype.kind not in "OSU":
        return None
    try:
        values.astype(np.float64)
    except (TypeError, ValueError) as error:
        return values.dtype, error
    return None


def is_dataframe(X):
    """Whether ``X`` is a pandas or polars DataFrame (without importing either)."""
    return type(X).__module__.split(".")[0] in ("pandas", "polars") and hasattr(X, "columns")


class InputChecks:
    """The checks of X, y and sample_weight, mixed into ``BaseSelfDistillation``.

    ``_task`` and ``_template`` come from the class it is mixed into.
    """

    #: Keyword arguments of ``validate_data`` for ``y`` (set by the public classes).
    _y_validation: dict = {}
    #: ``"classifier"`` or ``"regressor"``: which students serve the meta-estimator.
    _task: str

    def _accept_sparse(self):
        # CSR/CSC can be indexed by rows; other formats are converted on the way in.
        return ["csr", "csc"] if get_tags(self._template()).input_tags.sparse else False

    def _student_class(self):
        """The adapter class for the wrapped estimator (see ``_students``)."""
        return student_class(self._template(), self._task)

    def _x_validation(self):
        """How X is validated: as the student for the wrapped estimator needs it."""
        return self._student_class().x_validation

    def _passes_through(self, X):
        """Whether X reaches the wrapped estimator as the user gave it (a DataFrame)."""
        return is_dataframe(X) and self._student_class().takes_dataframes

    def _validate_fit_data(self, X, y):
        if self._y_validation.get("y_numeric") and y is not None:
            self._check_numeric_y(y)
        if self._passes_through(X):
            # As Pipeline and the stacking estimators do: the frame goes on (column names,
            # dtypes, categoricals); only its names and width are checked and recorded.
            validate_data(self, X, skip_check_array=True)
            y = _check_y(y, estimator=self, **self._y_validation)
            check_consistent_length(X, y)
            return X, y
        try:
            return validate_data(
                self,
                X,
                y,
                accept_sparse=self._accept_sparse(),
                **self._x_validation(),
                **self._y_validation,
            )
        except ValueError as exc:
            self._explain_non_numeric_X(X, exc)
            raise

    def _check_numeric_y(self, y):
        """Targets that must be numbers: say so, instead of numpy's conversion error."""
        problem = _not_numbers(y)
        if problem is not None:
            dtype, error = problem
            raise ValueError(
                f"{type(self).__name__} needs numeric y (regression targets); got y of dtype "
                f"{dtype} holding values that are not numbers ({error}). Class labels "
                f"belong in SelfDistillationClassifier."
            ) from None

    def _explain_non_numeric_X(self, X, exc):
        """Where X had to become numbers and could not, raise an error that says so."""
        problem = _not_numbers(X)
        if problem is not None:
            dtype, error = problem
            raise ValueError(
                f"{type(self).__name__} needs numeric X with a {type(self._template()).__name__} "
                f"estimator; got X of dtype {dtype} holding values "
                f"that are not numbers ({error}). Encode them as numbers first, for "
                f"example with OneHotEncoder or OrdinalEncoder in a Pipeline before "
                f"{type(self).__name__}."
            ) from exc

    def _check_fit_sample_weight(self, sample_weight, X, estimator):
        """Validated non-negative weights, refused up front where the estimator cannot use them."""
        if sample_weight is None:
            return None
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if np.any(sample_weight < 0):
            raise ValueError(
                f"sample_weight must be non-negative: it weighs each row in every "
                f"generation's fit (and its soft targets); got negative weights, "
                f"{np.sum(sample_weight < 0)} of {sample_weight.shape[0]}, the smallest "
                f"{sample_weight.min():g}."
            )
        return self._student_class().check_sample_weight(estimator, sample_weight)

    def _validate_predict_data(self, X):
        check_is_fitted(self)
        if self._passes_through(X):
            validate_data(self, X, reset=False, skip_check_array=True)
            return X
        try:
            return validate_data(
                self,
                X,
                reset=False,
                accept_sparse=self._accept_sparse(),
                **self._x_validation(),
            )
        except ValueError as exc:
            self._explain_non_numeric_X(X, exc)
            raise
