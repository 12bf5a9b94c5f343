"""The network's ops with torch's names and signatures (``import minicnn.functional as F``).

Each op is a :class:`~minicnn.autograd.Function` whose ``forward`` and
``backward`` call a hand-written kernel pair from :mod:`minicnn.kernels`
(``forward(...) -> (out, cache)``, ``backward(dout, cache) -> grads``); the
engine records the call, and ``loss.backward()`` hands each op its cache
back.  Inputs may be Tensors or ndarrays; outputs are Tensors.

Arguments torch accepts but minicnn does not compute yet raise a ValueError
naming them, never a silently different answer.  (``inplace=True`` of
hardsigmoid, hardswish, silu and elu is accepted: the result is torch's,
computed out of place into a new Tensor.)  Ops that torch lets run
without the batch dim (``(C, H, W)`` images, a ``(C,)`` logit vector) add it,
call the op and take it off again, as recorded reshapes.
"""
import functools
import warnings

import numpy as np

from . import dtypes
from . import kernels as K
from .autograd import Function, Tensor, as_tensor  # noqa: F401 (as_tensor is used by nn)
from .arguments import array_or_none, dropout_probability, inplace_flag, number, pool_stride
from .autograd.engine import is_grad_enabled
from .kernels.checks import FLOAT_DTYPES, check_float_array
from .rng import get_rng


def _kernel_call(ctx, name, *args):
    """Run kernel ``name`` of the current implementation; remember which, so backward uses its twin.

    When no backward can follow (nothing recorded: ``no_grad``, or no input requires grad) the conv
    kernels keep nothing for one (``kernels.conv.no_cache``)."""
    ctx.kernels = K.current()
    forward = getattr(ctx.kernels, f"{name}_forward")
    if any(ctx.needs_input_grad):
        out, ctx.cache = forward(*args)
    else:
        with K.conv.no_cache():
            out, ctx.cache = forward(*args)
    return out


class KernelFunction(Function):
    """A Function that is one kernel pair of :data:`minicnn.kernels.REGISTRY`, by torch's name.

    ``forward(ctx, *inputs)`` runs ``<kernel>_forward(*inputs)`` of this thread's kernels (fast or naive)
    and keeps its cache; ``backward`` hands the cache to ``<kernel>_backward`` of the same kernels and
    returns its gradient(s), then None for each of the ``constant_args`` trailing non-tensor arguments.
    ``need_input_grad``: the backward kernel also takes whether the first input needs a gradient (it
    skips computing ``dx`` when not).  A plain op is then three lines::

        class ReLUFunction(KernelFunction):
            kernel = "relu"
    """
    kernel = None         # torch's functional name: "relu", "max_pool2d", ...
    constant_args = 0     # arguments after the tensors (sizes, flags): no gradient
    need_input_grad = False

    @classmethod
    def forward(cls, ctx, *args):
        return _kernel_call(ctx, cls.kernel, *args)

    @classmethod
    def backward(cls, ctx, grad_out):
        backward = getattr(ctx.kernels, f"{cls.kernel}_backward")
        if cls.need_input_grad:
            grads = backward(grad_out, ctx.cache, ctx.needs_input_grad[0])
        else:
            grads = backward(grad_out, ctx.cache)
        grads = (grads if isinstance(grads, tuple) else (grads,)) + (None,) * cls.constant_args
        return grads[0] if len(grads) == 1 else grads  # one input: its gradient alone, as torch


def _param(value, name):
    return None if value is None else as_tensor(value, name)


def _check_dtype(op, x, weight):
    """A float input in another dtype than the weight's: say so in those words (torch refuses it too)."""
    if x.dtype in FLOAT_DTYPES and weight.dtype in FLOAT_DTYPES and x.dtype != weight.dtype:
        raise TypeError(f"{op}: expected input of dtype {weight.dtype} (the weight's), got {x.dtype}")


# --------------------------------------------------------------------------- convolution
def _unbatched(op, x, batched_ndim):
    """True for an input without the batch dim (torch's unbatched form), after checking the rank."""
    if x.ndim not in (batched_ndim - 1, batched_ndim):
        raise ValueError(f"{op}: expected a {batched_ndim - 1}-D (unbatched) or {batched_ndim}-D (batched) input, "
                         f"got shape {x.shape}")
    return x.ndim == batched_ndim - 1


def _add_batch_dim(x):
    return x.reshape((1,) + x.shape)


