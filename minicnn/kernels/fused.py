"""Conv2d -> +bias -> ReLU -> MaxPool2d(2), fused into the passes the GEMMs leave.

Unfused, the conv output (N, O, H, W) is written, re-read by ReLU, written
again, and read by the pool: three full passes over the largest activation
of the network, in both directions.  Here the pool reads the GEMM's column-
layout output once and writes only the pooled quarter:

    pooled[n, o, y, x] = relu(bias[o] + max over the 2x2 window of out2[o, n, ., .])

(ReLU commutes with max, so the window's winner is the same as after ReLU;
when every value in a window is <= 0 the output and its gradient are 0 either
way.)  Backward writes ``dout2`` in column layout directly: the upstream
gradient at each window's winner where the pooled value was positive, zero
elsewhere, and sums the bias gradient on the way.

The definition is the composition ``maxpool2d(relu(conv2d(x)))``;
:func:`conv2d_relu_maxpool2d_forward_naive` is exactly that, and the tests hold
the fused kernels to it.
"""
import numpy as np
from numba import njit

from . import winograd
from ._check import check_grad
from .activation import relu_backward_naive, relu_forward_naive
from .conv import (_conv_geometry, conv2d_backward_naive, conv2d_forward_naive, conv_backward_chunks,
                   conv_forward_chunks)
from .pool import _maxpool_forward_kernel, has_nan, max2x2, maxpool2d_backward_naive, maxpool2d_forward_naive
from .winograd import _output_tile, _store_tiles_adjoint


@njit(cache=True, nogil=True)
def _bias_relu_pool_kernel(out2, bias, h, w, pooled, argmax):
    """NaN-free ``out2`` only: selects instead of branches, as in ``pool._maxpool2x2_forward_kernel``."""
    n_img, n_out, ph, pw = pooled.shape
    area = h * w
    for n in range(n_img):
        for o in range(n_out):
            plane = out2[o, n * area:(n + 1) * area]
            b = bias[o]
            for y in range(ph):
                r = 2 * y * w
                top, bottom = plane[r:r + w], plane[r + w:r + 2 * w]
                po, pa = pooled[n, o, y], argmax[n, o, y]
                for x in range(pw):
                    best, at = max2x2(top, bottom, x, r, w)
                    best += b
                    po[x] = best if best > 0 else 0
                    pa[x] = at


@njit(cache=True, nogil=True)
def _unpool_relu_kernel(dpooled, pooled, argmax, h, w, dout2, dbias):
    n_img, n_out, ph, pw = pooled.shape
    area = h * w
    for o in range(n_out):
        row = dout2[o]
        for k in range(row.size):  # one contiguous zeroing pass, then scatter the winners
            row[k] = 0
        acc = 0.0  # float64: a float32 running sum over N*H*W/4 terms drifts
        for n in range(n_img):
            for y in range(ph):
                for x in range(pw):
                    if pooled[n, o, y, x] > 0:
                        g = dpooled[n, o, y, x]
                        row[n * area + argmax[n, o, y, x]] = g
                        acc += g
        dbias[o] = acc


