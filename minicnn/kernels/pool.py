"""2-D max pooling, and max unpooling.

Forward keeps, for every output, the flat index ``iy*W + ix`` of the input
pixel that won its window (the first maximum in row-major order, as torch
picks it).  Backward sends each upstream gradient to exactly that pixel; when
windows overlap a pixel can win several and its gradients add up.  Those
indices are what ``return_indices=True`` hands out, and what max unpooling
uses to put each value back where it came from (its backward is a gather
from the same places).

A dilated window takes every ``dilation``-th pixel; ``ceil_mode`` adds a last,
partial window where one would start inside the input or its left padding
(torch's rule).

Adaptive max pooling takes the windows of adaptive average pooling (output
``o`` of ``O`` covers rows ``floor(o*H/O)`` to ``ceil((o+1)*H/O)``,
``kernels/avgpool.py``) and the winner rule of max pooling; its windows may
overlap, so a pixel may win several and collect their gradients.
"""
import math

import numpy as np
from numba import njit

from .. import threads
from .avgpool import adaptive_windows
from .checks import check_float_array, check_grad, pair, pool_out_size
from .registry import kernel_table


@njit(cache=True, nogil=True)
def maxpool_forward_kernel(x, kh, kw, sh, sw, ph, pw, out, argmax):
    n_img, chans, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for n in range(n_img):
        for c in range(chans):
            for y in range(oh):
                y0 = y * sh - ph
                ylo, yhi = max(y0, 0), min(y0 + kh, h)
                for xo in range(ow):
                    x0 = xo * sw - pw
                    xlo, xhi = max(x0, 0), min(x0 + kw, w)
                    best = x[n, c, ylo, xlo]
                    best_at = ylo * w + xlo
                    for iy in range(ylo, yhi):
                        for ix in range(xlo, xhi):
                            v = x[n, c, iy, ix]
                            # torch's rule: a larger value or a NaN (v != v) takes the window
                            if v > best or v != v:
                                best = v
                                best_at = iy * w + ix
                    out[n, c, y, xo] = best
                    argmax[n, c, y, xo] = best_at



@njit(cache=True, nogil=True)
def _maxpool_dilated_forward_kernel(x, kh, kw, sh, sw, ph, pw, dh, dw, out, argmax):
    """Any dilation, as torch's CPU loop: skip the taps in the padding, start from -inf."""
    n_img, chans, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for n in range(n_img):
        for c in range(chans):
            for y in range(oh):
                y0 = y * sh - ph
                y1 = min(y0 + (kh - 1) * dh + 1, h)
                while y0 < 0:
                    y0 += dh
                for xo in range(ow):
                    x0 = xo * sw - pw
                    x1 = min(x0 + (kw - 1) * dw + 1, w)
                    while x0 < 0:
                        x0 += dw
                    best = -np.inf
                    best_at = y0 * w + x0
                    for iy in range(y0, y1, dh):
                        for ix in range(x0, x1, dw):
                            v = x[n, c, iy, ix]
                            if v > best or v != v:
                                best = v
                                best_at = iy * w + ix
                    out[n, c, y, xo] = best
                    argmax[n, c, y, xo] = best_at

@njit(cache=True, nogil=True, inline="always")
def max4(v00, v01, v10, v11, at0, w):
    """Max of a 2x2 window's values (NaN-free) and its flat index: ``at0`` is the top-left value's index,
    ``w`` the row length.  Candidates in row-major order, chosen with selects, not branches; strict >
    keeps the first maximum, as torch."""
    best, at = v00, at0
    at = at0 + 1 if v01 > best else at
    best = v01 if v01 > best else best
    at = at0 + w if v10 > best else at
    best = v10 if v10 > best else best
    at = at0 + w + 1 if v11 > best else at
    best = v11 if v11 > best else best
    return best, at


@njit(cache=True, nogil=True, inline="always")
def max2x2(top, bottom, x, r, w):
    """Max of window ``x`` of two rows (NaN-free) and its flat index; row ``top`` starts at flat ``r``."""
    return max4(top[2 * x], top[2 * x + 1], bottom[2 * x], bottom[2 * x + 1], r + 2 * x, w)


