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
"""
import numpy as np
from numba import njit

from .. import threads
from ._check import check_float_array, check_grad, check_same_dtype, out_size, pair


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
                        iy, dst = i + y * sh, n * area + y * ow
                        if sw == 1:
                            for xo in range(ow):
                                cols[row, dst + xo] = xp[n, c, iy, j + xo]
                        else:
                            for xo in range(ow):
                                cols[row, dst + xo] = xp[n, c, iy, j + xo * sw]


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
                        iy, src = i + y * sh, n * area + y * ow
                        # += : overlapping windows send gradient to the same pixel
                        if sw == 1:
                            for xo in range(ow):
                                dxp[n, c, iy, j + xo] += cols[row, src + xo]
                        else:
                            for xo in range(ow):
                                dxp[n, c, iy, j + xo * sw] += cols[row, src + xo]


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


# --------------------------------------------------------------------------- checks
def _conv_geometry(x, weight, bias, stride, padding):
    check_float_array("conv2d input", x, 4)
    check_float_array("conv2d weight", weight, 4)
    if bias is not None:
        check_float_array("conv2d bias", bias, 1)
    check_same_dtype("conv2d", x, weight, bias)
    n_out, c_in, kh, kw = weight.shape
    if min(weight.shape) < 1:
        raise ValueError(f"conv2d: expected a non-empty weight, got shape {weight.shape}")
    if x.shape[1] != c_in:
        raise ValueError(f"conv2d: expected input with {c_in} channels (weight {weight.shape}), "
                         f"got input of shape {x.shape}")
    if bias is not None and bias.shape != (n_out,):
        raise ValueError(f"conv2d: expected bias of shape ({n_out},), got {bias.shape}")
    sh, sw = pair("conv2d stride", stride, 1)
    ph, pw = pair("conv2d padding", padding, 0)
    oh = out_size("conv2d height", x.shape[2], kh, sh, ph)
    ow = out_size("conv2d width", x.shape[3], kw, sw, pw)
    return (sh, sw), (ph, pw), (oh, ow)


# --------------------------------------------------------------------------- im2col / col2im
def im2col(x, kernel_size, stride=1, padding=0):
    """Unfold sliding windows of ``x`` into columns.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64
    kernel_size, stride, padding : int or (int, int)

    Returns
    -------
    cols : ndarray, shape (C*KH*KW, N*OH*OW), dtype of ``x``
        Row ``(c*KH + i)*KW + j``, column ``n*OH*OW + oh*OW + ow`` holds
        ``x_padded[n, c, oh*SH + i, ow*SW + j]`` (zero padding).
    """
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


def col2im(cols, x_shape, kernel_size, stride=1, padding=0):
    """Fold columns back into an image, the adjoint of :func:`im2col`.

    Every entry of ``cols`` is *added* to the input pixel it was copied from, so
    pixels covered by several windows receive the sum: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩.

    Parameters
    ----------
    cols : ndarray, shape (C*KH*KW, N*OH*OW)
    x_shape : tuple (N, C, H, W)
    kernel_size, stride, padding : int or (int, int)

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
    oh = out_size("col2im height", h, kh, sh, ph)
    ow = out_size("col2im width", w, kw, sw, pw)
    if cols.shape != (c * kh * kw, n * oh * ow):
        raise ValueError(f"col2im: expected cols of shape {(c * kh * kw, n * oh * ow)}, got {cols.shape}")
    dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    _col2im_kernel(np.ascontiguousarray(cols), kh, kw, sh, sw, oh, ow, dxp)
    return _unpad(dxp, ph, pw)


# --------------------------------------------------------------------------- fast conv
def _gemm_forward(x, weight, geometry):
    """im2col + one GEMM for one chunk of the batch; ``geometry`` is :func:`_conv_geometry`'s (checked) result.

    Returns ``out2`` (O, N*OH*OW) in column layout, no bias, and the chunk's cache.
    """
    (sh, sw), (ph, pw), (oh, ow) = geometry
    cols = np.empty((weight[0].size, x.shape[0] * oh * ow), dtype=x.dtype)
    _im2col_kernel(_pad(x, ph, pw), weight.shape[2], weight.shape[3], sh, sw, oh, ow, cols)
    return weight.reshape(weight.shape[0], -1) @ cols, (x.shape, weight, cols, geometry)


