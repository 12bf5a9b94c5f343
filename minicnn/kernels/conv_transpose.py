"""2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``: conv2d's backward, run forward.

Take a conv2d whose weight is ``weight`` (C_in, C_out / groups, KH, KW), read as conv2d reads a weight:
C_in output channels, C_out / groups input channels per group.  That conv maps an image of C_out
channels and size (OH, OW) to one of C_in channels and size (H, W).  The transposed convolution runs it
the other way round, and all three of its passes are conv2d's, with the arrays in other roles::

    transposed conv forward    = conv2d's input gradient  (x in the place of conv2d's dout):
                                 dcols = W2^T x2 per group, then col2im (accumulating)
    transposed conv dx         = conv2d's forward          (dout in the place of conv2d's input):
                                 cols = im2col(dout), then W2 cols per group
    transposed conv dweight    = conv2d's weight gradient with the roles swapped:
                                 x2 (where conv2d has its dout2) @ im2col(dout).T (where conv2d has cols.T)

with ``W2 = weight.reshape(C_in, C_out/groups * KH * KW)``, ``x2`` the input in column layout
(C_in, N*H*W) and ``im2col`` / ``col2im`` the dilated pair of the general conv path
(``conv_general.im2col_dilated_kernel`` / ``col2im_dilated_kernel``, whose adjointness is tested
there), split by group with ``conv_general.group_blocks``: no new arithmetic, the conv kernels' own.
The bias is per output channel and added after, so its gradient is the sum of ``dout`` over
N, OH and OW, as conv2d's.

The output size is conv2d's rule solved for the other side::

    OH = (H - 1)*SH - 2*PH + DH*(KH - 1) + output_padding_h + 1

``padding`` crops ``PH`` rows off each side of the full scatter (conv2d's padding, whose gradient is
dropped); ``output_padding`` (< max(SH, DH), as torch) adds rows at the bottom (and columns at the
right) that conv2d with stride SH would map to the same H: it only picks which of the sizes conv2d
cannot tell apart the output has, and those rows hold the bias alone where no window reaches them.
(An output_padding of at least SH, allowed when DH > SH, gives an output that conv2d maps to more rows
than x has: x is then conv2d's upstream gradient with zeros below it, and dx the first H x W of conv2d's
output; the backward reads exactly H x W windows of dout.)

``conv_transpose2d_forward_naive`` / ``conv_transpose2d_backward_naive`` are the definition, one input
pixel at a time: each input pixel adds the kernel times itself into its output window (the scatter),
and its gradient is that window of ``dout`` read back through the kernel (the gather).  The tests hold
the fast pair to them, and both to torch.
"""
from collections import namedtuple

import numpy as np

from .checks import check_float_array, check_grad, check_same_dtype, pair, positive_int
from .conv_general import col2im_dilated_kernel, group_blocks, im2col_dilated_kernel
from .conv_layout import cols_to_nchw, pad
from .registry import kernel_table

OP = "conv_transpose2d"

# --------------------------------------------------------------------------- checks
ConvTransposeSetup = namedtuple("ConvTransposeSetup", "stride padding output_padding dilation groups out_hw")
ConvTransposeSetup.__doc__ = ("The checked geometry of a transposed conv: ``(sh, sw)``, ``(ph, pw)``, ``(oph, opw)``, "
                              "``(dh, dw)``, ``groups`` and the output's ``(oh, ow)``.")
ConvTransposeCache = namedtuple("ConvTransposeCache", "x weight setup has_bias")
ConvTransposeCache.__doc__ = ("What both backward kernels need: the input, the weight, the setup, whether there is "
                              "a bias.")


def output_hw(in_hw, kernel, stride, padding, output_padding, dilation):
    """``(OH, OW)``: ``(H - 1)*S - 2*P + D*(K - 1) + output_padding + 1`` per axis (torch's rule)."""
    return tuple((in_hw[a] - 1) * stride[a] - 2 * padding[a] + dilation[a] * (kernel[a] - 1) + output_padding[a] + 1
                 for a in (0, 1))


