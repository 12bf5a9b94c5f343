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

This file reads top to bottom as that teaching path: the entry points
(``conv2d_forward``, ``conv2d_backward``), the naive twin, ``im2col`` /
``col2im`` and their kernels, then the choice of algorithm and the im2col +
GEMM path itself, run per batch chunk (one chunk per thread, each chunk a few
images at a time so that its im2col panel stays in cache).  The other
algorithms live in their own files, each behind the same small interface --
``applies(...)`` (can it compute this conv?), ``forward(...)``,
``backward(...)``, and a cache documented there:

* ``kernels/winograd.py``: Winograd's F(2x2, 3x3) for 3x3 stride-1 kernels
  (16 GEMMs over channels in a transformed domain, 2.25x fewer multiplies),
  taken over 4 or more input channels;
* ``kernels/conv_direct.py``: direct loops for stride-1 kernels over 1 to 3
  input channels, where im2col's GEMM would have a tiny K = C*KH*KW;
* ``kernels/conv_general.py``: the full torch signature (dilation, groups,
  'same'/'valid' and asymmetric padding, padding modes); the plain case (zero
  padding, no dilation, one group: every conv of SimpleCNN) never goes there;
* ``kernels/conv_layout.py``: what they share (zero padding, the GEMM's
  column layout <-> NCHW with the bias).

