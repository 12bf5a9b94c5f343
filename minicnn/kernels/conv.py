"""2-D convolution (cross-correlation, as torch computes it) via im2col / col2im.

Layout.  ``im2col`` turns an input ``x`` of shape ``(N, C, H, W)`` into a matrix
``cols`` of shape ``(C*KH*KW, N*OH*OW)``: row ``(c, i, j)`` is channel ``c`` of
every image shifted by kernel offset ``(i, j)``.  Building the rows is then a
shifted copy of contiguous image rows, and the convolution is one large GEMM::

    out2 = weight.reshape(O, C*KH*KW) @ cols          # (O, N*OH*OW)

which is turned back into NCHW while the bias is added (one pass).  Backward
is the same three matrices read the other ways round::

    dweight = dout2 @ cols.T                          # (O, C*KH*KW)
    dcols   = weight2.T @ dout2                       # (C*KH*KW, N*OH*OW)
    dx      = col2im(dcols)                           # accumulates, see col2im

``conv2d_forward_naive`` / ``conv2d_backward_naive`` below compute the same
thing one output pixel at a time; they are the readable definition and the
tests hold the fast path to them.

For 3x3 stride-1 kernels over 4 or more input channels the plain path uses
Winograd's F(2x2, 3x3) instead (``kernels/winograd.py``: 16 GEMMs over
channels in a transformed domain, 2.25x fewer multiplies, the same column
layout in and out).  ``with conv.algorithm("im2col"):`` keeps the path above
everywhere.

The full torch signature (dilation, groups, 'same'/'valid' and asymmetric
padding, padding modes) takes a second, general path; the plain case
(zero padding, no dilation, one group: every conv of SimpleCNN) branches to
the path above before anything else is done.  The general path:

* pads the input explicitly (``kernels/padding.py``: zeros, reflect,
  replicate, circular) and folds the padded gradient back in backward;
* gathers a *dilated* kernel in im2col: tap ``(i, j)`` reads pixel
  ``(y*SH + i*DH, x*SW + j*DW)``, a strided gather like any other;
* splits the GEMM by group: im2col's rows are ordered ``(c, i, j)``, so group
  ``g``'s input channels are one contiguous block of rows, and
  ``out2[g] = weight2[g] @ cols[g]`` (and likewise in backward).
"""
import contextlib
import threading
from collections import namedtuple

import numpy as np
from numba import njit

from .. import threads
from . import winograd
from .checks import check_float_array, check_grad, check_same_dtype, is_one, out_size, pair, positive_int, window_count
from .padding import check_padding_mode, pad2d, pad2d_backward, pad2d_backward_naive, pad2d_naive
from .registry import kernel_table


# --------------------------------------------------------------------------- numba kernels
# Both kernels work on the zero-padded input, so the inner loops need no bounds
# checks; with stride 1 the inner loop is a contiguous run of OW values.  (Plain
# index loops: slicing views per row costs numba more than the copy itself.)
@njit(cache=True, nogil=True)
def _im2col_kernel(xp, kh, kw, sh, sw, oh, ow, cols):
    n_img, chans = xp.shape[0], xp.shape[1]
    area = oh * ow
    for n in range(n_img):
        for c in range(chans):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    for y in range(oh):
                        dst = n * area + y * ow
                        src, out = xp[n, c, i + y * sh], cols[row, dst:dst + ow]
                        # a literal stride lets LLVM vectorise the strided reads (stride 2: ResNet's
                        # downsampling convs)
                        if sw == 1:
                            for xo in range(ow):
                                out[xo] = src[j + xo]
                        elif sw == 2:
                            for xo in range(ow):
                                out[xo] = src[j + 2 * xo]
                        else:
                            for xo in range(ow):
                                out[xo] = src[j + xo * sw]


@njit(cache=True, nogil=True)
def _col2im_kernel(cols, kh, kw, sh, sw, oh, ow, dxp):
    n_img, chans = dxp.shape[0], dxp.shape[1]
    area = oh * ow
    for n in range(n_img):
        for c in range(chans):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    for y in range(oh):
                        src = n * area + y * ow
                        dst, g = dxp[n, c, i + y * sh], cols[row, src:src + ow]
                        # += : overlapping windows send gradient to the same pixel
                        if sw == 1:
                            for xo in range(ow):
                                dst[j + xo] += g[xo]
                        elif sw == 2:
                            for xo in range(ow):
                                dst[j + 2 * xo] += g[xo]
                        else:
                            for xo in range(ow):
                                dst[j + xo * sw] += g[xo]


# The general path's pair: a dilated kernel reads tap (i, j) at offset (i*DH, j*DW) of its window.
@njit(cache=True, nogil=True)
def _im2col_dilated_kernel(xp, kh, kw, sh, sw, dh, dw, oh, ow, cols):
    n_img, chans = xp.shape[0], xp.shape[1]
    area = oh * ow
    for n in range(n_img):
        for c in range(chans):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    for y in range(oh):
                        iy, dst = i * dh + y * sh, n * area + y * ow
                        for xo in range(ow):
                            cols[row, dst + xo] = xp[n, c, iy, j * dw + xo * sw]


