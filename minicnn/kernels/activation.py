"""The activations (ReLU, sigmoid, tanh, leaky ReLU, hardtanh and ReLU6, softmax, log-softmax) and dropout.

ReLU's backward passes the gradient where the input was positive (torch's rule: 0 at x == 0)."""
import numpy as np
from numba import njit

from .. import threads
from .checks import check_float_array, check_grad
from .registry import kernel_table


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
    out = _elementwise_forward(lambda src, dst: np.maximum(src, 0, out=dst), x)
    return out, out


def _elementwise_forward(ufunc_into, x):
    """A new array ``ufunc_into(x, out)`` over flat chunks on the pool (numpy's ufuncs release the GIL)."""
    out = np.empty(x.shape, dtype=x.dtype)
    flat_x, flat_out = np.ascontiguousarray(x).reshape(-1), out.reshape(-1)
    threads.map_chunks(lambda sl: ufunc_into(flat_x[sl], flat_out[sl]), x.size, threads.MIN_CHUNK_VALUES)
    return out


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
                       threads.MIN_CHUNK_VALUES)
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


# --------------------------------------------------------------------------- sigmoid, tanh, leaky ReLU
# Elementwise and memory-bound: numpy's vectorised passes (forward) and one-pass numba loops (the
# backward of sigmoid and tanh, instead of numpy's three temporaries) are the fast versions; the naive
# twins are the textbook formulas, one expression each.
def _check_elementwise(name, x):
    check_float_array(f"{name} input", x)


def sigmoid_forward(x):
    """``1 / (1 + exp(-x))``, computed from ``exp(-|x|)`` so that neither branch overflows.

    Returns ``out`` (shape and dtype of x) and the cache ``out`` (the gradient is ``out * (1 - out)``).
    """
    _check_elementwise("sigmoid", x)
    e = np.exp(-np.abs(x))
    one = x.dtype.type(1)
    out = np.where(x >= 0, one / (one + e), e / (one + e))
    return out, out


def sigmoid_backward(dout, cache):
    """``dx = dout * s * (1 - s)``."""
    s = cache
    check_grad("sigmoid backward", dout, s.shape, s.dtype)
    return _elementwise_backward(_sigmoid_backward_kernel, dout, s)


def sigmoid_forward_naive(x):
    """The definition ``1 / (1 + exp(-x))`` (``exp`` may overflow to inf: the quotient is then 0, still right)."""
    _check_elementwise("sigmoid", x)
    with np.errstate(over="ignore"):
        out = 1 / (1 + np.exp(-x))
    return out, x


def sigmoid_backward_naive(dout, cache):
    """``d sigmoid / dx = exp(-x) / (1 + exp(-x))**2``, written as ``s(x) * s(-x)``."""
    x = cache
    check_grad("sigmoid backward", dout, x.shape, x.dtype)
    return dout * sigmoid_forward_naive(x)[0] * sigmoid_forward_naive(-x)[0]


@njit(cache=True, nogil=True)
def _tanh_backward_kernel(dout, t, one, dx):
    for k in range(t.size):
        dx[k] = dout[k] * (one - t[k] * t[k])


@njit(cache=True, nogil=True)
def _sigmoid_backward_kernel(dout, s, one, dx):
    for k in range(s.size):
        dx[k] = dout[k] * s[k] * (one - s[k])


def _elementwise_backward(kernel, dout, y):
    """``kernel(dout, y, 1, dx)`` over flat chunks on the pool: one pass instead of numpy's three temporaries."""
    dx = np.empty(y.shape, dtype=y.dtype)
    flat_d, flat_y, flat_dx = np.ascontiguousarray(dout).reshape(-1), y.reshape(-1), dx.reshape(-1)
    one = y.dtype.type(1)
    threads.map_chunks(lambda sl: kernel(flat_d[sl], flat_y[sl], one, flat_dx[sl]), y.size, threads.MIN_CHUNK_VALUES)
    return dx


def tanh_forward(x):
    """``tanh(x)``; the cache is the output (the gradient is ``1 - out**2``)."""
    _check_elementwise("tanh", x)
    out = _elementwise_forward(lambda src, dst: np.tanh(src, out=dst), x)
    return out, out


def tanh_backward(dout, cache):
    """``dx = dout * (1 - out * out)``, in one pass."""
    t = cache
    check_grad("tanh backward", dout, t.shape, t.dtype)
    return _elementwise_backward(_tanh_backward_kernel, dout, t)


