"""The direct loops: a stride-1 convolution straight from the zero-padded input, no im2col, no GEMM.

For a stride-1 kernel over 1 to 3 input channels, im2col's GEMM has K = C*KH*KW (9..27 for 3x3,
25..75 for 5x5), which no BLAS runs well, and the im2col copy is KH*KW times the input.  These loops
do the same FLOPs from the padded input (3x3 unrolled by hand, other sizes by a loop over the taps).
They index output pixel (y, x) as k = y*WP + x, WP the padded input's width: then tap (i, j) reads
input k + i*WP + j for every k, one long vectorised loop per plane instead of OH short ones (the
WP - OW columns past the row end are computed and dropped, or read as zeros).

The interface, as ``winograd.py``'s and ``conv_general.py``'s: :func:`applies` (whether the loops can
compute a conv), :func:`forward` (returns a :class:`DirectCache`) and :func:`backward` (the weight and
bias gradients).  ``conv.py`` decides when "auto" takes this path (``DIRECT_MAX_CHANNELS``,
``DIRECT_MAX_K`` there), and computes the input gradient the im2col way (W^T dout, then col2im) over
the same chunks: there is no direct loop for it.
"""
from collections import namedtuple

import numpy as np
from numba import njit

from .. import threads
from .conv_layout import pad

DirectCache = namedtuple("DirectCache", "slices xp x_shape weight geometry")
DirectCache.__doc__ = ("The direct path's cache: the batch chunks (``slices``), each chunk's zero-padded "
                       "input (``xp``, a list), the input's shape, the weight and the plain path's geometry.")


@njit(cache=True, nogil=True, inline="always")
def _span_to_plane(acc, wp, plane):
    """``plane[y, x] = acc[y * wp + x]``: a direct kernel's output row by row, the padded columns dropped."""
    for y in range(plane.shape[0]):
        for x in range(plane.shape[1]):
            plane[y, x] = acc[y * wp + x]


@njit(cache=True, nogil=True, fastmath={"contract"})  # multiply-adds as FMAs: one rounding instead of two
def _direct3x3_forward_kernel(xp, weight, bias, out):
    """``out[n, o, y, x] = bias[o] + sum_{c,i,j} weight[o, c, i, j] * xp[n, c, y + i, x + j]``."""
    n_img, chans, hp, wp = xp.shape
    wp = max(wp, 0)  # indices numba can prove >= 0 need no wraparound select, and then vectorise
    n_out, oh, ow = out.shape[1], out.shape[2], out.shape[3]
    span = max((oh - 1) * wp + ow, 0)
    acc = np.empty(span, dtype=out.dtype)
    for n in range(n_img):
        for o in range(n_out):
            acc[:] = bias[o]
            for c in range(chans):
                f = xp[n, c].reshape(hp * wp)
                w = weight[o, c]
                w00, w01, w02, w10, w11, w12, w20, w21, w22 = (w[0, 0], w[0, 1], w[0, 2], w[1, 0], w[1, 1],
                                                               w[1, 2], w[2, 0], w[2, 1], w[2, 2])
                for k in range(span):
                    acc[k] += ((w00 * f[k] + w01 * f[k + 1] + w02 * f[k + 2])
                               + (w10 * f[k + wp] + w11 * f[k + wp + 1] + w12 * f[k + wp + 2])
                               + (w20 * f[k + 2 * wp] + w21 * f[k + 2 * wp + 1] + w22 * f[k + 2 * wp + 2]))
            _span_to_plane(acc, wp, out[n, o])


@njit(cache=True, nogil=True, fastmath={"contract"})
def _direct_forward_kernel(xp, weight, bias, out):
    """Any KH x KW: the same sum as :func:`_direct3x3_forward_kernel`, one pass over ``acc`` per tap."""
    n_img, chans, hp, wp = xp.shape
    wp = max(wp, 0)  # see _direct3x3_forward_kernel
    n_out, kh, kw = weight.shape[0], weight.shape[2], weight.shape[3]
    oh, ow = out.shape[2], out.shape[3]
    span = max((oh - 1) * wp + ow, 0)
    acc = np.empty(span, dtype=out.dtype)
    for n in range(n_img):
        for o in range(n_out):
            acc[:] = bias[o]
            for c in range(chans):
                f = xp[n, c].reshape(hp * wp)
                for i in range(kh):
                    for j in range(kw):
                        w, off = weight[o, c, i, j], i * wp + j
                        for k in range(span):
                            acc[k] += w * f[k + off]
            _span_to_plane(acc, wp, out[n, o])