@njit(cache=True, nogil=True)
def _col2im_dilated_kernel(cols, kh, kw, sh, sw, dh, dw, oh, ow, dxp):
    n_img, chans = dxp.shape[0], dxp.shape[1]
    area = oh * ow
    for n in range(n_img):
        for c in range(chans):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    for y in range(oh):
                        iy, src = i * dh + y * sh, n * area + y * ow
                        for xo in range(ow):  # += : windows (and taps) may share a pixel
                            dxp[n, c, iy, j * dw + xo * sw] += cols[row, src + xo]

def _pad(x, ph, pw):
    """Zero-padded contiguous copy of ``x`` (N, C, H, W); ``x`` itself when there is no padding."""
    if ph == 0 and pw == 0:
        return np.ascontiguousarray(x)
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    return xp


def _unpad(xp, ph, pw):
    h, w = xp.shape[2] - 2 * ph, xp.shape[3] - 2 * pw
    return xp if ph == 0 and pw == 0 else xp[:, :, ph:ph + h, pw:pw + w].copy()


@njit(cache=True, nogil=True)
def _cols_to_nchw(out2, bias, out):
    """``out[n, o, l] = out2[o, n*L + l] + bias[o]`` for ``out`` of shape (N, O, L)."""
    n_img, n_out, area = out.shape
    for n in range(n_img):
        for o in range(n_out):
            b = bias[o]
            src = n * area
            for l in range(area):
                out[n, o, l] = out2[o, src + l] + b


@njit(cache=True, nogil=True)
def _nchw_to_cols(dout, dout2, dbias):
    """Inverse layout change of ``_cols_to_nchw``; also ``dbias[o] = sum over n, l``."""
    n_img, n_out, area = dout.shape
    for o in range(n_out):
        acc = 0.0  # float64 accumulator: a float32 running sum over N*L terms drifts
        for n in range(n_img):
            dst = n * area
            for l in range(area):
                v = dout[n, o, l]
                dout2[o, dst + l] = v
                acc += v
        dbias[o] = acc


# The "direct" pair: for a stride-1 kernel over 1 to 3 input channels, im2col's GEMM has K = C*KH*KW
# (9..27 for 3x3, 25..75 for 5x5), which no BLAS runs well, and the im2col copy is KH*KW times the input.
# These loops do the same FLOPs straight from the padded input (3x3 unrolled by hand, other sizes by
# a loop over the taps).  They index output pixel (y, x) as k = y*WP + x, WP the padded input's width:
# then tap (i, j) reads input k + i*WP + j for every k, one long vectorised loop per plane instead of
# OH short ones (the WP - OW columns past the row end are computed and dropped, or read as zeros).
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


# --------------------------------------------------------------------------- checks
def _conv_geometry(x, weight, bias, stride, padding, op="conv2d"):
    """The plain path's checks; ``op`` names the caller in a refusal (the fused op uses its own name)."""
    check_float_array(f"{op} input", x, 4)
    check_float_array(f"{op} weight", weight, 4)
    if bias is not None:
        check_float_array(f"{op} bias", bias, 1)
    check_same_dtype(op, x, weight, bias)
    n_out, c_in, kh, kw = weight.shape
    if min(weight.shape) < 1:
        raise ValueError(f"{op}: expected a non-empty weight, got shape {weight.shape}")
    if x.shape[1] != c_in:
        raise ValueError(f"{op}: expected input with {c_in} channels (weight {weight.shape}), "
                         f"got input of shape {x.shape}")
    if bias is not None and bias.shape != (n_out,):
        raise ValueError(f"{op}: expected bias of shape ({n_out},), got {bias.shape}")
    sh, sw = pair(f"{op} stride", stride, 1)
    ph, pw = pair(f"{op} padding", padding, 0)
    oh = out_size(f"{op} height", x.shape[2], kh, sh, ph)
    ow = out_size(f"{op} width", x.shape[3], kw, sw, pw)
    return (sh, sw), (ph, pw), (oh, ow)



ConvSetup = namedtuple("ConvSetup", "stride dilation pads groups mode out_hw")
ConvSetup.__doc__ = "The general path's checked geometry; ``pads`` is (top, bottom, left, right)."