class Conv2dFunction(KernelFunction):
    """``conv2d(x, weight, bias, stride, padding, dilation, groups, padding_mode)``; backward:
    ``kernels.conv2d_backward`` (im2col GEMMs, col2im) -> ``(dx, dweight, dbias)``."""
    kernel, constant_args, need_input_grad = "conv2d", 5, True


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation), as ``torch.nn.functional.conv2d``.

    Shapes: input (N, C, H, W) or unbatched (C, H, W), weight (O, C / groups, KH, KW), bias (O,)
    -> (N, O, OH, OW) (or (O, OH, OW)), ``OH = (H + 2*padding - dilation*(KH - 1) - 1) // stride + 1``.
    ``padding`` may also be ``'valid'`` (0) or ``'same'`` (stride 1; torch's split for even kernels).
    """
    return conv2d_padded(input, weight, bias, stride, padding, dilation, groups, "zeros")


def conv2d_padded(input, weight, bias, stride, padding, dilation, groups, padding_mode):
    """:func:`conv2d` with ``nn.Conv2d``'s ``padding_mode`` ('zeros', 'reflect', 'replicate', 'circular')."""
    input, weight = as_tensor(input, "conv2d input"), as_tensor(weight, "conv2d weight")
    _check_dtype("conv2d", input, weight)
    if _unbatched("conv2d", input, 4):
        out = conv2d_padded(_add_batch_dim(input), weight, bias, stride, padding, dilation, groups, padding_mode)
        return out.reshape(out.shape[1:])
    return Conv2dFunction.apply(input, weight, _param(bias, "conv2d bias"), stride, padding, dilation, groups,
                                padding_mode)


class ConvTranspose2dFunction(KernelFunction):
    """``conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation)``: conv2d's input
    gradient run forward; backward: ``kernels.conv_transpose2d_backward`` -> ``(dx, dweight, dbias)``, where dx is
    conv2d's forward of the upstream gradient and dweight conv2d's weight gradient with the roles swapped."""
    kernel, constant_args, need_input_grad = "conv_transpose2d", 5, True


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``: exactly the input gradient of
    a conv2d with this weight (``kernels/conv_transpose.py``), whose own input gradient is that conv2d's forward.

    Shapes: input (N, C_in, H, W) or unbatched (C_in, H, W), weight (C_in, C_out / groups, KH, KW), bias (C_out,)
    -> (N, C_out, OH, OW) (or (C_out, OH, OW)), ``OH = (H - 1)*stride - 2*padding + dilation*(KH - 1) +
    output_padding + 1``; ``output_padding`` must be smaller than ``stride`` or ``dilation``.
    """
    input, weight = as_tensor(input, "conv_transpose2d input"), as_tensor(weight, "conv_transpose2d weight")
    _check_dtype("conv_transpose2d", input, weight)
    if _unbatched("conv_transpose2d", input, 4):
        out = conv_transpose2d(_add_batch_dim(input), weight, bias, stride, padding, output_padding, groups, dilation)
        return out.reshape(out.shape[1:])
    return ConvTranspose2dFunction.apply(input, weight, _param(bias, "conv_transpose2d bias"), stride, padding,
                                         output_padding, groups, dilation)


class Conv2dReLUMaxPool2dFunction(KernelFunction):
    """``max_pool2d(relu(conv2d(x, weight, bias, padding=padding)), 2)`` by the fused kernel pair."""
    kernel, constant_args, need_input_grad = "conv2d_relu_max_pool2d", 1, True


def conv2d_relu_max_pool2d(input, weight, bias, padding=0):
    """Conv (stride 1) -> ReLU -> 2x2 max pool in one pass (minicnn's fused op; no torch counterpart).

    Shapes: (N, C, H, W) -> (N, O, OH // 2, OW // 2).
    """
    op = "conv2d_relu_max_pool2d"
    input, weight = as_tensor(input, f"{op} input"), as_tensor(weight, f"{op} weight")
    _check_dtype(op, input, weight)
    return Conv2dReLUMaxPool2dFunction.apply(input, weight, as_tensor(bias, f"{op} bias"), padding)


# --------------------------------------------------------------------------- padding
class PadFunction(KernelFunction):
    """``pad(x, pad, mode, value)`` of an (N, C, W), (N, C, H, W) or (N, C, D, H, W) array; backward: the padded
    gradient folded back onto the cells each padded cell copies, and put where a crop kept them
    (``kernels/padding.py``)."""
    kernel, constant_args = "pad", 3


def pad(input, pad, mode="constant", value=None):
    """Pad (or, with negative pads, crop) the last dims, as ``torch.nn.functional.pad``.

    ``pad`` is ``(left, right)`` (the last dim), ``(left, right, top, bottom)`` (the last two) or ``(left,
    right, top, bottom, front, back)`` (the last three); ``mode`` ``'constant'`` (filled with ``value``, 0
    for None), ``'reflect'`` (pad < size), ``'replicate'`` or ``'circular'`` (pad <= size).  Negative pads
    crop, in every mode, where torch does: constant and circular crop first and pad what is left (circular's
    pads at most what the crop leaves); reflect and replicate pad first and crop the result, which must keep
    at least one cell (``kernels/padding.py``).
    Shapes: the constant mode takes any input with at least ``len(pad) // 2`` dims; the others, as torch,
    a (k+1)-D or (k+2)-D input for a pad of 2k ints, its dims after the batch dim non-empty (circular's may
    be empty).  The leading dims are merged into one for the kernel (recorded reshapes).
    """
    input = as_tensor(input, "pad input")
    K.padding.check_pad("pad", pad, mode, value)
    k = len(pad) // 2
    if mode == "constant" and input.ndim < k:
        raise ValueError(f"pad: expected an input of at least {k} dims for a pad of {len(pad)} ints, got shape "
                         f"{input.shape}")
    if mode != "constant":
        if input.ndim not in (k + 1, k + 2):
            raise ValueError(f"pad: mode={mode!r} with a pad of {len(pad)} ints expects a {k + 1}-D or {k + 2}-D "
                             f"input, got shape {input.shape}")
        if mode != "circular" and 0 in input.shape[-(k + 1):]:   # (circular pads an empty dim, as torch)
            raise ValueError(f"pad: mode={mode!r} expects every dim after the batch dim non-empty, got shape "
                             f"{input.shape}")
    lead, last = input.shape[:input.ndim - k], input.shape[input.ndim - k:]
    out = PadFunction.apply(input.reshape((int(np.prod(lead)), 1) + last), tuple(pad), mode, value)
    return out.reshape(lead + out.shape[2:])


# --------------------------------------------------------------------------- pixel shuffle
class PixelShuffleFunction(KernelFunction):
    """Channels to sub-pixels; backward: :func:`pixel_unshuffle` of the gradient (``kernels/pixel_shuffle.py``)."""
    kernel, constant_args = "pixel_shuffle", 1


class PixelUnshuffleFunction(KernelFunction):
    """Sub-pixels to channels; backward: :func:`pixel_shuffle` of the gradient."""
    kernel, constant_args = "pixel_unshuffle", 1


def pixel_shuffle(input, upscale_factor):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r), ``r = upscale_factor``, as ``torch.nn.functional.pixel_shuffle``:
    ``out[..., c, h*r + i, w*r + j] = input[..., c*r*r + i*r + j, h, w]``."""
    return PixelShuffleFunction.apply(as_tensor(input, "pixel_shuffle input"), upscale_factor)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), ``r = downscale_factor``, as ``torch.nn.functional.pixel_unshuffle``:
    the inverse of :func:`pixel_shuffle`."""
    return PixelUnshuffleFunction.apply(as_tensor(input, "pixel_unshuffle input"), downscale_factor)


# --------------------------------------------------------------------------- resizing
class UpsampleNearest2dFunction(KernelFunction):
    """Each output pixel a copy of one input pixel (torch's ``nearest`` rule); backward: each gradient added back
    to the pixel it was copied from (``kernels/upsample.py``)."""
    kernel, constant_args = "upsample_nearest2d", 3


class UpsampleNearestExact2dFunction(KernelFunction):
    """As :class:`UpsampleNearest2dFunction`, the input pixel under each output pixel's centre (``nearest-exact``)."""
    kernel, constant_args = "upsample_nearest_exact2d", 3


class UpsampleBilinear2dFunction(KernelFunction):
    """Each output pixel a weighted sum of its four nearest input pixels; backward: each gradient spread back onto
    those four with the same weights."""
    kernel, constant_args = "upsample_bilinear2d", 4


class UpsampleBicubic2dFunction(KernelFunction):
    """Each output pixel a weighted sum of the 4 x 4 input pixels around its source (cubic convolution, the taps
    clamped to the border); backward: each gradient spread back onto those 16 taps with the same weights."""
    kernel, constant_args = "upsample_bicubic2d", 4


_RESIZE_FUNCTIONS = {"upsample_nearest2d": UpsampleNearest2dFunction,
                     "upsample_nearest_exact2d": UpsampleNearestExact2dFunction,
                     "upsample_bilinear2d": UpsampleBilinear2dFunction,
                     "upsample_bicubic2d": UpsampleBicubic2dFunction}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    """Resize the spatial dims, as ``torch.nn.functional.interpolate``.

    Shapes: (N, C, L) -> (N, C, OL), (N, C, H, W) -> (N, C, OH, OW) or (N, C, D, H, W) -> (N, C, OD, OH, OW):
    ``size`` (an int for every spatial dim, or one int per dim), or ``floor(size * scale_factor)`` of each
    (a number for every dim, or one per dim).  ``mode`` ``'nearest'`` (each output a copy of input
    ``floor(d * H / OH)`` along each dim, torch's rule), ``'nearest-exact'`` (the input under the output's
    centre), ``'linear'`` (3-D input), ``'bilinear'`` (4-D) or ``'trilinear'`` (5-D): the two nearest inputs
    along each dim, weighted (``align_corners=True`` maps the corner pixels' centres onto each other,
    ``False`` (None) the corners), ``'bicubic'`` (4-D: the 4 x 4 nearest, by cubic convolution with
    ``A = -0.75``, the taps clamped to the border), or ``'area'``: :func:`adaptive_avg_pool2d` of the output
    size (and its 1-D and 3-D forms), as torch computes it.  A given ``scale_factor`` is also the step between
    source positions (``1 / scale_factor``) unless ``recompute_scale_factor=True`` (``'area'`` always
    recomputes), as torch.  The index rules are torch's, written out in ``kernels/upsample.py``.

    Every mode resizes each dim on its own (its output is a product of one rule per dim), so it is computed
    by the 2-D kernel of its mode, one pass per pair of dims, over reshaped (recorded) views: 3-D input as
    (N, C, 1, L); 5-D input as (N, C*D, H, W) for H and W, then (N, C, D, OH*OW) for D.  A dim a pass keeps
    (the 1 of (N, C, 1, L), the OH*OW) goes from size I to I, which each rule maps onto itself (nearest-exact
    up to ``kernels.upsample.NEAREST_EXACT_KEEPS``: beyond, D is resized as the width of (N, C*OH*OW, 1, D));
    the backward is each pass's kernel backward in reverse order (``docs/backprop.md``).

    Refused by name: ``'lanczos'``, ``antialias=True``; torch's errors for ``size`` and
    ``scale_factor`` both or neither given, ``align_corners`` with a nearest mode or area,
    ``recompute_scale_factor=True`` with a ``size``, and a mode given an input of another rank.  Unlike
    torch, an output size of 0 with ``'area'`` is refused (torch returns an empty output, whose backward it
    refuses), as is an input with no channels.
    """
    return _interpolate("interpolate", input, size, scale_factor, mode, align_corners, recompute_scale_factor,
                        antialias)


def _interpolate(op, input, size, scale_factor, mode, align_corners, recompute_scale_factor=None, antialias=False):
    """:func:`interpolate` under the name ``op`` the user called (the deprecated aliases name themselves)."""
    input = as_tensor(input, f"{op} input")
    check_float_array(f"{op} input", input.array)
    kernel, output_size, scales, align_corners = K.upsample.interpolate_arguments(
        op, input.shape, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    resize = functools.partial(_resize_pass, kernel, align_corners)
    n, c, *sizes = input.shape
    if len(sizes) == 1:   # the length as the width of a 1-pixel-high image
        out = resize(input.reshape(n, c, 1, sizes[0]), (1,) + output_size, (None,) + scales)
        return out.reshape(n, c, *output_size)
    if len(sizes) == 2:
        return resize(input, output_size, scales)
    return _resize_volume(resize, kernel, input, output_size, scales)


def _resize_pass(kernel, align_corners, x, output_size, scales):
    """One pass of the 2-D ``kernel`` (:data:`kernels.upsample.MODES`) over the last two dims of the 4-D ``x``."""
    if kernel == "adaptive_avg_pool2d":   # mode='area' (which recomputes: the scales are None)
        return AdaptiveAvgPool2dFunction.apply(x, output_size)
    function = _RESIZE_FUNCTIONS[kernel]
    if align_corners is None:
        return function.apply(x, output_size, *scales)
    return function.apply(x, output_size, align_corners, *scales)


def _resize_volume(resize, kernel, x, output_size, scales):
    """(N, C, D, H, W) -> (N, C, OD, OH, OW) by two passes of ``resize``: H and W of each depth slice, then D."""
    n, c, d, h, w = x.shape
    (od, oh, ow), (sd, sh, sw) = output_size, scales
    planes = resize(x.reshape(n, c * d, h, w), (oh, ow), (sh, sw)).reshape(n, c, d, oh * ow)
    if kernel != "upsample_nearest_exact2d" or oh * ow <= K.upsample.NEAREST_EXACT_KEEPS:
        return resize(planes, (od, oh * ow), (sd, None)).reshape(n, c, od, oh, ow)
    # nearest-exact does not keep a dim of more than 2**23: D resized as the width of 1-pixel-high images
    columns = planes.transpose(2, 3).reshape(n, c * oh * ow, 1, d)
    return resize(columns, (1, od), (None, sd)).reshape(n, c, oh, ow, od).permute(0, 1, 4, 2, 3).contiguous()


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """torch's deprecated ``F.upsample``: :func:`interpolate` (with its warning)."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2)
    return _interpolate("upsample", input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """torch's deprecated ``F.upsample_nearest``: :func:`interpolate` with ``mode='nearest'`` (with its warning)."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return _interpolate("upsample_nearest", input, size, scale_factor, "nearest", None)


def upsample_bilinear(input, size=None, scale_factor=None):
    """torch's deprecated ``F.upsample_bilinear``: :func:`interpolate` with ``mode='bilinear'`` and
    ``align_corners=True`` (with its warning)."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return _interpolate("upsample_bilinear", input, size, scale_factor, "bilinear", True)


# --------------------------------------------------------------------------- linear, activation, pooling
class LinearFunction(KernelFunction):
    """``out = x @ weight.T + bias``; backward: ``dx = g @ weight``, ``dweight = g.T @ x``, ``dbias = sum g``."""
    kernel, need_input_grad = "linear", True


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``, as ``torch.nn.functional.linear``.

    Shapes: input (*, in_features) (any leading dims, or none), weight (out_features, in_features),
    bias (out_features,) -> (*, out_features).  The leading dims are flattened into one batch dim
    for the kernel (a recorded reshape) and restored after.
    """
    input, weight = as_tensor(input, "linear input"), as_tensor(weight, "linear weight")
    _check_dtype("linear", input, weight)
    bias = _param(bias, "linear bias")
    if input.ndim == 2:
        return LinearFunction.apply(input, weight, bias)
    if input.ndim == 0 or weight.ndim != 2 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: expected input of shape (*, {weight.shape[-1] if weight.ndim else '?'}) "
                         f"(weight {weight.shape}), got {input.shape}")
    lead = input.shape[:-1]
    out = LinearFunction.apply(input.reshape(int(np.prod(lead)), input.shape[-1]), weight, bias)
    return out.reshape(lead + (weight.shape[0],))


class ReLUFunction(KernelFunction):
    """``max(x, 0)``; backward passes the gradient where x > 0."""
    kernel = "relu"


def relu(input, inplace=False):
    """``max(input, 0)`` elementwise, any shape (``inplace=True`` is accepted and computed out of place:
    :func:`minicnn.arguments.inplace_flag`)."""
    inplace_flag("relu", inplace)
    return ReLUFunction.apply(as_tensor(input, "relu input"))


class MaxPool2dFunction(KernelFunction):
    """Max over each window; backward routes each gradient to its window's (first) maximum.

    ``indices_out``: None, or a list that receives the winners' flat indices (int64) for
    ``return_indices=True`` (an op has one output; the indices are no gradient's business).
    """
    kernel, constant_args = "max_pool2d", 6

    @classmethod
    def forward(cls, ctx, x, kernel_size, stride, padding, dilation, ceil_mode, indices_out):
        out = _kernel_call(ctx, cls.kernel, x, kernel_size, stride, padding, dilation, ceil_mode)
        if indices_out is not None:
            indices_out.append(ctx.cache[1].astype(np.int64))
        return out


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max pooling, as ``torch.nn.functional.max_pool2d``; ``stride`` defaults to ``kernel_size``.

    Shapes: (N, C, H, W) or unbatched (C, H, W) -> (N, C, OH, OW) (or (C, OH, OW)),
    ``OH = (H + 2*padding - dilation*(kernel - 1) - 1) // stride + 1`` (rounded up with ``ceil_mode``,
    as long as the last window starts inside the input or its left padding).

    Returns the output, or ``(output, indices)`` with ``return_indices=True``: an int64 Tensor of the
    output's shape holding each winner's flat index ``iy*W + ix`` within its channel, as torch.
    """
    input = as_tensor(input, "max_pool2d input")
    if not isinstance(return_indices, (bool, np.bool_)):
        raise TypeError(f"max_pool2d return_indices: expected a bool, got {return_indices!r}")
    if _unbatched("max_pool2d", input, 4):
        result = max_pool2d(_add_batch_dim(input), kernel_size, stride, padding, dilation, ceil_mode, return_indices)
        if return_indices:
            return result[0].reshape(result[0].shape[1:]), Tensor.wrap(result[1].array[0])
        return result.reshape(result.shape[1:])
    stride = pool_stride(stride, None)
    indices = [] if return_indices else None
    out = MaxPool2dFunction.apply(input, kernel_size, stride, padding, dilation, ceil_mode, indices)
    return (out, Tensor.wrap(indices[0])) if return_indices else out


class MaxUnpool2dFunction(KernelFunction):
    """Each value back at its max pool index, zeros elsewhere; backward gathers from the same places."""
    kernel, constant_args = "max_unpool2d", 5


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of :func:`max_pool2d`, as ``torch.nn.functional.max_unpool2d``.

    Shapes: input and indices (N, C, H, W) or unbatched (C, H, W) -> (N, C, OH, OW) (or (C, OH, OW)),
    ``OH = (H - 1)*stride - 2*padding + kernel`` unless ``output_size`` ((OH, OW) or (N, C, OH, OW),
    within ``stride`` of that) says otherwise.
    """
    input = as_tensor(input, "max_unpool2d input")
    indices = indices.array if isinstance(indices, Tensor) else indices
    if _unbatched("max_unpool2d", input, 4):
        indices = indices[None] if isinstance(indices, np.ndarray) else indices
        out = max_unpool2d(_add_batch_dim(input), indices, kernel_size, stride, padding, output_size)
        return out.reshape(out.shape[1:])
    return MaxUnpool2dFunction.apply(input, indices, kernel_size, stride, padding, output_size)


# --------------------------------------------------------------------------- losses
class CrossEntropyFunction(Function):
    """Softmax + cross-entropy fused: the kernel computes the loss and its gradients at once; backward
    scales them by the upstream gradient (see ``kernels/loss.py`` for the formulas)."""

    @staticmethod
    def forward(ctx, logits, target, weight, ignore_index, reduction, label_smoothing):
        ctx.kernels = K.current()
        loss, ctx.cache = ctx.kernels.cross_entropy_forward(logits, target, weight, ignore_index, reduction,
                                                            label_smoothing)
        return np.asarray(loss, dtype=logits.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        dlogits, dtarget = ctx.kernels.cross_entropy_backward(grad_out, ctx.cache, ctx.needs_input_grad[1])
        return dlogits, dtarget, None, None, None, None


def _target(target):
    if isinstance(target, Tensor):
        return target
    if not isinstance(target, np.ndarray):
        raise TypeError(f"cross_entropy: expected target as a Tensor or ndarray (class indices or class "
                        f"probabilities), got {type(target).__name__}")
    return Tensor.wrap(target)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of ``softmax(input)`` over dim 1, as ``torch.nn.functional.cross_entropy``.

    Shapes: input (N, C), (N, C, d1, ...) or unbatched (C,) float; target the class indices (N,),
    (N, d1, ...) or () (integer in [0, C) or ``ignore_index``) or class probabilities of the input's
    shape (float; differentiable); weight (C,) -> a 0-d Tensor ("mean", "sum") or (N, d1, ...) ("none").
    "mean" divides by the summed weight of the targets not ignored (class indices) or by the number of
    samples (probabilities), as torch.
    """
    input, target = as_tensor(input, "cross_entropy input"), _target(target)
    if isinstance(weight, Tensor):
        if weight.requires_grad and is_grad_enabled():
            raise ValueError("cross_entropy: weight requires grad, but minicnn computes no gradient for the class "
                             "weights; pass weight.detach()")
        weight = weight.array
    if input.ndim == 1:
        target = target.reshape((1,) + target.shape)
        loss = cross_entropy(_add_batch_dim(input), target, weight, ignore_index, reduction, label_smoothing)
        return loss.reshape(()) if reduction == "none" else loss
    return CrossEntropyFunction.apply(input, target, weight, ignore_index, reduction, label_smoothing)


def flatten(input, start_dim=0, end_dim=-1):
    """``torch.flatten``: merge dims ``start_dim..end_dim`` into one (a recorded reshape).

    Refuses the dims torch refuses: out of range (:class:`~minicnn.autograd.tensor.DimensionError`, both
    a ValueError and torch's IndexError), ``start_dim`` after ``end_dim`` (ValueError; torch raises
    RuntimeError), not an int (TypeError)."""
    return as_tensor(input, "flatten input").flatten(start_dim, end_dim)


# =========================================================================== normalisation, dropout, more


def _legacy_reduction(op, size_average, reduce):
    if size_average is not None or reduce is not None:
        raise ValueError(f"{op}: size_average and reduce are deprecated in torch and not supported; "
                         f"use reduction='mean'|'sum'|'none'")


# --------------------------------------------------------------------------- batch norm
def _batch_norm_forward(ctx, kernel, x, weight, bias, running_mean, running_var, training, momentum, eps):
    """Run ``kernel`` (batch norm, or batch norm + ReLU, whose cache starts with batch norm's); in training
    also move the running estimates, in place."""
    out = _kernel_call(ctx, kernel, x, weight, bias, running_mean, running_var, training, eps)
    if training:
        cache = ctx.cache if kernel == "batch_norm" else ctx.cache[0]
        if running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean + momentum * cache.mean
        if running_var is not None:
            unbiased = cache.var * (cache.count / (cache.count - 1))
            running_var[...] = (1 - momentum) * running_var + momentum * unbiased
    return out


class BatchNormFunction(KernelFunction):
    """Batch normalisation; in training it also updates the running estimates in place, as torch does
    (``running = (1 - momentum) * running + momentum * batch``, the variance unbiased: ``* M / (M - 1)``)."""
    kernel, constant_args, need_input_grad = "batch_norm", 5, True

    @classmethod
    def forward(cls, ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        return _batch_norm_forward(ctx, cls.kernel, x, weight, bias, running_mean, running_var, training,
                                   momentum, eps)


class BatchNormReLUFunction(BatchNormFunction):
    """``max(batch_norm(x), 0)`` in one pass (``kernels.batch_norm_relu_*``); running estimates as batch norm's."""
    kernel = "batch_norm_relu"


def _batch_norm_args(op, input, running_mean, running_var, weight, bias, training, momentum, eps):
    input = as_tensor(input, f"{op} input")
    if weight is not None:
        _check_dtype(op, input, as_tensor(weight, f"{op} weight"))
    number(op, "momentum", momentum)
    return (input, _param(weight, f"{op} weight"), _param(bias, f"{op} bias"),
            array_or_none(running_mean, f"{op} running_mean"), array_or_none(running_var, f"{op} running_var"),
            bool(training), float(momentum), eps)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation, as ``torch.nn.functional.batch_norm``.

    Shapes: input (N, C) or (N, C, ...); running_mean, running_var, weight, bias (C,) -> the input's shape.
    With ``training`` the batch's statistics normalise and, where given, the
    running estimates (ndarrays, or Tensors whose arrays are updated) move by
    ``momentum`` (any real number, as torch: negative or above 1 too); without it
    the running estimates normalise.  An empty input comes back as it is (a copy), unchecked and with the
    running estimates unchanged, as torch's.
    """
    if isinstance(input, (Tensor, np.ndarray)) and 0 in input.shape:
        return as_tensor(input, "batch_norm input").clone()
    return BatchNormFunction.apply(*_batch_norm_args("batch_norm", input, running_mean, running_var, weight, bias,
                                                     training, momentum, eps))


def batch_norm_relu(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                    eps=1e-5):
    """``relu(batch_norm(...))`` with :func:`batch_norm`'s arguments, computed in one pass (forward and
    backward); the numbers are those of the two ops one after the other."""
    return BatchNormReLUFunction.apply(*_batch_norm_args("batch_norm_relu", input, running_mean, running_var,
                                                         weight, bias, training, momentum, eps))


# --------------------------------------------------------------------------- layer norm
class LayerNormFunction(KernelFunction):
    """Each sample normalised over its last dims (``kernels.layer_norm_*``); gradients for x, weight, bias."""
    kernel, constant_args = "layer_norm", 2

    @classmethod
    def forward(cls, ctx, x, weight, bias, normalized_shape, eps):
        return _kernel_call(ctx, cls.kernel, x, normalized_shape, weight, bias, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation, as ``torch.nn.functional.layer_norm``.

    Shapes: input (*, *normalized_shape); weight, bias normalized_shape or None -> the input's shape.
    """
    return LayerNormFunction.apply(as_tensor(input, "layer_norm input"), _param(weight, "layer_norm weight"),
                                   _param(bias, "layer_norm bias"), normalized_shape, eps)


# --------------------------------------------------------------------------- group norm, instance norm
class GroupNormFunction(KernelFunction):
    """Each group of C/G channels of each sample normalised over its values (``kernels.group_norm_*``);
    gradients for x, weight, bias."""
    kernel, constant_args = "group_norm", 2

    @classmethod
    def forward(cls, ctx, x, weight, bias, num_groups, eps):
        return _kernel_call(ctx, cls.kernel, x, num_groups, weight, bias, eps)


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation, as ``torch.nn.functional.group_norm``.

    Shapes: input (N, C, *) with C divisible by ``num_groups``; weight, bias (C,) or None -> the input's shape.
    As torch, refuses an input whose ``N * C/G`` times the size after C is 1 ("more than 1 value per channel
    when training", the check torch's batch norm makes, which its group norm shares).
    """
    input = as_tensor(input, "group_norm input")
    if weight is not None:
        _check_dtype("group_norm", input, as_tensor(weight, "group_norm weight"))
    if input.ndim >= 2 and _is_int(num_groups) and num_groups > 0 and \
            input.shape[0] * input.shape[1] // num_groups * int(np.prod(input.shape[2:])) == 1:
        raise ValueError(f"group_norm: expected more than 1 value per channel when training, got input size "
                         f"{input.shape} with num_groups={num_groups}")
    return GroupNormFunction.apply(input, _param(weight, "group_norm weight"), _param(bias, "group_norm bias"),
                                   num_groups, eps)


def _instance_norm_running(cache, shape, running_mean, running_var, momentum):
    """Instance norm's running estimates moved in place as torch moves them: each instance's mean and
    *unbiased* variance (``* L / (L - 1)``, L values per instance) averaged over the batch, then
    ``running = (1 - momentum) * running + momentum * average`` (``cache``: the kernel's, whose ``mean`` and
    ``var`` are each instance's, (N, C); ``shape``: the input's).  An empty batch makes them NaN (an average
    of nothing) and empty instances of a non-empty batch leave them, as torch."""
    n = shape[0]
    size = int(np.prod(shape))
    if not size and n:
        return
    count = size // (n * shape[1]) if size else 0
    with np.errstate(divide="ignore", invalid="ignore"):
        unbiased = cache.var * (count / (count - 1)) if count != 1 else np.full_like(cache.var, np.nan)
        running_mean[...] = (1 - momentum) * running_mean + momentum * (cache.mean.sum(axis=0) / n)
        running_var[...] = (1 - momentum) * running_var + momentum * (unbiased.sum(axis=0) / n)


class InstanceNormFunction(KernelFunction):
    """Instance normalisation (``kernels.instance_norm_*``: group norm with one channel per group); with the
    instances' own statistics it also moves the running estimates in place, as torch does
    (:func:`_instance_norm_running`)."""
    kernel, constant_args = "instance_norm", 5

    @classmethod
    def forward(cls, ctx, x, weight, bias, running_mean, running_var, use_input_stats, momentum, eps):
        out = _kernel_call(ctx, cls.kernel, x, weight, bias, running_mean, running_var, use_input_stats, eps)
        if use_input_stats and running_mean is not None:
            _instance_norm_running(ctx.cache, x.shape, running_mean, running_var, momentum)
        return out


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Instance normalisation, as ``torch.nn.functional.instance_norm``: each channel of each sample normalised
    over its own values (group norm with one channel per group), or, with ``use_input_stats=False``, every
    instance of channel c with ``running_mean[c]`` and ``running_var[c]``.

    Shapes: input (N, C, ...); running_mean, running_var, weight, bias (C,) or None -> the input's shape.
    With ``use_input_stats`` the running estimates, where given (ndarrays, or Tensors whose arrays are
    updated), move by ``momentum`` (any number, as torch) towards the batch's average instance mean and
    unbiased variance.
    """
    input = as_tensor(input, "instance_norm input")
    if weight is not None:
        _check_dtype("instance_norm", input, as_tensor(weight, "instance_norm weight"))
    number("instance_norm", "momentum", momentum)
    running_mean = array_or_none(running_mean, "instance_norm running_mean")
    running_var = array_or_none(running_var, "instance_norm running_var")
    if (running_mean is None) != (running_var is None):
        raise ValueError("instance_norm: expected running_mean and running_var both None or neither None")
    if isinstance(use_input_stats, (bool, np.bool_)) and use_input_stats and int(np.prod(input.shape[2:])) == 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when training, got input size "
                         f"{input.shape}")
    return InstanceNormFunction.apply(input, _param(weight, "instance_norm weight"),
                                      _param(bias, "instance_norm bias"), running_mean, running_var, use_input_stats,
                                      float(momentum), eps)


# --------------------------------------------------------------------------- local response norm
class LocalResponseNormFunction(KernelFunction):
    """``x / (k + alpha/size * window sum of x^2) ** beta`` across channels."""
    kernel, constant_args = "local_response_norm", 4


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalisation, as ``torch.nn.functional.local_response_norm``.

    Shapes: (N, C, ...) with at least 3 dims -> the same shape.
    """
    return LocalResponseNormFunction.apply(as_tensor(input, "local_response_norm input"), size, alpha, beta, k)


# --------------------------------------------------------------------------- average pooling
class AvgPool2dFunction(KernelFunction):
    """Mean over each window; backward spreads ``grad / divisor`` over the window."""
    kernel, constant_args = "avg_pool2d", 6


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average pooling, as ``torch.nn.functional.avg_pool2d`` (``stride`` defaults to ``kernel_size``).

    Shapes: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW), ``OH = (H + 2*padding - kernel) // stride + 1``
    (rounded up under ``ceil_mode``, without a window that would start in the right padding).
    """
    stride = pool_stride(stride, None)
    return AvgPool2dFunction.apply(as_tensor(input, "avg_pool2d input"), kernel_size, stride, padding,
                                   bool(ceil_mode), bool(count_include_pad), divisor_override)


class AdaptiveAvgPool2dFunction(KernelFunction):
    """Mean over windows chosen to tile the input into ``output_size`` cells (torch's index formula)."""
    kernel, constant_args = "adaptive_avg_pool2d", 1


def adaptive_avg_pool2d(input, output_size):
    """Adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool2d``; ``output_size=1`` is global
    average pooling.  Shapes: (N, C, H, W) -> (N, C, OH, OW); cell ``o`` covers ``floor(o*H/OH)`` to
    ``ceil((o+1)*H/OH)``."""
    return AdaptiveAvgPool2dFunction.apply(as_tensor(input, "adaptive_avg_pool2d input"), output_size)


class AdaptiveMaxPool2dFunction(KernelFunction):
    """Max over adaptive average pooling's windows; backward routes each gradient to its window's (first)
    maximum, adding where windows overlap.  ``indices_out``: None, or a list that receives the winners' flat
    indices (int64) for ``return_indices=True``, as :class:`MaxPool2dFunction`'s."""
    kernel, constant_args = "adaptive_max_pool2d", 2

    @classmethod
    def forward(cls, ctx, x, output_size, indices_out):
        out = _kernel_call(ctx, cls.kernel, x, output_size)
        if indices_out is not None:
            indices_out.append(ctx.cache[1].copy())   # a copy: the backward's own stays as it was
        return out


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool2d``: ``output_size`` an int or a pair of
    ints or None (None keeps that size).  Shapes: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW) (or (C, OH, OW));
    cell ``o`` covers ``floor(o*H/OH)`` to ``ceil((o+1)*H/OH)``, as :func:`adaptive_avg_pool2d`'s.

    Returns the output, or ``(output, indices)`` with ``return_indices=True``: an int64 Tensor of the output's
    shape holding each winner's flat index ``iy*W + ix`` within its channel, as torch (what
    :func:`max_unpool2d` takes).
    """
    input = as_tensor(input, "adaptive_max_pool2d input")
    if not isinstance(return_indices, (bool, np.bool_)):
        raise TypeError(f"adaptive_max_pool2d return_indices: expected a bool, got {return_indices!r}")
    indices = [] if return_indices else None
    out = AdaptiveMaxPool2dFunction.apply(input, output_size, indices)
    return (out, Tensor.wrap(indices[0])) if return_indices else out


# --------------------------------------------------------------------------- dropout
class DropoutFunction(KernelFunction):
    """``x * keep / (1 - p)`` with a given boolean ``keep`` mask; backward multiplies by the same."""
    kernel, constant_args = "dropout", 2


def _dropout(op, input, p, training, inplace, mask_shape):
    inplace_flag(op, inplace)
    p = dropout_probability(op, p)
    input = as_tensor(input, f"{op} input")
    if not training:
        return input
    check_float_array(f"{op} input", input.array)  # (the kernel's own check would say "dropout" for dropout2d)
    # P(keep) = 1 - p, from minicnn's seeded generator; asarray: a 0-d input's draw is a scalar, not an array
    keep = np.asarray(get_rng().random(mask_shape(input.shape)) >= p)
    return DropoutFunction.apply(input, p, keep)


def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout, as ``torch.nn.functional.dropout``: each element is zeroed with probability ``p``
    and the rest scaled by ``1 / (1 - p)``; the identity when not ``training``.  The mask comes from
    :func:`minicnn.rng.get_rng` (``minicnn.manual_seed`` makes it reproducible)."""
    return _dropout("dropout", input, p, training, inplace, lambda shape: shape)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel dropout, as ``torch.nn.functional.dropout2d``: whole channels ``x[n, c]`` are zeroed.

    Shapes: (N, C, H, W), or (N, C, L) (torch's current reading of a 3-D input) -> the same.
    """
    def mask_shape(shape):
        if len(shape) not in (3, 4):
            raise ValueError(f"dropout2d: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, got shape {shape}")
        return shape[:2] + (1,) * (len(shape) - 2)
    return _dropout("dropout2d", input, p, training, inplace, mask_shape)


# --------------------------------------------------------------------------- activations
class SigmoidFunction(KernelFunction):
    kernel = "sigmoid"


class TanhFunction(KernelFunction):
    kernel = "tanh"


class LeakyReLUFunction(KernelFunction):
    kernel, constant_args = "leaky_relu", 1


class SoftmaxFunction(KernelFunction):
    kernel, constant_args = "softmax", 1


class LogSoftmaxFunction(KernelFunction):
    kernel, constant_args = "log_softmax", 1


def sigmoid(input):
    """``1 / (1 + exp(-input))`` elementwise (computed without overflow), as ``torch.sigmoid``."""
    return SigmoidFunction.apply(as_tensor(input, "sigmoid input"))


def tanh(input):
    """``tanh(input)`` elementwise, as ``torch.tanh``."""
    return TanhFunction.apply(as_tensor(input, "tanh input"))


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``input`` where positive, else ``negative_slope * input``, as ``torch.nn.functional.leaky_relu``."""
    inplace_flag("leaky_relu", inplace)
    if not isinstance(negative_slope, (int, float, np.floating)) or isinstance(negative_slope, bool):
        raise TypeError(f"leaky_relu: expected negative_slope as a number, got {type(negative_slope).__name__}")
    return LeakyReLUFunction.apply(as_tensor(input, "leaky_relu input"), float(negative_slope))



class HardtanhFunction(KernelFunction):
    kernel, constant_args = "hardtanh", 2


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """``min(max(input, min_val), max_val)`` elementwise, as ``torch.nn.functional.hardtanh``; the gradient is
    0 at and beyond either bound and 1 elsewhere."""
    inplace_flag("hardtanh", inplace)
    return HardtanhFunction.apply(as_tensor(input, "hardtanh input"), min_val, max_val)


def relu6(input, inplace=False):
    """``min(max(input, 0), 6)``, as ``torch.nn.functional.relu6``: :func:`hardtanh` between 0 and 6."""
    inplace_flag("relu6", inplace)
    return HardtanhFunction.apply(as_tensor(input, "relu6 input"), 0.0, 6.0)


class PReLUFunction(KernelFunction):
    """``x`` where positive, else ``weight[c] * x``; backward: ``(dx, dweight)``, ``dweight`` summed over every dim
    but the channel's."""
    kernel = "prelu"


def prelu(input, weight):
    """``input`` where positive, else ``weight * input`` with one slope per channel (dim 1) or one for all, as
    ``torch.nn.functional.prelu``.  Shapes: input any (its dim 1 the channels when it has 2 dims or more), weight
    (C,), (1,) or () in the input's dtype -> the input's shape; the weight gets a gradient."""
    input, weight = as_tensor(input, "prelu input"), as_tensor(weight, "prelu weight")
    _check_dtype("prelu", input, weight)
    return PReLUFunction.apply(input, weight)


class HardsigmoidFunction(KernelFunction):
    kernel = "hardsigmoid"


class HardswishFunction(KernelFunction):
    kernel = "hardswish"


class SiLUFunction(KernelFunction):
    kernel = "silu"


class GELUFunction(KernelFunction):
    kernel, constant_args = "gelu", 1


class ELUFunction(KernelFunction):
    kernel, constant_args = "elu", 1


class SoftplusFunction(KernelFunction):
    kernel, constant_args = "softplus", 2


def hardsigmoid(input, inplace=False):
    """``relu6(input + 3) / 6`` elementwise, as ``torch.nn.functional.hardsigmoid``: 0 at and below -3, 1 at and
    above 3; the gradient is 1/6 strictly between and 0 elsewhere.  ``inplace=True`` is accepted; the result
    is computed out of place (a new Tensor; the input is not overwritten)."""
    inplace_flag("hardsigmoid", inplace)
    return HardsigmoidFunction.apply(as_tensor(input, "hardsigmoid input"))


def hardswish(input, inplace=False):
    """``input * relu6(input + 3) / 6`` elementwise, as ``torch.nn.functional.hardswish`` (MobileNetV3); the
    gradient is 0 at and below -3, ``x/3 + 1/2`` between, 1 at and above 3.  ``inplace=True`` is accepted;
    the result is computed out of place (a new Tensor; the input is not overwritten)."""
    inplace_flag("hardswish", inplace)
    return HardswishFunction.apply(as_tensor(input, "hardswish input"))


def silu(input, inplace=False):
    """``input * sigmoid(input)`` elementwise, as ``torch.nn.functional.silu`` (swish).  ``inplace=True`` is
    accepted; the result is computed out of place (a new Tensor; the input is not overwritten)."""
    inplace_flag("silu", inplace)
    return SiLUFunction.apply(as_tensor(input, "silu input"))


def gelu(input, approximate="none"):
    """``input * Phi(input)`` elementwise, ``Phi`` the standard normal CDF, as ``torch.nn.functional.gelu``;
    ``approximate='tanh'`` is torch's tanh approximation of it."""
    return GELUFunction.apply(as_tensor(input, "gelu input"), approximate)


def elu(input, alpha=1.0, inplace=False):
    """``input`` where positive, else ``alpha * (exp(input) - 1)``, as ``torch.nn.functional.elu``.
    ``inplace=True`` is accepted; the result is computed out of place (a new Tensor; the input is not
    overwritten)."""
    inplace_flag("elu", inplace)
    return ELUFunction.apply(as_tensor(input, "elu input"), alpha)


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta * input)) / beta`` elementwise, and ``input`` itself where ``beta * input >
    threshold``, as ``torch.nn.functional.softplus``."""
    return SoftplusFunction.apply(as_tensor(input, "softplus input"), beta, threshold)


def _softmax_dim(op, ndim, dim):
    """torch's implicit choice when ``dim`` is None (deprecated there too): 0 for 0-, 1- and 3-D, else 1."""
    if dim is not None:
        return dim
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to include dim=X "
                  f"as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_input(op, input, dtype):
    """The input as a Tensor, cast to ``dtype`` first if given (a recorded cast, as torch's ``dtype=``)."""
    input = as_tensor(input, f"{op} input")
    if dtype is None:
        return input
    dtype = dtypes.as_dtype(op, dtype)
    if dtype.kind != "f":
        raise TypeError(f"{op}: expected dtype as a floating dtype (float32, float64), got {dtype}")
    return input.to(dtype)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim`` (max-shifted), as ``torch.nn.functional.softmax``; with
    ``dtype`` the input is cast to it first."""
    input = _softmax_input("softmax", input, dtype)
    return SoftmaxFunction.apply(input, _softmax_dim("softmax", input.ndim, dim))


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``x - logsumexp(x)`` along ``dim``, as ``torch.nn.functional.log_softmax``; with ``dtype`` the input is
    cast to it first."""
    input = _softmax_input("log_softmax", input, dtype)
    return LogSoftmaxFunction.apply(input, _softmax_dim("log_softmax", input.ndim, dim))


