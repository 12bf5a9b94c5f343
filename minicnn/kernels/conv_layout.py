"""What every conv path shares: zero padding, and the GEMM's column layout.

A conv's GEMM (im2col's in ``conv.py``, the general path's in ``conv_general.py``) writes its output in
*column layout*: ``out2`` of shape (O, N*OH*OW), column ``n*OH*OW + l`` holding pixel ``l`` of image
``n``.  :func:`cols_to_nchw` turns it into the layer's NCHW output while it adds the bias (one pass);
:func:`nchw_to_cols` turns an NCHW output gradient back into ``dout2`` while it sums the bias gradient.
The direct loops (``conv_direct.py``) work on :func:`pad`'s zero-padded input, as im2col does.
"""
import numpy as np
from numba import njit


def pad(x, ph, pw):
    """Zero-padded contiguous copy of ``x`` (N, C, H, W); ``x`` itself when there is no padding."""
    if ph == 0 and pw == 0:
        return np.ascontiguousarray(x)
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    return xp


def unpad(xp, ph, pw):
    """:func:`pad` undone: the interior of ``xp`` (a copy; ``xp`` itself when there is no padding)."""
    h, w = xp.shape[2] - 2 * ph, xp.shape[3] - 2 * pw
    return xp if ph == 0 and pw == 0 else xp[:, :, ph:ph + h, pw:pw + w].copy()


@njit(cache=True, nogil=True)
def cols_to_nchw(out2, bias, out):
    """``out[n, o, l] = out2[o, n*L + l] + bias[o]`` for ``out`` of shape (N, O, L)."""
    n_img, n_out, area = out.shape
    for n in range(n_img):
        for o in range(n_out):
            b = bias[o]
            src = n * area
            for l in range(area):
                out[n, o, l] = out2[o, src + l] + b


@njit(cache=True, nogil=True)
def nchw_to_cols(dout, dout2, dbias):
    """Inverse layout change of :func:`cols_to_nchw`; also ``dbias[o] = sum over n, l``."""
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