def _gemm_backward(dout2, cache, dx_out):
    """Backward of :func:`_gemm_forward` from ``dout2`` (O, N*OH*OW).

    Writes d loss / d x into ``dx_out`` (N, C, H, W) unless it is None; returns ``dweight``.
    """
    x_shape, weight, cols, ((sh, sw), (ph, pw), (oh, ow)) = cache
    dweight = (dout2 @ cols.T).reshape(weight.shape)
    if dx_out is not None:
        dcols = weight.reshape(weight.shape[0], -1).T @ dout2
        n, c, h, w = x_shape
        dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
        _col2im_kernel(dcols, weight.shape[2], weight.shape[3], sh, sw, oh, ow, dxp)
        dx_out[...] = dxp[:, :, ph:ph + h, pw:pw + w]
    return dweight


def conv_forward_chunks(x, weight, geometry, finish):
    """Run the convolution's GEMM half per batch chunk, each on its own thread (see :mod:`minicnn.threads`).

    ``finish(slice, out2)`` turns a chunk's column-layout output into the layer's
    output (writing only that slice).  Returns the cache for :func:`conv_backward_chunks`.
    """
    def chunk(sl):
        out2, cache = _gemm_forward(x[sl], weight, geometry)
        finish(sl, out2)
        return cache
    slices = threads.chunks(x.shape[0])
    return slices, threads.run_parallel(chunk, slices)


def conv_backward_chunks(chunk_cache, need_input_grad, dout2_of):
    """The backward of :func:`conv_forward_chunks`, chunk by chunk on the same threads.

    ``dout2_of(slice) -> (dout2, dbias)`` builds a chunk's column-layout output
    gradient.  Returns ``(dx or None, dweight, dbias)``, weight and bias gradients
    summed over chunks in order.
    """
    slices, caches = chunk_cache
    x_shape, weight, cols, _ = caches[0]
    n_img = slices[-1].stop
    dx = np.empty((n_img,) + x_shape[1:], dtype=cols.dtype) if need_input_grad else None

    def chunk(k):
        dout2, dbias = dout2_of(slices[k])
        return _gemm_backward(dout2, caches[k], None if dx is None else dx[slices[k]]), dbias
    dweight, dbias = threads.sum_parts(threads.run_parallel(chunk, range(len(slices))))
    return dx, dweight, dbias


