"""2-D average pooling, fixed-window and adaptive: both are "the mean of a rectangle of the input".

Each output ``(oy, ox)`` averages the input rows ``h0[oy]:h1[oy]`` and columns
``w0[ox]:w1[ox]`` (clipped to the input) and divides by ``divisor[oy, ox]``.
Only how the rectangles and divisors are chosen differs:

* ``avg_pool2d`` (torch's rules, ``aten/src/ATen/native/cpu/AvgPoolKernel.cpp``): a window
  starts at ``o * stride - padding``; its *padded size* counts the cells inside
  the padded input (the declared padding, not what ``ceil_mode`` adds beyond it);
  the divisor is ``divisor_override``, else that padded size with
  ``count_include_pad``, else the number of real input cells.  Under
  ``ceil_mode`` one more window is kept when it starts inside the input or the
  left padding, never one that would start in the right padding.
* ``adaptive_avg_pool2d``: output ``o`` of ``O`` covers ``floor(o * H / O)`` to
  ``ceil((o + 1) * H / O)``, divided by its own size.

Backward spreads each output's gradient evenly back over its rectangle (``dy / divisor``
to each cell), adding where rectangles overlap.
"""
import functools
import math

import numpy as np
from numba import njit

from .. import threads
from .checks import check_float_array, check_grad, pair
from .registry import kernel_table


# --------------------------------------------------------------------------- geometry
def _check_input(name, x):
    check_float_array(f"{name} input", x)
    if x.ndim not in (3, 4):
        raise ValueError(f"{name} input: expected a 3-D (C, H, W) or 4-D (N, C, H, W) array, got shape {x.shape}")
    return x if x.ndim == 4 else x[None]


def _pool_out_size(name, size, kernel, stride, pad, ceil_mode):
    """torch's ``pooling_output_shape``: floor (or ceil) of the window count, minus a ceil window in the right pad."""
    out = (size + 2 * pad - kernel + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    if out < 1:
        raise ValueError(f"{name}: input size {size} with padding {pad} is smaller than the kernel size {kernel}")
    return out


def avg_pool2d_windows(x_shape, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                      divisor_override=None):
    """The rectangles and divisors of ``avg_pool2d`` (checked), see the module docstring.

    Returns
    -------
    (h0, h1), (w0, w1) : int64 arrays (OH,), (OW,) of clipped row / column ranges
    divisor : float64 array (OH, OW)
    """
    kh, kw = pair("avg_pool2d kernel_size", kernel_size, 1)
    sh, sw = pair("avg_pool2d stride", (kh, kw) if stride is None else stride, 1)
    ph, pw = pair("avg_pool2d padding", padding, 0)
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"avg_pool2d: expected padding at most half the kernel size {(kh, kw)}, got {(ph, pw)}")
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                         or isinstance(divisor_override, bool) or divisor_override == 0):
        raise ValueError(f"avg_pool2d: expected divisor_override as a non-zero int or None, got {divisor_override!r}")
    return _avgpool_windows(int(x_shape[-2]), int(x_shape[-1]), kh, kw, sh, sw, ph, pw, bool(ceil_mode),
                            bool(count_include_pad), None if divisor_override is None else int(divisor_override))


class _Windows(tuple):
    """``((h0, h1), (w0, w1), divisor)`` with ``uniform``, :func:`_uniform` of them, worked out once."""
    uniform = None


def _frozen_windows(rows, cols, divisor):
    for a in (*rows, *cols, divisor):
        a.setflags(write=False)  # shared between calls (cached): nobody may change them
    windows = _Windows((rows, cols, divisor))
    windows.uniform = _uniform(windows)
    return windows