``conv2d_forward`` picks the algorithm (:func:`plain_algorithm`) and its cache
names the one that ran (``ConvCache.algorithm``); ``with conv.algorithm("im2col"):``
keeps the path above everywhere.  ``kernels/fused.py`` (conv -> ReLU -> pool)
runs the same chunked GEMM path (:func:`conv_forward_chunks`,
:func:`gemm_forward`, ``winograd.forward``) with its own pooling on the output.
"""
import contextlib
import threading
from collections import namedtuple

import numpy as np
from numba import njit

from .. import threads
from . import conv_direct, conv_general, winograd
from .checks import check_float_array, check_grad, check_same_dtype, is_one, out_size, pair, window_count
from .conv_general import col2im_dilated_kernel, conv_padding, im2col_dilated_kernel  # noqa: F401 (conv_padding: nn/conv.py)
from .conv_layout import cols_to_nchw, nchw_to_cols, pad, unpad
from .padding import pad_nd_backward_naive, pad_nd_naive
from .registry import kernel_table


# --------------------------------------------------------------------------- the entry points
ConvCache = namedtuple("ConvCache", "algorithm state out_shape dtype has_bias")
ConvCache.__doc__ = ("conv2d_forward's cache: ``algorithm`` is the path that ran (\"im2col\", \"winograd\", "
                     "\"direct\" or \"general\"), ``state`` that path's own cache (a :class:`GemmChunks`, a "
                     "``conv_direct.DirectCache`` or a ``conv_general.GeneralCache``).")


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """Convolution forward pass, as ``torch.nn.functional.conv2d`` (and ``nn.Conv2d``'s ``padding_mode``).

    The plain case (zero padding given as int or pair, no dilation, one group)
    splits the batch into chunks, each run end to end (im2col, GEMM, bias +
    layout change; or Winograd, or the direct loop) on its own thread.
    Anything else takes the general path (explicit padding, dilated im2col, one
    GEMM per group).

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
    cache : a :class:`ConvCache`, what :func:`conv2d_backward` needs
    """
    if conv_general.applies(padding, dilation, groups, padding_mode):
        setup = conv_general.conv_setup(x, weight, bias, stride, padding, dilation, groups, padding_mode)
        plain = conv_general.as_plain(setup)
        if plain is None:
            out, state = conv_general.forward(x, weight, bias, setup)
            return out, ConvCache("general", state, out.shape, x.dtype, bias is not None)
        stride, padding = plain  # e.g. 'same' with an odd kernel: the plain path below
    geometry = conv_geometry(x, weight, bias, stride, padding)
    algo = plain_algorithm(weight, geometry, current_algorithm())
    (oh, ow), n_out = geometry.out_hw, weight.shape[0]
    out = np.empty((x.shape[0], n_out, oh, ow), dtype=x.dtype)
    b = bias if bias is not None else np.zeros(n_out, dtype=x.dtype)
    if algo == "direct":
        state = conv_direct.forward(x, weight, b, geometry, out)
    else:
        state = _chunked_forward(x, weight, b, geometry, algo, out)
    return out, ConvCache(algo, state, out.shape, x.dtype, bias is not None)


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
    algo, state, out_shape, dtype, has_bias = cache
    check_grad("conv2d backward", dout, out_shape, dtype)
    dout = np.ascontiguousarray(dout)
    if algo == "general":
        dx, dweight, dbias = conv_general.backward(dout, state, need_input_grad)
    elif algo == "direct":
        dweight, dbias = conv_direct.backward(dout, state)
        dx = _direct_input_gradient(dout, state) if need_input_grad else None
    else:
        dx, dweight, dbias = _chunked_backward(dout, state, need_input_grad)
    return dx, dweight, (dbias if has_bias else None)


# --------------------------------------------------------------------------- naive reference
def conv2d_forward_naive(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """Convolution forward, one output pixel (and one group) at a time: the definition.

    ``out[n, o, y, x] = bias[o] + sum_{c,i,j} weight[o, c, i, j] * xpad[n, g*C/groups + c, y*SH + i*DH, x*SW + j*DW]``
    for output channel ``o`` of group ``g``; ``xpad`` is the input padded in ``padding_mode``.

    Arguments and return value as :func:`conv2d_forward`; the cache is ``(x, weight, setup, has_bias)``
    (``setup``: the full signature's checks, ``conv_general.conv_setup``).
    """
    setup = conv_general.conv_setup(x, weight, bias, stride, padding, dilation, groups, padding_mode)
    xp = pad_nd_naive(x, setup.pads, setup.mode)
    (oh, ow) = setup.out_hw
    out = np.zeros((x.shape[0], weight.shape[0], oh, ow), dtype=x.dtype)
    for outs, chans in conv_general.group_blocks(weight, setup.groups, 1):
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
    xp = pad_nd_naive(x, setup.pads, setup.mode)
    dxp = np.zeros_like(xp)
    dweight = np.zeros_like(weight)
    for outs, chans in conv_general.group_blocks(weight, setup.groups, 1):
        for y in range(oh):
            for xo in range(ow):
                window = _window(chans, y, xo, weight.shape, setup)
                d = dout[:, outs, y, xo]                                             # (N, O/groups)
                dweight[outs] += np.tensordot(d, xp[window], axes=([0], [0]))        # (O/groups, C/groups, KH, KW)
                dxp[window] += np.tensordot(d, weight[outs], axes=([1], [0]))        # (N, C/groups, KH, KW)
    dx = pad_nd_backward_naive(dxp, setup.pads, setup.mode) if need_input_grad else None
    # the bias gradient sums N*OH*OW terms: accumulate in float64, as the fast kernel does, so that
    # a float32 sum with cancellation does not make the reference the less accurate of the two
    dbias = dout.sum(axis=(0, 2, 3), dtype=np.float64).astype(dout.dtype) if has_bias else None
    return dx, dweight, dbias


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
    _im2col_kernel(pad(x, ph, pw), kh, kw, sh, sw, oh, ow, cols)
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
    im2col_dilated_kernel(pad(x, ph, pw), kh, kw, sh, sw, dh, dw, oh, ow, cols)
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
        col2im_dilated_kernel(np.ascontiguousarray(cols), kh, kw, sh, sw, dh, dw, oh, ow, dxp)
    return unpad(dxp, ph, pw)


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


# Both kernels work on the zero-padded input, so the inner loops need no bounds
# checks; with stride 1 the inner loop is a contiguous run of OW values.  (Plain
# index loops: slicing views per row costs numba more than the copy itself.)
# The dilated pair is the general path's (conv_general.py).
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


# --------------------------------------------------------------------------- which algorithm
# Which algorithm the plain path uses.  "im2col" is the one to read first (above); "winograd"
# (kernels/winograd.py) does 2.25x fewer multiplies for 3x3 stride-1 kernels; "direct"
# (kernels/conv_direct.py) loops over output rows for stride-1 kernels (no GEMM).  "auto" takes
# Winograd where it applies and pays (at least WINOGRAD_MIN_CHANNELS input channels: with one its 16
# GEMMs have K = 1), the direct loop for stride-1 kernels over at most DIRECT_MAX_CHANNELS whose im2col
# GEMM would have K = C*KH*KW <= DIRECT_MAX_K (3x3 over 1 to 3 channels, LeNet's 5x5 over one), im2col
# everywhere else.  The fused conv -> ReLU -> pool block (kernels/fused.py) runs one input channel as
# Winograd without GEMMs.
ALGORITHMS = ("auto", "im2col", "winograd", "direct")
# algorithm() and no_cache() are per thread, like no_grad: the lab infers on one thread while it trains on
# another.  Both are read on the thread that calls a kernel, before any chunk goes to the pool.
_choice = threading.local()
_cache_mode = threading.local()
WINOGRAD_MIN_CHANNELS = 4
DIRECT_MAX_CHANNELS, DIRECT_MAX_K = 3, 27  # "auto": the direct loop for stride-1 kernels over C <= 3, C*KH*KW <= 27


@contextlib.contextmanager
def algorithm(name):
    """Run the plain conv path with ``"im2col"``, ``"winograd"`` (where it applies), ``"direct"`` (likewise) or
    ``"auto"`` in the block.

    >>> with algorithm("im2col"):          # the readable path, e.g. to compare speed or rounding
    ...     out, cache = conv2d_forward(x, w, b, 1, 1)
    """
    if name not in ALGORITHMS:
        raise ValueError(f"conv algorithm: expected one of {ALGORITHMS}, got {name!r}")
    previous = current_algorithm()
    _choice.name = name
    try:
        yield
    finally:
        _choice.name = previous


def current_algorithm():
    """This thread's choice: ``"auto"`` unless inside :func:`algorithm`.  The ops read it once, on the calling
    thread, and pass it on."""
    return getattr(_choice, "name", "auto")


@contextlib.contextmanager
def no_cache():
    """Inside the block the conv kernels keep nothing for a backward pass, and the cache they return cannot
    be used for one: Winograd's transformed input and im2col's panels go through one block-sized workspace
    per chunk, which stays in cache.  The ops run their kernels so when no backward can follow (under
    ``no_grad``, or when no input requires grad): inference.
    """
    previous = _keep_cache()
    _cache_mode.keep = False
    try:
        yield
    finally:
        _cache_mode.keep = previous


def _keep_cache():
    return getattr(_cache_mode, "keep", True)


def plain_algorithm(weight, geometry, choice):
    """The plain path's algorithm for this conv under ``choice`` (:func:`current_algorithm`): ``"direct"``,
    ``"winograd"`` or ``"im2col"``."""
    if conv_direct.applies(weight, geometry) and (choice == "direct" or (
            choice == "auto" and weight.shape[1] <= DIRECT_MAX_CHANNELS and weight[0].size <= DIRECT_MAX_K)):
        return "direct"
    return gemm_algorithm(weight, geometry, choice)


def gemm_algorithm(weight, geometry, choice, min_channels=WINOGRAD_MIN_CHANNELS):
    """The chunked GEMM path's algorithm under ``choice``: ``"winograd"`` where it applies and is chosen, or
    (not under "im2col") where the conv has at least ``min_channels`` input channels, else ``"im2col"``.
    The fused block asks with ``min_channels=1`` for its one-channel kernels."""
    if not winograd.applies(weight, geometry) or choice == "im2col":
        return "im2col"
    return "winograd" if choice == "winograd" or weight.shape[1] >= min_channels else "im2col"


# --------------------------------------------------------------------------- the plain path's checks
Geometry = namedtuple("Geometry", "stride padding out_hw")
Geometry.__doc__ = "The plain path's checked geometry: ``(sh, sw), (ph, pw), (oh, ow)``."


def conv_geometry(x, weight, bias, stride, padding, op="conv2d"):
    """The plain path's checks, a :class:`Geometry`; ``op`` names the caller in a refusal (the fused op uses
    its own name)."""
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
    return Geometry((sh, sw), (ph, pw), (oh, ow))


# --------------------------------------------------------------------------- im2col + GEMM, block by block
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


def gemm_forward(x, weight, geometry, keep=True):
    """im2col + GEMM for one chunk of the batch, a block of images at a time; ``geometry`` is
    :func:`conv_geometry`'s.

    Returns ``out2`` (O, N*OH*OW) in column layout, no bias, and the blocks' im2col panels (a list, for
    :func:`gemm_backward`; None when not ``keep``, and then one panel's memory serves every block).
    """
    (sh, sw), (ph, pw), (oh, ow) = geometry
    w2, xp = weight.reshape(weight.shape[0], -1), pad(x, ph, pw)
    out2 = np.empty((w2.shape[0], x.shape[0] * oh * ow), dtype=x.dtype)
    blocks = _image_blocks(x.shape[0], geometry, weight)
    cols = []
    space = None if keep else np.empty(w2.shape[1] * (blocks[0][1].stop - blocks[0][1].start), dtype=x.dtype)
    for images, columns in blocks:
        shape = (w2.shape[1], columns.stop - columns.start)
        panel = np.empty(shape, dtype=x.dtype) if keep else space[:shape[0] * shape[1]].reshape(shape)
        _im2col_kernel(xp[images], weight.shape[2], weight.shape[3], sh, sw, oh, ow, panel)
        np.matmul(w2, panel, out=out2[:, columns])
        if keep:
            cols.append(panel)
    return out2, (cols if keep else None)


def gemm_backward(dout2, weight, geometry, panels, dx_out):
    """Backward of :func:`gemm_forward` from ``dout2`` (O, N*OH*OW) and the chunk's ``panels``.

    Writes d loss / d x into ``dx_out`` (N, C, H, W) unless it is None; returns ``dweight``.
    """
    n_img = dout2.shape[1] // (geometry[2][0] * geometry[2][1])
    dweight = np.zeros((weight.shape[0], weight[0].size), dtype=weight.dtype)
    for (_, columns), panel in zip(_image_blocks(n_img, geometry, weight), panels):
        dweight += dout2[:, columns] @ panel.T
    if dx_out is not None:
        _col2im_dx(dout2, weight, geometry, dx_out)
    return dweight.reshape(weight.shape)


# --------------------------------------------------------------------------- the chunked GEMM path
GemmChunks = namedtuple("GemmChunks", "algorithm slices u keep saved x_shape weight geometry")
GemmChunks.__doc__ = (
    "The chunked GEMM path of one forward pass, then its cache: ``algorithm`` \"im2col\" or \"winograd\" "
    "(``u``: Winograd's transformed weight, else None), the batch chunks (``slices``, one per thread), whether "
    "they keep a cache for backward (``keep``) and, once they ran, what each kept (``saved``: per chunk its "
    "blocks' im2col panels or Winograd ``V``, a list, or None).")


def conv_forward_chunks(x, weight, geometry, algo):
    """The chunked GEMM path's plan for a forward pass of ``algo`` (``"im2col"`` or ``"winograd"``), for the
    plain conv and the fused block alike: a :class:`GemmChunks` whose ``saved`` is still None.

    Each op then runs every chunk on its own thread (:func:`gemm_forward`, or ``winograd.forward``'s
    blocks) with its own epilogue on the output while it is in cache, and keeps what the chunks saved
    (``chunks._replace(saved=...)``) as its cache.
    """
    u = winograd.weight_transform(weight) if algo == "winograd" else None
    keep = _keep_cache()  # read here, on the calling thread (the pool's threads have their own)
    return GemmChunks(algo, threads.chunks(x.shape[0]), u, keep, None, x.shape, weight, geometry)


def check_kept(chunks):
    """Refuse the backward of a :class:`GemmChunks` forward that ran under :func:`no_cache`."""
    if not chunks.keep:
        raise RuntimeError("conv2d backward: the forward ran under kernels.conv.no_cache() and kept nothing "
                           "for a backward pass")


def _chunked_forward(x, weight, b, geometry, algo, out):
    """The plain conv on the chunked GEMM path: per chunk, im2col + GEMM then bias + NCHW, or Winograd's
    blocks then its output transform (with the bias).  Writes ``out``; returns the :class:`GemmChunks`."""
    chunks = conv_forward_chunks(x, weight, geometry, algo)
    flat = out.reshape(out.shape[0], out.shape[1], -1)

    def chunk(sl):
        if chunks.algorithm == "im2col":
            out2, panels = gemm_forward(x[sl], weight, geometry, chunks.keep)
            cols_to_nchw(out2, b, flat[sl])
            return panels
        v = [] if chunks.keep else None
        for images, m in winograd.forward(x[sl], chunks.u, geometry.padding, geometry.out_hw, v):
            winograd.output(m, b, out[sl][images])
        return v
    return chunks._replace(saved=threads.run_parallel(chunk, chunks.slices))


def _chunked_backward(dout, chunks, need_input_grad):
    """The backward of :func:`_chunked_forward` for the contiguous ``dout``, chunk by chunk on the same
    threads: ``(dx or None, dweight, dbias)``, weight and bias gradients summed over chunks in order."""
    check_kept(chunks)
    weight, geometry = chunks.weight, chunks.geometry
    n_out, dtype = weight.shape[0], weight.dtype
    flat = dout.reshape(dout.shape[0], n_out, -1)
    dx = np.empty(chunks.x_shape, dtype=dtype) if need_input_grad else None

    def chunk(k):
        sl, saved = chunks.slices[k], chunks.saved[k]
        dx_k = None if dx is None else dx[sl]
        if chunks.algorithm == "im2col":
            dout2 = np.empty((n_out, (sl.stop - sl.start) * flat.shape[2]), dtype=dtype)
            dbias = np.empty(n_out, dtype=dtype)
            nchw_to_cols(flat[sl], dout2, dbias)
            return gemm_backward(dout2, weight, geometry, saved, dx_k), dbias
        du, dbias = np.zeros_like(chunks.u), np.zeros(n_out)  # dbias summed in float64
        for images, dm in winograd.backward(chunks.u, saved, geometry.padding, geometry.out_hw,
                                            sl.stop - sl.start, dx_k, du):
            winograd.output_gradient(dout[sl][images], dm, dbias)
        return winograd.weight_transform_adjoint(du), dbias.astype(dtype)
    dweight, dbias = threads.sum_parts(threads.run_parallel(chunk, range(len(chunks.slices))))
    return dx, dweight, dbias


def _direct_input_gradient(dout, state):
    """The direct path's d loss / d x (it has no loop of its own for it): im2col's, ``W^T dout`` then
    col2im, over the forward's chunks."""
    weight, geometry, n_out = state.weight, state.geometry, state.weight.shape[0]
    dx = np.empty(state.x_shape, dtype=weight.dtype)

    def chunk(sl):
        n = sl.stop - sl.start
        dout2 = np.empty((n_out, n * dout.shape[2] * dout.shape[3]), dtype=weight.dtype)
        nchw_to_cols(dout[sl].reshape(n, n_out, -1), dout2, np.empty(n_out, dtype=weight.dtype))
        _col2im_dx(dout2, weight, geometry, dx[sl])
    threads.run_parallel(chunk, state.slices)
    return dx


# this file's ops, by torch's names (kernels/registry.py)
KERNELS = kernel_table(globals(), "conv2d")
