"""Checks of the torch-style arguments that :mod:`minicnn.functional` and :mod:`minicnn.nn` share.

(The kernels check their arrays themselves, in ``minicnn/kernels/checks.py``, before any numba code runs.)
"""
import numpy as np

from .autograd import Tensor

MAX_FEATURES = 2**63 - 1  # numpy cannot make a larger dimension ("Maximum allowed dimension exceeded")


def inplace_flag(op, inplace):
    """torch's ``inplace`` flag, as a bool.  torch's ``inplace=True`` overwrites the input with the result and
    returns it; minicnn never overwrites an input, so the ops accept the flag and return the result as a new
    Tensor (the value torch returns; read the returned Tensor, not the input, as torch code does with
    ``x = relu(x)``)."""
    if not isinstance(inplace, (bool, np.bool_)):
        raise TypeError(f"{op}: expected inplace as a bool, got {type(inplace).__name__}")
    return bool(inplace)


def number(op, name, value):
    """A hyperparameter torch takes as any real number (eps, momentum: negative, above 1, nan alike), kept as
    given; a bool, a string or anything else is refused by name."""
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: expected {name} as a number, got {type(value).__name__}")
    return value


def dropout_probability(op, p):
    if not isinstance(p, (int, float, np.floating)) or isinstance(p, bool) or not 0 <= p <= 1:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p!r}")
    return float(p)


def array_or_none(value, name):
    """A buffer argument (running mean/var): an ndarray (used as is), a Tensor's array, or None."""
    if value is None or isinstance(value, np.ndarray):
        return value
    if isinstance(value, Tensor):
        return value.array
    raise TypeError(f"{name}: expected an ndarray, Tensor or None, got {type(value).__name__}")


def pool_stride(stride, kernel_size):
    """A pooling stride as torch reads it: None or an empty sequence (``stride=()``) is ``kernel_size``."""
    return kernel_size if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else stride


def feature_count(layer, name, value, minimum=1):
    """A layer's size argument (channels, features, window): an int in ``[minimum, 2**63 - 1]``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{layer}: expected {name} as an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{layer}: expected {name} >= {minimum}, got {value}")
    if value > MAX_FEATURES:  # numpy cannot even make such an array ("Maximum allowed dimension exceeded")
        raise ValueError(f"{layer}: expected {name} <= {MAX_FEATURES}, got {value}")
    return int(value)