def conv_transpose_setup(x, weight, bias, stride, padding, output_padding, groups, dilation):
    """Every check of the transposed conv, before any numba kernel runs; returns a :class:`ConvTransposeSetup`."""
    check_float_array(f"{OP} input", x, 4)
    check_float_array(f"{OP} weight", weight, 4)
    if bias is not None:
        check_float_array(f"{OP} bias", bias, 1)
    check_same_dtype(OP, x, weight, bias)
    groups = positive_int(f"{OP} groups", groups)
    c_in, c_group, kh, kw = weight.shape
    if min(weight.shape) < 1:
        raise ValueError(f"{OP}: expected a non-empty weight, got shape {weight.shape}")
    if c_in % groups:
        raise ValueError(f"{OP}: expected in_channels {c_in} (weight {weight.shape}, dim 0) divisible by "
                         f"groups={groups}")
    if x.shape[1] != c_in:
        raise ValueError(f"{OP}: expected input with {c_in} channels (weight {weight.shape}), got input of shape "
                         f"{x.shape}")
    if min(x.shape[2:]) < 1:
        raise ValueError(f"{OP}: expected an input of non-empty height and width, got shape {x.shape}")
    if bias is not None and bias.shape != (c_group * groups,):
        raise ValueError(f"{OP}: expected bias of shape ({c_group * groups},), got {bias.shape}")
    stride = pair(f"{OP} stride", stride, 1)
    padding = pair(f"{OP} padding", padding, 0)
    output_padding = pair(f"{OP} output_padding", output_padding, 0)
    dilation = pair(f"{OP} dilation", dilation, 1)
    if any(output_padding[a] >= max(stride[a], dilation[a]) for a in (0, 1)):
        raise ValueError(f"{OP}: expected output_padding smaller than either stride or dilation, got "
                         f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    out_hw = output_hw(x.shape[2:], (kh, kw), stride, padding, output_padding, dilation)
    if min(out_hw) < 1:
        raise ValueError(f"{OP}: input size {x.shape[2:]} gives an output size {out_hw}, too small (padding "
                         f"{padding} crops more than the {kh}x{kw} kernel with stride {stride} and dilation "
                         f"{dilation} spreads)")
    return ConvTransposeSetup(stride, padding, output_padding, dilation, groups, out_hw)


# --------------------------------------------------------------------------- the fast pair
def conv_transpose2d_forward(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution forward, as ``torch.nn.functional.conv_transpose2d``: exactly conv2d's input
    gradient (``x`` in the place of its upstream gradient), computed by conv2d's own GEMM-per-group and col2im.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W), float32 or float64
    weight : ndarray, shape (C_in, C_out / groups, KH, KW) (torch's layout: input channels first)
    bias : ndarray, shape (C_out,), or None
    stride, padding, output_padding, dilation : int or (int, int); ``output_padding < max(stride, dilation)``
    groups : int dividing C_in; group g maps input channels ``g*C_in/groups ...`` to outputs ``g*C_out/groups ...``

    Returns
    -------
    out : ndarray, shape (N, C_out, OH, OW), dtype of ``x``,
        ``OH = (H - 1)*SH - 2*PH + DH*(KH - 1) + output_padding_h + 1``
    cache : a :class:`ConvTransposeCache`, what :func:`conv_transpose2d_backward` needs
    """
    setup = conv_transpose_setup(x, weight, bias, stride, padding, output_padding, groups, dilation)
    (sh, sw), (ph, pw), (dh, dw), (oh, ow) = setup.stride, setup.padding, setup.dilation, setup.out_hw
    n, c_in, h, w = x.shape
    kh, kw = weight.shape[2:]
    n_out = weight.shape[1] * setup.groups
    x2 = _as_cols(x)                                                      # conv2d's dout2: (C_in, N*H*W)
    weight2 = weight.reshape(c_in, -1)
    dcols = np.empty((n_out * kh * kw, n * h * w), dtype=x.dtype)
    for ins, rows in group_blocks(weight, setup.groups, kh * kw):
        np.matmul(weight2[ins].T, x2[ins], out=dcols[rows])                # conv2d's dcols = W2^T G2
    outp = np.zeros((n, n_out, oh + 2 * ph, ow + 2 * pw), dtype=x.dtype)
    col2im_dilated_kernel(dcols, kh, kw, sh, sw, dh, dw, h, w, outp)      # conv2d's col2im: += where windows meet
    out = outp[:, :, ph:ph + oh, pw:pw + ow]                              # conv2d's padding, cut off
    out = out + bias[None, :, None, None] if bias is not None else out.copy()
    return out, ConvTransposeCache(x, weight, setup, bias is not None)


def conv_transpose2d_backward(dout, cache, need_input_grad=True):
    """Transposed convolution backward: ``dx`` is conv2d's forward of ``dout`` (im2col, then ``W2 @ cols`` per
    group), ``dweight`` conv2d's weight gradient with the roles swapped (``x2 @ cols.T``: the input where conv2d
    has its upstream gradient, ``dout``'s im2col where conv2d has its input's), ``dbias`` the sum of ``dout``.

    Parameters
    ----------
    dout : ndarray, shape (N, C_out, OH, OW), upstream gradient (not modified)
    cache : the cache returned by :func:`conv_transpose2d_forward`
    need_input_grad : bool, False skips ``dx``

    Returns
    -------
    dx : ndarray, shape (N, C_in, H, W), or None
    dweight : ndarray, shape (C_in, C_out / groups, KH, KW)
    dbias : ndarray, shape (C_out,), or None when the forward had no bias
    """
    x, weight, setup, has_bias = cache
    n, c_in, h, w = x.shape
    kh, kw = weight.shape[2:]
    check_grad(f"{OP} backward", dout, (n, weight.shape[1] * setup.groups) + setup.out_hw, x.dtype)
    (sh, sw), (ph, pw), (dh, dw) = setup.stride, setup.padding, setup.dilation
    # conv2d's im2col of dout, zero-padded as conv2d pads its input: H x W windows, one per input pixel
    cols = np.empty((dout.shape[1] * kh * kw, n * h * w), dtype=x.dtype)
    im2col_dilated_kernel(pad(dout, ph, pw), kh, kw, sh, sw, dh, dw, h, w, cols)
    x2, weight2 = _as_cols(x), weight.reshape(c_in, -1)
    dweight2 = np.empty(weight2.shape, dtype=x.dtype)
    dx2 = np.empty((c_in, n * h * w), dtype=x.dtype) if need_input_grad else None
    for ins, rows in group_blocks(weight, setup.groups, kh * kw):
        np.matmul(x2[ins], cols[rows].T, out=dweight2[ins])               # conv2d's dW2 = G2 cols^T, roles swapped
        if dx2 is not None:
            np.matmul(weight2[ins], cols[rows], out=dx2[ins])               # conv2d's forward Y2 = W2 cols
    dx = None
    if dx2 is not None:
        dx = np.empty((n, c_in, h * w), dtype=x.dtype)
        cols_to_nchw(dx2, np.zeros(c_in, dtype=x.dtype), dx)               # conv2d's layout change (no bias)
        dx = dx.reshape(x.shape)
    return dx, dweight2.reshape(weight.shape), _bias_grad(dout) if has_bias else None


def _as_cols(x):
    """(N, C, H, W) -> (C, N*H*W), conv2d's column layout: column ``n*H*W + l`` holds pixel ``l`` of image ``n``."""
    n, c, h, w = x.shape
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3)).reshape(c, n * h * w)