# --------------------------------------------------------------------------- more losses
class MSELossFunction(KernelFunction):
    """Backward: ``(dx, dtarget)`` (the target may require a gradient too)."""
    kernel, constant_args = "mse_loss", 1


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error, as ``torch.nn.functional.mse_loss``: ``(input - target)**2`` reduced.

    Shapes: input and target the same shape (minicnn does not broadcast them) -> () or that shape ("none").
    The target may require a gradient too.
    """
    _legacy_reduction("mse_loss", size_average, reduce)
    if weight is not None:
        raise ValueError("mse_loss: weight is not supported (only weight=None)")
    input, target = as_tensor(input, "mse_loss input"), as_tensor(target, "mse_loss target")
    return MSELossFunction.apply(input, target, reduction)


class NLLLossFunction(KernelFunction):
    """Backward: ``(dlogp, None)`` (class indices have no gradient)."""
    kernel, constant_args = "nll_loss", 3


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of class indices, as ``torch.nn.functional.nll_loss``: ``-weight[y] * input[y]``,
    "mean" divided by the sum of the weights of the non-ignored targets.

    Shapes: input (N, C) log-probabilities (or (C,), or (N, C, d1, ...)), target (N,) integer (or (), (N, d1, ...)).
    """
    _legacy_reduction("nll_loss", size_average, reduce)
    target = target.array if isinstance(target, Tensor) else target
    weight = array_or_none(weight, "nll_loss weight")
    return NLLLossFunction.apply(as_tensor(input, "nll_loss input"), target, weight, ignore_index, reduction)