@njit(cache=True, nogil=True)
def _maxpool2x2_forward_kernel(x, out, argmax):
    """2x2 / stride 2 / no padding on NaN-free input, branch-free (about 6x faster than the general loop).

    Each comparison feeds a select instead of a jump, so random data costs no
    mispredicted branches; NaN handling would bring the branches back, so input
    with a NaN goes to the general kernel instead (see ``max_pool2d_forward``).
    """
    n_img, chans, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for n in range(n_img):
        for c in range(chans):
            for y in range(oh):
                top, bottom = x[n, c, 2 * y], x[n, c, 2 * y + 1]
                o, a = out[n, c, y], argmax[n, c, y]
                for xo in range(ow):
                    o[xo], a[xo] = max2x2(top, bottom, xo, 2 * y * w, w)


def has_nan(a):
    """True if ``a`` holds a NaN (``max`` propagates NaN: one vectorised pass, no temporary)."""
    return a.size > 0 and bool(np.isnan(a.max()))


@njit(cache=True, nogil=True)
def _maxpool_backward_kernel(dout, argmax, dx):
    n_img, chans, oh, ow = dout.shape
    w = dx.shape[3]
    for n in range(n_img):
        for c in range(chans):
            for y in range(oh):
                for xo in range(ow):
                    at = argmax[n, c, y, xo]
                    dx[n, c, at // w, at % w] += dout[n, c, y, xo]


def _pool_geometry(x, kernel_size, stride, padding, dilation=1, ceil_mode=False):
    check_float_array("max_pool2d input", x, 4)
    kh, kw = pair("max_pool2d kernel_size", kernel_size, 1)
    sh, sw = pair("max_pool2d stride", kernel_size if stride is None else stride, 1)
    ph, pw = pair("max_pool2d padding", padding, 0)
    dh, dw = pair("max_pool2d dilation", dilation, 1)
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"max_pool2d ceil_mode: expected a bool, got {ceil_mode!r}")
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"max_pool2d: expected padding at most half the kernel size {(kh, kw)}, "
                         f"got {(ph, pw)}")
    oh = pool_out_size("max_pool2d height", x.shape[2], kh, sh, ph, dh, bool(ceil_mode))
    ow = pool_out_size("max_pool2d width", x.shape[3], kw, sw, pw, dw, bool(ceil_mode))
    for axis, size, k, s, p, d, count in (("height", x.shape[2], kh, sh, ph, dh, oh),
                                          ("width", x.shape[3], kw, sw, pw, dw, ow)):
        empty = padding_only_windows(size, k, s, p, d, count)
        if empty.size:
            raise ValueError(f"max_pool2d: along the {axis}, window {empty[0]} (dilation {d}) has every tap in "
                             f"the padding; torch returns -inf there with an index outside the input")
    return (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow)


