"""Batch normalisation, layer normalisation, group and instance normalisation, and local response normalisation.

Batch norm, per channel ``c`` over the ``M = N * (everything after C)`` values it holds::

    xhat = (x - mean_c) / sqrt(var_c + eps)          (var: biased, divided by M)
    out  = weight_c * xhat + bias_c

with the batch's own ``mean_c``/``var_c`` in training and given (running)
statistics in evaluation.  In training the statistics depend on ``x``, so
the gradient has two extra terms (cs231n's "batch_norm_backward_alt")::

    dx = weight_c / sqrt(var_c + eps) * (dy - mean(dy) - xhat * mean(dy * xhat))

Group norm splits the C channels of each sample into G groups of C/G and normalises each group over its
``D = C/G * L`` values (L: everything after C), with a per-channel ``weight`` and ``bias`` after; instance
norm is group norm with one channel per group (G = C), plus torch's running statistics, and layer norm over
the last dims is group norm with one group on an (R, D, 1) view: the same kernels run all three (see the group
norm section below).

Local response normalisation (torch's formula, AlexNet's layer), over a
window of ``size`` channels, zero-padded (``size // 2`` before, ``(size-1) // 2`` after)::

    s_c = k + alpha / size * sum_{c' in window(c)} x_c'^2;     out_c = x_c / s_c ** beta
"""
import collections
import math

import numpy as np
from numba import njit

from .. import threads
from .checks import check_float_array, check_grad, check_same_dtype
from .activation import relu_backward_naive, relu_forward_naive
from .registry import kernel_table


BatchNormCache = collections.namedtuple("BatchNormCache", "xhat invstd weight training mean var count shape")
BatchNormCache.__doc__ = """What batch norm's backward needs (and the batch statistics, for the running estimates).

xhat : (N, C, L) normalised input, dtype of x;  invstd : (C,) 1/sqrt(var + eps), dtype of x
weight : (C,) or None;  training : bool, statistics were the batch's
mean, var : (C,) float64 batch mean and biased variance (None in evaluation);  count : M;  shape : x's shape
"""


# --------------------------------------------------------------------------- batch norm: checks
def _check_batch_norm(x, weight, bias, running_mean, running_var, training, eps, op="batch_norm"):
    """The checks of batch norm's arguments, refusing in the name of ``op`` (``batch_norm_relu`` for the fused one)."""
    check_float_array(f"{op} input", x)
    if x.ndim < 2:
        raise ValueError(f"{op} input: expected at least a 2-D (N, C, ...) array, got shape {x.shape}")
    c = x.shape[1]
    for name, a in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if a is not None:
            check_float_array(f"{op} {name}", a, 1)
            if a.shape != (c,):
                raise ValueError(f"{op}: expected {name} of shape ({c},) for input {x.shape}, got {a.shape}")
    check_same_dtype(op, x, weight, bias)
    if not training and (running_mean is None or running_var is None):
        raise ValueError(f"{op}: expected running_mean and running_var when training=False")
    if not (isinstance(eps, (float, int)) and not isinstance(eps, bool) and eps > 0):
        raise ValueError(f"{op}: expected eps > 0, got {eps!r}")
    count = x.size // c if c else 0
    if training and count <= 1:
        raise ValueError(f"{op}: expected more than 1 value per channel when training, got input size {x.shape}")
    return x.reshape(x.shape[0], c, -1) if x.size else np.zeros((x.shape[0], c, 0), x.dtype), count


# --------------------------------------------------------------------------- batch norm: numba
# One kernel call per chunk of channels does all of a channel's work before the next: a channel of
# a (64, 32, 28, 28) batch is 200 KB, so its second and third passes read L2, not memory.
#
# The order of every sum is written here, in the source, not left to the compiler.  A channel's
# values ``x[n, c, i]`` are summed down the batch first, position by position (``col[i] = x[0, c, i] +
# x[1, c, i] + ...`` in that order: an elementwise loop, which LLVM vectorises without changing any
# sum), then ``col`` across positions in LANES interleaved partial sums added up in one fixed tree
# (:func:`_total`).  No fastmath flag is set, so LLVM may neither reassociate these adds nor contract
# a multiply-add into an FMA.  So a channel's sums are the same on every x86-64 CPU, vector width and thread
# count, and the fused batch norm + ReLU (its ReLU mask a select inside the same loops) is
# bit-identical to batch norm then ReLU.
LANES = 8


@njit(cache=True, nogil=True)
def _total(col):
    """``sum(col)`` in a fixed order: LANES interleaved partial sums (element ``i`` to lane ``i % LANES``,
    the tail after the last whole group of LANES to lane 0), then ``((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7))``.
    (Eight locals rather than an array: a numba array lives in memory, not in registers.)"""
    length = col.size
    whole = length - length % LANES
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    for i in range(0, whole, LANES):
        s0, s1, s2, s3 = s0 + col[i], s1 + col[i + 1], s2 + col[i + 2], s3 + col[i + 3]
        s4, s5, s6, s7 = s4 + col[i + 4], s5 + col[i + 5], s6 + col[i + 6], s7 + col[i + 7]
    for i in range(whole, length):
        s0 += col[i]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@njit(cache=True, nogil=True)
def _channel_sum(x, c, centre, square, col):
    """float64 sum over ``x[:, c, :]`` of ``x - centre``, or of ``(x - centre)**2`` with ``square``, in the
    fixed order described above (``col``: float64 scratch of ``x.shape[2]``)."""
    col[:] = 0.0
    for n in range(x.shape[0]):
        row = x[n, c]
        if square:
            for i in range(col.size):
                d = row[i] - centre
                col[i] += d * d
        else:
            for i in range(col.size):
                col[i] += row[i] - centre
    return _total(col)


@njit(cache=True, nogil=True)
def _channel_grad_sums(dy, xhat, mask, relu, c, col_g, col_gx):
    """``(sum(g), sum(g * xhat))`` over channel ``c`` in float64 and the fixed order described above, where
    ``g`` is the gradient reaching batch norm's output: ``dy`` where ``mask > 0``, else 0 (``mask``: with
    ``relu`` the output of a ReLU after the batch norm, whose backward this is, else one row of ones,
    ``(1, 1, L)``; ``col_g``, ``col_gx``: float64 scratch of ``dy.shape[2]``)."""
    col_g[:] = 0.0
    col_gx[:] = 0.0
    for n in range(dy.shape[0]):
        d, xh = dy[n, c], xhat[n, c]
        m = mask[n, c] if relu else mask[0, 0]
        for i in range(col_g.size):
            # every value loaded before the select: a load inside one arm (``d[i] if m[i] > 0 else 0``)
            # stays a branch, which LLVM may not speculate, and a branch on a random mask costs 5-10x
            v, h = d[i], xh[i]
            g = np.float64(v) if m[i] > 0 else 0.0
            col_g[i] += g
            col_gx[i] += g * h
    return _total(col_g), _total(col_gx)