class BCEWithLogitsFunction(KernelFunction):
    """Backward: ``(dx, dtarget)``; ``weight`` and ``pos_weight`` are constants."""
    kernel, constant_args = "binary_cross_entropy_with_logits", 3


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Binary cross-entropy of ``sigmoid(input)`` against ``target`` in [0, 1], as
    ``torch.nn.functional.binary_cross_entropy_with_logits`` (the stable form, see kernels/loss.py).

    Shapes: input and target the same; ``weight`` broadcast to them, ``pos_weight`` along the last (class) axis.
    ``weight`` and ``pos_weight`` are constants here (no gradient flows into them).
    """
    _legacy_reduction("binary_cross_entropy_with_logits", size_average, reduce)
    input = as_tensor(input, "binary_cross_entropy_with_logits input")
    target = as_tensor(target, "binary_cross_entropy_with_logits target")
    return BCEWithLogitsFunction.apply(input, target, array_or_none(weight, "weight"),
                                       array_or_none(pos_weight, "pos_weight"), reduction)


class BinaryCrossEntropyFunction(KernelFunction):
    """Backward: ``(dx, dtarget)``, torch's target gradient included; ``weight`` is a constant."""
    kernel, constant_args = "binary_cross_entropy", 2


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary cross-entropy of probabilities ``input`` in [0, 1] against ``target`` in [0, 1], as
    ``torch.nn.functional.binary_cross_entropy``: ``-weight [t log x + (1 - t) log(1 - x)]`` with each log
    clamped at -100, as torch's (see kernels/loss.py).

    Shapes: input and target the same (any, 0-d included; torch refuses others too), ``weight`` broadcast to
    them -> () ("mean", "sum") or the input's shape ("none").  Both input and target get a gradient, as in
    torch; ``weight`` is a constant (no gradient flows into it).  An element outside [0, 1], NaN included, is
    refused (ValueError), as torch refuses it.
    """
    _legacy_reduction("binary_cross_entropy", size_average, reduce)
    input = as_tensor(input, "binary_cross_entropy input")
    target = as_tensor(target, "binary_cross_entropy target")
    return BinaryCrossEntropyFunction.apply(input, target, array_or_none(weight, "binary_cross_entropy weight"),
                                            reduction)