def padding_only_windows(size, kernel, stride, padding, dilation, count):
    """The windows (of ``count`` along an axis) whose dilated taps all fall in the padding (possible only with
    dilation > 1): their max would be -inf, and torch's index for it lies outside the input."""
    start = np.arange(count) * stride - padding
    first = np.where(start < 0, start + -(-(-start) // dilation) * dilation, start)   # first tap >= 0
    end = np.minimum(start + (kernel - 1) * dilation + 1, size)
    return np.flatnonzero(first >= end)


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling forward, as ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), default ``kernel_size``
    padding : int or (int, int), at most half the kernel; padded cells are -inf
    dilation : int or (int, int), spacing of the window's taps
    ceil_mode : bool, round the window count up (see :func:`minicnn.kernels.checks.pool_out_size`)

    Returns
    -------
    out : ndarray, shape (N, C, OH, OW), dtype of ``x``,
        ``OH = (H + 2*padding - dilation*(kernel-1) - 1) // stride + 1`` (floor mode)
    cache : (x.shape, argmax, x.dtype) with argmax int32 (N, C, OH, OW), flat index into H*W
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = _pool_geometry(x, kernel_size, stride, padding,
                                                                      dilation, ceil_mode)
    out = np.empty((x.shape[0], x.shape[1], oh, ow), dtype=x.dtype)
    argmax = np.empty(out.shape, dtype=np.int32)
    x = np.ascontiguousarray(x)
    plain_2x2 = (kh, kw, sh, sw, ph, pw, dh, dw) == (2, 2, 2, 2, 0, 0, 1, 1) and 2 * oh <= x.shape[2] \
        and 2 * ow <= x.shape[3]   # ceil_mode's partial last window needs the general loop

    def chunk(sl):
        if plain_2x2 and not has_nan(x[sl]):
            _maxpool2x2_forward_kernel(x[sl], out[sl], argmax[sl])
        elif (dh, dw) == (1, 1):
            maxpool_forward_kernel(x[sl], kh, kw, sh, sw, ph, pw, out[sl], argmax[sl])
        else:
            _maxpool_dilated_forward_kernel(x[sl], kh, kw, sh, sw, ph, pw, dh, dw, out[sl], argmax[sl])
    threads.map_chunks(chunk, x.shape[0], threads.min_items(math.prod(x.shape[1:])))
    return out, (x.shape, argmax, x.dtype)


def max_pool2d_backward(dout, cache):
    """Max pooling backward: route each gradient to its window's winner.

    Parameters
    ----------
    dout : ndarray, shape (N, C, OH, OW), not modified
    cache : from :func:`max_pool2d_forward`

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    """
    x_shape, argmax, dtype = cache
    check_grad("max_pool2d backward", dout, argmax.shape, dtype)
    dx = np.zeros(x_shape, dtype=dout.dtype)
    dout = np.ascontiguousarray(dout)
    threads.map_chunks(lambda sl: _maxpool_backward_kernel(dout[sl], argmax[sl], dx[sl]), dout.shape[0],
                       threads.min_items(math.prod(dx.shape[1:])))
    return dx


def max_pool2d_forward_naive(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling by slicing: the max over each (dilated) window of the -inf-padded input.

    Returns ``(out, cache)`` with the same meaning as :func:`max_pool2d_forward`.
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = _pool_geometry(x, kernel_size, stride, padding,
                                                                      dilation, ceil_mode)
    n, c, h, w = x.shape
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    # ceil_mode's last window may reach past the right padding: pad that far with -inf too
    pads = ((ph, max(ph, (oh - 1) * sh + span_h - h - ph)), (pw, max(pw, (ow - 1) * sw + span_w - w - pw)))
    xp = np.pad(x, ((0, 0), (0, 0), *pads), constant_values=-np.inf)
    flat_index = np.pad(np.arange(h * w).reshape(h, w), pads, constant_values=-1)
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    argmax = np.empty((n, c, oh, ow), dtype=np.int64)
    for y in range(oh):
        for xo in range(ow):
            rows, cols = slice(y * sh, y * sh + span_h, dh), slice(xo * sw, xo * sw + span_w, dw)
            win = xp[:, :, rows, cols].reshape(n, c, -1)
            index = flat_index[rows, cols].reshape(-1)
            k = win.argmax(axis=2)                   # first maximum, as torch
            # a window of -inf only: torch keeps its first tap inside the image, not a padded cell
            k = np.where(index[k] < 0, np.argmax(index >= 0), k)
            out[:, :, y, xo] = np.take_along_axis(win, k[..., None], axis=2)[..., 0]
            argmax[:, :, y, xo] = index[k]
    return out, (x.shape, argmax, x.dtype)


def max_pool2d_backward_naive(dout, cache):
    """Max pooling backward with ``np.add.at`` (unbuffered, so repeated winners add)."""
    x_shape, argmax, dtype = cache
    check_grad("max_pool2d backward", dout, argmax.shape, dtype)
    n, c, h, w = x_shape
    dx = np.zeros((n, c, h * w), dtype=dout.dtype)
    nn_, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    np.add.at(dx, (nn_[..., None, None], cc[..., None, None], argmax), dout)
    return dx.reshape(x_shape)


# --------------------------------------------------------------------------- max unpooling
@njit(cache=True, nogil=True)
def _maxunpool_forward_kernel(x, indices, out):
    """``out[n, c, indices[n, c, k]] = x[n, c, k]`` on (N, C, L) and (N, C, OH*OW); a repeated index keeps
    the last value, as torch's CPU loop."""
    n_img, chans, length = x.shape
    for n in range(n_img):
        for c in range(chans):
            for k in range(length):
                out[n, c, indices[n, c, k]] = x[n, c, k]


def unpool_output_size(x_shape, kernel, stride, padding, output_size):
    """torch's ``_unpool_output_size``: ``(H - 1)*stride - 2*padding + kernel`` unless ``output_size``
    (``(OH, OW)`` or ``(N, C, OH, OW)``) is given, within ``stride`` of that default."""
    default = tuple((x_shape[2 + d] - 1) * stride[d] - 2 * padding[d] + kernel[d] for d in (0, 1))
    if output_size is None:
        size = default
    else:
        if (not isinstance(output_size, (tuple, list))
                or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in output_size)):
            raise TypeError(f"max_unpool2d output_size: expected a tuple of ints (OH, OW) or (N, C, OH, OW), "
                            f"got {output_size!r}")
        size = tuple(int(s) for s in output_size)
        size = size[2:] if len(size) == 4 else size
        if len(size) != 2:
            raise ValueError(f"max_unpool2d output_size: expected (OH, OW) or (N, C, OH, OW), got {output_size!r}")
        for d in (0, 1):
            if not default[d] - stride[d] < size[d] < default[d] + stride[d]:
                raise ValueError(f"max_unpool2d output_size: expected sizes between {default[d] - stride[d]} and "
                                 f"{default[d] + stride[d]} (exclusive), got {size}")
    if min(size) < 1:
        raise ValueError(f"max_unpool2d: the output size {size} is empty (input {x_shape}, kernel {kernel}, "
                         f"stride {stride}, padding {padding})")
    return size


def _unpool_geometry(x, indices, kernel_size, stride, padding, output_size):
    check_float_array("max_unpool2d input", x, 4)
    if not isinstance(indices, np.ndarray) or not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"max_unpool2d indices: expected an integer ndarray, got "
                        f"{getattr(indices, 'dtype', type(indices).__name__)}")
    if indices.shape != x.shape:
        raise ValueError(f"max_unpool2d: expected indices of the input's shape {x.shape}, got {indices.shape}")
    kernel = pair("max_unpool2d kernel_size", kernel_size, 1)
    stride = pair("max_unpool2d stride", kernel_size if stride is None else stride, 1)
    padding = pair("max_unpool2d padding", padding, 0)
    oh, ow = unpool_output_size(x.shape, kernel, stride, padding, output_size)
    if indices.size and (indices.min() < 0 or indices.max() >= oh * ow):
        raise ValueError(f"max_unpool2d: expected indices in [0, {oh * ow}) for an output of {oh}x{ow}, got values "
                         f"in [{indices.min()}, {indices.max()}]")
    return oh, ow