def _bias_grad(dout):
    """The sum of ``dout`` over N, OH and OW per channel, accumulated in float64 (N*OH*OW terms)."""
    return dout.sum(axis=(0, 2, 3), dtype=np.float64).astype(dout.dtype)


# --------------------------------------------------------------------------- naive reference
def conv_transpose2d_forward_naive(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                                   dilation=1):
    """Transposed convolution forward, one input pixel (and one group) at a time: the definition.

    Each input pixel adds the kernel times itself into its output window: pixel ``(y, x)`` of input channel
    ``c`` (group ``g``) adds ``x[n, c, y, x] * weight[c, o, i, j]`` to ``outpad[n, g*C_out/groups + o,
    y*SH + i*DH, x*SW + j*DW]``; ``out`` is ``outpad`` with ``padding`` cut off each side, plus the bias.
    (conv2d's naive backward sends ``dout`` into its padded input's windows the same way.)

    Arguments and return value as :func:`conv_transpose2d_forward`; the cache is the same.
    """
    setup = conv_transpose_setup(x, weight, bias, stride, padding, output_padding, groups, dilation)
    (ph, pw), (oh, ow) = setup.padding, setup.out_hw
    n, _, h, w = x.shape
    outp = np.zeros((n, weight.shape[1] * setup.groups, oh + 2 * ph, ow + 2 * pw), dtype=x.dtype)
    for ins, outs in group_blocks(weight, setup.groups, 1):
        for y in range(h):
            for xi in range(w):
                window = _window(outs, y, xi, weight.shape, setup)
                outp[window] += np.tensordot(x[:, ins, y, xi], weight[ins], axes=([1], [0]))  # (N, C_out/g, KH, KW)
    out = outp[:, :, ph:ph + oh, pw:pw + ow].copy()
    if bias is not None:
        out += bias[None, :, None, None]
    return out, ConvTransposeCache(x, weight, setup, bias is not None)


