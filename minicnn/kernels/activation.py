"""The activations (ReLU, sigmoid, tanh, leaky ReLU, hardtanh and ReLU6, hardsigmoid, hardswish, SiLU, GELU, ELU,
softplus, softmax, log-softmax, PReLU) and dropout.

ReLU's backward passes the gradient where the input was positive (torch's rule: 0 at x == 0)."""
import math

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


# ------------------------------------------------------------- hardsigmoid, hardswish, SiLU, GELU, ELU, softplus
# The activations of MobileNetV3 (hardsigmoid, hardswish), EfficientNet (SiLU), BERT and ViT (GELU), and
# ELU and softplus.  Each fast pair is two one-pass numba loops over the flat array, with the constants
# passed in x's dtype so that a float32 loop computes in float32.  The cache is the input (ELU's also its
# output, which gives the slope without a second exp); each backward recomputes from it what its slope
# needs, so an op keeps no intermediate array of its forward.  The formulas, their order of operations and
# the values at the kinks are torch's.  The naive twins are the textbook formulas in numpy.
def _check_number(op, name, value):
    """``value`` unchanged if it is a real number (a bool is refused: torch would read True as 1)."""
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: expected {name} as a number, got {type(value).__name__}")
    return value


def _pointwise_forward(kernel, x, *params):
    """``kernel(x, *params, out)`` over flat chunks on the pool: a new array of x's shape and dtype."""
    out = np.empty(x.shape, dtype=x.dtype)
    flat_x, flat_out = np.ascontiguousarray(x).reshape(-1), out.reshape(-1)
    threads.map_chunks(lambda sl: kernel(flat_x[sl], *params, flat_out[sl]), x.size, threads.MIN_CHUNK_VALUES)
    return out


def _pointwise_backward(kernel, dout, cached, *params):
    """``kernel(dout, *cached, *params, dx)`` over flat chunks on the pool (``cached``: arrays of dout's shape,
    x's first): one pass, a new array."""
    dx = np.empty(dout.shape, dtype=cached[0].dtype)
    flats, flat_dx = [np.ascontiguousarray(a).reshape(-1) for a in (dout, *cached)], dx.reshape(-1)
    threads.map_chunks(lambda sl: kernel(*[a[sl] for a in flats], *params, flat_dx[sl]), dx.size,
                       threads.MIN_CHUNK_VALUES)
    return dx


def _constants(x, *values):
    """``values`` in x's dtype (a float64 literal in a float32 numba loop would make it compute in float64)."""
    return tuple(x.dtype.type(v) for v in values)


@njit(cache=True, nogil=True)
def _hardsigmoid_forward_kernel(x, zero, three, six, out):
    for k in range(x.size):
        r = x[k] + three  # relu6(x + 3) / 6, torch's order; NaN stays NaN
        if r < zero:
            r = zero
        elif r > six:
            r = six
        out[k] = r / six


@njit(cache=True, nogil=True)
def _hardsigmoid_backward_kernel(dout, x, three, sixth, dx):
    for k in range(x.size):
        if -three < x[k] < three:
            dx[k] = dout[k] * sixth
        else:
            dx[k] = 0


# torch's slope of hardsigmoid: 1/6 rounded to float32, in float64 too (ATen's ``one_sixth(1.0f / 6.0f)``),
# 3e-8 from 1/6; minicnn uses the same number, so that its float64 gradients are torch's to round-off.
TORCH_ONE_SIXTH = float(np.float32(1 / 6))


def hardsigmoid_forward(x):
    """``relu6(x + 3) / 6`` elementwise: 0 at and below -3, 1 at and above 3, ``x/6 + 1/2`` between.

    Parameters
    ----------
    x : ndarray, any shape, float32 or float64

    Returns
    -------
    out : ndarray, shape and dtype of ``x`` (a new array)
    cache : ``x``
    """
    check_float_array("hardsigmoid input", x)
    return _pointwise_forward(_hardsigmoid_forward_kernel, x, *_constants(x, 0, 3, 6)), x


def hardsigmoid_backward(dout, cache):
    """``dx = dout / 6`` where ``-3 < x < 3``, else 0 (torch's rule: 0 at the bounds, and at NaN), in one pass
    (``1/6`` is :data:`TORCH_ONE_SIXTH`)."""
    x = cache
    check_grad("hardsigmoid backward", dout, x.shape, x.dtype)
    return _pointwise_backward(_hardsigmoid_backward_kernel, dout, (x,), *_constants(x, 3, TORCH_ONE_SIXTH))


