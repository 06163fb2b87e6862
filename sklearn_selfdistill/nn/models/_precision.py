"""Mixed precision and memory format: the ``autocast_dtype`` and ``channels_last`` parameters.

They live in the modules rather than in a training loop because skorch has no autocast
option and the library builds every generation from the user's ``module__*`` parameters:
a setting of the module reaches the teacher's logits pass and every student alike.
"""

import torch

__all__ = ["autocast_logits", "check_autocast_dtype", "check_channels_last"]

_AUTOCAST_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def check_autocast_dtype(autocast_dtype):
    """The torch dtype that ``autocast_dtype`` names, or None.

    Parameters
    ----------
    autocast_dtype : {None, "bfloat16", "float16"} or torch.dtype
        The value of a model's ``autocast_dtype`` parameter.

    Returns
    -------
    dtype : torch.bfloat16, torch.float16 or None

    Raises
    ------
    ValueError
        For any other value.
    """
    if autocast_dtype is None:
        return None
    if isinstance(autocast_dtype, str) and autocast_dtype in _AUTOCAST_DTYPES:
        return _AUTOCAST_DTYPES[autocast_dtype]
    if isinstance(autocast_dtype, torch.dtype) and autocast_dtype in _AUTOCAST_DTYPES.values():
        return autocast_dtype
    raise ValueError(
        "The 'autocast_dtype' parameter must be None (full float32), 'bfloat16', "
        f"'float16', torch.bfloat16 or torch.float16; got {autocast_dtype!r}."
    )


def check_channels_last(channels_last):
    """Raise a ValueError unless ``channels_last`` is a bool."""
    if not isinstance(channels_last, bool):
        raise ValueError(
            f"The 'channels_last' parameter must be a bool (True or False); got {channels_last!r}."
        )


def autocast_logits(forward, x, dtype):
    """``forward(x)`` under ``torch.autocast`` to ``dtype``, returned as float32 logits.

    With ``dtype=None`` this is exactly ``forward(x)``: no autocast context is entered,
    so one the caller opened still applies, and the output dtype is left as it is.

    Parameters
    ----------
    forward : callable
        Computes the logits from ``x``.
    x : torch.Tensor
        The input; autocast runs on its device type.
    dtype : torch.bfloat16, torch.float16 or None
        What :func:`check_autocast_dtype` returned.

    Returns
    -------
    logits : torch.Tensor
    """
    if dtype is None:
        return forward(x)
    with torch.autocast(device_type=x.device.type, dtype=dtype):
        logits = forward(x)
    # Softmax, log and the losses that follow run in float32, outside the autocast region.
    return logits.float()