def conv_padding(padding, kernel, dilation, stride, op="conv2d"):
    """``padding`` as (top, bottom, left, right): an int, a pair, ``'valid'`` or ``'same'``.

    ``'same'`` pads ``dilation * (kernel - 1)`` in all, half before and the odd one
    after (torch's rule for an even kernel), and needs stride 1, as in torch.
    ``op`` names the caller in a refusal (``Conv2d``, ``Conv2dReLUMaxPool2d``).
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions, "
                                 f"got stride={stride}")
            th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        raise ValueError(f"{op} padding: expected 'valid', 'same', an int or a pair of ints, got {padding!r}")
    ph, pw = pair(f"{op} padding", padding, 0)
    return (ph, ph, pw, pw)


def _conv_setup(x, weight, bias, stride, padding, dilation, groups, padding_mode):
    """Every check of the general path, before any numba kernel runs; returns a :class:`ConvSetup`."""
    check_float_array("conv2d input", x, 4)
    check_float_array("conv2d weight", weight, 4)
    if bias is not None:
        check_float_array("conv2d bias", bias, 1)
    check_same_dtype("conv2d", x, weight, bias)
    groups = positive_int("conv2d groups", groups)
    n_out, c_group, kh, kw = weight.shape
    if min(weight.shape) < 1:
        raise ValueError(f"conv2d: expected a non-empty weight, got shape {weight.shape}")
    if n_out % groups:
        raise ValueError(f"conv2d: expected out_channels {n_out} (weight {weight.shape}) divisible by "
                         f"groups={groups}")
    if x.shape[1] != c_group * groups:
        raise ValueError(f"conv2d: expected input with {c_group * groups} channels (weight {weight.shape}, "
                         f"groups={groups}), got input of shape {x.shape}")
    if bias is not None and bias.shape != (n_out,):
        raise ValueError(f"conv2d: expected bias of shape ({n_out},), got {bias.shape}")
    stride = pair("conv2d stride", stride, 1)
    dilation = pair("conv2d dilation", dilation, 1)
    pads = conv_padding(padding, (kh, kw), dilation, stride)
    check_padding_mode("conv2d", padding_mode, pads, x.shape[2:])
    oh = window_count("conv2d height", x.shape[2], pads[0], pads[1], kh, stride[0], dilation[0])
    ow = window_count("conv2d width", x.shape[3], pads[2], pads[3], kw, stride[1], dilation[1])
    return ConvSetup(stride, dilation, pads, groups, padding_mode, (oh, ow))


def _is_plain(padding, dilation, groups, padding_mode):
    """The common case, decided without a check: the fast path above takes it as it always did."""
    return (not isinstance(padding, str) and is_one(dilation) and type(groups) is int and groups == 1
            and isinstance(padding_mode, str) and padding_mode == "zeros")


def _group_blocks(weight, groups, rows_per_channel):
    """Per group, its output channels and its block of input rows (``KH*KW`` rows per channel in im2col's
    ``cols``, 1 in an NCHW array): ``[(out_slice, in_slice), ...]``."""
    og, cg = weight.shape[0] // groups, weight.shape[1] * rows_per_channel
    return [(slice(g * og, (g + 1) * og), slice(g * cg, (g + 1) * cg)) for g in range(groups)]

# --------------------------------------------------------------------------- im2col / col2im
def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """Unfold sliding windows of ``x`` into columns.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64
    kernel_size, stride, padding, dilation : int or (int, int)

    Returns
    -------
    cols : ndarray, shape (C*KH*KW, N*OH*OW), dtype of ``x``
        Row ``(c*KH + i)*KW + j``, column ``n*OH*OW + oh*OW + ow`` holds
        ``x_padded[n, c, oh*SH + i*DH, ow*SW + j*DW]`` (zero padding).
    """
    if not is_one(dilation):
        return _im2col_dilated(x, kernel_size, stride, padding, dilation)
    check_float_array("im2col input", x, 4)
    kh, kw = pair("im2col kernel_size", kernel_size, 1)
    sh, sw = pair("im2col stride", stride, 1)
    ph, pw = pair("im2col padding", padding, 0)
    oh = out_size("im2col height", x.shape[2], kh, sh, ph)
    ow = out_size("im2col width", x.shape[3], kw, sw, pw)
    n, c = x.shape[:2]
    cols = np.empty((c * kh * kw, n * oh * ow), dtype=x.dtype)
    _im2col_kernel(_pad(x, ph, pw), kh, kw, sh, sw, oh, ow, cols)
    return cols


def _im2col_dilated(x, kernel_size, stride, padding, dilation):
    check_float_array("im2col input", x, 4)
    kh, kw = pair("im2col kernel_size", kernel_size, 1)
    sh, sw = pair("im2col stride", stride, 1)
    ph, pw = pair("im2col padding", padding, 0)
    dh, dw = pair("im2col dilation", dilation, 1)
    oh = window_count("im2col height", x.shape[2], ph, ph, kh, sh, dh)
    ow = window_count("im2col width", x.shape[3], pw, pw, kw, sw, dw)
    cols = np.empty((x.shape[1] * kh * kw, x.shape[0] * oh * ow), dtype=x.dtype)
    _im2col_dilated_kernel(_pad(x, ph, pw), kh, kw, sh, sw, dh, dw, oh, ow, cols)
    return cols


def col2im(cols, x_shape, kernel_size, stride=1, padding=0, dilation=1):
    """Fold columns back into an image, the adjoint of :func:`im2col`.

    Every entry of ``cols`` is *added* to the input pixel it was copied from, so
    pixels covered by several windows receive the sum: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩.

    Parameters
    ----------
    cols : ndarray, shape (C*KH*KW, N*OH*OW)
    x_shape : tuple (N, C, H, W)
    kernel_size, stride, padding, dilation : int or (int, int)

    Returns
    -------
    x : ndarray, shape ``x_shape``, dtype of ``cols``
    """
    check_float_array("col2im cols", cols, 2)
    if len(x_shape) != 4:
        raise ValueError(f"col2im: expected x_shape (N, C, H, W), got {x_shape}")
    n, c, h, w = (int(v) for v in x_shape)
    kh, kw = pair("col2im kernel_size", kernel_size, 1)
    sh, sw = pair("col2im stride", stride, 1)
    ph, pw = pair("col2im padding", padding, 0)
    dh, dw = pair("col2im dilation", dilation, 1)
    oh = window_count("col2im height", h, ph, ph, kh, sh, dh)
    ow = window_count("col2im width", w, pw, pw, kw, sw, dw)
    if cols.shape != (c * kh * kw, n * oh * ow):
        raise ValueError(f"col2im: expected cols of shape {(c * kh * kw, n * oh * ow)}, got {cols.shape}")
    dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    if (dh, dw) == (1, 1):
        _col2im_kernel(np.ascontiguousarray(cols), kh, kw, sh, sw, oh, ow, dxp)
    else:
        _col2im_dilated_kernel(np.ascontiguousarray(cols), kh, kw, sh, sw, dh, dw, oh, ow, dxp)
    return _unpad(dxp, ph, pw)


# --------------------------------------------------------------------------- fast conv
# Which algorithm the plain path uses.  "im2col" is the one to read first (above); "winograd"
# (kernels/winograd.py) does 2.25x fewer multiplies for 3x3 stride-1 kernels; "direct" loops over
# output rows for stride-1 kernels (no GEMM).  "auto" takes Winograd where it applies and pays
# (at least WINOGRAD_MIN_CHANNELS input channels: with one its 16 GEMMs have K = 1), the direct loop
# for stride-1 kernels over at most DIRECT_MAX_CHANNELS whose im2col GEMM would have K = C*KH*KW <=
# DIRECT_MAX_K (3x3 over 1 to 3 channels, LeNet's 5x5 over one), im2col everywhere else.  The fused
# conv -> ReLU -> pool block (kernels/fused.py) runs one input channel as Winograd without GEMMs.
ALGORITHMS = ("auto", "im2col", "winograd", "direct")
# algorithm() and no_cache() are per thread, like no_grad: the lab infers on one thread while it trains on
# another.  Both are read on the thread that calls a kernel, before any chunk goes to the pool.
_choice = threading.local()
_cache_mode = threading.local()
WINOGRAD_MIN_CHANNELS = 4
DIRECT_MAX_CHANNELS, DIRECT_MAX_K = 3, 27  # "auto": the direct loop for stride-1 kernels over C <= 3, C*KH*KW <= 27

_Chunk = namedtuple("_Chunk", "x_shape weight saved geometry u")
_Chunk.__doc__ = ("One batch chunk's cache: ``saved`` is im2col's panels, or Winograd's transformed input "
                  "``V`` (each a list, block by block) when ``u`` (the transformed weight) is not None.")


@contextlib.contextmanager
def algorithm(name):
    """Run the plain conv path with ``"im2col"``, ``"winograd"`` (where it applies) or ``"auto"`` in the block.

    >>> with algorithm("im2col"):          # the readable path, e.g. to compare speed or rounding
    ...     out, cache = conv2d_forward(x, w, b, 1, 1)
    """
    if name not in ALGORITHMS:
        raise ValueError(f"conv algorithm: expected one of {ALGORITHMS}, got {name!r}")
    previous, _choice.name = _algorithm(), name
    try:
        yield
    finally:
        _choice.name = previous


def _algorithm():
    """This thread's choice: ``"auto"`` unless inside :func:`algorithm`."""
    return getattr(_choice, "name", "auto")