def hardsigmoid_forward_naive(x):
    """The three cases written out: 0 at and below -3, 1 at and above 3, ``x/6 + 1/2`` between."""
    check_float_array("hardsigmoid input", x)
    return np.where(x <= -3, 0, np.where(x >= 3, 1, x / 6 + 1 / 2)).astype(x.dtype, copy=False), x


def hardsigmoid_backward_naive(dout, cache):
    """Slope 1/6 (torch's, :data:`TORCH_ONE_SIXTH`) strictly between -3 and 3, 0 elsewhere."""
    x = cache
    check_grad("hardsigmoid backward", dout, x.shape, x.dtype)
    sixth = x.dtype.type(TORCH_ONE_SIXTH)
    return np.where((x > -3) & (x < 3), dout * sixth, np.zeros((), dtype=dout.dtype))


@njit(cache=True, nogil=True)
def _hardswish_forward_kernel(x, zero, three, six, out):
    for k in range(x.size):
        r = x[k] + three  # x * relu6(x + 3) / 6, torch's order (so -inf gives NaN, as in torch)
        if r < zero:
            r = zero
        elif r > six:
            r = six
        out[k] = x[k] * r / six


@njit(cache=True, nogil=True)
def _hardswish_backward_kernel(dout, x, three, half, dx):
    for k in range(x.size):
        if x[k] <= -three:
            dx[k] = 0
        elif x[k] < three:
            dx[k] = dout[k] * (x[k] / three + half)
        else:
            dx[k] = dout[k]


def hardswish_forward(x):
    """``x * relu6(x + 3) / 6`` elementwise: 0 at and below -3, ``x`` at and above 3, ``x (x + 3) / 6`` between.

    Parameters
    ----------
    x : ndarray, any shape, float32 or float64

    Returns
    -------
    out : ndarray, shape and dtype of ``x`` (a new array)
    cache : ``x``
    """
    check_float_array("hardswish input", x)
    return _pointwise_forward(_hardswish_forward_kernel, x, *_constants(x, 0, 3, 6)), x


def hardswish_backward(dout, cache):
    """``dx = dout * (x/3 + 1/2)`` for ``-3 < x < 3``, 0 at and below -3, ``dout`` at and above 3 (torch's
    choices at the two kinks), in one pass."""
    x = cache
    check_grad("hardswish backward", dout, x.shape, x.dtype)
    return _pointwise_backward(_hardswish_backward_kernel, dout, (x,), *_constants(x, 3, 0.5))


def hardswish_forward_naive(x):
    """The definition ``x * min(max(x + 3, 0), 6) / 6``."""
    check_float_array("hardswish input", x)
    with np.errstate(invalid="ignore"):  # -inf * 0 is NaN, as in torch
        return x * np.minimum(np.maximum(x + 3, 0), 6) / 6, x


def hardswish_backward_naive(dout, cache):
    """``d/dx [x (x + 3) / 6] = (2x + 3) / 6 = x/3 + 1/2`` in the middle piece; 0 at and below -3, 1 at and
    above 3."""
    x = cache
    check_grad("hardswish backward", dout, x.shape, x.dtype)
    return dout * np.where(x <= -3, 0, np.where(x < 3, x / 3 + 1 / 2, 1)).astype(x.dtype, copy=False)


@njit(cache=True, nogil=True)
def _silu_forward_kernel(x, one, out):
    for k in range(x.size):
        out[k] = x[k] / (one + math.exp(-x[k]))


@njit(cache=True, nogil=True)
def _silu_backward_kernel(dout, x, one, dx):
    for k in range(x.size):
        s = one / (one + math.exp(-x[k]))
        dx[k] = dout[k] * s * (one + x[k] * (one - s))


def silu_forward(x):
    """``x * sigmoid(x) = x / (1 + exp(-x))`` elementwise (SiLU, or swish).

    Parameters
    ----------
    x : ndarray, any shape, float32 or float64

    Returns
    -------
    out : ndarray, shape and dtype of ``x`` (a new array)
    cache : ``x``
    """
    check_float_array("silu input", x)
    return _pointwise_forward(_silu_forward_kernel, x, *_constants(x, 1)), x


def silu_backward(dout, cache):
    """``dx = dout * s * (1 + x * (1 - s))`` with ``s = sigmoid(x)``, in one pass."""
    x = cache
    check_grad("silu backward", dout, x.shape, x.dtype)
    return _pointwise_backward(_silu_backward_kernel, dout, (x,), *_constants(x, 1))