def max_unpool2d_forward(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Max unpooling, as ``torch.nn.functional.max_unpool2d``: each value back at its max pool index, zeros
    elsewhere.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), pooled values
    indices : integer ndarray, shape (N, C, H, W), flat indices into OH*OW (``max_pool2d(return_indices=True)``)
    kernel_size, stride (default ``kernel_size``), padding : int or (int, int), those of the max pool
    output_size : (OH, OW) or (N, C, OH, OW), optional; default ``(H - 1)*stride - 2*padding + kernel``

    Returns
    -------
    out : ndarray, shape (N, C, OH, OW), dtype of ``x``
    cache : (indices as int64 (N, C, H*W), x.shape, out.shape, dtype)
    """
    oh, ow = _unpool_geometry(x, indices, kernel_size, stride, padding, output_size)
    n, c = x.shape[:2]
    flat = np.ascontiguousarray(indices, dtype=np.int64).reshape(n, c, -1)
    out = np.zeros((n, c, oh * ow), dtype=x.dtype)
    _maxunpool_forward_kernel(np.ascontiguousarray(x).reshape(n, c, -1), flat, out)
    return out.reshape(n, c, oh, ow), (flat, x.shape, (n, c, oh, ow), x.dtype)


def max_unpool2d_backward(dout, cache):
    """Max unpooling backward: each input's gradient is the upstream gradient at its index (a gather).

    Returns ``dx`` of the input's shape.
    """
    flat, x_shape, out_shape, dtype = cache
    check_grad("max_unpool2d backward", dout, out_shape, dtype)
    dout = np.ascontiguousarray(dout).reshape(out_shape[0], out_shape[1], -1)
    return np.take_along_axis(dout, flat, axis=2).reshape(x_shape)


def max_unpool2d_forward_naive(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """:func:`max_unpool2d_forward` one value at a time (later values overwrite earlier ones at a shared index)."""
    oh, ow = _unpool_geometry(x, indices, kernel_size, stride, padding, output_size)
    n, c, h, w = x.shape
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    for i in np.ndindex(n, c, h, w):
        at = int(indices[i])
        out[i[0], i[1], at // ow, at % ow] = x[i]
    return out, (np.asarray(indices, dtype=np.int64), x.shape, out.shape, x.dtype)


def max_unpool2d_backward_naive(dout, cache):
    """:func:`max_unpool2d_backward` one value at a time."""
    indices, x_shape, out_shape, dtype = cache
    check_grad("max_unpool2d backward", dout, out_shape, dtype)
    ow = out_shape[3]
    dx = np.empty(x_shape, dtype=dtype)
    for i in np.ndindex(*x_shape):
        at = int(indices[i])
        dx[i] = dout[i[0], i[1], at // ow, at % ow]
    return dx


# --------------------------------------------------------------------------- adaptive max pooling
def _adaptive_geometry(x, output_size):
    """The checked windows ``(h0, h1), (w0, w1)`` of ``adaptive_max_pool2d`` on ``x`` (C, H, W) or (N, C, H, W)."""
    check_float_array("adaptive_max_pool2d input", x)
    if x.ndim not in (3, 4):
        raise ValueError(f"adaptive_max_pool2d input: expected a 3-D (C, H, W) or 4-D (N, C, H, W) array, "
                         f"got shape {x.shape}")
    rows, cols, _ = adaptive_windows(x.shape, output_size, "adaptive_max_pool2d")
    return rows, cols


@njit(cache=True, nogil=True)
def _adaptive_maxpool_forward_kernel(x, h0, h1, w0, w1, out, argmax):
    """Planes (P, H, W) -> (P, OH, OW): each window's value and flat index ``iy*W + ix`` of its winner.

    torch's rule: a larger value or a NaN (``v != v``) takes the window, so ties keep the first maximum
    in row-major order and, among NaNs, the last one wins; a window of -inf keeps its first pixel."""
    planes, w = x.shape[0], x.shape[2]
    for p in range(planes):
        for y in range(h0.size):
            for xo in range(w0.size):
                best = x[p, h0[y], w0[xo]]
                best_at = h0[y] * w + w0[xo]
                for iy in range(h0[y], h1[y]):
                    for ix in range(w0[xo], w1[xo]):
                        v = x[p, iy, ix]
                        if v > best or v != v:
                            best = v
                            best_at = iy * w + ix
                out[p, y, xo] = best
                argmax[p, y, xo] = best_at


@njit(cache=True, nogil=True)
def _adaptive_maxpool_backward_kernel(dout, argmax, dx):
    """``dx[p, argmax[p, k]] += dout[p, k]`` on (P, OH*OW) and (P, H*W): overlapping windows' winners add."""
    planes, length = dout.shape
    for p in range(planes):
        for k in range(length):
            dx[p, argmax[p, k]] += dout[p, k]