# The Winograd path's pair: a 2x2 output tile of F(2x2, 3x3) *is* a 2x2 pooling window (both start at
# even coordinates), so the pool reads each tile's four outputs straight from the transformed-domain
# product M, and backward writes dM = A dY A^T of a dY that is zero but at the winner.  The conv's
# full output is never written.
@njit(cache=True, nogil=True)
def _winograd_bias_relu_pool_kernel(m, bias, w, corner, pooled, argmax):
    """As :func:`_bias_relu_pool_kernel`, from Winograd's ``m`` (16, O, T), for an even conv output
    width (window j of image n is then tile ``n*per + j``; ``corner[j]`` is its top-left pixel's flat
    index).  Returns True if a window held a NaN or an infinity (the caller redoes the block)."""
    n_img, n_out, ph, pw = pooled.shape
    per = ph * pw
    tiles = max(m.shape[2] // n_img, 0)  # (ph or ph + 1) * pw; max: see winograd._input_transform_kernel
    bad = False
    for n in range(n_img):
        for o in range(n_out):
            b = bias[o]
            po, pa = pooled[n, o].reshape(per), argmax[n, o].reshape(per)
            t0 = n * tiles
            for j in range(per):  # contiguous in every array: vectorised
                y00, y01, y10, y11 = _output_tile(m, o, t0 + j)
                total = (y00 + y01) + (y10 + y11)
                bad |= total - total != 0  # only for a NaN or an inf
                at = corner[j]  # candidates in row-major order, strict >: as pool.max2x2
                best = y00
                at = corner[j] + 1 if y01 > best else at
                best = y01 if y01 > best else best
                at = corner[j] + w if y10 > best else at
                best = y10 if y10 > best else best
                at = corner[j] + w + 1 if y11 > best else at
                best = y11 if y11 > best else best
                best += b
                po[j] = best if best > 0 else 0
                pa[j] = at
    return bad


@njit(cache=True, nogil=True)
def _winograd_unpool_relu_kernel(dpooled, pooled, argmax, w, corner, dm, dbias):
    """``dm[:, o, t] = A dY A^T`` where dY is the tile's 2x2 conv-output gradient: the pooled gradient at
    the winner if the pooled value was positive, zero elsewhere; adds the bias gradient to ``dbias``.
    Even conv output width, as :func:`_winograd_bias_relu_pool_kernel`; a half tile row below the last
    window (odd height) gets no gradient.  Each loop stores one stream, so that it vectorises."""
    n_img, n_out, ph, pw = pooled.shape
    per = ph * pw
    tiles = max(dm.shape[2] // n_img, 0)
    if tiles != per:
        dm[:] = 0
    # with an even height the block's windows are its tiles, in order: the 16 output streams run over
    # the whole block at once (longer loops); else image by image, past the half tile row
    span = n_img * per if tiles == per else per
    ys = np.empty((4, span), dtype=dm.dtype)
    zero = np.zeros(1, dtype=dm.dtype)[0]
    partial = np.zeros(per)  # float64 per window, summed at the end: a float32 running sum drifts
    for o in range(n_out):
        partial[:] = 0
        for n in range(n_img):
            p, d, a = pooled[n, o].reshape(per), dpooled[n, o].reshape(per), argmax[n, o].reshape(per)
            y00, y01, y10, y11 = ys[0, n * per:], ys[1, n * per:], ys[2, n * per:], ys[3, n * per:]
            if span == per:
                y00, y01, y10, y11 = ys[0], ys[1], ys[2], ys[3]
            for j in range(per):
                partial[j] += d[j] if p[j] > 0 else zero
            for j in range(per):  # the winner's offset in its window: 0, 1, w or w + 1
                y00[j] = d[j] if p[j] > 0 and a[j] == corner[j] else zero
            for j in range(per):
                y01[j] = d[j] if p[j] > 0 and a[j] == corner[j] + 1 else zero
            for j in range(per):
                y10[j] = d[j] if p[j] > 0 and a[j] == corner[j] + w else zero
            for j in range(per):
                y11[j] = d[j] if p[j] > 0 and a[j] == corner[j] + w + 1 else zero
            if span == per:
                _store_tiles_adjoint(dm, o, n * tiles, ys[0], ys[1], ys[2], ys[3])
        if span != per:
            _store_tiles_adjoint(dm, o, 0, ys[0], ys[1], ys[2], ys[3])
        dbias[o] += partial.sum()


def _corners(ph, pw, w):
    """Flat index, in an (H, w) conv output, of each 2x2 window's top-left pixel."""
    return (2 * w * np.arange(ph)[:, None] + 2 * np.arange(pw)[None, :]).reshape(-1)


def _pool_with_nan(conv, pooled, argmax):
    """The general (torch-rule) pool of a biased conv output holding a NaN, then ReLU."""
    _maxpool_forward_kernel(conv, 2, 2, 2, 2, 0, 0, pooled, argmax)
    np.maximum(pooled, 0, out=pooled)  # ReLU after the max: NaN stays NaN


def _bias_relu_pool(out2, bias, h, w, pooled, argmax):
    """Fill ``pooled``/``argmax`` from the GEMM output; a NaN takes the general (torch-rule) path."""
    if not has_nan(out2):
        _bias_relu_pool_kernel(out2, bias, h, w, pooled, argmax)
        return
    n_out, n_img = out2.shape[0], pooled.shape[0]
    _pool_with_nan(np.ascontiguousarray(out2.reshape(n_out, n_img, h, w).transpose(1, 0, 2, 3))
                   + bias[:, None, None], pooled, argmax)


def _winograd_bias_relu_pool(m, bias, h, w, pooled, argmax):
    """:func:`_bias_relu_pool` from Winograd's ``m``: pooled straight from M for an even width, else (and
    for a NaN) through the conv output in im2col's column layout."""
    if w % 2 == 0 and not _winograd_bias_relu_pool_kernel(m, bias, w, _corners(h // 2, w // 2, w), pooled, argmax):
        return
    n_img, n_out = pooled.shape[:2]
    out2 = np.empty((n_out, n_img * h * w), dtype=pooled.dtype)
    winograd.output(m, np.zeros_like(bias), out2.reshape(n_out, n_img, h, w).transpose(1, 0, 2, 3))
    _bias_relu_pool(out2, bias, h, w, pooled, argmax)


def _winograd_unpool_relu(dpooled, pooled, argmax, h, w, dm, dbias):
    """The backward of :func:`_winograd_bias_relu_pool`: dM from the pooled gradient."""
    if w % 2 == 0:
        _winograd_unpool_relu_kernel(dpooled, pooled, argmax, w, _corners(h // 2, w // 2, w), dm, dbias)
        return
    n_img, n_out = pooled.shape[:2]
    dout2 = np.empty((n_out, n_img * h * w), dtype=pooled.dtype)
    _unpool_relu_kernel(dpooled, pooled, argmax, h, w, dout2, np.empty(n_out, dtype=pooled.dtype))
    winograd.output_gradient(dout2.reshape(n_out, n_img, h, w).transpose(1, 0, 2, 3), dm, dbias)


def conv2d_relu_maxpool2d_forward(x, weight, bias, padding=0):
    """``max_pool2d(relu(conv2d(x, weight, bias, stride=1, padding)), 2)`` in one output pass.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    weight : ndarray, shape (O, C, KH, KW)
    bias : ndarray, shape (O,)
    padding : int or (int, int); the convolution's stride is 1

    Returns
    -------
    pooled : ndarray, shape (N, O, OH // 2, OW // 2), dtype of ``x``
    cache : for :func:`conv2d_relu_maxpool2d_backward`
    """
    geometry = _conv_geometry(x, weight, bias, 1, padding)
    h, w = geometry[2]
    if h < 2 or w < 2:
        raise ValueError(f"conv2d_relu_maxpool2d: expected a conv output of at least 2x2 for the "
                         f"2x2 pool, got {h}x{w}")
    pooled = np.empty((x.shape[0], weight.shape[0], h // 2, w // 2), dtype=x.dtype)
    argmax = np.empty(pooled.shape, dtype=np.int32)
    chunk_cache = conv_forward_chunks(
        x, weight, geometry, lambda sl, out2: _bias_relu_pool(out2, bias, h, w, pooled[sl], argmax[sl]),
        lambda sl, m: _winograd_bias_relu_pool(m, bias, h, w, pooled[sl], argmax[sl]))
    return pooled, (chunk_cache, (h, w), pooled, argmax)


def conv2d_relu_maxpool2d_backward(dpooled, cache, need_input_grad=True):
    """Gradients of :func:`conv2d_relu_maxpool2d_forward`.

    Parameters
    ----------
    dpooled : ndarray, shape (N, O, OH // 2, OW // 2), not modified

    Returns
    -------
    dx : (N, C, H, W) or None, dweight : (O, C, KH, KW), dbias : (O,)
    """
    chunk_cache, (h, w), pooled, argmax = cache
    check_grad("conv2d_relu_maxpool2d backward", dpooled, pooled.shape, pooled.dtype)
    dpooled = np.ascontiguousarray(dpooled)
    n_out = pooled.shape[1]

    def dout2_of(sl):
        dout2 = np.empty((n_out, (sl.stop - sl.start) * h * w), dtype=pooled.dtype)
        dbias = np.empty(n_out, dtype=pooled.dtype)
        _unpool_relu_kernel(dpooled[sl], pooled[sl], argmax[sl], h, w, dout2, dbias)
        return dout2, dbias

    def dm_of(sl, dm, dbias):
        _winograd_unpool_relu(dpooled[sl], pooled[sl], argmax[sl], h, w, dm, dbias)
    return conv_backward_chunks(chunk_cache, need_input_grad, dout2_of, dm_of)


def conv2d_relu_maxpool2d_forward_naive(x, weight, bias, padding=0):
    """The definition: the naive conv2d, then ReLU, then 2x2 max pool, as three separate kernels."""
    out, conv_cache = conv2d_forward_naive(x, weight, bias, 1, padding)
    relu, relu_cache = relu_forward_naive(out)
    pooled, pool_cache = maxpool2d_forward_naive(relu, 2)
    return pooled, (conv_cache, relu_cache, pool_cache)


def conv2d_relu_maxpool2d_backward_naive(dpooled, cache, need_input_grad=True):
    """The chain rule through the three naive kernels, last first."""
    conv_cache, relu_cache, pool_cache = cache
    drelu = maxpool2d_backward_naive(dpooled, pool_cache)
    return conv2d_backward_naive(relu_backward_naive(drelu, relu_cache), conv_cache, need_input_grad)