def tanh_forward_naive(x):
    """``tanh(x) = 1 - 2 / (exp(2x) + 1)`` (exact at the extremes: exp overflows to inf, giving 1)."""
    _check_elementwise("tanh", x)
    with np.errstate(over="ignore"):
        out = 1 - 2 / (np.exp(2 * x) + 1)
    return out, x


def tanh_backward_naive(dout, cache):
    """``d tanh / dx = 1 / cosh(x)**2 = 1 - tanh(x)**2``."""
    x = cache
    check_grad("tanh backward", dout, x.shape, x.dtype)
    t = tanh_forward_naive(x)[0]
    return dout * (1 - t ** 2)


def leaky_relu_forward(x, negative_slope=0.01):
    """``x`` where ``x > 0``, else ``negative_slope * x``; the cache is ``(x, slope)``."""
    _check_elementwise("leaky_relu", x)
    slope = x.dtype.type(negative_slope)
    return np.where(x > 0, x, x * slope), (x, slope)


def leaky_relu_backward(dout, cache):
    """``dx = dout`` where ``x > 0``, else ``slope * dout`` (torch's rule: the slope at x == 0)."""
    x, slope = cache
    check_grad("leaky_relu backward", dout, x.shape, x.dtype)
    return np.where(x > 0, dout, dout * slope)


def leaky_relu_forward_naive(x, negative_slope=0.01):
    """``max(x, 0) + slope * min(x, 0)``."""
    _check_elementwise("leaky_relu", x)
    slope = x.dtype.type(negative_slope)
    return np.maximum(x, 0) + slope * np.minimum(x, 0), (x, slope)


def leaky_relu_backward_naive(dout, cache):
    x, slope = cache
    check_grad("leaky_relu backward", dout, x.shape, x.dtype)
    return dout * ((x > 0) + slope * (x <= 0)).astype(x.dtype)



# --------------------------------------------------------------------------- hardtanh (and ReLU6)
# ``relu6(x)`` is ``hardtanh(x, 0, 6)``: one kernel pair for both.  The slope is 0 at and beyond either
# bound and 1 elsewhere (torch's rule, as ReLU's 0 at x == 0; a NaN passes its gradient on, as in torch).
def _check_hardtanh(x, min_val, max_val):
    check_float_array("hardtanh input", x)
    for name, value in (("min_val", min_val), ("max_val", max_val)):
        if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, (bool, np.bool_)):
            raise TypeError(f"hardtanh: expected {name} as a number, got {type(value).__name__}")
    if not min_val <= max_val:
        raise ValueError(f"hardtanh: expected min_val <= max_val, got min_val={min_val}, max_val={max_val}")
    return x.dtype.type(min_val), x.dtype.type(max_val)


@njit(cache=True, nogil=True)
def _hardtanh_backward_kernel(dout, x, lo, hi, dx):
    for k in range(x.size):
        dx[k] = 0 if x[k] <= lo or x[k] >= hi else dout[k]


def hardtanh_forward(x, min_val=-1.0, max_val=1.0):
    """``min(max(x, min_val), max_val)`` elementwise (NaN stays NaN, as torch).

    Parameters
    ----------
    x : ndarray, any shape, float32 or float64
    min_val, max_val : numbers, ``min_val <= max_val``

    Returns
    -------
    out : ndarray, shape and dtype of ``x`` (a new array)
    cache : ``(x, lo, hi)``, the bounds in x's dtype
    """
    lo, hi = _check_hardtanh(x, min_val, max_val)
    out = _elementwise_forward(lambda src, dst: np.clip(src, lo, hi, out=dst), x)
    return out, (x, lo, hi)


def hardtanh_backward(dout, cache):
    """``dx = 0`` where ``x <= min_val`` or ``x >= max_val``, else ``dout`` (NaN included, as torch), in one pass."""
    x, lo, hi = cache
    check_grad("hardtanh backward", dout, x.shape, x.dtype)
    dx = np.empty(x.shape, dtype=x.dtype)
    flat_d, flat_x, flat_dx = np.ascontiguousarray(dout).reshape(-1), np.ascontiguousarray(x).reshape(-1), \
        dx.reshape(-1)
    threads.map_chunks(lambda sl: _hardtanh_backward_kernel(flat_d[sl], flat_x[sl], lo, hi, flat_dx[sl]), x.size,
                       threads.MIN_CHUNK_VALUES)
    return dx


