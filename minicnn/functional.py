"""The network's ops with torch's names and signatures (``import minicnn.functional as F``).

Each op is a :class:`~minicnn.autograd.Function` whose ``forward`` and
``backward`` call a hand-written kernel pair from :mod:`minicnn.kernels`
(``forward(...) -> (out, cache)``, ``backward(dout, cache) -> grads``); the
engine records the call, and ``loss.backward()`` hands each op its cache
back.  Inputs may be Tensors or ndarrays; outputs are Tensors.

Arguments torch accepts but minicnn does not compute yet raise a ValueError
naming them, never a silently different answer.  Ops that torch lets run
without the batch dim (``(C, H, W)`` images, a ``(C,)`` logit vector) add it,
call the op and take it off again, as recorded reshapes.
"""
import numpy as np

from . import kernels as K
from .autograd import Function, Tensor, as_tensor  # noqa: F401 (as_tensor is used by nn)
from .autograd.engine import is_grad_enabled
from .kernels._check import FLOAT_DTYPES


def _kernel_call(ctx, name, *args):
    """Run kernel ``name`` of the current implementation; remember which, so backward uses its twin."""
    ctx.kernels = K.current()
    out, ctx.cache = getattr(ctx.kernels, f"{name}_forward")(*args)
    return out


def _only_default(op, **given):
    """Refuse torch arguments that minicnn does not implement, naming each."""
    defaults = {"dilation": 1, "groups": 1, "ceil_mode": False, "return_indices": False, "weight": None,
                "ignore_index": -100, "label_smoothing": 0.0, "inplace": False}
    for name, value in given.items():
        if value != defaults[name] and not (name == "dilation" and value in ((1, 1), [1, 1])):
            raise ValueError(f"{op}: {name}={value!r} is not supported (only {name}={defaults[name]!r})")


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


class Conv2dFunction(Function):
    """``out = conv2d(x, weight) + bias``; backward: ``kernels.conv2d_backward`` (im2col GEMMs, col2im)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups, padding_mode):
        return _kernel_call(ctx, "conv2d", x, weight, bias, stride, padding, dilation, groups, padding_mode)

    @staticmethod
    def backward(ctx, grad_out):
        dx, dweight, dbias = ctx.kernels.conv2d_backward(grad_out, ctx.cache, ctx.needs_input_grad[0])
        return dx, dweight, dbias, None, None, None, None, None


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


class Conv2dReLUMaxPool2dFunction(Function):
    """``max_pool2d(relu(conv2d(x, weight, bias, padding=padding)), 2)`` by the fused kernel pair."""

    @staticmethod
    def forward(ctx, x, weight, bias, padding):
        return _kernel_call(ctx, "conv2d_relu_maxpool2d", x, weight, bias, padding)

    @staticmethod
    def backward(ctx, grad_out):
        dx, dweight, dbias = ctx.kernels.conv2d_relu_maxpool2d_backward(grad_out, ctx.cache,
                                                                        ctx.needs_input_grad[0])
        return dx, dweight, dbias, None


def conv2d_relu_max_pool2d(input, weight, bias, padding=0):
    """Conv (stride 1) -> ReLU -> 2x2 max pool in one pass (minicnn's fused op; no torch counterpart).

    Shapes: (N, C, H, W) -> (N, O, OH // 2, OW // 2).
    """
    input, weight = as_tensor(input, "conv2d input"), as_tensor(weight, "conv2d weight")
    _check_dtype("conv2d", input, weight)
    return Conv2dReLUMaxPool2dFunction.apply(input, weight, as_tensor(bias, "conv2d bias"), padding)


# --------------------------------------------------------------------------- linear, activation, pooling
class LinearFunction(Function):
    """``out = x @ weight.T + bias``; backward: ``dx = g @ weight``, ``dweight = g.T @ x``, ``dbias = sum g``."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        return _kernel_call(ctx, "linear", x, weight, bias)

    @staticmethod
    def backward(ctx, grad_out):
        return ctx.kernels.linear_backward(grad_out, ctx.cache, ctx.needs_input_grad[0])


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


class ReLUFunction(Function):
    """``max(x, 0)``; backward passes the gradient where x > 0."""

    @staticmethod
    def forward(ctx, x):
        return _kernel_call(ctx, "relu", x)

    @staticmethod
    def backward(ctx, grad_out):
        return ctx.kernels.relu_backward(grad_out, ctx.cache)


def relu(input, inplace=False):
    """``max(input, 0)`` elementwise, any shape (``inplace`` is refused: minicnn never overwrites an input)."""
    _only_default("relu", inplace=inplace)
    return ReLUFunction.apply(as_tensor(input, "relu input"))


class MaxPool2dFunction(Function):
    """Max over each window; backward routes each gradient to its window's (first) maximum.

    ``indices_out``: None, or a list that receives the winners' flat indices (int64) for
    ``return_indices=True`` (an op has one output; the indices are no gradient's business).
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation, ceil_mode, indices_out):
        out = _kernel_call(ctx, "maxpool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
        if indices_out is not None:
            indices_out.append(ctx.cache[1].astype(np.int64))
        return out

    @staticmethod
    def backward(ctx, grad_out):
        return (ctx.kernels.maxpool2d_backward(grad_out, ctx.cache),) + (None,) * 6


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
            return result[0].reshape(result[0].shape[1:]), Tensor._wrap(result[1].data[0])
        return result.reshape(result.shape[1:])
    stride = None if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else stride
    indices = [] if return_indices else None
    out = MaxPool2dFunction.apply(input, kernel_size, stride, padding, dilation, ceil_mode, indices)
    return (out, Tensor._wrap(indices[0])) if return_indices else out


class MaxUnpool2dFunction(Function):
    """Each value back at its max pool index, zeros elsewhere; backward gathers from the same places."""

    @staticmethod
    def forward(ctx, x, indices, kernel_size, stride, padding, output_size):
        return _kernel_call(ctx, "maxunpool2d", x, indices, kernel_size, stride, padding, output_size)

    @staticmethod
    def backward(ctx, grad_out):
        return (ctx.kernels.maxunpool2d_backward(grad_out, ctx.cache),) + (None,) * 5


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of :func:`max_pool2d`, as ``torch.nn.functional.max_unpool2d``.

    Shapes: input and indices (N, C, H, W) or unbatched (C, H, W) -> (N, C, OH, OW) (or (C, OH, OW)),
    ``OH = (H - 1)*stride - 2*padding + kernel`` unless ``output_size`` ((OH, OW) or (N, C, OH, OW),
    within ``stride`` of that) says otherwise.
    """
    input = as_tensor(input, "max_unpool2d input")
    indices = indices.data if isinstance(indices, Tensor) else indices
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
    return Tensor._wrap(target)


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
        weight = weight.data
    if input.ndim == 1:
        target = target.reshape((1,) + target.shape)
        loss = cross_entropy(_add_batch_dim(input), target, weight, ignore_index, reduction, label_smoothing)
        return loss.reshape(()) if reduction == "none" else loss
    return CrossEntropyFunction.apply(input, target, weight, ignore_index, reduction, label_smoothing)


def flatten(input, start_dim=0, end_dim=-1):
    """``torch.flatten``: merge dims ``start_dim..end_dim`` into one (a recorded reshape)."""
    return as_tensor(input, "flatten input").flatten(start_dim, end_dim)
