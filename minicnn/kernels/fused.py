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

The conv half is ``conv.py``'s chunked GEMM path: :func:`conv.conv_forward_chunks` plans it, and each
chunk runs :func:`conv.gemm_forward` (im2col) or ``winograd.forward``'s blocks on its own thread with
the epilogues below in place of conv2d's bias + NCHW (and their adjoints in backward).  One input
channel (SimpleCNN's conv1) has its own Winograd kernels, without a GEMM.  The conv algorithm is read
once, on the calling thread, and passed down.

The definition is the composition ``max_pool2d(relu(conv2d(x)))``;
:func:`conv2d_relu_max_pool2d_forward_naive` is exactly that, and the tests hold
the fused kernels to it.
"""
import functools
from collections import namedtuple

import numpy as np
from numba import njit

from .. import threads

from . import winograd
from .checks import check_grad
from .activation import relu_backward_naive, relu_forward_naive
from .conv import (check_kept, conv2d_backward_naive, conv2d_forward_naive, conv_forward_chunks, conv_geometry,
                   current_algorithm, gemm_algorithm, gemm_backward, gemm_forward)
from .pool import has_nan, max2x2, max4, max_pool2d_backward_naive, max_pool2d_forward_naive, maxpool_forward_kernel
from .winograd import input_transform_adjoint_kernel, input_transform_kernel, output_tile, store_tiles_adjoint, tile_outputs
from .registry import kernel_table


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
    tiles = max(m.shape[2] // n_img, 0)  # (ph or ph + 1) * pw; max: see winograd.input_transform_kernel
    bad = False
    for n in range(n_img):
        for o in range(n_out):
            b = bias[o]
            po, pa = pooled[n, o].reshape(per), argmax[n, o].reshape(per)
            t0 = n * tiles
            for j in range(per):  # contiguous in every array: vectorised
                y00, y01, y10, y11 = output_tile(m, o, t0 + j)
                total = (y00 + y01) + (y10 + y11)
                bad |= total - total != 0  # only for a NaN or an inf
                best, at = max4(y00, y01, y10, y11, corner[j], w)
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
                store_tiles_adjoint(dm, o, n * tiles, ys[0], ys[1], ys[2], ys[3])
        if span != per:
            store_tiles_adjoint(dm, o, 0, ys[0], ys[1], ys[2], ys[3])
        dbias[o] += partial.sum()


# One input channel (conv1 of SimpleCNN): the 16 "GEMMs" are outer products, M[xi, o, t] = U[xi, o] V[xi, t],
# so no GEMM runs at all.  Forward forms each tile's M in registers and pools it; backward (without an input
# gradient) sums dU[xi, o] = sum_t dM[xi, o, t] V[xi, t] straight from the pooled gradient.
@njit(cache=True, nogil=True)
def _winograd1_bias_relu_pool_kernel(v, u, bias, w, corner, pooled, argmax):
    """:func:`_winograd_bias_relu_pool_kernel` for one input channel: ``v`` (16, T), ``u`` (16, O)."""
    n_img, n_out, ph, pw = pooled.shape
    per = ph * pw
    tiles = max(v.shape[1] // n_img, 0)  # max: see winograd.input_transform_kernel
    bad = False
    for n in range(n_img):
        t0 = n * tiles
        for o in range(n_out):
            b = bias[o]
            po, pa = pooled[n, o].reshape(per), argmax[n, o].reshape(per)
            for j in range(per):  # contiguous in every array: vectorised
                t = t0 + j
                y00, y01, y10, y11 = tile_outputs(
                    u[0, o] * v[0, t], u[1, o] * v[1, t], u[2, o] * v[2, t], u[3, o] * v[3, t],
                    u[4, o] * v[4, t], u[5, o] * v[5, t], u[6, o] * v[6, t], u[7, o] * v[7, t],
                    u[8, o] * v[8, t], u[9, o] * v[9, t], u[10, o] * v[10, t], u[11, o] * v[11, t],
                    u[12, o] * v[12, t], u[13, o] * v[13, t], u[14, o] * v[14, t], u[15, o] * v[15, t])
                total = (y00 + y01) + (y10 + y11)
                bad |= total - total != 0
                best, at = max4(y00, y01, y10, y11, corner[j], w)
                best += b
                po[j] = best if best > 0 else 0
                pa[j] = at
    return bad


@njit(cache=True, nogil=True)
def _winograd1_dweight_kernel(dpooled, pooled, argmax, v, w, corner, du, dbias):
    """Adds ``sum_t dM[xi, o, t] V[xi, t]`` to ``du`` (16, O) and the bias gradient to ``dbias`` (O,), both
    float64, with dM as :func:`_winograd_unpool_relu_kernel`'s (never stored: one channel needs no dV)."""
    n_img, n_out, ph, pw = pooled.shape
    per = ph * pw
    tiles = max(v.shape[1] // n_img, 0)
    zero = np.zeros(1, dtype=v.dtype)[0]
    ys = np.empty((4, per), dtype=v.dtype)
    y00, y01, y10, y11 = ys[0], ys[1], ys[2], ys[3]
    acc = np.zeros((16, per), dtype=v.dtype)  # per tile position (64 terms or fewer each), summed in float64 at the end
    partial = np.zeros(per)
    for o in range(n_out):
        acc[:] = 0
        partial[:] = 0
        for n in range(n_img):
            p, d, a = pooled[n, o].reshape(per), dpooled[n, o].reshape(per), argmax[n, o].reshape(per)
            t0 = n * tiles
            for j in range(per):
                partial[j] += d[j] if p[j] > 0 else zero
            for j in range(per):
                y00[j] = d[j] if p[j] > 0 and a[j] == corner[j] else zero
            for j in range(per):
                y01[j] = d[j] if p[j] > 0 and a[j] == corner[j] + 1 else zero
            for j in range(per):
                y10[j] = d[j] if p[j] > 0 and a[j] == corner[j] + w else zero
            for j in range(per):
                y11[j] = d[j] if p[j] > 0 and a[j] == corner[j] + w + 1 else zero
            # dM = A dY A^T, row by row of the 4x4 (as winograd.store_tiles_adjoint), times V
            r, q = acc[0], v[0]
            for j in range(per):
                r[j] += y00[j] * q[t0 + j]
            r, q = acc[1], v[1]
            for j in range(per):
                r[j] += (y00[j] + y01[j]) * q[t0 + j]
            r, q = acc[2], v[2]
            for j in range(per):
                r[j] += (y00[j] - y01[j]) * q[t0 + j]
            r, q = acc[3], v[3]
            for j in range(per):
                r[j] -= y01[j] * q[t0 + j]
            r, q = acc[4], v[4]
            for j in range(per):
                r[j] += (y00[j] + y10[j]) * q[t0 + j]
            r, q = acc[5], v[5]
            for j in range(per):
                r[j] += ((y00[j] + y10[j]) + (y01[j] + y11[j])) * q[t0 + j]
            r, q = acc[6], v[6]
            for j in range(per):
                r[j] += ((y00[j] + y10[j]) - (y01[j] + y11[j])) * q[t0 + j]
            r, q = acc[7], v[7]
            for j in range(per):
                r[j] -= (y01[j] + y11[j]) * q[t0 + j]
            r, q = acc[8], v[8]
            for j in range(per):
                r[j] += (y00[j] - y10[j]) * q[t0 + j]
            r, q = acc[9], v[9]
            for j in range(per):
                r[j] += ((y00[j] - y10[j]) + (y01[j] - y11[j])) * q[t0 + j]
            r, q = acc[10], v[10]
            for j in range(per):
                r[j] += ((y00[j] - y10[j]) - (y01[j] - y11[j])) * q[t0 + j]
            r, q = acc[11], v[11]
            for j in range(per):
                r[j] -= (y01[j] - y11[j]) * q[t0 + j]
            r, q = acc[12], v[12]
            for j in range(per):
                r[j] -= y10[j] * q[t0 + j]
            r, q = acc[13], v[13]
            for j in range(per):
                r[j] -= (y10[j] + y11[j]) * q[t0 + j]
            r, q = acc[14], v[14]
            for j in range(per):
                r[j] += (y11[j] - y10[j]) * q[t0 + j]
            r, q = acc[15], v[15]
            for j in range(per):
                r[j] += y11[j] * q[t0 + j]
        for k in range(16):
            du[k, o] += acc[k].sum(dtype=np.float64)
        dbias[o] += partial.sum()


_OneChannel = namedtuple("_OneChannel", "algorithm slices v u x_shape padding")
_OneChannel.__doc__ = ("The one-input-channel path's cache (``algorithm`` \"one_channel\"): per chunk (``slices``) "
                       "its transformed input ``v`` (16, T), and ``u`` (16, O) the transformed weight.")
FusedCache = namedtuple("FusedCache", "state hw pooled argmax")
FusedCache.__doc__ = ("The fused block's cache: ``state`` is the conv's (a ``conv.GemmChunks``, algorithm \"im2col\" "
                      "or \"winograd\", or the one-channel path's), ``hw`` the conv output's (H, W), ``pooled`` the "
                      "output and ``argmax`` the pool's winners (flat indices into each (H, W) plane).")


def _one_channel_forward(x, weight, bias, geometry, pooled, argmax):
    """The forward of a one-input-channel block (see above), chunk by chunk; None if a NaN or an inf went
    by (the caller then takes the general path)."""
    (h, w), (ph, pw) = geometry.out_hw, geometry.padding
    th, tw = winograd.tiles(h, w)
    u = np.ascontiguousarray(winograd.weight_transform(weight)[:, :, 0])      # (16, O)
    corner = _corners(h // 2, w // 2, w)
    x = np.ascontiguousarray(x)

    def chunk(sl):
        v = np.empty((16, (sl.stop - sl.start) * th * tw), dtype=x.dtype)
        input_transform_kernel(x[sl], ph, pw, th, tw, v.reshape(16, 1, -1))
        bad = _winograd1_bias_relu_pool_kernel(v, u, bias, w, corner, pooled[sl], argmax[sl])
        return v, bad
    slices = threads.chunks(x.shape[0])
    results = threads.run_parallel(chunk, slices)
    if any(bad for _, bad in results):
        return None
    return _OneChannel("one_channel", slices, [v for v, _ in results], u, x.shape, (ph, pw))


def _one_channel_backward(dpooled, cache, need_input_grad):
    one, (h, w), pooled, argmax = cache
    corner = _corners(h // 2, w // 2, w)
    n_out, dtype = pooled.shape[1], pooled.dtype
    dx = np.empty(one.x_shape, dtype=dtype) if need_input_grad else None

    def chunk(k):
        sl, v = one.slices[k], one.v[k]
        du, dbias = np.zeros((16, n_out)), np.zeros(n_out)
        if dx is None:
            _winograd1_dweight_kernel(dpooled[sl], pooled[sl], argmax[sl], v, w, corner, du, dbias)
            return du, dbias
        dm = np.empty((16, n_out, v.shape[1]), dtype=dtype)
        _winograd_unpool_relu_kernel(dpooled[sl], pooled[sl], argmax[sl], w, corner, dm, dbias)
        dv = np.matmul(one.u[:, None, :], dm)                                   # (16, 1, T)
        th, tw = winograd.tiles(h, w)
        input_transform_adjoint_kernel(dv, one.padding[0], one.padding[1], th, tw, dx[sl])
        return np.matmul(dm, v[:, :, None])[:, :, 0], dbias
    du, dbias = threads.sum_parts(threads.run_parallel(chunk, range(len(one.slices))))
    return dx, winograd.weight_transform_adjoint(du[:, :, None].astype(dtype)), dbias.astype(dtype)


@functools.lru_cache(maxsize=64)
def _corners(ph, pw, w):
    """Flat index, in an (H, w) conv output, of each 2x2 window's top-left pixel (cached: read only)."""
    corners = (2 * w * np.arange(ph)[:, None] + 2 * np.arange(pw)[None, :]).reshape(-1)
    corners.flags.writeable = False
    return corners


def _pool_with_nan(conv, pooled, argmax):
    """The general (torch-rule) pool of a biased conv output holding a NaN, then ReLU."""
    maxpool_forward_kernel(conv, 2, 2, 2, 2, 0, 0, pooled, argmax)
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
    if w % 2 == 0:
        corner = _corners(h // 2, w // 2, w)
        if not _winograd_bias_relu_pool_kernel(m, bias, w, corner, pooled, argmax):
            return
    n_img, n_out = pooled.shape[:2]
    out2 = np.empty((n_out, n_img * h * w), dtype=pooled.dtype)
    winograd.output(m, np.zeros_like(bias), out2.reshape(n_out, n_img, h, w).transpose(1, 0, 2, 3))
    _bias_relu_pool(out2, bias, h, w, pooled, argmax)


def _winograd_unpool_relu(dpooled, pooled, argmax, h, w, dm, dbias):
    """The backward of :func:`_winograd_bias_relu_pool`: dM from the pooled gradient."""
    if w % 2 == 0:
        corner = _corners(h // 2, w // 2, w)
        _winograd_unpool_relu_kernel(dpooled, pooled, argmax, w, corner, dm, dbias)
        return
    n_img, n_out = pooled.shape[:2]
    dout2 = np.empty((n_out, n_img * h * w), dtype=pooled.dtype)
    _unpool_relu_kernel(dpooled, pooled, argmax, h, w, dout2, np.empty(n_out, dtype=pooled.dtype))
    winograd.output_gradient(dout2.reshape(n_out, n_img, h, w).transpose(1, 0, 2, 3), dm, dbias)


def conv2d_relu_max_pool2d_forward(x, weight, bias, padding=0):
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
    cache : a :class:`FusedCache`, for :func:`conv2d_relu_max_pool2d_backward`
    """
    return _forward(x, weight, bias, padding, current_algorithm())


def _forward(x, weight, bias, padding, choice):
    """:func:`conv2d_relu_max_pool2d_forward` with the conv algorithm ``choice`` (``conv.ALGORITHMS``)."""
    geometry = conv_geometry(x, weight, bias, 1, padding, "conv2d_relu_max_pool2d")
    h, w = geometry.out_hw
    if h < 2 or w < 2:
        raise ValueError(f"conv2d_relu_max_pool2d: expected a conv output of at least 2x2 for the "
                         f"2x2 pool, got {h}x{w}")
    pooled = np.empty((x.shape[0], weight.shape[0], h // 2, w // 2), dtype=x.dtype)
    argmax = np.empty(pooled.shape, dtype=np.int32)
    if weight.shape[1] == 1 and w % 2 == 0 and gemm_algorithm(weight, geometry, choice, min_channels=1) == "winograd":
        one = _one_channel_forward(x, weight, bias, geometry, pooled, argmax)
        if one is None:  # a NaN or an inf: the general path handles it as torch does
            return _forward(x, weight, bias, padding, "im2col")
        return pooled, FusedCache(one, (h, w), pooled, argmax)
    chunks = conv_forward_chunks(x, weight, geometry, gemm_algorithm(weight, geometry, choice))

    def chunk(sl):  # the conv's GEMM half, then bias + ReLU + pool from its output while it is in cache
        if chunks.algorithm == "im2col":
            out2, panels = gemm_forward(x[sl], weight, geometry, chunks.keep)
            _bias_relu_pool(out2, bias, h, w, pooled[sl], argmax[sl])
            return panels
        v = [] if chunks.keep else None
        for images, m in winograd.forward(x[sl], chunks.u, geometry.padding, geometry.out_hw, v):
            _winograd_bias_relu_pool(m, bias, h, w, pooled[sl][images], argmax[sl][images])
        return v
    chunks = chunks._replace(saved=threads.run_parallel(chunk, chunks.slices))
    return pooled, FusedCache(chunks, (h, w), pooled, argmax)


def conv2d_relu_max_pool2d_backward(dpooled, cache, need_input_grad=True):
    """Gradients of :func:`conv2d_relu_max_pool2d_forward`.

    Parameters
    ----------
    dpooled : ndarray, shape (N, O, OH // 2, OW // 2), not modified

    Returns
    -------
    dx : (N, C, H, W) or None, dweight : (O, C, KH, KW), dbias : (O,)
    """
    chunks, (h, w), pooled, argmax = cache
    check_grad("conv2d_relu_max_pool2d backward", dpooled, pooled.shape, pooled.dtype)
    dpooled = np.ascontiguousarray(dpooled)
    if chunks.algorithm == "one_channel":
        return _one_channel_backward(dpooled, cache, need_input_grad)
    check_kept(chunks)
    weight, geometry = chunks.weight, chunks.geometry
    n_out, dtype = pooled.shape[1], pooled.dtype
    dx = np.empty(chunks.x_shape, dtype=dtype) if need_input_grad else None

    def chunk(k):  # the pooled gradient back to the conv output's (dout2, or Winograd's dM), then the GEMMs
        sl, saved = chunks.slices[k], chunks.saved[k]
        dx_k = None if dx is None else dx[sl]
        if chunks.algorithm == "im2col":
            dout2 = np.empty((n_out, (sl.stop - sl.start) * h * w), dtype=dtype)
            dbias = np.empty(n_out, dtype=dtype)
            _unpool_relu_kernel(dpooled[sl], pooled[sl], argmax[sl], h, w, dout2, dbias)
            return gemm_backward(dout2, weight, geometry, saved, dx_k), dbias
        du, dbias = np.zeros_like(chunks.u), np.zeros(n_out)  # dbias summed in float64
        for images, dm in winograd.backward(chunks.u, saved, geometry.padding, geometry.out_hw,
                                            sl.stop - sl.start, dx_k, du):
            _winograd_unpool_relu(dpooled[sl][images], pooled[sl][images], argmax[sl][images], h, w, dm, dbias)
        return winograd.weight_transform_adjoint(du), dbias.astype(dtype)
    dweight, dbias = threads.sum_parts(threads.run_parallel(chunk, range(len(chunks.slices))))
    return dx, dweight, dbias


def conv2d_relu_max_pool2d_forward_naive(x, weight, bias, padding=0):
    """The definition: the naive conv2d, then ReLU, then 2x2 max pool, as three separate kernels."""
    out, conv_cache = conv2d_forward_naive(x, weight, bias, 1, padding)
    relu, relu_cache = relu_forward_naive(out)
    pooled, pool_cache = max_pool2d_forward_naive(relu, 2)
    return pooled, (conv_cache, relu_cache, pool_cache)


def conv2d_relu_max_pool2d_backward_naive(dpooled, cache, need_input_grad=True):
    """The chain rule through the three naive kernels, last first."""
    conv_cache, relu_cache, pool_cache = cache
    drelu = max_pool2d_backward_naive(dpooled, pool_cache)
    return conv2d_backward_naive(relu_backward_naive(drelu, relu_cache), conv_cache, need_input_grad)


# this file's ops, by torch's names (kernels/registry.py)
KERNELS = kernel_table(globals(), "conv2d_relu_max_pool2d")