@njit(cache=True, nogil=True)
def _bn_forward_kernel(x, training, mean64, var64, eps, scale, shift, relu, c0, c1, mean, invstd, xhat, out):
    """Channels c0..c1 of ``x`` (N, C, L): in training the two-pass mean and biased variance (float64,
    written to ``mean64``/``var64``; otherwise those are read), then ``xhat = (x - mean) * invstd`` and
    ``out = scale * xhat + shift`` in x's dtype (``mean``, ``invstd``: (C,) arrays of that dtype); with
    ``relu``, ``out = max(out, 0)`` in the same pass (NaN stays NaN, as ``np.maximum``)."""
    n_img, _, length = x.shape
    count = n_img * length
    zero = np.zeros(1, dtype=out.dtype)[0]  # +0.0, as np.maximum(y, 0) gives for y <= 0
    col = np.empty(length)
    for c in range(c0, c1):
        if training:
            m = _channel_sum(x, c, 0.0, False, col) / count
            mean64[c] = m
            var64[c] = _channel_sum(x, c, m, True, col) / count
        invstd[c] = 1.0 / np.sqrt(var64[c] + eps)   # rounded to x's dtype by the store
        mean[c] = mean64[c]
        md, r, a, b = mean[c], invstd[c], scale[c], shift[c]
        for n in range(n_img):
            for i in range(length):
                v = (x[n, c, i] - md) * r
                xhat[n, c, i] = v
                y = a * v + b
                out[n, c, i] = zero if relu and y <= 0 else y   # (-0.0 too: np.maximum(-0.0, 0) is +0.0)


@njit(cache=True, nogil=True)
def _bn_backward_kernel(dy, xhat, gamma, invstd, training, need_input_grad, relu_out, c0, c1, sum_dy,
                        sum_dy_xhat, coef, dx):
    """Channels c0..c1: ``sum(dy)`` and ``sum(dy * xhat)`` in float64, then (if ``need_input_grad``)
    ``dx = a * dy + b * xhat + k`` with ``a = gamma * invstd`` and, in training,
    ``b = -a * sum(dy * xhat) / M``, ``k = -a * sum(dy) / M`` (``coef``: (3,) scratch in x's dtype).
    With a ReLU after the batch norm, ``relu_out`` is its output and ``dy`` the gradient above it: the
    ReLU's backward (``dy`` where ``relu_out > 0``, else 0) is applied on the fly; else ``relu_out`` is empty."""
    n_img, _, length = dy.shape
    count = n_img * length
    relu = relu_out.size > 0
    mask = relu_out if relu else np.ones((1, 1, length), dy.dtype)  # without a ReLU: every g is dy
    zero = np.zeros(1, dtype=dy.dtype)[0]  # g stays in dy's dtype on both branches
    col_g, col_gx = np.empty(length), np.empty(length)
    for c in range(c0, c1):
        s, t = _channel_grad_sums(dy, xhat, mask, relu, c, col_g, col_gx)
        sum_dy[c] = s
        sum_dy_xhat[c] = t
        if not need_input_grad:
            continue
        coef[0] = gamma[c] * invstd[c]
        a64 = np.float64(coef[0])
        coef[1] = -a64 * t / count if training else 0.0
        coef[2] = -a64 * s / count if training else 0.0
        a, b, k = coef[0], coef[1], coef[2]
        for n in range(n_img):
            d, xh, out = dy[n, c], xhat[n, c], dx[n, c]
            m = mask[n, c] if relu else mask[0, 0]
            for i in range(length):
                v = d[i]
                g = v if m[i] > 0 else zero
                out[i] = a * g + b * xh[i] + k


def _by_channel(fn, x3):
    """``fn(c0, c1)`` over chunks of channels, in parallel: each chunk writes its own channels."""
    threads.map_chunks(lambda sl: fn(sl.start, sl.stop), x3.shape[1], threads.min_items(x3.shape[0] * x3.shape[2]))


# --------------------------------------------------------------------------- batch norm: fast
def batch_norm_forward(x, weight, bias, running_mean, running_var, training, eps=1e-5, _relu=False):
    """Batch normalisation forward, as ``torch.nn.functional.batch_norm`` (the running estimates are
    not touched here: the caller updates them from ``cache.mean``/``cache.var``).

    Parameters
    ----------
    x : ndarray (N, C, ...) float32/float64
    weight, bias : ndarray (C,) in x's dtype, or None (no affine transform)
    running_mean, running_var : ndarray (C,) or None; used when ``training`` is False
    training : bool; True normalises with the batch's statistics
    eps : float > 0

    Returns
    -------
    out : ndarray, shape and dtype of x
    cache : :class:`BatchNormCache`
    """
    x3, count = _check_batch_norm(x, weight, bias, running_mean, running_var, training, eps,
                                 "batch_norm_relu" if _relu else "batch_norm")
    c, dtype = x3.shape[1], x.dtype
    x3 = np.ascontiguousarray(x3)
    if training:
        mean64, var64 = np.empty(c), np.empty(c)
    else:
        mean64, var64 = running_mean.astype(np.float64), running_var.astype(np.float64)
    scale = np.ones(c, dtype) if weight is None else weight.astype(dtype)
    shift = np.zeros(c, dtype) if bias is None else bias.astype(dtype)
    mean, invstd = np.empty(c, dtype), np.empty(c, dtype)
    xhat, out = np.empty_like(x3), np.empty_like(x3)
    _by_channel(lambda c0, c1: _bn_forward_kernel(x3, bool(training), mean64, var64, float(eps), scale, shift,
                                                  bool(_relu), c0, c1, mean, invstd, xhat, out), x3)
    stats = (mean64, var64) if training else (None, None)
    return out.reshape(x.shape), BatchNormCache(xhat, invstd, weight, bool(training), *stats, count, x.shape)