def silu_forward_naive(x):
    """The definition ``x * sigmoid(x)`` (the sigmoid of :func:`sigmoid_forward_naive`)."""
    check_float_array("silu input", x)
    with np.errstate(invalid="ignore"):  # -inf * 0 is NaN, as in torch
        return x * sigmoid_forward_naive(x)[0], x


def silu_backward_naive(dout, cache):
    """The product rule: ``d/dx [x s(x)] = s + x * s * (1 - s)``, since ``s' = s (1 - s)``."""
    x = cache
    check_grad("silu backward", dout, x.shape, x.dtype)
    s = sigmoid_forward_naive(x)[0]
    with np.errstate(invalid="ignore"):
        return dout * (s + x * s * (1 - s))


# GELU, x * Phi(x) with Phi the standard normal CDF; 'tanh' is the approximation of Hendrycks and Gimpel
_GELU_APPROXIMATIONS = ("none", "tanh")
_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)    # the normal density's factor (torch: M_2_SQRTPI * M_SQRT1_2 / 2)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)      # the tanh approximation's (torch: M_SQRT2 * M_2_SQRTPI / 2)
_KAPPA = 0.044715


def _check_gelu(x, approximate):
    check_float_array("gelu input", x)
    if not isinstance(approximate, str):
        raise TypeError(f"gelu: expected approximate as a str, 'none' or 'tanh', got {type(approximate).__name__}")
    if approximate not in _GELU_APPROXIMATIONS:
        raise ValueError(f"gelu: expected approximate 'none' or 'tanh', got {approximate!r}")


@njit(cache=True, nogil=True)
def _gelu_forward_kernel(x, half, sqrt1_2, out):
    """``x Phi(x)`` with ``2 Phi(x) = 1 + erf(x / sqrt 2)`` written ``erfc(-x / sqrt 2)``: the same number, without
    the cancellation of 1 + erf in the left tail (at x = -4 in float32, 1e-5 of the value)."""
    for k in range(x.size):
        out[k] = x[k] * half * math.erfc(-x[k] * sqrt1_2)


@njit(cache=True, nogil=True)
def _gelu_backward_kernel(dout, x, half, sqrt1_2, inv_sqrt_2pi, dx):
    for k in range(x.size):
        v = x[k]
        cdf = half * math.erfc(-v * sqrt1_2)
        pdf = inv_sqrt_2pi * math.exp(-half * v * v)
        dx[k] = dout[k] * (cdf + v * pdf)


@njit(cache=True, nogil=True)
def _gelu_tanh_forward_kernel(x, half, one, c, kappa, out):
    for k in range(x.size):
        v = x[k]
        out[k] = half * v * (one + math.tanh(c * (v + kappa * (v * v * v))))


@njit(cache=True, nogil=True)
def _gelu_tanh_backward_kernel(dout, x, half, one, three, c, kappa, dx):
    for k in range(x.size):
        v = x[k]
        t = math.tanh(c * (v + kappa * (v * v * v)))
        dx[k] = dout[k] * (half * (one + t) + half * v * (one - t * t) * c * (one + three * kappa * (v * v)))


def gelu_forward(x, approximate="none"):
    """``x * Phi(x) = x/2 * (1 + erf(x / sqrt 2))`` elementwise; with ``approximate='tanh'``,
    ``x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))``.

    Parameters
    ----------
    x : ndarray, any shape, float32 or float64
    approximate : ``'none'`` or ``'tanh'``

    Returns
    -------
    out : ndarray, shape and dtype of ``x`` (a new array)
    cache : ``(x, approximate)``
    """
    _check_gelu(x, approximate)
    if approximate == "tanh":
        out = _pointwise_forward(_gelu_tanh_forward_kernel, x, *_constants(x, 0.5, 1, _SQRT_2_OVER_PI, _KAPPA))
    else:
        out = _pointwise_forward(_gelu_forward_kernel, x, *_constants(x, 0.5, _SQRT1_2))
    return out, (x, approximate)


def gelu_backward(dout, cache):
    """``dx = dout * (Phi(x) + x * phi(x))``, ``phi`` the normal density (the tanh form: its own derivative,
    as torch), in one pass."""
    x, approximate = cache
    check_grad("gelu backward", dout, x.shape, x.dtype)
    if approximate == "tanh":
        return _pointwise_backward(_gelu_tanh_backward_kernel, dout, (x,),
                                   *_constants(x, 0.5, 1, 3, _SQRT_2_OVER_PI, _KAPPA))
    return _pointwise_backward(_gelu_backward_kernel, dout, (x,), *_constants(x, 0.5, _SQRT1_2, _INV_SQRT_2PI))


