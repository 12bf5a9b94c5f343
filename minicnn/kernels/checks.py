"""Argument checks shared by the kernels.

Every kernel validates before any numba code runs: a numba kernel given a wrong
shape reads out of bounds instead of raising, so the checks live here, in Python.
"""
import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_float_array(name, a, ndim=None):
    """Raise TypeError/ValueError unless ``a`` is a float32/float64 ndarray of ``ndim`` dims."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got {a.ndim}-D with shape {a.shape}")


def check_same_dtype(name, *arrays):
    """Raise TypeError unless all non-None arrays share one dtype (torch refuses mixed dtypes too)."""
    dtypes = {a.dtype for a in arrays if a is not None}
    if len(dtypes) > 1:
        got = ", ".join(str(a.dtype) for a in arrays if a is not None)
        raise TypeError(f"{name}: expected all arrays in one dtype, got {got}")


def check_grad(name, grad, shape, dtype):
    """Raise unless the upstream gradient matches the forward output's shape and dtype."""
    check_float_array(name, grad)
    if grad.shape != tuple(shape):
        raise ValueError(f"{name}: expected upstream gradient of shape {tuple(shape)}, got {grad.shape}")
    if grad.dtype != dtype:
        raise TypeError(f"{name}: expected upstream gradient of dtype {dtype}, got {grad.dtype}")


def pair(name, value, minimum):
    """Turn an int, a 1-tuple (as torch expands it) or a 2-tuple of ints into a checked ``(h, w)`` tuple,
    each ``>= minimum``."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)):
        raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}")
    value = (int(value[0]), int(value[1]))
    if min(value) < minimum:
        raise ValueError(f"{name}: expected values >= {minimum}, got {value}")
    if max(value) > _MAX_SIZE:  # beyond int64 numba cannot even type the argument
        raise ValueError(f"{name}: expected values <= {_MAX_SIZE}, got {value}")
    return value


_MAX_SIZE = 2**31 - 1  # kernel sizes, strides and paddings: far beyond any array, within every int type


def out_size(name, size, kernel, stride, padding):
    """Output length of a sliding window; raise ValueError if the window does not fit."""
    padded = size + 2 * padding
    if padded < kernel:
        raise ValueError(f"{name}: input size {size} with padding {padding} is smaller than "
                         f"the kernel size {kernel}")
    return (padded - kernel) // stride + 1


def positive_int(name, value):
    """An int ``>= 1`` (``groups``): TypeError for anything else than an int, ValueError below 1."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name}: expected an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name}: expected an int >= 1, got {value}")
    return int(value)


def is_one(value):
    """True for the default dilation/groups spelled any way torch accepts: ``1``, ``(1, 1)``, ``[1, 1]``."""
    return (type(value) is int and value == 1) or (isinstance(value, (tuple, list)) and len(value) == 2
                                                   and all(type(v) is int and v == 1 for v in value))


def window_count(name, size, lo, hi, kernel, stride, dilation):
    """How many windows of a dilated kernel fit ``size`` padded by ``lo`` before and ``hi`` after.

    The window spans ``dilation * (kernel - 1) + 1`` pixels; ValueError if even one does not fit.
    """
    span = dilation * (kernel - 1) + 1
    if size + lo + hi < span:
        what = f"the kernel size {kernel}" if dilation == 1 else f"the dilated kernel's span {span}"
        raise ValueError(f"{name}: input size {size} with padding ({lo}, {hi}) is smaller than {what}")
    return (size + lo + hi - span) // stride + 1


def pool_out_size(name, size, kernel, stride, padding, dilation=1, ceil_mode=False):
    """Output length of a pooling window, torch's rule (``pooling_output_shape``).

    ``ceil_mode`` rounds the window count up, but the last window must start inside the input or
    its left padding; ValueError when not even one window fits.
    """
    if dilation == 1 and not ceil_mode:
        return out_size(name, size, kernel, stride, padding)
    span = dilation * (kernel - 1) + 1
    room = size + 2 * padding - span
    count = (-(-room // stride) if ceil_mode else room // stride) + 1
    if ceil_mode and (count - 1) * stride >= size + padding:
        count -= 1
    if count < 1:
        raise ValueError(f"{name}: input size {size} with padding {padding} is smaller than the "
                         f"{'dilated kernel span' if dilation > 1 else 'kernel size'} {span}")
    return count
