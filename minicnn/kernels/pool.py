"""2-D max pooling.

Forward keeps, for every output, the flat index ``iy*W + ix`` of the input
pixel that won its window (the first maximum in row-major order, as torch
picks it).  Backward sends each upstream gradient to exactly that pixel; when
windows overlap a pixel can win several and its gradients add up.
"""
import numpy as np
from numba import njit

from .. import threads
from ._check import check_float_array, check_grad, out_size, pair


@njit(cache=True, nogil=True)
def _maxpool_forward_kernel(x, kh, kw, sh, sw, ph, pw, out, argmax):
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


@njit(cache=True, nogil=True, inline="always")
def max2x2(top, bottom, x, r, w):
    """Max of window ``x`` of two rows (NaN-free) and its flat index; row ``top`` starts at flat ``r``.

    Candidates in row-major order; strict > keeps the first maximum, as torch.
    """
    best, at = top[2 * x], r + 2 * x
    v = top[2 * x + 1]
    at = r + 2 * x + 1 if v > best else at
    best = v if v > best else best
    v = bottom[2 * x]
    at = r + w + 2 * x if v > best else at
    best = v if v > best else best
    v = bottom[2 * x + 1]
    at = r + w + 2 * x + 1 if v > best else at
    best = v if v > best else best
    return best, at


@njit(cache=True, nogil=True)
def _maxpool2x2_forward_kernel(x, out, argmax):
    """2x2 / stride 2 / no padding on NaN-free input, branch-free (about 6x faster than the general loop).

    Each comparison feeds a select instead of a jump, so random data costs no
    mispredicted branches; NaN handling would bring the branches back, so input
    with a NaN goes to the general kernel instead (see ``maxpool2d_forward``).
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


def _pool_geometry(x, kernel_size, stride, padding):
    check_float_array("max_pool2d input", x, 4)
    kh, kw = pair("max_pool2d kernel_size", kernel_size, 1)
    sh, sw = pair("max_pool2d stride", kernel_size if stride is None else stride, 1)
    ph, pw = pair("max_pool2d padding", padding, 0)
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"max_pool2d: expected padding at most half the kernel size {(kh, kw)}, "
                         f"got {(ph, pw)}")
    oh = out_size("max_pool2d height", x.shape[2], kh, sh, ph)
    ow = out_size("max_pool2d width", x.shape[3], kw, sw, pw)
    return (kh, kw), (sh, sw), (ph, pw), (oh, ow)


def maxpool2d_forward(x, kernel_size, stride=None, padding=0):
    """Max pooling forward, as ``torch.nn.functional.max_pool2d`` (floor mode).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), default ``kernel_size``
    padding : int or (int, int), at most half the kernel; padded cells are -inf

    Returns
    -------
    out : ndarray, shape (N, C, OH, OW), dtype of ``x``
    cache : (x.shape, argmax, x.dtype) with argmax int32 (N, C, OH, OW), flat index into H*W
    """
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = _pool_geometry(x, kernel_size, stride, padding)
    out = np.empty((x.shape[0], x.shape[1], oh, ow), dtype=x.dtype)
    argmax = np.empty(out.shape, dtype=np.int32)
    x = np.ascontiguousarray(x)

    def chunk(sl):
        if (kh, kw, sh, sw, ph, pw) == (2, 2, 2, 2, 0, 0) and not has_nan(x[sl]):
            _maxpool2x2_forward_kernel(x[sl], out[sl], argmax[sl])
        else:
            _maxpool_forward_kernel(x[sl], kh, kw, sh, sw, ph, pw, out[sl], argmax[sl])
    threads.map_chunks(chunk, x.shape[0])
    return out, (x.shape, argmax, x.dtype)


def maxpool2d_backward(dout, cache):
    """Max pooling backward: route each gradient to its window's winner.

    Parameters
    ----------
    dout : ndarray, shape (N, C, OH, OW), not modified
    cache : from :func:`maxpool2d_forward`

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    """
    x_shape, argmax, dtype = cache
    check_grad("max_pool2d backward", dout, argmax.shape, dtype)
    dx = np.zeros(x_shape, dtype=dout.dtype)
    dout = np.ascontiguousarray(dout)
    threads.map_chunks(lambda sl: _maxpool_backward_kernel(dout[sl], argmax[sl], dx[sl]), dout.shape[0])
    return dx


def maxpool2d_forward_naive(x, kernel_size, stride=None, padding=0):
    """Max pooling by slicing: the max over each window of the -inf-padded input.

    Returns ``(out, cache)`` with the same meaning as :func:`maxpool2d_forward`.
    """
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = _pool_geometry(x, kernel_size, stride, padding)
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    flat_index = np.pad(np.arange(h * w).reshape(h, w), ((ph, ph), (pw, pw)), constant_values=-1)
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    argmax = np.empty((n, c, oh, ow), dtype=np.int64)
    for y in range(oh):
        for xo in range(ow):
            win = xp[:, :, y * sh:y * sh + kh, xo * sw:xo * sw + kw].reshape(n, c, -1)
            k = win.argmax(axis=2)                   # first maximum, as torch
            out[:, :, y, xo] = np.take_along_axis(win, k[..., None], axis=2)[..., 0]
            argmax[:, :, y, xo] = flat_index[y * sh:y * sh + kh, xo * sw:xo * sw + kw].reshape(-1)[k]
    return out, (x.shape, argmax, x.dtype)


def maxpool2d_backward_naive(dout, cache):
    """Max pooling backward with ``np.add.at`` (unbuffered, so repeated winners add)."""
    x_shape, argmax, dtype = cache
    check_grad("max_pool2d backward", dout, argmax.shape, dtype)
    n, c, h, w = x_shape
    dx = np.zeros((n, c, h * w), dtype=dout.dtype)
    nn_, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    np.add.at(dx, (nn_[..., None, None], cc[..., None, None], argmax), dout)
    return dx.reshape(x_shape)