def conv2d_forward(x, weight, bias=None, stride=1, padding=0):
    """Convolution forward pass, as ``torch.nn.functional.conv2d``.

    The batch is split by :func:`conv_forward_chunks`, each chunk run end to
    end (im2col, GEMM, bias + layout change) on its own thread.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    weight : ndarray, shape (O, C, KH, KW)
    bias : ndarray, shape (O,), or None
    stride, padding : int or (int, int)

    Returns
    -------
    out : ndarray, shape (N, O, OH, OW), dtype of ``x``
    cache : tuple, what :func:`conv2d_backward` needs
    """
    geometry = _conv_geometry(x, weight, bias, stride, padding)
    (oh, ow), n_out = geometry[2], weight.shape[0]
    out = np.empty((x.shape[0], n_out, oh * ow), dtype=x.dtype)
    b = bias if bias is not None else np.zeros(n_out, dtype=x.dtype)
    chunk_cache = conv_forward_chunks(x, weight, geometry, lambda sl, out2: _cols_to_nchw(out2, b, out[sl]))
    out = out.reshape(x.shape[0], n_out, oh, ow)
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
    dweight : ndarray, shape (O, C, KH, KW)
    dbias : ndarray, shape (O,), or None when the forward had no bias
    """
    chunk_cache, out_shape, dtype, has_bias = cache
    check_grad("conv2d backward", dout, out_shape, dtype)
    dout = np.ascontiguousarray(dout).reshape(out_shape[0], out_shape[1], -1)

    def dout2_of(sl):
        dout2 = np.empty((out_shape[1], (sl.stop - sl.start) * dout.shape[2]), dtype=dtype)
        dbias = np.empty(out_shape[1], dtype=dtype)
        _nchw_to_cols(dout[sl], dout2, dbias)
        return dout2, dbias
    dx, dweight, dbias = conv_backward_chunks(chunk_cache, need_input_grad, dout2_of)
    return dx, dweight, (dbias if has_bias else None)


# --------------------------------------------------------------------------- naive reference
def conv2d_forward_naive(x, weight, bias=None, stride=1, padding=0):
    """Convolution forward, one output pixel at a time (the definition).

    ``out[n, o, y, x] = bias[o] + sum_{c,i,j} weight[o, c, i, j] * xpad[n, c, y*SH + i, x*SW + j]``

    Shapes and return value as :func:`conv2d_forward`; the cache is ``(x, weight, stride, padding, has_bias)``.
    """
    (sh, sw), (ph, pw), (oh, ow) = _conv_geometry(x, weight, bias, stride, padding)
    kh, kw = weight.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros((x.shape[0], weight.shape[0], oh, ow), dtype=x.dtype)
    for y in range(oh):
        for xo in range(ow):
            patch = xp[:, :, y * sh:y * sh + kh, xo * sw:xo * sw + kw]      # (N, C, KH, KW)
            out[:, :, y, xo] = np.tensordot(patch, weight, axes=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        out += bias[None, :, None, None]
    return out, (x, weight, (sh, sw), (ph, pw), bias is not None)


def conv2d_backward_naive(dout, cache, need_input_grad=True):
    """Convolution backward, one output pixel at a time.

    Each output pixel ``out[:, :, y, x]`` came from one input patch, so its
    gradient ``dout[:, :, y, x]`` flows to that patch through ``weight`` and to
    ``weight`` through that patch; overlapping patches add up.

    Parameters and return value as :func:`conv2d_backward`.
    """
    x, weight, (sh, sw), (ph, pw), has_bias = cache
    kh, kw = weight.shape[2:]
    oh = (x.shape[2] + 2 * ph - kh) // sh + 1
    ow = (x.shape[3] + 2 * pw - kw) // sw + 1
    check_grad("conv2d backward", dout, (x.shape[0], weight.shape[0], oh, ow), x.dtype)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dxp = np.zeros_like(xp)
    dweight = np.zeros_like(weight)
    for y in range(oh):
        for xo in range(ow):
            window = (slice(None), slice(None), slice(y * sh, y * sh + kh), slice(xo * sw, xo * sw + kw))
            d = dout[:, :, y, xo]                                           # (N, O)
            dweight += np.tensordot(d, xp[window], axes=([0], [0]))         # (O, C, KH, KW)
            dxp[window] += np.tensordot(d, weight, axes=([1], [0]))         # (N, C, KH, KW)
    dx = dxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]].copy() if need_input_grad else None
    # the bias gradient sums N*OH*OW terms: accumulate in float64, as the fast kernel does, so that
    # a float32 sum with cancellation does not make the reference the less accurate of the two
    dbias = dout.sum(axis=(0, 2, 3), dtype=np.float64).astype(dout.dtype) if has_bias else None
    return dx, dweight, dbias


def im2col_naive(x, kernel_size, stride=1, padding=0):
    """:func:`im2col` by slicing the padded input, one kernel offset at a time."""
    kh, kw = pair("im2col kernel_size", kernel_size, 1)
    sh, sw = pair("im2col stride", stride, 1)
    ph, pw = pair("im2col padding", padding, 0)
    n, c, h, w = x.shape
    oh = out_size("im2col height", h, kh, sh, ph)
    ow = out_size("im2col width", w, kw, sw, pw)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            shifted = xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]  # (N, C, OH, OW)
            cols[:, i, j] = shifted.transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * oh * ow)