@contextlib.contextmanager
def no_cache():
    """Inside the block the conv kernels keep nothing for a backward pass, and the cache they return cannot
    be used for one: Winograd's transformed input and im2col's panels go through one block-sized workspace
    per chunk, which stays in cache.  The ops run their kernels so when no backward can follow (under
    ``no_grad``, or when no input requires grad): inference.
    """
    previous, _cache_mode.keep = _keep_cache(), False
    try:
        yield
    finally:
        _cache_mode.keep = previous


def _keep_cache():
    return getattr(_cache_mode, "keep", True)


def _use_winograd(weight, geometry, min_channels=WINOGRAD_MIN_CHANNELS):
    """Whether the plain path takes Winograd; ``min_channels`` applies under "auto" (the fused block runs
    one input channel its own way, from 1)."""
    choice = _algorithm()
    if geometry[0] != (1, 1) or weight.shape[2:] != (3, 3) or choice == "im2col":
        return False
    return choice == "winograd" or weight.shape[1] >= min_channels


def _use_direct(weight, geometry):
    choice = _algorithm()
    if geometry[0] != (1, 1) or choice in ("im2col", "winograd"):
        return False
    return choice == "direct" or (weight.shape[1] <= DIRECT_MAX_CHANNELS and weight[0].size <= DIRECT_MAX_K)


_Direct = namedtuple("_Direct", "slices xp weight geometry")
_Direct.__doc__ = "The direct path's cache: each chunk's zero-padded input."


def _direct_forward(x, weight, b, geometry, out):
    (ph, pw) = geometry[1]

    def chunk(sl):
        xp = _pad(x[sl], ph, pw)
        (_direct3x3_forward_kernel if weight.shape[2:] == (3, 3) else _direct_forward_kernel)(xp, weight, b, out[sl])
        return xp
    slices = threads.chunks(x.shape[0])
    return _Direct(slices, threads.run_parallel(chunk, slices), weight, geometry)