def batch_norm_backward(dout, cache, need_input_grad=True, _relu_out=None):
    """Batch normalisation backward.

    Parameters
    ----------
    dout : ndarray, shape and dtype of the forward output, not modified
    cache : from :func:`batch_norm_forward`
    need_input_grad : bool; False skips dx

    Returns
    -------
    dx : ndarray like x, or None;  dweight, dbias : ndarray (C,) or None (no affine transform)
    """
    xhat = cache.xhat
    check_grad("batch_norm backward", dout, cache.shape, xhat.dtype)
    dy = np.ascontiguousarray(dout).reshape(xhat.shape)
    c = xhat.shape[1]
    gamma = np.ones_like(cache.invstd) if cache.weight is None else cache.weight.astype(xhat.dtype)
    sum_dy, sum_dy_xhat = np.empty(c), np.empty(c)
    dx = np.empty_like(xhat) if need_input_grad else np.empty((0, c, 0), xhat.dtype)

    relu_out = np.empty((0, c, 0), xhat.dtype) if _relu_out is None else _relu_out.reshape(xhat.shape)

    def part(c0, c1):
        _bn_backward_kernel(dy, xhat, gamma, cache.invstd, cache.training, bool(need_input_grad), relu_out, c0, c1,
                            sum_dy, sum_dy_xhat, np.empty(3, xhat.dtype), dx)
    _by_channel(part, xhat)
    dx = dx.reshape(cache.shape) if need_input_grad else None
    if cache.weight is None:
        return dx, None, None
    return dx, sum_dy_xhat.astype(xhat.dtype), sum_dy.astype(xhat.dtype)


def batch_norm_relu_forward(x, weight, bias, running_mean, running_var, training, eps=1e-5):
    """``max(batch_norm(x), 0)`` in one pass over each channel (the ReLU applied as the output is written).

    The same arguments as :func:`batch_norm_forward`; returns ``out`` and the cache ``(bn_cache, out)``.
    """
    out, cache = batch_norm_forward(x, weight, bias, running_mean, running_var, training, eps, _relu=True)
    return out, (cache, out)


def batch_norm_relu_backward(dout, cache, need_input_grad=True):
    """Backward of :func:`batch_norm_relu_forward`: the ReLU's mask applied to ``dout`` inside batch norm's
    own passes; returns what :func:`batch_norm_backward` returns."""
    bn_cache, out = cache
    return batch_norm_backward(dout, bn_cache, need_input_grad, _relu_out=out)


# --------------------------------------------------------------------------- batch norm: naive
def batch_norm_forward_naive(x, weight, bias, running_mean, running_var, training, eps=1e-5, _op="batch_norm"):
    """The definition in numpy, step by step; the same contract as :func:`batch_norm_forward`."""
    x3, count = _check_batch_norm(x, weight, bias, running_mean, running_var, training, eps, _op)
    axes = (0, 2)
    if training:
        mean = x3.mean(axis=axes, dtype=np.float64)     # statistics summed in float64, as the fast kernel's
        var = x3.var(axis=axes, dtype=np.float64)
    else:
        mean, var = running_mean.astype(np.float64), running_var.astype(np.float64)
    invstd = (1 / np.sqrt(var + eps)).astype(x.dtype)
    xhat = (x3 - mean[:, None].astype(x.dtype)) * invstd[:, None]
    out = xhat if weight is None else weight[:, None] * xhat
    out = out if bias is None else out + bias[:, None]
    stats = (mean, var) if training else (None, None)
    return out.reshape(x.shape), BatchNormCache(xhat, invstd, weight, bool(training), *stats, count, x.shape)


def batch_norm_backward_naive(dout, cache, need_input_grad=True):
    """Backward by the chain rule through each step of the forward (cs231n's staged form):

    ``dxhat = dy * weight``; in training the batch mean and variance depend on x, so
    ``dvar = sum(dxhat * xhat) * (-1/2) * invstd**2`` (times ``x - mean = xhat / invstd``),
    ``dmean = -sum(dxhat) * invstd`` and
    ``dx = dxhat * invstd + dvar * 2 (x - mean) / M + dmean / M``.
    """
    xhat, invstd, weight = cache.xhat, cache.invstd[:, None], cache.weight
    check_grad("batch_norm backward", dout, cache.shape, xhat.dtype)
    dy = dout.reshape(xhat.shape)
    dweight = None if weight is None else (dy * xhat).sum(axis=(0, 2))
    dbias = None if weight is None else dy.sum(axis=(0, 2))
    if not need_input_grad:
        return None, dweight, dbias
    dxhat = dy if weight is None else dy * weight[:, None]
    if not cache.training:
        return (dxhat * invstd).reshape(cache.shape), dweight, dbias
    centred = xhat / invstd                                       # x - mean
    dvar = (dxhat * centred).sum(axis=(0, 2), keepdims=True) * -0.5 * invstd ** 3
    dmean = -(dxhat * invstd).sum(axis=(0, 2), keepdims=True)    # the dvar path adds 0: sum(x - mean) = 0
    dx = dxhat * invstd + dvar * 2 * centred / cache.count + dmean / cache.count
    return dx.reshape(cache.shape), dweight, dbias


def batch_norm_relu_forward_naive(x, weight, bias, running_mean, running_var, training, eps=1e-5):
    """The two naive twins one after the other: batch norm, then ReLU."""
    bn, bn_cache = batch_norm_forward_naive(x, weight, bias, running_mean, running_var, training, eps,
                                           "batch_norm_relu")
    out, relu_cache = relu_forward_naive(bn)
    return out, (bn_cache, relu_cache)


def batch_norm_relu_backward_naive(dout, cache, need_input_grad=True):
    """ReLU's naive backward, then batch norm's."""
    bn_cache, relu_cache = cache
    return batch_norm_backward_naive(relu_backward_naive(dout, relu_cache), bn_cache, need_input_grad)


# --------------------------------------------------------------------------- local response norm
def _check_lrn(x, size, alpha, beta, k):
    check_float_array("local_response_norm input", x)
    if x.ndim < 3:
        raise ValueError(f"local_response_norm input: expected at least a 3-D (N, C, ...) array, got shape {x.shape}")
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or not 1 <= size < 2 ** 63:
        raise ValueError(f"local_response_norm: expected size as an int from 1 to 2**63 - 1, got {size!r}")
    for name, v in (("alpha", alpha), ("beta", beta), ("k", k)):
        if not isinstance(v, (int, float, np.floating)) or not np.isfinite(v):
            raise TypeError(f"local_response_norm: expected {name} as a finite number, got {v!r}")
    return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))  # (empty too)


