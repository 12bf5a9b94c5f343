"""The general path: conv2d's full torch signature (dilation, groups, 'same'/'valid' and asymmetric
padding, padding modes).

The plain case (zero padding given as an int or a pair, no dilation, one group: every conv of
SimpleCNN) never comes here: ``conv.conv2d_forward`` asks :func:`applies` before anything else is
done.  Everything else is checked by :func:`conv_setup` (the naive twin in ``conv.py`` uses the same
checks), and a setup that is a plain conv after all ('same' with an odd kernel, 'valid') goes back to
the plain path (:func:`as_plain`).  What is left:

* pads the input explicitly (``kernels/padding.py``: zeros, reflect, replicate, circular) and folds
  the padded gradient back in backward;
* gathers a *dilated* kernel in im2col: tap ``(i, j)`` reads pixel ``(y*SH + i*DH, x*SW + j*DW)``, a
  strided gather like any other (:func:`im2col_dilated_kernel`; ``conv.im2col`` uses it too);
* splits the GEMM by group: im2col's rows are ordered ``(c, i, j)``, so group ``g``'s input channels
  are one contiguous block of rows, and ``out2[g] = weight2[g] @ cols[g]`` (and likewise in backward).

The interface, as ``winograd.py``'s and ``conv_direct.py``'s: :func:`applies`, :func:`forward`
(returns a :class:`GeneralCache`) and :func:`backward`.
"""
from collections import namedtuple

import numpy as np
from numba import njit

from .checks import check_float_array, check_same_dtype, is_one, pair, positive_int, window_count
from .conv_layout import cols_to_nchw, nchw_to_cols
from .padding import check_padding_mode, pad_nd, pad_nd_backward


# The general path's pair of im2col / col2im: a dilated kernel reads tap (i, j) at offset (i*DH, j*DW)
# of its window.
@njit(cache=True, nogil=True)
def im2col_dilated_kernel(xp, kh, kw, sh, sw, dh, dw, oh, ow, cols):
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
def col2im_dilated_kernel(cols, kh, kw, sh, sw, dh, dw, oh, ow, dxp):
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


# --------------------------------------------------------------------------- checks
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


def conv_setup(x, weight, bias, stride, padding, dilation, groups, padding_mode):
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


def applies(padding, dilation, groups, padding_mode):
    """Whether a conv2d call takes this path: anything but the plain case, decided without a check (the
    plain path runs its own)."""
    plain = (not isinstance(padding, str) and is_one(dilation) and type(groups) is int and groups == 1
             and isinstance(padding_mode, str) and padding_mode == "zeros")
    return not plain


def as_plain(setup):
    """``(stride, padding)`` for the plain path when the checked ``setup`` is a plain conv after all (e.g.
    'same' with an odd kernel), else None."""
    pt, pb, pl, pr = setup.pads
    if (setup.dilation == (1, 1) and setup.groups == 1 and pt == pb and pl == pr
            and (setup.mode == "zeros" or max(setup.pads) == 0)):
        return setup.stride, (pt, pl)
    return None


def group_blocks(weight, groups, rows_per_channel):
    """Per group, its output channels and its block of input rows (``KH*KW`` rows per channel in im2col's
    ``cols``, 1 in an NCHW array): ``[(out_slice, in_slice), ...]``."""
    og, cg = weight.shape[0] // groups, weight.shape[1] * rows_per_channel
    return [(slice(g * og, (g + 1) * og), slice(g * cg, (g + 1) * cg)) for g in range(groups)]


# --------------------------------------------------------------------------- the path
GeneralCache = namedtuple("GeneralCache", "x_shape weight cols setup")
GeneralCache.__doc__ = "The general path's cache: the input's shape, the weight, im2col's ``cols`` and the setup."


def forward(x, weight, bias, setup):
    """conv2d forward for a checked ``setup`` (:func:`conv_setup`): explicit padding, dilated im2col, one GEMM
    per group, then bias and NCHW.  Returns ``(out, GeneralCache)``."""
    (sh, sw), (dh, dw), (oh, ow) = setup.stride, setup.dilation, setup.out_hw
    n, n_out, kh, kw = x.shape[0], weight.shape[0], weight.shape[2], weight.shape[3]
    xp = pad_nd(x, setup.pads, setup.mode)
    cols = np.empty((x.shape[1] * kh * kw, n * oh * ow), dtype=x.dtype)
    im2col_dilated_kernel(xp, kh, kw, sh, sw, dh, dw, oh, ow, cols)
    weight2 = weight.reshape(n_out, -1)
    out2 = np.empty((n_out, n * oh * ow), dtype=x.dtype)
    for outs, rows in group_blocks(weight, setup.groups, kh * kw):
        np.matmul(weight2[outs], cols[rows], out=out2[outs])
    out = np.empty((n, n_out, oh * ow), dtype=x.dtype)
    cols_to_nchw(out2, bias if bias is not None else np.zeros(n_out, dtype=x.dtype), out)
    return out.reshape(n, n_out, oh, ow), GeneralCache(x.shape, weight, cols, setup)


def backward(dout, cache, need_input_grad):
    """``(dx or None, dweight, dbias)`` of :func:`forward` for the checked, contiguous ``dout``: the GEMMs per
    group, dilated col2im, then the padding's gradient folded back (``padding.pad_nd_backward``)."""
    x_shape, weight, cols, setup = cache
    (sh, sw), (dh, dw), (oh, ow) = setup.stride, setup.dilation, setup.out_hw
    n, n_out, kh, kw = x_shape[0], weight.shape[0], weight.shape[2], weight.shape[3]
    dout2 = np.empty((n_out, n * oh * ow), dtype=cols.dtype)
    dbias = np.empty(n_out, dtype=cols.dtype)
    nchw_to_cols(dout.reshape(n, n_out, -1), dout2, dbias)
    weight2 = weight.reshape(n_out, -1)
    dweight2 = np.empty(weight2.shape, dtype=cols.dtype)
    dcols = np.empty_like(cols) if need_input_grad else None
    for outs, rows in group_blocks(weight, setup.groups, kh * kw):
        np.matmul(dout2[outs], cols[rows].T, out=dweight2[outs])
        if dcols is not None:
            np.matmul(weight2[outs].T, dout2[outs], out=dcols[rows])
    dx = None
    if need_input_grad:
        pt, pb, pl, pr = setup.pads
        dxp = np.zeros((n, x_shape[1], x_shape[2] + pt + pb, x_shape[3] + pl + pr), dtype=cols.dtype)
        col2im_dilated_kernel(dcols, kh, kw, sh, sw, dh, dw, oh, ow, dxp)
        dx = pad_nd_backward(dxp, setup.pads, setup.mode)
    return dx, dweight2.reshape(weight.shape), dbias