@njit(cache=True, nogil=True, fastmath={"contract"})
def _direct_dweight_kernel(xp, dout, dweight, dbias):
    """Any KH x KW (the taps from ``dweight``'s shape).  Adds ``sum_{n,y,x} dout[n, o, y, x] * xp[n, c, y + i, x + j]`` to ``dweight[o, c, i, j]`` and the sum of
    ``dout[:, o]`` to ``dbias[o]`` (both float64).  Each (tap, pixel) sums over the chunk's images in a
    lane of ``lanes`` (float32: one term per image); the lanes are summed in float64 per output channel."""
    n_img, chans, hp, wp = xp.shape
    wp = max(wp, 0)  # see _direct3x3_forward_kernel
    n_out, oh, ow = dout.shape[1], dout.shape[2], dout.shape[3]
    kh, kw = dweight.shape[2], dweight.shape[3]
    taps = kh * kw
    span = max((oh - 1) * wp + ow, 0)
    lanes = np.empty((chans * taps + 1, span), dtype=dout.dtype)
    d = np.zeros(span, dtype=dout.dtype)  # dout[n, o] at k = y*wp + x; the columns past OW stay 0
    for o in range(n_out):
        lanes[:] = 0
        for n in range(n_img):
            plane = dout[n, o]
            for y in range(oh):
                for x in range(ow):
                    d[y * wp + x] = plane[y, x]
            lane = lanes[chans * taps]
            for k in range(span):
                lane[k] += d[k]
            for c in range(chans):
                f = xp[n, c].reshape(hp * wp)
                for i in range(kh):
                    for j in range(kw):
                        lane, off = lanes[(c * kh + i) * kw + j], i * wp + j
                        for k in range(span):
                            lane[k] += d[k] * f[k + off]
        for c in range(chans):
            for i in range(kh):
                for j in range(kw):
                    dweight[o, c, i, j] += lanes[(c * kh + i) * kw + j].sum(dtype=np.float64)
        dbias[o] += lanes[chans * taps].sum(dtype=np.float64)


def applies(weight, geometry):
    """Whether the direct loops compute this plain conv: any kernel and channel count, at stride 1."""
    return geometry[0] == (1, 1)


def forward(x, weight, bias, geometry, out):
    """Fill ``out`` (N, O, OH, OW) with the convolution of ``x`` (bias (O,) added), chunk by chunk on threads;
    ``geometry`` is ``conv.conv_geometry``'s.  Returns the :class:`DirectCache`."""
    (ph, pw) = geometry[1]

    def chunk(sl):
        xp = pad(x[sl], ph, pw)
        (_direct3x3_forward_kernel if weight.shape[2:] == (3, 3) else _direct_forward_kernel)(xp, weight, bias, out[sl])
        return xp
    slices = threads.chunks(x.shape[0])
    return DirectCache(slices, threads.run_parallel(chunk, slices), x.shape, weight, geometry)


def backward(dout, cache):
    """``(dweight, dbias)`` of :func:`forward` for the contiguous output gradient ``dout`` (N, O, OH, OW), by
    the direct loop per chunk (float64 sums, then the weight's dtype)."""
    weight = cache.weight

    def chunk(k):
        dweight, dbias = np.zeros(weight.shape), np.zeros(weight.shape[0])
        _direct_dweight_kernel(cache.xp[k], dout[cache.slices[k]], dweight, dbias)
        return dweight, dbias
    dweight, dbias = threads.sum_parts(threads.run_parallel(chunk, range(len(cache.slices))))
    return dweight.astype(weight.dtype), dbias.astype(weight.dtype)