@njit(cache=True, nogil=True)
def _lrn_scale_kernel(x, size, alpha, k, scale):
    """``scale[n, c, i] = k + alpha/size * sum of x^2 over channels c - size//2 .. c + (size-1)//2``."""
    n_img, chans, length = x.shape
    before, after = size // 2, (size - 1) // 2
    for n in range(n_img):
        for i in range(length):
            for c in range(chans):
                s = 0.0
                for cc in range(max(0, c - before), min(chans, c + after + 1)):
                    s += x[n, cc, i] * x[n, cc, i]
                scale[n, c, i] = k + alpha / size * s


@njit(cache=True, nogil=True)
def _local_response_norm_backward_kernel(dy, x, scale, size, alpha, beta, dx):
    """``dx_j = dy_j s_j^-beta - 2 alpha beta / size * x_j * sum_{c: j in window(c)} dy_c x_c s_c^(-beta-1)``."""
    n_img, chans, length = x.shape
    before, after = size // 2, (size - 1) // 2
    coef = 2.0 * alpha * beta / size
    for n in range(n_img):
        for i in range(length):
            for j in range(chans):
                s = 0.0
                for c in range(max(0, j - after), min(chans, j + before + 1)):
                    s += dy[n, c, i] * x[n, c, i] * scale[n, c, i] ** (-beta - 1)
                dx[n, j, i] = dy[n, j, i] * scale[n, j, i] ** -beta - coef * x[n, j, i] * s