def adaptive_max_pool2d_forward(x, output_size):
    """Adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool2d``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W) or (C, H, W), float32 or float64, H and W >= 1
    output_size : int, or a pair of ints or None (None keeps that size of the input)

    Returns
    -------
    out : ndarray, shape (N, C, OH, OW) (or (C, OH, OW)), dtype of ``x``; cell ``(oy, ox)`` is the max over rows
        ``floor(oy*H/OH) .. ceil((oy+1)*H/OH)`` and the columns alike
    cache : (x.shape, argmax, x.dtype) with argmax int64 of the output's shape, each winner's flat index
        ``iy*W + ix`` within its plane (what ``return_indices=True`` hands out, as torch)
    """
    (h0, h1), (w0, w1) = _adaptive_geometry(x, output_size)
    h, w = x.shape[-2:]
    planes = np.ascontiguousarray(x).reshape(-1, h, w)
    out = np.empty((planes.shape[0], len(h0), len(w0)), dtype=x.dtype)
    argmax = np.empty(out.shape, dtype=np.int64)
    # the planes are independent: split them between the threads, each writing its own slices
    threads.map_chunks(lambda sl: _adaptive_maxpool_forward_kernel(planes[sl], h0, h1, w0, w1, out[sl], argmax[sl]),
                       planes.shape[0], threads.min_items(h * w))
    shape = x.shape[:-2] + out.shape[1:]
    return out.reshape(shape), (x.shape, argmax.reshape(shape), x.dtype)