def hardtanh_forward_naive(x, min_val=-1.0, max_val=1.0):
    """The three cases written out: ``min_val`` below it, ``max_val`` above it, ``x`` between."""
    lo, hi = _check_hardtanh(x, min_val, max_val)
    return np.where(x < lo, lo, np.where(x > hi, hi, x)), (x, lo, hi)


def hardtanh_backward_naive(dout, cache):
    """Slope 0 at and beyond either bound, 1 elsewhere (a NaN input passes its gradient on, as in torch)."""
    x, lo, hi = cache
    check_grad("hardtanh backward", dout, x.shape, x.dtype)
    return np.where((x <= lo) | (x >= hi), np.zeros((), dtype=dout.dtype), dout)


# --------------------------------------------------------------------------- softmax, log-softmax
def _check_dim(name, x, dim):
    check_float_array(f"{name} input", x)
    ndim = max(x.ndim, 1)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or not -ndim <= dim < ndim:
        raise ValueError(f"{name}: expected dim as an int in [{-ndim}, {ndim}), got {dim!r}")
    return int(dim) % ndim if x.ndim else 0


def softmax_forward(x, dim):
    """``exp(x - max) / sum(exp(x - max))`` along ``dim``; the cache is ``(out, dim)``."""
    dim = _check_dim("softmax", x, dim)
    if x.ndim == 0:
        return np.ones_like(x), (np.ones_like(x), dim)
    if x.size == 0:  # as torch: an empty result (max over an empty axis would raise)
        return np.empty_like(x), (np.empty_like(x), dim)
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    out = e / e.sum(axis=dim, keepdims=True)
    return out, (out, dim)


def softmax_backward(dout, cache):
    """``dx = y * (dout - sum(dout * y))`` along dim (the Jacobian ``diag(y) - y y^T`` applied to dout)."""
    y, dim = cache
    check_grad("softmax backward", dout, y.shape, y.dtype)
    if y.ndim == 0:
        return np.zeros_like(y)
    return y * (dout - (dout * y).sum(axis=dim, keepdims=True))