def _direct_backward(dout, cache, need_input_grad):
    """dweight and dbias by the direct loop; dx (when asked) as im2col's: W^T dout, then col2im."""
    weight, (n_out, chans), (ph, pw) = cache.weight, cache.weight.shape[:2], cache.geometry[1]
    hp, wp = cache.xp[0].shape[2:]
    dx = np.empty((cache.slices[-1].stop, chans, hp - 2 * ph, wp - 2 * pw), dtype=weight.dtype) \
        if need_input_grad else None

    def chunk(k):
        sl, xp = cache.slices[k], cache.xp[k]
        dweight, dbias = np.zeros(weight.shape), np.zeros(n_out)
        _direct_dweight_kernel(xp, dout[sl], dweight, dbias)
        if need_input_grad:
            dout2 = np.empty((n_out, (sl.stop - sl.start) * dout[0, 0].size), dtype=weight.dtype)
            _nchw_to_cols(dout[sl].reshape(sl.stop - sl.start, n_out, -1), dout2, np.empty(n_out, dtype=weight.dtype))
            _col2im_dx(dout2, weight, cache.geometry, dx[sl])
        return dweight, dbias
    dweight, dbias = threads.sum_parts(threads.run_parallel(chunk, range(len(cache.slices))))
    return dx, dweight.astype(weight.dtype), dbias.astype(weight.dtype)


# im2col's panel for a block of a few images stays in L2 from the kernel that writes it to the GEMM that
# reads it (and in backward, each block's dcols from its GEMM to col2im); a whole chunk's panel (3.6 MB
# for 32 images of ResNet's first strided conv) would go through memory both ways.
COLS_BLOCK_BYTES = 1 << 19