def adaptive_max_pool2d_backward(dout, cache):
    """Adaptive max pooling backward: each upstream gradient to its window's winner, added where a pixel
    wins several windows.  Returns ``dx`` of the input's shape."""
    x_shape, argmax, dtype = cache
    check_grad("adaptive_max_pool2d backward", dout, argmax.shape, dtype)
    planes, cells = int(np.prod(x_shape[:-2])), argmax.shape[-2] * argmax.shape[-1]
    d = np.ascontiguousarray(dout).reshape(planes, cells)
    at = argmax.reshape(planes, cells)
    dx = np.zeros((planes, x_shape[-2] * x_shape[-1]), dtype=dtype)
    threads.map_chunks(lambda sl: _adaptive_maxpool_backward_kernel(d[sl], at[sl], dx[sl]), planes,
                       threads.min_items(dx.shape[1]))
    return dx.reshape(x_shape)


def adaptive_max_pool2d_forward_naive(x, output_size):
    """One window at a time, by slicing: the first maximum of its pixels in row-major order (``argmax``), or
    its last NaN where it has one (torch's rule).  Same contract as :func:`adaptive_max_pool2d_forward`."""
    (h0, h1), (w0, w1) = _adaptive_geometry(x, output_size)
    lead, (h, w) = x.shape[:-2], x.shape[-2:]
    flat_index = np.arange(h * w).reshape(h, w)
    out = np.empty(lead + (len(h0), len(w0)), dtype=x.dtype)
    argmax = np.empty(out.shape, dtype=np.int64)
    for y in range(len(h0)):
        for xo in range(len(w0)):
            rows, cols = slice(h0[y], h1[y]), slice(w0[xo], w1[xo])
            win = x[..., rows, cols].reshape(lead + ((h1[y] - h0[y]) * (w1[xo] - w0[xo]),))
            index = flat_index[rows, cols].reshape(-1)
            nan = np.isnan(win)
            last_nan = win.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
            k = np.where(nan.any(axis=-1), last_nan, np.argmax(win, axis=-1))
            out[..., y, xo] = np.take_along_axis(win, k[..., None], axis=-1)[..., 0]
            argmax[..., y, xo] = index[k]
    return out, (x.shape, argmax, x.dtype)


def adaptive_max_pool2d_backward_naive(dout, cache):
    """``np.add.at`` into each plane's flat pixels (unbuffered, so a pixel winning several windows gets the sum)."""
    x_shape, argmax, dtype = cache
    check_grad("adaptive_max_pool2d backward", dout, argmax.shape, dtype)
    planes, cells = int(np.prod(x_shape[:-2])), argmax.shape[-2] * argmax.shape[-1]
    dx = np.zeros((planes, x_shape[-2] * x_shape[-1]), dtype=dtype)
    np.add.at(dx, (np.arange(planes)[:, None], argmax.reshape(planes, cells)), dout.reshape(planes, cells))
    return dx.reshape(x_shape)


# this file's ops, by torch's names (kernels/registry.py)
KERNELS = kernel_table(globals(), "max_pool2d", "max_unpool2d", "adaptive_max_pool2d")