def log_softmax_forward(x, dim):
    """``x - max - log(sum(exp(x - max)))`` along ``dim``; the cache is ``(out, dim)``."""
    dim = _check_dim("log_softmax", x, dim)
    if x.ndim == 0:
        return np.zeros_like(x), (np.zeros_like(x), dim)
    if x.size == 0:  # as torch: an empty result (max over an empty axis would raise)
        return np.empty_like(x), (np.empty_like(x), dim)
    shifted = x - x.max(axis=dim, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return out, (out, dim)


def log_softmax_backward(dout, cache):
    """``dx = dout - softmax(x) * sum(dout)`` along dim, with ``softmax(x) = exp(out)``."""
    y, dim = cache
    check_grad("log_softmax backward", dout, y.shape, y.dtype)
    if y.ndim == 0:
        return np.zeros_like(y)
    return dout - np.exp(y) * dout.sum(axis=dim, keepdims=True)


def _rows(x, dim):
    """``x`` with ``dim`` moved last and the rest flattened: (rows, len)."""
    moved = np.moveaxis(x, dim, -1)
    return moved.reshape(-1, moved.shape[-1]), moved.shape


def softmax_forward_naive(x, dim):
    """One row at a time: ``p = exp(z - max z) / sum(...)``; same contract as :func:`softmax_forward`."""
    dim = _check_dim("softmax", x, dim)
    if x.ndim == 0:
        return np.ones_like(x), (np.ones_like(x), dim)
    if x.size == 0:  # as torch: an empty result (max over an empty axis would raise)
        return np.empty_like(x), (np.empty_like(x), dim)
    rows, moved_shape = _rows(x, dim)
    out = np.empty_like(rows)
    for r, z in enumerate(rows):
        e = np.exp(z - z.max())
        out[r] = e / e.sum()
    out = np.moveaxis(out.reshape(moved_shape), -1, dim)
    return out, (out, dim)


def softmax_backward_naive(dout, cache):
    """One row at a time, with the full Jacobian ``J = diag(p) - p p^T`` (symmetric): ``dz = J @ g``."""
    y, dim = cache
    check_grad("softmax backward", dout, y.shape, y.dtype)
    if y.ndim == 0 or y.size == 0:
        return np.zeros_like(y)
    rows, moved_shape = _rows(y, dim)
    grads, _ = _rows(dout, dim)
    dx = np.empty_like(rows)
    for r, (p, g) in enumerate(zip(rows, grads)):
        dx[r] = (np.diag(p) - np.outer(p, p)) @ g
    return np.moveaxis(dx.reshape(moved_shape), -1, dim)


def log_softmax_forward_naive(x, dim):
    """``log(softmax(x))`` row by row, through the log-sum-exp; same contract as :func:`log_softmax_forward`."""
    dim = _check_dim("log_softmax", x, dim)
    if x.ndim == 0:
        return np.zeros_like(x), (np.zeros_like(x), dim)
    if x.size == 0:  # as torch: an empty result (max over an empty axis would raise)
        return np.empty_like(x), (np.empty_like(x), dim)
    rows, moved_shape = _rows(x, dim)
    out = np.empty_like(rows)
    for r, z in enumerate(rows):
        m = z.max()
        out[r] = z - (m + np.log(np.exp(z - m).sum()))
    out = np.moveaxis(out.reshape(moved_shape), -1, dim)
    return out, (out, dim)


def log_softmax_backward_naive(dout, cache):
    """Row by row with the Jacobian ``J = I - 1 p^T`` of ``log softmax``: ``dz = J^T @ g``."""
    y, dim = cache
    check_grad("log_softmax backward", dout, y.shape, y.dtype)
    if y.ndim == 0 or y.size == 0:
        return np.zeros_like(y)
    rows, moved_shape = _rows(y, dim)
    grads, _ = _rows(dout, dim)
    dx = np.empty_like(rows)
    for r, (logp, g) in enumerate(zip(rows, grads)):
        jac = np.eye(len(logp), dtype=logp.dtype) - np.outer(np.ones_like(logp), np.exp(logp))
        dx[r] = jac.T @ g
    return np.moveaxis(dx.reshape(moved_shape), -1, dim)


# --------------------------------------------------------------------------- dropout
def _dropout_multiplier(x, p, keep):
    check_float_array("dropout input", x)
    if not isinstance(p, (float, int)) or isinstance(p, bool) or not 0 <= p <= 1:
        raise ValueError(f"dropout: expected probability p in [0, 1], got {p!r}")
    if not isinstance(keep, np.ndarray) or keep.dtype != np.bool_:
        raise TypeError(f"dropout: expected the keep mask as a boolean ndarray, got "
                        f"{getattr(keep, 'dtype', type(keep).__name__)}")
    if keep.ndim != x.ndim or any(k not in (1, n) for k, n in zip(keep.shape, x.shape)):
        raise ValueError(f"dropout: expected a keep mask broadcastable to {x.shape}, got {keep.shape}")
    if p == 1:  # torch: everything dropped, output zeros (1/(1-p) would be inf)
        return np.zeros(keep.shape, dtype=x.dtype)
    return np.where(keep, x.dtype.type(1 / (1 - p)), x.dtype.type(0))


def dropout_forward(x, p, keep):
    """Inverted dropout: ``out = x * keep / (1 - p)``.

    Parameters
    ----------
    x : ndarray, any shape
    p : float in [0, 1], the probability that an element was dropped
    keep : bool ndarray broadcastable to x (same ndim; Dropout2d's has shape (N, C, 1, 1))

    Returns
    -------
    out : ndarray like x;  cache : the multiplier ``keep / (1 - p)`` in x's dtype
    """
    multiplier = _dropout_multiplier(x, p, keep)
    return x * multiplier, multiplier


def dropout_backward(dout, cache):
    """``dx = dout * keep / (1 - p)``: the same multiplier as forward (dropout is linear in x)."""
    multiplier = cache
    check_float_array("dropout backward", dout)
    if dout.dtype != multiplier.dtype or np.broadcast_shapes(dout.shape, multiplier.shape) != dout.shape:
        raise ValueError(f"dropout backward: expected an upstream gradient of dtype {multiplier.dtype} "
                         f"that the mask {multiplier.shape} broadcasts to, got {dout.dtype} {dout.shape}")
    return dout * multiplier


def dropout_forward_naive(x, p, keep):
    """Element by element: zero where dropped, ``x / (1 - p)`` where kept."""
    multiplier = _dropout_multiplier(x, p, keep)
    keep = np.broadcast_to(keep, x.shape)
    out = np.zeros_like(x)
    if p < 1:
        out[keep] = x[keep] / x.dtype.type(1 - p)
    return out, multiplier


dropout_backward_naive = dropout_backward


# this file's ops, by torch's names (kernels/registry.py)
KERNELS = kernel_table(globals(), "relu", "sigmoid", "tanh", "leaky_relu", "hardtanh", "softmax", "log_softmax",
                       "dropout")