def local_response_norm_forward(x, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalisation across channels, as ``torch.nn.functional.local_response_norm``.

    Parameters
    ----------
    x : ndarray (N, C, ...) with at least 3 dims
    size : int, channels in the window;  alpha, beta, k : float

    Returns
    -------
    out : ndarray like x;  cache : (x as (N, C, L), scale (N, C, L), size, alpha, beta, x.shape)
    """
    x3 = _check_lrn(x, size, alpha, beta, k)
    scale = np.empty_like(x3)
    threads.map_chunks(lambda sl: _lrn_scale_kernel(x3[sl], size, float(alpha), float(k), scale[sl]), x3.shape[0])
    out = x3 / scale ** np.asarray(beta, dtype=x.dtype)
    return out.reshape(x.shape), (x3, scale, int(size), float(alpha), float(beta), x.shape)


def local_response_norm_backward(dout, cache):
    """Gradient of :func:`local_response_norm_forward` w.r.t. its input: an ndarray like x."""
    x3, scale, size, alpha, beta, shape = cache
    check_grad("local_response_norm backward", dout, shape, x3.dtype)
    dy = np.ascontiguousarray(dout).reshape(x3.shape)
    dx = np.empty_like(x3)
    threads.map_chunks(lambda sl: _local_response_norm_backward_kernel(dy[sl], x3[sl], scale[sl], size, alpha, beta, dx[sl]),
                       x3.shape[0])
    return dx.reshape(shape)


def _channel_window_sum(a, size):
    """``sum_{c' in window(c)} a[:, c']`` with zero padding: ``size // 2`` before, ``(size - 1) // 2`` after."""
    chans = a.shape[1]
    padded = np.pad(a, ((0, 0), (size // 2, (size - 1) // 2), (0, 0)))
    return sum(padded[:, d:d + chans] for d in range(size))


def local_response_norm_forward_naive(x, size, alpha=1e-4, beta=0.75, k=1.0):
    """The definition with a zero-padded channel window in numpy; same contract as :func:`local_response_norm_forward`."""
    x3 = _check_lrn(x, size, alpha, beta, k)
    dtype = x.dtype
    scale = dtype.type(k) + dtype.type(alpha / size) * _channel_window_sum(x3 * x3, size)
    out = x3 / scale ** dtype.type(beta)
    return out.reshape(x.shape), (x3, scale, int(size), float(alpha), float(beta), x.shape)


def local_response_norm_backward_naive(dout, cache):
    """The gradient of each output over every input of its window: the window sum turned around
    (output c sees inputs c - size//2 .. c + (size-1)//2, so input j reaches outputs j - (size-1)//2 .. j + size//2)."""
    x3, scale, size, alpha, beta, shape = cache
    check_grad("local_response_norm backward", dout, shape, x3.dtype)
    dy, t = dout.reshape(x3.shape), x3.dtype.type
    through_scale = dy * x3 * scale ** t(-beta - 1)
    chans = x3.shape[1]
    padded = np.pad(through_scale, ((0, 0), ((size - 1) // 2, size // 2), (0, 0)))  # the mirrored window
    window = sum(padded[:, d:d + chans] for d in range(size))
    dx = dy * scale ** t(-beta) - t(2 * alpha * beta / size) * x3 * window
    return dx.reshape(shape)

# --------------------------------------------------------------------------- layer norm
# Each of the R rows of x (R: the size of the dims before normalized_shape) normalised over its D values.  The
# fast pair is group norm's kernels (below) with one group on an (R, D, 1) view: R samples, each one group of D
# channels of one value, so a row's float64 two-pass statistics are its group's and group norm's per-channel
# weight_c, bias_c are layer norm's per-element weight_i, bias_i.  The naive twins are the row-by-row definition.
LayerNormCache = collections.namedtuple("LayerNormCache", "xhat invstd weight has_bias normalized shape")
LayerNormCache.__doc__ = """What layer norm's backward needs.

xhat : (R, D) normalised input (R rows, D = the normalized_shape's size), dtype of x;
invstd : (R, 1) 1/sqrt(var + eps), dtype of x;  weight : normalized_shape or None;  has_bias : bool;
normalized : the normalized_shape tuple;  shape : x's shape
"""


def _check_layer_norm(x, normalized_shape, weight, bias, eps):
    """``normalized_shape`` as a tuple (the last dims of ``x``), after torch's checks."""
    check_float_array("layer_norm input", x)
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else normalized_shape
    if not isinstance(shape, (tuple, list)) or not shape or \
            any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) for n in shape):
        raise TypeError(f"layer_norm: expected normalized_shape as an int or a non-empty tuple of ints, got "
                        f"{normalized_shape!r}")
    shape = tuple(int(n) for n in shape)
    if x.shape[x.ndim - len(shape):] != shape or x.ndim < len(shape):
        raise ValueError(f"layer_norm: expected an input whose last dims are normalized_shape {shape}, got shape "
                         f"{x.shape}")
    for name, a in (("weight", weight), ("bias", bias)):
        if a is not None:
            check_float_array(f"layer_norm {name}", a)
            if a.shape != shape:
                raise ValueError(f"layer_norm: expected {name} of shape normalized_shape {shape}, got {a.shape}")
    check_same_dtype("layer_norm", x, weight, bias)
    if not isinstance(eps, (float, int, np.floating, np.integer)) or isinstance(eps, bool):   # any number, as torch
        raise TypeError(f"layer_norm: expected eps as a number, got {type(eps).__name__}")
    return shape


def layer_norm_forward(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """``torch.nn.functional.layer_norm``: each sample normalised over its last dims ``normalized_shape``::

        xhat = (x - mean) / sqrt(var + eps)     (mean, biased var over those dims; in float64)
        out  = weight * xhat + bias             (weight, bias: normalized_shape, broadcast over the rest)

    Run by group norm's kernels (:func:`_group_norm`, below): x as ``(R, D, 1)``, R rows as R samples of one
    group of D channels of one value each, so a row's statistics are its group's and the per-channel weight
    and bias are layer norm's per-element ones.

    Parameters
    ----------
    x : ndarray (*, *normalized_shape), float32 or float64
    normalized_shape : int or tuple of ints, the last dims of ``x``
    weight, bias : ndarray normalized_shape, x's dtype, or None
    eps : float, added to the variance (torch takes any number; a negative one may make NaNs)

    Returns
    -------
    out : ndarray x.shape, x's dtype
    cache : :data:`LayerNormCache`
    """
    shape = _check_layer_norm(x, normalized_shape, weight, bias, eps)
    d = math.prod(shape)
    rows = math.prod(x.shape[:x.ndim - len(shape)])
    flat = [None if a is None else a.reshape(d) for a in (weight, bias)]   # element i of a row is channel i
    out, gn = _group_norm("layer_norm", x.reshape(rows, d, 1), 1, *flat, eps)
    return out.reshape(x.shape), LayerNormCache(gn.xhat.reshape(rows, d), gn.invstd, weight, bias is not None, shape,
                                                x.shape)


def layer_norm_backward(dout, cache):
    """``dx = invstd * (g - mean(g) - xhat * mean(g * xhat))`` per row, ``g = dout * weight``;
    ``dweight = sum over rows of dout * xhat``, ``dbias = sum over rows of dout``: group norm's backward
    (:func:`_group_norm_backward`) on the ``(R, D, 1)`` view of the forward.  Returns ``(dx, dweight, dbias)``
    (None for an absent weight or bias)."""
    xhat, weight = cache.xhat, cache.weight
    check_grad("layer_norm backward", dout, cache.shape, xhat.dtype)
    rows, d = xhat.shape
    gn = GroupNormCache(xhat.reshape(rows, 1, d), cache.invstd, None if weight is None else weight.reshape(d),
                        cache.has_bias, True, None, None, 1, (rows, d, 1), "layer_norm")
    dx, dweight, dbias = _group_norm_backward(dout.reshape(rows, d, 1), gn)
    return (dx.reshape(cache.shape), None if dweight is None else dweight.reshape(cache.normalized),
            None if dbias is None else dbias.reshape(cache.normalized))


def layer_norm_forward_naive(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """The definition, one row (one sample's normalised dims) at a time; the contract of
    :func:`layer_norm_forward`."""
    shape = _check_layer_norm(x, normalized_shape, weight, bias, eps)
    rows = x.reshape(math.prod(x.shape[:x.ndim - len(shape)]), math.prod(shape))   # (-1: no size where D = 0)
    xhat, invstd = np.empty_like(rows), np.empty((len(rows), 1), x.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):   # (a row of no values; var + eps <= 0: as torch)
        for r, row in enumerate(rows):
            mean = row.astype(np.float64).sum() / row.size
            var = ((row.astype(np.float64) - mean) ** 2).sum() / row.size
            invstd[r] = 1 / np.sqrt(var + eps)
            xhat[r] = (row - x.dtype.type(mean)) * invstd[r]
    out = xhat.copy()
    if weight is not None:
        out = out * weight.reshape(1, -1)
    if bias is not None:
        out = out + bias.reshape(1, -1)
    return out.reshape(x.shape), LayerNormCache(xhat, invstd, weight, bias is not None, shape, x.shape)


def layer_norm_backward_naive(dout, cache):
    """Backward by the chain rule through each step of the forward, row by row (as batch norm's staged
    form, with the statistics over a row instead of a channel)::

        dxhat = dy * weight
        dvar  = sum(dxhat * (x - mean)) * (-1/2) * invstd**3
        dmean = -sum(dxhat) * invstd            (the dvar path adds 0: sum(x - mean) = 0)
        dx    = dxhat * invstd + dvar * 2 (x - mean) / D + dmean / D
    """
    xhat, invstd, weight = cache.xhat, cache.invstd, cache.weight
    check_grad("layer_norm backward", dout, cache.shape, xhat.dtype)
    dy = dout.reshape(xhat.shape)
    d = xhat.shape[1]
    dweight = None if weight is None else np.sum(dy * xhat, axis=0).reshape(cache.normalized)
    dbias = np.sum(dy, axis=0).reshape(cache.normalized) if cache.has_bias else None
    dx = np.empty_like(dy)
    for r in range(len(dy)):
        dxhat = dy[r] if weight is None else dy[r] * weight.reshape(-1)
        centred = xhat[r] / invstd[r]                     # x - mean
        dvar = np.sum(dxhat * centred) * -0.5 * invstd[r] ** 3
        dmean = -np.sum(dxhat * invstd[r])
        dx[r] = dxhat * invstd[r] + dvar * 2 * centred / d + dmean / d
    return dx.reshape(cache.shape), dweight, dbias


# --------------------------------------------------------------------------- group norm and instance norm
# Group norm (torch.nn.functional.group_norm) splits the C channels of each sample into G groups of C/G
# consecutive channels (group g: channels g*C/G .. (g+1)*C/G - 1) and normalises each group over its
# D = C/G * L values (L: the size of everything after C), then applies a per-channel weight and bias:
#
#     xhat = (x - mean_ng) / sqrt(var_ng + eps)        (mean, biased var over the group; in float64)
#     out  = weight_c * xhat + bias_c
#
# Instance norm (torch.nn.functional.instance_norm) is exactly group norm with one channel per group
# (G = C): each channel of each sample normalised over its own L values.  Its running statistics are the
# one thing group norm has not: in training torch averages each instance's mean and *unbiased* variance
# over the batch into them (minicnn.functional does, from the cache's mean and var); in evaluation with
# running statistics every instance of channel c is normalised with running_mean_c and running_var_c,
# which is group norm's map with the statistics given instead of measured.  So both ops run the kernels
# below: ``_group_norm`` with G = C, given or measured statistics, and one backward, whose statistics
# terms vanish where the statistics were given (they do not depend on x).
#
# The fast kernels view x as (N*G, D), one row per group of one sample (row n*G + g), and split the rows
# between threads; each row's sums run in float64 and in the fixed order of batch norm's (:func:`_total`).
GroupNormCache = collections.namedtuple("GroupNormCache",
                                        "xhat invstd weight has_bias input_stats mean var groups shape op")
GroupNormCache.__doc__ = """What group norm's (and instance norm's) backward needs, and the statistics the running
estimates are updated from.

xhat : (N, G, D) normalised input, D = C/G * L values per group, dtype of x;  invstd : (N, G) 1/sqrt(var + eps),
dtype of x;  weight : (C,) or None;  has_bias : bool;  input_stats : bool, each group's own statistics normalised
it (False: they were given, instance norm's running statistics, and the backward has no statistics terms);
mean, var : (N, G) float64 group mean and biased variance (None where given);  groups : G;  shape : x's shape;
op : ``"group_norm"`` or ``"instance_norm"``, for messages
"""


def _check_norm_input(op, x, weight, bias, eps):
    """The checks group norm and instance norm share: an (N, C, ...) float input, weight and bias (C,) in its
    dtype or None, eps any number (as torch; a negative one may make NaNs)."""
    check_float_array(f"{op} input", x)
    if x.ndim < 2:
        raise ValueError(f"{op} input: expected at least a 2-D (N, C, ...) array, got shape {x.shape}")
    c = x.shape[1]
    for name, a in (("weight", weight), ("bias", bias)):
        if a is not None:
            check_float_array(f"{op} {name}", a)
            if a.shape != (c,):
                raise ValueError(f"{op}: expected {name} of shape ({c},), one value per channel of input {x.shape}, "
                                 f"got {a.shape}")
    check_same_dtype(op, x, weight, bias)
    if not isinstance(eps, (float, int, np.floating, np.integer)) or isinstance(eps, bool):
        raise TypeError(f"{op}: expected eps as a number, got {type(eps).__name__}")


def _check_group_norm(x, num_groups, weight, bias, eps):
    """torch's checks of group norm's arguments; returns G."""
    _check_norm_input("group_norm", x, weight, bias, eps)
    if not isinstance(num_groups, (int, np.integer)) or isinstance(num_groups, bool):
        raise TypeError(f"group_norm: expected num_groups as an int, got {type(num_groups).__name__}")
    if num_groups < 1:
        raise ValueError(f"group_norm: expected num_groups >= 1, got {num_groups}")
    c = x.shape[1]
    if c == 0:
        raise ValueError(f"group_norm: expected at least 1 channel, got input of shape {x.shape}")
    if c % num_groups:
        raise ValueError(f"group_norm: expected the input's channels divisible by num_groups, got input of shape "
                         f"{x.shape} and num_groups={num_groups}")
    if math.prod(x.shape[2:]) == 0:
        raise ValueError(f"group_norm: expected at least 1 value per channel after dim 1 (torch: HxW > 0), got "
                         f"input of shape {x.shape}")
    return int(num_groups)


def _check_instance_norm(x, weight, bias, running_mean, running_var, use_input_stats, eps):
    """torch's checks of instance norm's arguments; returns the given statistics, float64 (N, C) arrays
    (each channel's running ones, for every sample), or None where each instance's own normalise it."""
    _check_norm_input("instance_norm", x, weight, bias, eps)
    if not isinstance(use_input_stats, (bool, np.bool_)):
        raise TypeError(f"instance_norm: expected use_input_stats as a bool, got {type(use_input_stats).__name__}")
    n, c = x.shape[:2]
    for name, a in (("running_mean", running_mean), ("running_var", running_var)):
        if a is not None:
            check_float_array(f"instance_norm {name}", a, 1)
            if a.shape != (c,):
                raise ValueError(f"instance_norm: expected {name} of shape ({c},) for input {x.shape}, got {a.shape}")
    if use_input_stats:
        return None
    if running_mean is None or running_var is None:
        raise ValueError("instance_norm: expected running_mean and running_var when use_input_stats=False")
    return (np.broadcast_to(running_mean.astype(np.float64), (n, c)),
            np.broadcast_to(running_var.astype(np.float64), (n, c)))


@njit(cache=True, nogil=True)
def _inv_sqrt(v):
    """``1 / sqrt(v)`` as numpy computes it, inf at 0 and NaN below 0 or at NaN (a float division by zero
    would raise in numba; torch takes any eps, so var + eps may be 0 or negative)."""
    if v > 0:
        return 1.0 / np.sqrt(v)
    return np.inf if v == 0 else np.nan


@njit(cache=True, nogil=True)
def _gn_forward_kernel(x, input_stats, mean64, var64, eps, scale, shift, groups, length, r0, r1, invstd, xhat,
                       out):
    """Rows r0..r1 of ``x`` (N*G, D), row ``n*G + g`` the C/G channels of group g of sample n, each of
    ``length`` values: with ``input_stats`` the row's two-pass mean and biased variance (float64, in the fixed
    order of :func:`_total`, written to ``mean64``/``var64``; otherwise those are read), then
    ``xhat = (x - mean) * invstd`` and ``out = scale_c * xhat + shift_c`` in x's dtype, channel ``c`` of the
    row's k-th block of ``length`` values being ``g * C/G + k`` (``invstd``: (N*G,) of x's dtype)."""
    d = x.shape[1]
    per = d // length
    col = np.empty(d)
    mean = np.empty(1, dtype=x.dtype)   # the float64 mean rounded to x's dtype (by the store)
    for r in range(r0, r1):
        row = x[r]
        if input_stats:
            for i in range(d):
                col[i] = row[i]
            m = _total(col) / d
            for i in range(d):
                v = row[i] - m
                col[i] = v * v
            mean64[r] = m
            var64[r] = _total(col) / d
        invstd[r] = _inv_sqrt(var64[r] + eps)
        mean[0] = mean64[r]
        md, s = mean[0], invstd[r]
        c0 = (r % groups) * per
        for k in range(per):
            a, b = scale[c0 + k], shift[c0 + k]
            for i in range(k * length, (k + 1) * length):
                v = (row[i] - md) * s
                xhat[r, i] = v
                out[r, i] = a * v + b


@njit(cache=True, nogil=True)
def _gn_backward_kernel(dy, xhat, gamma, invstd, input_stats, groups, length, r0, r1, sum_dy, sum_dy_xhat, coef,
                        dx):
    """Rows r0..r1 (as :func:`_gn_forward_kernel`'s): for the k-th channel of the row's group the float64 sums
    of ``dy`` and of ``dy * xhat`` over its ``length`` values, into ``sum_dy[r, k]`` and ``sum_dy_xhat[r, k]``
    (their sums over the samples are the bias and weight gradients); then, ``g = gamma_c * dy`` the gradient
    reaching xhat, ``dx = invstd * (g - mean(g) - xhat * mean(g * xhat))`` with the means over the row's D
    values, written ``a_c * dy + b * xhat + k`` with ``a_c = gamma_c * invstd`` and ``b = -invstd * sum(g *
    xhat) / D``, ``k = -invstd * sum(g) / D`` where the statistics were the row's own (``input_stats``; else
    ``b = k = 0``: given statistics do not depend on x).  ``coef``: (3,) scratch in x's dtype."""
    d = dy.shape[1]
    per = d // length
    col_g, col_gx = np.empty(length), np.empty(length)
    for r in range(r0, r1):
        c0 = (r % groups) * per
        s_g = 0.0
        s_gx = 0.0
        for k in range(per):
            if length == 1:   # one value per channel (layer norm's view): the sums are that value
                v = np.float64(dy[r, k])
                s, t = v, v * xhat[r, k]
            else:
                for j in range(length):
                    i = k * length + j
                    v = np.float64(dy[r, i])
                    col_g[j] = v
                    col_gx[j] = v * xhat[r, i]
                s, t = _total(col_g), _total(col_gx)
            sum_dy[r, k] = s
            sum_dy_xhat[r, k] = t
            s_g += gamma[c0 + k] * s
            s_gx += gamma[c0 + k] * t
        r64 = np.float64(invstd[r])
        coef[1] = -r64 * s_gx / d if input_stats else 0.0
        coef[2] = -r64 * s_g / d if input_stats else 0.0
        b, shift = coef[1], coef[2]
        for k in range(per):
            coef[0] = gamma[c0 + k] * invstd[r]
            a = coef[0]
            for i in range(k * length, (k + 1) * length):
                dx[r, i] = a * dy[r, i] + b * xhat[r, i] + shift


def _group_norm(op, x, groups, weight, bias, eps, stats=None):
    """Group norm of a checked (N, C, ...) ``x`` in ``groups`` groups: each group normalised with its own
    statistics, or with ``stats`` = (mean, var), float64 arrays of (N, G), those.  Returns ``(out, cache)``."""
    n, c = x.shape[:2]
    length = math.prod(x.shape[2:])
    per = c // groups if groups else 0
    rows, d, dtype = n * groups, per * length, x.dtype
    x2 = np.ascontiguousarray(x).reshape(rows, d)
    input_stats = stats is None
    if input_stats:
        mean64, var64 = np.full(rows, np.nan), np.full(rows, np.nan)   # (NaN: a group of no values)
    else:
        mean64, var64 = (np.array(s, dtype=np.float64).reshape(rows) for s in stats)   # (a writable copy)
    scale = np.ones(c, dtype) if weight is None else weight.astype(dtype)
    shift = np.zeros(c, dtype) if bias is None else bias.astype(dtype)
    invstd, xhat, out = np.full(rows, np.nan, dtype), np.empty_like(x2), np.empty_like(x2)
    if d:
        threads.map_chunks(lambda sl: _gn_forward_kernel(x2, input_stats, mean64, var64, float(eps), scale, shift,
                                                         groups, length, sl.start, sl.stop, invstd, xhat, out),
                           rows, threads.min_items(d))
    stats_out = (mean64.reshape(n, groups), var64.reshape(n, groups)) if input_stats else (None, None)
    return out.reshape(x.shape), GroupNormCache(xhat.reshape(n, groups, d), invstd.reshape(n, groups), weight,
                                                bias is not None, input_stats, *stats_out, groups, x.shape, op)


def _group_norm_backward(dout, cache):
    """``(dx, dweight, dbias)`` of :func:`_group_norm` (None for an absent weight or bias)."""
    xhat, weight = cache.xhat, cache.weight
    check_grad(f"{cache.op} backward", dout, cache.shape, xhat.dtype)
    n, groups, d = xhat.shape
    c = cache.shape[1]
    per, length = (c // groups if groups else 0), math.prod(cache.shape[2:])
    rows = n * groups
    dy = np.ascontiguousarray(dout).reshape(rows, d)
    x2 = xhat.reshape(rows, d)
    gamma = np.ones(c, xhat.dtype) if weight is None else weight.astype(xhat.dtype)
    sum_dy, sum_dy_xhat = np.zeros((rows, per)), np.zeros((rows, per))
    dx = np.empty_like(x2)

    def part(sl):
        _gn_backward_kernel(dy, x2, gamma, cache.invstd.reshape(rows), cache.input_stats, groups, length, sl.start,
                            sl.stop, sum_dy, sum_dy_xhat, np.empty(3, xhat.dtype), dx)
    if d:
        threads.map_chunks(part, rows, threads.min_items(d))
    # row n*G + g, block k is channel g*C/G + k of sample n: (N*G, C/G) -> (N, C), summed over the samples
    dweight = None if weight is None else sum_dy_xhat.reshape(n, c).sum(axis=0).astype(xhat.dtype)
    dbias = sum_dy.reshape(n, c).sum(axis=0).astype(xhat.dtype) if cache.has_bias else None
    return dx.reshape(cache.shape), dweight, dbias


def _group_norm_naive(op, x, groups, weight, bias, eps, stats=None):
    """The definition, one group of one sample at a time; the contract of :func:`_group_norm`."""
    n, c = x.shape[:2]
    per = c // groups if groups else 0
    length = math.prod(x.shape[2:])
    blocks = x.reshape(n, groups, per * length)     # group g of sample n: channels g*C/G .. (g+1)*C/G - 1
    xhat, invstd = np.empty_like(blocks), np.empty((n, groups), x.dtype)
    mean, var = (np.empty((n, groups)), np.empty((n, groups))) if stats is None else stats
    with np.errstate(divide="ignore", invalid="ignore"):   # (a group of no values; var + eps <= 0: as torch)
        for i in range(n):
            for g in range(groups):
                values = blocks[i, g].astype(np.float64)
                if stats is None:
                    mean[i, g] = values.sum() / values.size
                    var[i, g] = ((values - mean[i, g]) ** 2).sum() / values.size
                invstd[i, g] = 1 / np.sqrt(var[i, g] + eps)
                xhat[i, g] = (blocks[i, g] - x.dtype.type(mean[i, g])) * invstd[i, g]
    out = xhat.reshape(n, c, length)
    if weight is not None:
        out = out * weight[:, None]
    if bias is not None:
        out = out + bias[:, None]
    stats_out = (mean, var) if stats is None else (None, None)
    return out.reshape(x.shape), GroupNormCache(xhat, invstd, weight, bias is not None, stats is None, *stats_out,
                                                groups, x.shape, op)


def _group_norm_backward_naive(dout, cache):
    """By the chain rule through each step of the forward, one group of one sample at a time (batch norm's
    staged form, with the statistics over a group instead of a channel)::

        dxhat = dy * weight_c
        dvar  = sum(dxhat * (x - mean)) * (-1/2) * invstd**3
        dmean = -sum(dxhat) * invstd            (the dvar path adds 0: sum(x - mean) = 0)
        dx    = dxhat * invstd + dvar * 2 (x - mean) / D + dmean / D

    (given statistics: ``dx = dxhat * invstd``); ``dweight_c = sum of dy * xhat`` and ``dbias_c = sum of dy``
    over the samples and the channel's positions."""
    xhat, invstd, weight = cache.xhat, cache.invstd, cache.weight
    check_grad(f"{cache.op} backward", dout, cache.shape, xhat.dtype)
    n, groups, d = xhat.shape
    c, length = cache.shape[1], math.prod(cache.shape[2:])
    dy = dout.reshape(n, c, length)
    dweight = None if weight is None else np.sum(dy * xhat.reshape(n, c, length), axis=(0, 2))
    dbias = np.sum(dy, axis=(0, 2)) if cache.has_bias else None
    dxhat = (dy if weight is None else dy * weight[:, None]).reshape(n, groups, d)
    dx = np.empty_like(dxhat)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(n):
            for g in range(groups):
                s = invstd[i, g]
                if not cache.input_stats:
                    dx[i, g] = dxhat[i, g] * s
                    continue
                centred = xhat[i, g] / s                     # x - mean
                dvar = np.sum(dxhat[i, g] * centred) * -0.5 * s ** 3
                dmean = -np.sum(dxhat[i, g] * s)
                dx[i, g] = dxhat[i, g] * s + dvar * 2 * centred / d + dmean / d
    return dx.reshape(cache.shape), dweight, dbias


def group_norm_forward(x, num_groups, weight=None, bias=None, eps=1e-5):
    """``torch.nn.functional.group_norm``: the C channels of each sample in ``num_groups`` groups of C/G
    consecutive channels, each group normalised over its C/G * L values, then a per-channel affine map::

        xhat = (x - mean) / sqrt(var + eps)     (mean, biased var over the group; in float64)
        out  = weight_c * xhat + bias_c

    Parameters
    ----------
    x : ndarray (N, C, *) with C > 0 and something after C (torch refuses an empty HxW), float32 or float64
    num_groups : int G >= 1 dividing C
    weight, bias : ndarray (C,) in x's dtype, or None
    eps : float, added to the variance (torch takes any number; a negative one may make NaNs)

    Returns
    -------
    out : ndarray x.shape, x's dtype
    cache : :data:`GroupNormCache`
    """
    groups = _check_group_norm(x, num_groups, weight, bias, eps)
    return _group_norm("group_norm", x, groups, weight, bias, eps)


def group_norm_backward(dout, cache):
    """Per group, with ``g = dout * weight_c``: ``dx = invstd * (g - mean(g) - xhat * mean(g * xhat))`` (the
    means over the group's D values); ``dweight_c = sum of dout * xhat``, ``dbias_c = sum of dout`` over the
    samples and the channel's positions.  Returns ``(dx, dweight, dbias)`` (None for an absent weight or bias)."""
    return _group_norm_backward(dout, cache)


def group_norm_forward_naive(x, num_groups, weight=None, bias=None, eps=1e-5):
    """The definition, one group of one sample at a time; the contract of :func:`group_norm_forward`."""
    groups = _check_group_norm(x, num_groups, weight, bias, eps)
    return _group_norm_naive("group_norm", x, groups, weight, bias, eps)


def group_norm_backward_naive(dout, cache):
    """The chain rule step by step, one group at a time (:func:`_group_norm_backward_naive`)."""
    return _group_norm_backward_naive(dout, cache)


def instance_norm_forward(x, weight, bias, running_mean, running_var, use_input_stats=True, eps=1e-5):
    """``torch.nn.functional.instance_norm``'s normalisation: group norm with one channel per group (G = C),
    each channel of each sample over its own L values, then ``weight_c * xhat + bias_c``::

        xhat = (x - mean_nc) / sqrt(var_nc + eps)                 (use_input_stats: the instance's own, float64)
        xhat = (x - running_mean_c) / sqrt(running_var_c + eps)   (otherwise)

    The running estimates are not touched here: ``minicnn.functional.instance_norm`` updates them from
    ``cache.mean`` and ``cache.var`` (each instance's, biased).

    Parameters
    ----------
    x : ndarray (N, C, ...), float32 or float64
    weight, bias : ndarray (C,) in x's dtype, or None
    running_mean, running_var : ndarray (C,) or None; they normalise when ``use_input_stats`` is False
    use_input_stats : bool
    eps : float (any number, as torch)

    Returns
    -------
    out : ndarray x.shape, x's dtype
    cache : :data:`GroupNormCache` (G = C)
    """
    stats = _check_instance_norm(x, weight, bias, running_mean, running_var, use_input_stats, eps)
    return _group_norm("instance_norm", x, x.shape[1], weight, bias, eps, stats)


def instance_norm_backward(dout, cache):
    """Group norm's backward with one channel per group (:func:`group_norm_backward`); where the running
    statistics normalised, ``dx = dout * weight_c * invstd_c`` alone.  Returns ``(dx, dweight, dbias)``."""
    return _group_norm_backward(dout, cache)


def instance_norm_forward_naive(x, weight, bias, running_mean, running_var, use_input_stats=True, eps=1e-5):
    """Naive group norm with one channel per group; the contract of :func:`instance_norm_forward`."""
    stats = _check_instance_norm(x, weight, bias, running_mean, running_var, use_input_stats, eps)
    return _group_norm_naive("instance_norm", x, x.shape[1], weight, bias, eps, stats)


def instance_norm_backward_naive(dout, cache):
    """Naive group norm's backward with one channel per group (:func:`_group_norm_backward_naive`)."""
    return _group_norm_backward_naive(dout, cache)


# this file's ops, by torch's names (kernels/registry.py)
KERNELS = kernel_table(globals(), "batch_norm", "batch_norm_relu", "local_response_norm", "layer_norm", "group_norm",
                       "instance_norm")