@functools.lru_cache(maxsize=64)
def _avgpool_windows(h, w, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad, divisor_override):
    axes = []
    for size, k, s, p, what in ((h, kh, sh, ph, "height"), (w, kw, sw, pw, "width")):
        n_out = _pool_out_size(f"avg_pool2d {what}", size, k, s, p, ceil_mode)
        start = np.arange(n_out) * s - p
        end = np.minimum(start + k, size + p)       # the padded window: inside input + declared padding
        padded = end - start
        lo, hi = np.maximum(start, 0), np.minimum(end, size)
        axes.append((lo.astype(np.int64), hi.astype(np.int64), padded, hi - lo))
    (h0, h1, hpad, hreal), (w0, w1, wpad, wreal) = axes
    if divisor_override is not None:
        divisor = np.full((len(h0), len(w0)), float(divisor_override))
    elif count_include_pad:
        divisor = np.outer(hpad, wpad).astype(np.float64)
    else:
        divisor = np.outer(hreal, wreal).astype(np.float64)
    return _frozen_windows((h0, h1), (w0, w1), divisor)


MAX_OUTPUT_SIZE = 2**31 - 1  # an adaptive pool's output height or width: far beyond any array, within int32


def adaptive_windows(x_shape, output_size, name="adaptive_avg_pool2d"):
    """The rectangles of an adaptive pool (``name``: ``adaptive_avg_pool2d`` or ``adaptive_max_pool2d``, for the
    messages): ``floor(o*H/O) .. ceil((o+1)*H/O)``; divisor = their area (the average pool's)."""
    if isinstance(output_size, (int, np.integer)) and not isinstance(output_size, bool):
        output_size = (output_size, output_size)
    if not isinstance(output_size, (tuple, list)) or len(output_size) != 2:
        raise TypeError(f"{name} output_size: expected an int or a pair of ints/None, got {output_size!r}")
    ranges = []
    for size, o in zip(x_shape[-2:], output_size):
        o = size if o is None else o
        if not isinstance(o, (int, np.integer)) or isinstance(o, bool) or o < 1:
            raise ValueError(f"{name} output_size: expected ints >= 1 (or None), got {output_size!r}")
        if o > MAX_OUTPUT_SIZE:
            raise ValueError(f"{name} output_size: expected ints <= {MAX_OUTPUT_SIZE}, got {output_size!r}")
        if size < 1:
            raise ValueError(f"{name} input: expected non-empty height and width, got {x_shape}")
        idx = np.arange(o)
        ranges.append(((idx * size) // o, -((-(idx + 1) * size) // o)))
    (h0, h1), (w0, w1) = ranges
    return _frozen_windows((h0, h1), (w0, w1), np.outer(h1 - h0, w1 - w0).astype(np.float64))


# --------------------------------------------------------------------------- numba
@njit(cache=True, nogil=True)
def _window_mean_kernel(x, h0, h1, w0, w1, divisor, out):
    n_img, chans = x.shape[0], x.shape[1]
    for n in range(n_img):
        for c in range(chans):
            for y in range(h0.size):
                for xo in range(w0.size):
                    s = 0.0  # float64, whatever x's dtype
                    for iy in range(h0[y], h1[y]):
                        for ix in range(w0[xo], w1[xo]):
                            s += x[n, c, iy, ix]
                    out[n, c, y, xo] = s / divisor[y, xo]


@njit(cache=True, nogil=True)
def _window_spread_kernel(dout, h0, h1, w0, w1, divisor, dx):
    """``dx[window] += dout / divisor`` for every window (dx starts at zero; overlaps add)."""
    n_img, chans = dout.shape[0], dout.shape[1]
    for n in range(n_img):
        for c in range(chans):
            for y in range(h0.size):
                for xo in range(w0.size):
                    g = dout[n, c, y, xo] / divisor[y, xo]
                    for iy in range(h0[y], h1[y]):
                        for ix in range(w0[xo], w1[xo]):
                            dx[n, c, iy, ix] += g


@njit(cache=True, nogil=True)
def _uniform_mean_kernel(x, kh, kw, sh, sw, divisor, out):
    """:func:`_window_mean_kernel` when every window is ``kh x kw`` at stride ``(sh, sw)`` inside the input and
    shares one divisor: a row of window sums at a time, so the loop over outputs vectorises (same sums, same
    order)."""
    n_img, chans = x.shape[0], x.shape[1]
    oh, ow = out.shape[2], out.shape[3]
    acc = np.empty(ow)  # float64, whatever x's dtype
    for n in range(n_img):
        for c in range(chans):
            for y in range(oh):
                acc[:] = 0.0
                for i in range(kh):
                    row = x[n, c, y * sh + i]
                    for j in range(kw):
                        if sw == 2:  # a constant stride: LLVM vectorises the strided reads
                            for xo in range(ow):
                                acc[xo] += row[2 * xo + j]
                        else:
                            for xo in range(ow):
                                acc[xo] += row[xo * sw + j]
                for xo in range(ow):
                    out[n, c, y, xo] = acc[xo] / divisor


@njit(cache=True, nogil=True)
def _uniform_spread_kernel(dout, kh, kw, sh, sw, divisor, dx):
    """:func:`_window_spread_kernel` for the windows of :func:`_uniform_mean_kernel` (dx starts at zero).

    Where windows overlap, a cell's shares arrive in another order than there: equal up to rounding."""
    n_img, chans = dout.shape[0], dout.shape[1]
    oh, ow = dout.shape[2], dout.shape[3]
    g = np.empty(ow)
    for n in range(n_img):
        for c in range(chans):
            for y in range(oh):
                for xo in range(ow):
                    g[xo] = dout[n, c, y, xo] / divisor
                for i in range(kh):
                    row = dx[n, c, y * sh + i]
                    for j in range(kw):
                        for xo in range(ow):
                            row[xo * sw + j] += g[xo]


def _uniform(windows):
    """``(kh, kw, sh, sw, divisor)`` when every window has one size, one stride and one divisor, else None."""
    (h0, h1), (w0, w1), divisor = windows
    geometry = []
    for lo, hi in ((h0, h1), (w0, w1)):
        k, s = int(hi[0] - lo[0]), int(lo[1] - lo[0]) if len(lo) > 1 else 1
        if lo[0] != 0 or s < 1 or np.any(hi - lo != k) or np.any(lo != s * np.arange(len(lo))):
            return None
        geometry.append((k, s))
    if np.any(divisor != divisor.flat[0]):
        return None
    (kh, sh), (kw, sw) = geometry
    return kh, kw, sh, sw, float(divisor.flat[0])


def _pick_kernel(windows, uniform_kernel, window_kernel):
    """The row-at-a-time kernel and its geometry where the windows are uniform, else the general one and
    the windows (any ``((h0, h1), (w0, w1), divisor)`` tuple takes the general one, which fits all)."""
    uniform = getattr(windows, "uniform", None)
    if uniform is not None:
        return uniform_kernel, uniform
    (h0, h1), (w0, w1), divisor = windows
    return window_kernel, (h0, h1, w0, w1, divisor)


def _window_mean(x, windows):
    x4 = np.ascontiguousarray(_check_input("avg_pool2d", x))
    (h0, _), (w0, _), _ = windows
    out = np.empty((x4.shape[0], x4.shape[1], len(h0), len(w0)), dtype=x.dtype)
    kernel, geometry = _pick_kernel(windows, _uniform_mean_kernel, _window_mean_kernel)
    threads.map_chunks(lambda sl: kernel(x4[sl], *geometry, out[sl]), x4.shape[0],
                       threads.min_items(math.prod(x4.shape[1:])))
    return out.reshape(out.shape[1:] if x.ndim == 3 else out.shape), (x.shape, x.dtype, windows)


def _window_spread(dout, cache):
    x_shape, dtype, windows = cache
    (h0, _), (w0, _), _ = windows
    check_grad("avg_pool2d backward", dout, x_shape[:-2] + (len(h0), len(w0)), dtype)
    d4 = np.ascontiguousarray(dout if dout.ndim == 4 else dout[None])
    dx = np.zeros(d4.shape[:2] + x_shape[-2:], dtype=dtype)
    kernel, geometry = _pick_kernel(windows, _uniform_spread_kernel, _window_spread_kernel)
    threads.map_chunks(lambda sl: kernel(d4[sl], *geometry, dx[sl]), d4.shape[0],
                       threads.min_items(math.prod(dx.shape[1:])))
    return dx.reshape(x_shape)


# --------------------------------------------------------------------------- fast
def avg_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                      divisor_override=None):
    """Average pooling, as ``torch.nn.functional.avg_pool2d`` (see the module docstring for the windows).

    Parameters
    ----------
    x : ndarray (N, C, H, W) or (C, H, W)
    kernel_size, stride (default kernel_size), padding (at most half the kernel) : int or (int, int)
    ceil_mode, count_include_pad : bool;  divisor_override : non-zero int or None

    Returns
    -------
    out : ndarray (N, C, OH, OW) (or (C, OH, OW)), dtype of x
    cache : (x.shape, x.dtype, windows)
    """
    _check_input("avg_pool2d", x)
    return _window_mean(x, avg_pool2d_windows(x.shape, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                             divisor_override))


def avg_pool2d_backward(dout, cache):
    """Average pooling backward: ``dy / divisor`` to every input cell of each window; returns dx like x."""
    return _window_spread(dout, cache)


def adaptive_avg_pool2d_forward(x, output_size):
    """Adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool2d``.

    Parameters
    ----------
    x : ndarray (N, C, H, W) or (C, H, W);  output_size : int or (int or None, int or None)

    Returns
    -------
    out : ndarray (N, C, OH, OW);  cache : as :func:`avg_pool2d_forward`'s
    """
    _check_input("adaptive_avg_pool2d", x)
    return _window_mean(x, adaptive_windows(x.shape, output_size))


adaptive_avg_pool2d_backward = avg_pool2d_backward


# --------------------------------------------------------------------------- naive
def _window_mean_naive(x, windows):
    (h0, h1), (w0, w1), divisor = windows
    out = np.empty(x.shape[:-2] + (len(h0), len(w0)), dtype=x.dtype)
    for y in range(len(h0)):
        for xo in range(len(w0)):
            window = x[..., h0[y]:h1[y], w0[xo]:w1[xo]]
            out[..., y, xo] = window.sum(axis=(-2, -1)) / x.dtype.type(divisor[y, xo])
    return out, (x.shape, x.dtype, windows)


def avg_pool2d_forward_naive(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                            divisor_override=None):
    """One slice sum per output position; same contract as :func:`avg_pool2d_forward`."""
    _check_input("avg_pool2d", x)
    return _window_mean_naive(x, avg_pool2d_windows(x.shape, kernel_size, stride, padding, ceil_mode,
                                                   count_include_pad, divisor_override))


def avg_pool2d_backward_naive(dout, cache):
    """``dx[window] += dout / divisor``, one slice per output position."""
    x_shape, dtype, windows = cache
    (h0, h1), (w0, w1), divisor = windows
    check_grad("avg_pool2d backward", dout, x_shape[:-2] + (len(h0), len(w0)), dtype)
    dx = np.zeros(x_shape, dtype=dtype)
    for y in range(len(h0)):
        for xo in range(len(w0)):
            dx[..., h0[y]:h1[y], w0[xo]:w1[xo]] += (dout[..., y, xo] / dtype.type(divisor[y, xo]))[..., None, None]
    return dx


def adaptive_avg_pool2d_forward_naive(x, output_size):
    """Same contract as :func:`adaptive_avg_pool2d_forward`."""
    _check_input("adaptive_avg_pool2d", x)
    return _window_mean_naive(x, adaptive_windows(x.shape, output_size))


adaptive_avg_pool2d_backward_naive = avg_pool2d_backward_naive

__all__ = ["adaptive_avg_pool2d_backward", "adaptive_avg_pool2d_backward_naive", "adaptive_avg_pool2d_forward",
           "adaptive_avg_pool2d_forward_naive", "avg_pool2d_backward", "avg_pool2d_backward_naive",
           "avg_pool2d_forward", "avg_pool2d_forward_naive"]


# this file's ops, by torch's names (kernels/registry.py)
KERNELS = kernel_table(globals(), "avg_pool2d", "adaptive_avg_pool2d")