_erfc = np.vectorize(math.erfc, otypes=[np.float64])  # numpy has no erf(c); Python's, entry by entry


def _gelu_naive_parts(x, approximate):
    """``(Phi, dPhi)``: the factor of x in GELU and its derivative, in float64 (the tanh form's Phi is
    ``(1 + tanh(u)) / 2`` with ``u = sqrt(2/pi) (x + 0.044715 x**3)``)."""
    x = x.astype(np.float64)
    if approximate == "tanh":
        t = np.tanh(_SQRT_2_OVER_PI * (x + _KAPPA * x ** 3))
        return (1 + t) / 2, (1 - t ** 2) / 2 * _SQRT_2_OVER_PI * (1 + 3 * _KAPPA * x ** 2)
    # Phi(x) = (1 + erf(x / sqrt 2)) / 2, written erfc(-x / sqrt 2) / 2: 1 + erf cancels in the left tail
    return _erfc(-x / math.sqrt(2)) / 2, np.exp(-x ** 2 / 2) / math.sqrt(2 * math.pi)


def gelu_forward_naive(x, approximate="none"):
    """The definition ``x * Phi(x)``, in float64, rounded to x's dtype."""
    _check_gelu(x, approximate)
    phi_cdf, _ = _gelu_naive_parts(x, approximate)
    return (x * phi_cdf).astype(x.dtype), (x, approximate)


def gelu_backward_naive(dout, cache):
    """The product rule: ``d/dx [x Phi(x)] = Phi(x) + x Phi'(x)``, ``Phi' = phi = exp(-x**2 / 2) / sqrt(2 pi)``."""
    x, approximate = cache
    check_grad("gelu backward", dout, x.shape, x.dtype)
    phi_cdf, d_phi_cdf = _gelu_naive_parts(x, approximate)
    with np.errstate(invalid="ignore"):  # inf * 0 at x = inf is NaN, as in torch
        return (dout * (phi_cdf + x * d_phi_cdf)).astype(x.dtype)


@njit(cache=True, nogil=True)
def _elu_forward_kernel(x, alpha, out):
    for k in range(x.size):
        out[k] = alpha * math.expm1(x[k]) if x[k] <= 0 else x[k]


@njit(cache=True, nogil=True)
def _elu_backward_kernel(dout, x, out, alpha, dx):
    for k in range(x.size):
        if x[k] <= 0:
            # alpha * exp(x): not out + alpha, which cancels in float32 far below 0 (2.5 - 2.4995 at x = -8.7)
            dx[k] = dout[k] * (alpha * math.exp(x[k]))
        else:
            dx[k] = dout[k]


