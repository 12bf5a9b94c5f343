"""The network's ops with torch's names and signatures (``import minicnn.functional as F``).

Each op is a :class:`~minicnn.autograd.Function` whose ``forward`` and
``backward`` call a hand-written kernel pair from :mod:`minicnn.kernels`
(``forward(...) -> (out, cache)``, ``backward(dout, cache) -> grads``); the
engine records the call, and ``loss.backward()`` hands each op its cache
back.  Inputs may be Tensors or ndarrays; outputs are Tensors.

Arguments torch accepts but minicnn does not compute yet raise a ValueError
naming them, never a silently different answer.
"""
import numpy as np

from . import kernels as K
from .autograd import Function, Tensor, as_tensor  # noqa: F401 (as_tensor is used by nn)
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
class Conv2dFunction(Function):
    """``out = conv2d(x, weight) + bias``; backward: ``kernels.conv2d_backward`` (im2col GEMMs, col2im)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        return _kernel_call(ctx, "conv2d", x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, grad_out):
        dx, dweight, dbias = ctx.kernels.conv2d_backward(grad_out, ctx.cache, ctx.needs_input_grad[0])
        return dx, dweight, dbias, None, None


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation), as ``torch.nn.functional.conv2d``.

    Shapes: input (N, C, H, W), weight (O, C, KH, KW), bias (O,) -> (N, O, OH, OW),
    ``OH = (H + 2*padding - KH) // stride + 1``.
    """
    _only_default("conv2d", dilation=dilation, groups=groups)
    input, weight = as_tensor(input, "conv2d input"), as_tensor(weight, "conv2d weight")
    _check_dtype("conv2d", input, weight)
    return Conv2dFunction.apply(input, weight, _param(bias, "conv2d bias"), stride, padding)


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

    Shapes: input (N, in_features), weight (out_features, in_features), bias (out_features,) -> (N, out_features).
    """
    input, weight = as_tensor(input, "linear input"), as_tensor(weight, "linear weight")
    _check_dtype("linear", input, weight)
    return LinearFunction.apply(input, weight, _param(bias, "linear bias"))


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
    """Max over each window; backward routes each gradient to its window's (first) maximum."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding):
        return _kernel_call(ctx, "maxpool2d", x, kernel_size, stride, padding)

    @staticmethod
    def backward(ctx, grad_out):
        return ctx.kernels.maxpool2d_backward(grad_out, ctx.cache), None, None, None


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max pooling, as ``torch.nn.functional.max_pool2d``; ``stride`` defaults to ``kernel_size``.

    Shapes: (N, C, H, W) -> (N, C, OH, OW), ``OH = (H + 2*padding - kernel) // stride + 1``.
    """
    _only_default("max_pool2d", dilation=dilation, ceil_mode=ceil_mode, return_indices=return_indices)
    return MaxPool2dFunction.apply(as_tensor(input, "max_pool2d input"), kernel_size, stride, padding)


# --------------------------------------------------------------------------- losses
class CrossEntropyFunction(Function):
    """Softmax + cross-entropy fused: the kernel returns the loss and ``(softmax - onehot) / N`` at once."""

    @staticmethod
    def forward(ctx, logits, labels, reduction):
        ctx.kernels = K.current()
        loss, ctx.dlogits = ctx.kernels.softmax_cross_entropy(logits, labels, reduction)
        return np.asarray(loss, dtype=logits.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        return ctx.dlogits * grad_out, None, None


def _labels(target):
    target = target.data if isinstance(target, Tensor) else target
    if not isinstance(target, np.ndarray):
        raise TypeError(f"cross_entropy: expected target as a Tensor or ndarray of class indices, got "
                        f"{type(target).__name__}")
    return target


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of ``softmax(input)`` against class indices, as ``torch.nn.functional.cross_entropy``.

    Shapes: input (N, C) float, target (N,) integer in [0, C) -> a 0-d Tensor ("mean" or "sum").
    """
    _only_default("cross_entropy", weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing)
    return CrossEntropyFunction.apply(as_tensor(input, "cross_entropy input"), _labels(target), reduction)


def flatten(input, start_dim=0, end_dim=-1):
    """``torch.flatten``: merge dims ``start_dim..end_dim`` into one (a recorded reshape)."""
    return as_tensor(input, "flatten input").flatten(start_dim, end_dim)