def _window(outs, y, xi, weight_shape, setup):
    """The index of input pixel (y, xi)'s window in the padded output: every DH-th row from y*SH."""
    (sh, sw), (dh, dw), (kh, kw) = setup.stride, setup.dilation, weight_shape[2:]
    return (slice(None), outs, slice(y * sh, y * sh + dh * (kh - 1) + 1, dh),
            slice(xi * sw, xi * sw + dw * (kw - 1) + 1, dw))


def conv_transpose2d_backward_naive(dout, cache, need_input_grad=True):
    """Transposed convolution backward, one input pixel at a time.

    Input pixel ``(y, x)`` reached one window of the (padded) output, through the kernel: its gradient is
    that window of the zero-padded ``dout`` read back through the kernel (the gather; conv2d's naive
    forward reads its windows the same way), and the kernel's gradient adds the pixel times that window
    (overlapping windows add up).

    Parameters and return value as :func:`conv_transpose2d_backward`.
    """
    x, weight, setup, has_bias = cache
    (ph, pw) = setup.padding
    check_grad(f"{OP} backward", dout, (x.shape[0], weight.shape[1] * setup.groups) + setup.out_hw, x.dtype)
    doutp = np.pad(dout, ((0, 0), (0, 0), (ph, ph), (pw, pw)))   # the cropped rows had no gradient: zeros
    dx = np.zeros_like(x) if need_input_grad else None
    dweight = np.zeros_like(weight)
    for ins, outs in group_blocks(weight, setup.groups, 1):
        for y in range(x.shape[2]):
            for xi in range(x.shape[3]):
                g = doutp[_window(outs, y, xi, weight.shape, setup)]                    # (N, C_out/g, KH, KW)
                dweight[ins] += np.tensordot(x[:, ins, y, xi], g, axes=([0], [0]))     # (C_in/g, C_out/g, KH, KW)
                if dx is not None:
                    dx[:, ins, y, xi] = np.tensordot(g, weight[ins], axes=([1, 2, 3], [1, 2, 3]))   # (N, C_in/g)
    return dx, dweight, _bias_grad(dout) if has_bias else None


# this file's op, by torch's name (kernels/registry.py)
KERNELS = kernel_table(globals(), "conv_transpose2d")