def elu_forward(x, alpha=1.0):
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)`` (computed with expm1, as torch).

    Parameters
    ----------
    x : ndarray, any shape, float32 or float64
    alpha : number (any sign, as torch)

    Returns
    -------
    out : ndarray, shape and dtype of ``x`` (a new array)
    cache : ``(x, out, alpha)``, alpha in x's dtype (x says which side, whatever alpha's sign)
    """
    check_float_array("elu input", x)
    (alpha,) = _constants(x, _check_number("elu", "alpha", alpha))
    out = _pointwise_forward(_elu_forward_kernel, x, alpha)
    return out, (x, out, alpha)


def elu_backward(dout, cache):
    """``dx = dout`` where ``x > 0``, else ``dout * alpha * exp(x)`` (torch's rule: that slope, alpha, at x == 0),
    in one pass.  (``alpha * exp(x)`` is also ``out + alpha``, but that difference loses float32's digits far
    below 0.)"""
    x, out, alpha = cache
    check_grad("elu backward", dout, x.shape, x.dtype)
    return _pointwise_backward(_elu_backward_kernel, dout, (x, out), alpha)


def elu_forward_naive(x, alpha=1.0):
    """The two cases: ``x`` above 0, ``alpha * (exp(x) - 1)`` at and below (``expm1``: ``exp(x) - 1`` would
    lose the digits of a small x; x clipped at 0 there, so that the branch not taken cannot overflow)."""
    check_float_array("elu input", x)
    (alpha,) = _constants(x, _check_number("elu", "alpha", alpha))
    out = np.where(x <= 0, alpha * np.expm1(np.minimum(x, 0)), x)
    return out, (x, out, alpha)


def elu_backward_naive(dout, cache):
    """``d/dx alpha (exp(x) - 1) = alpha exp(x)`` at and below 0, 1 above (NaN takes 1, as torch's x <= 0 test)."""
    x, _, alpha = cache
    check_grad("elu backward", dout, x.shape, x.dtype)
    return dout * np.where(x <= 0, alpha * np.exp(np.minimum(x, 0)), 1).astype(x.dtype, copy=False)


@njit(cache=True, nogil=True)
def _softplus_forward_kernel(x, beta, threshold, out):
    for k in range(x.size):
        z = x[k] * beta
        out[k] = x[k] if z > threshold else math.log1p(math.exp(z)) / beta


@njit(cache=True, nogil=True)
def _softplus_backward_kernel(dout, x, beta, threshold, one, dx):
    for k in range(x.size):
        z = x[k] * beta
        if z > threshold:
            dx[k] = dout[k]
        else:
            e = math.exp(z)
            dx[k] = dout[k] * e / (e + one)


def _check_softplus(x, beta, threshold):
    check_float_array("softplus input", x)
    return _constants(x, _check_number("softplus", "beta", beta), _check_number("softplus", "threshold", threshold))


def softplus_forward(x, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta*x)) / beta`` elementwise, and ``x`` where ``beta*x > threshold`` (torch's rule).

    Parameters
    ----------
    x : ndarray, any shape, float32 or float64
    beta, threshold : numbers

    Returns
    -------
    out : ndarray, shape and dtype of ``x`` (a new array)
    cache : ``(x, beta, threshold)``, the numbers in x's dtype
    """
    beta, threshold = _check_softplus(x, beta, threshold)
    return _pointwise_forward(_softplus_forward_kernel, x, beta, threshold), (x, beta, threshold)


def softplus_backward(dout, cache):
    """``dx = dout * sigmoid(beta*x)``, and ``dout`` where the forward was linear, in one pass."""
    x, beta, threshold = cache
    check_grad("softplus backward", dout, x.shape, x.dtype)
    return _pointwise_backward(_softplus_backward_kernel, dout, (x,), beta, threshold, *_constants(x, 1))


def softplus_forward_naive(x, beta=1.0, threshold=20.0):
    """The two cases: ``x`` where ``beta*x > threshold``, else ``log(1 + exp(beta*x)) / beta``."""
    beta, threshold = _check_softplus(x, beta, threshold)
    linear = beta * x > threshold
    with np.errstate(over="ignore"):  # a threshold beyond exp's range: inf, as torch
        return np.where(linear, x, np.log1p(np.exp(np.where(linear, 0, beta * x))) / beta), (x, beta, threshold)


def softplus_backward_naive(dout, cache):
    """``d/dx log(1 + exp(beta x)) / beta = exp(beta x) / (1 + exp(beta x))``; 1 where the forward was linear."""
    x, beta, threshold = cache
    check_grad("softplus backward", dout, x.shape, x.dtype)
    linear = beta * x > threshold
    with np.errstate(over="ignore", invalid="ignore"):  # a threshold beyond exp's range: inf / inf, as torch
        e = np.exp(np.where(linear, 0, beta * x))
        return dout * np.where(linear, 1, e / (1 + e))


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


# --------------------------------------------------------------------------- PReLU
# Leaky ReLU with a learnt slope per channel (dim 1; one slope for every channel if the weight has one value).
# The slope is a parameter, so the backward has two results: dx = dout where x > 0 and w[c] * dout elsewhere
# (torch's rule: the slope at x == 0, as leaky ReLU's), and dw[c] = the sum, over every entry of channel c,
# of x * dout where x <= 0: a reduction over all dims but the channel's.
def _check_prelu(x, weight):
    check_float_array("prelu input", x)
    check_float_array("prelu weight", weight)
    if weight.dtype != x.dtype:
        raise TypeError(f"prelu: expected weight of the input's dtype {x.dtype}, got {weight.dtype}")
    if weight.ndim > 1:
        raise ValueError(f"prelu: expected weight as a scalar or a 1-D array, got shape {weight.shape}")
    channels = x.shape[1] if x.ndim >= 2 else 1
    if weight.size != 1 and weight.size != channels:
        raise ValueError(f"prelu: expected weight of 1 value or of the input's {channels} channels (dim 1), got "
                         f"{weight.size} values (input shape {x.shape})")


def _channels_last_axis(a):
    """``a`` as (N, C, rest) with C the slopes' channel axis: dim 1 for 2 dims or more, else one channel."""
    if a.ndim < 2:
        return a.reshape(1, 1, a.size)
    return a.reshape(a.shape[0], a.shape[1], int(np.prod(a.shape[2:], dtype=np.int64)))


@njit(cache=True, nogil=True)
def _prelu_forward_kernel(x, w, out):
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            slope = w[c if w.size > 1 else 0]
            for k in range(x.shape[2]):
                v = x[n, c, k]
                out[n, c, k] = v if v > 0 else slope * v


@njit(cache=True, nogil=True)
def _prelu_backward_kernel(dout, x, w, dx, dw):
    """dx entry by entry; dw summed in float64 per channel (the sum runs over N * rest entries)."""
    for c in range(x.shape[1]):
        slope = w[c if w.size > 1 else 0]
        acc = 0.0
        for n in range(x.shape[0]):
            for k in range(x.shape[2]):
                v, g = x[n, c, k], dout[n, c, k]
                if v > 0:
                    dx[n, c, k] = g
                else:
                    dx[n, c, k] = slope * g
                    acc += np.float64(v) * np.float64(g)
        dw[c if w.size > 1 else 0] += acc


def prelu_forward(x, weight):
    """``x`` where positive, else ``weight[c] * x`` with ``c`` the channel (dim 1), as ``torch.nn.functional.prelu``.

    Parameters
    ----------
    x : ndarray, any shape (the channels along dim 1 when it has 2 dims or more), float32 or float64
    weight : ndarray (C,) or (1,) or (), x's dtype: the slopes, one per channel or one for all

    Returns
    -------
    out : ndarray, shape and dtype of ``x`` (a new array)
    cache : ``(x, weight)``
    """
    _check_prelu(x, weight)
    out = np.empty(x.shape, dtype=x.dtype)
    _prelu_forward_kernel(np.ascontiguousarray(_channels_last_axis(x)), weight.reshape(-1),
                          _channels_last_axis(out))
    return out, (x, weight)


def prelu_backward(dout, cache):
    """``(dx, dweight)``: ``dx = dout`` where ``x > 0``, ``weight[c] * dout`` elsewhere; ``dweight[c]`` the sum of
    ``x * dout`` over channel ``c``'s entries with ``x <= 0`` (summed in float64), in one pass."""
    x, weight = cache
    check_grad("prelu backward", dout, x.shape, x.dtype)
    dx = np.empty(x.shape, dtype=x.dtype)
    dw = np.zeros(weight.size, dtype=np.float64)
    _prelu_backward_kernel(np.ascontiguousarray(_channels_last_axis(dout)),
                           np.ascontiguousarray(_channels_last_axis(x)), weight.reshape(-1),
                           _channels_last_axis(dx), dw)
    return dx, dw.astype(x.dtype).reshape(weight.shape)


def _slopes(x, weight):
    """The weight broadcast against ``x``: (1, C, 1, ...) for 2 dims or more, else the single slope."""
    if x.ndim < 2 or weight.size == 1:
        return weight.reshape(())
    return weight.reshape((1, -1) + (1,) * (x.ndim - 2))


def prelu_forward_naive(x, weight):
    """``np.where(x > 0, x, w * x)`` with the weight broadcast along dim 1."""
    _check_prelu(x, weight)
    return np.where(x > 0, x, _slopes(x, weight) * x), (x, weight)


def prelu_backward_naive(dout, cache):
    """``dx = where(x > 0, dout, w * dout)``; ``dweight`` = ``sum(where(x > 0, 0, x * dout))`` over every dim but
    the channel's (over all of them for a single slope)."""
    x, weight = cache
    check_grad("prelu backward", dout, x.shape, x.dtype)
    dx = np.where(x > 0, dout, _slopes(x, weight) * dout)
    per_entry = np.where(x > 0, np.zeros((), x.dtype), x * dout)
    if x.ndim < 2 or weight.size == 1:
        dw = per_entry.sum()
    else:
        dw = per_entry.sum(axis=tuple(a for a in range(x.ndim) if a != 1))
    return dx, np.asarray(dw, dtype=x.dtype).reshape(weight.shape)


# this file's ops, by torch's names (kernels/registry.py)
KERNELS = kernel_table(globals(), "relu", "sigmoid", "tanh", "leaky_relu", "hardtanh", "hardsigmoid", "hardswish",
                       "silu", "gelu", "elu", "softplus", "softmax", "log_softmax", "dropout", "prelu")