def _image_blocks(n_img, geometry, weight):
    """Blocks of images whose im2col panel (C*KH*KW, images*OH*OW) is about COLS_BLOCK_BYTES, as
    ``(image slice, column slice)`` pairs."""
    area = geometry[2][0] * geometry[2][1]
    per_image = max(1, weight[0].size * area * weight.itemsize)
    size = max(1, min(n_img, COLS_BLOCK_BYTES // per_image))
    return [(slice(a, min(n_img, a + size)), slice(a * area, min(n_img, a + size) * area))
            for a in range(0, n_img, size)] or [(slice(0, 0), slice(0, 0))]


def _col2im_dx(dout2, weight, geometry, dx_out):
    """``dx_out`` (N, C, H, W) = col2im(weight2^T @ dout2): the input gradient of im2col's GEMM, a block
    of images at a time."""
    (sh, sw), (ph, pw), (oh, ow) = geometry
    w2t = weight.reshape(weight.shape[0], -1).T
    n, c, h, w = dx_out.shape
    dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=dout2.dtype)
    for images, columns in _image_blocks(n, geometry, weight):
        _col2im_kernel(w2t @ dout2[:, columns], weight.shape[2], weight.shape[3], sh, sw, oh, ow, dxp[images])
    dx_out[...] = dxp[:, :, ph:ph + h, pw:pw + w]


def _gemm_forward(x, weight, geometry, keep=True):
    """im2col + GEMM for one chunk of the batch, a block of images at a time; ``geometry`` is
    :func:`_conv_geometry`'s (checked) result.

    Returns ``out2`` (O, N*OH*OW) in column layout, no bias, and the chunk's cache (``saved``: the
    blocks' im2col panels; None when not ``keep``, and then one panel's memory serves every block).
    """
    (sh, sw), (ph, pw), (oh, ow) = geometry
    w2, xp = weight.reshape(weight.shape[0], -1), _pad(x, ph, pw)
    out2 = np.empty((w2.shape[0], x.shape[0] * oh * ow), dtype=x.dtype)
    cols, blocks = [], _image_blocks(x.shape[0], geometry, weight)
    space = None if keep else np.empty(w2.shape[1] * (blocks[0][1].stop - blocks[0][1].start), dtype=x.dtype)
    for images, columns in blocks:
        shape = (w2.shape[1], columns.stop - columns.start)
        panel = np.empty(shape, dtype=x.dtype) if keep else space[:shape[0] * shape[1]].reshape(shape)
        _im2col_kernel(xp[images], weight.shape[2], weight.shape[3], sh, sw, oh, ow, panel)
        np.matmul(w2, panel, out=out2[:, columns])
        if keep:
            cols.append(panel)
    return out2, _Chunk(x.shape, weight, cols if keep else None, geometry, None)


def _gemm_backward(dout2, cache, dx_out):
    """Backward of :func:`_gemm_forward` from ``dout2`` (O, N*OH*OW).

    Writes d loss / d x into ``dx_out`` (N, C, H, W) unless it is None; returns ``dweight``.
    """
    x_shape, weight, cols, geometry, _ = cache
    dweight = np.zeros((weight.shape[0], weight[0].size), dtype=weight.dtype)
    for (_, columns), panel in zip(_image_blocks(x_shape[0], geometry, weight), cols):
        dweight += dout2[:, columns] @ panel.T
    if dx_out is not None:
        _col2im_dx(dout2, weight, geometry, dx_out)
    return dweight.reshape(weight.shape)


def _within(chunk, block):
    """The images ``block`` (a slice of ``chunk``'s images) as a slice of the batch."""
    return slice(chunk.start + block.start, chunk.start + block.stop)


def conv_forward_chunks(x, weight, geometry, finish, finish_winograd):
    """Run the convolution's GEMM half per batch chunk, each on its own thread (see :mod:`minicnn.threads`).

    On the im2col path ``finish(slice, out2)`` turns a chunk's column-layout output
    (O, N*OH*OW) into the layer's output; on the Winograd path
    ``finish_winograd(slice, m)`` does the same for a block of a few images from
    their transformed-domain product ``m`` (16, O, T) (``winograd.output`` for a
    plain conv).  Each writes only its slice.  Returns the cache for
    :func:`conv_backward_chunks`.
    """
    u = winograd.weight_transform(weight) if _use_winograd(weight, geometry) else None
    keep = _keep_cache()  # read here, on the calling thread (the pool's threads have their own)

    def chunk(sl):
        if u is None:
            out2, cache = _gemm_forward(x[sl], weight, geometry, keep)
            finish(sl, out2)
            return cache
        v = winograd.forward(x[sl], u, geometry[1], geometry[2], lambda b, m: finish_winograd(_within(sl, b), m),
                             keep)
        return _Chunk(x[sl].shape, weight, v, geometry, u)
    slices = threads.chunks(x.shape[0])
    return slices, threads.run_parallel(chunk, slices)


def conv_backward_chunks(chunk_cache, need_input_grad, dout2_of, dm_of):
    """The backward of :func:`conv_forward_chunks`, chunk by chunk on the same threads.

    ``dout2_of(slice) -> (dout2, dbias)`` builds a chunk's column-layout output
    gradient for the im2col path; on the Winograd path ``dm_of(slice, dm, dbias)``
    fills ``dm`` with a block's transformed-domain one and adds its bias gradient
    to ``dbias`` (float64).  Returns ``(dx or None, dweight,
    dbias)``, weight and bias gradients summed over chunks in order.
    """
    slices, caches = chunk_cache
    if caches[0].saved is None:
        raise RuntimeError("conv2d backward: the forward ran under kernels.conv.no_cache() and kept nothing "
                           "for a backward pass")
    x_shape, dtype = caches[0].x_shape, caches[0].weight.dtype
    n_img = slices[-1].stop
    dx = np.empty((n_img,) + x_shape[1:], dtype=dtype) if need_input_grad else None

    def chunk(k):
        cache, dx_k = caches[k], None if dx is None else dx[slices[k]]
        if cache.u is None:
            dout2, dbias = dout2_of(slices[k])
            return _gemm_backward(dout2, cache, dx_k), dbias
        sl = slices[k]
        return winograd.backward(lambda b, dm, dbias: dm_of(_within(sl, b), dm, dbias), cache.u, cache.saved,
                                 cache.geometry[1], cache.geometry[2], dx_k, sl.stop - sl.start)
    dweight, dbias = threads.sum_parts(threads.run_parallel(chunk, range(len(slices))))
    return dx, dweight, dbias


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """Convolution forward pass, as ``torch.nn.functional.conv2d`` (and ``nn.Conv2d``'s ``padding_mode``).

    The plain case (zero padding given as int or pair, no dilation, one group)
    splits the batch by :func:`conv_forward_chunks`, each chunk run end to end
    (im2col, GEMM, bias + layout change) on its own thread.  Anything else takes
    the general path (explicit padding, dilated im2col, one GEMM per group).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    weight : ndarray, shape (O, C / groups, KH, KW)
    bias : ndarray, shape (O,), or None
    stride : int or (int, int)
    padding : int, (int, int), ``'valid'`` or ``'same'`` (stride 1 only; an even total goes half before, the
        odd pixel after, as torch)
    dilation : int or (int, int), spacing of the kernel's taps
    groups : int dividing C and O; group g convolves input channels ``g*C/groups ...`` into outputs ``g*O/groups ...``
    padding_mode : ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``

    Returns
    -------
    out : ndarray, shape (N, O, OH, OW), dtype of ``x``,
        ``OH = (H + pad_top + pad_bottom - DH*(KH-1) - 1) // SH + 1``
    cache : what :func:`conv2d_backward` needs
    """
    if not _is_plain(padding, dilation, groups, padding_mode):
        return _conv2d_forward_general(x, weight, bias, stride, padding, dilation, groups, padding_mode)
    geometry = _conv_geometry(x, weight, bias, stride, padding)
    (oh, ow), n_out = geometry[2], weight.shape[0]
    out = np.empty((x.shape[0], n_out, oh, ow), dtype=x.dtype)
    b = bias if bias is not None else np.zeros(n_out, dtype=x.dtype)
    if _use_direct(weight, geometry):
        return out, (_direct_forward(x, weight, b, geometry, out), out.shape, x.dtype, bias is not None)
    flat = out.reshape(x.shape[0], n_out, oh * ow)
    chunk_cache = conv_forward_chunks(x, weight, geometry, lambda sl, out2: _cols_to_nchw(out2, b, flat[sl]),
                                      lambda sl, m: winograd.output(m, b, out[sl]))
    return out, (chunk_cache, out.shape, x.dtype, bias is not None)


def conv2d_backward(dout, cache, need_input_grad=True):
    """Convolution backward pass.

    Parameters
    ----------
    dout : ndarray, shape (N, O, OH, OW), upstream gradient (not modified)
    cache : the cache returned by :func:`conv2d_forward`
    need_input_grad : bool
        False skips ``dx`` (the network's first layer needs no input gradient).

    Returns
    -------
    dx : ndarray, shape (N, C, H, W), or None
    dweight : ndarray, shape (O, C / groups, KH, KW)
    dbias : ndarray, shape (O,), or None when the forward had no bias
    """
    if isinstance(cache, _GeneralCache):
        return _conv2d_backward_general(dout, cache, need_input_grad)
    chunk_cache, out_shape, dtype, has_bias = cache
    check_grad("conv2d backward", dout, out_shape, dtype)
    dout = np.ascontiguousarray(dout)
    if isinstance(chunk_cache, _Direct):
        dx, dweight, dbias = _direct_backward(dout, chunk_cache, need_input_grad)
        return dx, dweight, (dbias if has_bias else None)
    flat = dout.reshape(out_shape[0], out_shape[1], -1)

    def dout2_of(sl):
        dout2 = np.empty((out_shape[1], (sl.stop - sl.start) * flat.shape[2]), dtype=dtype)
        dbias = np.empty(out_shape[1], dtype=dtype)
        _nchw_to_cols(flat[sl], dout2, dbias)
        return dout2, dbias
    dx, dweight, dbias = conv_backward_chunks(chunk_cache, need_input_grad, dout2_of,
                                              lambda sl, dm, db: winograd.output_gradient(dout[sl], dm, db))
    return dx, dweight, (dbias if has_bias else None)



# --------------------------------------------------------------------------- general conv
_GeneralCache = namedtuple("_GeneralCache", "x_shape weight cols setup has_bias")


def _conv2d_forward_general(x, weight, bias, stride, padding, dilation, groups, padding_mode):
    """:func:`conv2d_forward` for dilation, groups, 'same'/'valid' or asymmetric padding and padding modes."""
    setup = _conv_setup(x, weight, bias, stride, padding, dilation, groups, padding_mode)
    pt, pb, pl, pr = setup.pads
    if (setup.dilation == (1, 1) and setup.groups == 1 and pt == pb and pl == pr
            and (setup.mode == "zeros" or max(setup.pads) == 0)):
        return conv2d_forward(x, weight, bias, setup.stride, (pt, pl))  # e.g. 'same' with an odd kernel
    (sh, sw), (dh, dw), (oh, ow) = setup.stride, setup.dilation, setup.out_hw
    n, n_out, kh, kw = x.shape[0], weight.shape[0], weight.shape[2], weight.shape[3]
    xp = pad2d(x, setup.pads, setup.mode)
    cols = np.empty((x.shape[1] * kh * kw, n * oh * ow), dtype=x.dtype)
    _im2col_dilated_kernel(xp, kh, kw, sh, sw, dh, dw, oh, ow, cols)
    weight2 = weight.reshape(n_out, -1)
    out2 = np.empty((n_out, n * oh * ow), dtype=x.dtype)
    for outs, rows in _group_blocks(weight, setup.groups, kh * kw):
        np.matmul(weight2[outs], cols[rows], out=out2[outs])
    out = np.empty((n, n_out, oh * ow), dtype=x.dtype)
    _cols_to_nchw(out2, bias if bias is not None else np.zeros(n_out, dtype=x.dtype), out)
    return out.reshape(n, n_out, oh, ow), _GeneralCache(x.shape, weight, cols, setup, bias is not None)


def _conv2d_backward_general(dout, cache, need_input_grad):
    """:func:`conv2d_backward` of :func:`_conv2d_forward_general`: the GEMMs per group, dilated col2im,
    then the padding's gradient folded back (``padding.pad2d_backward``)."""
    x_shape, weight, cols, setup, has_bias = cache
    (sh, sw), (dh, dw), (oh, ow) = setup.stride, setup.dilation, setup.out_hw
    n, n_out, kh, kw = x_shape[0], weight.shape[0], weight.shape[2], weight.shape[3]
    check_grad("conv2d backward", dout, (n, n_out, oh, ow), cols.dtype)
    dout2 = np.empty((n_out, n * oh * ow), dtype=cols.dtype)
    dbias = np.empty(n_out, dtype=cols.dtype)
    _nchw_to_cols(np.ascontiguousarray(dout).reshape(n, n_out, -1), dout2, dbias)
    weight2 = weight.reshape(n_out, -1)
    dweight2 = np.empty(weight2.shape, dtype=cols.dtype)
    dcols = np.empty_like(cols) if need_input_grad else None
    for outs, rows in _group_blocks(weight, setup.groups, kh * kw):
        np.matmul(dout2[outs], cols[rows].T, out=dweight2[outs])
        if dcols is not None:
            np.matmul(weight2[outs].T, dout2[outs], out=dcols[rows])
    dx = None
    if need_input_grad:
        pt, pb, pl, pr = setup.pads
        dxp = np.zeros((n, x_shape[1], x_shape[2] + pt + pb, x_shape[3] + pl + pr), dtype=cols.dtype)
        _col2im_dilated_kernel(dcols, kh, kw, sh, sw, dh, dw, oh, ow, dxp)
        dx = pad2d_backward(dxp, setup.pads, setup.mode)
    return dx, dweight2.reshape(weight.shape), (dbias if has_bias else None)

# --------------------------------------------------------------------------- naive reference
def conv2d_forward_naive(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """Convolution forward, one output pixel (and one group) at a time: the definition.

    ``out[n, o, y, x] = bias[o] + sum_{c,i,j} weight[o, c, i, j] * xpad[n, g*C/groups + c, y*SH + i*DH, x*SW + j*DW]``
    for output channel ``o`` of group ``g``; ``xpad`` is the input padded in ``padding_mode``.

    Arguments and return value as :func:`conv2d_forward`; the cache is ``(x, weight, setup, has_bias)``.
    """
    setup = _conv_setup(x, weight, bias, stride, padding, dilation, groups, padding_mode)
    xp = pad2d_naive(x, setup.pads, setup.mode)
    (oh, ow) = setup.out_hw
    out = np.zeros((x.shape[0], weight.shape[0], oh, ow), dtype=x.dtype)
    for outs, chans in _group_blocks(weight, setup.groups, 1):
        for y in range(oh):
            for xo in range(ow):
                patch = xp[_window(chans, y, xo, weight.shape, setup)]             # (N, C/groups, KH, KW)
                out[:, outs, y, xo] = np.tensordot(patch, weight[outs], axes=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        out += bias[None, :, None, None]
    return out, (x, weight, setup, bias is not None)


def _window(chans, y, xo, weight_shape, setup):
    """The index of output pixel (y, xo)'s input patch in the padded input: every DH-th row from y*SH."""
    (sh, sw), (dh, dw), (kh, kw) = setup.stride, setup.dilation, weight_shape[2:]
    return (slice(None), chans, slice(y * sh, y * sh + dh * (kh - 1) + 1, dh),
            slice(xo * sw, xo * sw + dw * (kw - 1) + 1, dw))


def conv2d_backward_naive(dout, cache, need_input_grad=True):
    """Convolution backward, one output pixel at a time.

    Each output pixel ``out[:, o, y, x]`` came from one input patch, so its
    gradient ``dout[:, o, y, x]`` flows to that patch through ``weight`` and to
    ``weight`` through that patch; overlapping patches add up.  The padded
    input's gradient is then folded back through the padding (a pixel copied
    into the padding receives that copy's gradient too).

    Parameters and return value as :func:`conv2d_backward`.
    """
    x, weight, setup, has_bias = cache
    oh, ow = setup.out_hw
    check_grad("conv2d backward", dout, (x.shape[0], weight.shape[0], oh, ow), x.dtype)
    xp = pad2d_naive(x, setup.pads, setup.mode)
    dxp = np.zeros_like(xp)
    dweight = np.zeros_like(weight)
    for outs, chans in _group_blocks(weight, setup.groups, 1):
        for y in range(oh):
            for xo in range(ow):
                window = _window(chans, y, xo, weight.shape, setup)
                d = dout[:, outs, y, xo]                                             # (N, O/groups)
                dweight[outs] += np.tensordot(d, xp[window], axes=([0], [0]))        # (O/groups, C/groups, KH, KW)
                dxp[window] += np.tensordot(d, weight[outs], axes=([1], [0]))        # (N, C/groups, KH, KW)
    dx = pad2d_backward_naive(dxp, setup.pads, setup.mode) if need_input_grad else None
    # the bias gradient sums N*OH*OW terms: accumulate in float64, as the fast kernel does, so that
    # a float32 sum with cancellation does not make the reference the less accurate of the two
    dbias = dout.sum(axis=(0, 2, 3), dtype=np.float64).astype(dout.dtype) if has_bias else None
    return dx, dweight, dbias


def im2col_naive(x, kernel_size, stride=1, padding=0, dilation=1):
    """:func:`im2col` by slicing the padded input, one kernel offset at a time."""
    kh, kw = pair("im2col kernel_size", kernel_size, 1)
    sh, sw = pair("im2col stride", stride, 1)
    ph, pw = pair("im2col padding", padding, 0)
    dh, dw = pair("im2col dilation", dilation, 1)
    n, c, h, w = x.shape
    oh = window_count("im2col height", h, ph, ph, kh, sh, dh)
    ow = window_count("im2col width", w, pw, pw, kw, sw, dw)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            shifted = xp[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
            cols[:, i, j] = shifted.transpose(1, 0, 2, 3)                       # (C, N, OH, OW)
    return cols.reshape(c * kh * kw, n * oh * ow)


# this file's ops, by torch's names (kernels/registry.py)
KERNELS = kernel_table(globals(), "conv2d")
