"""ReLU.  Backward passes the gradient where the input was positive (torch's rule: 0 at x == 0)."""
import numpy as np
from numba import njit

from .. import threads
from ._check import check_float_array, check_grad

_MIN_CHUNK = 1 << 16  # elements: below this one thread is faster than two


@njit(cache=True, nogil=True)
def _relu_backward_kernel(dout, x, dx):
    for k in range(x.size):
        dx[k] = dout[k] if x[k] > 0 else 0


def relu_forward(x):
    """``out = max(x, 0)`` elementwise.

    Parameters
    ----------
    x : ndarray, any shape, float32 or float64

    Returns
    -------
    out : ndarray, shape and dtype of ``x`` (a new array)
    cache : ``out`` (positive exactly where ``x`` was)
    """
    check_float_array("relu input", x)
    out = np.empty(x.shape, dtype=x.dtype)
    flat_x, flat_out = np.ascontiguousarray(x).reshape(-1), out.reshape(-1)
    threads.map_chunks(lambda sl: np.maximum(flat_x[sl], 0, out=flat_out[sl]), x.size, _MIN_CHUNK)
    return out, out


def relu_backward(dout, cache):
    """``dx = dout * (x > 0)``, in one pass.

    Parameters
    ----------
    dout : ndarray, shape of the forward input, not modified
    cache : from :func:`relu_forward`

    Returns
    -------
    dx : ndarray, shape and dtype of ``dout``
    """
    out = cache
    check_grad("relu backward", dout, out.shape, out.dtype)
    dx = np.empty(out.shape, dtype=out.dtype)  # C order, so reshape(-1) below is a view of dx
    flat_d, flat_out, flat_dx = np.ascontiguousarray(dout).reshape(-1), out.reshape(-1), dx.reshape(-1)
    threads.map_chunks(lambda sl: _relu_backward_kernel(flat_d[sl], flat_out[sl], flat_dx[sl]), out.size,
                       _MIN_CHUNK)
    return dx


def relu_forward_naive(x):
    """Reference ReLU: ``np.maximum(x, 0)``; the cache is ``x``."""
    check_float_array("relu input", x)
    return np.maximum(x, np.zeros((), dtype=x.dtype)), x


def relu_backward_naive(dout, cache):
    """Reference ReLU backward: ``np.where(x > 0, dout, 0)``."""
    x = cache
    check_grad("relu backward", dout, x.shape, x.dtype)
    return np.where(x > 0, dout, np.zeros((), dtype=dout.dtype))
